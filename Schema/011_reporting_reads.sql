-- Everything a read command needs, in schema `reporting`.
--
-- A login granted only ledger_reporting may SELECT from schema reporting and nothing else,
-- yet `ledger report`, `ledger events` and `ledger projections status` read report pages,
-- checkpoints, fold state and the log in its reading order (transaction_id, position). So
-- the CLI's read paths go through the views below, not the tables: one path for every
-- role, and the same on a read-only hot standby. The views read the tables with their
-- owner's rights and are simple enough for PostgreSQL to inline, so the tables' indexes
-- (log order, key order) serve them as before.
--
-- log_horizon() (004) keeps its default EXECUTE for PUBLIC: a read of the settled log
-- calls it, and it reads nothing of the ledger's.
--
-- COMMENT ON for every view and column: analysts see them in \d+ and in BI tools.

CREATE VIEW reporting.checkpoints AS
SELECT projection, transaction_id, position, updated_at
FROM projections.checkpoints;

CREATE VIEW reporting.report_pages AS
SELECT projection, first_key, row_count, csv, cells, widths, numeric
FROM projections.report_pages;

CREATE VIEW reporting.portfolio_state AS
SELECT investment, startup, round, instrument, currency, committed, disbursed, fair_value,
       proceeds, moic, status, latest_mark
FROM projections.portfolio;

CREATE VIEW reporting.orders_state AS
SELECT "order", customer, sku, currency, quantity, unit_price, allocated, shipped, delivered,
       invoiced, paid, outstanding, status, cancelled, shipments
FROM projections.orders;

GRANT SELECT ON reporting.checkpoints, reporting.report_pages,
    reporting.portfolio_state, reporting.orders_state TO ledger_reporting, ledger_app;

-- The views of 003.
COMMENT ON VIEW reporting.portfolio IS
    'One row per investment, as `ledger report portfolio --format json`; as fresh as the last `ledger projections run` (see reporting.checkpoints)';
COMMENT ON COLUMN reporting.portfolio.investment IS 'Investment id (slug)';
COMMENT ON COLUMN reporting.portfolio.startup IS 'Startup id the investment is in';
COMMENT ON COLUMN reporting.portfolio.round IS 'Round, e.g. seed, series-a';
COMMENT ON COLUMN reporting.portfolio.instrument IS 'equity, safe or note';
COMMENT ON COLUMN reporting.portfolio.currency IS 'ISO 4217 code; every amount of the row is in it';
COMMENT ON COLUMN reporting.portfolio.committed IS 'Amount committed, major units';
COMMENT ON COLUMN reporting.portfolio.disbursed IS 'Amount paid in so far (cost basis), major units';
COMMENT ON COLUMN reporting.portfolio.fair_value IS 'Latest mark, else the cost basis; 0 after an exit or a write-off';
COMMENT ON COLUMN reporting.portfolio.proceeds IS 'Proceeds of an exit (realized), major units';
COMMENT ON COLUMN reporting.portfolio.moic IS '(fair_value + proceeds) / disbursed, 2 decimals; NULL when nothing is disbursed';
COMMENT ON COLUMN reporting.portfolio.status IS 'committed, active, exited or written_off';

COMMENT ON VIEW reporting.labs IS
    'One row per lab, as `ledger report labs --format json`; as fresh as the last `ledger projections run`';
COMMENT ON COLUMN reporting.labs.lab IS 'Lab id (slug)';
COMMENT ON COLUMN reporting.labs.name IS 'Lab name';
COMMENT ON COLUMN reporting.labs.city IS 'City the lab is in';
COMMENT ON COLUMN reporting.labs.currency IS 'ISO 4217 code of the budget and every expense';
COMMENT ON COLUMN reporting.labs.budget IS 'Planned budget plus every raise, major units';
COMMENT ON COLUMN reporting.labs.spent IS 'Sum of expenses, major units';
COMMENT ON COLUMN reporting.labs.remaining IS 'budget - spent, never negative';
COMMENT ON COLUMN reporting.labs.status IS 'planned, open or closed';
COMMENT ON COLUMN reporting.labs.partners IS 'Names of the institutes, universities and companies that joined';
COMMENT ON COLUMN reporting.labs.milestones IS 'JSON array of {name, date} in the order reached';
COMMENT ON COLUMN reporting.labs.spent_by_category IS 'JSON object: category (facility, equipment, staff, compute, other) to amount as a decimal string';

COMMENT ON VIEW reporting.orders IS
    'One row per GPU order, as `ledger report orders --format json`; as fresh as the last `ledger projections run`';
COMMENT ON COLUMN reporting.orders."order" IS 'Order id (slug)';
COMMENT ON COLUMN reporting.orders.customer IS 'Customer name';
COMMENT ON COLUMN reporting.orders.sku IS 'GPU product code ordered';
COMMENT ON COLUMN reporting.orders.currency IS 'ISO 4217 code of the price and every amount of the row';
COMMENT ON COLUMN reporting.orders.quantity IS 'Units ordered';
COMMENT ON COLUMN reporting.orders.unit_price IS 'Price per unit, major units';
COMMENT ON COLUMN reporting.orders.allocated IS 'Units allocated from stock (net of releases)';
COMMENT ON COLUMN reporting.orders.shipped IS 'Units dispatched';
COMMENT ON COLUMN reporting.orders.delivered IS 'Units delivered';
COMMENT ON COLUMN reporting.orders.invoiced IS 'Amount invoiced, major units';
COMMENT ON COLUMN reporting.orders.paid IS 'Amount paid, major units';
COMMENT ON COLUMN reporting.orders.outstanding IS 'invoiced - paid';
COMMENT ON COLUMN reporting.orders.status IS 'placed, allocated, partially_shipped, shipped, delivered or cancelled';

COMMENT ON VIEW reporting.supply IS
    'Stock per SKU, as `ledger report supply --format json`; as fresh as the last `ledger projections run`';
COMMENT ON COLUMN reporting.supply.sku IS 'GPU product code';
COMMENT ON COLUMN reporting.supply.received IS 'Units received into stock';
COMMENT ON COLUMN reporting.supply.allocated IS 'Units allocated to orders (net of releases)';
COMMENT ON COLUMN reporting.supply.shipped IS 'Units shipped';
COMMENT ON COLUMN reporting.supply.available IS 'received - allocated: units free to allocate';

COMMENT ON VIEW reporting.events IS
    'The event log, one row per event, as `ledger events --format json`; always current (no projection behind it)';
COMMENT ON COLUMN reporting.events.position IS 'Global position (gaps possible; read in log order via reporting.event_log)';
COMMENT ON COLUMN reporting.events.stream IS 'Stream, e.g. order-ntt-001, supply-h100-sxm5-80gb';
COMMENT ON COLUMN reporting.events.version IS 'Version within the stream, from 1, no gaps';
COMMENT ON COLUMN reporting.events.type IS 'Event type, e.g. order.placed';
COMMENT ON COLUMN reporting.events.date IS 'Business date: when it happened';
COMMENT ON COLUMN reporting.events.recorded_at IS 'When the ledger stored it';
COMMENT ON COLUMN reporting.events.payload IS 'The event''s facts (JSON; amounts as decimal strings)';
COMMENT ON COLUMN reporting.events.metadata IS 'actor, command, idempotency_key, correlation id (JSON)';

-- The views for the ledger's own read commands (reporting.event_log: 008).
COMMENT ON COLUMN reporting.event_log.position IS 'Global position, handed out before commit (gaps possible)';
COMMENT ON COLUMN reporting.event_log.transaction_id IS 'Writing transaction; the log order is (transaction_id, position)';
COMMENT ON COLUMN reporting.event_log.stream IS 'Stream, e.g. order-ntt-001';
COMMENT ON COLUMN reporting.event_log.version IS 'Version within the stream, from 1, no gaps';
COMMENT ON COLUMN reporting.event_log.type IS 'Event type, e.g. order.placed';
COMMENT ON COLUMN reporting.event_log.schema_version IS 'Version of the payload''s shape for this type';
COMMENT ON COLUMN reporting.event_log.payload IS 'The event''s facts (JSON)';
COMMENT ON COLUMN reporting.event_log.metadata IS 'actor, command, idempotency_key, correlation id (JSON)';
COMMENT ON COLUMN reporting.event_log.business_date IS 'Business date: when it happened';
COMMENT ON COLUMN reporting.event_log.recorded_at IS 'When the ledger stored it';
COMMENT ON COLUMN reporting.event_log.event_id IS 'Unique id of the event (UUID)';
COMMENT ON COLUMN reporting.event_log.hash IS 'SHA-256 over the previous event of the stream''s hash and this event''s canonical JSON';

COMMENT ON VIEW reporting.checkpoints IS
    'How far each projection has applied the log: reports are behind by the events after it';
COMMENT ON COLUMN reporting.checkpoints.projection IS 'portfolio, labs, orders or supply';
COMMENT ON COLUMN reporting.checkpoints.transaction_id IS 'Log order of the last event applied: its transaction';
COMMENT ON COLUMN reporting.checkpoints.position IS 'Position of the last event applied (0: none yet)';
COMMENT ON COLUMN reporting.checkpoints.updated_at IS 'When the projection last moved';

COMMENT ON VIEW reporting.report_pages IS
    'Reports kept ready to print, ~1,000 rows a page in key order; a page with NULL csv is stale and printed from the rows instead';
COMMENT ON COLUMN reporting.report_pages.projection IS 'Report: portfolio, labs, orders or supply';
COMMENT ON COLUMN reporting.report_pages.first_key IS 'First key the page covers (byte order), up to the next page''s';
COMMENT ON COLUMN reporting.report_pages.row_count IS 'Rows on the page; NULL when stale';
COMMENT ON COLUMN reporting.report_pages.csv IS 'The rows as `ledger report --format csv` prints them; NULL when stale';
COMMENT ON COLUMN reporting.report_pages.cells IS 'The rows'' table cells; NULL when stale';
COMMENT ON COLUMN reporting.report_pages.widths IS 'Widest cell per table column, in terminal columns';
COMMENT ON COLUMN reporting.report_pages.numeric IS 'Per table column: right-aligned (numeric)';

COMMENT ON VIEW reporting.portfolio_state IS
    'reporting.portfolio plus the state the ledger folds further events into (latest_mark)';
COMMENT ON COLUMN reporting.portfolio_state.investment IS 'Investment id (slug)';
COMMENT ON COLUMN reporting.portfolio_state.startup IS 'Startup id the investment is in';
COMMENT ON COLUMN reporting.portfolio_state.round IS 'Round, e.g. seed, series-a';
COMMENT ON COLUMN reporting.portfolio_state.instrument IS 'equity, safe or note';
COMMENT ON COLUMN reporting.portfolio_state.currency IS 'ISO 4217 code; every amount of the row is in it';
COMMENT ON COLUMN reporting.portfolio_state.committed IS 'Amount committed, major units';
COMMENT ON COLUMN reporting.portfolio_state.disbursed IS 'Amount paid in so far (cost basis), major units';
COMMENT ON COLUMN reporting.portfolio_state.fair_value IS 'Latest mark, else the cost basis; 0 after an exit or a write-off';
COMMENT ON COLUMN reporting.portfolio_state.proceeds IS 'Proceeds of an exit (realized), major units';
COMMENT ON COLUMN reporting.portfolio_state.moic IS '(fair_value + proceeds) / disbursed, 2 decimals; NULL when nothing is disbursed';
COMMENT ON COLUMN reporting.portfolio_state.status IS 'committed, active, exited or written_off';
COMMENT ON COLUMN reporting.portfolio_state.latest_mark IS 'The latest mark; NULL when never marked';

COMMENT ON VIEW reporting.orders_state IS
    'reporting.orders plus the state the ledger folds further events into (cancelled, shipments)';
COMMENT ON COLUMN reporting.orders_state."order" IS 'Order id (slug)';
COMMENT ON COLUMN reporting.orders_state.customer IS 'Customer name';
COMMENT ON COLUMN reporting.orders_state.sku IS 'GPU product code ordered';
COMMENT ON COLUMN reporting.orders_state.currency IS 'ISO 4217 code of the price and every amount of the row';
COMMENT ON COLUMN reporting.orders_state.quantity IS 'Units ordered';
COMMENT ON COLUMN reporting.orders_state.unit_price IS 'Price per unit, major units';
COMMENT ON COLUMN reporting.orders_state.allocated IS 'Units allocated from stock (net of releases)';
COMMENT ON COLUMN reporting.orders_state.shipped IS 'Units dispatched';
COMMENT ON COLUMN reporting.orders_state.delivered IS 'Units delivered';
COMMENT ON COLUMN reporting.orders_state.invoiced IS 'Amount invoiced, major units';
COMMENT ON COLUMN reporting.orders_state.paid IS 'Amount paid, major units';
COMMENT ON COLUMN reporting.orders_state.outstanding IS 'invoiced - paid';
COMMENT ON COLUMN reporting.orders_state.status IS 'placed, allocated, partially_shipped, shipped, delivered or cancelled';
COMMENT ON COLUMN reporting.orders_state.cancelled IS 'Whether the order was cancelled';
COMMENT ON COLUMN reporting.orders_state.shipments IS 'JSON object: shipment id to {quantity, delivered}, so a delivery counts once';

-- The digest's views (008) described column by column too.
COMMENT ON COLUMN reporting.log_leaves.index IS 'Leaf number, from 0, in log order';
COMMENT ON COLUMN reporting.log_leaves.position IS 'Position of the event the leaf is';
COMMENT ON COLUMN reporting.log_leaves.hash IS 'The event''s stored hash; its leaf hash is SHA-256(0x00 || hash)';
COMMENT ON COLUMN reporting.log_nodes.level IS 'Height of the subtree: 0 for leaf hashes';
COMMENT ON COLUMN reporting.log_nodes.index IS 'Which subtree of its level: it covers leaves index * 2^level up to (index + 1) * 2^level - 1';
COMMENT ON COLUMN reporting.log_nodes.hash IS 'RFC 6962 hash of the complete subtree';
