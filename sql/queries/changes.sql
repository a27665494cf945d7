-- name: lock_for_change(room_id, message_id)^
-- Take the room's next change number under its row lock (docs/contract.md §12: commit
-- order equals change order, as for seq), then lock the message (rooms row first, as a
-- send takes them), in one round trip; no row when the message is not in this room.
-- NO KEY UPDATE: a concurrent reaction's foreign-key check (KEY SHARE) does not wait.
WITH next AS (
    UPDATE rooms SET last_change_seq = last_change_seq + 1 WHERE id = :room_id
    RETURNING last_change_seq
)
SELECT m.*, next.last_change_seq AS next_change_seq
FROM next JOIN messages m ON m.id = :message_id AND m.room_id = :room_id
FOR NO KEY UPDATE OF m;

-- name: stamp_and_read(message_id, change_seq)^
-- The changed message records the room's change number of its latest change, and comes
-- back whole (as current_message reads it), in one round trip.
WITH s AS (
    UPDATE messages SET change_seq = :change_seq WHERE id = :message_id RETURNING *
)
SELECT s.*, u.username, f.stored_name AS file_stored_name, f.original_name AS file_name,
       f.mime_type AS file_mime_type, f.size_bytes AS file_size, f.width AS file_width,
       f.height AS file_height, f.thumbnail_name AS file_thumbnail_name,
       CASE WHEN d.room_id IS NULL THEN NULL
            WHEN d.user_low = s.user_id THEN d.user_high ELSE d.user_low END
           AS dm_recipient_id
FROM s LEFT JOIN users u ON u.id = s.user_id LEFT JOIN files f ON f.id = s.file_id
LEFT JOIN direct_rooms d ON d.room_id = s.room_id;

-- name: current_message(message_id)^
-- A message's whole current state, as history pages return it (sender name, file), and
-- in a direct room the member who is not its author (DMs carry recipientId everywhere).
SELECT m.*,
       CASE WHEN d.room_id IS NULL THEN NULL
            WHEN d.user_low = m.user_id THEN d.user_high ELSE d.user_low END
           AS dm_recipient_id
FROM message_rows m LEFT JOIN direct_rooms d ON d.room_id = m.room_id
WHERE m.id = :message_id;

-- name: record_edit(message_id, content, content_html, written_at)!
-- Keep the version an edit replaces (GET .../messages/:id/edits lists them oldest first).
INSERT INTO message_edits (message_id, content, content_html, written_at)
VALUES (:message_id, :content, :content_html, :written_at);

-- name: edit_message(message_id, content, content_html)!
-- The new text of an edited message; edited_at is the transaction's time, which is also
-- the replaced_at of the version record_edit kept.
UPDATE messages SET content = :content, content_html = :content_html, edited_at = now()
WHERE id = :message_id;

-- name: room_message(room_id, message_id)^
-- One message of a room in its current state (NULL when it is not in this room).
SELECT m.*,
       CASE WHEN d.room_id IS NULL THEN NULL
            WHEN d.user_low = m.user_id THEN d.user_high ELSE d.user_low END
           AS dm_recipient_id
FROM message_rows m LEFT JOIN direct_rooms d ON d.room_id = m.room_id
WHERE m.id = :message_id AND m.room_id = :room_id;

-- name: list_edits(message_id)
-- The earlier versions of a message, oldest first.
SELECT content, content_html, written_at, replaced_at
FROM message_edits WHERE message_id = :message_id ORDER BY id;

-- name: drop_edits(message_id)!
-- A deletion takes the text away everywhere, earlier versions included.
DELETE FROM message_edits WHERE message_id = :message_id;

-- name: drop_reactions(message_id)!
-- A deletion drops the message's reactions (the denormalised copy is emptied by tombstone).
DELETE FROM message_reactions WHERE message_id = :message_id;

-- name: tombstone(message_id, deleted_by)!
-- A deleted message stays in seq order without its text, file, reactions or pin.
UPDATE messages SET deleted_at = now(), deleted_by = :deleted_by, content = '',
                    content_html = '', file_id = NULL, reactions = '[]'::jsonb,
                    pinned_at = NULL, pinned_by = NULL
WHERE id = :message_id;

-- name: room_change_seq(room_id)$
-- Where a room's change feed stands (read in the same snapshot as changes_after).
SELECT last_change_seq FROM rooms WHERE id = :room_id;

-- name: changes_after(room_id, after, limit)
-- The change feed: the current state of the room's messages changed after change number
-- :after, in change order (each message once, at its latest change), with the DM fields.
SELECT m.*,
       CASE WHEN d.room_id IS NULL THEN NULL
            WHEN d.user_low = m.user_id THEN d.user_high ELSE d.user_low END
           AS dm_recipient_id
FROM message_rows m LEFT JOIN direct_rooms d ON d.room_id = m.room_id
WHERE m.room_id = :room_id AND m.change_seq > :after
ORDER BY m.change_seq
LIMIT :limit;
