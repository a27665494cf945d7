-- name: find_by_client_msg_id(user_id, client_msg_id)^
-- A sender's earlier message with this clientMsgId (idempotent retry).
SELECT m.* FROM message_rows m
WHERE m.user_id = :user_id AND m.client_msg_id = :client_msg_id;

-- name: insert_message(room_id, user_id, content, content_html, message_type, file_id, client_msg_id, thread_id)^
-- Take the room's next seq under its row lock and store the message in the same statement.
WITH next AS (
    UPDATE rooms SET last_seq = last_seq + 1 WHERE id = :room_id RETURNING last_seq
)
INSERT INTO messages (room_id, seq, user_id, content, content_html, message_type, file_id,
                      client_msg_id, thread_id)
SELECT :room_id, next.last_seq, :user_id, :content, :content_html, :message_type, :file_id,
       :client_msg_id, :thread_id
FROM next
-- The sender's current name (not the one inside their access token, which may be older).
RETURNING *, (SELECT u.username FROM users u WHERE u.id = messages.user_id) AS username;

-- name: advance_read_pointer(seq, room_id, user_id)!
-- A sender has read everything up to their own message.
UPDATE room_members SET last_read_seq = greatest(last_read_seq, :seq),
                        last_delivered_seq = greatest(last_delivered_seq, :seq)
WHERE room_id = :room_id AND user_id = :user_id;

-- name: messages_before(limit, before, room_id)
-- Up to :limit messages older than seq :before, newest first (the caller reverses them).
SELECT m.* FROM message_rows m
WHERE m.room_id = :room_id AND m.seq < :before
ORDER BY m.seq DESC
LIMIT :limit;

-- name: messages_after(limit, after, room_id)
-- Up to :limit messages newer than seq :after, oldest first (sync and forward paging).
SELECT m.* FROM message_rows m
WHERE m.room_id = :room_id AND m.seq > :after
ORDER BY m.seq ASC
LIMIT :limit;

-- name: insert_room_message(room_id, user_id, content, content_html, message_type, client_msg_id)^
-- The hot path in one statement: if the sender may post (services/access.py: a member,
-- and in a direct room not blocked by the other member), take the room's next seq (row
-- lock), store the message and move the sender's read pointer; no row otherwise. For
-- ordinary rooms the block check is one primary-key probe of direct_rooms finding nothing.
WITH member AS (
    SELECT 1 FROM room_members WHERE room_id = :room_id AND user_id = :user_id
    AND NOT EXISTS (
        SELECT 1 FROM direct_rooms d
        JOIN user_blocks b
          ON b.blocker_id = CASE WHEN d.user_low = :user_id THEN d.user_high ELSE d.user_low END
         AND b.blocked_id = :user_id
        WHERE d.room_id = :room_id
    )
), next AS (
    UPDATE rooms SET last_seq = last_seq + 1
    WHERE id = :room_id AND EXISTS (SELECT 1 FROM member)
    RETURNING last_seq
), ins AS (
    INSERT INTO messages (room_id, seq, user_id, content, content_html, message_type,
                          client_msg_id)
    SELECT :room_id, next.last_seq, :user_id, :content, :content_html, :message_type,
           :client_msg_id
    FROM next
    RETURNING *
), read AS (
    UPDATE room_members SET last_read_seq = greatest(last_read_seq, (SELECT seq FROM ins)),
                            last_delivered_seq = greatest(last_delivered_seq, (SELECT seq FROM ins))
    WHERE room_id = :room_id AND user_id = :user_id AND EXISTS (SELECT 1 FROM ins)
)
SELECT ins.*, (SELECT u.username FROM users u WHERE u.id = ins.user_id) AS username FROM ins;
