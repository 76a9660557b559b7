ALTER TABLE enquiries DROP COLUMN visitor_id;
DROP TABLE page_views;
DROP TABLE web_visitors;
DROP TABLE web_origins;
