DROP INDEX contacts_search_trgm_idx;
CREATE INDEX contacts_search_trgm_idx ON contacts
    USING gin (owner_id, search_text gin_trgm_ops) WHERE deleted_at IS NULL;
DROP TRIGGER contact_labels_to_contacts_upd ON contact_labels;
DROP TRIGGER contact_labels_to_contacts_del ON contact_labels;
DROP TRIGGER contact_labels_to_contacts_ins ON contact_labels;
DROP FUNCTION contact_labels_to_contacts();
ALTER TABLE contacts DROP COLUMN label_ids;
