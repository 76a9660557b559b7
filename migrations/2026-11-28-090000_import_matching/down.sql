ALTER TABLE imports DROP COLUMN preview_plan;
DROP TABLE import_matches;
