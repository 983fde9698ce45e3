-- MOIC by instrument: (fair value + proceeds) / cost basis over every investment made with
-- that instrument, per currency (amounts in different currencies are never added).
-- Investments with nothing disbursed do not count towards the ratio.
SELECT instrument,
       currency,
       count(*)                                                             AS investments,
       sum(disbursed)                                                       AS disbursed,
       sum(fair_value)                                                      AS fair_value,
       sum(proceeds)                                                        AS proceeds,
       round((sum(fair_value) + sum(proceeds)) / nullif(sum(disbursed), 0), 2) AS moic
FROM reporting.portfolio
WHERE disbursed > 0
GROUP BY instrument, currency
ORDER BY instrument, currency;
