-- name: find_by_client_msg_id(user_id, client_msg_id)^
-- A sender's earlier message with this clientMsgId (idempotent retry).
SELECT m.*, u.username
FROM messages m LEFT JOIN users u ON u.id = m.user_id
WHERE m.user_id = :user_id AND m.client_msg_id = :client_msg_id;

-- name: insert_message(room_id, user_id, content, content_html, message_type, file_id, client_msg_id)^
-- Take the room's next seq under its row lock and store the message in the same statement.
WITH next AS (
    UPDATE rooms SET last_seq = last_seq + 1 WHERE id = :room_id RETURNING last_seq
)
INSERT INTO messages (room_id, seq, user_id, content, content_html, message_type, file_id,
                      client_msg_id)
SELECT :room_id, next.last_seq, :user_id, :content, :content_html, :message_type, :file_id,
       :client_msg_id
FROM next
RETURNING *;

-- name: advance_read_pointer(seq, room_id, user_id)!
-- A sender has read everything up to their own message.
UPDATE room_members SET last_read_seq = greatest(last_read_seq, :seq)
WHERE room_id = :room_id AND user_id = :user_id;

-- name: messages_before(limit, before, room_id)
-- Up to :limit messages older than seq :before, newest first (the caller reverses them).
SELECT m.*, u.username
FROM messages m LEFT JOIN users u ON u.id = m.user_id
WHERE m.room_id = :room_id AND m.seq < :before
ORDER BY m.seq DESC
LIMIT :limit;

-- name: messages_after(limit, after, room_id)
-- Up to :limit messages newer than seq :after, oldest first (sync and forward paging).
SELECT m.*, u.username
FROM messages m LEFT JOIN users u ON u.id = m.user_id
WHERE m.room_id = :room_id AND m.seq > :after
ORDER BY m.seq ASC
LIMIT :limit;
