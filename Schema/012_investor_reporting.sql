-- Investor reporting (issue #13): the fund report as `reporting.fund` for SQL users, in
-- each investment's own currency, with the XIRR solver the CLI uses.
--
-- Both read the event log with the view owner's rights, as the other reporting views do.
-- Conversion into a reporting currency stays in the CLI (`ledger report fund --currency`):
-- it needs the FX rule of the contract, which a view would have to duplicate.
--
-- An event reversed by an `entry.reversed` dated today or earlier counts as never having
-- happened (the contract's rule for reversals), so the view agrees with the CLI.

-- XIRR (actual/365 from the first flow), as Excel and LibreOffice define it and as the CLI
-- solves it (Sources/Ledger/Reports/XIRR.swift): Newton from 10%, else bisection on the
-- first sign change. Rounded to 4 decimals, half away from zero; NULL when no rate solves
-- it (no flows, or flows all of one sign — an investment written off).
CREATE FUNCTION reporting.xirr(amounts numeric[], dates date[]) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    a float8[] := '{}';
    t float8[] := '{}';
    first_date date;
    scale float8 := 0;
    r float8 := 0.1;
    nxt float8;
    f float8;
    df float8;
    grid float8[] := ARRAY[-0.999999, -0.99, -0.9, -0.75, -0.5, -0.25, 0, 0.25, 0.5, 1, 2, 5, 10, 100,
                           1e3, 1e4, 1e5, 1e6, 1e7];
    lo float8;
    hi float8;
    f_lo float8;
    f_hi float8;
    mid float8;
    f_mid float8;
    found_bracket boolean := false;
BEGIN
    FOR i IN 1 .. coalesce(array_length(amounts, 1), 0) LOOP
        IF amounts[i] <> 0 THEN
            first_date := least(first_date, dates[i]);  -- LEAST ignores the initial NULL
        END IF;
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(amounts, 1), 0) LOOP
        IF amounts[i] <> 0 THEN
            a := a || amounts[i]::float8;
            t := t || ((dates[i] - first_date) / 365.0)::float8;
            scale := greatest(scale, abs(amounts[i]::float8));
        END IF;
    END LOOP;
    IF NOT (0 > ANY (a) AND 0 < ANY (a)) THEN
        RETURN NULL;
    END IF;

    FOR k IN 1 .. 100 LOOP
        f := reporting.xirr_value(a, t, r);
        df := reporting.xirr_derivative(a, t, r);
        EXIT WHEN f IS NULL OR df IS NULL OR df = 0;
        nxt := r - f / df;
        EXIT WHEN nxt <= -1 OR nxt = 'Infinity'::float8 OR nxt = '-Infinity'::float8 OR nxt = 'NaN'::float8;
        IF abs(nxt - r) <= 1e-12 * greatest(1, abs(nxt)) THEN
            f := reporting.xirr_value(a, t, nxt);
            IF f IS NOT NULL AND abs(f) <= 1e-9 * scale AND nxt < 1e7 THEN
                RETURN round(nxt::numeric, 4);
            END IF;
            EXIT;
        END IF;
        r := nxt;
    END LOOP;

    FOR k IN 1 .. array_length(grid, 1) - 1 LOOP
        f_lo := reporting.xirr_value(a, t, grid[k]);
        f_hi := reporting.xirr_value(a, t, grid[k + 1]);
        CONTINUE WHEN f_lo IS NULL OR f_hi IS NULL;
        IF f_lo = 0 THEN
            RETURN round(grid[k]::numeric, 4);
        END IF;
        IF (f_lo < 0) <> (f_hi < 0) THEN
            lo := grid[k];
            hi := grid[k + 1];
            found_bracket := true;
            EXIT;
        END IF;
    END LOOP;
    IF NOT found_bracket THEN
        RETURN NULL;
    END IF;
    FOR k IN 1 .. 200 LOOP
        mid := (lo + hi) / 2;
        f_mid := reporting.xirr_value(a, t, mid);
        EXIT WHEN f_mid = 0 OR (hi - lo) <= 1e-15 * greatest(1, abs(mid));
        IF (f_mid < 0) = (f_lo < 0) THEN
            lo := mid;
            f_lo := f_mid;
        ELSE
            hi := mid;
        END IF;
    END LOOP;
    RETURN round(((lo + hi) / 2)::numeric, 4);
END
$$;

-- Σ aᵢ / (1 + r)^tᵢ; NULL where a term leaves double precision's range.
CREATE FUNCTION reporting.xirr_value(a float8[], t float8[], r float8) RETURNS float8
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    total float8 := 0;
    e float8;
BEGIN
    FOR i IN 1 .. array_length(a, 1) LOOP
        e := -t[i] * ln(1 + r);
        IF e > 700 THEN RETURN NULL; END IF;
        total := total + a[i] * exp(e);
    END LOOP;
    RETURN total;
END
$$;

-- d/dr of the above: Σ −tᵢ aᵢ / (1 + r)^(tᵢ + 1).
CREATE FUNCTION reporting.xirr_derivative(a float8[], t float8[], r float8) RETURNS float8
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    total float8 := 0;
    e float8;
BEGIN
    FOR i IN 1 .. array_length(a, 1) LOOP
        CONTINUE WHEN t[i] = 0;
        e := -(t[i] + 1) * ln(1 + r);
        IF e > 700 THEN RETURN NULL; END IF;
        total := total - t[i] * a[i] * exp(e);
    END LOOP;
    RETURN total;
END
$$;

COMMENT ON FUNCTION reporting.xirr(numeric[], date[]) IS
    'XIRR of dated cash flows (actual/365), 4 decimals, NULL when no rate solves it; as ledger report fund';

-- The events a current report counts: investment and startup facts dated today or earlier
-- and not reversed by today.
CREATE VIEW reporting.fund AS
WITH live AS (
    SELECT e.position, e.transaction_id, e.type, e.payload, e.business_date
    FROM public.events e
    WHERE (e.stream LIKE 'investment-%' OR e.stream LIKE 'startup-%')
      AND e.business_date <= current_date
      AND NOT EXISTS (
          SELECT 1 FROM public.events r
          WHERE r.stream = e.stream AND r.type = 'entry.reversed'
            AND r.payload->>'reverses' = e.position::text AND r.business_date <= current_date)
),
investments AS (
    SELECT payload->>'investment' AS investment, payload->>'startup' AS startup,
           payload->>'instrument' AS instrument, payload->>'currency' AS currency
    FROM live WHERE type = 'investment.committed'
),
names AS (
    SELECT DISTINCT ON (payload->>'startup') payload->>'startup' AS startup, payload->>'name' AS name
    FROM live WHERE type = 'startup.registered'
    ORDER BY payload->>'startup', transaction_id, position
),
flows AS (
    SELECT payload->>'investment' AS investment, business_date AS date,
           -((payload->>'amount')::numeric) AS amount
    FROM live WHERE type = 'investment.disbursed'
    UNION ALL
    SELECT payload->>'investment', business_date, (payload->>'proceeds')::numeric
    FROM live WHERE type = 'investment.exited'
),
-- The latest mark in log order, as the report folds it.
marks AS (
    SELECT DISTINCT ON (payload->>'investment') payload->>'investment' AS investment,
           (payload->>'fair_value')::numeric AS fair_value
    FROM live WHERE type = 'investment.marked'
    ORDER BY payload->>'investment', transaction_id DESC, position DESC
),
closed AS (
    SELECT DISTINCT payload->>'investment' AS investment
    FROM live WHERE type IN ('investment.exited', 'investment.written_off')
),
rows AS (
    SELECT i.investment, i.startup, n.name AS startup_name, i.instrument, i.currency,
           coalesce(sum(-f.amount) FILTER (WHERE f.amount < 0), 0) AS paid_in,
           coalesce(sum(f.amount) FILTER (WHERE f.amount > 0), 0) AS distributions,
           CASE WHEN c.investment IS NOT NULL THEN 0
                ELSE coalesce(m.fair_value, sum(-f.amount) FILTER (WHERE f.amount < 0), 0) END AS nav,
           coalesce(array_agg(f.amount) FILTER (WHERE f.amount IS NOT NULL), '{}') AS amounts,
           coalesce(array_agg(f.date) FILTER (WHERE f.amount IS NOT NULL), '{}') AS dates
    FROM investments i
    LEFT JOIN names n ON n.startup = i.startup
    LEFT JOIN flows f ON f.investment = i.investment
    LEFT JOIN marks m ON m.investment = i.investment
    LEFT JOIN closed c ON c.investment = i.investment
    GROUP BY i.investment, i.startup, n.name, i.instrument, i.currency, c.investment, m.fair_value
),
-- A TOTAL row per currency pools the flows of its rows (each with its NAV today).
totals AS (
    SELECT r.currency, sum(r.paid_in) AS paid_in, sum(r.distributions) AS distributions, sum(r.nav) AS nav,
           (SELECT array_agg(u.a) FROM rows p, unnest(p.amounts || p.nav) AS u(a) WHERE p.currency = r.currency)
               AS amounts,
           (SELECT array_agg(u.d) FROM rows p, unnest(p.dates || current_date) AS u(d) WHERE p.currency = r.currency)
               AS dates
    FROM rows r
    GROUP BY r.currency
)
SELECT investment, startup, startup_name, instrument, currency, paid_in, distributions, nav,
       CASE WHEN paid_in > 0 THEN round(distributions / paid_in, 2) END AS dpi,
       CASE WHEN paid_in > 0 THEN round(nav / paid_in, 2) END AS rvpi,
       CASE WHEN paid_in > 0 THEN round((distributions + nav) / paid_in, 2) END AS tvpi,
       reporting.xirr(amounts || nav, dates || current_date) AS irr
FROM rows
UNION ALL
SELECT 'TOTAL', NULL, NULL, NULL, currency, paid_in, distributions, nav,
       CASE WHEN paid_in > 0 THEN round(distributions / paid_in, 2) END,
       CASE WHEN paid_in > 0 THEN round(nav / paid_in, 2) END,
       CASE WHEN paid_in > 0 THEN round((distributions + nav) / paid_in, 2) END,
       reporting.xirr(amounts, dates)
FROM totals;

COMMENT ON VIEW reporting.fund IS
    'The fund report in native currencies: paid-in, distributions, NAV, DPI, RVPI, TVPI, IRR per investment and a TOTAL row per currency, as of today';

COMMENT ON COLUMN reporting.fund.investment IS 'Investment id, or TOTAL for the pooled row of a currency';
COMMENT ON COLUMN reporting.fund.startup IS 'Startup id (null on TOTAL rows)';
COMMENT ON COLUMN reporting.fund.startup_name IS 'The startup''s registered name (null on TOTAL rows)';
COMMENT ON COLUMN reporting.fund.instrument IS 'equity, safe or note (null on TOTAL rows)';
COMMENT ON COLUMN reporting.fund.currency IS 'ISO 4217 code of every amount in the row (native currency; no conversion in SQL)';
COMMENT ON COLUMN reporting.fund.paid_in IS 'Paid-in capital: the sum of disbursements, in major units';
COMMENT ON COLUMN reporting.fund.distributions IS 'Distributions: the sum of exit proceeds, in major units';
COMMENT ON COLUMN reporting.fund.nav IS 'Net asset value today: the latest mark, else the cost basis; 0 after an exit or a write-off';
COMMENT ON COLUMN reporting.fund.dpi IS 'Distributions / paid-in, 2 decimals; null when nothing is paid in';
COMMENT ON COLUMN reporting.fund.rvpi IS 'NAV / paid-in, 2 decimals; null when nothing is paid in';
COMMENT ON COLUMN reporting.fund.tvpi IS '(Distributions + NAV) / paid-in, 2 decimals; null when nothing is paid in';
COMMENT ON COLUMN reporting.fund.irr IS 'Annual IRR (XIRR day count, actual/365) of -disbursements, +proceeds and +NAV today; null when no rate solves it';

GRANT SELECT ON reporting.fund TO ledger_reporting, ledger_app;
