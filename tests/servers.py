"""Waiting for a real server process started by a test to answer."""

from __future__ import annotations

import socket
import subprocess
import time
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
