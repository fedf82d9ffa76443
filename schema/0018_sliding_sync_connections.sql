-- Sliding sync connections, kept here only when several processes serve the same users
-- (Redis configured): a connection's next request may reach another process, which picks it
-- up from its last response. One row per (user, device, conn_id); rows unused for 30 minutes
-- are deleted.
CREATE TABLE sliding_sync_connections (
  conn_key    text PRIMARY KEY,
  user_id     text NOT NULL,
  data        bytea NOT NULL,
  updated_ts  bigint NOT NULL
);
CREATE INDEX sliding_sync_connections_updated ON sliding_sync_connections (updated_ts);
