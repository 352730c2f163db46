"""Training that cleans up: failed runs end FAILED, identical bundles reuse a version.

Before: a SIGTERM during MLflow logging left the run RUNNING forever (the default
handler kills the process on the spot), and every rerun registered a byte-identical
model as a new version.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

import training.train as train_stage
from bundle.model import ChurnModel, bundle_digest
from config.training import RegistryParams
from tests.serving.conftest import snapshot as make_snapshot
from tests.serving.conftest import train_model
from tests.training.conftest import make_snapshots, write_params
from training.tracking import (
    DIGEST_TAG,
    TERMINATION,
    Terminated,
    end_open_run_failed,
    fail_runs_on_signals,
    log_and_register,
)

NAME = "churn-lgbm"


@pytest.fixture()
def uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture()
def signals() -> Iterator[None]:
    """Restore the process's SIGTERM/SIGINT handlers after the test."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def _log(uri: str, bundle: Path, model: ChurnModel) -> tuple[str, str]:
    example = make_snapshot(n=5).loc[:, list(model.feature_names)]
    return log_and_register(
        uri, RegistryParams(), bundle, model, example, params={"seed": 1},
        metrics={"roc_auc": 0.7}, tags={"t": "x"}, figures=[], documents={"b.json": {"a": 1}},
    )  # fmt: skip


def _runs(uri: str) -> pd.DataFrame:
    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(search_all_experiments=True)


def _versions(uri: str) -> list[str]:
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        return sorted(str(v.version) for v in client.search_model_versions(f"name = '{NAME}'"))
    except Exception:
        return []


def test_an_identical_bundle_reuses_the_version(uri: str, tmp_path: Path) -> None:
    model = train_model(seed=1)
    first = model.save(tmp_path / "a")
    _, v1 = _log(uri, first, model)
    # a rerun: same model, new training time and run metadata
    again = model.with_metadata(trained_at="later", model_version="x")
    second = again.save(tmp_path / "b")
    assert bundle_digest(first) == bundle_digest(second)
    _, v2 = _log(uri, second, again)
    assert v1 == v2 == "1" and _versions(uri) == ["1"]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert client.get_model_version(NAME, "1").tags[DIGEST_TAG] == bundle_digest(first)
    other = train_model(seed=2)
    _, v3 = _log(uri, other.save(tmp_path / "c"), other)
    assert v3 == "2" and _versions(uri) == ["1", "2"]
    assert list(_runs(uri)["status"]) == ["FINISHED"] * 3


def test_sigterm_during_logging_ends_the_run_failed(
    uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signals: None
) -> None:
    model = train_model(seed=1)
    bundle = model.save(tmp_path / "a")
    fail_runs_on_signals()
    monkeypatch.setattr(mlflow, "log_dict", lambda *_: os.kill(os.getpid(), signal.SIGTERM))
    with pytest.raises(Terminated):
        _log(uri, bundle, model)
    assert list(_runs(uri)["status"]) == ["FAILED"]
    assert _versions(uri) == []  # nothing registered from an interrupted run


def _log_with_sigterm_after(
    uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, owner: object, name: str
) -> str | None:
    """Log a bundle with SIGTERM arriving right after ``owner.name`` returns; the run's
    final status as the stage's signal path leaves it."""
    model = train_model(seed=1)
    bundle = model.save(tmp_path / "a")
    fail_runs_on_signals()
    original = getattr(owner, name)

    def then_sigterm(*args: object, **kwargs: object) -> object:
        out = original(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
        return out

    monkeypatch.setattr(owner, name, then_sigterm)
    with pytest.raises(Terminated):
        _log(uri, bundle, model)
    return end_open_run_failed()


def test_sigterm_right_after_the_run_is_created_ends_it_failed(
    uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signals: None
) -> None:
    """The run's RUNNING row exists before the stage has noted its id: the signal waits
    until it has, so the run still ends FAILED (not RUNNING, not FINISHED at exit)."""
    status = _log_with_sigterm_after(uri, tmp_path, monkeypatch, MlflowClient, "create_run")
    assert status == "FAILED"
    assert list(_runs(uri)["status"]) == ["FAILED"]
    assert _versions(uri) == []


def test_sigterm_during_registration_leaves_a_finished_run_with_its_version(
    uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signals: None
) -> None:
    """A version is registered only together with its run's end: a signal during the
    registration takes effect after both, never leaving a version of a FAILED run."""
    status = _log_with_sigterm_after(uri, tmp_path, monkeypatch, mlflow, "register_model")
    assert status == "FINISHED"
    assert list(_runs(uri)["status"]) == ["FINISHED"]
    assert _versions(uri) == ["1"]


def test_an_exception_ends_the_run_failed_and_registers_nothing(
    uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = train_model(seed=1)
    bundle = model.save(tmp_path / "a")

    def broken(*_: object, **__: object) -> None:
        raise OSError("artifact store full")

    monkeypatch.setattr(mlflow.pyfunc, "log_model", broken)
    with pytest.raises(OSError, match="artifact store full"):
        _log(uri, bundle, model)
    assert list(_runs(uri)["status"]) == ["FAILED"]
    assert _versions(uri) == []


def test_a_partial_bundle_is_never_logged(uri: str, tmp_path: Path) -> None:
    model = train_model(seed=1)
    bundle = model.save(tmp_path / "a")
    booster = bundle / "booster.txt"
    booster.write_bytes(booster.read_bytes()[:50])
    with pytest.raises(Exception, match=r"booster\.txt does not match"):
        _log(uri, bundle, model)
    assert _runs(uri).empty and _versions(uri) == []


@pytest.mark.slow
def test_killing_the_train_stage_leaves_no_running_run(tmp_path: Path) -> None:
    """SIGTERM to ``python -m training.train`` while its MLflow run is open."""
    snaps = tmp_path / "snapshots.parquet"
    make_snapshots(n_customers=300).to_parquet(snaps)
    db = tmp_path / "mlflow.db"
    params = write_params(
        tmp_path / "params.yaml",
        f"sqlite:///{db}",
        tuning={"enabled": False},
        split={"backtest_folds": 2},
        train={"num_boost_round": 20},
    )
    out = {"--model-dir": "models/churn", "--baselines": "b.json", "--report": "train.json",
           "--test-scores": "test_scores.parquet"}  # fmt: skip
    cmd = [sys.executable, "-m", "training.train", "--params", str(params), "--snapshots",
           str(snaps), *(x for k, v in out.items() for x in (k, str(tmp_path / v)))]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not _running(db):
        assert proc.poll() is None, f"train ended before its run opened: {proc.stderr}"
        assert time.monotonic() < deadline, "no MLflow run started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "MLflow run is FAILED" in err
    assert list(_runs(f"sqlite:///{db}")["status"]) == ["FAILED"]
    assert _versions(f"sqlite:///{db}") == []


def _running(db: Path) -> bool:
    """A run with status RUNNING exists (read straight from the store's SQLite file)."""
    if not db.exists():
        return False
    try:
        with closing(sqlite3.connect(db, timeout=1)) as con:
            return bool(
                con.execute("SELECT count(*) FROM runs WHERE status = 'RUNNING'").fetchone()[0]
            )
    except sqlite3.Error:
        return False


def test_a_signal_inside_a_store_write_still_ends_the_run_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signals: None
) -> None:
    """SIGTERM while a frame of the train stage holds a write transaction on the SQLite
    store (as when it lands inside one of MLflow's own writes): the interrupted frame
    must be released before the run is ended, or every retry meets the lock."""
    db = tmp_path / "mlflow.db"
    params = write_params(tmp_path / "params.yaml", f"sqlite:///{db}")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    def interrupted_write(*_: object, **__: object) -> None:
        uri = f"sqlite:///{db}"
        client = MlflowClient(tracking_uri=uri)
        run = client.create_run(client.create_experiment("e"))
        TERMINATION.update(run_id=run.info.run_id, uri=uri)
        lock = sqlite3.connect(db, timeout=0)  # the interrupted write, held by this frame
        lock.execute("BEGIN IMMEDIATE")
        lock.execute("UPDATE runs SET name = name")
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(train_stage, "run", interrupted_write)
    monkeypatch.setattr(train_stage, "end_open_run_failed", _fast(train_stage.end_open_run_failed))
    snaps = tmp_path / "snapshots.parquet"
    make_snapshots(n_customers=50).to_parquet(snaps)
    argv = ["--params", str(params), "--snapshots", str(snaps)]
    for flag in ("--model-dir", "--baselines", "--report", "--test-scores"):
        argv += [flag, str(tmp_path / flag.strip("-"))]
    assert train_stage.main(argv) == 128 + signal.SIGTERM
    assert list(_runs(f"sqlite:///{db}")["status"]) == ["FAILED"]


def _fast(end: Any) -> Any:
    """``end_open_run_failed`` with 3 short attempts: a lock still held fails the test."""
    return lambda: end(attempts=3, pause=0.05)
