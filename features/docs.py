"""Generate ``docs/FEATURES.md`` from the feature catalog.

Usage::

    python -m features.docs --out docs/FEATURES.md          # write
    python -m features.docs --out docs/FEATURES.md --check  # exit 1 when stale

A test compares the committed page with :func:`render_features_markdown`, so the page
cannot drift from :data:`features.catalog.CATALOG`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from features.catalog import CATALOG, CATALOG_VERSION, Family, Feature

INTRO = """\
# Features

Generated from `features/catalog.py` (catalog version {version}) by
`python -m features.docs --out docs/FEATURES.md`; do not edit by hand.

## Time discipline and labels

- Every feature is computed **as of a cutoff `T`** from order lines with
  `order_ts < T` only. "In the last N days" means `order_ts` in `[T - N days, T)`;
  "the 90 days before" means `[T - 180 days, T - 90 days)`. Times are compared in whole
  seconds; day values are seconds / 86400 (fractional days).
- An **order** is the set of *completed* lines sharing `order_id`; its time is its
  earliest line. **Spend** is the sum of `amount` over completed lines. Returned and
  cancelled lines feed only the `RETURNS` features (as absolute values).
- Money and time sums are exact integers (millionths of the currency, seconds), so
  DuckDB, Spark and the online path give bit-identical results.
- **Population** at `T`: customers with at least one completed order in
  `[T - features.lookback_days, T)`. **Label** = 1 (churned) when the customer has no
  completed order in `[T, T + features.horizon_days)`, else 0.
- **Cutoffs**: the latest snapshot is taken at `data_end` = midnight after the day of
  the last order (no label). Labelled cutoffs are
  `T_k = data_end - horizon_days - k * cutoff_step_days` for `k < n_cutoffs`;
  cutoffs earlier than the first order day + `features.min_history_days` are skipped
  (listed in `reports/features.json`).
- Features whose `requires` column is absent from the orders (e.g. `category`) are
  **omitted**, not zero-filled; `reports/features.json` lists them and why.
- A missing value (empty cell) means "undefined", e.g. a trend with an empty earlier
  window; counts are never missing (0 when no order).

## Running

- `dvc repro features` runs `python -m features.features` and writes
  `data/processed/snapshots.parquet` (`customer_id`, `cutoff`, active features in catalog
  order, `label` int8), `data/processed/latest.parquet` (same without `label`) and
  `reports/features.json` (active/omitted features, rows and label rate per cutoff).
- Engine: `features.engine: duckdb` (default; memory cap and spill directory in
  `features.duckdb`) or `spark` (PySpark local mode, settings in `features.spark`;
  needs Java 17). Both run the same Ibis expressions (`features/expressions.py`);
  `tests/features/test_spark_parity.py` checks they agree.
- Batch plan: one group-by of the lines per order, before any cutoff
  (`features/order_table.py`: each order's earliest completed and cancelled line and
  its completed spend), feeds the order counts, gaps, cancellations, every spend
  window and the label for every cutoff; the lines of the last 365 days, joined once
  per cutoff, feed the product and category windows and the returned/cancelled value.
  Orders whose completed lines span several seconds are re-read line by line, so the
  shortcuts are exact; `tests/features/test_batch_plan.py` checks them against a
  brute-force computation.
- Online: `features.build_online(orders, as_of, params, *, columns=None)` takes one or
  a few customers' canonical order lines (records or a DataFrame) and returns the
  columns of `latest.parquet`. It evaluates the same definitions in-process with numpy
  (`features/inprocess.py`: the same integer money, whole-second windows and null
  rules), with no database round-trip; `tests/features/test_online.py` (bundled data)
  and a hypothesis test over random order histories
  (`tests/features/test_online_property.py`) check it equals the batch engine to the
  bit. A catalog feature not yet computed in-process is served by the batch query
  compiled to DuckDB instead (slower, same values), and
  `test_every_catalog_feature_is_in_process` fails until it is added there. Pass
  `columns=` the canonical columns of the batch data so the feature set matches.
  Unlike the batch population, the lookback is not applied (a lapsed customer still
  gets a row); a customer with no completed order before `as_of` gets none.
- Benchmark: `python -m benchmarks.bench_features` (10M lines, 1M customers; smaller
  with `--rows/--customers`); figures and commands in `benchmarks/README.md`.
"""


def _row(feature: Feature) -> str:
    requires = ", ".join(f"`{c}`" for c in feature.requires) or "-"
    cells = [f"`{feature.name}`", feature.window, feature.unit, requires, feature.description]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _family_section(family: Family) -> list[str]:
    members = [f for f in CATALOG if f.family is family]
    lines = [f"### {family.value}", ""]
    lines.append("| feature | window | unit | requires | definition |")
    lines.append("|---|---|---|---|---|")
    lines.extend(_row(f) for f in members)
    lines.append("")
    lines.append("Reason sentences (en / zh-CN):")
    lines.append("")
    for f in members:
        lines.append(f"- `{f.name}`: {f.template_en} / {f.template_zh}")
    lines.append("")
    return lines


def render_features_markdown() -> str:
    """The feature page: definitions and reason templates, grouped by reason family."""
    lines = [INTRO.format(version=CATALOG_VERSION), "## Features by reason family", ""]
    lines.append(f"{len(CATALOG)} features in catalog order (the column order of the snapshots).")
    lines.append("")
    for family in Family:
        if any(f.family is family for f in CATALOG):
            lines.extend(_family_section(family))
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    """Write the page, or with ``--check`` exit 1 when the committed page is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render_features_markdown()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            sys.stderr.write(f"{args.out} is stale: run python -m features.docs --out {args.out}\n")
            raise SystemExit(1)
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
