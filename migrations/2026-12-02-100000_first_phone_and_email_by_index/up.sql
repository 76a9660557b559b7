-- The list shows each contact's first phone and email, `ORDER BY position,
-- id LIMIT 1`: with `id` in the index that is the index's first entry
-- instead of a sort of the contact's rows, once per row of every page.
CREATE INDEX contact_phones_contact_order_idx ON contact_phones (contact_id, position, id);
DROP INDEX contact_phones_contact_idx;
ALTER INDEX contact_phones_contact_order_idx RENAME TO contact_phones_contact_idx;
CREATE INDEX contact_emails_contact_order_idx ON contact_emails (contact_id, position, id);
DROP INDEX contact_emails_contact_idx;
ALTER INDEX contact_emails_contact_order_idx RENAME TO contact_emails_contact_idx;
