-- name: next_change_seq(room_id)$
-- Take the room's next change number under its row lock (docs/contract.md §12): commit
-- order equals change order, as for seq. Runs in the changing transaction.
UPDATE rooms SET last_change_seq = last_change_seq + 1 WHERE id = :room_id
RETURNING last_change_seq;
