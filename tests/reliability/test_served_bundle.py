"""A real uvicorn serving a bundle on disk: corrupt artifacts and hostile bodies.

Reloading a truncated ``booster.txt`` used to crash the process inside LightGBM's
parser (SIGSEGV/SIGABRT). Here the bundle is cut at several points while two clients
keep asking for known customers: every reload must answer ``503 reload_failed``
naming the file, the process must stay up and every client request must get the old
model's answer. A server started on a bad bundle must stay up and say what is wrong
on ``/readyz`` without paths. Hostile score bodies must not break the keep-alive
connection they came on.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.reliability.test_api_inputs import HOSTILE
from tests.serving.conftest import snapshot, train_model

ROOT = Path(__file__).resolve().parents[2]
KEY, ADMIN = "rel-client-key", "rel-admin-key"
CUTS = (0.02, 0.3, 0.5, 0.8, 0.99)
pytestmark = pytest.mark.slow


@dataclass
class Server:
    base: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    bundle: Path
    snapshot: Path
    ids: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _artifacts(tmp: Path) -> tuple[Path, Path, list[str]]:
    bundle = train_model(seed=1).save(tmp / "churn")
    frame = snapshot(n=60)
    path = tmp / "latest.parquet"
    frame.to_parquet(path, index=False)
    return bundle, path, [str(c) for c in frame["customer_id"][:8]]


def _start(tmp: Path, bundle: Path, snap: Path) -> Server:
    port = _free_port()
    env = {**os.environ, "CHURN_MODEL_DIR": str(bundle), "CHURN_SNAPSHOT_PATH": str(snap),
           "CHURN_PARAMS_PATH": str(ROOT / "params.yaml"), "CHURN_API_KEYS": KEY,
           "CHURN_ADMIN_KEY": ADMIN}  # fmt: skip
    log = tmp / f"server-{port}.log"
    cmd = [sys.executable, "-m", "uvicorn", "serving.app:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Server(f"http://127.0.0.1:{port}", port, proc, log, bundle, snap)


def _wait(server: Server, want: int) -> httpx.Response:
    deadline = time.monotonic() + 120
    while True:
        try:
            response = httpx.get(f"{server.base}/readyz", timeout=5)
            if response.status_code == want and response.json()["status"] != "loading":
                return response
        except httpx.TransportError:
            pass
        if server.proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"server never answered {want}:\n{server.log.read_text()[-3000:]}")
        time.sleep(0.3)


def _stop(server: Server) -> None:
    server.proc.terminate()
    code = server.proc.wait(timeout=30)
    text = server.log.read_text()
    assert code in (0, -signal.SIGTERM), text[-3000:]
    assert "Segmentation" not in text and "terminate called" not in text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("served")
    bundle, snap, ids = _artifacts(tmp)
    running = _start(tmp, bundle, snap)
    running.ids = ids
    try:
        _wait(running, 200)
        yield running
    finally:
        _stop(running)


def _answers(base: str, ids: list[str]) -> dict[str, float]:
    headers = {"X-API-Key": KEY}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        return {c: client.get(f"/v1/customers/{c}/churn").json()["churn_probability"] for c in ids}


class Load:
    """Two clients asking for known customers until stopped; they record every miss."""

    def __init__(self, server: Server, expected: dict[str, float]) -> None:
        self.server, self.expected = server, expected
        self.stop = threading.Event()
        self.done = 0
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def _run(self) -> None:
        headers = {"X-API-Key": KEY}
        with httpx.Client(base_url=self.server.base, headers=headers, timeout=30) as client:
            while not self.stop.is_set():
                for cid, prob in self.expected.items():
                    try:
                        r = client.get(f"/v1/customers/{cid}/churn")
                        ok = r.status_code == 200 and r.json()["churn_probability"] == prob
                        if not ok:
                            self.failures.append(f"{cid}: {r.status_code} {r.text[:120]}")
                    except httpx.HTTPError as exc:
                        self.failures.append(f"{cid}: {type(exc).__name__} {exc}")
                    self.done += 1

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def _reload(server: Server) -> httpx.Response:
    return httpx.post(f"{server.base}/v1/admin/reload", headers={"X-API-Key": ADMIN}, timeout=120)


def test_truncated_artifacts_never_replace_the_served_model(server: Server) -> None:
    expected = _answers(server.base, server.ids)
    booster = server.bundle / "booster.txt"
    original, snap_bytes = booster.read_bytes(), server.snapshot.read_bytes()
    try:
        with Load(server, expected) as load:
            for cut in CUTS:
                booster.write_bytes(original[: int(len(original) * cut)])
                response = _reload(server)
                assert response.status_code == 503, (cut, response.text)
                error = response.json()["error"]
                assert error["code"] == "reload_failed", error
                assert (
                    "booster.txt" in error["message"] and str(server.bundle) not in error["message"]
                )
                assert server.proc.poll() is None, f"server died at cut {cut}"
            booster.write_bytes(original)
            server.snapshot.write_bytes(snap_bytes[: len(snap_bytes) // 2])
            response = _reload(server)
            assert response.status_code == 503 and "latest.parquet" in response.text
            time.sleep(0.5)
    finally:
        booster.write_bytes(original)
        server.snapshot.write_bytes(snap_bytes)
    assert server.proc.poll() is None
    assert not load.failures, load.failures[:5]
    assert load.done >= 20, load.done
    assert _reload(server).status_code == 200
    assert _answers(server.base, server.ids) == expected


def test_hostile_bodies_keep_the_connection(server: Server) -> None:
    """422 for each hostile body, then a normal request on the very same socket."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
    conn.connect()
    sock = conn.sock
    try:
        for name, body in HOSTILE.items():
            conn.request(
                "POST", "/v1/churn/score", json.dumps({"customer_id": "N1", **body}), headers
            )
            response = conn.getresponse()
            text = response.read()
            assert response.status == 422, (name, text)
            assert not response.will_close and conn.sock is sock, f"{name}: connection closed"
            conn.request("GET", f"/v1/customers/{server.ids[0]}/churn", headers=headers)
            response = conn.getresponse()
            assert response.status == 200 and response.read(), name
            assert conn.sock is sock, f"after {name}: reconnected"
    finally:
        conn.close()


def test_keys_in_query_strings_stay_out_of_the_access_log(server: Server) -> None:
    secret = "leaked-" + KEY
    response = httpx.get(f"{server.base}/v1/model", params={"api_key": secret, "lang": "en"})
    assert response.status_code == 401
    time.sleep(0.3)  # the access line is written after the response
    text = server.log.read_text()
    assert "GET /v1/model?api_key=***&lang=en" in text
    assert secret not in text


def test_a_bad_bundle_at_start_is_refused_cleanly(tmp_path: Path) -> None:
    bundle, snap, _ = _artifacts(tmp_path)
    booster = bundle / "booster.txt"
    booster.write_bytes(booster.read_bytes()[:100])
    bad = _start(tmp_path, bundle, snap)
    try:
        body = _wait(bad, 503).json()
        assert body["status"] == "failed" and "booster.txt" in body["detail"], body
        assert str(tmp_path) not in body["detail"] and "Traceback" not in body["detail"]
        scored = httpx.get(f"{bad.base}/v1/customers/x/churn", headers={"X-API-Key": KEY})
        assert scored.status_code == 503 and scored.json()["error"]["code"] == "model_not_loaded"
        assert str(tmp_path) not in scored.text
        assert bad.proc.poll() is None
    finally:
        _stop(bad)
