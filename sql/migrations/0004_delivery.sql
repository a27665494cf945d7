-- Delivery receipts: how far each member's clients have received a room (<= what they
-- have read is implied: reading needs receiving). Sent / delivered / read ticks come from
-- this pointer and last_read_seq.
ALTER TABLE room_members ADD COLUMN last_delivered_seq bigint NOT NULL DEFAULT 0;
UPDATE room_members SET last_delivered_seq = last_read_seq;
