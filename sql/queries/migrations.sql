-- name: take_migration_lock(lock_key)!
-- Serialise migrations across instances starting together (session-level advisory lock).
SELECT pg_advisory_lock(:lock_key);

-- name: release_migration_lock(lock_key)!
-- Let the next instance check the (now current) schema.
SELECT pg_advisory_unlock(:lock_key);

-- name: create_migrations_table()#
-- The ledger of applied migrations.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   char(64) NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: applied_migrations()
-- Versions already applied, with the checksum of the file that was applied.
SELECT version, name, checksum FROM schema_migrations ORDER BY version;

-- name: record_migration(version, name, checksum)!
-- Note a migration as applied (in the same transaction as the migration itself).
INSERT INTO schema_migrations (version, name, checksum) VALUES (:version, :name, :checksum);
