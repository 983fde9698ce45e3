-- append_events, leaner: the expected versions are checked in one query, and the events
-- and the idempotency key are written and returned by one statement, instead of a loop of
-- look-ups and a second read of the rows just inserted. Same arguments, same results, same
-- errors (LE001 version conflict, LE002 key reused) as 001/005.
CREATE OR REPLACE FUNCTION append_events(
    p_expectations jsonb, p_events jsonb, p_idempotency_key text, p_command_hash text
) RETURNS SETOF events
LANGUAGE plpgsql AS $$
DECLARE
    v_seen idempotency_keys%ROWTYPE;
    v_bad record;
BEGIN
    IF p_idempotency_key IS NOT NULL THEN
        SELECT * INTO v_seen FROM idempotency_keys WHERE key = p_idempotency_key;
        IF FOUND THEN
            IF v_seen.command_hash <> p_command_hash THEN
                RAISE EXCEPTION 'idempotency key % was already used for a different command', p_idempotency_key
                    USING ERRCODE = 'LE002';
            END IF;
            RETURN QUERY SELECT * FROM events WHERE position = ANY (v_seen.positions) ORDER BY position;
            RETURN;
        END IF;
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

    RETURN QUERY
    WITH inserted AS (
        INSERT INTO events (stream, version, type, schema_version, payload, metadata,
                            business_date, event_id, hash)
        SELECT e.value->>'stream', (e.value->>'version')::bigint, e.value->>'type',
               (e.value->>'schema_version')::integer, e.value->'payload', e.value->'metadata',
               (e.value->>'business_date')::date, (e.value->>'event_id')::uuid,
               decode(e.value->>'hash', 'hex')
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, ord)
        ORDER BY e.ord
        RETURNING *
    ), keyed AS (
        INSERT INTO idempotency_keys (key, command_hash, positions)
        SELECT p_idempotency_key, p_command_hash, array_agg(i.position ORDER BY i.position)
        FROM inserted i
        HAVING p_idempotency_key IS NOT NULL
    )
    SELECT * FROM inserted i ORDER BY i.position;
END
$$;
