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

The server is shared by clients with the same interpreter, installed packages, this
file and the environment variables libraries read at import (``OMP_*``, ``LANG``, ...);
it listens on a Unix socket in a private directory (``CHURN_STAGE_SOCKET_DIR``, default
``$TMPDIR/churn-stages-<uid>``) and exits after ``CHURN_STAGE_IDLE`` seconds (60)
without a stage. ``CHURN_STAGE_SERVER=0`` runs every stage directly, as does any
problem reaching the server (the stage then runs exactly as before).

    python -m config.launch training.evaluate --params params.yaml ...
"""

from __future__ import annotations

import ast
import contextlib
import gc
import hashlib
import io
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import sysconfig
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

#: Project packages whose third-party imports the server preloads (their own modules
#: are never kept in the server).
PIPELINE_PACKAGES = (
    "config",
    "ingest",
    "features",
    "bundle",
    "training",
    "scoring",
    "report",
    "alerts",
)
#: Imported lazily on purpose (the Spark engine), so not preloaded.
LAZY = ("pyspark",)
#: Imported by libraries on first use in every pipeline run (MLflow's SQL stores).
ON_FIRST_USE = (
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
)
#: Environment variables that libraries read when they are imported: a client whose
#: values differ gets its own server.
IMPORT_TIME_ENV = (
    "OMP_", "KMP_", "MKL_", "OPENBLAS_", "GOTO", "BLIS_", "NUMBA_", "NUMEXPR_", "MPL",
    "PYTHON", "LD_", "LC_", "LANG", "TZ", "TMPDIR", "HOME", "XDG_", "ARROW_", "JAVA_HOME",
)  # fmt: skip
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: fork, Unix sockets with descriptor passing and peer credentials (Linux); elsewhere
#: every stage runs directly.
SUPPORTED = hasattr(os, "fork") and hasattr(socket, "send_fds") and hasattr(socket, "SO_PEERCRED")


def _key(env: dict[str, str]) -> str:
    facts = {
        "python": sys.executable,
        "launcher": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "packages": os.stat(sysconfig.get_paths()["purelib"]).st_mtime_ns,
        "env": sorted((k, v) for k, v in env.items() if k.startswith(IMPORT_TIME_ENV)),
    }
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:20]


def socket_path(env: dict[str, str]) -> Path:
    """The server's socket for clients with environment ``env``."""
    base = env.get("CHURN_STAGE_SOCKET_DIR") or os.path.join(
        env.get("TMPDIR") or "/tmp", f"churn-stages-{os.getuid()}"
    )
    return Path(base) / f"{_key(env)}.sock"


def _send(conn: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    packet = struct.pack(">I", len(data)) + data
    if fds:
        socket.send_fds(conn, [packet], fds)
    else:
        conn.sendall(packet)


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = conn.recv(n - len(out))
        if not chunk:
            raise ConnectionError("the other side closed the connection")
        out += chunk
    return out


def _recv(conn: socket.socket) -> dict[str, Any]:
    (size,) = struct.unpack(">I", _recv_exact(conn, 4))
    return json.loads(_recv_exact(conn, size))


# --------------------------------------------------------------------------- client


def _run_directly(module: str, args: list[str]) -> NoReturn:
    os.execv(sys.executable, [sys.executable, "-m", module, *args])


def _ready(path: Path, package: str) -> Path:
    """Exists once the server at ``path`` has imported what ``package`` (and every
    package before it in :data:`PIPELINE_PACKAGES`) imports, and forks its stages."""
    return path.with_name(f"{path.name}.ready-{package}")


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
        [sys.executable, "-m", "config.launch", "--serve", str(path)],
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
    if not path.exists():
        with contextlib.suppress(OSError):
            _start_server(path)
        _run_directly(module, args)
    package = module.split(".")[0]
    if package not in PIPELINE_PACKAGES:  # not a pipeline stage: when everything is in
        package = PIPELINE_PACKAGES[-1]
    if not _wait_ready(_ready(path, package), float(env.get("CHURN_STAGE_WAIT", "3"))):
        _run_directly(module, args)  # importing still: running directly is sooner
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:  # a server that died: start another, run this stage as usual
        conn.close()
        with contextlib.suppress(OSError):
            _start_server(path)
        _run_directly(module, args)
    try:
        conn.settimeout(60)
        request = {"module": module, "args": args, "cwd": os.getcwd(), "env": env}
        _send(conn, request, [0, 1, 2])
        started = _recv(conn)
        pid = int(started["pid"])
    except (OSError, ValueError, KeyError, ConnectionError):
        conn.close()
        _run_directly(module, args)
    conn.settimeout(None)
    for sig in _SIGNALS:
        signal.signal(sig, lambda s, _frame: os.kill(pid, s))
    try:
        return _exit_code(int(_recv(conn)["status"]))
    except (OSError, ValueError, KeyError, ConnectionError) as exc:
        print(f"config.launch: lost the stage server while {module} ran: {exc}", file=sys.stderr)
        return 1


# --------------------------------------------------------------------------- server


def third_party_imports(root: Path, packages: tuple[str, ...] = PIPELINE_PACKAGES) -> list[str]:
    """Modules ``packages`` under ``root`` import that are neither the project's nor the
    standard library's, nor :data:`LAZY`."""
    found: set[str] = set()
    for package in packages:
        for source in sorted((root / package).rglob("*.py")):
            try:
                tree = ast.parse(source.read_text(encoding="utf-8"))
            except (OSError, SyntaxError, UnicodeDecodeError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    found.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module)
    top = {name.split(".")[0] for name in found}
    keep = top - set(PIPELINE_PACKAGES) - set(sys.stdlib_module_names) - set(LAZY)
    return sorted(n for n in found if n.split(".")[0] in keep)


def _preload(root: Path, package: str) -> None:
    names = third_party_imports(root, (package,))
    for name in (*names, *(ON_FIRST_USE if package == "training" else ())):
        try:
            __import__(name)
        except Exception:  # a module that fails here fails in the stage, visibly
            continue


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple({paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")})


def _forget_project_modules() -> None:
    """Drop every imported module that is not the standard library's or an installed
    package's: the stage imports the project's code afresh from its own directory."""
    libraries = _library_dirs()
    for name, mod in list(sys.modules.items()):
        if name == "__main__":  # this launcher, running; the stage gets its own
            continue
        file = getattr(mod, "__file__", None)
        outside = file is not None and not os.path.abspath(file).startswith(libraries)
        if outside or name.split(".")[0] in PIPELINE_PACKAGES:
            del sys.modules[name]


def _die_with_parent() -> None:
    """SIGTERM to this process when its handler dies (Linux ``PR_SET_PDEATHSIG``): a
    stage never outlives the handler that reports it to its client."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
        if os.getppid() == 1:  # the handler died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)


def _run_stage(request: dict[str, Any], fds: list[int], closing: list[socket.socket]) -> int:
    """In the forked stage process: become ``python -m module args``, run it."""
    import runpy

    for sock in closing:
        sock.close()
    for sig in (*_SIGNALS, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _die_with_parent()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=os.isatty(1))
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    _forget_project_modules()
    sys.path[0] = request["cwd"]
    sys.argv = [request["module"], *request["args"]]
    try:
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        traceback.print_exc()
        return 128 + signal.SIGINT
    except BaseException:  # reported as python -m would, exit status 1
        traceback.print_exc()
        return 1
    return 0


def _finish(code: int) -> NoReturn:
    """End the stage process as the interpreter would, without tearing down every module.

    Python's exit joins non-daemon threads, runs the ``atexit`` handlers, flushes the
    standard streams, then frees every module one by one: in a process holding all the
    pipeline's libraries that last step alone is over a second. The stage's own objects
    are freed by a garbage collection (the server froze its libraries' objects, so this
    visits the stage's only) before the process ends.
    """
    import atexit
    import gc
    import threading

    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    gc.collect()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _handle(conn: socket.socket, inherited: list[Any]) -> NoReturn:
    """In a forked handler: fork the stage, report its pid and status to the client,
    terminate it if the client goes away."""
    for held in inherited:  # the server's socket and lock are not the handler's
        held.close()
    code = 1
    try:
        packet, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
        (size,) = struct.unpack(">I", packet[:4])
        data = packet[4:]
        while len(data) < size:
            data += _recv_exact(conn, size - len(data))
        request = json.loads(data)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        pid = os.fork()
        if pid == 0:
            _finish(_run_stage(request, fds, [conn]))
        for fd in fds:
            os.close(fd)
        _send(conn, {"pid": pid})
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                _send(conn, {"status": status})
                code = 0
                break
            readable, _, _ = select.select([conn], [], [], 0.05)
            if readable and not conn.recv(1, socket.MSG_PEEK):  # the client is gone
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
                break
    except Exception:  # the client falls back or reports the lost server
        code = 1
    finally:
        conn.close()
    os._exit(code)


def _accept(listener: socket.socket, inherited: list[Any]) -> bool:
    """Fork a handler for each waiting client (one, blocking, with a timeout set).
    False when nobody came before the listener's timeout."""
    while True:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return True
        except TimeoutError:
            return False
        conn.settimeout(None)
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        if struct.unpack("3i", creds)[1] != os.getuid():
            conn.close()
            continue
        if os.fork() == 0:
            _handle(conn, inherited)
        conn.close()
        if listener.gettimeout() != 0.0:
            return True


def serve(path: Path, idle: float) -> None:
    """Bind ``path``, import the libraries, fork a handler per client until idle."""
    import fcntl

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = open(f"{path}.lock", "w")  # noqa: SIM115 - held for the server's lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another server for this key is starting or running
    for stale in (path, *(_ready(path, p) for p in PIPELINE_PACKAGES)):  # a dead server's
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(16)
    me = os.getpid()
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handlers are reaped automatically
        listener.setblocking(False)
        # in stage order, so a stage can start before the later stages' libraries are in
        for package in PIPELINE_PACKAGES:
            _preload(Path.cwd(), package)
            gc.freeze()  # out of every later collection (and copy-on-write friendlier)
            _ready(path, package).touch()
            _accept(listener, [listener, lock])
        listener.settimeout(idle)
        while _accept(listener, [listener, lock]):
            pass
    finally:
        if os.getpid() == me:  # not in a forked stage unwinding through here
            for mine in (*(_ready(path, p) for p in PIPELINE_PACKAGES), path):
                with contextlib.suppress(OSError):
                    mine.unlink()
            listener.close()
            lock.close()


def main(argv: list[str] | None = None) -> int:
    """``config.launch <module> [args...]`` or ``config.launch --serve <socket>``."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    if argv[0] == "--serve":
        serve(Path(argv[1]), float(os.environ.get("CHURN_STAGE_IDLE", "60")))
        return 0
    return client(argv[0], argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
