-- Time travel: `--known-at` an instant in the middle of the log.
--
-- `--known-at T` counts the events recorded at or before T. The month-end history (015)
-- covers the log up to one checkpoint and may answer only when every event it covers was
-- recorded by T; before that the whole log was folded (seconds over a million events).
--
-- So the projector also cuts the settled log into segments of about 50,000 positions and
-- keeps, at the end of each segment, the state of every row that changed in it (the fold of
-- every event up to the segment's end, in log order, all business dates): a row's state at
-- the end of segment s is its latest entry at or before s. Each segment records the latest
-- recorded time and business date of all the events up to its end, and the earliest
-- recorded time of the events inside it. A report known at T is then the rows as of the
-- latest segment whose every event was recorded by T, plus — folded on top, in log order —
-- the later events recorded by T. Transactions commit out of order (an event is recorded
-- when its transaction starts), so such events may sit in any later segment; but a segment
-- is settled (every transaction in it had ended when it was cut), so its earliest recorded
-- time never changes, and only the segments whose earliest recorded time is at or before T
-- (usually just the next one) and the log after the last segment are read.
--
-- Derived data, like the history: `ledger projections rebuild` folds it afresh.
CREATE TABLE projections.history_segments (
    segment         integer     PRIMARY KEY,
    -- The last event of the segment (log order).
    transaction_id  bigint      NOT NULL,
    position        bigint      NOT NULL,
    -- Over every event up to the segment's end.
    max_recorded_at timestamptz NOT NULL,
    max_business_date date      NOT NULL,
    -- Over the events of this segment only (after the previous segment's end).
    min_recorded_at timestamptz NOT NULL
);

CREATE TABLE projections.segment_states (
    projection text    NOT NULL,
    key        text    NOT NULL,
    segment    integer NOT NULL,
    gone       boolean NOT NULL,  -- no row then (its creating event reversed)
    state      jsonb              -- the projection row; NULL when gone
);
-- Latest entry per key at or before a segment: DISTINCT ON (key) ... ORDER BY key, segment DESC.
CREATE UNIQUE INDEX segment_states_key ON projections.segment_states (projection, key, segment DESC);

-- Rows changed since the last segment's end (written as the history is), whose states the
-- next segment keeps.
CREATE TABLE projections.segment_pending (
    projection text NOT NULL,
    key        text NOT NULL,
    PRIMARY KEY (projection, key)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON projections.history_segments, projections.segment_states,
    projections.segment_pending TO ledger_app;

CREATE VIEW reporting.history_segments AS
SELECT segment, transaction_id, position, max_recorded_at, max_business_date, min_recorded_at
FROM projections.history_segments;
CREATE VIEW reporting.segment_states AS
SELECT projection, key, segment, gone, state FROM projections.segment_states;

GRANT SELECT ON reporting.history_segments, reporting.segment_states TO ledger_reporting, ledger_app;

COMMENT ON VIEW reporting.history_segments IS
    'The settled log cut into segments; at each end reporting.segment_states keeps the rows changed in it (snapshots for ledger report --known-at)';
COMMENT ON COLUMN reporting.history_segments.segment IS 'Segment number, from 1, in log order';
COMMENT ON COLUMN reporting.history_segments.transaction_id IS 'Log order of the segment''s last event: its transaction';
COMMENT ON COLUMN reporting.history_segments.position IS 'Position of the segment''s last event';
COMMENT ON COLUMN reporting.history_segments.max_recorded_at IS 'Latest recorded_at among every event up to the segment''s end';
COMMENT ON COLUMN reporting.history_segments.max_business_date IS 'Latest business date among every event up to the segment''s end';
COMMENT ON COLUMN reporting.history_segments.min_recorded_at IS 'Earliest recorded_at among the segment''s own events';
COMMENT ON VIEW reporting.segment_states IS
    'Each report row as of the end of every segment it changed in: the fold of every event up to then (all business dates)';
COMMENT ON COLUMN reporting.segment_states.projection IS 'Report: portfolio, labs, orders or supply';
COMMENT ON COLUMN reporting.segment_states.key IS 'The row''s key (investment, lab, order or SKU)';
COMMENT ON COLUMN reporting.segment_states.segment IS 'The segment at whose end the row had this state';
COMMENT ON COLUMN reporting.segment_states.gone IS 'True when the row does not exist then (its creating event was reversed)';
COMMENT ON COLUMN reporting.segment_states.state IS 'The row as its projection table holds it (jsonb); NULL when gone';
