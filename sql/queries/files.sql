-- name: insert_file(owner_id, original_name, stored_name, thumbnail_name, mime_type, size_bytes, sha256, width, height)^
-- Record an uploaded file (its bytes are already on disk under stored_name).
INSERT INTO files (owner_id, original_name, stored_name, thumbnail_name, mime_type, size_bytes,
                   sha256, width, height)
VALUES (:owner_id, :original_name, :stored_name, :thumbnail_name, :mime_type, :size_bytes,
        :sha256, :width, :height)
RETURNING *;

-- name: get_file(file_id)^
-- One file by id.
SELECT * FROM files WHERE id = :file_id;

-- name: get_file_by_name(name)^
-- The file whose stored name or thumbnail name this is.
SELECT * FROM files WHERE stored_name = :name OR thumbnail_name = :name;

-- name: can_read_file(file_id, user_id)$
-- The owner, and whoever can read a room (public, or as a member) where the file was posted
-- in a message that still stands (a deleted message's file is not read through it).
SELECT EXISTS (
    SELECT 1 FROM files f WHERE f.id = :file_id AND f.owner_id = :user_id
) OR EXISTS (
    SELECT 1 FROM messages m JOIN rooms r ON r.id = m.room_id
    WHERE m.file_id = :file_id AND m.deleted_at IS NULL
      AND (r.kind = 'public'
           OR EXISTS (SELECT 1 FROM room_members rm
                      WHERE rm.room_id = m.room_id AND rm.user_id = :user_id))
);
