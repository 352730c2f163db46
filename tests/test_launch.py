"""config.launch: a stage forked from the warm stage server behaves as ``python -m`` would
(argv, cwd, environment, stdin/stdout/stderr, exit status, tracebacks), runs the
project's current code, stops when its client is interrupted or killed, and falls back
to a direct run when the server is off or unreachable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.stage_server import third_party_imports

ROOT = Path(__file__).resolve().parents[1]

STAGE = """
import os, sys, time
print("argv", sys.argv[1:])
print("cwd", os.getcwd())
print("served", os.environ.get("CHURN_LAUNCH_MARK"), os.getppid() != int(sys.argv[1]))
print("version", VERSION)
print("stdin", sys.stdin.read().strip())
mask = os.umask(0)
print("umask", oct(mask))
print("to stderr", file=sys.stderr)
if "--sleep" in sys.argv:
    with open("started.tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace("started.tmp", "started")
    time.sleep(60)
if "--nap" in sys.argv:
    time.sleep(2)
if "--fail" in sys.argv:
    raise RuntimeError("stage failed on purpose")
sys.exit(int(sys.argv[2]))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with a stage module ``fake.stage`` (and this repo's config package)."""
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "__init__.py").write_text("")
    (tmp_path / "fake" / "stage.py").write_text("VERSION = 1\n" + STAGE)
    return tmp_path


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A private server (its own socket directory), stopped after the test."""
    sockets = tmp_path / "sockets"
    out = {
        **os.environ,
        "CHURN_STAGE_SOCKET_DIR": str(sockets),
        "CHURN_STAGE_IDLE": "30",
        "PYTHONPATH": str(ROOT),
        "CHURN_LAUNCH_MARK": "yes",
    }
    yield out
    for pid in _servers(sockets):
        os.kill(pid, signal.SIGTERM)


def _servers(sockets: Path) -> list[int]:
    """Pids of stage servers listening in ``sockets``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--serve" in cmd and any(str(sockets).encode() in part for part in cmd):
            found.append(int(proc.name))
    return found


def _launch(
    project: Path, env: dict[str, str], code: str, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``python -m config.launch fake.stage <this pid> <exit code> args...``."""
    return subprocess.run(
        [sys.executable, "-m", "config.launch", "fake.stage", str(os.getpid()), code, *args],
        cwd=project, env=env, input=stdin, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _served(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A run that went through the server (the first run starts it and runs directly)."""
    deadline = time.monotonic() + 90
    while True:
        done = _launch(project, env, "0")
        # a forked stage's parent is the server's handler, not the launching process
        if "served yes True" in done.stdout or time.monotonic() > deadline:
            return done
        time.sleep(0.5)


def test_a_served_stage_is_what_python_m_would_run(project: Path, env: dict[str, str]) -> None:
    first = _launch(project, env, "3", "x y", stdin="hello")
    assert first.returncode == 3
    assert "served yes False" in first.stdout  # started the server, ran directly
    assert _served(project, env).returncode == 0
    done = _launch(project, env, "3", "x y", stdin="hello")
    assert done.returncode == 3
    assert done.stdout.splitlines() == [
        f"argv ['{os.getpid()}', '3', 'x y']",
        f"cwd {project}",
        "served yes True",
        "version 1",
        "stdin hello",
        "umask 0o22",
    ]
    assert done.stderr.strip() == "to stderr"


def test_an_edited_stage_runs_its_new_code(project: Path, env: dict[str, str]) -> None:
    _launch(project, env, "0")
    assert "version 1" in _served(project, env).stdout
    (project / "fake" / "stage.py").write_text("VERSION = 2\n" + STAGE)
    assert "version 2" in _served(project, env).stdout


def test_a_failing_stage_prints_its_traceback(project: Path, env: dict[str, str]) -> None:
    _launch(project, env, "0")
    _served(project, env)
    done = _launch(project, env, "0", "--fail")
    assert done.returncode == 1
    assert "served yes True" in done.stdout
    assert "Traceback" in done.stderr and "RuntimeError: stage failed on purpose" in done.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, "handler"])
def test_an_interrupted_client_stops_its_stage(
    project: Path, env: dict[str, str], sig: signal.Signals | str
) -> None:
    _launch(project, env, "0")
    _served(project, env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "config.launch", "fake.stage", str(os.getpid()), "0", "--sleep"],
        cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (project / "started").exists():
        assert time.monotonic() < deadline, "the stage did not start"
        time.sleep(0.05)
    stage = int((project / "started").read_text())
    assert stage != proc.pid  # forked from the server
    if isinstance(sig, str):  # the server-side process that reports the stage dies
        handler = int(_stat(stage)[1])
        os.kill(handler, signal.SIGKILL)
    else:
        proc.send_signal(sig)
    proc.wait(timeout=30)
    if sig == signal.SIGTERM:  # the client ends by the signal that ended the stage
        assert proc.returncode == -signal.SIGTERM
    deadline = time.monotonic() + 10
    while _alive(stage) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(stage), "the stage outlived its client"


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: state, parent pid, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _alive(pid: int) -> bool:
    try:
        return _stat(pid)[0] != "Z"  # a zombie has ended
    except OSError:
        return False


def test_the_clients_umask_and_ignored_signals_are_the_stages(
    project: Path, env: dict[str, str]
) -> None:
    _launch(project, env, "0")
    _served(project, env)

    def nohup_umask() -> None:
        os.umask(0o077)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-m", "config.launch", "fake.stage", str(os.getpid()), "0", "--nap"],
        cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
        preexec_fn=nohup_umask,
    )  # fmt: skip
    time.sleep(1)
    proc.send_signal(signal.SIGHUP)  # ignored, as under nohup: the stage finishes
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "served yes True" in out and "umask 0o77" in out


def test_a_socket_directory_others_can_write_is_not_trusted(
    project: Path, env: dict[str, str]
) -> None:
    _launch(project, env, "0")
    _served(project, env)
    Path(env["CHURN_STAGE_SOCKET_DIR"]).chmod(0o777)
    done = _launch(project, env, "4")
    assert done.returncode == 4 and "served yes False" in done.stdout


def test_the_server_can_be_switched_off(project: Path, env: dict[str, str]) -> None:
    off = {**env, "CHURN_STAGE_SERVER": "0"}
    for _ in range(2):
        done = _launch(project, off, "0")
        assert done.returncode == 0 and "served yes False" in done.stdout
    assert not _servers(Path(env["CHURN_STAGE_SOCKET_DIR"]))


def test_a_stale_socket_falls_back_to_a_direct_run(project: Path, env: dict[str, str]) -> None:
    from config.launch import socket_path

    path = socket_path(env)
    path.parent.mkdir(parents=True)
    path.write_text("not a socket")  # left behind by something else
    done = _launch(project, env, "5")
    assert done.returncode == 5 and "served yes False" in done.stdout


def test_the_server_preloads_third_party_libraries_only() -> None:
    names = third_party_imports(ROOT)
    assert {"pandas", "lightgbm", "mlflow", "shap", "duckdb"} <= {n.split(".")[0] for n in names}
    project = {"config", "ingest", "features", "bundle", "training", "scoring", "report", "alerts"}
    assert not project & {n.split(".")[0] for n in names}
    assert "pyspark" not in {n.split(".")[0] for n in names}  # lazy on purpose
    assert not {"os", "json", "pathlib"} & set(names)
