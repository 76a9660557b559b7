-- Merging duplicates, and undoing a merge. A merged record is not deleted:
-- it is marked `merged_into` the kept contact and leaves every list through
-- `deleted_at` (all the list, search and export indexes are partial on it),
-- while the trash shows only records deleted on their own.

-- The journal of a merge: enough to undo it exactly.
CREATE TABLE merges (
    id BIGSERIAL PRIMARY KEY,
    kept_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    merged_ids BIGINT[] NOT NULL,
    staff_id BIGINT REFERENCES staff (id),
    -- JSON: the kept contact's fields before and after, what was added to
    -- it (phones, emails, social IDs, labels, shares, custom values) and
    -- which of its values the merge marked verified.
    journal TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    undone_at TIMESTAMPTZ,
    undone_by BIGINT REFERENCES staff (id)
);

CREATE INDEX merges_kept_idx ON merges (kept_id, id DESC);
CREATE INDEX merges_recent_idx ON merges (created_at DESC, id DESC);

-- The rows that moved from a merged record to the kept one, by table: undo
-- moves exactly these back.
CREATE TABLE merge_moves (
    merge_id BIGINT NOT NULL REFERENCES merges (id) ON DELETE CASCADE,
    source_id BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('notes', 'enquiries', 'engagements', 'page_views', 'web_visitors')),
    ids BIGINT[] NOT NULL DEFAULT '{}',
    keys TEXT[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (merge_id, source_id, kind)
);

-- A change log entry of a merge (or its undo) names the merge.
ALTER TABLE contact_changes ADD COLUMN merge_id BIGINT REFERENCES merges (id) ON DELETE SET NULL;

-- Records merged into a contact, to follow their old links and to take them
-- along when the contact is deleted for good.
CREATE INDEX contacts_merged_into_idx ON contacts (merged_into) WHERE merged_into IS NOT NULL;
-- The trash: records deleted on their own, not merged ones.
DROP INDEX contacts_deleted_idx;
CREATE INDEX contacts_deleted_idx ON contacts (deleted_at) WHERE deleted_at IS NOT NULL AND merged_into IS NULL;

-- The change log records a merge on every record it touched, and its undo.
ALTER TABLE contact_changes DROP CONSTRAINT contact_changes_action_check;
ALTER TABLE contact_changes ADD CONSTRAINT contact_changes_action_check
    CHECK (action IN ('create', 'update', 'delete', 'restore', 'merge', 'merged_into', 'unmerge', 'unmerged',
                      'note', 'note_edit', 'note_delete', 'share', 'unshare', 'transfer'));
