DELETE FROM contact_changes WHERE action IN ('merged_into', 'unmerge', 'unmerged');
ALTER TABLE contact_changes DROP CONSTRAINT contact_changes_action_check;
ALTER TABLE contact_changes ADD CONSTRAINT contact_changes_action_check
    CHECK (action IN ('create', 'update', 'delete', 'restore', 'merge',
                      'note', 'note_edit', 'note_delete', 'share', 'unshare', 'transfer'));
DROP INDEX contacts_deleted_idx;
CREATE INDEX contacts_deleted_idx ON contacts (deleted_at) WHERE deleted_at IS NOT NULL;
DROP INDEX contacts_merged_into_idx;
ALTER TABLE contact_changes DROP COLUMN merge_id;
DROP TABLE merge_moves;
DROP TABLE merges;
