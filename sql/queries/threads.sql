-- name: thread_root(room_id, message_id)^
-- What a reply needs to know of its root: in this room, itself a reply, deleted.
SELECT id, thread_id, deleted_at FROM messages WHERE id = :message_id AND room_id = :room_id;

-- name: count_reply(room_id, root_id, replied_at)$
-- A new reply's root: one more reply, its time, and the room's next change number (the
-- reply's insert holds the rooms row already); NULL when the root can take no replies.
WITH next AS (
    UPDATE rooms SET last_change_seq = last_change_seq + 1 WHERE id = :room_id
    RETURNING last_change_seq
)
UPDATE messages m
SET reply_count = m.reply_count + 1, last_reply_at = :replied_at,
    change_seq = next.last_change_seq
FROM next
WHERE m.id = :root_id AND m.room_id = :room_id AND m.thread_id IS NULL AND m.deleted_at IS NULL
RETURNING m.change_seq;

-- name: thread_replies(root_id, after, limit)
-- Up to :limit replies of a thread after seq :after, oldest first.
SELECT m.* FROM message_rows m
WHERE m.thread_id = :root_id AND m.seq > :after
ORDER BY m.seq ASC
LIMIT :limit;
