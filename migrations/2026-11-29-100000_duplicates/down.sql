DROP INDEX contact_socials_handle_idx; DROP TABLE duplicate_scans; DROP TABLE duplicate_pairs;
