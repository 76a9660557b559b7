DROP TRIGGER contacts_keep_id ON contacts;
DROP TRIGGER labels_keep_id ON labels;
DROP TRIGGER custom_fields_keep_id ON custom_fields;
DROP TRIGGER imports_keep_id ON imports;
DROP TRIGGER staff_keep_id ON staff;
DROP TRIGGER contacts_refs_cascade ON contacts;
DROP TRIGGER labels_refs_cascade ON labels;
DROP TRIGGER custom_fields_refs_cascade ON custom_fields;
DROP TRIGGER imports_refs_cascade ON imports;
DROP TRIGGER staff_refs_restrict ON staff;

DROP TRIGGER contacts_staff_ins ON contacts;
DROP TRIGGER contacts_staff_upd ON contacts;
DROP TRIGGER contact_phones_ref_ins ON contact_phones;
DROP TRIGGER contact_phones_ref_upd ON contact_phones;
DROP TRIGGER contact_emails_ref_ins ON contact_emails;
DROP TRIGGER contact_emails_ref_upd ON contact_emails;
DROP TRIGGER contact_socials_ref_ins ON contact_socials;
DROP TRIGGER contact_socials_ref_upd ON contact_socials;
DROP TRIGGER contact_labels_contact_ins ON contact_labels;
DROP TRIGGER contact_labels_contact_upd ON contact_labels;
DROP TRIGGER contact_labels_label_ins ON contact_labels;
DROP TRIGGER contact_labels_label_upd ON contact_labels;
DROP TRIGGER custom_field_values_contact_ins ON custom_field_values;
DROP TRIGGER custom_field_values_contact_upd ON custom_field_values;
DROP TRIGGER custom_field_values_field_ins ON custom_field_values;
DROP TRIGGER custom_field_values_field_upd ON custom_field_values;
DROP TRIGGER contact_changes_contact_ins ON contact_changes;
DROP TRIGGER contact_changes_contact_upd ON contact_changes;
DROP TRIGGER contact_changes_staff_ins ON contact_changes;
DROP TRIGGER contact_changes_staff_upd ON contact_changes;
DROP TRIGGER import_matches_import_ins ON import_matches;
DROP TRIGGER import_matches_import_upd ON import_matches;
DROP FUNCTION refs_check();
DROP FUNCTION refs_cascade();
DROP FUNCTION refs_restrict();
DROP FUNCTION refs_keep_id();

ALTER TABLE contacts
    ADD CONSTRAINT contacts_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES staff (id),
    ADD CONSTRAINT contacts_created_by_fkey FOREIGN KEY (created_by) REFERENCES staff (id),
    ADD CONSTRAINT contacts_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES staff (id),
    ADD CONSTRAINT contacts_deleted_by_fkey FOREIGN KEY (deleted_by) REFERENCES staff (id);
ALTER TABLE contact_phones ADD CONSTRAINT contact_phones_contact_id_fkey
    FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE CASCADE;
ALTER TABLE contact_emails ADD CONSTRAINT contact_emails_contact_id_fkey
    FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE CASCADE;
ALTER TABLE contact_socials ADD CONSTRAINT contact_socials_contact_id_fkey
    FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE CASCADE;
ALTER TABLE contact_labels
    ADD CONSTRAINT contact_labels_contact_id_fkey FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE CASCADE,
    ADD CONSTRAINT contact_labels_label_id_fkey FOREIGN KEY (label_id) REFERENCES labels (id) ON DELETE CASCADE;
ALTER TABLE custom_field_values
    ADD CONSTRAINT custom_field_values_contact_id_fkey FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE CASCADE,
    ADD CONSTRAINT custom_field_values_field_id_fkey FOREIGN KEY (field_id) REFERENCES custom_fields (id) ON DELETE CASCADE;
ALTER TABLE contact_changes
    ADD CONSTRAINT contact_changes_contact_id_fkey FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE CASCADE,
    ADD CONSTRAINT contact_changes_staff_id_fkey FOREIGN KEY (staff_id) REFERENCES staff (id);
ALTER TABLE import_matches ADD CONSTRAINT import_matches_import_id_fkey
    FOREIGN KEY (import_id) REFERENCES imports (id) ON DELETE CASCADE;
