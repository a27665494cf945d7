-- name: add_member(room_id, user_id, role)!
-- Make a user a member of a room (no-op when already a member).
INSERT INTO room_members (room_id, user_id, role, last_read_seq)
SELECT :room_id, :user_id, :role, r.last_seq FROM rooms r WHERE r.id = :room_id
ON CONFLICT (room_id, user_id) DO NOTHING;

-- name: get_room(room_id)^
-- One room with its member count.
SELECT r.id, r.name, r.description, r.is_private, r.kind, r.created_by, r.created_at,
       r.last_seq,
       (SELECT count(*) FROM room_members m WHERE m.room_id = r.id) AS member_count
FROM rooms r WHERE r.id = :room_id;

-- name: get_membership(room_id, user_id)^
-- The caller's membership row in a room, or nothing when not a member.
SELECT room_id, user_id, role, joined_at, last_read_seq
FROM room_members WHERE room_id = :room_id AND user_id = :user_id;

-- name: list_user_room_ids(user_id)
-- Ids of every room (of any kind) the user belongs to: the Socket.IO rooms to enter on connect.
SELECT room_id FROM room_members WHERE user_id = :user_id;

-- name: list_visible_rooms(user_id, limit)
-- Public rooms and the caller's private rooms with member and unread counts, by name.
SELECT r.id, r.name, r.description, r.is_private, r.kind, r.created_by, r.created_at,
       r.last_seq,
       (SELECT count(*) FROM room_members c WHERE c.room_id = r.id) AS member_count,
       m.user_id IS NOT NULL AS is_member,
       CASE WHEN m.user_id IS NULL THEN 0
            ELSE greatest(r.last_seq - m.last_read_seq, 0) END AS unread_count
FROM rooms r
LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = :user_id
WHERE r.kind = 'public' OR (r.kind = 'private' AND m.user_id IS NOT NULL)
ORDER BY r.name, r.id
LIMIT :limit;
