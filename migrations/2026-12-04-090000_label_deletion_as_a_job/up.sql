-- Deleting a label takes it off every contact that carries it, and each of
-- those rows holds a copy of its labels (label_ids): for a label on 250,000
-- contacts that is 250,000 rewritten rows, 36 s in one statement, far past
-- a request's time limit. Such a deletion runs as a bulk job that removes
-- the label batch by batch and deletes the label itself when it is done.
ALTER TABLE bulk_jobs ADD COLUMN then_delete_label BOOLEAN NOT NULL DEFAULT false;
