-- name: add_member(room_id, user_id, role)$
-- Make a user a member (starting with nothing unread); true when newly added.
WITH added AS (
    INSERT INTO room_members (room_id, user_id, role, last_read_seq, last_delivered_seq)
    SELECT :room_id, :user_id, :role, r.last_seq, r.last_seq FROM rooms r WHERE r.id = :room_id
    ON CONFLICT (room_id, user_id) DO NOTHING
    RETURNING room_id
), counted AS (
    UPDATE rooms SET member_count = member_count + 1
    WHERE id IN (SELECT room_id FROM added)
    RETURNING id
)
SELECT EXISTS (SELECT 1 FROM counted);

-- name: remove_member(room_id, user_id)$
-- End a membership; true when the user was a member.
WITH removed AS (
    DELETE FROM room_members WHERE room_id = :room_id AND user_id = :user_id
    RETURNING room_id
), counted AS (
    UPDATE rooms SET member_count = member_count - 1
    WHERE id IN (SELECT room_id FROM removed)
    RETURNING id
)
SELECT EXISTS (SELECT 1 FROM counted);

-- name: create_room(name, description, is_private, kind, created_by)^
-- Insert a room (public or private); the caller adds its owner as a member.
INSERT INTO rooms (name, description, is_private, kind, created_by)
VALUES (:name, :description, :is_private, :kind, :created_by)
RETURNING id, name, description, is_private, kind, created_by, created_at, last_seq, member_count,
          last_change_seq;

-- name: get_room(room_id)^
-- One room with its member count.
SELECT id, name, description, is_private, kind, created_by, created_at, last_seq, member_count,
       last_change_seq
FROM rooms WHERE id = :room_id;

-- name: get_membership(room_id, user_id)^
-- The caller's membership row in a room, or nothing when not a member.
SELECT room_id, user_id, role, joined_at, last_read_seq
FROM room_members WHERE room_id = :room_id AND user_id = :user_id;

-- name: list_presence_rooms(user_id, max_members)
-- The user's rooms small enough to receive presence broadcasts.
SELECT r.id FROM room_members m JOIN rooms r ON r.id = m.room_id
WHERE m.user_id = :user_id AND r.member_count <= :max_members;

-- name: list_visible_rooms(user_id, search, after_id, limit)
-- Public rooms, the caller's private rooms and private rooms they are invited to, by name,
-- with member and unread counts; keyset-paged after the room :after_id, filtered by :search.
-- The cursor room must itself be visible to the caller: a private room's id used as a
-- cursor would otherwise reveal where its name sorts (and that it exists).
SELECT r.id, r.name, r.description, r.is_private, r.kind, r.created_by, r.created_at,
       r.last_seq, r.member_count, r.last_change_seq,
       m.user_id IS NOT NULL AS is_member,
       i.user_id IS NOT NULL AS is_invited,
       CASE WHEN m.user_id IS NULL THEN 0
            ELSE greatest(r.last_seq - m.last_read_seq, 0) END AS unread_count
FROM rooms r
LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = :user_id
LEFT JOIN room_invites i ON i.room_id = r.id AND i.user_id = :user_id
WHERE (r.kind = 'public'
       OR (r.kind = 'private' AND (m.user_id IS NOT NULL OR i.user_id IS NOT NULL)))
  AND (CAST(:search AS text) IS NULL OR r.name ILIKE '%' || CAST(:search AS text) || '%' ESCAPE '\')
  AND (CAST(:after_id AS uuid) IS NULL
       OR (lower(r.name), r.id) > (
           SELECT lower(a.name), a.id FROM rooms a
           WHERE a.id = CAST(:after_id AS uuid)
             AND (a.kind = 'public'
                  OR (a.kind = 'private'
                      AND (EXISTS (SELECT 1 FROM room_members am
                                   WHERE am.room_id = a.id AND am.user_id = :user_id)
                           OR EXISTS (SELECT 1 FROM room_invites ai
                                      WHERE ai.room_id = a.id AND ai.user_id = :user_id))))))
ORDER BY lower(r.name), r.id
LIMIT :limit;

-- name: list_members(room_id, after_id, limit)
-- One page of a room's members with their profile, role and read position, by user id.
SELECT u.id, u.username, u.display_name, u.last_seen_at, m.role, m.joined_at, m.last_read_seq
FROM room_members m JOIN users u ON u.id = m.user_id
WHERE m.room_id = :room_id AND (CAST(:after_id AS uuid) IS NULL OR m.user_id > CAST(:after_id AS uuid))
ORDER BY m.user_id
LIMIT :limit;

-- name: create_invite(room_id, user_id, invited_by)$
-- Invite a user to a private room; true when the invite is new.
WITH ins AS (
    INSERT INTO room_invites (room_id, user_id, invited_by) VALUES (:room_id, :user_id, :invited_by)
    ON CONFLICT (room_id, user_id) DO NOTHING
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM ins);

-- name: get_invite(room_id, user_id)^
-- The invite of a user to a room, if any.
SELECT room_id, user_id, invited_by, created_at FROM room_invites
WHERE room_id = :room_id AND user_id = :user_id;

-- name: delete_invite(room_id, user_id)!
-- An invite is used up when the invitee joins.
DELETE FROM room_invites WHERE room_id = :room_id AND user_id = :user_id;

-- name: list_invites(user_id)
-- The private rooms a user has been invited to, newest first, with who invited them.
SELECT r.id, r.name, r.description, r.is_private, r.kind, r.created_by, r.created_at,
       r.last_seq, r.member_count, r.last_change_seq, i.created_at AS invited_at, i.invited_by,
       u.username AS invited_by_username
FROM room_invites i JOIN rooms r ON r.id = i.room_id
LEFT JOIN users u ON u.id = i.invited_by
WHERE i.user_id = :user_id
ORDER BY i.created_at DESC
LIMIT 200;

-- name: mark_read(room_id, user_id, seq)^
-- Move the read pointer (and so the delivered one) forward, never back; returns both
-- pointers, the room's last seq and whether the read pointer moved (only moves are told).
WITH moved AS (
    UPDATE room_members m SET last_read_seq = :seq,
                              last_delivered_seq = greatest(m.last_delivered_seq, :seq)
    WHERE m.room_id = :room_id AND m.user_id = :user_id AND m.last_read_seq < :seq
    RETURNING m.last_read_seq, m.last_delivered_seq
)
SELECT coalesce(mv.last_read_seq, m.last_read_seq) AS last_read_seq,
       coalesce(mv.last_delivered_seq, m.last_delivered_seq) AS last_delivered_seq,
       r.last_seq, r.kind, r.member_count, mv.last_read_seq IS NOT NULL AS moved
FROM room_members m JOIN rooms r ON r.id = m.room_id LEFT JOIN moved mv ON true
WHERE m.room_id = :room_id AND m.user_id = :user_id;

-- name: mark_delivered(room_id, user_id, seq)^
-- Move the delivered pointer forward (never back); returns both pointers, the room's last
-- seq and whether the delivered pointer moved (only moves are told).
WITH moved AS (
    UPDATE room_members m SET last_delivered_seq = :seq
    WHERE m.room_id = :room_id AND m.user_id = :user_id AND m.last_delivered_seq < :seq
    RETURNING m.last_delivered_seq
)
SELECT m.last_read_seq,
       coalesce(mv.last_delivered_seq, m.last_delivered_seq) AS last_delivered_seq,
       r.last_seq, r.kind, r.member_count, mv.last_delivered_seq IS NOT NULL AS moved
FROM room_members m JOIN rooms r ON r.id = m.room_id LEFT JOIN moved mv ON true
WHERE m.room_id = :room_id AND m.user_id = :user_id;

-- name: unread_summary(user_id)
-- Every room of the user with its unread count and positions (sent on connect).
SELECT r.id AS room_id, r.kind, r.last_seq, m.last_read_seq,
       greatest(r.last_seq - m.last_read_seq, 0) AS unread
FROM room_members m JOIN rooms r ON r.id = m.room_id
WHERE m.user_id = :user_id;

-- name: read_positions(room_id)
-- How far each member of a (small) room has received and read: the data behind ticks.
SELECT m.user_id, m.last_read_seq, m.last_delivered_seq
FROM room_members m WHERE m.room_id = :room_id LIMIT 500;

-- name: posting_rights(room_id, user_id)^
-- The posting rule's facts (services/access.py): the room's kind, whether the user is a
-- member, whether the other member of a direct room blocked them, and their current name.
SELECT r.kind,
       EXISTS (SELECT 1 FROM room_members m
               WHERE m.room_id = r.id AND m.user_id = :user_id) AS is_member,
       EXISTS (SELECT 1 FROM direct_rooms d
               JOIN user_blocks b
                 ON b.blocker_id = CASE WHEN d.user_low = :user_id THEN d.user_high
                                        ELSE d.user_low END
                AND b.blocked_id = :user_id
               WHERE d.room_id = r.id) AS blocked,
       (SELECT u.username FROM users u WHERE u.id = :user_id) AS username
FROM rooms r WHERE r.id = :room_id;
