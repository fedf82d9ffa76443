-- Erasure (POST /account/deactivate with erase: true): the user's messages are no longer shown
-- to anyone who was not in the room when they were sent (services/erasure.ts).
ALTER TABLE users ADD COLUMN erased boolean NOT NULL DEFAULT false;
CREATE INDEX users_erased ON users (user_id) WHERE erased;
