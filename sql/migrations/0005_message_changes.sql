-- Messages that change (docs/contract.md §12): edits, deletions, reactions, threads, pins.
--
-- A message keeps its seq forever, but its state changes afterwards, and every change must
-- reach every member like a new message does: live, and after a disconnect of any length.
-- So each room gets a second gap-free counter, last_change_seq, taken by every change in
-- the same statement/transaction as the change (UPDATE rooms ... RETURNING, the row lock
-- ordering changes exactly as it orders seqs), and the changed message records it in
-- change_seq. "Changes after N in room R" is then a range scan of (room_id, change_seq).
--
-- The message row holds its whole current state (reactions and thread counts included),
-- so history pages, sync and the change feed read one row per message; the tables below
-- are the source of truth they are recomputed from inside the changing transaction.

ALTER TABLE rooms ADD COLUMN last_change_seq bigint NOT NULL DEFAULT 0;

ALTER TABLE messages
    -- The room's change counter at this message's latest change (0: never changed).
    ADD COLUMN change_seq bigint NOT NULL DEFAULT 0,
    -- [{emoji, count, userIds}] in first-reaction order, recomputed from message_reactions.
    ADD COLUMN reactions jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- A reply's thread root: a message of the same room that is not itself a reply.
    ADD COLUMN thread_id uuid REFERENCES messages (id) ON DELETE SET NULL,
    -- A root's replies, maintained with each reply.
    ADD COLUMN reply_count integer NOT NULL DEFAULT 0,
    ADD COLUMN last_reply_at timestamptz,
    ADD COLUMN pinned_at timestamptz,
    ADD COLUMN pinned_by uuid REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN deleted_by uuid REFERENCES users (id) ON DELETE SET NULL;

-- The change feed: sync's `changes` and GET /api/rooms/:id/changes?after=N.
CREATE INDEX idx_messages_room_change ON messages (room_id, change_seq) WHERE change_seq > 0;
-- A thread's replies in seq order.
CREATE INDEX idx_messages_thread ON messages (thread_id, seq) WHERE thread_id IS NOT NULL;
-- A room's pinned messages.
CREATE INDEX idx_messages_pinned ON messages (room_id, pinned_at) WHERE pinned_at IS NOT NULL;

-- Earlier versions of edited messages, oldest first (GET .../messages/:id/edits).
CREATE TABLE message_edits (
    id           bigserial PRIMARY KEY,
    message_id   uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    content      text NOT NULL,
    content_html text NOT NULL,
    -- When this version was written (the message's created_at or its previous edit).
    written_at   timestamptz NOT NULL,
    -- When it was replaced by the next version.
    replaced_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_message_edits_message ON message_edits (message_id, id);

-- One row per (message, user, emoji): adding twice is a no-op, removing twice too.
CREATE TABLE message_reactions (
    message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    emoji      varchar(64) NOT NULL,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, emoji, user_id)
);
