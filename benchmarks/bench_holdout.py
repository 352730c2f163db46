"""Black-box holdout: cut the raw export at T, run the real stages, score today's
customers, and compare with what happened in [T, T+H) and with baselines built from
the raw export without the project's code (issue 10, item 6).

For each dataset (the bundled Online Retail export; Complete Journey when
``../shared/data`` holds it):
1. keep the raw export's rows with a timestamp before ``T`` and run ingest, features,
   train and score in a temporary folder (private MLflow store);
2. the outcome of each scored customer is read from the *full* raw export: churned
   when it has no order line with positive quantity (and no cancellation prefix, when
   the params name one) in ``[T', T' + H)``, ``T'`` being the scored snapshot's cutoff;
3. baselines from the truncated raw export with pandas, scikit-learn and lifetimes
   only: recency and logistic regression on log-RFM, both fitted one horizon earlier
   (features as of ``T' - H``, labels from ``[T' - H, T')``), and BG/NBD
   P(no order in H) fitted on the history before ``T'``;
4. ROC-AUC, PR-AUC, Brier, ECE, and the paired bootstrap 95 % interval (customers
   resampled) of the served model's ROC-AUC and PR-AUC difference to each baseline.

    python -m benchmarks.bench_holdout                      # every dataset available
    python -m benchmarks.bench_holdout --datasets online_retail --bootstrap 200
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from lifetimes import BetaGeoFitter
from lifetimes.utils import ConvergenceError
from rich.console import Console
from rich.table import Table
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from benchmarks.repo_copy import stage_command

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
STAGES = (
    "ingest",
    "features",
    "train",
    "score",
)  # run as dvc.yaml writes them (repo_copy.stage_command)


@dataclass(frozen=True)
class Dataset:
    """A raw export, its params file and the cut date T."""

    name: str
    params: Path
    data_dir: Path | None
    cut: str


def datasets() -> list[Dataset]:
    """The bundled export, and Complete Journey when ../shared/data holds it."""
    out = [Dataset("online_retail", ROOT / "params.yaml", None, "2011-09-09")]
    if (SHARED / "completejourney_transactions.parquet").exists():
        cj = ROOT / "params/completejourney.yaml"
        out.append(Dataset("completejourney", cj, SHARED, "2017-10-04"))
    return out


def _source(ds: Dataset, rel: str) -> Path:
    return (ds.data_dir / Path(rel).name) if ds.data_dir else (ROOT / rel)


def read_raw(ds: Dataset, params: dict[str, Any]) -> pd.DataFrame:
    """The raw export's order lines: customer, order, timestamp, quantity, kept flag."""
    data = params["data"]
    cols = data["columns"]
    raw = pd.read_parquet(_source(ds, data["source"]))
    raw = raw.loc[raw[cols["customer_id"]].notna()]
    ids = raw[cols["customer_id"]]
    if pd.api.types.is_float_dtype(ids):
        ids = ids.astype("int64")
    keep = raw[cols["quantity"]] > 0 if cols.get("quantity") else pd.Series(True, raw.index)
    prefix = (data.get("status") or {}).get("cancelled_prefix")
    if prefix:
        keep &= ~raw[prefix["column"]].astype(str).str.startswith(prefix["prefix"])
    return pd.DataFrame(
        {
            "customer_id": ids.astype(str).to_numpy(),
            "order_id": raw[cols["order_id"]].astype(str).to_numpy(),
            "ts": pd.to_datetime(raw[cols["order_ts"]]).to_numpy(),
            "spend": (raw[cols["amount"]] if cols.get("amount") else
                      raw[cols["quantity"]] * raw[cols["unit_price"]]).to_numpy(),
            "kept": keep.to_numpy(),
        }
    )  # fmt: skip


def run_real_stages(ds: Dataset, params: dict[str, Any], work: Path) -> pd.DataFrame:
    """Cut the raw export at T, run the real stages in ``work``; the served scores."""
    shutil.copy(ds.params, work / "params.yaml")
    data = params["data"]
    cut = pd.Timestamp(ds.cut)
    src = work / data["source"]
    src.parent.mkdir(parents=True, exist_ok=True)
    raw = pd.read_parquet(_source(ds, data["source"]))
    raw.loc[pd.to_datetime(raw[data["columns"]["order_ts"]]) < cut].to_parquet(src)
    for lk in data.get("lookups") or []:
        (work / lk["source"]).parent.mkdir(parents=True, exist_ok=True)
        (work / lk["source"]).symlink_to(_source(ds, lk["source"]).resolve())
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    for module in STAGES:
        cmd = stage_command(module)
        done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{ds.name}: stage {module} failed\n{done.stderr[-3000:]}")
    return pd.read_parquet(work / "data/scores/latest.parquet")


def rfm(orders: pd.DataFrame, at: pd.Timestamp, lookback: int) -> pd.DataFrame:
    """Recency, frequency (orders), monetary as of ``at``, customers active in lookback."""
    past = orders.loc[orders["kept"] & (orders["ts"] < at)]
    g = past.groupby("customer_id").agg(
        last=("ts", "max"), first=("ts", "min"), n=("order_id", "nunique"), spend=("spend", "sum")
    )
    g = g.loc[g["last"] >= at - pd.Timedelta(days=lookback)]
    g["recency"] = (at - g["last"]).dt.total_seconds() / 86400
    g["age"] = (at - g["first"]).dt.total_seconds() / 86400
    g["spend"] = g["spend"].clip(lower=0)
    return g


def churned(orders: pd.DataFrame, ids: pd.Index, start: pd.Timestamp, days: int) -> np.ndarray:
    """1 when a customer has no kept order line in [start, start + days)."""
    window = orders.loc[
        orders["kept"] & (orders["ts"] >= start) & (orders["ts"] < start + pd.Timedelta(days=days))
    ]
    return (~ids.isin(window["customer_id"].unique())).astype(int)


def _log_rfm(f: pd.DataFrame, cols: list[str]) -> np.ndarray:
    return np.log1p(f.loc[:, cols].to_numpy(dtype=float))


def lr_one_horizon_earlier(
    orders: pd.DataFrame, at: pd.Timestamp, h: int, lookback: int, cols: list[str], seed: int
) -> pd.Series:
    """Logistic regression fitted on features at ``at - H`` and labels of [at - H, at)."""
    earlier = at - pd.Timedelta(days=h)
    train = rfm(orders, earlier, lookback)
    y = churned(orders, train.index, earlier, h)
    model = LogisticRegression(C=1.0, max_iter=1000, random_state=seed)
    mean, std = _log_rfm(train, cols).mean(0), _log_rfm(train, cols).std(0) + 1e-9
    model.fit((_log_rfm(train, cols) - mean) / std, y)
    now = rfm(orders, at, lookback)
    return pd.Series(model.predict_proba((_log_rfm(now, cols) - mean) / std)[:, 1], now.index)


def bgnbd_p0(orders: pd.DataFrame, at: pd.Timestamp, h: int, lookback: int) -> pd.Series:
    """BG/NBD P(no order in H) (Fader, Hardie & Lee 2005), days, fitted before ``at``."""
    past = orders.loc[orders["kept"] & (orders["ts"] < at)].copy()
    past["day"] = past["ts"].dt.floor("D")
    days = past.groupby("customer_id")["day"].agg(["nunique", "min", "max"])
    x = days["nunique"] - 1
    t_x = (days["max"] - days["min"]).dt.days.astype(float)
    big_t = (at - days["min"]).dt.total_seconds() / 86400
    for penalizer in (0.0, 0.001, 0.01, 0.1):  # the optimiser sometimes fails unpenalised
        fitter = BetaGeoFitter(penalizer_coef=penalizer)
        try:
            fitter.fit(x, t_x, big_t)
            break
        except ConvergenceError:
            continue
    alive = fitter.conditional_probability_alive(x, t_x, big_t)
    r, alpha = fitter.params_["r"], fitter.params_["alpha"]
    p0 = 1 - alive + alive * ((alpha + big_t) / (alpha + big_t + h)) ** (r + x)
    active = rfm(orders, at, lookback).index
    return pd.Series(np.asarray(p0), days.index).reindex(active)


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error, equal-width bins."""
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return float(
        sum(
            (idx == b).mean() * abs(p[idx == b].mean() - y[idx == b].mean())
            for b in range(bins)
            if (idx == b).any()
        )
    )


def ece_interval(y: np.ndarray, p: np.ndarray, n_boot: int, seed: int) -> tuple[float, float]:
    """Bootstrap 95 % interval of the ECE (customers resampled)."""
    rng = np.random.default_rng(seed)
    values = [ece(y[i], p[i]) for i in (rng.integers(0, y.size, y.size) for _ in range(n_boot))]
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def paired_ci(
    y: np.ndarray, a: np.ndarray, b: np.ndarray, fn: Any, n_boot: int, seed: int
) -> tuple[float, float, float]:
    """fn(a) - fn(b) and its paired bootstrap 95 % interval (customers resampled)."""
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_boot):
        i = rng.integers(0, y.size, y.size)
        if y[i].min() != y[i].max():
            diffs.append(fn(y[i], a[i]) - fn(y[i], b[i]))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(fn(y, a) - fn(y, b)), float(lo), float(hi)


def evaluate(ds: Dataset, n_boot: int, console: Console) -> dict[str, Any]:
    """Run the protocol for one dataset; the table rows."""
    params = yaml.safe_load(ds.params.read_text())
    h, lookback = params["features"]["horizon_days"], params["features"]["lookback_days"]
    seed = int(params.get("seed", 0))
    orders = read_raw(ds, params)
    truncated = orders.loc[orders["ts"] < pd.Timestamp(ds.cut)]
    # the scored snapshot's cutoff: midnight after the last order day before T
    at = pd.Timestamp(truncated["ts"].max()).normalize() + pd.Timedelta(days=1)
    cols = ["recency", "n", "spend"]
    probs = {
        "recency (LR, H earlier)": lr_one_horizon_earlier(
            truncated, at, h, lookback, ["recency"], seed
        ),
        "LR log-RFM (H earlier)": lr_one_horizon_earlier(truncated, at, h, lookback, cols, seed),
        "BG/NBD P(no order in H)": bgnbd_p0(truncated, at, h, lookback),
    }
    with tempfile.TemporaryDirectory(prefix="bench_holdout_") as tmp:
        scores = run_real_stages(ds, params, Path(tmp))
        train_report = json.loads((Path(tmp) / "reports/train.json").read_text())
    scored_at = pd.Timestamp(scores["as_of"].iloc[0]).tz_localize(None)
    if scored_at != at:
        raise SystemExit(f"{ds.name}: scores are as of {scored_at}, expected {at}")
    served = scores.set_index(scores["customer_id"].astype(str))["churn_probability"]
    probs = {"served model": served, **probs}
    ids = served.index
    y = churned(orders, ids, at, h)
    rows: dict[str, dict[str, float]] = {}
    for name, p in probs.items():
        pv = p.reindex(ids).fillna(p.mean()).to_numpy(dtype=float)
        row = {
            "roc_auc": roc_auc_score(y, pv),
            "pr_auc": average_precision_score(y, pv),
            "brier": brier_score_loss(y, pv),
            "ece": ece(y, pv),
            "missing": float(p.reindex(ids).isna().mean()),
        }
        if name == "served model":
            row["ece_lo"], row["ece_hi"] = ece_interval(y, pv, n_boot, seed)
        else:
            sp = served.to_numpy(dtype=float)
            row["d_auc"], row["d_auc_lo"], row["d_auc_hi"] = paired_ci(
                y, sp, pv, roc_auc_score, n_boot, seed
            )
            ap = average_precision_score
            row["d_ap"], row["d_ap_lo"], row["d_ap_hi"] = paired_ci(y, sp, pv, ap, n_boot, seed)
        rows[name] = row
    return {
        "dataset": ds.name,
        "cut": ds.cut,
        "scored_at": at.date().isoformat(),
        "n": int(y.size),
        "churn_rate": float(y.mean()),
        "rows": rows,
        "degradations": train_report["degradations"],
        "served_split": train_report["served"]["split"],
        "gate": train_report["registry"].get("gate"),
    }


def table(result: dict[str, Any]) -> Table:
    """One table per dataset: served model vs baselines, paired CIs of the differences."""
    t = Table(title=f"{result['dataset']}: cut {result['cut']}, scored at {result['scored_at']}, "
              f"n={result['n']}, churned in [T, T+H) {result['churn_rate']:.3f}")  # fmt: skip
    for col in (
        "",
        "ROC-AUC",
        "PR-AUC",
        "Brier",
        "ECE",
        "served ΔAUC [95% CI]",
        "served ΔPR-AUC [95% CI]",
    ):
        t.add_column(col, justify="right")
    for name, r in result["rows"].items():
        ci = [
            f"{r[k]:+.4f} [{r[k + '_lo']:+.4f}, {r[k + '_hi']:+.4f}]" if k in r else ""
            for k in ("d_auc", "d_ap")
        ]
        cells = [f"{r[k]:.4f}" for k in ("roc_auc", "pr_auc", "brier", "ece")]
        if "ece_lo" in r:
            cells[3] += f" [{r['ece_lo']:.3f}, {r['ece_hi']:.3f}]"
        t.add_row(name, *cells, *ci)
    return t


def main(argv: list[str] | None = None) -> None:
    """Run the protocol on every dataset available and print one table each."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=None, help="names (default: all)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    console = Console(width=160)
    results = []
    for ds in datasets():
        if args.datasets and ds.name not in args.datasets:
            continue
        result = evaluate(ds, args.bootstrap, console)
        console.print(table(result))
        console.print(f"degradations: {result['degradations']}; gate: {result['gate']}")
        results.append(result)
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
