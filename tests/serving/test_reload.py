"""Reload: atomic model+snapshot swap, no failed request under concurrent load."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from bundle.model import ChurnModel
from serving.app import create_app
from serving.service import ChurnService, ServiceOptions
from tests.serving.conftest import ADMIN_KEY, CLIENT_KEY, SyntheticBackend, make_settings, snapshot

CHURN = "/v1/customers/{}/churn"


def expected_answers(backend: SyntheticBackend) -> dict[str, float]:
    loaded = backend.load()
    scores = loaded.scorer.score_batch(backend.snap, 3)
    rounded = scores["churn_probability"].round(4)  # the API's 4 decimals
    return dict(zip(scores["customer_id"], rounded, strict=True))


def test_reload_swaps_model_and_snapshot(backend: SyntheticBackend, model_b: ChurnModel) -> None:
    app = create_app(make_settings(), backend_factory=lambda _: backend)
    with TestClient(app, headers={"X-API-Key": CLIENT_KEY}) as c:
        assert c.get("/v1/model").json()["version"] == "test-1"
        backend.model, backend.snap = model_b, snapshot(n=120, seed=11)
        r = c.post("/v1/admin/reload", headers={"X-API-Key": ADMIN_KEY})
        assert r.json() == {"status": "reloaded", "model_version": "test-2", "customers": 120,
                            "snapshot_as_of": "2011-12-09"}  # fmt: skip
        assert c.get(CHURN.format("C0000005")).json()["model_version"] == "test-2"
        assert c.get(CHURN.format("C0000200")).status_code == 404  # only in the old snapshot
        assert 'churn_model_reloads_total{outcome="success"} 2.0' in c.get("/metrics").text


def test_failed_reload_keeps_serving_old_pair(backend: SyntheticBackend) -> None:
    app = create_app(make_settings(), backend_factory=lambda _: backend)
    with TestClient(app, headers={"X-API-Key": CLIENT_KEY}) as c:
        before = c.get(CHURN.format("C0000005")).json()
        backend.fail_next = True
        r = c.post("/v1/admin/reload", headers={"X-API-Key": ADMIN_KEY})
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "reload_failed"
        assert c.get(CHURN.format("C0000005")).json() == before
        assert c.get("/readyz").status_code == 200


def test_reload_under_concurrent_load_drops_nothing(
    backend: SyntheticBackend, model_a: ChurnModel, model_b: ChurnModel
) -> None:
    """Readers hammer GET while two reloads swap models; every answer is one whole pair."""
    answers = {"test-1": expected_answers(backend)}
    answers["test-2"] = expected_answers(SyntheticBackend(model_b, backend.snap))
    app = create_app(make_settings(), backend_factory=lambda _: backend)
    failures: list[str] = []
    seen: set[str] = set()
    stop = threading.Event()
    ids = [f"C{i:07d}" for i in range(0, 300, 7)]

    def reader(c: TestClient) -> None:
        while not stop.is_set():
            for cid in ids:
                r = c.get(CHURN.format(cid))
                body = r.json()
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {body}")
                    continue
                version = body["model_version"]
                seen.add(version)
                if body["churn_probability"] != answers[version][cid]:
                    failures.append(f"{cid}: probability not from model {version}")

    with TestClient(app, headers={"X-API-Key": CLIENT_KEY}) as c:
        threads = [threading.Thread(target=reader, args=(c,)) for _ in range(4)]
        for t in threads:
            t.start()
        for model in (model_b, model_a, model_b):
            backend.model = model
            r = c.post("/v1/admin/reload", headers={"X-API-Key": ADMIN_KEY})
            assert r.status_code == 200
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert seen == {"test-1", "test-2"}


def test_signal_file_reaches_other_workers(backend: SyntheticBackend, tmp_path: Path) -> None:
    signal = tmp_path / "reload.signal"
    options = ServiceOptions(signal_path=signal)
    first, second = ChurnService(backend, options), ChurnService(backend, options)
    assert not second.signal.pending()
    first.signal.touch()
    assert not first.signal.pending()  # the sender already reloaded
    assert second.signal.pending()
    assert not second.signal.pending()  # once per signal


def test_worker_reloads_on_signal(backend: SyntheticBackend, tmp_path: Path) -> None:
    signal = tmp_path / "reload.signal"
    settings = make_settings(reload_signal_path=signal, reload_poll_seconds=0.05)
    app = create_app(settings, backend_factory=lambda _: backend)
    with TestClient(app, headers={"X-API-Key": CLIENT_KEY}) as c:
        loads = backend.loads
        ChurnService(backend, ServiceOptions(signal_path=signal)).signal.touch()
        deadline = pd.Timestamp.now() + pd.Timedelta(seconds=10)
        while backend.loads == loads and pd.Timestamp.now() < deadline:
            c.get("/healthz")
        assert backend.loads == loads + 1


def test_no_champion_yet_is_one_log_line_without_traceback(caplog) -> None:
    import logging

    import pytest

    from serving.service import ChurnService, ReloadFailed, ServiceOptions

    class NoChampion:
        def load(self):  # what load_registered_bundle raises before a first promotion
            raise LookupError("no version of 'churn-lgbm' has alias 'champion'")

    service = ChurnService(NoChampion(), ServiceOptions())  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING), pytest.raises(ReloadFailed):
        service.reload()
    records = [r for r in caplog.records if r.name == "serving.service"]
    assert len(records) == 1 and records[0].exc_info is None
    assert "alias 'champion'" in records[0].getMessage()
    assert service.last_error is not None and "champion" in service.last_error
