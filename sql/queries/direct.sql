-- name: get_direct_room(user_low, user_high)$
-- The id of the direct conversation between two users, if it exists.
SELECT room_id FROM direct_rooms WHERE user_low = :user_low AND user_high = :user_high;

-- name: lock_pair(pair_key)!
-- Serialise the creation of one pair's direct room (transaction-scoped advisory lock).
SELECT pg_advisory_xact_lock(hashtextextended(:pair_key, 0));

-- name: insert_direct_room()$
-- A new room of kind direct with its two members counted.
INSERT INTO rooms (name, is_private, kind, member_count) VALUES ('direct', true, 'direct', 2)
RETURNING id;

-- name: insert_direct_pair(room_id, user_low, user_high)!
-- Record which pair a direct room belongs to.
INSERT INTO direct_rooms (room_id, user_low, user_high) VALUES (:room_id, :user_low, :user_high);

-- name: insert_direct_members(room_id, user_low, user_high)!
-- Both people of a direct conversation are its members.
INSERT INTO room_members (room_id, user_id) VALUES (:room_id, :user_low), (:room_id, :user_high);

-- name: list_conversations(user_id)
-- The user's direct conversations with the other person, last message and unread count.
SELECT d.room_id, r.last_seq, m.last_read_seq,
       greatest(r.last_seq - m.last_read_seq, 0) AS unread,
       o.id AS other_id, o.username AS other_username, o.display_name AS other_display_name,
       o.last_seen_at AS other_last_seen_at,
       lm.id AS last_id, lm.seq AS last_seq_no, lm.user_id AS last_user_id,
       lm.content AS last_content, lm.message_type AS last_message_type,
       lm.created_at AS last_created_at
FROM direct_rooms d
JOIN rooms r ON r.id = d.room_id
JOIN room_members m ON m.room_id = d.room_id AND m.user_id = :user_id
JOIN users o ON o.id = CASE WHEN d.user_low = :user_id THEN d.user_high ELSE d.user_low END
LEFT JOIN messages lm ON lm.room_id = d.room_id AND lm.seq = r.last_seq
WHERE d.user_low = :user_id OR d.user_high = :user_id
ORDER BY lm.created_at DESC NULLS LAST
LIMIT 500;

-- name: direct_partner(room_id, user_id)$
-- The other member of a direct room.
SELECT CASE WHEN user_low = :user_id THEN user_high ELSE user_low END
FROM direct_rooms WHERE room_id = :room_id AND (user_low = :user_id OR user_high = :user_id);

-- name: block_user(blocker_id, blocked_id)!
-- Stop a user's direct messages and invitations to the blocker; their pending invitations
-- to the blocker are withdrawn.
WITH withdrawn AS (
    DELETE FROM room_invites WHERE user_id = :blocker_id AND invited_by = :blocked_id
)
INSERT INTO user_blocks (blocker_id, blocked_id) VALUES (:blocker_id, :blocked_id)
ON CONFLICT DO NOTHING;

-- name: unblock_user(blocker_id, blocked_id)!
-- Allow a blocked user's direct messages again.
DELETE FROM user_blocks WHERE blocker_id = :blocker_id AND blocked_id = :blocked_id;

-- name: is_blocked(blocker_id, blocked_id)$
-- True when blocker_id has blocked blocked_id.
SELECT EXISTS (SELECT 1 FROM user_blocks WHERE blocker_id = :blocker_id AND blocked_id = :blocked_id);

-- name: insert_direct_message(user_low, user_high, user_id, recipient_id, content, content_html, message_type, client_msg_id)^
-- The DM hot path in one statement, for a pair whose conversation exists: unless the
-- recipient blocked the sender, take the room's next seq (row lock), store the message,
-- move the sender's read pointer. One row always: pair_room_id NULL when there is no
-- conversation yet, blocked true when refused, else the message and the recipient's
-- read pointer.
WITH pair AS (
    SELECT room_id FROM direct_rooms WHERE user_low = :user_low AND user_high = :user_high
), blocked AS (
    SELECT EXISTS (
        SELECT 1 FROM user_blocks WHERE blocker_id = :recipient_id AND blocked_id = :user_id
    ) AS yes
), next AS (
    UPDATE rooms SET last_seq = last_seq + 1
    WHERE id = (SELECT room_id FROM pair) AND NOT (SELECT yes FROM blocked)
    RETURNING id, last_seq
), ins AS (
    INSERT INTO messages (room_id, seq, user_id, content, content_html, message_type,
                          client_msg_id)
    SELECT next.id, next.last_seq, :user_id, :content, :content_html, :message_type,
           :client_msg_id
    FROM next
    RETURNING *
), read AS (
    UPDATE room_members SET last_read_seq = greatest(last_read_seq, (SELECT seq FROM ins)),
                            last_delivered_seq = greatest(last_delivered_seq, (SELECT seq FROM ins))
    WHERE room_id = (SELECT room_id FROM ins) AND user_id = :user_id
)
SELECT (SELECT room_id FROM pair) AS pair_room_id, (SELECT yes FROM blocked) AS blocked,
       ins.*, (SELECT u.username FROM users u WHERE u.id = ins.user_id) AS username,
       (SELECT rm.last_read_seq FROM room_members rm
        WHERE rm.room_id = ins.room_id AND rm.user_id = :recipient_id) AS recipient_last_read_seq
FROM (SELECT 1) AS one LEFT JOIN ins ON true;
