-- The end of the settled log, per database.
--
-- Readers of the global log take only events of transactions older than every transaction
-- still running (see 001). Transaction ids are server-wide, so pg_snapshot_xmin alone would
-- let a transaction left open in ANOTHER database of the same server hold this ledger's
-- newer events back. log_horizon() is the oldest transaction of the caller's snapshot that
-- is not known to belong to another database: one still running here, or one that ended
-- after the snapshot was taken (it may have written events the snapshot cannot see). When
-- nothing qualifies, it is the snapshot's xmax: every transaction below it has settled.
--
-- Call it as a scalar subquery, `transaction_id < (SELECT log_horizon())`, so it runs once
-- per statement, in the statement's snapshot (a STABLE SQL function takes no snapshot of
-- its own).
CREATE FUNCTION log_horizon() RETURNS xid8
LANGUAGE sql STABLE AS $$
    SELECT coalesce(min(x), pg_snapshot_xmax(pg_current_snapshot()))
    FROM pg_snapshot_xip(pg_current_snapshot()) AS x
    WHERE NOT EXISTS (
        SELECT 1 FROM pg_stat_get_activity(NULL) AS a
        WHERE a.backend_xid = xid(x)
          AND a.datid IS DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = current_database())
          AND pg_xact_status(x) = 'in progress')
$$;

GRANT EXECUTE ON FUNCTION log_horizon() TO ledger_app;
