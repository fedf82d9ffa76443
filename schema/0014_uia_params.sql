-- A registration's user-interactive session remembers the request's parameters (so later
-- stages may send only `auth`) and, once done, the account it made (so repeating the
-- completed request answers the same account instead of "user ID taken"). The password is
-- kept hashed, never as given.
ALTER TABLE uia_sessions ADD COLUMN params jsonb;
ALTER TABLE uia_sessions ADD COLUMN result jsonb;
