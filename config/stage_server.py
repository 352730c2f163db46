"""The stage server of :mod:`config.launch`: import the pipeline's libraries once, then
fork each stage from this warm interpreter.

``python -m config.stage_server <socket>`` (started by the first stage of a run). It binds
the Unix socket, imports package by package (:data:`PIPELINE_PACKAGES`, in pipeline
order) the third-party modules those packages import, marks each package ready, and
forks a handler per client; the handler forks the stage, reports its pid and exit status
to the client, and terminates it when the client goes away. Only the standard library is
imported here, so the client stays light.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import io
import json
import os
import select
import signal
import socket
import struct
import sys
import sysconfig
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
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def send_message(
    conn: socket.socket, message: dict[str, Any], fds: list[int] | None = None
) -> None:
    """One length-prefixed JSON message (with ``fds`` passed alongside)."""
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


def recv_message(conn: socket.socket) -> dict[str, Any]:
    """The next length-prefixed JSON message."""
    (size,) = struct.unpack(">I", _recv_exact(conn, 4))
    return json.loads(_recv_exact(conn, size))


def ready_marker(path: Path, package: str) -> Path:
    """Exists once the server at ``path`` has imported what ``package`` (and every
    package before it in :data:`PIPELINE_PACKAGES`) imports, and forks its stages."""
    return path.with_name(f"{path.name}.ready-{package}")


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


def _stage_frames(tb: Any) -> Any:
    """The traceback from the stage's own frames on (this module's are not the stage's)."""
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return tb


def _run_stage(request: dict[str, Any], fds: list[int], closing: list[socket.socket]) -> int:
    """In the forked stage process: become ``python -m module args``, run it.

    Besides argv, cwd, environment and standard streams, the client's umask and the
    signals it ignores (``nohup``, a background job's SIGINT) are the stage's.
    """
    import runpy

    for sock in closing:
        sock.close()
    ignored = set(request.get("ignored_signals", []))
    for sig in (*_SIGNALS, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_IGN if int(sig) in ignored else signal.SIG_DFL)
    if int(signal.SIGINT) not in ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    _die_with_parent()
    os.umask(int(request.get("umask", 0o022)))
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
    except BaseException as exc:  # reported as python -m would
        traceback.print_exception(type(exc), exc, _stage_frames(exc.__traceback__))
        return 128 + signal.SIGINT if isinstance(exc, KeyboardInterrupt) else 1
    return 0


def _release_project_modules() -> None:
    """Drop the project modules' globals, as the interpreter's teardown would: objects
    they hold (an open log file, say) are closed and flushed before the process ends."""
    libraries = _library_dirs()
    for name, mod in list(sys.modules.items()):
        file = getattr(mod, "__file__", None)
        if name != "__main__" and file and not os.path.abspath(file).startswith(libraries):
            with contextlib.suppress(Exception):
                mod.__dict__.clear()


def _finish(code: int) -> NoReturn:
    """End the stage process as the interpreter would, without tearing down every module.

    Python's exit joins non-daemon threads, runs the ``atexit`` handlers, flushes the
    standard streams, then frees every module one by one: in a process holding all the
    pipeline's libraries that last step alone is over a second. The project's modules
    are released instead (:func:`_release_project_modules`) and the stage's objects freed
    by a garbage collection (the server froze its libraries' objects, so this visits the
    stage's only) before the process ends.
    """
    import atexit
    import gc
    import threading

    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    _release_project_modules()
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
        send_message(conn, {"pid": pid})
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                send_message(conn, {"status": status})
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
    for stale in (path, *(ready_marker(path, p) for p in PIPELINE_PACKAGES)):  # a dead server's
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
            ready_marker(path, package).touch()
            _accept(listener, [listener, lock])
        listener.settimeout(idle)
        while _accept(listener, [listener, lock]):
            pass
    finally:
        if os.getpid() == me:  # not in a forked stage unwinding through here
            for mine in (*(ready_marker(path, p) for p in PIPELINE_PACKAGES), path):
                with contextlib.suppress(OSError):
                    mine.unlink()
            listener.close()
            lock.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m config.stage_server <socket>``."""
    argv = sys.argv[1:] if argv is None else argv
    serve(Path(argv[0]), float(os.environ.get("CHURN_STAGE_IDLE", "60")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
