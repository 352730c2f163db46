"""Every curl example of docs/serving.md and of the README's API section, run as written
(``bash``, real ``curl``) against a real uvicorn server, must answer its documented status.

The server is :mod:`tests.serving.docs_server` (the small synthetic model, the docs'
customer ids), so this takes seconds, not a pipeline run. ``make serve`` lines are the
server the test already started; the docs' ``127.0.0.1:8000`` is the test's free port.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
KEY, ADMIN_KEY = "docs-client-key", "docs-admin-key"
README_KEY = "crm-key-1"  # the key the README's example exports and sends
DOCS_BASE = "http://127.0.0.1:8000"
# One status per curl call of each block, in document order: every example documents
# a successful call (the error shapes are described in prose, not as curl examples).
EXPECTED = {
    "docs/serving.md": [[200], [200], [200], [200, 200, 200, 200], [200]],
    "README.md": [[200]],
}
# Each curl writes its body to a numbered file and prints its status on a line.
PRELUDE = """
make() { :; }
N=0
curl() { N=$((N+1)); command curl -o "$OUT/$N" -w '%{http_code}\\n' "$@"; }
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def curl_blocks(doc: str) -> list[str]:
    """The bash blocks with a curl call: the whole of docs/serving.md, the README's API
    section ("## The API for the CRM" up to the next section)."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    if doc == "README.md":
        text = text.split("## The API for the CRM", 1)[1].split("\n## ", 1)[0]
    return [b for b in re.findall(r"```bash\n(.*?)```", text, re.S) if "curl " in b]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("docs-server") / "server.log"
    cmd = [sys.executable, "-m", "tests.serving.docs_server", "--port", str(port),
           "--keys", f"{KEY},{README_KEY}", "--admin-key", ADMIN_KEY]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")}
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(proc, f"{url}/readyz", log, timeout=120)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("doc", sorted(EXPECTED))
def test_every_curl_example_answers_its_documented_status(
    doc: str, base: str, tmp_path: Path
) -> None:
    blocks = curl_blocks(doc)
    assert len(blocks) == len(EXPECTED[doc]), "a curl example was added or removed: list it"
    env = {**os.environ, "KEY": KEY, "ADMIN_KEY": ADMIN_KEY}
    for block, expected in zip(blocks, EXPECTED[doc], strict=True):
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        out.mkdir()
        script = PRELUDE + block.replace(DOCS_BASE, base)
        done = subprocess.run(
            ["bash", "-euc", script], env={**env, "OUT": str(out)},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, f"{block}\n{done.stderr}"
        statuses = [int(s) for s in done.stdout.split()]
        bodies = [(out / str(i + 1)).read_text("utf-8") for i in range(len(statuses))]
        assert statuses == expected, f"{block}\n{bodies}"
        for body in bodies:
            if not body.startswith("#"):  # /metrics is Prometheus text
                json.loads(body)
