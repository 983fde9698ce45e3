-- Lab spend by month and category, from the event log (business dates, not recording
-- times). Version 1 expenses had no category: they count as "other", as in the reports.
SELECT payload->>'lab'                                    AS lab,
       date_trunc('month', date)::date                    AS month,
       coalesce(payload->>'category', 'other')            AS category,
       payload->>'currency'                               AS currency,
       sum((payload->>'amount')::numeric)                 AS spent,
       count(*)                                           AS expenses
FROM reporting.events
WHERE type = 'lab.expense_recorded'
GROUP BY 1, 2, 3, 4
ORDER BY lab, month, category;
