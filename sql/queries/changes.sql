-- name: next_change_seq(room_id)$
-- Take the room's next change number under its row lock (docs/contract.md §12): commit
-- order equals change order, as for seq. Runs in the changing transaction.
UPDATE rooms SET last_change_seq = last_change_seq + 1 WHERE id = :room_id
RETURNING last_change_seq;

-- name: lock_message(room_id, message_id)^
-- The message being changed, row-locked for the changing transaction (404 when it is not
-- a message of this room).
SELECT * FROM messages WHERE id = :message_id AND room_id = :room_id FOR UPDATE;

-- name: stamp_change(message_id, change_seq)!
-- The changed message records the room's change number of its latest change.
UPDATE messages SET change_seq = :change_seq WHERE id = :message_id;

-- name: current_message(message_id)^
-- A message's whole current state, as history pages return it (sender name, file).
SELECT m.*, u.username, f.stored_name AS file_stored_name, f.original_name AS file_name,
       f.mime_type AS file_mime_type, f.size_bytes AS file_size, f.width AS file_width,
       f.height AS file_height, f.thumbnail_name AS file_thumbnail_name
FROM messages m LEFT JOIN users u ON u.id = m.user_id LEFT JOIN files f ON f.id = m.file_id
WHERE m.id = :message_id;
