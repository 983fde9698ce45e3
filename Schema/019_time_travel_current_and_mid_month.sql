-- Time travel: the latest business date the history covers, and the events of each month.
--
-- A report `--as-of` a date on or after every event's business date (today, far ahead) and
-- `--known-at` an instant after every event's recorded time are the current state: then a
-- reader takes the projection's own rows (their columns, no jsonb to decode) and folds the
-- log after the projection's checkpoint on top, instead of reading the latest history entry
-- of every row (~100,000 jsonb rows for orders). It may only when every event up to that
-- checkpoint counts for the view; the history checkpoint already keeps the latest recorded
-- time of what it covers (015), and now keeps the latest business date too, so the check
-- costs one row (plus the few events between the two checkpoints when the projection is
-- ahead of the history).
ALTER TABLE projections.history_checkpoint ADD COLUMN max_business_date date;

-- A history built before this migration covers events whose dates it did not keep: read
-- them once here (NULL while it covers nothing).
UPDATE projections.history_checkpoint c
SET max_business_date = (
    SELECT max(e.business_date) FROM events e
    WHERE (e.transaction_id, e.position) <= (c.transaction_id::text::xid8, c.position))
WHERE c.position > 0;

CREATE OR REPLACE VIEW reporting.history_checkpoint AS
SELECT transaction_id, position, max_recorded_at, updated_at, max_business_date FROM projections.history_checkpoint;

COMMENT ON COLUMN reporting.history_checkpoint.max_business_date IS
    'Latest business date among the events covered (a report as of that date or later is the current state)';

-- A report mid-month folded again every row with an entry in that month from all of its
-- events: for a SKU or a lab, most of the log. Each entry now also keeps the positions of the
-- row's events dated in its month (log order), and whether the month is `ordered` — all of
-- them after every event of the row dated before it in the log, and no reversal of the row's
-- events dated in it — so a day inside the month is the previous entry's state folded on with
-- the month's events dated by then, read by position. Entries kept before this have no
-- positions and are not ordered: those rows are folded again as before.
ALTER TABLE projections.report_history
    ADD COLUMN ordered   boolean NOT NULL DEFAULT false,
    ADD COLUMN positions bigint[];

CREATE OR REPLACE VIEW reporting.report_history AS
SELECT projection, key, month, gone, state, ordered, positions FROM projections.report_history;

COMMENT ON COLUMN reporting.report_history.ordered IS
    'True when every event in positions follows, in the log, every event of the row dated before the month, and no reversal of the row''s events is dated in it';
COMMENT ON COLUMN reporting.report_history.positions IS
    'Positions of the row''s events dated in the month, in log order (NULL for entries kept before migration 019)';
