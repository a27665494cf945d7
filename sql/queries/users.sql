-- name: create_user(email, username, password_hash)^
-- Insert a new account; the unique indexes reject a taken email or username.
INSERT INTO users (email, username, password_hash)
VALUES (:email, :username, :password_hash)
RETURNING id, email, username, display_name, created_at, updated_at, last_seen_at;

-- name: get_user_by_id(user_id)^
-- One user's public and private profile fields (never the password hash).
SELECT id, email, username, display_name, created_at, updated_at, last_seen_at
FROM users WHERE id = :user_id;

-- name: get_login_by_identifier(identifier)^
-- The credentials row for a login by email or username, case-insensitively.
SELECT id, email, username, display_name, password_hash, created_at, updated_at, last_seen_at
FROM users
WHERE lower(email) = lower(:identifier) OR lower(username) = lower(:identifier)
LIMIT 1;

-- name: fold_identifier(identifier)$
-- A login identifier lower-cased exactly as the login lookup and the unique indexes do.
SELECT lower(:identifier);

-- name: update_user_profile(username, email, clear_display_name, display_name, user_id)^
-- Change the editable profile fields; NULL arguments keep the current value.
UPDATE users
SET username = coalesce(:username, username),
    email = coalesce(:email, email),
    display_name = CASE WHEN :clear_display_name THEN NULL
                        ELSE coalesce(:display_name, display_name) END,
    updated_at = now()
WHERE id = :user_id
RETURNING id, email, username, display_name, created_at, updated_at, last_seen_at;

-- name: update_password_hash(password_hash, user_id)!
-- Replace a user's password hash (password change).
UPDATE users SET password_hash = :password_hash, updated_at = now() WHERE id = :user_id;

-- name: get_password_hash(user_id)$
-- The stored bcrypt hash, for re-checking the current password before a change.
SELECT password_hash FROM users WHERE id = :user_id;

-- name: touch_last_seen(user_id)!
-- Record when a user's last connection closed.
UPDATE users SET last_seen_at = now() WHERE id = :user_id;

-- name: search_users(pattern, limit)
-- Users whose username starts with a prefix (LIKE pattern, wildcards escaped by the caller).
SELECT id, username, display_name, last_seen_at FROM users
WHERE lower(username) LIKE lower(:pattern) ESCAPE '\'
ORDER BY lower(username)
LIMIT :limit;
