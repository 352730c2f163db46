"""Replay the loop over past cutoffs with **simulated** follow-up outcomes.

For demos and for testing the measurement: every labelled cutoff of the snapshots is one
cycle. The real model scores it (scoring.results, as the score stage does), the real
worklist logic picks treatment and control alerts (cooldown over the replayed history),
and the real churn label of the cutoff says who would have churned without follow-up.
Follow-up is then **simulated**: a delivered alert whose action came from reason family
``F`` turns a churner into a retained customer with probability ``u_F / churn rate``,
which raises retention among treated alerts of ``F`` by ``u_F`` (the planted uplift);
control alerts keep their real label. The measurement must recover each ``u_F`` within
its CI, and find none where nothing was planted.

``python -m alerts.replay --params params.yaml --model-dir models/churn
--snapshots data/processed/snapshots.parquet --out reports/alerts_replay.json
[--plant ORDER_CYCLE=0.08 ...]`` (a tool, not a pipeline stage; outputs are SIMULATED).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alerts.measure import measure
from alerts.worklist import build_worklist
from config.alerts import AlertsParams

SIMULATED = "SIMULATED: follow-up outcomes are simulated with a planted effect"
#: cutoff -> scores frame (the score stage's columns) for that cutoff's snapshot rows
Scorer = Callable[[pd.DataFrame], pd.DataFrame]


def replay(
    snapshots: pd.DataFrame,
    scorer: Scorer,
    params: AlertsParams,
    plant: dict[str, float],
    seed: int,
    horizon_days: int,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """All cycles' alerts with their real and simulated labels, and the measurement."""
    rng = np.random.default_rng(seed)
    history = pd.DataFrame(columns=["customer_id", "cycle", "churn_probability"])
    cycles = []
    for cutoff in sorted(snapshots["cutoff"].unique()):
        rows = snapshots[snapshots["cutoff"] == cutoff]
        scores = scorer(rows)
        wl = build_worklist(scores, history, params, seed, horizon_days=horizon_days)
        alerts = wl.alerts.copy()
        labels = rows.set_index(rows["customer_id"].astype(str))["label"]
        alerts["natural_churned"] = alerts["customer_id"].map(labels).astype(bool)
        history = pd.concat([history, alerts[list(history.columns)]], ignore_index=True)
        cycles.append(alerts)
    frame = pd.concat(cycles, ignore_index=True)
    frame["churned"] = _simulate(frame, plant, rng)
    frame["contacted"] = frame["group"] == "treatment"
    result = measure(frame, params.bootstrap, params.ci_level, seed)
    result["note"] = SIMULATED
    result["planted"] = plant
    result["cycles"] = len(cycles)
    return frame, result


def _simulate(frame: pd.DataFrame, plant: dict[str, float], rng: np.random.Generator) -> pd.Series:
    churned = frame["natural_churned"].copy()
    for family, uplift in plant.items():
        segment = frame["reason_family"] == family
        rate = float(frame.loc[segment, "natural_churned"].mean()) if segment.any() else 0.0
        if uplift <= 0 or rate <= 0:
            continue
        if uplift > rate:
            raise ValueError(
                f"planted uplift {uplift} for {family} exceeds its churn rate {rate:.2f}"
            )
        flip = segment & (frame["group"] == "treatment") & churned
        churned[flip] = rng.random(int(flip.sum())) >= uplift / rate
    return churned.astype(object)


def simulated_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """The outcome records the simulated follow-up would have produced (note says so)."""
    treated = frame[frame["group"] == "treatment"]
    return pd.DataFrame(
        {
            "alert_id": treated["alert_id"],
            "customer_id": treated["customer_id"],
            "action": treated["action_en"],
            "contacted_at": pd.to_datetime(treated["cycle"]) + timedelta(days=3),
            "result": np.where(treated["churned"].astype(bool), "lost", "retained"),
            "note": SIMULATED,
        }
    )


def table(result: dict[str, Any], segment: str = "reason_family") -> str:
    """The performance table of one segment, as Markdown."""
    head = (
        "| " + segment + " | treated | control | hit rate (control) | retention treated | "
        "retention control | uplift | CI |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for row in [*result["by"][segment], {**result["overall"], "value": "**all**"}]:
        ci = (
            ""
            if row["uplift_low"] is None
            else f"[{row['uplift_low']:+.3f}, {row['uplift_high']:+.3f}]"
        )
        lines.append(
            f"| {row['value']} | {row['treatment']} | {row['control']} | "
            f"{_pct(row['hit_rate_control'])} | {_pct(row['retention_treatment'])} | "
            f"{_pct(row['retention_control'])} | "
            f"{'' if row['uplift'] is None else format(row['uplift'], '+.3f')} | {ci} |"
        )
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _plants(items: Sequence[str]) -> dict[str, float]:
    out = {}
    for item in items:
        family, _, value = item.partition("=")
        out[family] = float(value)
    return out


def main(argv: list[str] | None = None) -> None:
    """Replay the bundled data's labelled cutoffs with the model in --model-dir."""
    from bundle.model import ChurnModel
    from config.root import load_params
    from scoring.config import score_config
    from scoring.results import score_customers

    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    for name in ("params", "model-dir", "snapshots", "out"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--plant", nargs="*", default=["ORDER_CYCLE=0.08"])
    parser.add_argument("--capacity", type=int, default=600)
    parser.add_argument("--control-share", type=float, default=0.5)
    args = parser.parse_args(argv)
    params = load_params(args.params)
    model = ChurnModel.load(args.model_dir)
    config = score_config(params, model.horizon_days)
    cfg = params.alerts.model_copy(
        update={
            "capacity_per_cycle": args.capacity,
            "control_share": args.control_share,
            "capacity_per_owner": None,
        }
    )
    snapshots = pd.read_parquet(args.snapshots)

    def scorer(rows: pd.DataFrame) -> pd.DataFrame:
        features = rows.drop(columns=["label"])
        return score_customers(model, features, config, params.rules, config.reasons.top_k)

    _, result = replay(snapshots, scorer, cfg, _plants(args.plant), params.seed, model.horizon_days)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    print(SIMULATED)
    print(table(result))


if __name__ == "__main__":
    main()
