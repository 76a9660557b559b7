ALTER TABLE contacts ENABLE TRIGGER contacts_pass_to_shares;
