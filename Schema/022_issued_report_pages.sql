-- Issued reports as rendered pages: `ledger report X --as-issued DATE` prints a copy.
--
-- 015 stores each report as issued at a close as one jsonb state per row
-- (issued_reports); `--as-issued` decoded ~107,000 of them and rendered every row's cells
-- again on every request (seconds of client CPU over a 1M-event ledger). What was issued
-- never changes, so it is rendered once, when the projector stores the close, into pages
-- shaped as the current state's (Schema/006 report_pages: CSV lines for CSV and JSON,
-- table cells with each column's width and alignment for the table and HTML), and a
-- report as issued is a page copy.
--
-- The pages are rendered from the stored states (issued_reports), never refolded: a close
-- stored before this migration gets its pages from its own stored rows the next time the
-- projector runs, byte for byte what it printed before; until then readers render those
-- rows as before. Pages are ordered by their number (not by key collation) and a close has
-- pages for all four reports or for none (written in one transaction; an empty report has
-- one page of no rows).
--
-- Issued copies are what was issued: `ledger projections rebuild` keeps them (it no longer
-- deletes issued_closes), so they survive a change to a fold.
CREATE TABLE projections.issued_pages (
    close_position bigint  NOT NULL REFERENCES projections.issued_closes ON DELETE CASCADE,
    projection     text    NOT NULL,
    page           integer NOT NULL,
    row_count      integer NOT NULL,
    csv            text    NOT NULL,
    cells          text    NOT NULL,
    widths         integer[] NOT NULL,
    numeric        boolean[] NOT NULL,
    PRIMARY KEY (close_position, projection, page)
);

-- Read whole: out of line without compression, as report_pages (006).
ALTER TABLE projections.issued_pages
    ALTER COLUMN csv SET STORAGE EXTERNAL,
    ALTER COLUMN cells SET STORAGE EXTERNAL;

REVOKE ALL ON projections.issued_pages FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON projections.issued_pages TO ledger_app;

-- Read commands read them through schema reporting (reporting logins, a hot standby).
CREATE VIEW reporting.issued_pages AS
SELECT p.close_position, c.through, p.projection, p.page, p.row_count, p.csv, p.cells, p.widths, p.numeric
FROM projections.issued_pages p JOIN projections.issued_closes c USING (close_position);

GRANT SELECT ON reporting.issued_pages TO ledger_reporting, ledger_app;

COMMENT ON VIEW reporting.issued_pages IS
    'Each report as issued at a period close, rendered as printed (ledger report --as-issued); stored by ledger projections run';
COMMENT ON COLUMN reporting.issued_pages.close_position IS 'Position of the period.closed event';
COMMENT ON COLUMN reporting.issued_pages.through IS 'The closed period''s last day';
COMMENT ON COLUMN reporting.issued_pages.projection IS 'Report: portfolio, labs, orders or supply';
COMMENT ON COLUMN reporting.issued_pages.page IS 'Page number, from 0, in key order';
COMMENT ON COLUMN reporting.issued_pages.row_count IS 'Rows on the page';
COMMENT ON COLUMN reporting.issued_pages.csv IS 'The rows as CSV lines of exact values (ledger report --format csv and json print from them)';
COMMENT ON COLUMN reporting.issued_pages.cells IS 'The rows as table cells, U+001F between cells, a newline after each row';
COMMENT ON COLUMN reporting.issued_pages.widths IS 'Per column, the widest cell in terminal columns';
COMMENT ON COLUMN reporting.issued_pages.numeric IS 'Per column, whether every cell reads as a number (right-aligned)';
