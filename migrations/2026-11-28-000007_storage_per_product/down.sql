DROP TABLE storage_reports;
