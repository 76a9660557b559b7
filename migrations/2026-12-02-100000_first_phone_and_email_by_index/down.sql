CREATE INDEX contact_phones_contact_plain_idx ON contact_phones (contact_id, position);
DROP INDEX contact_phones_contact_idx;
ALTER INDEX contact_phones_contact_plain_idx RENAME TO contact_phones_contact_idx;
CREATE INDEX contact_emails_contact_plain_idx ON contact_emails (contact_id, position);
DROP INDEX contact_emails_contact_idx;
ALTER INDEX contact_emails_contact_plain_idx RENAME TO contact_emails_contact_idx;
