-- The media repository: metadata here, bytes on disk (media.store_path).
CREATE TABLE media (
  media_id      text PRIMARY KEY,
  user_id       text NOT NULL,
  content_type  text,
  filename      text,
  size          bigint,                 -- NULL until uploaded (POST /media/v1/create)
  created_ts    bigint NOT NULL,
  expires_ts    bigint                  -- an unused create expires
);

CREATE TABLE media_thumbnails (
  media_id      text NOT NULL,
  width         int NOT NULL,
  height        int NOT NULL,
  method        text NOT NULL,
  content_type  text NOT NULL,
  size          bigint NOT NULL,
  PRIMARY KEY (media_id, width, height, method)
);
