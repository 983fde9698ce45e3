-- Appends on a short path (issue #15): append_events does, for the calls a command makes,
-- only what those calls need, and hands every other call to 016's function, kept whole.
--
-- Counted with callgrind in a single-user backend (one supply.received event, expecting its
-- stream and `periods`, each call its own transaction, harness subtracted), 016's function
-- cost ~700k instructions a call against ~160k for a plain INSERT of the same row. Taking its
-- parts out one at a time: the two head probes ~106k, the check loop ~82k, the key's INSERT
-- ~55k, the up-front key look-up ~52k, the period lock ~24k; and PL/pgSQL builds each simple
-- expression afresh in every transaction (~2-4k each, ~40 of them in 016's path).
--
-- The short path, for a call whose events do not touch `periods`, whose expectations name
-- every stream it appends to, and whose events all check out:
--   * the period lock (ROW SHARE when `periods` is expected), then each expected head with
--     one index probe, as 016 — every head is read before anything assigns the transaction
--     id (see 001);
--   * each event checked as 016 checks it (only the fields a writer may set, a hash of 64
--     lower-case hex digits, the previous hash of its stream's head), in one condition;
--   * the events' positions drawn from the identity's own sequence, so that the key's row
--     can go in FIRST, with ON CONFLICT (key) DO NOTHING: a key already recorded is found by
--     that insert instead of by a look-up on every call (and a concurrent first use of the
--     same key is waited for, then replayed, rather than failing on the unique key);
--   * then each event, with ON CONFLICT (stream, version) DO NOTHING as 016 (a version taken
--     meanwhile by another writer is LE001 with 016's diagnosis).
-- Anything else — no events, a head other than expected, an event that fails a check, a
-- stream appended without an expectation, a period close, a key already recorded — goes to
-- append_events_in_full, which is 016's function unchanged: it looks the key up first and
-- replays or refuses exactly as before, so every refusal keeps its code, message and DETAIL.
-- Nothing was written before it is called (at most the period lock was taken, in the mode
-- it takes too, and sequence values drawn: positions already had gaps, from refusals and
-- rollbacks).
--
-- Signature, owner and grants of append_events are 014's (CREATE OR REPLACE keeps owner and
-- grants; it resets the search_path, set again below). append_events_in_full is not for
-- logins: only append_events (its owner's) calls it.

-- 016's append_events as it was (every check, the up-front key look-up, 014's statement and
-- diagnosis for a refusal), for every call the short path below does not take.
CREATE FUNCTION append_events_in_full(
    p_expectations jsonb, p_events jsonb, p_idempotency_key text, p_command_hash text
) RETURNS SETOF events
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    v_seen record;
    v_bad record;
    v_row events%ROWTYPE;
    -- The heads read (and the events sent), by stream: version and hash in hex. An event
    -- links to the entry of its stream, which it then replaces.
    v_streams text[] := '{}';
    v_versions bigint[] := '{}';
    v_hashes text[] := '{}';
    v_count integer;
    v_at integer;
    v_stream text;
    v_version bigint;
    v_hash text;
    v_before text;
    v_event jsonb;
    v_positions bigint[] := '{}';
    v_refused boolean := false;
    v_done bigint;
BEGIN
    IF p_idempotency_key IS NOT NULL THEN
        SELECT k.command_hash, k.positions INTO v_seen FROM idempotency_keys k WHERE k.key = p_idempotency_key;
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
    v_count := jsonb_array_length(p_events);

    -- The period lock (010): a close or reopen waits for every writer past this point;
    -- a writer that expects `periods` waits for a close in progress.
    IF p_events @> '[{"stream": "periods"}]' THEN
        LOCK TABLE period_lock IN EXCLUSIVE MODE;
    ELSIF p_expectations @> '[{"stream": "periods"}]' THEN
        LOCK TABLE period_lock IN ROW SHARE MODE;
    END IF;

    -- Each expected stream's head (as 014: the first mismatch, in the order given, is LE001).
    FOR i IN 0 .. coalesce(jsonb_array_length(p_expectations), 0) - 1 LOOP
        v_stream := p_expectations->i->>'stream';
        v_version := (p_expectations->i->>'version')::bigint;
        SELECT e.version, encode(e.hash, 'hex') AS hash INTO v_bad FROM events e
        WHERE e.stream = v_stream ORDER BY e.version DESC LIMIT 1;
        IF coalesce(v_bad.version, 0) <> v_version THEN
            RAISE EXCEPTION 'stream % is at version %, expected %', v_stream, coalesce(v_bad.version, 0), v_version
                USING ERRCODE = 'LE001',
                      DETAIL = json_build_object('stream', v_stream, 'actual', coalesce(v_bad.version, 0),
                                                 'expected', v_version)::text;
        END IF;
        IF v_stream IS NOT NULL AND array_position(v_streams, v_stream) IS NULL THEN
            v_streams := v_streams || v_stream;
            v_versions := v_versions || coalesce(v_bad.version, 0);
            v_hashes := v_hashes || coalesce(v_bad.hash, repeat('0', 64));
        END IF;
    END LOOP;

    -- Every event is checked before any is inserted (014's conditions, see append_refusal):
    -- only the fields a writer may set, a hash of 32 bytes in lower-case hex, and a
    -- previous_hash that is the hash of the event before it in its stream — sent earlier in
    -- this call, or stored (32 zero bytes before version 1).
    FOR i IN 0 .. v_count - 1 LOOP
        v_event := p_events->i;
        v_stream := v_event->>'stream';
        v_version := (v_event->>'version')::bigint;
        v_hash := v_event->>'hash';
        IF v_event - '{stream,version,type,schema_version,payload,metadata,business_date,event_id,hash,previous_hash}'::text[] <> '{}'::jsonb
           OR v_stream IS NULL OR v_version IS NULL
           OR v_hash IS NULL OR length(v_hash) <> 64 OR ltrim(v_hash, '0123456789abcdef') <> '' THEN
            v_refused := true;
            EXIT;
        END IF;
        v_at := array_position(v_streams, v_stream);
        IF v_version = 1 THEN
            v_before := repeat('0', 64);
        ELSIF v_at IS NOT NULL AND v_versions[v_at] = v_version - 1 THEN
            v_before := v_hashes[v_at];
        ELSE
            -- Not the head read above nor an event of this call: a stream nobody expected.
            SELECT encode(p.hash, 'hex') INTO v_before FROM events p
            WHERE p.stream = v_stream AND p.version = v_version - 1;
        END IF;
        IF v_before IS NULL OR (v_event->>'previous_hash') IS DISTINCT FROM v_before THEN
            v_refused := true;
            EXIT;
        END IF;
        IF v_at IS NULL THEN
            v_streams := v_streams || v_stream;
            v_versions := v_versions || v_version;
            v_hashes := v_hashes || v_hash;
        ELSE
            v_versions[v_at] := v_version;
            v_hashes[v_at] := v_hash;
        END IF;
    END LOOP;

    -- The transaction id only now, after reading the stream heads (see 001).
    PERFORM pg_current_xact_id();

    IF v_refused THEN
        -- 014's statement as it was, so that a refused call is refused exactly as before
        -- (nothing of it is kept: the diagnosis below raises).
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
            HAVING p_idempotency_key IS NOT NULL AND count(*) = jsonb_array_length(p_events)
        )
        SELECT * FROM inserted i ORDER BY i.position;
        GET DIAGNOSTICS v_done = ROW_COUNT;
    ELSE
        FOR i IN 0 .. v_count - 1 LOOP
            INSERT INTO events (stream, version, type, schema_version, payload, metadata,
                                business_date, event_id, hash)
            VALUES (p_events->i->>'stream', (p_events->i->>'version')::bigint, p_events->i->>'type',
                    (p_events->i->>'schema_version')::integer, p_events->i->'payload', p_events->i->'metadata',
                    (p_events->i->>'business_date')::date, (p_events->i->>'event_id')::uuid,
                    decode(p_events->i->>'hash', 'hex'))
            ON CONFLICT (stream, version) DO NOTHING
            RETURNING * INTO v_row;
            -- Not found: another writer took the version (ON CONFLICT waited for it).
            EXIT WHEN NOT FOUND;
            v_positions := v_positions || v_row.position;
            RETURN NEXT v_row;
        END LOOP;
        v_done := cardinality(v_positions);
        -- Not when an event was left out (raised below): no key for a partial append.
        IF p_idempotency_key IS NOT NULL AND v_done = v_count THEN
            INSERT INTO idempotency_keys (key, command_hash, positions)
            VALUES (p_idempotency_key, p_command_hash, v_positions);
        END IF;
    END IF;

    IF v_done <> v_count THEN
        -- 014's diagnosis: a version taken by another writer (not by this call: its own
        -- events are there too) is LE001, anything else the first refused event's reason.
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

CREATE OR REPLACE FUNCTION append_events(
    p_expectations jsonb, p_events jsonb, p_idempotency_key text, p_command_hash text
) RETURNS SETOF events
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    -- No defaults: each is an expression PL/pgSQL would build again in every transaction
    -- (array_position of a NULL array is NULL, and NULL || x is {x}).
    v_streams text[];
    v_versions bigint[];
    v_hashes text[];
    v_positions bigint[];
    v_at integer;
    v_stream text;
    v_version bigint;
    v_event jsonb;
    v_head record;
    v_row events%ROWTYPE;
BEGIN
    IF jsonb_typeof(p_events) IS DISTINCT FROM 'array' OR jsonb_typeof(p_expectations) IS DISTINCT FROM 'array'
       OR p_events = '[]' OR p_events @> '[{"stream": "periods"}]' THEN
        RETURN QUERY SELECT * FROM append_events_in_full(p_expectations, p_events, p_idempotency_key, p_command_hash);
        RETURN;
    END IF;

    -- The period lock (010), before the heads are read: a writer that expects `periods`
    -- waits for a close in progress.
    IF p_expectations @> '[{"stream": "periods"}]' THEN
        LOCK TABLE period_lock IN ROW SHARE MODE;
    END IF;

    FOR i IN 0 .. jsonb_array_length(p_expectations) - 1 LOOP
        v_stream := p_expectations->i->>'stream';
        SELECT e.version, encode(e.hash, 'hex') AS hash INTO v_head FROM events e
        WHERE e.stream = v_stream ORDER BY e.version DESC LIMIT 1;
        IF coalesce(v_head.version, 0) IS DISTINCT FROM (p_expectations->i->>'version')::bigint
           OR array_position(v_streams, v_stream) IS NOT NULL OR v_stream IS NULL THEN
            RETURN QUERY SELECT * FROM append_events_in_full(p_expectations, p_events, p_idempotency_key, p_command_hash);
            RETURN;
        END IF;
        v_streams := v_streams || v_stream;
        v_versions := v_versions || coalesce(v_head.version, 0);
        v_hashes := v_hashes || coalesce(v_head.hash, repeat('0', 64));
    END LOOP;

    -- 016's checks in one condition (the first true term ends it: a NULL field makes one
    -- of the earlier terms true before a later one could fail on it).
    FOR i IN 0 .. jsonb_array_length(p_events) - 1 LOOP
        v_event := p_events->i;
        v_version := (v_event->>'version')::bigint;
        v_at := array_position(v_streams, v_event->>'stream');
        IF v_at IS NULL OR v_versions[v_at] IS DISTINCT FROM v_version - 1
           OR coalesce(length(v_event->>'hash'), 0) <> 64 OR ltrim(v_event->>'hash', '0123456789abcdef') <> ''
           OR (v_event->>'previous_hash') IS DISTINCT FROM v_hashes[v_at]
           OR v_event - '{stream,version,type,schema_version,payload,metadata,business_date,event_id,hash,previous_hash}'::text[] <> '{}'::jsonb THEN
            RETURN QUERY SELECT * FROM append_events_in_full(p_expectations, p_events, p_idempotency_key, p_command_hash);
            RETURN;
        END IF;
        v_versions[v_at] := v_version;
        v_hashes[v_at] := v_event->>'hash';
        v_positions := v_positions || nextval('events_position_seq');
    END LOOP;

    IF p_idempotency_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (key, command_hash, positions)
        VALUES (p_idempotency_key, p_command_hash, v_positions)
        ON CONFLICT (key) DO NOTHING;
        IF NOT FOUND THEN
            -- Recorded already (or just now, by a writer this insert waited for): 016 looks
            -- it up, and replays it or refuses it (LE002) as before.
            RETURN QUERY SELECT * FROM append_events_in_full(p_expectations, p_events, p_idempotency_key, p_command_hash);
            RETURN;
        END IF;
    END IF;

    FOR i IN 0 .. cardinality(v_positions) - 1 LOOP
        INSERT INTO events (position, stream, version, type, schema_version, payload, metadata,
                            business_date, event_id, hash)
        VALUES (v_positions[i + 1], p_events->i->>'stream', (p_events->i->>'version')::bigint, p_events->i->>'type',
                (p_events->i->>'schema_version')::integer, p_events->i->'payload', p_events->i->'metadata',
                (p_events->i->>'business_date')::date, (p_events->i->>'event_id')::uuid,
                decode(p_events->i->>'hash', 'hex'))
        ON CONFLICT (stream, version) DO NOTHING
        RETURNING * INTO v_row;
        IF NOT FOUND THEN
            -- Another writer took the version (ON CONFLICT waited for it): 016's diagnosis,
            -- LE001 naming the stream (anything else, append_refusal's reason).
            SELECT x.value->>'stream' AS stream, (x.value->>'version')::bigint - 1 AS expected,
                   (SELECT max(e.version) FROM events e WHERE e.stream = x.value->>'stream') AS actual
            INTO v_head
            FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(value, ord)
            WHERE EXISTS (SELECT 1 FROM events e
                          WHERE e.stream = x.value->>'stream' AND e.version = (x.value->>'version')::bigint
                            AND e.event_id::text IS DISTINCT FROM x.value->>'event_id')
            ORDER BY x.ord
            LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'stream % is at version %, expected %', v_head.stream, v_head.actual, v_head.expected
                    USING ERRCODE = 'LE001',
                          DETAIL = json_build_object('stream', v_head.stream, 'actual', v_head.actual,
                                                     'expected', v_head.expected)::text;
            END IF;
            PERFORM append_refusal(p_events);
        END IF;
        RETURN NEXT v_row;
    END LOOP;
END
$$;

REVOKE EXECUTE ON FUNCTION append_events_in_full(jsonb, jsonb, text, text) FROM PUBLIC;

DO $$
DECLARE
    v_schema text := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE c.oid = 'events'::regclass);
BEGIN
    EXECUTE format('ALTER FUNCTION append_events(jsonb, jsonb, text, text) SET search_path = %I, pg_temp', v_schema);
    EXECUTE format('ALTER FUNCTION append_events_in_full(jsonb, jsonb, text, text) SET search_path = %I, pg_temp', v_schema);
END
$$;
