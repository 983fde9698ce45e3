-- The portfolio report gains the startup's name and the terms of the commitment (issue #13):
-- `startup_name`, `ownership` (percent) and `post_money` (the post-money valuation, in the
-- investment's currency), after `status` — new columns go last, a view keeps the columns it
-- has.
--
-- They are columns of the projection, written by the runner, the rebuild and checked by
-- verify like every other, so a current report prints them from its pages. The name lives on
-- the startup's stream, not the investment's: the program looks it up from the registration
-- (names never change). Ownership is kept as the commitment recorded it (text: `007.5` stays
-- `007.5` in the JSON report); reporting.portfolio shows it as a number for SQL users.
--
-- Rows written before this migration are filled here from the events, exactly as a rebuild
-- would fill them (a reversed commitment or registration changes nothing: the runner keeps a
-- row's terms and name from its commitment and its startup's registration too), and the
-- portfolio's report pages are marked stale, so readers render them from the rows until the
-- next `ledger projections run` renders them again.

ALTER TABLE projections.portfolio
    ADD COLUMN startup_name text,
    ADD COLUMN ownership    text,
    ADD COLUMN post_money   numeric;

UPDATE projections.portfolio p
SET startup_name = s.name
FROM (SELECT DISTINCT ON (stream) substr(stream, 9) AS startup, payload->>'name' AS name
      FROM public.events WHERE type = 'startup.registered' ORDER BY stream, version) s
WHERE s.startup = p.startup;

UPDATE projections.portfolio p
SET ownership = c.payload->>'ownership', post_money = (c.payload->>'post_money')::numeric
FROM public.events c
WHERE c.stream = 'investment-' || p.investment AND c.type = 'investment.committed';

UPDATE projections.report_pages
SET row_count = NULL, csv = NULL, cells = NULL, widths = NULL, numeric = NULL
WHERE projection = 'portfolio';

CREATE OR REPLACE VIEW reporting.portfolio AS
SELECT investment, startup, round, instrument, currency, committed, disbursed, fair_value,
       proceeds, moic, status, startup_name, ownership::numeric AS ownership, post_money
FROM projections.portfolio;

CREATE OR REPLACE VIEW reporting.portfolio_state AS
SELECT investment, startup, round, instrument, currency, committed, disbursed, fair_value,
       proceeds, moic, status, latest_mark, startup_name, ownership, post_money
FROM projections.portfolio;

COMMENT ON COLUMN reporting.portfolio.startup_name IS 'The startup''s registered name';
COMMENT ON COLUMN reporting.portfolio.ownership IS 'Ownership percentage recorded with the commitment (3.5 = 3.5%); NULL when not recorded';
COMMENT ON COLUMN reporting.portfolio.post_money IS 'Post-money valuation recorded with the commitment, major units of the row''s currency; NULL when not recorded';
COMMENT ON COLUMN reporting.portfolio_state.startup_name IS 'The startup''s registered name';
COMMENT ON COLUMN reporting.portfolio_state.ownership IS 'Ownership percentage as the commitment recorded it (text, e.g. 3.5); NULL when not recorded';
COMMENT ON COLUMN reporting.portfolio_state.post_money IS 'Post-money valuation recorded with the commitment, major units of the row''s currency; NULL when not recorded';
