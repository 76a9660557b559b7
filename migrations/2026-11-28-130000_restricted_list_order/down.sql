DROP TRIGGER contacts_share_sort_name ON contacts;
DROP FUNCTION contacts_pass_sort_name();
DROP TRIGGER contact_shares_sort_name ON contact_shares;
DROP FUNCTION contact_shares_take_sort_name();
DROP INDEX contact_shares_staff_idx;
ALTER TABLE contact_shares DROP COLUMN sort_name;
CREATE INDEX contact_shares_staff_idx ON contact_shares (staff_id, contact_id);
DROP INDEX contacts_owner_idx;
CREATE INDEX contacts_owner_idx ON contacts (owner_id) WHERE deleted_at IS NULL;
