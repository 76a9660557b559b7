DROP TRIGGER contacts_pass_to_shares ON contacts;
DROP FUNCTION contacts_pass_to_shares();
CREATE FUNCTION contacts_pass_sort_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE contact_shares SET sort_name = NEW.sort_name WHERE contact_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER contacts_share_sort_name AFTER UPDATE OF first_name, last_name ON contacts
    FOR EACH ROW WHEN (OLD.sort_name IS DISTINCT FROM NEW.sort_name)
    EXECUTE FUNCTION contacts_pass_sort_name();

DROP TRIGGER contact_shares_take_contact ON contact_shares;
DROP FUNCTION contact_shares_take_contact();
CREATE FUNCTION contact_shares_take_sort_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.sort_name := coalesce((SELECT c.sort_name FROM contacts c WHERE c.id = NEW.contact_id), '');
    RETURN NEW;
END $$;
CREATE TRIGGER contact_shares_sort_name BEFORE INSERT OR UPDATE OF contact_id ON contact_shares
    FOR EACH ROW EXECUTE FUNCTION contact_shares_take_sort_name();

DROP INDEX contact_shares_search_idx;
ALTER TABLE contact_shares DROP COLUMN search_text;
DROP INDEX contacts_search_trgm_idx;
CREATE INDEX contacts_search_trgm_idx ON contacts USING gin (search_text gin_trgm_ops) WHERE deleted_at IS NULL;
