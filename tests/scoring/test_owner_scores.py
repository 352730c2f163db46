"""The owner column of the latest snapshot reaches the scores, the CRM CSV and the
worklist, where ``alerts.capacity_per_owner`` applies; without it everything still works."""

from __future__ import annotations

import pandas as pd

from alerts.worklist import build_worklist, owner_note
from config.root import load_params
from scoring import score
from scoring.results import read_scores


def _score(root, latest: pd.DataFrame, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    latest.to_parquet(root / "data" / f"{name}.parquet")
    score.main([
        "--params", str(root / "params.yaml"), "--model-dir", str(root / "models" / "churn"),
        "--latest", str(root / "data" / f"{name}.parquet"),
        "--scores", str(root / "data" / f"{name}_scores.parquet"),
        "--csv", str(root / "data" / f"{name}_scores.csv"),
    ])  # fmt: skip
    scores = read_scores(str(root / "data" / f"{name}_scores.parquet"))
    csv = pd.read_csv(root / "data" / f"{name}_scores.csv", dtype={"customer_id": str})
    return scores, csv


def test_owner_travels_from_latest_to_scores_csv_and_worklist(pipeline_dir, snapshot):
    latest = snapshot.copy()
    reps = ["ann", "bob", None]
    latest["owner"] = [reps[i % 3] for i in range(len(latest))]
    scores, csv = _score(pipeline_dir, latest, "owned")
    assert scores["customer_id"].tolist() == latest["customer_id"].tolist()
    assert scores["owner"].tolist() == latest["owner"].tolist()
    assert list(csv.columns[:2]) == ["customer_id", "owner"]
    assert csv["owner"].where(csv["owner"].notna(), None).tolist() == latest["owner"].tolist()
    params = load_params(pipeline_dir / "params.yaml").alerts.model_copy(
        update={"risk_levels": ("low", "medium", "high"), "capacity_per_owner": 2,
                "control_share": 0.0}
    )  # fmt: skip
    alerts = build_worklist(scores, pd.DataFrame(), params, seed=1).alerts
    per_owner = alerts["owner"].fillna("(none)").value_counts().to_dict()
    assert per_owner["ann"] == 2 and per_owner["bob"] == 2  # capped per rep
    assert per_owner["(none)"] > 2  # no owner: only the cycle's capacity applies
    assert "2 owners" in owner_note(scores, params) and "at most 2" in owner_note(scores, params)


def test_without_an_owner_column_nothing_changes_and_per_owner_capacity_is_off(
    pipeline_dir, snapshot
):
    scores = read_scores(str(pipeline_dir / "data" / "scores.parquet"))
    assert "owner" not in scores.columns
    csv = pd.read_csv(pipeline_dir / "data" / "scores.csv", dtype={"customer_id": str})
    assert "owner" not in csv.columns
    params = load_params(pipeline_dir / "params.yaml").alerts.model_copy(
        update={"risk_levels": ("low", "medium", "high"), "capacity_per_owner": 2,
                "control_share": 0.0}
    )  # fmt: skip
    alerts = build_worklist(scores, pd.DataFrame(), params, seed=1).alerts
    assert alerts["owner"].isna().all()
    assert len(alerts) == min(len(scores), params.capacity_per_cycle)  # no per-owner cap
    assert "capacity_per_owner is off" in owner_note(scores, params)


def test_batches_without_any_owner_keep_one_text_schema(pipeline_dir, snapshot, tmp_path):
    """A first batch whose owners are all missing must not fix the column as null-typed."""
    from bundle.model import ChurnModel
    from scoring.config import score_config

    params = load_params(pipeline_dir / "params.yaml")
    latest = snapshot.copy()
    latest["owner"] = [None] * (len(latest) // 2) + ["ann"] * (len(latest) - len(latest) // 2)
    model = ChurnModel.load(pipeline_dir / "models" / "churn")
    config = score_config(params, model.horizon_days)
    config = config.model_copy(
        update={"score": config.score.model_copy(update={"chunk_rows": len(latest) // 2})}
    )
    batches = score.score_snapshot(model, latest, config, params.rules)
    assert len(batches) >= 2
    score.write_outputs(batches, tmp_path / "s.parquet", tmp_path / "s.csv", 3)
    back = pd.read_parquet(tmp_path / "s.parquet")
    assert back["owner"].isna().sum() == len(latest) // 2
    assert back["owner"].dropna().eq("ann").all()
