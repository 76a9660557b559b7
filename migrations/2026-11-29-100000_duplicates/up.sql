-- Likely duplicates, found by passes over the contacts (see
-- models/duplicates.rs): one row per pair, with the rules' reasons.
CREATE TABLE duplicate_pairs (
    a BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    b BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    score DOUBLE PRECISION NOT NULL,
    -- In plain words, one per line.
    reasons TEXT NOT NULL,
    -- What the rules looked at in both contacts: a dismissal lasts while it
    -- stays the same.
    fingerprint BIGINT NOT NULL,
    seen_by BIGINT NOT NULL,
    dismissed_at TIMESTAMPTZ,
    dismissed_by BIGINT REFERENCES staff (id) ON DELETE SET NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
);

CREATE INDEX duplicate_pairs_b_idx ON duplicate_pairs (b);

-- The passes: any instance claims the pending one.
CREATE TABLE duplicate_scans (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('full', 'recent')),
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    -- A pass over recent changes looks at contacts updated after this.
    since TIMESTAMPTZ,
    -- When the pass began reading: the next pass starts from here.
    mark TIMESTAMPTZ,
    requested_by BIGINT REFERENCES staff (id) ON DELETE SET NULL,
    contacts_seen BIGINT NOT NULL DEFAULT 0,
    pairs_found BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ
);

-- At most one pass waits or runs at a time, whichever instance queued it.
CREATE UNIQUE INDEX duplicate_scans_one_pending ON duplicate_scans ((true)) WHERE status IN ('queued', 'running');

-- A changed contact's social IDs are looked up among everyone's.
CREATE INDEX contact_socials_handle_idx ON contact_socials (lower(handle));
