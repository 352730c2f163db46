"""Stage ``score``: every customer of the latest snapshot -> scores Parquet + CRM CSV.

``python -m scoring.score --params params.yaml --model-dir models/churn
--latest data/processed/latest.parquet --scores data/scores/latest.parquet
--csv data/scores/latest.csv``

Customers are scored in batches of ``score.chunk_rows`` by
:func:`scoring.results.score_customers` (the function the API calls), with the
population references resolved once on the whole snapshot so every batch cites the same
medians. The CSV flattens reasons into ``reason_<i>_code/_impact/_en/_zh`` columns and
the triggered rules into ``rule_codes`` (``;``-separated) and ``rules_en``/``rules_zh``
(`` | ``-separated), and ``owner`` (the sales rep as of the snapshot, only when the
export maps one: ``data.columns.owner``), UTF-8 with a byte-order mark (Excel needs it
to read the Chinese columns), for CRM import. The model is the registry's champion
when there is one (what the API serves), else ``--model-dir``
(:func:`scoring.model_choice.choose_model`); the stage says which. After
``churn promote``, ``dvc repro --force score`` rescores.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray
from rich.console import Console

from bundle.model import ChurnModel
from config.root import load_params
from config.scoring import RulesParams
from config.stage import setup_logging, stage_args
from features.owner import OWNER
from scoring.config import ScoreConfig, score_config
from scoring.model_choice import choose_model
from scoring.reasons import resolve_reference
from scoring.results import score_customers

logger = logging.getLogger(__name__)
CSV_BASE = (
    "customer_id", "churn_probability", "risk_level", "value_tier", "revenue_at_risk",
    "as_of", "model_version",
)  # fmt: skip


def _list_array(column: pd.Series) -> pa.ListArray:
    """A list column (Arrow-backed or lists of dicts) as one Arrow ListArray."""
    arr = pa.array(column)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _list_field(column: pd.Series, top_k: int, field: str) -> list[NDArray[np.object_]]:
    """Per position ``i < top_k``: ``field`` of the i-th list element of each row."""
    arr = _list_array(column)
    offsets = np.asarray(arr.offsets)
    flat = arr.flatten()
    parents = np.repeat(np.arange(len(arr)), np.diff(offsets))
    position = np.arange(len(flat)) - offsets[:-1][parents]
    values = np.asarray(flat.field(field).to_pylist(), dtype=object)
    out = []
    for i in range(top_k):
        col = np.full(len(arr), None, dtype=object)
        sel = position == i
        col[parents[sel]] = values[sel]
        out.append(col)
    return out


def _joined(column: pd.Series, field: str, sep: str) -> list[str]:
    """``sep``-joined ``field`` of every list element, per row."""
    return [sep.join(str(item[field]) for item in items) for items in column]


def crm_frame(scores: pd.DataFrame, top_k: int) -> pd.DataFrame:
    """Flatten a scores frame into one flat row per customer for CRM import."""
    base = list(CSV_BASE)
    if OWNER in scores.columns:  # the sales rep, when the export maps one
        base.insert(1, OWNER)
    out = scores.loc[:, base].copy()
    fields = {"code": "code", "impact": "impact", "en": "text_en", "zh": "text_zh"}
    for suffix, field in fields.items():
        for i, col in enumerate(_list_field(scores["reasons"], top_k, field), start=1):
            out[f"reason_{i}_{suffix}"] = col
    ordered = base + [f"reason_{i}_{s}" for i in range(1, top_k + 1) for s in fields]
    out = out[ordered]
    out["rule_codes"] = _joined(scores["triggered_rules"], "code", ";")
    out["rules_en"] = _joined(scores["triggered_rules"], "text_en", " | ")
    out["rules_zh"] = _joined(scores["triggered_rules"], "text_zh", " | ")
    return out


def with_owner_column(scores: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Carry the snapshot's ``owner`` (features/owner.py) onto its scores, when it has one.

    The owner routes alerts (``alerts.capacity_per_owner``); the model never sees it.
    """
    if OWNER not in rows.columns:
        return scores
    out = scores.copy()
    # typed as text even when a batch has no owner at all, so every batch's schema matches
    owners = pd.Series(rows[OWNER].astype(object).to_numpy(), index=out.index, dtype="string")
    out.insert(1, OWNER, owners)
    return out


def score_snapshot(
    model: ChurnModel,
    latest: pd.DataFrame,
    config: ScoreConfig,
    rules: RulesParams,
    top_k: int | None = None,
) -> list[pd.DataFrame]:
    """Score ``latest`` in batches of ``score.chunk_rows``; one frame per batch.

    ``top_k`` reasons per customer (default ``reasons.top_k``).
    """
    reference = resolve_reference(model.reference, latest, model.feature_names)
    step = config.score.chunk_rows
    return [
        with_owner_column(score_customers(
            model, latest.iloc[start : start + step], config, rules,
            config.reasons.top_k if top_k is None else top_k, reference=reference,
        ), latest.iloc[start : start + step])
        for start in range(0, max(len(latest), 1), step)  # empty -> one call, clear error
    ]  # fmt: skip


def write_outputs(batches: list[pd.DataFrame], scores: Path, csv: Path, top_k: int) -> int:
    """Write the batches to one Parquet file and one CSV; return the row count.

    Both go to temporary names first and are renamed into place at the end, so a
    reader sees complete files only (an interrupted run leaves the old ones).
    """
    scores.parent.mkdir(parents=True, exist_ok=True)
    csv.parent.mkdir(parents=True, exist_ok=True)
    scores_tmp = scores.with_name(f".{scores.name}.partial")
    csv_tmp = csv.with_name(f".{csv.name}.partial")
    writer: pq.ParquetWriter | None = None
    rows = 0
    for i, batch in enumerate(batches):
        table = pa.Table.from_pandas(batch, preserve_index=False).replace_schema_metadata(None)
        writer = writer or pq.ParquetWriter(str(scores_tmp), table.schema)
        writer.write_table(table)
        # UTF-8 with a BOM (written once, at the start), so Excel reads the Chinese columns
        crm_frame(batch, top_k).to_csv(csv_tmp, index=False, mode="w" if i == 0 else "a",
                                       header=i == 0,
                                       encoding="utf-8-sig" if i == 0 else "utf-8")  # fmt: skip
        rows += len(batch)
    if writer is not None:
        writer.close()
        scores_tmp.replace(scores)
        csv_tmp.replace(csv)
    return rows


def main(argv: list[str] | None = None) -> None:
    """Parse args, load params/model/snapshot, score, write Parquet + CSV."""
    args = stage_args(argv, __doc__, "model-dir", "latest", "scores", "csv")
    setup_logging()
    params = load_params(args.params)
    model, used = choose_model("auto", args.model_dir, params.registry, check_environment=False)
    logger.info("scoring with %s", used)
    config = score_config(params, model.horizon_days)
    rules = params.rules
    latest = pd.read_parquet(args.latest)
    batches = score_snapshot(model, latest, config, rules)
    n = write_outputs(batches, args.scores, args.csv, config.reasons.top_k)
    levels = pd.concat([b["risk_level"] for b in batches]).value_counts().to_dict()
    Console().print(
        f"scored {n} customers with {used} -> {args.scores}, {args.csv}; risk levels {levels}"
    )


if __name__ == "__main__":
    main()
