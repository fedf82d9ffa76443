-- Server-side key backup (room_keys): encrypted by the client; the server keeps the blobs.
CREATE TABLE room_key_backups (
  user_id    text NOT NULL,
  version    bigint NOT NULL,
  algorithm  text NOT NULL,
  auth_data  jsonb NOT NULL,
  etag       bigint NOT NULL DEFAULT 0,
  deleted    boolean NOT NULL DEFAULT false,
  PRIMARY KEY (user_id, version)
);

CREATE TABLE room_keys (
  user_id     text NOT NULL,
  version     bigint NOT NULL,
  room_id     text NOT NULL,
  session_id  text NOT NULL,
  data        jsonb NOT NULL,   -- first_message_index, forwarded_count, is_verified, session_data
  PRIMARY KEY (user_id, version, room_id, session_id)
);
