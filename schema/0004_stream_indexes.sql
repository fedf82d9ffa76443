-- Scale-out: every process follows the whole stream (events, receipts, account data) by
-- position ranges, so each table that takes positions needs an index on pos alone.
CREATE INDEX receipts_pos ON receipts (pos);
CREATE INDEX account_data_stream_pos ON account_data (pos);
