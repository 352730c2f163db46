"""A real uvicorn server on the alert database (SQLite and PostgreSQL): the curl examples
of docs/alerts.md run as written, and outcomes survive the server being killed mid-write."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from alerts.store import open_store
from alerts.worklist import build_worklist
from config.alerts import AlertsParams
from tests.alerts.helpers import scores_frame
from tests.servers import wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
KEY = "sales-ops-key"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, db_url: str, orders: Path, log: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "CHURN_DB_URL": db_url,
            "CHURN_STARTUP_LOAD": "off",
            "CHURN_API_KEYS": KEY,
            "CHURN_ORDERS_PATH": str(orders),
            "CHURN_PARAMS_PATH": str(ROOT / "params.yaml"),
        }
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "serving.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        wait_until_ready(self.proc, f"{self.base}/healthz", self.log, timeout=60)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)


@pytest.fixture
def seeded(db_url: str, tmp_path: Path) -> tuple[pd.DataFrame, Path]:
    store = open_store(db_url)
    wl = build_worklist(
        scores_frame(40, owners=["ann", "bob"]),
        store.history(),
        AlertsParams(capacity_per_cycle=20, control_share=0.2),
        seed=2,
    )
    store.save_worklist(wl.alerts)
    store.engine.dispose()
    orders = tmp_path / "orders.parquet"
    pd.DataFrame(
        {
            "customer_id": ["c000", "zz"],
            "status": "completed",
            "order_ts": pd.to_datetime(["2011-12-20", "2012-04-01"]),
        }
    ).to_parquet(orders)
    return wl.alerts, orders


@pytest.fixture
def server(db_url: str, seeded: tuple[pd.DataFrame, Path], tmp_path: Path) -> Iterator[Server]:
    srv = Server(db_url, seeded[1], tmp_path / "server.log")
    srv.start()
    yield srv
    srv.stop()


def _examples() -> list[str]:
    text = (ROOT / "docs" / "alerts.md").read_text(encoding="utf-8")
    return [b for b in re.findall(r"```bash\n(.*?)```", text, re.S) if "curl" in b]


def test_curl_examples_then_a_kill_mid_write_loses_no_outcome(
    server: Server, db_url: str, seeded: tuple[pd.DataFrame, Path]
) -> None:
    """One server per backend (starting one is the slow part): the docs, then the kill."""
    alerts = seeded[0]
    aid = alerts.loc[alerts["group"] == "treatment", "alert_id"].iloc[0]
    _run_examples(server, aid, len(alerts))
    acknowledged = _post_until_killed(server, aid)
    assert len(acknowledged) >= 30
    server.start()  # same database
    store = open_store(db_url)
    stored = store.outcomes_frame()
    store.engine.dispose()
    assert len(stored) >= len(acknowledged) + 1  # nothing acknowledged was lost (+ the docs')
    with httpx.Client(base_url=server.base, headers={"X-API-Key": KEY}, timeout=5) as c:
        for at in acknowledged[-5:]:
            again = c.post("/v1/outcomes", json=_outcome(aid, at))
            assert again.status_code == 200  # already stored: idempotent replay


def _run_examples(server: Server, aid: str, n_alerts: int) -> None:
    """The curl examples of docs/alerts.md, run as written with BASE, KEY and ALERT_ID set."""
    env = {**os.environ, "BASE": server.base, "KEY": KEY, "ALERT_ID": aid}
    examples = _examples()
    assert len(examples) == 3
    answers = []
    for block in examples:
        done = subprocess.run(
            ["bash", "-euc", block], env=env, capture_output=True, text=True, timeout=60, check=True
        )
        answers.append(json.loads(done.stdout))
    listed, outcome, performance = answers
    assert listed["total"] > 0 and {a["owner"] for a in listed["alerts"]} == {"ann"}
    assert outcome["alert_id"] == aid and outcome["result"] == "retained"
    assert performance["overall"]["alerts"] == n_alerts


def _outcome(aid: str, at: str) -> dict[str, str]:
    return {"alert_id": aid, "action": "call", "contacted_at": at, "result": "no_answer"}


def _post_until_killed(server: Server, aid: str) -> list[str]:
    """Post outcomes as fast as possible and SIGKILL the server in the middle of it."""
    acknowledged: list[str] = []
    stop = threading.Event()

    def post_forever() -> None:
        with httpx.Client(base_url=server.base, headers={"X-API-Key": KEY}, timeout=5) as c:
            for i in range(100_000):
                if stop.is_set():
                    return
                at = f"2011-12-12T11:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}000Z"
                try:
                    answer = c.post("/v1/outcomes", json=_outcome(aid, at))
                except httpx.TransportError:
                    return  # the server died under us
                if answer.status_code in (200, 201):
                    acknowledged.append(at)

    writer = threading.Thread(target=post_forever)
    writer.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.stop(signal.SIGKILL)  # mid-write: the writer is posting as fast as it can
    stop.set()
    writer.join(timeout=10)
    return acknowledged
