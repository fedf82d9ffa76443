-- Email validation sessions (requestToken → the link in the email → the address is proven):
-- for adding an address to an account, registering with one, or resetting a password.
CREATE TABLE threepid_validations (
  sid            text PRIMARY KEY,
  client_secret  text NOT NULL,
  medium         text NOT NULL,
  address        text NOT NULL,
  purpose        text NOT NULL,           -- add | register | reset
  token_hash     bytea NOT NULL,          -- the emailed token, hashed
  send_attempt   integer NOT NULL,
  next_link      text,
  validated_at   bigint,
  created_ts     bigint NOT NULL
);
CREATE INDEX threepid_validations_secret ON threepid_validations (client_secret, address, purpose);

-- Unread-message emails (email pushers): what was last mailed per user and room.
CREATE TABLE email_notified (
  user_id   text NOT NULL,
  room_id   text NOT NULL,
  last_ts   bigint NOT NULL,              -- the newest notified event already mailed about (origin_server_ts)
  sent_ts   bigint NOT NULL,
  PRIMARY KEY (user_id, room_id)
);

-- The address an m.login.email.identity stage proved, kept with its UIA session.
ALTER TABLE uia_sessions ADD COLUMN threepid jsonb;

-- The client software last seen on each device (whois, the admin API's device list).
ALTER TABLE devices ADD COLUMN last_seen_user_agent text;
