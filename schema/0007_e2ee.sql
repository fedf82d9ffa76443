-- End-to-end encryption plumbing: keys and to-device messages. The server stores and relays;
-- it never sees plaintext.

CREATE TABLE device_keys (
  user_id    text NOT NULL,
  device_id  text NOT NULL,
  keys       jsonb NOT NULL,          -- the signed device keys object, signatures merged in
  PRIMARY KEY (user_id, device_id)
);

CREATE TABLE one_time_keys (
  user_id    text NOT NULL,
  device_id  text NOT NULL,
  algorithm  text NOT NULL,
  key_id     text NOT NULL,
  key        jsonb NOT NULL,
  PRIMARY KEY (user_id, device_id, algorithm, key_id)
);

-- One fallback key per device and algorithm; "used" once claimed (the client replaces it).
CREATE TABLE fallback_keys (
  user_id    text NOT NULL,
  device_id  text NOT NULL,
  algorithm  text NOT NULL,
  key_id     text NOT NULL,
  key        jsonb NOT NULL,
  used       boolean NOT NULL DEFAULT false,
  PRIMARY KEY (user_id, device_id, algorithm)
);

CREATE TABLE cross_signing_keys (
  user_id  text NOT NULL,
  kind     text NOT NULL,             -- master, self_signing, user_signing
  key      jsonb NOT NULL,
  PRIMARY KEY (user_id, kind)
);

-- A user's devices or keys changed at this stream position (device_lists.changed in /sync).
CREATE TABLE device_list_changes (
  user_id  text NOT NULL,
  pos      bigint NOT NULL,
  PRIMARY KEY (user_id, pos)
);
CREATE INDEX device_list_changes_pos ON device_list_changes (pos);

-- To-device messages, kept until the device acknowledges them (its next sync token).
CREATE TABLE to_device (
  user_id    text NOT NULL,
  device_id  text NOT NULL,
  pos        bigint NOT NULL,
  sender     text NOT NULL,
  type       text NOT NULL,
  content    jsonb NOT NULL,
  PRIMARY KEY (user_id, device_id, pos)
);
CREATE INDEX to_device_pos ON to_device (pos);

-- Idempotent PUT /sendToDevice: (sender, device, txnId) seen.
CREATE TABLE to_device_txns (
  sender      text NOT NULL,
  device_id   text NOT NULL,
  txn_id      text NOT NULL,
  created_ts  bigint NOT NULL,
  PRIMARY KEY (sender, device_id, txn_id)
);
