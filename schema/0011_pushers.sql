-- HTTP pushers (POST /pushers/set) and how far the push worker has read the stream.
CREATE TABLE pushers (
  user_id              text NOT NULL,
  app_id               text NOT NULL,
  pushkey              text NOT NULL,
  kind                 text NOT NULL,
  app_display_name     text NOT NULL,
  device_display_name  text NOT NULL,
  profile_tag          text,
  lang                 text NOT NULL,
  data                 jsonb NOT NULL,
  created_ts           bigint NOT NULL,
  PRIMARY KEY (app_id, pushkey, user_id)
);
CREATE INDEX pushers_user ON pushers (user_id);

CREATE TABLE push_state (
  id           boolean PRIMARY KEY DEFAULT true CHECK (id),
  stream_pos   bigint NOT NULL,
  lease_owner  text,
  lease_until  bigint NOT NULL DEFAULT 0
);
