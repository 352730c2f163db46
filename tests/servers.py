"""Real server processes started by tests: start, wait until they answer, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def wait_until_ready(
    proc: subprocess.Popen[bytes],
    url: str,
    log: Path,
    timeout: float = 120.0,
    interval: float = 0.2,
) -> None:
    """Poll ``url`` until it answers 200; fail with the server log's tail when the
    process exits or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"server at {url} did not become ready:\n{log.read_text()[-3000:]}")
        time.sleep(interval)


def free_port() -> int:
    """A free TCP port on the loopback interface, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn_app(cwd: Path, env: dict[str, str], log: Path) -> Iterator[tuple[str, Path]]:
    """``uvicorn serving.app:create_app --factory`` on a free port in ``cwd`` with ``env``
    added to the environment; yields (base URL, log path) once ``/readyz`` answers, and
    asserts a clean shutdown (exit 0 or the SIGTERM uvicorn re-raises) afterwards."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "serving.app:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(proc, f"{base}/readyz", log, timeout=300, interval=0.5)
        yield base, log
    finally:
        proc.terminate()
        code = proc.wait(timeout=30)
    assert code in (0, -signal.SIGTERM), log.read_text()[-3000:]
