"""Stage ``alerts``: the scores of the latest snapshot -> this cycle's alert worklist.

``python -m alerts.alerts --params params.yaml --scores data/scores/latest.parquet
--orders data/interim/orders.parquet --worklist data/alerts/worklist.parquet
--csv data/alerts/worklist.csv --json data/alerts/worklist.json
--performance reports/alerts_performance.json``

Reads the alert history from the alert database (``alerts.db_url``, ``CHURN_DB_URL``
wins) for cooldown and "new since last cycle", stores the cycle's alerts there, writes
the files, and pushes undelivered alerts to the webhook when one is configured
(``alerts.webhook.url`` or ``CHURN_WEBHOOK_URL``). Last, it measures every stored alert
whose horizon the orders cover (:func:`alerts.measure.performance`, the numbers of
``GET /v1/alerts/performance``) into ``--performance``, which the analyst report shows.
See docs/alerts.md.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from alerts.files import write_files
from alerts.measure import next_due, performance, read_orders
from alerts.store import AlertStore, open_store, resolve_db_url
from alerts.webhook import WEBHOOK_URL_ENV, push_pending
from alerts.worklist import build_worklist, owner_note
from config.alerts import AlertsParams
from config.root import load_params
from config.stage import setup_logging, stage_args

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    """Build the worklist, store it, write the files, push the webhook, measure."""
    args = stage_args(argv, __doc__, "scores", "orders", "worklist", "csv", "json", "performance")
    setup_logging()
    params = load_params(args.params)
    cfg = params.alerts
    root = Path(args.params).resolve().parent
    store = open_store(resolve_db_url(cfg.db_url, root))
    scores = pd.read_parquet(args.scores)
    worklist = build_worklist(
        scores, store.history(), cfg, params.seed, horizon_days=params.features.horizon_days
    )
    stored = store.save_worklist(worklist.alerts)
    delivered = write_files(worklist.alerts, args.worklist, args.csv, args.json)
    console = Console()
    console.print(
        f"alerts: {worklist.counts}; {stored} new in the database; "
        f"{delivered} delivered to {args.csv}, {args.json}"
    )
    console.print(owner_note(scores, cfg))
    url = os.environ.get(WEBHOOK_URL_ENV) or cfg.webhook.url
    if url:
        result = push_pending(store, url, cfg.webhook)
        console.print(f"webhook: {result}")
    measured = measure_store(store, read_orders(args.orders), cfg, params.seed)
    _write_json(args.performance, measured)
    console.print(
        f"performance: {measured['measured_alerts']} alerts measured, "
        f"{measured['pending_alerts']} pending -> {args.performance}"
    )
    store.engine.dispose()


def measure_store(
    store: AlertStore, orders: pd.DataFrame, cfg: AlertsParams, seed: int
) -> dict[str, Any]:
    """Every stored alert measured on ``orders``, plus when the next one can be."""
    alerts = store.alerts_frame()
    result = performance(alerts, store.outcomes_frame(), orders, cfg.bootstrap, cfg.ci_level, seed)
    result["next_due"] = next_due(alerts, result["data_end"])
    return result


def _write_json(path: Path, body: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
