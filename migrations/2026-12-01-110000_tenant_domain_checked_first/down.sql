-- Nothing to restore: the index is the same, only its OID (and so its check order) changed.
SELECT 1;
