-- The log's digest stores only the upper part of its Merkle tree (#15: bytes per event).
--
-- 008 stored a row per leaf (log_leaves: index, position, event hash) and a row per
-- complete subtree of every level (log_nodes), about 245 bytes per event on disk with their
-- indexes, and its first computation wrote some two million rows per million events.
-- The lower levels are cheap to recompute: a block of 256 consecutive leaves is one index
-- range of `events` in log order. So from here on:
--
-- * log_blocks: one row per complete block of 256 leaves (block b: leaves 256·b …
--   256·b + 255), naming the block's last event (transaction id, position) — a proof reads
--   the block's event hashes back by that range — and, per leaf, its position and the
--   first 8 bytes of its event hash (`leaves`, 16 bytes a leaf), so that `verify --digest`
--   can still name the first event that differs from what was digested, and where it went.
-- * log_nodes: the hash of every complete aligned subtree of 2^level leaves for level >= 8
--   (level 8: a block's root), as before for those levels.
-- * log_tail: the leaves after the last complete block (fewer than 256), whole (position,
--   event hash), until their block is complete; then they become its log_blocks row.
-- About 17 bytes per event instead of ~245, and a digest still reads ~2·log2(size) stored
-- hashes plus at most 255 tail leaves; a proof also hashes its block's 256 leaves.
--
-- Existing trees are converted, not recomputed: the stored leaves were taken when those
-- events were digested, so a digest issued before this migration is still checked, and
-- its first difference named, against what was digested then, not against the events as
-- they are now. Level-8-and-up nodes are kept as they are; lower levels are dropped.
--
-- The stored tree stays a cache, never evidence: `ledger verify --digest` recomputes the
-- root from the events, and a proof checks its block against the stored block root.

DROP VIEW reporting.log_leaves;
DROP VIEW reporting.log_nodes;
ALTER TABLE log_leaves RENAME TO log_leaves_008;
ALTER TABLE log_nodes RENAME TO log_nodes_008;
ALTER INDEX log_nodes_pkey RENAME TO log_nodes_008_pkey;

CREATE TABLE log_blocks (
    index           bigint PRIMARY KEY CHECK (index >= 0),
    transaction_id  xid8   NOT NULL,
    position        bigint NOT NULL,
    leaves          bytea  NOT NULL CHECK (length(leaves) = 256 * 16)
);
CREATE UNIQUE INDEX log_blocks_log_order ON log_blocks (transaction_id, position);

CREATE TABLE log_nodes (
    level  smallint NOT NULL CHECK (level >= 8),
    index  bigint   NOT NULL CHECK (index >= 0),
    hash   bytea    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, index)
);

CREATE TABLE log_tail (
    index           bigint PRIMARY KEY CHECK (index >= 0),
    transaction_id  xid8   NOT NULL,
    position        bigint NOT NULL UNIQUE,
    hash            bytea  NOT NULL CHECK (length(hash) = 32)
);

COMMENT ON TABLE log_blocks IS 'Complete blocks of 256 leaves of the log''s Merkle tree: the last event of each, and each leaf''s position and hash prefix (Schema/018_log_digest_blocks.sql)';
COMMENT ON TABLE log_nodes IS 'Hashes of the complete aligned subtrees of the log''s Merkle tree from level 8 (a block) up: node (level, index) covers leaves index·2^level … (index+1)·2^level − 1';
COMMENT ON TABLE log_tail IS 'The leaves after the last complete block of the log''s Merkle tree, until their block is complete';

-- The conversion. Leaves 0 … n−1 are numbered without gaps (008).
INSERT INTO log_nodes (level, index, hash)
SELECT level, index, hash FROM log_nodes_008 WHERE level >= 8;

INSERT INTO log_blocks (index, transaction_id, position, leaves)
SELECT b.block, e.transaction_id, b.position, b.leaves
FROM (
    SELECT l.index >> 8 AS block,
           (array_agg(l.position ORDER BY l.index DESC))[1] AS position,
           string_agg(int8send(l.position) || substr(l.hash, 1, 8), ''::bytea ORDER BY l.index) AS leaves
    FROM log_leaves_008 l
    WHERE l.index < ((SELECT count(*) FROM log_leaves_008) >> 8) << 8
    GROUP BY 1
) b JOIN events e ON e.position = b.position;

INSERT INTO log_tail (index, transaction_id, position, hash)
SELECT l.index, e.transaction_id, l.position, l.hash
FROM log_leaves_008 l JOIN events e ON e.position = l.position
WHERE l.index >= ((SELECT count(*) FROM log_leaves_008) >> 8) << 8;

DROP TABLE log_leaves_008;
DROP TABLE log_nodes_008;

-- Like events: nobody changes or removes a complete block or a node. Tail rows are removed
-- by extend_log_digest() alone, when their block is stored.
CREATE TRIGGER log_blocks_immutable BEFORE UPDATE OR DELETE ON log_blocks
    FOR EACH ROW EXECUTE FUNCTION reject_event_change();
CREATE TRIGGER log_blocks_no_truncate BEFORE TRUNCATE ON log_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION reject_event_change();
CREATE TRIGGER log_nodes_immutable BEFORE UPDATE OR DELETE ON log_nodes
    FOR EACH ROW EXECUTE FUNCTION reject_event_change();
CREATE TRIGGER log_nodes_no_truncate BEFORE TRUNCATE ON log_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION reject_event_change();
CREATE TRIGGER log_tail_immutable BEFORE UPDATE ON log_tail
    FOR EACH ROW EXECUTE FUNCTION reject_event_change();

-- RFC 6962 root of one block: `hashes` is its 256 event hashes (32 bytes each) in log
-- order; leaf = SHA-256(0x00 ‖ event hash), node = SHA-256(0x01 ‖ left ‖ right). In place,
-- level by level, in one array.
CREATE FUNCTION log_block_root(hashes bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n int := length(hashes) / 32;
    h bytea[];
BEGIN
    FOR j IN 0 .. n - 1 LOOP
        h[j] := sha256('\x00'::bytea || substr(hashes, j * 32 + 1, 32));
    END LOOP;
    WHILE n > 1 LOOP
        FOR j IN 0 .. n / 2 - 1 LOOP
            h[j] := sha256('\x01'::bytea || h[2 * j] || h[2 * j + 1]);
        END LOOP;
        n := n / 2;
    END LOOP;
    RETURN h[0];
END
$$;
REVOKE EXECUTE ON FUNCTION log_block_root(bytea) FROM PUBLIC;

-- Extends the stored tree with up to p_limit settled events (all when NULL) and returns
-- the number of leaves stored (complete blocks and tail). SECURITY DEFINER so that
-- application logins need no INSERT on the tree: what they store is computed here, from
-- the events (and the tail stored before), never sent by a client. One extender at a time
-- (the lock lets readers through). The events are read once, in one ordered index scan;
-- only the leaves past the last complete block are written one by one.
CREATE OR REPLACE FUNCTION extend_log_digest(p_limit bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET work_mem = '64MB' AS $$
DECLARE
    v_done bigint;
    v_old bigint;
    v_new bigint;
    v_complete bigint;
    v_transaction xid8 := '0';
    v_position bigint := 0;
    v_level int := 8;
    v_horizon xid8;
BEGIN
    LOCK TABLE public.log_blocks IN SHARE ROW EXCLUSIVE MODE;
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
    SELECT coalesce(max(b.index) + 1, 0) * 256 INTO v_done FROM public.log_blocks b;
    SELECT coalesce(max(t.index) + 1, v_done) INTO v_old FROM public.log_tail t;
    IF v_old > v_done THEN
        SELECT t.transaction_id, t.position INTO v_transaction, v_position FROM public.log_tail t WHERE t.index = v_old - 1;
    ELSIF v_done > 0 THEN
        SELECT b.transaction_id, b.position INTO v_transaction, v_position
        FROM public.log_blocks b WHERE b.index = v_done / 256 - 1;
    END IF;

    -- The new leaves after the tail; every block they complete (with the tail's leaves)
    -- becomes a log_blocks row and its level-8 node; the rest joins the tail.
    WITH fresh AS MATERIALIZED (
        SELECT v_old + row_number() OVER (ORDER BY t.transaction_id, t.position) - 1 AS index,
               t.transaction_id, t.position, t.hash
        FROM (
            SELECT e.transaction_id, e.position, e.hash FROM public.events e
            WHERE (e.transaction_id, e.position) > (v_transaction, v_position)
              AND e.transaction_id < v_horizon
            ORDER BY e.transaction_id, e.position
            LIMIT p_limit
        ) t
    ), total AS MATERIALIZED (
        SELECT coalesce(max(f.index) + 1, v_old) AS size FROM fresh f
    ), leaves AS (
        SELECT t.index, t.transaction_id, t.position, t.hash FROM public.log_tail t
        UNION ALL
        SELECT f.index, f.transaction_id, f.position, f.hash FROM fresh f
    ), blocks AS MATERIALIZED (
        SELECT l.index >> 8 AS block,
               string_agg(l.hash, ''::bytea ORDER BY l.index) AS hashes,
               string_agg(int8send(l.position) || substr(l.hash, 1, 8), ''::bytea ORDER BY l.index) AS leaves,
               (array_agg(l.transaction_id ORDER BY l.index DESC))[1] AS transaction_id,
               (array_agg(l.position ORDER BY l.index DESC))[1] AS position
        FROM leaves l
        WHERE l.index < ((SELECT size FROM total) >> 8) << 8
        GROUP BY 1
    ), stored_blocks AS (
        INSERT INTO public.log_blocks (index, transaction_id, position, leaves)
        SELECT b.block, b.transaction_id, b.position, b.leaves FROM blocks b
    ), stored_nodes AS (
        INSERT INTO public.log_nodes (level, index, hash)
        SELECT 8, b.block, public.log_block_root(b.hashes) FROM blocks b
    ), compacted AS (
        DELETE FROM public.log_tail t WHERE t.index < ((SELECT size FROM total) >> 8) << 8
    ), tail AS (
        INSERT INTO public.log_tail (index, transaction_id, position, hash)
        SELECT f.index, f.transaction_id, f.position, f.hash FROM fresh f
        WHERE f.index >= ((SELECT size FROM total) >> 8) << 8
    )
    SELECT t.size, (t.size >> 8) << 8 INTO v_new, v_complete FROM total t;

    -- Each level above 8 from pairs of the one below: only the subtrees completed by the new
    -- blocks, (done >> level) … (complete >> level) − 1. Pairs as one ordered index scan.
    IF v_complete > v_done THEN
        WHILE (v_complete >> (v_level + 1)) > 0 LOOP
            v_level := v_level + 1;
            INSERT INTO public.log_nodes (level, index, hash)
            SELECT v_level, t.index / 2, sha256('\x01'::bytea || t.hash || t.next)
            FROM (
                SELECT n.index, n.hash, lead(n.hash) OVER (ORDER BY n.index) AS next
                FROM public.log_nodes n
                WHERE n.level = v_level - 1
                  AND n.index >= (v_done >> v_level) * 2 AND n.index < (v_complete >> v_level) * 2
            ) t
            WHERE t.index % 2 = 0;
        END LOOP;
    END IF;
    RETURN v_new;
END
$$;

REVOKE EXECUTE ON FUNCTION extend_log_digest(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION extend_log_digest(bigint) TO ledger_app;
REVOKE ALL ON log_blocks, log_nodes, log_tail FROM PUBLIC;
GRANT SELECT ON log_blocks, log_nodes, log_tail TO ledger_app;

-- What `ledger digest`, `prove` and `verify --digest` read, for every login that may read
-- reports (ledger_reporting, and on a hot standby).
CREATE VIEW reporting.log_blocks AS
SELECT index, transaction_id, position, leaves FROM public.log_blocks;

CREATE VIEW reporting.log_nodes AS
SELECT level, index, hash FROM public.log_nodes;

CREATE VIEW reporting.log_tail AS
SELECT index, transaction_id, position, hash FROM public.log_tail;

COMMENT ON VIEW reporting.log_blocks IS 'The log''s Merkle tree in blocks of 256 leaves: each block''s last event, and each leaf''s position and hash prefix';
COMMENT ON VIEW reporting.log_nodes IS 'The log''s Merkle tree from level 8 up: hash of the complete subtree (level, index)';
COMMENT ON VIEW reporting.log_tail IS 'The log''s Merkle tree leaves after the last complete block: event hashes in log order, numbered from 0';
COMMENT ON COLUMN reporting.log_blocks.index IS 'Block number, from 0: it holds leaves index * 256 up to index * 256 + 255';
COMMENT ON COLUMN reporting.log_blocks.transaction_id IS 'Transaction id of the block''s last event (the log order is transaction id, then position)';
COMMENT ON COLUMN reporting.log_blocks.position IS 'Position of the block''s last event';
COMMENT ON COLUMN reporting.log_blocks.leaves IS 'Per leaf, in order, 16 bytes: the event''s position (8 bytes, big-endian), then the first 8 bytes of its stored hash';
COMMENT ON COLUMN reporting.log_nodes.level IS 'Height of the subtree: 8 for a block of 256 leaves, and up';
COMMENT ON COLUMN reporting.log_nodes.index IS 'Which subtree of its level: it covers leaves index * 2^level up to (index + 1) * 2^level - 1';
COMMENT ON COLUMN reporting.log_nodes.hash IS 'RFC 6962 hash of the complete subtree';
COMMENT ON COLUMN reporting.log_tail.index IS 'Leaf number, from 0, in log order';
COMMENT ON COLUMN reporting.log_tail.transaction_id IS 'Transaction id of the event the leaf is';
COMMENT ON COLUMN reporting.log_tail.position IS 'Position of the event the leaf is';
COMMENT ON COLUMN reporting.log_tail.hash IS 'The event''s stored hash; its leaf hash is SHA-256(0x00 || hash)';

GRANT SELECT ON reporting.log_blocks, reporting.log_nodes, reporting.log_tail TO ledger_reporting, ledger_app;
