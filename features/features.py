"""The ``features`` stage: labelled snapshots and the latest unlabelled snapshot.

Usage::

    python -m features.features --params params.yaml --orders data/interim/orders.parquet \\
        --snapshots data/processed/snapshots.parquet --latest data/processed/latest.parquet \\
        --report reports/features.json --signals data/interim/signals
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from config.features import FeatureParams
from config.root import load_params
from config.stage import setup_logging, stage_args
from features.catalog import CATALOG, CATALOG_VERSION, feature_names
from features.engines import Engine, open_engine
from features.labels import label_summary
from features.owner import has_owner, owner_as_of, with_owner
from features.schedule import Schedule, build_schedule

logger = logging.getLogger(__name__)


def omitted_features(columns: frozenset[str]) -> list[dict[str, Any]]:
    """Catalog features left out because the orders lack a column they need, and why."""
    return [
        {
            "name": f.name,
            "requires": list(f.requires),
            "reason": _why_omitted(set(f.requires) - columns),
        }
        for f in CATALOG
        if not set(f.requires) <= columns
    ]


def _why_omitted(missing: set[str]) -> str:
    tables = sorted(m.split(":", 1)[1] for m in missing if m.startswith("signal:"))
    cols = sorted(m for m in missing if not m.startswith("signal:"))
    parts = [f"orders lack column(s): {', '.join(cols)}"] if cols else []
    if tables:
        parts.append(f"signal table(s) not mapped: {', '.join(tables)}")
    return "; ".join(parts)


def build_snapshots(
    engine: Engine, params: FeatureParams
) -> tuple[pd.DataFrame, pd.DataFrame, Schedule]:
    """Labelled snapshots over the schedule and the latest snapshot (no label)."""
    first, last = engine.bounds()
    schedule = build_schedule(first, last, params)
    snapshots = engine.features(schedule.labelled, labelled=True)
    latest = engine.features([schedule.latest], labelled=False)
    return snapshots, latest, schedule


def feature_report(
    snapshots: pd.DataFrame,
    latest: pd.DataFrame,
    schedule: Schedule,
    columns: frozenset[str],
    params: FeatureParams,
) -> dict[str, Any]:
    """What was built: active/omitted features, rows and label rate per cutoff.

    No timings: this file is a DVC metric, and a wall-clock figure would make every
    re-run look like a change in ``dvc metrics diff`` (the build time is logged).
    """
    return {
        "engine": params.engine,
        "catalog_version": CATALOG_VERSION,
        "n_cutoffs": len(schedule.labelled),
        "snapshot_rows": len(snapshots),
        "label_rate": float(snapshots["label"].mean()) if len(snapshots) else None,
        "latest_cutoff": schedule.latest.isoformat(),
        "latest_rows": len(latest),
        "n_active_features": len(feature_names(columns)),
        "active_features": feature_names(columns),
        "omitted_features": omitted_features(columns),
        "cutoffs": label_summary(snapshots),
        "skipped_cutoffs": [t.isoformat() for t in schedule.skipped],
    }


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write to a temporary name, then rename: the API never reads a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    frame.to_parquet(partial, index=False)
    partial.replace(path)


def main(argv: list[str] | None = None) -> None:
    """Stage entry point: wiring only."""
    setup_logging()
    args = stage_args(
        argv, __doc__, "orders", "snapshots", "latest", "report", optional=("signals",)
    )
    params = load_params(args.params).features
    started = time.perf_counter()
    engine = open_engine(args.orders, params, args.signals)
    try:
        snapshots, latest, schedule = build_snapshots(engine, params)
    finally:
        engine.close()
    seconds = time.perf_counter() - started
    if has_owner(args.orders):  # routing only, never a feature (features/owner.py)
        latest = with_owner(latest, owner_as_of(args.orders, schedule.latest))
    _write_parquet(snapshots, args.snapshots)
    _write_parquet(latest, args.latest)
    report = feature_report(snapshots, latest, schedule, engine.columns, params)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    logger.info(
        "features: %d snapshot rows over %d cutoffs, %d latest rows in %.1f s",
        len(snapshots),
        len(schedule.labelled),
        len(latest),
        seconds,
    )


if __name__ == "__main__":
    main()
