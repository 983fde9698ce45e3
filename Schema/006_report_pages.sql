-- Report pages: each report kept ready to print, a thousand rows to a page.
--
-- PostgreSQL and libpq spend about a microsecond per row each way, so 100,000 orders take
-- ~90 ms to come back row by row whatever the client does; a hundred pages of text come
-- back in ~10 ms. A page covers the keys from its first_key (byte order) up to the next
-- page's and holds those rows as the CSV lines `ledger report --format csv` prints, the
-- table cells `ledger report` prints, and each table column's width and alignment.
--
-- The projection runner marks a page stale (csv NULL) in the same transaction that
-- changes one of its rows, and renders stale pages again once caught up; readers render a
-- stale page from the rows themselves. The rebuild writes every page afresh in its swap.
-- Pages are derived data: `ledger verify` checks them against the rows.
CREATE TABLE projections.report_pages (
    projection  text    NOT NULL,
    first_key   text    COLLATE "C" NOT NULL,
    row_count   integer,
    csv         text,
    cells       text,
    widths      integer[],
    numeric     boolean[],
    PRIMARY KEY (projection, first_key),
    CHECK ((csv IS NULL) = (row_count IS NULL) AND (csv IS NULL) = (cells IS NULL))
);

-- Pages are read whole and often: stored out of line without compression, which reads
-- back faster than compressed text.
ALTER TABLE projections.report_pages
    ALTER COLUMN csv SET STORAGE EXTERNAL,
    ALTER COLUMN cells SET STORAGE EXTERNAL;

-- One stale page per report: the next `ledger projections run` renders the rows already
-- projected.
INSERT INTO projections.report_pages (projection, first_key)
VALUES ('portfolio', ''), ('labs', ''), ('orders', ''), ('supply', '');

REVOKE ALL ON projections.report_pages FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON projections.report_pages TO ledger_app;
