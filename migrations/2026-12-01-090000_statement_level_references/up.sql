-- The references from the tables an import fills (about twelve rows a
-- contact) are checked once per statement instead of once per row. A
-- per-row foreign key costs a lookup and a lock for every phone, email,
-- label and change-log row, and only a superuser may switch those off
-- (session_replication_role), which a managed PostgreSQL never grants. These
-- triggers keep the same guarantees for every writer, superuser or not:
-- what a row points at exists and stays locked (FOR KEY SHARE) until the
-- writer commits, deleting a contact, label, custom field or import takes
-- its rows with it, a staff member still referred to cannot be deleted, and
-- an id that is referred to never changes. TRUNCATE fires no DELETE
-- trigger: a TRUNCATE of contacts names the tables above with it.

-- TG_ARGV: the parent table, then the columns of this table that point at it.
--
-- An import batch has locked everything its rows point at before it writes
-- them (its own new contacts, the contacts it updates FOR UPDATE, the staff,
-- labels and custom fields FOR KEY SHARE) and says so with the setting
-- contactbook.references_locked for its transaction: checking again would
-- cost a sixth of its time.
CREATE FUNCTION refs_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids text := '';
    -- Rows with an id of their own: an update is paired with what it was.
    keyed boolean;
    wanted bigint;
    found bigint;
BEGIN
    IF current_setting('contactbook.references_locked', true) = 'on' THEN
        RETURN NULL;
    END IF;
    keyed := TG_OP = 'UPDATE' AND EXISTS (
        SELECT 1 FROM pg_attribute
        WHERE attrelid = TG_RELID AND attname = 'id' AND NOT attisdropped);
    FOR i IN 1 .. TG_NARGS - 1 LOOP
        IF ids <> '' THEN
            ids := ids || ' UNION ALL ';
        END IF;
        IF keyed THEN
            -- As with a foreign key, an update checks only the references it
            -- changes: one that leaves them alone (a SET NULL of another
            -- column while the parent goes) must not trip over the parent.
            ids := ids || format(
                'SELECT n.%1$I AS id FROM new_rows n JOIN old_rows o ON o.id = n.id '
                'WHERE n.%1$I IS NOT NULL AND n.%1$I IS DISTINCT FROM o.%1$I', TG_ARGV[i]);
        ELSE
            ids := ids || format('SELECT %1$I AS id FROM new_rows WHERE %1$I IS NOT NULL', TG_ARGV[i]);
        END IF;
    END LOOP;
    -- Locked in id order, as two writers locking the same parents must not
    -- deadlock.
    EXECUTE format(
        'WITH wanted AS (SELECT DISTINCT id FROM (%s) w), '
        'locked AS (SELECT p.id FROM %I p WHERE p.id IN (SELECT id FROM wanted) '
        'ORDER BY p.id FOR KEY SHARE OF p) '
        'SELECT (SELECT count(*) FROM wanted), (SELECT count(*) FROM locked)',
        ids, TG_ARGV[0])
    INTO wanted, found;
    IF found < wanted THEN
        RAISE EXCEPTION USING
            ERRCODE = 'foreign_key_violation',
            MESSAGE = format('a row of %s points at a row of %s that does not exist',
                             TG_TABLE_NAME, TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$$;

-- TG_ARGV: pairs of (child table, column pointing at this table).
CREATE FUNCTION refs_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 0 .. TG_NARGS - 2 BY 2 LOOP
        EXECUTE format('DELETE FROM %I WHERE %I IN (SELECT id FROM old_rows)',
                       TG_ARGV[i], TG_ARGV[i + 1]);
    END LOOP;
    RETURN NULL;
END
$$;

-- TG_ARGV: pairs of (child table, column pointing at this table).
CREATE FUNCTION refs_restrict() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    used boolean;
BEGIN
    FOR i IN 0 .. TG_NARGS - 2 BY 2 LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I IN (SELECT id FROM old_rows))',
                       TG_ARGV[i], TG_ARGV[i + 1])
        INTO used;
        IF used THEN
            RAISE EXCEPTION USING
                ERRCODE = 'foreign_key_violation',
                MESSAGE = format('a row of %s is still referred to by %s.%s',
                                 TG_TABLE_NAME, TG_ARGV[i], TG_ARGV[i + 1]);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION refs_keep_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION USING
            ERRCODE = 'foreign_key_violation',
            MESSAGE = format('the id of a row of %s is referred to and cannot change', TG_TABLE_NAME);
    END IF;
    RETURN NEW;
END
$$;

ALTER TABLE contacts
    DROP CONSTRAINT contacts_owner_id_fkey,
    DROP CONSTRAINT contacts_created_by_fkey,
    DROP CONSTRAINT contacts_updated_by_fkey,
    DROP CONSTRAINT contacts_deleted_by_fkey;
ALTER TABLE contact_phones DROP CONSTRAINT contact_phones_contact_id_fkey;
ALTER TABLE contact_emails DROP CONSTRAINT contact_emails_contact_id_fkey;
ALTER TABLE contact_socials DROP CONSTRAINT contact_socials_contact_id_fkey;
ALTER TABLE contact_labels
    DROP CONSTRAINT contact_labels_contact_id_fkey,
    DROP CONSTRAINT contact_labels_label_id_fkey;
ALTER TABLE custom_field_values
    DROP CONSTRAINT custom_field_values_contact_id_fkey,
    DROP CONSTRAINT custom_field_values_field_id_fkey;
ALTER TABLE contact_changes
    DROP CONSTRAINT contact_changes_contact_id_fkey,
    DROP CONSTRAINT contact_changes_staff_id_fkey;
ALTER TABLE import_matches DROP CONSTRAINT import_matches_import_id_fkey;

-- A trigger with transition tables serves one event, so each check is there
-- for INSERT and for UPDATE.
CREATE TRIGGER contacts_staff_ins AFTER INSERT ON contacts REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('staff', 'owner_id', 'created_by', 'updated_by', 'deleted_by');
CREATE TRIGGER contacts_staff_upd AFTER UPDATE ON contacts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('staff', 'owner_id', 'created_by', 'updated_by', 'deleted_by');

CREATE TRIGGER contact_phones_ref_ins AFTER INSERT ON contact_phones REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('contacts', 'contact_id');
CREATE TRIGGER contact_phones_ref_upd AFTER UPDATE ON contact_phones
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('contacts', 'contact_id');
CREATE TRIGGER contact_emails_ref_ins AFTER INSERT ON contact_emails REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('contacts', 'contact_id');
CREATE TRIGGER contact_emails_ref_upd AFTER UPDATE ON contact_emails
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('contacts', 'contact_id');
CREATE TRIGGER contact_socials_ref_ins AFTER INSERT ON contact_socials REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('contacts', 'contact_id');
CREATE TRIGGER contact_socials_ref_upd AFTER UPDATE ON contact_socials
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('contacts', 'contact_id');

CREATE TRIGGER contact_labels_contact_ins AFTER INSERT ON contact_labels REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('contacts', 'contact_id');
CREATE TRIGGER contact_labels_contact_upd AFTER UPDATE ON contact_labels
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('contacts', 'contact_id');
CREATE TRIGGER contact_labels_label_ins AFTER INSERT ON contact_labels REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('labels', 'label_id');
CREATE TRIGGER contact_labels_label_upd AFTER UPDATE ON contact_labels
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('labels', 'label_id');

CREATE TRIGGER custom_field_values_contact_ins AFTER INSERT ON custom_field_values REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('contacts', 'contact_id');
CREATE TRIGGER custom_field_values_contact_upd AFTER UPDATE ON custom_field_values
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('contacts', 'contact_id');
CREATE TRIGGER custom_field_values_field_ins AFTER INSERT ON custom_field_values REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('custom_fields', 'field_id');
CREATE TRIGGER custom_field_values_field_upd AFTER UPDATE ON custom_field_values
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('custom_fields', 'field_id');

CREATE TRIGGER contact_changes_contact_ins AFTER INSERT ON contact_changes REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('contacts', 'contact_id');
CREATE TRIGGER contact_changes_contact_upd AFTER UPDATE ON contact_changes
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('contacts', 'contact_id');
CREATE TRIGGER contact_changes_staff_ins AFTER INSERT ON contact_changes REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('staff', 'staff_id');
CREATE TRIGGER contact_changes_staff_upd AFTER UPDATE ON contact_changes
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('staff', 'staff_id');

CREATE TRIGGER import_matches_import_ins AFTER INSERT ON import_matches REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('imports', 'import_id');
CREATE TRIGGER import_matches_import_upd AFTER UPDATE ON import_matches
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_check('imports', 'import_id');

CREATE TRIGGER contacts_refs_cascade AFTER DELETE ON contacts REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_cascade(
        'contact_phones', 'contact_id', 'contact_emails', 'contact_id',
        'contact_socials', 'contact_id', 'contact_labels', 'contact_id',
        'custom_field_values', 'contact_id', 'contact_changes', 'contact_id');
CREATE TRIGGER labels_refs_cascade AFTER DELETE ON labels REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_cascade('contact_labels', 'label_id');
CREATE TRIGGER custom_fields_refs_cascade AFTER DELETE ON custom_fields REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_cascade('custom_field_values', 'field_id');
CREATE TRIGGER imports_refs_cascade AFTER DELETE ON imports REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_cascade('import_matches', 'import_id');
CREATE TRIGGER staff_refs_restrict AFTER DELETE ON staff REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refs_restrict(
        'contacts', 'owner_id', 'contacts', 'created_by', 'contacts', 'updated_by',
        'contacts', 'deleted_by', 'contact_changes', 'staff_id');

CREATE TRIGGER contacts_keep_id BEFORE UPDATE OF id ON contacts
    FOR EACH ROW EXECUTE FUNCTION refs_keep_id();
CREATE TRIGGER labels_keep_id BEFORE UPDATE OF id ON labels
    FOR EACH ROW EXECUTE FUNCTION refs_keep_id();
CREATE TRIGGER custom_fields_keep_id BEFORE UPDATE OF id ON custom_fields
    FOR EACH ROW EXECUTE FUNCTION refs_keep_id();
CREATE TRIGGER imports_keep_id BEFORE UPDATE OF id ON imports
    FOR EACH ROW EXECUTE FUNCTION refs_keep_id();
CREATE TRIGGER staff_keep_id BEFORE UPDATE OF id ON staff
    FOR EACH ROW EXECUTE FUNCTION refs_keep_id();
