DROP TABLE settings;
DROP INDEX contact_changes_contact_source_idx;
DELETE FROM contact_changes
    WHERE action IN ('note', 'note_edit', 'note_delete', 'share', 'unshare', 'transfer');
ALTER TABLE contact_changes DROP CONSTRAINT contact_changes_action_check;
ALTER TABLE contact_changes ADD CONSTRAINT contact_changes_action_check
    CHECK (action IN ('create', 'update', 'delete', 'restore', 'merge'));
DROP TABLE contact_shares;
DROP TABLE notes;
