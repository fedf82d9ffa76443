-- Reports of events and rooms to the server's administrators.
CREATE TABLE reports (
  id          bigserial PRIMARY KEY,
  reporter    text NOT NULL,
  room_id     text NOT NULL,
  event_id    text,
  reason      text,
  score       int,
  created_ts  bigint NOT NULL
);

-- OpenID tokens (POST /user/{userId}/openid/request_token), checked by userinfo.
CREATE TABLE openid_tokens (
  token_hash  bytea PRIMARY KEY,
  user_id     text NOT NULL,
  expires_ts  bigint NOT NULL
);
