-- Rooms, events, state, and the one stream that orders everything persistent.

-- The stream position counter. Every write that sync must see takes its positions from this
-- row inside its transaction, as the transaction's last step before commit: the row lock
-- makes position order equal commit order, across processes, so "position P is committed"
-- implies "every position below P is committed" and a sync token can never skip an
-- uncommitted gap (see docs/architecture.md).
CREATE TABLE stream_counter (
  id   boolean PRIMARY KEY DEFAULT true CHECK (id),
  pos  bigint NOT NULL
);
INSERT INTO stream_counter (pos) VALUES (0);

-- The server's ed25519 signing key (events are signed as federation requires).
CREATE TABLE server_signing_keys (
  key_id      text PRIMARY KEY,
  secret      bytea NOT NULL,              -- PKCS#8 DER
  created_ts  bigint NOT NULL
);

CREATE TABLE rooms (
  room_id        text PRIMARY KEY,
  room_version   text NOT NULL,
  creator        text NOT NULL,
  is_public      boolean NOT NULL DEFAULT false,   -- listed in the published room directory
  head_event_id  text,                             -- the latest event: history is linear
  head_depth     bigint NOT NULL DEFAULT 0,
  created_ts     bigint NOT NULL
);
CREATE INDEX rooms_public ON rooms (is_public) WHERE is_public;

CREATE TABLE events (
  pos              bigint PRIMARY KEY,             -- stream position
  event_id         text NOT NULL UNIQUE,
  room_id          text NOT NULL,
  type             text NOT NULL,
  state_key        text,                           -- NULL: not a state event
  sender           text NOT NULL,
  depth            bigint NOT NULL,
  origin_server_ts bigint NOT NULL,
  membership       text,                           -- content.membership of m.room.member
  json             jsonb NOT NULL,                 -- the client-format event, unsigned.prev_content included
  pdu              jsonb NOT NULL,                 -- what federation would need: prev/auth events, hashes, signatures
  redacted_by      text,                           -- set when a redaction applies
  txn_device       text,                           -- the sending device and its transaction ID, so that
  txn_id           text                            -- device sees unsigned.transaction_id (local echo)
);
CREATE INDEX events_room_pos ON events (room_id, pos);
CREATE INDEX events_room_state ON events (room_id, type, state_key, pos) WHERE state_key IS NOT NULL;
CREATE INDEX events_room_ts ON events (room_id, origin_server_ts);

CREATE TABLE current_state (
  room_id     text NOT NULL,
  type        text NOT NULL,
  state_key   text NOT NULL,
  event_id    text NOT NULL,
  pos         bigint NOT NULL,
  membership  text,
  PRIMARY KEY (room_id, type, state_key)
);
-- "Which rooms is this user in": the membership rows by user.
CREATE INDEX current_state_members ON current_state (state_key, membership) WHERE type = 'm.room.member';

-- Idempotent sends: (user, device, txn id) → event, written with the event.
CREATE TABLE event_txns (
  user_id     text NOT NULL,
  device_id   text NOT NULL,
  txn_id      text NOT NULL,
  event_id    text NOT NULL,
  created_ts  bigint NOT NULL,
  PRIMARY KEY (user_id, device_id, txn_id)
);

-- Rooms a user forgot (hidden from /sync's leave section and refused for reading).
CREATE TABLE forgotten_rooms (
  user_id  text NOT NULL,
  room_id  text NOT NULL,
  PRIMARY KEY (user_id, room_id)
);

CREATE TABLE room_aliases (
  alias       text PRIMARY KEY,
  room_id     text NOT NULL,
  creator     text NOT NULL,
  created_ts  bigint NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);

CREATE TABLE filters (
  user_id    text NOT NULL,
  filter_id  bigserial,
  json       jsonb NOT NULL,
  PRIMARY KEY (user_id, filter_id)
);

-- Account data, global (room_id '') and per room; pos orders it in /sync.
CREATE TABLE account_data (
  user_id  text NOT NULL,
  room_id  text NOT NULL DEFAULT '',
  type     text NOT NULL,
  content  jsonb NOT NULL,
  pos      bigint NOT NULL,
  PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_pos ON account_data (user_id, pos);
