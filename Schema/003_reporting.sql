-- SQL reporting: views with the same columns as the JSON reports, for analysts' tools.
--
-- The views read the projection tables (and the event log) with their owner's rights, so
-- the role `ledger_reporting` needs nothing but SELECT on the views: it cannot read the
-- tables behind them, the idempotency keys, or append events.

CREATE SCHEMA reporting;

CREATE VIEW reporting.portfolio AS
SELECT investment, startup, round, instrument, currency, committed, disbursed, fair_value,
       proceeds, moic, status
FROM projections.portfolio;

CREATE VIEW reporting.labs AS
SELECT lab, name, city, currency, budget, spent, remaining, status, partners, milestones,
       spent_by_category
FROM projections.labs;

CREATE VIEW reporting.orders AS
SELECT "order", customer, sku, currency, quantity, unit_price, allocated, shipped, delivered,
       invoiced, paid, outstanding, status
FROM projections.orders;

CREATE VIEW reporting.supply AS
SELECT sku, received, allocated, shipped, available
FROM projections.supply;

CREATE VIEW reporting.events AS
SELECT position, stream, version, type, business_date AS date, recorded_at, payload, metadata
FROM public.events;

COMMENT ON SCHEMA reporting IS 'Read-only views for analysts; columns as the ledger''s JSON reports';

DO $$
BEGIN
    CREATE ROLE ledger_reporting NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- Functions are executable by PUBLIC by default: appending is for the application only.
REVOKE EXECUTE ON FUNCTION append_events(jsonb, jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON SCHEMA projections FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA projections FROM PUBLIC;
REVOKE ALL ON events, idempotency_keys FROM PUBLIC;

GRANT USAGE ON SCHEMA reporting TO ledger_reporting;
GRANT SELECT ON reporting.portfolio, reporting.labs, reporting.orders, reporting.supply,
    reporting.events TO ledger_reporting;

GRANT USAGE ON SCHEMA reporting TO ledger_app;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO ledger_app;
