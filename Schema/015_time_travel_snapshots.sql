-- Snapshots for time travel (`--as-of`, `--known-at`, `--as-issued`).
--
-- Folding a report from the log reads every event of its streams: seconds over a million
-- events. So the projector (`ledger projections run`, `--follow`, `rebuild`) also keeps,
-- derived from the log like the projections:
--
-- * report_history: for each report row (key), its state as of the end of every month in
--   which the row has an event or a reversal of one — the fold of its events dated on or
--   before that month end, without those reversed by a reversal dated on or before it.
--   A month with no event of the key has no entry: the state carries over. All of it
--   covers exactly the settled log up to history_checkpoint (every transaction below it
--   had ended when it was read, so no event can ever join that part of the log later).
--   A report `--as-of` a month end is the latest entry of each key on or before it, plus
--   the events after the checkpoint folded on top; mid-month, the keys with an entry in
--   that month are folded again from their own events.
-- * issued_reports: each report exactly as issued at a period close (the fold of the
--   events dated on or before `through` up to the close in log order), stored once the
--   projector has seen the close; `--as-issued` reads it back.
--
-- A row's state is the projection table's row as jsonb (`to_jsonb`), read back through the
-- row type of its reporting view (jsonb_populate_record), so a column added to a projection
-- needs nothing here. Readers fall back to folding the log whenever these cannot answer
-- exactly (a `--known-at` before the history's last recorded event, an `--as-issued` whose
-- copy is not stored yet, an `--as-of` combined with `--as-issued` at another date).
CREATE TABLE projections.report_history (
    projection text    NOT NULL,
    key        text    NOT NULL,
    month      date    NOT NULL,  -- the month's last day
    gone       boolean NOT NULL,  -- the row does not exist as of then (its creating event reversed)
    state      jsonb              -- the projection row; NULL when gone
);
-- Latest entry per key on or before a date: DISTINCT ON (key) ... ORDER BY key, month DESC.
CREATE UNIQUE INDEX report_history_key ON projections.report_history (projection, key, month DESC);

CREATE TABLE projections.history_checkpoint (
    singleton       boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    transaction_id  bigint      NOT NULL DEFAULT 0,
    position        bigint      NOT NULL DEFAULT 0,
    -- The latest recorded_at among the events the history covers: a `--known-at` at or
    -- after it counts every one of them.
    max_recorded_at timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO projections.history_checkpoint DEFAULT VALUES;

CREATE TABLE projections.issued_closes (
    close_position bigint      PRIMARY KEY,
    through        date        NOT NULL,
    stored_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projections.issued_reports (
    close_position bigint NOT NULL REFERENCES projections.issued_closes ON DELETE CASCADE,
    projection     text   NOT NULL,
    key            text   NOT NULL,
    state          jsonb  NOT NULL,
    PRIMARY KEY (close_position, projection, key)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON projections.report_history, projections.history_checkpoint,
    projections.issued_closes, projections.issued_reports TO ledger_app;

-- Read commands read them through schema reporting (reporting logins, a hot standby).
CREATE VIEW reporting.report_history AS
SELECT projection, key, month, gone, state FROM projections.report_history;
CREATE VIEW reporting.history_checkpoint AS
SELECT transaction_id, position, max_recorded_at, updated_at FROM projections.history_checkpoint;
CREATE VIEW reporting.issued_reports AS
SELECT r.close_position, c.through, r.projection, r.key, r.state
FROM projections.issued_reports r JOIN projections.issued_closes c USING (close_position);
CREATE VIEW reporting.issued_closes AS
SELECT close_position, through, stored_at FROM projections.issued_closes;

GRANT SELECT ON reporting.report_history, reporting.history_checkpoint, reporting.issued_reports,
    reporting.issued_closes TO ledger_reporting, ledger_app;

COMMENT ON VIEW reporting.report_history IS
    'Each report row as of the end of every month it changed in (snapshots for ledger report --as-of); kept by ledger projections run';
COMMENT ON COLUMN reporting.report_history.projection IS 'Report: portfolio, labs, orders or supply';
COMMENT ON COLUMN reporting.report_history.key IS 'The row''s key (investment, lab, order or SKU)';
COMMENT ON COLUMN reporting.report_history.month IS 'Last day of the month: the state counts events dated on or before it';
COMMENT ON COLUMN reporting.report_history.gone IS 'True when the row does not exist as of then (its creating event was reversed)';
COMMENT ON COLUMN reporting.report_history.state IS 'The row as its projection table holds it (jsonb); NULL when gone';

COMMENT ON VIEW reporting.history_checkpoint IS
    'How far reporting.report_history has folded the log; later events are folded on top when a report is asked for';
COMMENT ON COLUMN reporting.history_checkpoint.transaction_id IS 'Log order of the last event covered: its transaction';
COMMENT ON COLUMN reporting.history_checkpoint.position IS 'Position of the last event covered (0: none yet)';
COMMENT ON COLUMN reporting.history_checkpoint.max_recorded_at IS 'Latest recorded_at among the events covered';
COMMENT ON COLUMN reporting.history_checkpoint.updated_at IS 'When the history last moved';

COMMENT ON VIEW reporting.issued_reports IS
    'Each report exactly as issued at a period close (ledger report --as-issued), stored by ledger projections run after the close';
COMMENT ON COLUMN reporting.issued_reports.close_position IS 'Position of the period.closed event';
COMMENT ON COLUMN reporting.issued_reports.through IS 'The closed period''s last day';
COMMENT ON COLUMN reporting.issued_reports.projection IS 'Report: portfolio, labs, orders or supply';
COMMENT ON COLUMN reporting.issued_reports.key IS 'The row''s key (investment, lab, order or SKU)';
COMMENT ON COLUMN reporting.issued_reports.state IS 'The row as its projection table holds it (jsonb)';

COMMENT ON VIEW reporting.issued_closes IS 'The period closes whose issued reports are stored (reporting.issued_reports)';
COMMENT ON COLUMN reporting.issued_closes.close_position IS 'Position of the period.closed event';
COMMENT ON COLUMN reporting.issued_closes.through IS 'The closed period''s last day';
COMMENT ON COLUMN reporting.issued_closes.stored_at IS 'When the projector stored the issued reports';
