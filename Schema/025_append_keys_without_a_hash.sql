-- A key sent without a command hash takes 016's path again (issue #15; corrects Schema/024).
--
-- 024's short path inserts the key's row before the events and learns from that insert that
-- a key is recorded. A key sent without a command hash never got that far in 016: a recorded
-- key answered LE002 (its hash IS DISTINCT FROM NULL), before anything was inserted. In 024
-- the key row's NOT NULL refused it first (23502). Such a call now goes to
-- append_events_in_full, which answers as 016 did (PrivilegeTests holds it). Everything else
-- is 024's definition as it was.
--
-- CREATE OR REPLACE keeps owner and grants and resets the search_path, set again below.

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
    -- (A key without a command hash: 016 answers LE002 when the key is recorded, which the
    -- key's insert below, refused by NOT NULL first, would not.)
    IF jsonb_typeof(p_events) IS DISTINCT FROM 'array' OR jsonb_typeof(p_expectations) IS DISTINCT FROM 'array'
       OR p_events = '[]' OR p_events @> '[{"stream": "periods"}]'
       OR (p_command_hash IS NULL AND p_idempotency_key IS NOT NULL) THEN
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

DO $$
DECLARE
    v_schema text := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE c.oid = 'events'::regclass);
BEGIN
    EXECUTE format('ALTER FUNCTION append_events(jsonb, jsonb, text, text) SET search_path = %I, pg_temp', v_schema);
END
$$;
