"""Run a stage module in a process forked from a warm interpreter.

Every ``dvc.yaml`` command is ``python -m config.launch <package.stage> <args>``. Each
stage is its own process, and most of a stage's start-up is importing the same
libraries (pandas, LightGBM, scikit-learn, MLflow, shap, matplotlib: 1-5 s a stage,
about half of ``dvc repro`` on the bundled data). So the first stage of a run starts a
background *stage server* and runs itself as usual; the server imports those libraries
once (on the other core, while the first stages run), package by package in pipeline
order, and every later stage is forked from it as soon as its package's libraries are
in: ``python -m package.stage args`` without the import time. A stage whose libraries
are not in within ``CHURN_STAGE_WAIT`` seconds (3) runs directly.

What the forked stage sees is what ``python -m package.stage args`` would see: the
client's argv, working directory, environment, stdin/stdout/stderr (passed as file
descriptors) and ``sys.path[0]``. Project modules are never taken from the server: it
imports third-party libraries only (the ones the pipeline packages import, found by
reading their source), and the fork drops any project module before running the stage,
so an edited stage always runs its new code. The client forwards SIGINT, SIGTERM and
SIGHUP to the stage, and a stage whose client dies is terminated. The exit status is
the stage's (128 + N when a signal N ended it).

The server (:mod:`config.stage_server`) is shared by clients with the same interpreter,
installed packages, launcher code and the environment variables libraries read at
import (``OMP_*``, ``LANG``, ...); it listens on a Unix socket in a private directory
(``CHURN_STAGE_SOCKET_DIR``, default ``$TMPDIR/churn-stages-<uid>``) and exits after
``CHURN_STAGE_IDLE`` seconds (60) without a stage. ``CHURN_STAGE_SERVER=0`` runs every
stage directly, as does any problem reaching the server (the stage then runs exactly as
before).

    python -m config.launch training.evaluate --params params.yaml ...
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import NoReturn

from config.stage_server import PIPELINE_PACKAGES, ready_marker, recv_message, send_message

#: Environment variables that libraries read when they are imported: a client whose
#: values differ gets its own server.
IMPORT_TIME_ENV = (
    "OMP_", "KMP_", "MKL_", "OPENBLAS_", "GOTO", "BLIS_", "NUMBA_", "NUMEXPR_", "MPL",
    "PYTHON", "LD_", "LC_", "LANG", "TZ", "TMPDIR", "HOME", "XDG_", "ARROW_", "JAVA_HOME",
    "SKLEARN_", "PANDAS_", "JOBLIB_", "MLFLOW_", "DUCKDB_", "SCIPY_", "NUMPY_", "LIGHTGBM",
)  # fmt: skip
#: Read when used, not at import, and different for every copy of a project.
RUN_TIME_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: fork, Unix sockets with descriptor passing and peer credentials (Linux); elsewhere
#: every stage runs directly.
SUPPORTED = hasattr(os, "fork") and hasattr(socket, "send_fds") and hasattr(socket, "SO_PEERCRED")


def _key(env: dict[str, str]) -> str:
    facts = {
        "python": sys.executable,
        "launcher": [
            hashlib.sha256((Path(__file__).parent / name).read_bytes()).hexdigest()
            for name in ("launch.py", "stage_server.py")
        ],
        "packages": os.stat(sysconfig.get_paths()["purelib"]).st_mtime_ns,
        "env": sorted(
            (k, v)
            for k, v in env.items()
            if k.startswith(IMPORT_TIME_ENV) and k not in RUN_TIME_ENV
        ),
        # matplotlib reads ./matplotlibrc when it is imported
        "matplotlibrc": _digest(Path.cwd() / "matplotlibrc"),
    }
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:20]


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def private_dir(path: Path) -> bool:
    """``path`` is a real directory of ours that nobody else may write or enter."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def socket_path(env: dict[str, str]) -> Path:
    """The server's socket for clients with environment ``env``."""
    base = env.get("CHURN_STAGE_SOCKET_DIR") or os.path.join(
        env.get("TMPDIR") or "/tmp", f"churn-stages-{os.getuid()}"
    )
    return Path(base) / f"{_key(env)}.sock"


def _run_directly(module: str, args: list[str]) -> NoReturn:
    os.execv(sys.executable, [sys.executable, "-m", module, *args])


def _wait_ready(marker: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not marker.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _start_server(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    subprocess.Popen(
        [sys.executable, "-m", "config.stage_server", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def client(module: str, args: list[str]) -> int:
    """Run ``python -m module args`` through the stage server (see module docstring)."""
    env = dict(os.environ)
    if env.get("CHURN_STAGE_SERVER", "1") == "0" or not SUPPORTED:
        _run_directly(module, args)
    path = socket_path(env)
    if os.path.lexists(path.parent) and not private_dir(path.parent):
        _run_directly(module, args)  # someone else's directory: trust no socket in it
    if not path.exists():
        with contextlib.suppress(OSError):
            _start_server(path)
        _run_directly(module, args)
    package = module.split(".")[0]
    if package not in PIPELINE_PACKAGES:  # not a pipeline stage: when everything is in
        package = PIPELINE_PACKAGES[-1]
    if not _wait_ready(ready_marker(path, package), float(env.get("CHURN_STAGE_WAIT", "3"))):
        _run_directly(module, args)  # importing still: running directly is sooner
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        if struct.unpack("3i", creds)[1] != os.getuid():
            raise ConnectionRefusedError("the socket's server is another user's")
    except OSError:  # a server that died: start another, run this stage as usual
        conn.close()
        with contextlib.suppress(OSError):
            _start_server(path)
        _run_directly(module, args)
    try:
        conn.settimeout(60)
        umask = os.umask(0o022)
        os.umask(umask)
        ignored = [int(sig) for sig in _SIGNALS if signal.getsignal(sig) == signal.SIG_IGN]
        request = {
            "module": module,
            "args": args,
            "cwd": os.getcwd(),
            "env": env,
            "umask": umask,
            "ignored_signals": ignored,
        }
        send_message(conn, request, [0, 1, 2])
        started = recv_message(conn)
        pid = int(started["pid"])
    except (OSError, ValueError, KeyError, ConnectionError):
        conn.close()
        _run_directly(module, args)
    conn.settimeout(None)
    for sig in _SIGNALS:
        if int(sig) not in ignored:
            signal.signal(sig, lambda s, _frame: os.kill(pid, s))
    try:
        status = int(recv_message(conn)["status"])
    except (OSError, ValueError, KeyError, ConnectionError) as exc:
        print(f"config.launch: lost the stage server while {module} ran: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    if os.WIFSIGNALED(status):  # end as the stage did, so a parent sees the same signal
        ended = os.WTERMSIG(status)
        signal.signal(ended, signal.SIG_DFL)
        os.kill(os.getpid(), ended)
    return _exit_code(status)


def main(argv: list[str] | None = None) -> int:
    """``python -m config.launch <module> [args...]``."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    return client(argv[0], argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
