-- The whole data model of DESIGN.md §4 in one step.
-- gen_random_uuid() is built into PostgreSQL >= 13, so no extension is needed.

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         varchar(255) NOT NULL,
    username      varchar(50)  NOT NULL,
    password_hash varchar(255) NOT NULL,
    display_name  varchar(100),
    created_at    timestamptz  NOT NULL DEFAULT now(),
    updated_at    timestamptz  NOT NULL DEFAULT now(),
    last_seen_at  timestamptz
);
-- Unique case-insensitively: "Alice" and "alice" are the same person to other users.
CREATE UNIQUE INDEX idx_users_email ON users (lower(email));
CREATE UNIQUE INDEX idx_users_username ON users (lower(username));

CREATE TABLE rooms (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        varchar(100) NOT NULL,
    description text,
    is_private  boolean NOT NULL DEFAULT false,
    kind        varchar(10) NOT NULL DEFAULT 'public'
                CHECK (kind IN ('public', 'private', 'direct')),
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Highest seq handed out in this room; bumped under the row lock by every insert.
    last_seq    bigint NOT NULL DEFAULT 0,
    CHECK (is_private = (kind <> 'public'))
);
CREATE INDEX idx_rooms_created_by ON rooms (created_by);
CREATE INDEX idx_rooms_kind ON rooms (kind);

-- The lobby: a public room every user belongs to. Its id is fixed so that clients and
-- scripts can name it without a lookup.
INSERT INTO rooms (id, name, description, is_private, kind)
VALUES ('00000000-0000-4000-8000-000000000001', 'lobby', 'Everyone is here', false, 'public');

CREATE TABLE files (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    original_name varchar(255) NOT NULL,
    stored_name   varchar(100) NOT NULL UNIQUE,
    mime_type     varchar(100) NOT NULL,
    size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
    sha256        char(64) NOT NULL,
    width         integer,
    height        integer,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_files_owner ON files (owner_id);

CREATE TABLE messages (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id       uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq           bigint NOT NULL,
    user_id       uuid REFERENCES users (id) ON DELETE SET NULL,
    content       text NOT NULL,
    content_html  text NOT NULL,
    message_type  varchar(20) NOT NULL DEFAULT 'text'
                  CHECK (message_type IN ('text', 'image', 'file', 'system')),
    file_id       uuid REFERENCES files (id) ON DELETE SET NULL,
    file_url      varchar(500),
    client_msg_id varchar(64),
    created_at    timestamptz NOT NULL DEFAULT now(),
    edited_at     timestamptz,
    deleted_at    timestamptz,
    -- Per-room sequence without gaps: the unit of ordering, gap detection and sync.
    CONSTRAINT uq_messages_room_seq UNIQUE (room_id, seq)
);
-- The seed's indexes. (room_id, seq) above serves history and sync; these serve time queries.
CREATE INDEX idx_messages_room_id ON messages (room_id);
CREATE INDEX idx_messages_created_at ON messages (created_at DESC);
CREATE INDEX idx_messages_room_created ON messages (room_id, created_at DESC);
CREATE INDEX idx_messages_file ON messages (file_id) WHERE file_id IS NOT NULL;
-- Idempotent retries: one stored message per (sender, clientMsgId).
CREATE UNIQUE INDEX uq_messages_client_msg
    ON messages (user_id, client_msg_id) WHERE client_msg_id IS NOT NULL;

CREATE TABLE room_members (
    room_id       uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          varchar(10) NOT NULL DEFAULT 'member'
                  CHECK (role IN ('owner', 'admin', 'member')),
    joined_at     timestamptz NOT NULL DEFAULT now(),
    -- Unread = rooms.last_seq - last_read_seq: no COUNT over messages.
    last_read_seq bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX idx_room_members_user_id ON room_members (user_id);

-- A direct conversation is a room of kind 'direct' with exactly two members; this table
-- makes it unique per unordered pair (user_low < user_high).
CREATE TABLE direct_rooms (
    room_id   uuid PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    user_low  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_high uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    CHECK (user_low < user_high),
    UNIQUE (user_low, user_high)
);
CREATE INDEX idx_direct_rooms_high ON direct_rooms (user_high);

CREATE TABLE room_invites (
    room_id    uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    invited_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX idx_room_invites_user ON room_invites (user_id);

CREATE TABLE user_blocks (
    blocker_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id)
);

CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- One family per login; rotation keeps the family, reuse of a spent token revokes it.
    family_id   uuid NOT NULL,
    -- SHA-256 of the opaque token: a database leak does not leak usable tokens.
    token_hash  char(64) NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX idx_refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX idx_refresh_tokens_user ON refresh_tokens (user_id);
