-- One definition of "a message as clients see it": the message row with its sender's
-- current name and its file's columns. History pages, sync, the change feed, threads, pins
-- and idempotent retries all read exactly this; eight queries spelled the same two joins
-- out. PostgreSQL inlines a simple view, so their plans (and indexes used) are unchanged.
--
-- `m.*` is expanded when the view is created: a later migration that adds a column to
-- messages must CREATE OR REPLACE this view (new columns go last) for queries to see it.
CREATE VIEW message_rows AS
SELECT m.*, u.username, f.stored_name AS file_stored_name, f.original_name AS file_name,
       f.mime_type AS file_mime_type, f.size_bytes AS file_size, f.width AS file_width,
       f.height AS file_height, f.thumbnail_name AS file_thumbnail_name
FROM messages m
LEFT JOIN users u ON u.id = m.user_id
LEFT JOIN files f ON f.id = m.file_id;
