-- Waking followers after an append, cheaply.
--
-- A follower (`ledger projections run --follow`) LISTENs on channel ledger_events and
-- connects with application_name = 'ledger follower'. Writers call wake_followers() right
-- after their append commits, in the same round trip (EventStore.append):
--   * with no follower connected to this database it does nothing but a look at
--     pg_stat_activity, and says so (false): a busy writer then skips the call for a second;
--   * with one, it notifies from its own transaction, committed without waiting for the
--     WAL flush (set_config(..., true) lasts until the end of the transaction): NOTIFY holds
--     a lock until its transaction's commit is flushed, and inside the append itself it
--     made concurrent appends queue for one flush each.
-- Followers also poll, so a lost wake-up only delays them.
CREATE FUNCTION wake_followers() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_stat_activity
               WHERE datname = current_database() AND application_name = 'ledger follower') THEN
        PERFORM set_config('synchronous_commit', 'off', true);
        PERFORM pg_notify('ledger_events', '');
        RETURN true;
    END IF;
    RETURN false;
END
$$;

GRANT EXECUTE ON FUNCTION wake_followers() TO ledger_app;
