-- Time travel: `--known-at` mid-log as a page copy.
--
-- 026 keeps, at each segment end, the state (jsonb) of every row that changed in the
-- segment. A report known at an instant in the middle of the log read every row's latest
-- state at or before its segment (~55,000 orders over a 1M-event log), parsed them and
-- rendered every row's cells again: over a second of client CPU for the orders.
--
-- So each segment also keeps its reports as rendered pages, shaped as the current state's
-- (Schema/006 report_pages: CSV lines for CSV and JSON, table cells with each column's width
-- and alignment for the table and HTML), copy-on-write: a segment stores only the pages
-- holding a row that changed in it, each the previous segment's page with the changed rows'
-- lines put in (so unchanged rows are never rendered again). A report's pages as of segment
-- s are, for each first_key, its latest page at or before s; a page covers the keys from its
-- first_key (byte order) up to the next page's. A page grown past twice the page size is
-- split in the segment that grew it (its first part keeps the first_key), so the pages of a
-- segment always cover every key exactly once. A reader copies the pages and puts in only
-- the rows the events after the segment, recorded by then, change.
--
-- Derived data, like the segments: deleted with them (`projections rebuild`), cut again by
-- the next `projections run`. A database upgraded with segments but no pages gets them from
-- the next `projections run` (from the states 026 stored); until then readers render rows
-- as before, so the answer never depends on whether a segment has pages.
CREATE TABLE projections.segment_pages (
    projection text    NOT NULL,
    first_key  text    COLLATE "C" NOT NULL,
    segment    integer NOT NULL REFERENCES projections.history_segments ON DELETE CASCADE,
    row_count  integer NOT NULL,
    csv        text    NOT NULL,
    cells      text    NOT NULL,
    widths     integer[] NOT NULL,
    numeric    boolean[] NOT NULL
);
-- A report's pages as of segment s: DISTINCT ON (first_key) ... ORDER BY first_key, segment DESC.
CREATE UNIQUE INDEX segment_pages_key ON projections.segment_pages (projection, first_key, segment DESC);

-- Read whole: out of line without compression, as report_pages (006).
ALTER TABLE projections.segment_pages
    ALTER COLUMN csv SET STORAGE EXTERNAL,
    ALTER COLUMN cells SET STORAGE EXTERNAL;

-- The segments whose pages are written, per report: always segments 1..n (each is paged from
-- the previous one's pages).
CREATE TABLE projections.paged_segments (
    projection text    NOT NULL,
    segment    integer NOT NULL REFERENCES projections.history_segments ON DELETE CASCADE,
    PRIMARY KEY (projection, segment)
);

-- The rows that changed in one segment (paging it reads them), and the portfolio rows of a
-- startup (a registration that comes after a commitment to it renames that row).
CREATE INDEX segment_states_segment ON projections.segment_states (projection, segment);
CREATE INDEX segment_states_startup ON projections.segment_states ((state->>'startup')) WHERE projection = 'portfolio';

REVOKE ALL ON projections.segment_pages, projections.paged_segments FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON projections.segment_pages, projections.paged_segments TO ledger_app;

-- Read commands read them through schema reporting (reporting logins, a hot standby).
CREATE VIEW reporting.segment_pages AS
SELECT projection, first_key, segment, row_count, csv, cells, widths, numeric FROM projections.segment_pages;
CREATE VIEW reporting.paged_segments AS
SELECT projection, segment FROM projections.paged_segments;

GRANT SELECT ON reporting.segment_pages, reporting.paged_segments TO ledger_reporting, ledger_app;

COMMENT ON VIEW reporting.segment_pages IS
    'Each report as of each segment end, rendered as printed, copy-on-write (ledger report --known-at); stored by ledger projections run';
COMMENT ON COLUMN reporting.segment_pages.projection IS 'Report: portfolio, labs, orders or supply';
COMMENT ON COLUMN reporting.segment_pages.first_key IS 'The smallest key the page covers (byte order; '''' for the first page)';
COMMENT ON COLUMN reporting.segment_pages.segment IS 'The segment at whose end the page was written; it stands until a later segment writes the same first_key';
COMMENT ON COLUMN reporting.segment_pages.row_count IS 'Rows on the page';
COMMENT ON COLUMN reporting.segment_pages.csv IS 'The rows as CSV lines of exact values (ledger report --format csv and json print from them)';
COMMENT ON COLUMN reporting.segment_pages.cells IS 'The rows as table cells, U+001F between cells, a newline after each row';
COMMENT ON COLUMN reporting.segment_pages.widths IS 'Per column, the widest cell in terminal columns';
COMMENT ON COLUMN reporting.segment_pages.numeric IS 'Per column, whether every cell reads as a number (right-aligned)';
COMMENT ON VIEW reporting.paged_segments IS 'The segments whose report pages are written (reporting.segment_pages)';
COMMENT ON COLUMN reporting.paged_segments.projection IS 'Report: portfolio, labs, orders or supply';
COMMENT ON COLUMN reporting.paged_segments.segment IS 'A segment (reporting.history_segments) whose pages of this report are written';
