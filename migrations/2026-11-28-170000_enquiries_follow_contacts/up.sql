-- Deleting a contact for good (from the trash) takes its enquiries and their
-- conversations with it, as it does its notes, calls and page views; before,
-- the enquiry's reference refused the delete.
ALTER TABLE enquiries DROP CONSTRAINT enquiries_contact_id_fkey;
ALTER TABLE enquiries ADD CONSTRAINT enquiries_contact_id_fkey
    FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE CASCADE;
