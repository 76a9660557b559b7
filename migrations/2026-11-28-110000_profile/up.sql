-- The contact profile: notes, sharing, ownership transfer, and the settings
-- that decide who sees which contacts.

CREATE TABLE notes (
    id BIGSERIAL PRIMARY KEY,
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    author_id BIGINT NOT NULL REFERENCES staff (id),
    body TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    pinned BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    edited_at TIMESTAMPTZ
);

-- Pinned first, then newest first.
CREATE INDEX notes_contact_idx ON notes (contact_id, pinned DESC, created_at DESC, id DESC);

CREATE TABLE contact_shares (
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    shared_by BIGINT REFERENCES staff (id),
    message TEXT NOT NULL DEFAULT '' CHECK (length(message) <= 1000),
    shared_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_id, staff_id)
);

-- "Shared with me", and the visibility predicate's lookup.
CREATE INDEX contact_shares_staff_idx ON contact_shares (staff_id, contact_id);

-- The change log also records notes, shares and ownership transfers.
ALTER TABLE contact_changes DROP CONSTRAINT contact_changes_action_check;
ALTER TABLE contact_changes ADD CONSTRAINT contact_changes_action_check
    CHECK (action IN ('create', 'update', 'delete', 'restore', 'merge',
                      'note', 'note_edit', 'note_delete', 'share', 'unshare', 'transfer'));

-- Filtering the Change Log tab by source and by field stays on the index.
CREATE INDEX contact_changes_contact_source_idx ON contact_changes (contact_id, source, changed_at DESC, id DESC);

-- One row of settings an administrator changes.
CREATE TABLE settings (
    id BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    contact_visibility TEXT NOT NULL DEFAULT 'everyone'
        CHECK (contact_visibility IN ('everyone', 'restricted')),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by BIGINT REFERENCES staff (id)
);
INSERT INTO settings DEFAULT VALUES;
