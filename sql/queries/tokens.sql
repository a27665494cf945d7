-- name: insert_refresh_token(user_id, family_id, token_hash, expires_at)!
-- Store the hash of a newly issued refresh token in its family.
INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
VALUES (:user_id, :family_id, :token_hash, :expires_at);

-- name: lock_refresh_token(token_hash)^
-- The refresh token with this hash, locked so two concurrent refreshes cannot both rotate it.
SELECT id, user_id, family_id, expires_at, rotated_at, revoked_at
FROM refresh_tokens WHERE token_hash = :token_hash
FOR UPDATE;

-- name: mark_refresh_token_rotated(token_id)!
-- Spend a refresh token: it was exchanged for a new pair.
UPDATE refresh_tokens SET rotated_at = now() WHERE id = :token_id;

-- name: revoke_refresh_family(family_id)!
-- Revoke every token of a login session (logout, or reuse of a spent token).
UPDATE refresh_tokens SET revoked_at = now()
WHERE family_id = :family_id AND revoked_at IS NULL;

-- name: revoke_other_families(user_id, keep_family_id)
-- Revoke every login session of a user but one (their password changed); returns the
-- revoked families (one row per token: the caller removes duplicates).
UPDATE refresh_tokens SET revoked_at = now()
WHERE user_id = :user_id AND family_id <> :keep_family_id AND revoked_at IS NULL
RETURNING family_id;

-- name: delete_expired_refresh_tokens()!
-- Housekeeping: drop tokens that expired long ago.
DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day';
