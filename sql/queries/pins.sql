-- name: pin_message(message_id, user_id)$
-- Pin a message (clock time: newest pin first); NULL when it was pinned already.
UPDATE messages SET pinned_at = clock_timestamp(), pinned_by = :user_id
WHERE id = :message_id AND pinned_at IS NULL
RETURNING true;

-- name: unpin_message(message_id)$
-- Unpin a message; NULL when it was not pinned.
UPDATE messages SET pinned_at = NULL, pinned_by = NULL
WHERE id = :message_id AND pinned_at IS NOT NULL
RETURNING true;

-- name: pinned_count(room_id)$
-- How many live messages of a room are pinned (the per-room cap).
SELECT count(*) FROM messages
WHERE room_id = :room_id AND pinned_at IS NOT NULL AND deleted_at IS NULL;

-- name: pinned_messages(room_id, limit)
-- A room's pinned messages, newest pin first (tombstones are not listed).
SELECT m.* FROM message_rows m
WHERE m.room_id = :room_id AND m.pinned_at IS NOT NULL AND m.deleted_at IS NULL
ORDER BY m.pinned_at DESC, m.seq DESC
LIMIT :limit;
