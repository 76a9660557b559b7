DROP TABLE ownership_transfers;
