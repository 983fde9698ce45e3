-- Backlog by customer: units still to ship on orders that are not cancelled, and what the
-- customer still owes, per currency. Run as a member of ledger_reporting:
--   psql "$DATABASE_URL" -f Schema/examples/backlog_by_customer.sql
SELECT customer,
       currency,
       count(*)                                               AS open_orders,
       sum(quantity - shipped)                                AS backlog_units,
       sum((quantity - shipped) * unit_price)                 AS backlog_value,
       sum(outstanding)                                       AS outstanding
FROM reporting.orders
WHERE status <> 'cancelled' AND shipped < quantity
GROUP BY customer, currency
ORDER BY customer, currency;
