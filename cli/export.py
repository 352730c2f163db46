"""``churn score``: score a new export with the champion, without retraining.

export file -> ingest (the params' ``data`` mapping, source replaced by the file) ->
the latest snapshot only -> the chosen model (champion by default) -> reasons -> a CSV
(UTF-8 with BOM, the CRM columns of the score stage) or Parquet (the full scores).
Intermediate files live in a temporary directory; nothing in the repository changes.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from config.root import load_params
from features.engines import open_engine
from features.schedule import build_schedule
from ingest.ingest import run_ingest
from scoring.config import score_config
from scoring.model_choice import choose_model
from scoring.results import write_scores
from scoring.score import crm_frame, score_snapshot


@dataclass(frozen=True)
class ExportResult:
    """What ``churn score`` did: rows written, the model used, the snapshot cutoff."""

    rows: int
    model: str
    as_of: str
    quarantined: int


def latest_snapshot(export: Path, params_path: Path) -> tuple[pd.DataFrame, int]:
    """Features of every customer of ``export`` as of its end; and quarantined rows."""
    params = load_params(params_path)
    data = params.data.model_copy(update={"source": str(export.resolve())})
    with tempfile.TemporaryDirectory(prefix="churn-score-") as tmp:
        orders = Path(tmp) / "orders.parquet"
        report = run_ingest(
            data, orders, Path(tmp) / "quarantine.parquet", Path(tmp) / "ingest.json"
        )
        engine = open_engine(orders, params.features)
        try:
            first, last = engine.bounds()
            schedule = build_schedule(first, last, params.features)
            latest = engine.features([schedule.latest], labelled=False)
        finally:
            engine.close()
    return latest, int(report["rows_quarantined"])


def export_scores(export: Path, out: Path, params_path: Path, model: str) -> ExportResult:
    """Score ``export`` with ``model`` (champion | candidate | bundle dir) into ``out``."""
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError(f"--out must end in .csv or .parquet, got {out.name!r}")
    params = load_params(params_path)
    chosen, used = choose_model(model, Path("models/churn"), params.registry)
    latest, quarantined = latest_snapshot(export, params_path)
    config = score_config(params, chosen.horizon_days)
    scores = pd.concat(score_snapshot(chosen, latest, config, params.rules), ignore_index=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        write_scores(scores, str(out))
    else:
        crm_frame(scores, config.reasons.top_k).to_csv(out, index=False, encoding="utf-8-sig")
    as_of = pd.Timestamp(latest["cutoff"].iloc[0]).date().isoformat() if len(latest) else ""
    return ExportResult(len(scores), used, as_of, quarantined)
