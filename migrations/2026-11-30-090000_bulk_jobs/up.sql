-- "All N that match" bulk edits, moves to the trash and restores run as jobs:
-- any instance claims one as it claims an import, and each batch commits
-- together with the job's new position, so a resumed job neither skips nor
-- repeats a contact (nor writes a change-log row twice).
CREATE TABLE bulk_jobs (
    id BIGSERIAL PRIMARY KEY,
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    action TEXT NOT NULL
        CHECK (action IN ('type', 'level', 'owner', 'add_label', 'remove_label', 'delete', 'restore')),
    -- The value set: a type or level word, or a staff or label id.
    value TEXT NOT NULL DEFAULT '',
    -- What was asked, in words, as it read when it was asked (a label may be
    -- renamed later).
    what TEXT NOT NULL,
    -- The list view (its query string) whose contacts the job walks, and
    -- whether that view is the trash.
    view_query TEXT NOT NULL DEFAULT '',
    trash BOOLEAN NOT NULL DEFAULT false,
    status TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    -- Counted when the job starts; contacts walked so far, and changed.
    total BIGINT,
    walked BIGINT NOT NULL DEFAULT 0,
    changed BIGINT NOT NULL DEFAULT 0,
    -- The view is walked in id order: the last id of the last committed batch.
    after_id BIGINT NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    stopped_by BIGINT REFERENCES staff (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    heartbeat_at TIMESTAMPTZ
);

CREATE INDEX bulk_jobs_waiting ON bulk_jobs (id) WHERE status IN ('queued', 'running');
CREATE INDEX bulk_jobs_newest ON bulk_jobs (created_at DESC);
