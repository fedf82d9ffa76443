-- Application service delivery: a durable queue per application service.
-- stream_pos: every event up to here is in a transaction (delivered or pending). A pending
-- transaction keeps its ID and body until the service accepts it, across restarts.
CREATE TABLE appservice_state (
  as_id        text PRIMARY KEY,
  stream_pos   bigint NOT NULL,
  next_txn     bigint NOT NULL DEFAULT 1,
  lease_owner  text,              -- the process sending for it (several processes: one sends)
  lease_until  bigint NOT NULL DEFAULT 0
);

CREATE TABLE appservice_txns (
  as_id       text NOT NULL,
  txn_id      bigint NOT NULL,
  body        text NOT NULL,     -- the exact bytes sent, so a retry is byte-for-byte the same
  created_ts  bigint NOT NULL,
  PRIMARY KEY (as_id, txn_id)
);
