DROP INDEX login_attempts_client_idx;
ALTER TABLE login_attempts DROP COLUMN client;
