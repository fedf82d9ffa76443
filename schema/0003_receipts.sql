-- Read receipts (m.read, m.read.private), unthreaded (thread_id '') or per thread. One row per
-- (room, user, type, thread): receipts only move forward. pos orders them in /sync.
CREATE TABLE receipts (
  room_id       text   NOT NULL,
  user_id       text   NOT NULL,
  receipt_type  text   NOT NULL,
  thread_id     text   NOT NULL DEFAULT '',
  event_id      text   NOT NULL,
  event_pos     bigint NOT NULL,   -- the receipted event's stream position: what "forward" means
  ts            bigint NOT NULL,
  pos           bigint NOT NULL,
  PRIMARY KEY (room_id, user_id, receipt_type, thread_id)
);
CREATE INDEX receipts_room_pos ON receipts (room_id, pos);
