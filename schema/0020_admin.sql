-- What the admin API manages beyond accounts: shadow bans, user types, per-user rate-limit
-- overrides, third-party identifiers (email addresses), server notices rooms, room deletions.
ALTER TABLE users ADD COLUMN shadow_banned boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN user_type text;
ALTER TABLE users ADD COLUMN locked boolean NOT NULL DEFAULT false;

CREATE TABLE ratelimit_overrides (
  user_id              text PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
  messages_per_second  integer NOT NULL,   -- 0 with burst_count 0: not limited at all
  burst_count          integer NOT NULL
);

-- A user's third-party identifiers; an address belongs to one account at most.
CREATE TABLE user_threepids (
  medium        text NOT NULL,
  address       text NOT NULL,           -- emails lower-cased
  user_id       text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  validated_at  bigint NOT NULL,
  added_at      bigint NOT NULL,
  PRIMARY KEY (medium, address)
);
CREATE INDEX user_threepids_user ON user_threepids (user_id);

-- The server notices room of each user (one, created on first notice).
CREATE TABLE server_notice_rooms (
  user_id  text PRIMARY KEY,
  room_id  text NOT NULL
);

-- Rooms an admin blocked: no one on this server may join them again.
CREATE TABLE blocked_rooms (
  room_id     text PRIMARY KEY,
  user_id     text NOT NULL,
  created_ts  bigint NOT NULL
);

-- Room deletions (DELETE /_synapse/admin/v2/rooms/{roomId}), for their status endpoint.
CREATE TABLE room_deletions (
  delete_id     text PRIMARY KEY,
  room_id       text NOT NULL,
  status        text NOT NULL,          -- scheduled | active | complete | failed
  error         text,
  result        jsonb,
  created_ts    bigint NOT NULL
);
CREATE INDEX room_deletions_room ON room_deletions (room_id);

-- Media an admin quarantined (downloads refused) or marked safe from quarantine.
ALTER TABLE media ADD COLUMN quarantined_by text;
ALTER TABLE media ADD COLUMN safe_from_quarantine boolean NOT NULL DEFAULT false;
