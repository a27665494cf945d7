-- Rooms at scale: a maintained member count (the lobby has every user, so counting its
-- members per request or per presence change would scan it), and unique public names.

ALTER TABLE rooms ADD COLUMN member_count integer NOT NULL DEFAULT 0;
UPDATE rooms r SET member_count = (SELECT count(*) FROM room_members m WHERE m.room_id = r.id);

-- Two public rooms called "General" and "general" would confuse everyone. Private rooms
-- may share names: refusing one would reveal that a private room of that name exists.
CREATE UNIQUE INDEX uq_rooms_public_name ON rooms (lower(name)) WHERE kind = 'public';
-- Keyset pagination of the room list by (lower(name), id).
CREATE INDEX idx_rooms_name_id ON rooms (lower(name), id);
-- Members are listed by username; keyset by (joined order is unstable), so by user id.
CREATE INDEX idx_room_members_room_user ON room_members (room_id, user_id);
