-- Corrections and periods (ledger reverse, ledger period close|reopen).
--
-- Reversals. An `entry.reversed` event names the event it reverses by position in its
-- payload (`reverses`). Every fold leaves out the reversed events (the events as of a
-- date, known at an instant, or up to a checkpoint, without those a reversal passing the
-- same conditions names): this partial index answers "is position P reversed?".
CREATE INDEX events_reversals ON events (((payload->>'reverses')::bigint))
    WHERE type = 'entry.reversed';

-- Order dispatches by SKU: folding one supply row again after a reversal reads its
-- stream and the dispatches of its SKU on order streams.
CREATE INDEX events_dispatches_by_sku ON events ((payload->>'sku'))
    WHERE type = 'order.shipment_dispatched';

-- Period lock. Every write command reads stream `periods` and expects its version, so a
-- writer decided before a close conflicts with it and decides again (and is refused).
-- The version check alone leaves a window: a writer could check `periods` just before a
-- close commits and commit just after it. So the check waits for a lock: an append that
-- expects `periods` without writing to it takes period_lock in ROW SHARE mode before
-- checking versions; an append to `periods` (a close, a reopen) takes it EXCLUSIVE. A close
-- therefore waits for every writer already past the check to commit, and writers arriving
-- meanwhile check after the close has committed (each statement of a plpgsql function
-- takes a new snapshot in READ COMMITTED) and conflict. Writers never wait for each other:
-- ROW SHARE locks do not conflict, and PostgreSQL takes them on its fast path, in memory.
-- The table holds nothing; only the ledger's functions (its owner's rights) can lock it,
-- so no login can hold the writers back with a lock of its own.
CREATE TABLE period_lock ();
COMMENT ON TABLE period_lock IS 'Locked by append_events: ROW SHARE by writers, EXCLUSIVE by period closes (Schema/010)';
REVOKE ALL ON period_lock FROM PUBLIC;

-- An import batch (Schema/009) expects `periods` the same way: first thing in its
-- transaction, the lock, then the version it was decided against (LE001 otherwise).
CREATE FUNCTION expect_periods_version(p_version bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    v_actual bigint;
BEGIN
    LOCK TABLE period_lock IN ROW SHARE MODE;
    SELECT coalesce(max(version), 0) INTO v_actual FROM events WHERE stream = 'periods';
    IF v_actual <> p_version THEN
        RAISE EXCEPTION 'stream periods is at version %, expected %', v_actual, p_version
            USING ERRCODE = 'LE001',
                  DETAIL = json_build_object('stream', 'periods', 'actual', v_actual, 'expected', p_version)::text;
    END IF;
END
$$;

-- append_events as in 009, with the period lock.
CREATE OR REPLACE FUNCTION append_events(
    p_expectations jsonb, p_events jsonb, p_idempotency_key text, p_command_hash text
) RETURNS SETOF events
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    v_seen idempotency_keys%ROWTYPE;
    v_bad record;
    v_count bigint;
BEGIN
    IF p_idempotency_key IS NOT NULL THEN
        SELECT * INTO v_seen FROM idempotency_keys WHERE key = p_idempotency_key;
        IF FOUND THEN
            IF v_seen.command_hash IS DISTINCT FROM p_command_hash THEN
                RAISE EXCEPTION 'idempotency key % was already used for a different command', p_idempotency_key
                    USING ERRCODE = 'LE002';
            END IF;
            RETURN QUERY SELECT * FROM events WHERE position = ANY (v_seen.positions) ORDER BY position;
            RETURN;
        END IF;
    END IF;

    IF jsonb_typeof(p_events) IS DISTINCT FROM 'array' OR jsonb_array_length(p_events) = 0 THEN
        RAISE EXCEPTION 'append refused: no events to append' USING ERRCODE = 'LE003';
    END IF;

    -- The period lock (above): a close or reopen waits for every writer past this point;
    -- a writer that expects `periods` waits for a close in progress.
    IF p_events @> '[{"stream": "periods"}]' THEN
        LOCK TABLE period_lock IN EXCLUSIVE MODE;
    ELSIF p_expectations @> '[{"stream": "periods"}]' THEN
        LOCK TABLE period_lock IN ROW SHARE MODE;
    END IF;

    SELECT x.stream, x.version AS expected, coalesce(h.version, 0) AS actual INTO v_bad
    FROM jsonb_to_recordset(p_expectations) AS x(stream text, version bigint)
    LEFT JOIN LATERAL (
        SELECT e.version FROM events e WHERE e.stream = x.stream ORDER BY e.version DESC LIMIT 1
    ) h ON true
    WHERE coalesce(h.version, 0) <> x.version
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'stream % is at version %, expected %', v_bad.stream, v_bad.actual, v_bad.expected
            USING ERRCODE = 'LE001',
                  DETAIL = json_build_object('stream', v_bad.stream, 'actual', v_bad.actual,
                                             'expected', v_bad.expected)::text;
    END IF;

    -- The transaction id only now, after reading the stream heads (see 001).
    PERFORM pg_current_xact_id();

    -- Only events that pass every check are inserted (see append_refusal below); when any
    -- is left out, nothing is kept. An event the stream already has fails on the unique
    -- (stream, version) key: a conflict, decided again.
    RETURN QUERY
    WITH sent AS (
        SELECT e.ord, e.value, e.value->>'stream' AS stream, (e.value->>'version')::bigint AS version,
               e.value->>'hash' AS hash, e.value->>'previous_hash' AS previous_hash
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, ord)
    ), inserted AS (
        INSERT INTO events (stream, version, type, schema_version, payload, metadata,
                            business_date, event_id, hash)
        SELECT s.stream, s.version, s.value->>'type', (s.value->>'schema_version')::integer,
               s.value->'payload', s.value->'metadata', (s.value->>'business_date')::date,
               (s.value->>'event_id')::uuid, decode(s.hash, 'hex')
        FROM sent s
        WHERE s.value - '{stream,version,type,schema_version,payload,metadata,business_date,event_id,hash,previous_hash}'::text[] = '{}'::jsonb
          AND s.hash ~ '^[0-9a-f]{64}$'
          AND s.previous_hash = CASE WHEN s.version = 1 THEN repeat('0', 64) ELSE coalesce(
                  (SELECT b.hash FROM sent b WHERE b.stream = s.stream AND b.version = s.version - 1 AND b.ord < s.ord),
                  (SELECT encode(p.hash, 'hex') FROM events p WHERE p.stream = s.stream AND p.version = s.version - 1))
              END
        ORDER BY s.ord
        RETURNING *
    ), keyed AS (
        INSERT INTO idempotency_keys (key, command_hash, positions)
        SELECT p_idempotency_key, p_command_hash, array_agg(i.position ORDER BY i.position)
        FROM inserted i
        HAVING p_idempotency_key IS NOT NULL
    )
    SELECT * FROM inserted i ORDER BY i.position;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count <> jsonb_array_length(p_events) THEN
        PERFORM append_refusal(p_events);
    END IF;
END
$$;

-- CREATE OR REPLACE resets a function's settings: the fixed search_path again (as in 009).
DO $$
DECLARE
    v_schema text := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE c.oid = 'events'::regclass);
BEGIN
    EXECUTE format('ALTER FUNCTION append_events(jsonb, jsonb, text, text) SET search_path = %I, pg_temp', v_schema);
    EXECUTE format('ALTER FUNCTION expect_periods_version(bigint) SET search_path = %I, pg_temp', v_schema);
END
$$;

REVOKE EXECUTE ON FUNCTION expect_periods_version(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION expect_periods_version(bigint) TO ledger_app;
