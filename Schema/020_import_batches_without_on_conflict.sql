-- An import batch without ON CONFLICT (issues #10, #15).
--
-- 014 made both append paths insert with ON CONFLICT (stream, version) DO NOTHING, so that a
-- version another writer took concurrently is LE001 with its stream in DETAIL, without an
-- EXCEPTION block. For append_events (one command, one transaction) that holds: an
-- EXCEPTION block would cost a subtransaction per command. For an import batch of tens of
-- thousands of events the balance is the other way round: ON CONFLICT makes every row a
-- speculative insertion (a probe of the unique index before the insert, a confirmation
-- record in the WAL after it) to cover a race a batch almost never meets, while an EXCEPTION
-- block costs one subtransaction per batch. In a same-run A/B of a 1M-event import (three
-- alternated pairs on a quiet machine) 014's batch took 31.9 / 37.1 / 32.7 s against
-- 31.7 / 30.4 / 31.2 s for 009's plain insert.
--
-- Behaviour is unchanged: the same checks, the same LE001 with its DETAIL (a unique violation
-- on events_stream_version_key, caught once per batch after the insert waited for the other
-- writer), any other unique violation raised as it is, the same keys (014's statement).
-- (Schema/017 was a trial that sliced keys from the batch's positions: cheaper in a replay,
-- dearer at 1M events; never released, so its number stays unused.)
--
-- Starts from the latest definition (Schema/014); CREATE OR REPLACE resets the settings,
-- set again below.

CREATE OR REPLACE FUNCTION append_staged_events() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    v_bad record;
    v_count bigint;
    v_constraint text;
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
    -- A version another writer took after the checks above fails the unique (stream, version)
    -- index, which waits for that writer first: caught here, once per batch, and raised as
    -- LE001 with its stream; nothing of the batch is kept.
    BEGIN
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
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
        IF v_constraint IS DISTINCT FROM 'events_stream_version_key' THEN
            RAISE;
        END IF;
        SELECT s.stream, s.version - 1 AS expected,
               (SELECT max(e.version) FROM events e WHERE e.stream = s.stream) AS actual
        INTO v_bad
        FROM pg_temp.staged_events s
        WHERE EXISTS (SELECT 1 FROM events e WHERE e.stream = s.stream AND e.version = s.version)
        ORDER BY s.ord
        LIMIT 1;
        RAISE EXCEPTION 'stream % is at version %, expected %', v_bad.stream, v_bad.actual, v_bad.expected
            USING ERRCODE = 'LE001',
                  DETAIL = json_build_object('stream', v_bad.stream, 'actual', v_bad.actual,
                                             'expected', v_bad.expected)::text;
    END;

    TRUNCATE pg_temp.staged_events, pg_temp.staged_keys RESTART IDENTITY;
    RETURN v_count;
END
$$;

DO $$
DECLARE
    v_schema text := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE c.oid = 'events'::regclass);
BEGIN
    EXECUTE format('ALTER FUNCTION append_staged_events() SET search_path = %I, pg_temp', v_schema);
END
$$;
-- As in 009: a batch's sorts in memory, and no JIT.
ALTER FUNCTION append_staged_events() SET work_mem = '64MB';
ALTER FUNCTION append_staged_events() SET jit = off;
