"""Stage ``alerts``: the scores of the latest snapshot -> this cycle's alert worklist.

``python -m alerts.alerts --params params.yaml --scores data/scores/latest.parquet
--worklist data/alerts/worklist.parquet --csv data/alerts/worklist.csv
--json data/alerts/worklist.json``

Reads the alert history from the alert database (``alerts.db_url``, ``CHURN_DB_URL``
wins) for cooldown and "new since last cycle", stores the cycle's alerts there, writes
the files, and pushes undelivered alerts to the webhook when one is configured
(``alerts.webhook.url`` or ``CHURN_WEBHOOK_URL``). See docs/alerts.md.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd
from rich.console import Console

from alerts.files import write_files
from alerts.store import open_store, resolve_db_url
from alerts.webhook import WEBHOOK_URL_ENV, push_pending
from alerts.worklist import build_worklist
from config.root import load_params
from config.stage import setup_logging, stage_args

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    """Parse args, build the worklist, store it, write the files, push the webhook."""
    args = stage_args(argv, __doc__, "scores", "worklist", "csv", "json")
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
    url = os.environ.get(WEBHOOK_URL_ENV) or cfg.webhook.url
    if url:
        result = push_pending(store, url, cfg.webhook)
        console.print(f"webhook: {result}")


if __name__ == "__main__":
    main()
