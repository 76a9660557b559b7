-- A deactivated member's contacts go to a colleague (or to nobody) in the
-- background, in small batches, so that a hundred thousand of them neither
-- hold a request nor lock the table. The work is "every contact still owned
-- by from_staff": any instance may take a batch (rows are claimed with SKIP
-- LOCKED), and after a crash the rest is simply still there to do.
CREATE TABLE ownership_transfers (
    id BIGSERIAL PRIMARY KEY,
    from_staff BIGINT NOT NULL REFERENCES staff (id),
    to_staff BIGINT REFERENCES staff (id),
    requested_by BIGINT REFERENCES staff (id),
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'done')),
    total BIGINT NOT NULL DEFAULT 0,
    moved BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ
);

CREATE INDEX ownership_transfers_queued_idx ON ownership_transfers (id) WHERE status = 'queued';
