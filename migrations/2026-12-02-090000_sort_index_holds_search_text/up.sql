-- A search for common words walks the name index and checks each entry's
-- text until a page is full (see `search_plan`). With the text in the index
-- that walk reads the index alone instead of fetching every row it passes
-- (about a thousand for 'son'): 0.86 ms -> 0.63 ms for the page, and the
-- walk itself 1.1 ms -> 0.2 ms, at a million contacts.
CREATE INDEX contacts_sort_name_text_idx ON contacts (sort_name, id) INCLUDE (search_text)
    WHERE deleted_at IS NULL;
DROP INDEX contacts_sort_name_idx;
ALTER INDEX contacts_sort_name_text_idx RENAME TO contacts_sort_name_idx;
