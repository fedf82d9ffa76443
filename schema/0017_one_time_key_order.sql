-- One-time keys are claimed in the order they were uploaded (v1.13, MSC4225): a client that
-- uploads more keys than it can remember forgets the oldest, so those must go first.
ALTER TABLE one_time_keys ADD COLUMN seq bigserial;
CREATE INDEX one_time_keys_claim ON one_time_keys (user_id, device_id, algorithm, seq);
