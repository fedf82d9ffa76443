-- Registration tokens (spec: m.login.registration_token; Synapse's admin API shapes). A token
-- is pending from the UIA stage that accepted it until its registration completes (then it is
-- completed) or its session expires (then the pending use is given back).
CREATE TABLE registration_tokens (
  token         text PRIMARY KEY,
  uses_allowed  integer,            -- NULL: unlimited
  pending       integer NOT NULL DEFAULT 0,
  completed     integer NOT NULL DEFAULT 0,
  expiry_time   bigint,             -- ms since the epoch; NULL: never
  created_ts    bigint NOT NULL
);

-- The token a registration's session holds a pending use of.
ALTER TABLE uia_sessions ADD COLUMN registration_token text;
