-- A contact's first phone and email, on its own row as well as in
-- contact_phones and contact_emails: every list page showed them through
-- two subqueries per row, 208 of the 238 buffers a page of 25 reads, and
-- the page statement ran 11,500 times a second instead of 26,000 without
-- them (session 16). The child tables stay the record; the triggers below
-- keep the copy equal for every writer, as contact_labels' do for
-- label_ids.
ALTER TABLE contacts ADD COLUMN first_phone text, ADD COLUMN first_email text;

UPDATE contacts c
SET first_phone = (SELECT p.number FROM contact_phones p WHERE p.contact_id = c.id
                   ORDER BY p.position, p.id LIMIT 1),
    first_email = (SELECT e.email FROM contact_emails e WHERE e.contact_id = c.id
                   ORDER BY e.position, e.id LIMIT 1)
WHERE EXISTS (SELECT 1 FROM contact_phones p WHERE p.contact_id = c.id)
   OR EXISTS (SELECT 1 FROM contact_emails e WHERE e.contact_id = c.id);

-- The contacts a statement touched get their copy written again where it
-- differs. They are locked first, in id order, and only then compared:
-- unlike a label, a phone added at a later position leaves the first one as
-- it was, so a writer comparing before it waited could miss that another
-- transaction, committing meanwhile, deleted the first one (its snapshot
-- would still show it). An import batch has locked every contact it writes
-- already (its new ones are its own; `contactbook.references_locked`, see
-- migration 2026-12-01-090000) and writes the copy with them, so for it this
-- is only the comparison.
CREATE FUNCTION contact_phones_to_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched bigint[];
    stale bigint[];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT t.contact_id) INTO touched
        FROM (SELECT contact_id FROM changed_rows UNION ALL SELECT contact_id FROM old_rows) t;
    ELSE
        SELECT array_agg(DISTINCT contact_id) INTO touched FROM changed_rows;
    END IF;
    IF current_setting('contactbook.references_locked', true) IS DISTINCT FROM 'on' THEN
        PERFORM 1 FROM contacts c WHERE c.id = ANY (touched) ORDER BY c.id FOR NO KEY UPDATE;
    END IF;
    SELECT array_agg(c.id) INTO stale
    FROM contacts c
    WHERE c.id = ANY (touched)
      AND c.first_phone IS DISTINCT FROM (
          SELECT p.number FROM contact_phones p WHERE p.contact_id = c.id
          ORDER BY p.position, p.id LIMIT 1);
    IF stale IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE contacts c
    SET first_phone = (SELECT p.number FROM contact_phones p WHERE p.contact_id = c.id
                       ORDER BY p.position, p.id LIMIT 1)
    WHERE c.id = ANY (stale);
    RETURN NULL;
END
$$;

CREATE FUNCTION contact_emails_to_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched bigint[];
    stale bigint[];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT t.contact_id) INTO touched
        FROM (SELECT contact_id FROM changed_rows UNION ALL SELECT contact_id FROM old_rows) t;
    ELSE
        SELECT array_agg(DISTINCT contact_id) INTO touched FROM changed_rows;
    END IF;
    IF current_setting('contactbook.references_locked', true) IS DISTINCT FROM 'on' THEN
        PERFORM 1 FROM contacts c WHERE c.id = ANY (touched) ORDER BY c.id FOR NO KEY UPDATE;
    END IF;
    SELECT array_agg(c.id) INTO stale
    FROM contacts c
    WHERE c.id = ANY (touched)
      AND c.first_email IS DISTINCT FROM (
          SELECT e.email FROM contact_emails e WHERE e.contact_id = c.id
          ORDER BY e.position, e.id LIMIT 1);
    IF stale IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE contacts c
    SET first_email = (SELECT e.email FROM contact_emails e WHERE e.contact_id = c.id
                       ORDER BY e.position, e.id LIMIT 1)
    WHERE c.id = ANY (stale);
    RETURN NULL;
END
$$;

CREATE TRIGGER contact_phones_to_contacts_ins AFTER INSERT ON contact_phones
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contact_phones_to_contacts();
CREATE TRIGGER contact_phones_to_contacts_del AFTER DELETE ON contact_phones
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contact_phones_to_contacts();
CREATE TRIGGER contact_phones_to_contacts_upd AFTER UPDATE ON contact_phones
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contact_phones_to_contacts();
CREATE TRIGGER contact_emails_to_contacts_ins AFTER INSERT ON contact_emails
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contact_emails_to_contacts();
CREATE TRIGGER contact_emails_to_contacts_del AFTER DELETE ON contact_emails
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contact_emails_to_contacts();
CREATE TRIGGER contact_emails_to_contacts_upd AFTER UPDATE ON contact_emails
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contact_emails_to_contacts();
-- Import batches may run as replication replicas: the copy must still be kept.
ALTER TABLE contact_phones ENABLE ALWAYS TRIGGER contact_phones_to_contacts_ins;
ALTER TABLE contact_phones ENABLE ALWAYS TRIGGER contact_phones_to_contacts_del;
ALTER TABLE contact_phones ENABLE ALWAYS TRIGGER contact_phones_to_contacts_upd;
ALTER TABLE contact_emails ENABLE ALWAYS TRIGGER contact_emails_to_contacts_ins;
ALTER TABLE contact_emails ENABLE ALWAYS TRIGGER contact_emails_to_contacts_del;
ALTER TABLE contact_emails ENABLE ALWAYS TRIGGER contact_emails_to_contacts_upd;
