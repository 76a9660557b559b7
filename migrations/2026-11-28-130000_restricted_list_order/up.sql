-- With Restricted visibility an agent's list is read from two sets, each in
-- the list's name order straight from an index, so that a page costs the
-- rows it shows rather than a sort of everything the agent may see (or a
-- walk of the whole table's name index, testing each row).

-- Their own contacts.
DROP INDEX contacts_owner_idx;
CREATE INDEX contacts_owner_idx ON contacts (owner_id, sort_name, id) WHERE deleted_at IS NULL;

-- The contacts shared with them: the share carries the contact's name key,
-- kept equal to it by the triggers below whatever writes the rows.
ALTER TABLE contact_shares ADD COLUMN sort_name TEXT NOT NULL DEFAULT '';
UPDATE contact_shares vis SET sort_name = c.sort_name FROM contacts c WHERE c.id = vis.contact_id;
DROP INDEX contact_shares_staff_idx;
CREATE INDEX contact_shares_staff_idx ON contact_shares (staff_id, sort_name, contact_id);

CREATE FUNCTION contact_shares_take_sort_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.sort_name := coalesce((SELECT c.sort_name FROM contacts c WHERE c.id = NEW.contact_id), '');
    RETURN NEW;
END $$;

CREATE TRIGGER contact_shares_sort_name BEFORE INSERT OR UPDATE OF contact_id ON contact_shares
    FOR EACH ROW EXECUTE FUNCTION contact_shares_take_sort_name();

CREATE FUNCTION contacts_pass_sort_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE contact_shares SET sort_name = NEW.sort_name WHERE contact_id = NEW.id;
    RETURN NULL;
END $$;

-- Fires only when the name key changes: imports and bulk edits of other
-- fields pay nothing.
CREATE TRIGGER contacts_share_sort_name AFTER UPDATE OF first_name, last_name ON contacts
    FOR EACH ROW WHEN (OLD.sort_name IS DISTINCT FROM NEW.sort_name)
    EXECUTE FUNCTION contacts_pass_sort_name();
