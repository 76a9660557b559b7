-- CSV imports run as jobs that any app instance can claim; exports are recorded.

CREATE TABLE imports (
    id BIGSERIAL PRIMARY KEY,
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    file_name TEXT NOT NULL,
    -- The uploaded file, converted to UTF-8, under the data directory.
    stored_path TEXT NOT NULL,
    file_size BIGINT NOT NULL,
    -- The header row as uploaded: the error log repeats it.
    header TEXT[] NOT NULL DEFAULT '{}',
    mode TEXT NOT NULL DEFAULT 'create' CHECK (mode IN ('create', 'update')),
    owner_id BIGINT REFERENCES staff (id),
    label_ids BIGINT[] NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'preview'
        CHECK (status IN ('preview', 'queued', 'running', 'done', 'failed', 'cancelled')),
    -- What the preview's full pass found: data rows and rows that will fail,
    -- with the first errors as JSON [[row, "errors"], ...].
    total_rows BIGINT NOT NULL DEFAULT 0,
    preview_failed BIGINT NOT NULL DEFAULT 0,
    preview_errors TEXT NOT NULL DEFAULT '[]',
    rows_read BIGINT NOT NULL DEFAULT 0,
    imported BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    unchanged BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    -- Where the next batch starts: committed with the batch, so a job that is
    -- resumed after a crash neither skips nor repeats a row.
    byte_offset BIGINT NOT NULL DEFAULT 0,
    record_no BIGINT NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    queued_at TIMESTAMPTZ,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    heartbeat_at TIMESTAMPTZ
);

CREATE INDEX imports_created_idx ON imports (created_at DESC, id DESC);
CREATE INDEX imports_pending_idx ON imports (id) WHERE status IN ('queued', 'running');

-- The rows that failed, exactly as uploaded, for the error log download.
CREATE TABLE import_errors (
    import_id BIGINT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    row_no BIGINT NOT NULL,
    errors TEXT NOT NULL,
    fields TEXT[] NOT NULL,
    PRIMARY KEY (import_id, row_no)
);

CREATE TABLE exports (
    id BIGSERIAL PRIMARY KEY,
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    scope TEXT NOT NULL,
    row_count BIGINT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ
);

CREATE INDEX exports_created_idx ON exports (created_at DESC, id DESC);
