ALTER TABLE settings DROP COLUMN missed_after_minutes;
DROP TABLE support_submissions;
DROP TABLE enquiry_events;
DROP TABLE enquiry_messages;
DROP TABLE enquiries;
