ALTER TABLE enquiries DROP CONSTRAINT enquiries_contact_id_fkey;
ALTER TABLE enquiries ADD CONSTRAINT enquiries_contact_id_fkey
    FOREIGN KEY (contact_id) REFERENCES contacts (id);
