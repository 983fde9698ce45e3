-- Errors a caller can act on without reading message text (issue #10).
--
-- LE002 (an idempotency key already used for another command) now carries a JSON DETAIL
-- like LE001's: {"key": …, "recorded_command_hash": …, "command_hash": …} — which key, the
-- fingerprint it was first used with and the one given now.
--
-- A version another writer took concurrently used to surface as 23505 on
-- events_stream_version_key, whose stream the application could only slice out of the
-- message's DETAIL text ("Key (stream, version)=(…, …) already exists", translated with
-- lc_messages). Both append paths now insert with ON CONFLICT (stream, version) DO NOTHING —
-- it waits for the other writer exactly as the unique index did, then leaves the event out
-- instead of failing — and raise LE001 with the stream, expected and actual version in JSON.
-- No subtransaction (an EXCEPTION block would cost one per append).
--
-- Both functions start from their latest definitions (append_events: Schema/010,
-- append_staged_events: Schema/009); CREATE OR REPLACE keeps owner and grants but resets
-- their settings, set again below.

-- append_events as in 010, with LE002's DETAIL and taken versions as LE001.
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
                    USING ERRCODE = 'LE002',
                          DETAIL = json_build_object('key', p_idempotency_key,
                                                     'recorded_command_hash', v_seen.command_hash,
                                                     'command_hash', p_command_hash)::text;
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

    -- Only events that pass every check are inserted (see append_refusal); when any is left
    -- out, nothing is kept. An event whose version another writer took meanwhile is left
    -- out too (ON CONFLICT … DO NOTHING waits for that writer, then skips it): a conflict,
    -- raised below as LE001 with its stream in DETAIL, decided again.
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
        ON CONFLICT (stream, version) DO NOTHING
        RETURNING *
    ), keyed AS (
        INSERT INTO idempotency_keys (key, command_hash, positions)
        SELECT p_idempotency_key, p_command_hash, array_agg(i.position ORDER BY i.position)
        FROM inserted i
        -- Not when an event was left out (raised below): no key for a partial append.
        HAVING p_idempotency_key IS NOT NULL AND count(*) = jsonb_array_length(p_events)
    )
    SELECT * FROM inserted i ORDER BY i.position;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count <> jsonb_array_length(p_events) THEN
        -- A version taken by another writer (not by this call: its own events are there too).
        SELECT x.value->>'stream' AS stream, (x.value->>'version')::bigint - 1 AS expected,
               (SELECT max(e.version) FROM events e WHERE e.stream = x.value->>'stream') AS actual
        INTO v_bad
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(value, ord)
        WHERE EXISTS (SELECT 1 FROM events e
                      WHERE e.stream = x.value->>'stream' AND e.version = (x.value->>'version')::bigint
                        AND e.event_id::text IS DISTINCT FROM x.value->>'event_id')
        ORDER BY x.ord
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'stream % is at version %, expected %', v_bad.stream, v_bad.actual, v_bad.expected
                USING ERRCODE = 'LE001',
                      DETAIL = json_build_object('stream', v_bad.stream, 'actual', v_bad.actual,
                                                 'expected', v_bad.expected)::text;
        END IF;
        PERFORM append_refusal(p_events);
    END IF;
END
$$;

-- append_staged_events as in 009, with taken versions as LE001.
CREATE OR REPLACE FUNCTION append_staged_events() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    v_bad record;
    v_count bigint;
    v_inserted bigint;
BEGIN
    PERFORM check_staging_tables();

    WITH staged AS (
        SELECT s.ord, s.stream, s.version, s.hash, s.previous_hash,
               lag(s.version) OVER w AS prior_version, lag(s.hash) OVER w AS prior_hash
        FROM pg_temp.staged_events s
        WINDOW w AS (PARTITION BY s.stream ORDER BY s.ord)
    )
    SELECT s.ord, s.stream, s.version, length(s.hash) AS hash_length, s.prior_version,
           coalesce(s.prior_version, h.version, 0) AS before_version
    INTO v_bad
    FROM staged s
    LEFT JOIN LATERAL (
        SELECT e.version, e.hash FROM events e
        WHERE e.stream = s.stream AND s.prior_version IS NULL
        ORDER BY e.version DESC LIMIT 1
    ) h ON true
    WHERE length(s.hash) <> 32
       OR s.version <> coalesce(s.prior_version, h.version, 0) + 1
       OR s.previous_hash <> coalesce(s.prior_hash, h.hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
    ORDER BY s.ord
    LIMIT 1;
    IF FOUND THEN
        IF v_bad.hash_length <> 32 THEN
            RAISE EXCEPTION 'append refused: staged event % (stream % version %) has a hash of % bytes, not 32',
                v_bad.ord, v_bad.stream, v_bad.version, v_bad.hash_length
                USING ERRCODE = 'LE003';
        ELSIF v_bad.version <> v_bad.before_version + 1 THEN
            IF v_bad.prior_version IS NULL AND v_bad.version BETWEEN 1 AND v_bad.before_version THEN
                RAISE EXCEPTION 'stream % is at version %, expected %', v_bad.stream, v_bad.before_version, v_bad.version - 1
                    USING ERRCODE = 'LE001',
                          DETAIL = json_build_object('stream', v_bad.stream, 'actual', v_bad.before_version,
                                                     'expected', v_bad.version - 1)::text;
            END IF;
            RAISE EXCEPTION 'append refused: staged event has version % of stream %, which is at version %: versions continue the stream without gaps',
                v_bad.version, v_bad.stream, v_bad.before_version
                USING ERRCODE = 'LE003';
        ELSE
            RAISE EXCEPTION 'append refused: staged event (stream % version %) does not link to the hash of the event before it in its stream',
                v_bad.stream, v_bad.version
                USING ERRCODE = 'LE003';
        END IF;
    END IF;

    -- The transaction id only now, after reading the stream heads (see 001).
    PERFORM pg_current_xact_id();

    SELECT count(*) INTO v_count FROM pg_temp.staged_events;

    -- Positions are handed out in staged order, so the n-th smallest position of the batch
    -- is its n-th staged event's, and a command's are those ranked first + 1 … first + count.
    WITH inserted AS (
        INSERT INTO events (stream, version, type, schema_version, payload, metadata,
                            business_date, event_id, hash)
        SELECT s.stream, s.version, s.type, s.schema_version, s.payload, s.metadata,
               s.business_date, s.event_id, s.hash
        FROM pg_temp.staged_events s
        ORDER BY s.ord
        ON CONFLICT (stream, version) DO NOTHING
        RETURNING position
    ), ranked AS (
        SELECT i.position, row_number() OVER (ORDER BY i.position) AS rank FROM inserted i
    ), keyed AS (
        INSERT INTO idempotency_keys (key, command_hash, positions)
        SELECT k.key, k.command_hash, array_agg(r.position ORDER BY r.position)
        FROM pg_temp.staged_keys k
        CROSS JOIN LATERAL generate_series(k.first + 1, k.first + k.count) AS g(rank)
        JOIN ranked r ON r.rank = g.rank
        GROUP BY k.key, k.command_hash
    )
    SELECT count(*) INTO v_inserted FROM inserted;
    IF v_inserted <> v_count THEN
        -- A version another writer took after the checks above (ON CONFLICT waited for it).
        SELECT s.stream, s.version - 1 AS expected,
               (SELECT max(e.version) FROM events e WHERE e.stream = s.stream) AS actual
        INTO v_bad
        FROM pg_temp.staged_events s
        WHERE EXISTS (SELECT 1 FROM events e
                      WHERE e.stream = s.stream AND e.version = s.version AND e.event_id IS DISTINCT FROM s.event_id)
        ORDER BY s.ord
        LIMIT 1;
        RAISE EXCEPTION 'stream % is at version %, expected %', v_bad.stream, v_bad.actual, v_bad.expected
            USING ERRCODE = 'LE001',
                  DETAIL = json_build_object('stream', v_bad.stream, 'actual', v_bad.actual,
                                             'expected', v_bad.expected)::text;
    END IF;

    TRUNCATE pg_temp.staged_events, pg_temp.staged_keys RESTART IDENTITY;
    RETURN v_count;
END
$$;

DO $$
DECLARE
    v_schema text := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE c.oid = 'events'::regclass);
BEGIN
    EXECUTE format('ALTER FUNCTION append_events(jsonb, jsonb, text, text) SET search_path = %I, pg_temp', v_schema);
    EXECUTE format('ALTER FUNCTION append_staged_events() SET search_path = %I, pg_temp', v_schema);
END
$$;
-- As in 009: a batch's sorts in memory, and no JIT.
ALTER FUNCTION append_staged_events() SET work_mem = '64MB';
ALTER FUNCTION append_staged_events() SET jit = off;
