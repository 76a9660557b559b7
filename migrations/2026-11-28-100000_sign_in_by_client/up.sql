-- Sign-in failures are also counted per client address: one client trying
-- many emails is throttled, not only one email tried many times.
ALTER TABLE login_attempts ADD COLUMN client TEXT NOT NULL DEFAULT '';
CREATE INDEX login_attempts_client_idx ON login_attempts (client, attempted_at) WHERE NOT succeeded;
