-- Update imports match rows by ContactBook ID, then email, then phone, and a
-- contact is updated by one row of a file at most: which row claimed which
-- contact is kept with the batch that claimed it, so a resumed job still
-- knows.
CREATE TABLE import_matches (
    import_id BIGINT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    contact_id BIGINT NOT NULL,
    row_no BIGINT NOT NULL,
    PRIMARY KEY (import_id, contact_id)
);

-- What the preview's dry run of the matching found, as JSON: rows that will
-- create, update, leave unchanged; the first contacts updated with the
-- fields that change; rows that carry an existing contact's ID.
ALTER TABLE imports ADD COLUMN preview_plan TEXT NOT NULL DEFAULT '{}';
