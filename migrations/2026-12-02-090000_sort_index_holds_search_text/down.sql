CREATE INDEX contacts_sort_name_plain_idx ON contacts (sort_name, id) WHERE deleted_at IS NULL;
DROP INDEX contacts_sort_name_idx;
ALTER INDEX contacts_sort_name_plain_idx RENAME TO contacts_sort_name_idx;
