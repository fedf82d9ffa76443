-- A pusher belongs to the access token that made it: it goes when that token goes (logout,
-- device deletion, a password change that logs out other devices), and moves to the new token
-- when its token is refreshed (store/devices.ts retirePreviousToken). NULL: made before this
-- column (kept until removed by the client).
ALTER TABLE pushers ADD COLUMN access_token_id bigint REFERENCES access_tokens (id) ON DELETE CASCADE;
CREATE INDEX pushers_token ON pushers (access_token_id);
