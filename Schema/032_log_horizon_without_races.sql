-- The end of the settled log, without the race of 004.
--
-- 004's log_horizon() counted every transaction of the statement's snapshot that it could
-- not place in another database as possibly ours. A transaction of another database that
-- ended between the snapshot and the look at pg_stat_activity was no longer listed there,
-- so it held this ledger's newer events back for that statement: a reader saw a shorter
-- log than had committed, and `projections run` could stop before it had caught up. The
-- cluster's other databases commit all the time, so this happened, rarely, under load.
-- So did an autovacuum worker's ANALYZE in this database, which takes a transaction id (for
-- the statistics it stores) and was counted as a possible writer of events.
--
-- A transaction of the snapshot that has ended since can be placed exactly: its events, if
-- it wrote any here, are visible to a newer snapshot. So log_horizon_of() looks, with a
-- snapshot of its own (a VOLATILE function takes one per statement), and passes over an
-- ended transaction that wrote no event here. One that did write events holds the horizon,
-- as before: the caller's snapshot cannot see them, and passing them would skip them for
-- good. A prepared transaction (two-phase commit) has no session in pg_stat_activity; one
-- prepared in another database is placed by pg_prepared_xacts, so it no longer stalls
-- this log for as long as it stays prepared.
--
-- The snapshot is an argument so that log_horizon() can pass the caller's statement
-- snapshot (a STABLE SQL function runs in it), and so that a test can hand it a snapshot
-- taken earlier and prove each case without timing luck.
CREATE FUNCTION log_horizon_of(snapshot pg_snapshot) RETURNS xid8
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    x xid8;
BEGIN
    FOR x IN
        SELECT t FROM pg_snapshot_xip(snapshot) AS t
        WHERE NOT EXISTS (
                -- A session's database never changes: listed elsewhere means not ours. An
                -- autovacuum worker never writes an event (its ANALYZE takes a transaction id
                -- for the statistics it stores); its type is shown to a superuser owner or a
                -- member of pg_read_all_stats, and otherwise it holds the log as before.
                SELECT 1 FROM pg_stat_get_activity(NULL) AS a
                WHERE a.backend_xid = xid(t)
                  AND (a.datid IS DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = current_database())
                       OR a.backend_type = 'autovacuum worker'))
          AND NOT EXISTS (
                SELECT 1 FROM pg_prepared_xacts AS p
                WHERE p.transaction = xid(t) AND p.database <> current_database())
        ORDER BY t
    LOOP
        -- This statement's snapshot is newer than the caller's: if x is settled in it and
        -- left no event here, nothing of x can be missed. (A transaction whose commit is
        -- recorded but not yet visible to new snapshots is not settled here: it holds.)
        IF pg_visible_in_snapshot(x, pg_current_snapshot())
           AND NOT EXISTS (SELECT 1 FROM public.events AS e WHERE e.transaction_id = x) THEN
            CONTINUE;
        END IF;
        RETURN x;
    END LOOP;
    RETURN pg_snapshot_xmax(snapshot);
END
$$;

-- The same contract as 004: the oldest transaction of the caller's statement snapshot
-- whose events a reader could still miss, else the snapshot's xmax. Call it as a scalar
-- subquery, `transaction_id < (SELECT log_horizon())`, so it runs once per statement.
CREATE OR REPLACE FUNCTION log_horizon() RETURNS xid8
LANGUAGE sql STABLE AS $$
    SELECT public.log_horizon_of(pg_current_snapshot())
$$;

-- log_horizon() was executable by PUBLIC because it read nothing of the ledger's (011).
-- log_horizon_of() looks at the events table with its owner's rights (whether a given
-- transaction wrote any event), so both are for the ledger's roles only now.
REVOKE EXECUTE ON FUNCTION log_horizon_of(pg_snapshot), log_horizon() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION log_horizon_of(pg_snapshot), log_horizon() TO ledger_app, ledger_reporting;
