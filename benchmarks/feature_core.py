"""The operators every exact feature plan needs, alone: the ``core`` phase of bench_features.

Three catalog feature groups fix most of the batch plan's cost, whatever its shape:

* order counts, recency and tenure count *orders*, and an order is a set of lines
  (``order_id``), so lines must be de-duplicated into orders: a group-by on
  (customer, order) over every completed line;
* ``gap_mean_days`` / ``gap_std_days`` / ``gap_cv`` need the sum of squared gaps
  between *consecutive* orders, which no moment of the order times gives: a sort of
  each customer's orders by time (here the ``LAG`` window);
* ``products_90d`` / ``products_365d`` count distinct products per window: a group-by
  on (customer, product) over the last year of lines.

:func:`core_sql` computes just those (``orders_lifetime``, ``last_age``, ``first_age``,
``gap_n``, ``gap_sum``, ``gap_sq``, ``products_90d``, ``products_365d`` per customer
with a completed order before the cutoff), written directly in DuckDB SQL for one
cutoff, with none of the other features, no cutoff join, no population filter, no
label and no output order, and only the lines before the cutoff read past the scan
(which a plan for many cutoffs and a label cannot do). Its CPU time over the floor's
shows how much of a feature plan's ratio to the floor these operators take on their own;
``tests/test_benchmarks.py`` checks that its values equal the feature engine's.
"""

from __future__ import annotations

from features.labels import SECONDS_PER_DAY_INT as SECONDS_PER_DAY


def core_sql(source: str, cutoff_s: int) -> str:
    """The core query over the canonical lines at ``source`` (a SQL table expression)
    for the cutoff at whole epoch second ``cutoff_s``."""
    year, quarter = cutoff_s - 365 * SECONDS_PER_DAY, cutoff_s - 90 * SECONDS_PER_DAY
    return f"""
    WITH lines AS (
      SELECT customer_id, order_id, product_id,
             CAST(epoch(date_trunc('second', order_ts)) AS BIGINT) AS ts
      FROM {source}
      WHERE status = 'completed' AND order_ts < make_timestamp({cutoff_s} * 1000000::BIGINT)
    ),
    orders AS (
      SELECT customer_id, min(ts) AS ts FROM lines GROUP BY customer_id, order_id
    ),
    gaps AS (
      SELECT customer_id, ts, ts - lag(ts) OVER (PARTITION BY customer_id ORDER BY ts) AS gap
      FROM orders
    ),
    per_customer AS (
      SELECT customer_id, count(*) AS orders_lifetime,
             {cutoff_s} - max(ts) AS last_age, {cutoff_s} - min(ts) AS first_age,
             count(gap) AS gap_n, sum(gap) AS gap_sum, sum(gap * gap) AS gap_sq
      FROM gaps GROUP BY customer_id
    ),
    per_product AS (
      SELECT customer_id, product_id, max(ts) AS ts FROM lines
      WHERE ts >= {year} AND product_id IS NOT NULL
      GROUP BY customer_id, product_id
    ),
    products AS (
      SELECT customer_id, count(*) AS products_365d,
             count(*) FILTER (WHERE ts >= {quarter}) AS products_90d
      FROM per_product GROUP BY customer_id
    )
    SELECT per_customer.*, coalesce(products_90d, 0) AS products_90d,
           coalesce(products_365d, 0) AS products_365d
    FROM per_customer LEFT JOIN products USING (customer_id)
    """
