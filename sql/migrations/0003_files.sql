-- Uploaded files: a thumbnail for images, and an index to find where a file was posted
-- (file access is granted through the rooms it was posted in).
ALTER TABLE files ADD COLUMN thumbnail_name varchar(100) UNIQUE;
