"""Short histories train instead of crashing (issue 10): the bundled export cut at
2011-09-09 and at every month-end from 2011-05-31, through the real ingest and features
stages and ``training.train.run``; every degradation is stated."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from config.root import Params, load_params
from features.features import main as features_main
from ingest.ingest import main as ingest_main
from training.split import labelled_cutoffs
from training.train import run

from .conftest import ROOT, write_params

CUTS = ["2011-05-31", "2011-06-30", "2011-07-31", "2011-08-31", "2011-09-09", "2011-10-31"]


@pytest.fixture(scope="module")
def orders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled export through the real ingest stage (once)."""
    out = tmp_path_factory.mktemp("ingest")
    args = ["--params", str(ROOT / "params.yaml"), "--orders", str(out / "orders.parquet")]
    args += ["--quarantine", str(out / "q.parquet"), "--report", str(out / "ingest.json")]
    ingest_main(args)
    return out / "orders.parquet"


def _snapshots(orders: Path, cut: str, tmp: Path) -> pd.DataFrame:
    frame = pd.read_parquet(orders)
    frame.loc[frame["order_ts"] < pd.Timestamp(cut) + pd.Timedelta(days=1)].to_parquet(
        tmp / "orders.parquet"
    )
    args = ["--params", str(ROOT / "params.yaml"), "--orders", str(tmp / "orders.parquet")]
    args += ["--snapshots", str(tmp / "s.parquet"), "--latest", str(tmp / "l.parquet")]
    features_main([*args, "--report", str(tmp / "features.json")])
    return pd.read_parquet(tmp / "s.parquet")


def _cfg(tmp: Path) -> Params:
    return load_params(
        write_params(tmp / "params.yaml", "sqlite:///unused.db", registry={"enabled": False})
    )


@pytest.mark.slow
@pytest.mark.parametrize("cut", CUTS)
def test_bundled_export_cut_short_trains_and_states_each_degradation(
    orders: Path, cut: str, tmp_path: Path
) -> None:
    snapshots = _snapshots(orders, cut, tmp_path)
    cfg = _cfg(tmp_path)
    result = run(cfg, snapshots, tmp_path / "m", tmp_path / "b.json", None, "t")
    cutoffs = labelled_cutoffs(snapshots)
    served = result["served"]["split"]
    # the served refit learns from the latest labelled cutoff: as validation cutoff
    # (split.window validation) or among its training cutoffs (all_labelled, default)
    if served["split_mode"] == "all_labelled":
        assert served["valid_cutoff"] is None
        assert served["train_cutoffs"][-1] == cutoffs[-1].date().isoformat()
    else:
        assert served["valid_cutoff"] == cutoffs[-1].date().isoformat()
    assert (tmp_path / "m" / "manifest.json").exists()
    if len(cutoffs) < 8:  # the full schedule is 8 cutoffs: anything less is degraded
        assert result["degradations"], result
    if result["test"] is None:
        assert any("no held-out evaluation" in n for n in result["degradations"])
    else:
        assert result["split"]["test_cutoff"] == cutoffs[-1].date().isoformat()
        assert result["backtest"]["folds"]


@pytest.mark.slow
def test_a_rerun_that_reproduces_the_champion_keeps_it_champion(
    orders: Path, tmp_path: Path
) -> None:
    """Re-running on unchanged data rebuilds the champion's own bundle (same registered
    version): it must not be judged against itself and demoted in the report."""
    snapshots = _snapshots(orders, "2011-12-09", tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = load_params(write_params(tmp_path / "params.yaml", uri))
    first = run(cfg, snapshots, tmp_path / "m", tmp_path / "b.json", uri, "t")["registry"]
    second = run(cfg, snapshots, tmp_path / "m", tmp_path / "b.json", uri, "t")["registry"]
    assert first["alias"] == "champion", first["gate"]
    assert second["model_version"] == first["model_version"]
    assert (second["alias"], second["gate"]) == (first["alias"], first["gate"])
