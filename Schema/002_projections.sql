-- Projections: one table per report, kept up to date from the event log by
-- `ledger projections run` and rebuilt by `ledger projections rebuild`.
--
-- Each table holds the report's columns, named as the contract's JSON keys, exactly as the
-- domain computed them (fair value, MOIC, remaining, outstanding, status, available are
-- never recomputed in SQL), plus the state needed to load a row back into its domain type
-- and apply further events to it. Amounts are NUMERIC in major units, exact.
--
-- A projection's rows and its checkpoint change in the same transaction, so every event is
-- applied exactly once whatever instant the runner is stopped at.

-- Keys sort byte-wise (COLLATE "C"), as the ledger orders ids everywhere, so reports read
-- rows in key order straight from the primary key index instead of sorting them.
CREATE SCHEMA projections;

CREATE TABLE projections.portfolio (
    investment   text    COLLATE "C" PRIMARY KEY,
    startup      text    NOT NULL,
    round        text    NOT NULL,
    instrument   text    NOT NULL,
    currency     text    NOT NULL,
    committed    numeric NOT NULL,
    disbursed    numeric NOT NULL,
    fair_value   numeric NOT NULL,
    proceeds     numeric NOT NULL,
    moic         numeric,
    status       text    NOT NULL,
    -- State: the latest mark, if any (fair_value alone cannot tell "no mark" apart).
    latest_mark  numeric
);

CREATE TABLE projections.labs (
    lab                text    COLLATE "C" PRIMARY KEY,
    name               text    NOT NULL,
    city               text    NOT NULL,
    currency           text    NOT NULL,
    budget             numeric NOT NULL,
    spent              numeric NOT NULL,
    remaining          numeric NOT NULL,
    status             text    NOT NULL,
    partners           text[]  NOT NULL,
    -- [{"name": …, "date": "YYYY-MM-DD"}] in the order they were reached.
    milestones         jsonb   NOT NULL,
    -- {"facility": "0", "compute": "1250000", …}: every category, amounts as decimal strings.
    spent_by_category  jsonb   NOT NULL
);

CREATE TABLE projections.orders (
    "order"      text    COLLATE "C" PRIMARY KEY,
    customer     text    NOT NULL,
    sku          text    NOT NULL,
    currency     text    NOT NULL,
    quantity     bigint  NOT NULL,
    unit_price   numeric NOT NULL,
    allocated    bigint  NOT NULL,
    shipped      bigint  NOT NULL,
    delivered    bigint  NOT NULL,
    invoiced     numeric NOT NULL,
    paid         numeric NOT NULL,
    outstanding  numeric NOT NULL,
    status       text    NOT NULL,
    -- State: whether the order was cancelled, and its shipments
    -- ({"<shipment>": {"quantity": n, "delivered": bool}}) so a delivery counts once.
    cancelled    boolean NOT NULL,
    shipments    jsonb   NOT NULL
);

CREATE TABLE projections.supply (
    sku        text   COLLATE "C" PRIMARY KEY,
    received   bigint NOT NULL,
    allocated  bigint NOT NULL,
    shipped    bigint NOT NULL,
    available  bigint NOT NULL
);

-- How far each projection has read the log, in the log's order (transaction id, position).
CREATE TABLE projections.checkpoints (
    projection      text        PRIMARY KEY,
    transaction_id  bigint      NOT NULL DEFAULT 0,
    position        bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

INSERT INTO projections.checkpoints (projection)
VALUES ('portfolio'), ('labs'), ('orders'), ('supply');

GRANT USAGE ON SCHEMA projections TO ledger_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA projections TO ledger_app;
