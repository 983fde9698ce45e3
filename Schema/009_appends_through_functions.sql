-- No way around the domain: application logins append only through the ledger's functions.
--
-- Until now `ledger_app` could INSERT into events and idempotency_keys itself, so a login of
-- the application could write a position, transaction id or recorded time of its choosing,
-- skip versions, start a stream with any hash, or squat an idempotency key with no events
-- behind it (the real command then exits 0 and stores nothing). From here on it may only
-- call
--   append_events(...)          one command's events (the command handler), and
--   begin_staged_append() + COPY into pg_temp.staged_events / pg_temp.staged_keys +
--   append_staged_events()      an import batch (COPY keeps the import fast).
-- Both run with the owner's rights (SECURITY DEFINER) and a search_path fixed to the schema
-- of the events table (then pg_temp, last, so a temporary object can never stand in for one
-- of ours). The database assigns position, transaction id and recorded time; the functions
-- refuse what it can check cheaply: a field the ledger assigns, a version that does not
-- continue its stream, a previous hash that is not the stream head's (a stream's first
-- event follows 32 zero bytes), a hash that is not 32 bytes, an idempotency key with no
-- events. Whether the events keep the business rules and whether each hash covers its
-- event is what `ledger verify` checks.
--
-- Error codes: LE001 a stream moved on (the writer decides again), LE002 an idempotency key
-- reused for another command, LE003 an append the ledger refuses outright.

REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON events, idempotency_keys FROM ledger_app;
REVOKE ALL ON SEQUENCE events_position_seq FROM PUBLIC, ledger_app;

-- p_events: [{"stream","version","type","schema_version","payload","metadata",
--             "business_date","event_id","hash","previous_hash"}], hashes in hex;
-- otherwise as in 001 (expectations, idempotency).
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

-- Raises the reason the first refused event of an append_events call was refused:
--   * it sets a field the database assigns (position, transaction_id, recorded_at) or any
--     other field the ledger does not take from a writer,
--   * it lacks a stream, a version from 1 or a hash of 32 bytes in lower-case hex,
--   * it does not continue its stream: its predecessor (same stream, one version less) is
--     neither an earlier event of the call nor stored — a gap,
--   * it does not link to that predecessor: previous_hash is not its hash (32 zero bytes
--     before version 1).
-- Called only when an append left events out, so the checks cost the usual append one
-- condition per event.
CREATE FUNCTION append_refusal(p_events jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    v_bad record;
BEGIN
    WITH sent AS (
        SELECT e.ord, e.value - '{stream,version,type,schema_version,payload,metadata,business_date,event_id,hash,previous_hash}'::text[] AS extra,
               e.value->>'stream' AS stream, (e.value->>'version')::bigint AS version,
               e.value->>'hash' AS hash, e.value->>'previous_hash' AS previous_hash
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, ord)
    ), linked AS (
        SELECT s.*,
               CASE WHEN s.version = 1 THEN repeat('0', 64)
                    ELSE coalesce(
                        (SELECT b.hash FROM sent b
                         WHERE b.stream = s.stream AND b.version = s.version - 1 AND b.ord < s.ord),
                        (SELECT encode(p.hash, 'hex') FROM events p
                         WHERE p.stream = s.stream AND p.version = s.version - 1))
               END AS before_hash
        FROM sent s
    )
    SELECT l.*,
           CASE WHEN l.extra <> '{}'::jsonb THEN 'field'
                WHEN l.stream IS NULL OR l.version IS NULL OR l.version < 1
                     OR l.hash IS NULL OR l.hash !~ '^[0-9a-f]{64}$' THEN 'malformed'
                WHEN l.before_hash IS NULL THEN 'gap'
                ELSE 'link' END AS kind
    INTO v_bad
    FROM linked l
    WHERE l.extra <> '{}'::jsonb
       OR l.stream IS NULL OR l.version IS NULL OR l.version < 1
       OR l.hash IS NULL OR l.hash !~ '^[0-9a-f]{64}$'
       OR l.before_hash IS NULL OR l.previous_hash IS DISTINCT FROM l.before_hash
    ORDER BY l.ord
    LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'append refused: an event was left out' USING ERRCODE = 'LE003';
    END IF;
    CASE v_bad.kind
    WHEN 'field' THEN
        RAISE EXCEPTION 'append refused: event % sets "%", which the ledger does not take from a writer (position, transaction id and recorded time are assigned by the database)',
            v_bad.ord, (SELECT min(k) FROM jsonb_object_keys(v_bad.extra) AS k)
            USING ERRCODE = 'LE003';
    WHEN 'malformed' THEN
        RAISE EXCEPTION 'append refused: event % needs a stream, a version from 1 and a hash of 32 bytes in lower-case hex', v_bad.ord
            USING ERRCODE = 'LE003';
    WHEN 'gap' THEN
        RAISE EXCEPTION 'append refused: event % has version % of stream %, which has no version % before it: versions continue the stream without gaps',
            v_bad.ord, v_bad.version, v_bad.stream, v_bad.version - 1
            USING ERRCODE = 'LE003';
    ELSE
        RAISE EXCEPTION 'append refused: event % (stream % version %) does not link to the hash of the event before it in its stream',
            v_bad.ord, v_bad.stream, v_bad.version
            USING ERRCODE = 'LE003';
    END CASE;
END
$$;

-- An import batch, step 1: empty staging tables of this session (temporary, so not written
-- to the WAL, and private to the session), created by the owner and writable by the
-- application. The writer then COPYs the batch's events into pg_temp.staged_events, in log
-- order (`ord` numbers them from 1 as they arrive), and each command's idempotency key into
-- pg_temp.staged_keys with the place of its events in the batch (`first`: the number of
-- events staged before them, `count`).
CREATE FUNCTION begin_staged_append() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF to_regclass('pg_temp.staged_events') IS NULL THEN
        -- A batch is tens of megabytes: kept in memory (temporary tables live in buffers of
        -- the session's own, 8 MB by default, which only grow before the first use).
        BEGIN
            PERFORM set_config('temp_buffers', '128MB', false);
        EXCEPTION WHEN OTHERS THEN
            NULL;
        END;
        CREATE TEMPORARY TABLE staged_events (
            ord            bigint  GENERATED ALWAYS AS IDENTITY,
            stream         text    NOT NULL,
            version        bigint  NOT NULL,
            type           text    NOT NULL,
            schema_version integer NOT NULL,
            payload        jsonb   NOT NULL,
            metadata       jsonb   NOT NULL,
            business_date  date    NOT NULL,
            event_id       uuid    NOT NULL,
            hash           bytea   NOT NULL,
            previous_hash  bytea   NOT NULL
        ) ON COMMIT DELETE ROWS;
        CREATE TEMPORARY TABLE staged_keys (
            first         integer NOT NULL,
            count         integer NOT NULL,
            key           text    NOT NULL,
            command_hash  text    NOT NULL
        ) ON COMMIT DELETE ROWS;
        GRANT INSERT ON pg_temp.staged_events, pg_temp.staged_keys TO ledger_app;
    END IF;
    PERFORM check_staging_tables();
    TRUNCATE pg_temp.staged_events, pg_temp.staged_keys RESTART IDENTITY;
END
$$;

-- The staging tables must be the ones begin_staged_append made: a temporary view or table
-- of the same name made by the session's own login would otherwise be read with the
-- owner's rights.
CREATE FUNCTION check_staging_tables() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF (SELECT count(*) FROM pg_class c
        WHERE c.oid IN (to_regclass('pg_temp.staged_events'), to_regclass('pg_temp.staged_keys'))
          AND c.relkind = 'r' AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)) <> 2
    THEN
        RAISE EXCEPTION 'append refused: pg_temp.staged_events and pg_temp.staged_keys are not the ledger''s staging tables'
            USING ERRCODE = 'LE003', HINT = 'call begin_staged_append() first, in a session that has not made its own';
    END IF;
END
$$;

-- An import batch, step 2: checks every staged event as append_events does and moves them
-- into events in staged order (positions, transaction id and recorded time from the
-- database), with the idempotency keys of the commands that appended events. Returns the
-- number of events appended. A stream that moved on since the writer read it raises LE001
-- and nothing is written.
CREATE FUNCTION append_staged_events() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    v_bad record;
    v_count bigint;
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
        RETURNING position
    ), ranked AS (
        SELECT i.position, row_number() OVER (ORDER BY i.position) AS rank FROM inserted i
    )
    INSERT INTO idempotency_keys (key, command_hash, positions)
    SELECT k.key, k.command_hash, array_agg(r.position ORDER BY r.position)
    FROM pg_temp.staged_keys k
    CROSS JOIN LATERAL generate_series(k.first + 1, k.first + k.count) AS g(rank)
    JOIN ranked r ON r.rank = g.rank
    GROUP BY k.key, k.command_hash;

    TRUNCATE pg_temp.staged_events, pg_temp.staged_keys RESTART IDENTITY;
    RETURN v_count;
END
$$;

-- A fixed search_path: the schema the events table lives in, then pg_temp (last, so no
-- temporary object can stand in for a table or function of the ledger's).
DO $$
DECLARE
    v_schema text := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE c.oid = 'events'::regclass);
BEGIN
    EXECUTE format('ALTER FUNCTION append_events(jsonb, jsonb, text, text) SET search_path = %I, pg_temp', v_schema);
    EXECUTE format('ALTER FUNCTION append_refusal(jsonb) SET search_path = %I, pg_temp', v_schema);
    EXECUTE format('ALTER FUNCTION begin_staged_append() SET search_path = %I, pg_temp', v_schema);
    EXECUTE format('ALTER FUNCTION check_staging_tables() SET search_path = %I, pg_temp', v_schema);
    EXECUTE format('ALTER FUNCTION append_staged_events() SET search_path = %I, pg_temp', v_schema);
    -- A batch's sorts (by stream for the checks, by staged order for the insert) in memory,
    -- and no JIT: the planner's estimates for a batch pass jit_above_cost, and compiling
    -- took ~2 s of a 40,000-event batch that runs in ~3 s without it.
    ALTER FUNCTION append_staged_events() SET work_mem = '64MB';
    ALTER FUNCTION append_staged_events() SET jit = off;
    -- Members of the ledger's roles may connect even where CONNECT is revoked from PUBLIC
    -- (the README's setup).
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO ledger_app, ledger_reporting', current_database());
END
$$;

-- Functions are executable by PUBLIC by default: these are for the application only.
REVOKE EXECUTE ON FUNCTION append_refusal(jsonb), begin_staged_append(), check_staging_tables(),
    append_staged_events(), wake_followers() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION begin_staged_append(), append_staged_events() TO ledger_app;
