-- Accounts, devices, access tokens, profiles and user-interactive auth sessions.

CREATE TABLE users (
  user_id        text PRIMARY KEY,
  password_hash  text,                        -- scrypt, see src/services/passwords.ts; NULL: no password login
  is_guest       boolean NOT NULL DEFAULT false,
  is_admin       boolean NOT NULL DEFAULT false,
  deactivated    boolean NOT NULL DEFAULT false,
  appservice_id  text,                        -- registered by this application service
  created_ts     bigint  NOT NULL
);

CREATE TABLE devices (
  user_id       text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  device_id     text NOT NULL,
  display_name  text,
  last_seen_ts  bigint,
  last_seen_ip  text,
  created_ts    bigint NOT NULL,
  PRIMARY KEY (user_id, device_id)
);

-- Tokens are stored only as SHA-256 hashes: a leak of this table gives no usable token.
CREATE TABLE access_tokens (
  id                  bigserial PRIMARY KEY,
  token_hash          bytea NOT NULL UNIQUE,
  refresh_token_hash  bytea UNIQUE,
  user_id             text NOT NULL,
  device_id           text NOT NULL,
  expires_ts          bigint,                  -- NULL: never expires (no refresh token asked for)
  refreshed_from      bigint,                  -- the pair this one replaced; removed on first use
  created_ts          bigint NOT NULL,
  FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX access_tokens_device ON access_tokens (user_id, device_id);

-- Profile fields (displayname, avatar_url, m.tz and custom keys), one row a field.
CREATE TABLE profile_fields (
  user_id  text  NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  key      text  NOT NULL,
  value    jsonb NOT NULL,
  PRIMARY KEY (user_id, key)
);

-- User-interactive auth sessions live in the database so the 401 round trip may land on
-- another process.
CREATE TABLE uia_sessions (
  session_id   text PRIMARY KEY,
  purpose      text  NOT NULL,                -- which request (method and path) it authorises
  user_id      text,                          -- the user it was opened for, if any
  completed    jsonb NOT NULL DEFAULT '[]',   -- stage types completed so far
  created_ts   bigint NOT NULL
);
CREATE INDEX uia_sessions_created ON uia_sessions (created_ts);

-- Nonces for the shared-secret registration admin API, single use.
CREATE TABLE registration_nonces (
  nonce       text PRIMARY KEY,
  created_ts  bigint NOT NULL
);

CREATE SEQUENCE guest_localparts START 1;
-- Case-insensitive uniqueness of user IDs is checked in the insert; this index makes it cheap.
CREATE INDEX users_lower_id ON users (lower(user_id));
