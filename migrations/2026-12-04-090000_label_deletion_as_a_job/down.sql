ALTER TABLE bulk_jobs DROP COLUMN then_delete_label;
