-- The log's digest: a Merkle tree (RFC 6962) over the event hashes in log order.
--
-- Leaves are the events' hashes in the order readers take the log: (transaction_id,
-- position), settled transactions only (Schema/004_log_horizon.sql). That prefix never
-- changes once settled, so the tree is extended, never rebuilt: `log_leaves` numbers the
-- events 0, 1, 2, … in log order, and `log_nodes` keeps the hash of every complete aligned
-- subtree of 2^level leaves (level >= 1; a leaf's own hash is SHA-256(0x00 || hash)). A
-- digest or a proof then reads about 2·log2(size) stored hashes instead of the whole log.
--
-- The stored tree is a cache, never evidence: `ledger verify --digest` recomputes the root
-- from the events. Readers that may not write (a ledger_reporting login, a hot standby)
-- combine what is stored with the rest of the log, hashed in memory.

CREATE TABLE log_leaves (
    index     bigint PRIMARY KEY CHECK (index >= 0),
    position  bigint NOT NULL UNIQUE,
    hash      bytea  NOT NULL CHECK (length(hash) = 32)
);

CREATE TABLE log_nodes (
    level  smallint NOT NULL CHECK (level >= 1),
    index  bigint   NOT NULL CHECK (index >= 0),
    hash   bytea    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, index)
);

COMMENT ON TABLE log_leaves IS 'The event hashes in log order, numbered from 0: the leaves of the log''s Merkle tree (Schema/008_log_digest.sql)';
COMMENT ON TABLE log_nodes IS 'Hashes of the complete aligned subtrees of the log''s Merkle tree: node (level, index) covers leaves index·2^level … (index+1)·2^level − 1';

-- Like events: nobody changes or removes what was stored.
CREATE TRIGGER log_leaves_immutable BEFORE UPDATE OR DELETE ON log_leaves
    FOR EACH ROW EXECUTE FUNCTION reject_event_change();
CREATE TRIGGER log_leaves_no_truncate BEFORE TRUNCATE ON log_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION reject_event_change();
CREATE TRIGGER log_nodes_immutable BEFORE UPDATE OR DELETE ON log_nodes
    FOR EACH ROW EXECUTE FUNCTION reject_event_change();
CREATE TRIGGER log_nodes_no_truncate BEFORE TRUNCATE ON log_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION reject_event_change();

-- Extends the stored tree with up to p_limit settled events (all when NULL) and returns
-- the number of leaves stored. SECURITY DEFINER so that application logins need no INSERT
-- on the tree: what they store is computed here, from the events, never sent by a client.
-- One extender at a time (the lock lets readers through); set-based, level by level, so a
-- first run over a million events takes seconds, and a later one only the new events.
CREATE FUNCTION extend_log_digest(p_limit bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_old bigint;
    v_new bigint;
    v_transaction xid8 := '0';
    v_position bigint := 0;
    v_level int := 1;
    v_horizon xid8;
BEGIN
    LOCK TABLE public.log_leaves IN SHARE ROW EXCLUSIVE MODE;
    -- The horizon once, from a snapshot that holds back no committed event because of a
    -- transaction that has in fact ended: one of another database ending just then lowers
    -- log_horizon() for a moment (Schema/004_log_horizon.sql). Under READ COMMITTED each
    -- statement here takes a new snapshot, so look again (up to 0.2 s). A transaction still
    -- running here holds the log back for real: then, as inside an older snapshot, go on.
    FOR i IN 1..20 LOOP
        v_horizon := public.log_horizon();
        EXIT WHEN current_setting('transaction_isolation') <> 'read committed';
        -- The last event through the index: PostgreSQL keeps no statistics for xid8 and
        -- would scan the whole table for a range condition on it.
        EXIT WHEN coalesce((SELECT e.transaction_id FROM public.events e
                            ORDER BY e.transaction_id DESC, e.position DESC LIMIT 1) < v_horizon, true);
        EXIT WHEN pg_xact_status(v_horizon) = 'in progress';
        PERFORM pg_sleep(0.01);
    END LOOP;
    SELECT coalesce(max(index) + 1, 0) INTO v_old FROM public.log_leaves;
    IF v_old > 0 THEN
        SELECT e.transaction_id, e.position INTO v_transaction, v_position
        FROM public.log_leaves l JOIN public.events e ON e.position = l.position
        WHERE l.index = v_old - 1;
    END IF;

    INSERT INTO public.log_leaves (index, position, hash)
    SELECT v_old + row_number() OVER (ORDER BY t.transaction_id, t.position) - 1, t.position, t.hash
    FROM (
        SELECT e.transaction_id, e.position, e.hash FROM public.events e
        WHERE (e.transaction_id, e.position) > (v_transaction, v_position)
          AND e.transaction_id < v_horizon
        ORDER BY e.transaction_id, e.position
        LIMIT p_limit
    ) t;
    GET DIAGNOSTICS v_new = ROW_COUNT;
    v_new := v_old + v_new;
    IF v_new = v_old THEN
        RETURN v_new;
    END IF;

    -- Level 1 from pairs of leaves, then each level from pairs of the one below: only the
    -- subtrees completed by the new leaves, (old >> level) … (new >> level) − 1.
    -- Pairs as one ordered index scan (lead), not a sort per pair.
    INSERT INTO public.log_nodes (level, index, hash)
    SELECT 1, t.index / 2, sha256('\x01'::bytea || sha256('\x00'::bytea || t.hash) || sha256('\x00'::bytea || t.next))
    FROM (
        SELECT l.index, l.hash, lead(l.hash) OVER (ORDER BY l.index) AS next
        FROM public.log_leaves l
        WHERE l.index >= (v_old >> 1) * 2 AND l.index < (v_new >> 1) * 2
    ) t
    WHERE t.index % 2 = 0;

    WHILE (v_new >> (v_level + 1)) > 0 LOOP
        v_level := v_level + 1;
        INSERT INTO public.log_nodes (level, index, hash)
        SELECT v_level, t.index / 2, sha256('\x01'::bytea || t.hash || t.next)
        FROM (
            SELECT n.index, n.hash, lead(n.hash) OVER (ORDER BY n.index) AS next
            FROM public.log_nodes n
            WHERE n.level = v_level - 1
              AND n.index >= (v_old >> v_level) * 2 AND n.index < (v_new >> v_level) * 2
        ) t
        WHERE t.index % 2 = 0;
    END LOOP;
    RETURN v_new;
END
$$;

REVOKE EXECUTE ON FUNCTION extend_log_digest(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION extend_log_digest(bigint) TO ledger_app;
REVOKE ALL ON log_leaves, log_nodes FROM PUBLIC;
GRANT SELECT ON log_leaves, log_nodes TO ledger_app;

-- What `ledger digest`, `prove` and `verify` read, for every login that may read reports
-- (ledger_reporting, and on a hot standby): the stored tree, and the log itself with
-- everything its hashes cover plus where each event stands in log order. Plain views, so
-- PostgreSQL reads the tables' indexes through them.
CREATE VIEW reporting.log_leaves AS
SELECT index, position, hash FROM public.log_leaves;

CREATE VIEW reporting.log_nodes AS
SELECT level, index, hash FROM public.log_nodes;

CREATE VIEW reporting.event_log AS
SELECT position, transaction_id, stream, version, type, schema_version, payload, metadata,
       business_date, recorded_at, event_id, hash
FROM public.events;

COMMENT ON VIEW reporting.log_leaves IS 'The log''s Merkle tree leaves: event hashes in log order, numbered from 0';
COMMENT ON VIEW reporting.log_nodes IS 'The log''s Merkle tree: hash of the complete subtree (level, index)';
COMMENT ON VIEW reporting.event_log IS 'Every event with its hash and transaction id: read in (transaction_id, position) order below log_horizon() for the log order';

GRANT SELECT ON reporting.log_leaves, reporting.log_nodes, reporting.event_log TO ledger_reporting, ledger_app;
-- Readers of the log order take only settled transactions (Schema/004_log_horizon.sql).
GRANT EXECUTE ON FUNCTION log_horizon() TO ledger_reporting;
