DROP TABLE bulk_jobs;
