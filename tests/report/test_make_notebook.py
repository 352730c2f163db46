"""`make notebook` (README) starts Jupyter on the analyst notebook and serves it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_make_notebook_serves_the_analyst_notebook(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "NOTEBOOK_PORT": str(port),
        "BROWSER": "true",  # the `true` command: no browser window from a test
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
    }
    if os.geteuid() == 0:  # CI runs as root, which Jupyter refuses unless told
        (tmp_path / "config").mkdir()
        config = {"ServerApp": {"allow_root": True}}
        (tmp_path / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
    log = tmp_path / "jupyter.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["make", "notebook"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        token = None
        deadline = time.monotonic() + 120
        while token is None and time.monotonic() < deadline and proc.poll() is None:
            found = re.search(rf"http://127\.0\.0\.1:{port}/\S*token=(\w+)", log.read_text())
            token = found.group(1) if found else None
            time.sleep(0.5)
        assert token, log.read_text()[-3000:]
        url = f"http://127.0.0.1:{port}/api/contents/analyst.ipynb?token={token}"
        with urllib.request.urlopen(url, timeout=30) as answer:
            notebook = json.loads(answer.read())
        assert notebook["type"] == "notebook"
        cells = notebook["content"]["cells"]
        assert any("scores_path" in "".join(c["source"]) for c in cells)
        page = f"http://127.0.0.1:{port}/notebooks/analyst.ipynb?token={token}"
        with urllib.request.urlopen(page, timeout=30) as answer:  # what the browser opens
            assert answer.status == 200 and b"<html" in answer.read().lower()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
