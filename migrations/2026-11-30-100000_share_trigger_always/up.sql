-- Import batches run with session_replication_role = replica, which skips
-- the per-row foreign key triggers (the batch checks and locks what it
-- points at itself) but also every ordinary trigger: an update import that
-- renamed a shared contact left its shares with the old name and words.
ALTER TABLE contacts ENABLE ALWAYS TRIGGER contacts_pass_to_shares;
