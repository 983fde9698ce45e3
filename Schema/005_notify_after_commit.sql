-- append_events no longer notifies inside the appending transaction.
--
-- NOTIFY takes a database-wide lock that is held until the transaction's commit record is
-- flushed, so with pg_notify inside every append concurrent commits could not share a WAL
-- flush: 8 clients ran at 40% of the rate of a plain INSERT. Writers now send the
-- notification right after, in the same round trip, from a separate transaction that
-- commits without waiting for the flush (EventStore.append). It is a wake-up hint only:
-- followers also poll.

-- Appends a batch of events to one or several streams in one statement (one round trip,
-- one implicit transaction when called outside a transaction).
--
-- p_expectations: [{"stream": s, "version": n}] — the version each stream must be at now
--                 (0: the stream must not exist). A mismatch raises LE001 and writes nothing.
-- p_events:       [{"stream","version","type","schema_version","payload","metadata",
--                   "business_date","event_id","hash"}] with versions and hashes computed by
--                   the client from the heads it expects.
-- p_idempotency_key / p_command_hash: when the key was seen before with the same command,
--                 returns that command's events and appends nothing; with another command,
--                 raises LE002.
CREATE OR REPLACE FUNCTION append_events(
    p_expectations jsonb, p_events jsonb, p_idempotency_key text, p_command_hash text
) RETURNS SETOF events
LANGUAGE plpgsql AS $$
DECLARE
    v_seen idempotency_keys%ROWTYPE;
    v_expect record;
    v_current bigint;
    v_positions bigint[];
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

    FOR v_expect IN SELECT * FROM jsonb_to_recordset(p_expectations) AS x(stream text, version bigint) LOOP
        SELECT e.version INTO v_current FROM events e
            WHERE e.stream = v_expect.stream ORDER BY e.version DESC LIMIT 1;
        IF coalesce(v_current, 0) <> v_expect.version THEN
            RAISE EXCEPTION 'stream % is at version %, expected %',
                v_expect.stream, coalesce(v_current, 0), v_expect.version
                USING ERRCODE = 'LE001',
                      DETAIL = json_build_object('stream', v_expect.stream,
                                                 'actual', coalesce(v_current, 0),
                                                 'expected', v_expect.version)::text;
        END IF;
    END LOOP;

    -- Take a transaction id only now, after reading the stream heads: every event this
    -- batch builds on then belongs to an older transaction, so log order (transaction_id,
    -- position) agrees with each stream's version order.
    PERFORM pg_current_xact_id();

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
    )
    SELECT array_agg(i.position ORDER BY i.position) INTO v_positions FROM inserted i;

    IF p_idempotency_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (key, command_hash, positions)
        VALUES (p_idempotency_key, p_command_hash, v_positions);
    END IF;

    RETURN QUERY SELECT * FROM events WHERE position = ANY (v_positions) ORDER BY position;
END
$$;
