"""Benchmark: the churn API over loopback against a FastAPI hello world, same run.

``python -m benchmarks.bench_serving [--customers 100000] [--duration 10]
[--connections 32] [--workers 2] [--rounds 3] [--report FILE]``

Builds, in a temporary directory, a snapshot of ``--customers`` synthetic customers
(:func:`benchmarks.synthetic_features.synthetic_features`) and two model bundles (seeds
differ), then
on free loopback ports with uvicorn and ``--workers`` workers:

1. ``wrk`` on ``benchmarks.hello_app`` ``GET /hello`` (the ceiling) and on the real
   ``GET /v1/customers/{id}/churn`` (random ids, API key, 3 reasons), alternating for
   ``--rounds`` rounds with identical wrk Lua overhead (both build a random path);
2. ``POST /v1/churn/batch`` with 1,000 ids and ``POST /v1/churn/score`` with 200 raw
   orders, sequentially, p50/p99;
3. reload under load: ``wrk`` on the GET route while ``POST /v1/admin/reload`` swaps in
   the second model (both workers reload through the shared signal file); counts
   non-2xx responses and socket errors, and checks both workers serve the new version.

Figures are medians over the rounds (>= 3) with min and max; the floor of the GET route
is the hello world measured in the same rounds (``ratio_to_floor`` = churn req/s over
hello req/s, medians). ``--report FILE`` writes the summary JSON (``ratio_to_floor``,
``score_p50_ms``, ``batch_p50_ms``, ``get_p50_ms``, ...).

Needs ``wrk`` on PATH (``apt-get install -y wrk``). Loopback only; bounded duration.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import lightgbm as lgb
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from benchmarks.stats import MIN_RUNS, Spread, machine, percentile, write_report
from benchmarks.synthetic_features import feature_params, synthetic_features
from bundle.calibration import fit_sigmoid
from bundle.model import ChurnModel
from features.catalog import feature_names

KEY, ADMIN = "bench-client-key", "bench-admin-key"
ROOT = Path(__file__).resolve().parents[1]
console = Console()


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def train_bundle(seed: int, directory: Path) -> ChurnModel:
    """A calibrated LightGBM bundle on synthetic customers (no category features)."""
    names = tuple(feature_names({"product_id", "quantity"}))
    frame = synthetic_features(30_000, seed)
    x, y = frame.loc[:, list(names)].to_numpy(float), frame["label"].to_numpy()
    params = {"objective": "binary", "num_leaves": 8, "learning_rate": 0.05, "verbose": -1,
              "min_data_in_leaf": 50, "seed": seed, "num_threads": 2}  # fmt: skip
    booster = lgb.train(params, lgb.Dataset(x[:20_000], y[:20_000]), 150)
    calibrator = fit_sigmoid(np.asarray(booster.predict(x[20_000:], raw_score=True)), y[20_000:])
    reference = {n: float(np.nanmedian(frame[n])) for n in names}
    model = ChurnModel.new(booster, calibrator, names, feature_params(), reference,
                           metadata={"model_version": f"bench-{seed}"})  # fmt: skip
    model.save(directory)
    return model


def point_model(link: Path, target: Path) -> None:
    """Atomically repoint the bundle symlink (a reload then reads one whole bundle)."""
    tmp = link.with_suffix(".tmp")
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


def lua_script(path: Path, template: str, n: int) -> Path:
    """A wrk script that requests a random id per request (same cost for both apps)."""
    path.write_text(
        f'wrk.headers["X-API-Key"] = "{KEY}"\n'
        "request = function()\n"
        f'  local id = string.format("C%07d", math.random(0, {n - 1}))\n'
        f'  return wrk.format("GET", string.format("{template}", id))\n'
        "end\n",
        encoding="utf-8",
    )
    return path


def run_wrk(url: str, script: Path, seconds: float, connections: int) -> WrkResult:
    """Run wrk and parse requests/s, p50, p99, non-2xx and socket errors."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", str(script),
           url]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return parse_wrk(out)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def parse_wrk(out: str) -> WrkResult:
    """Numbers from wrk's text report."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(int(g) for g in sock.groups()) if sock else 0
    return WrkResult(rps, p50, p99, int(non2xx.group(1)) if non2xx else 0, errors)


@contextmanager
def server(app: str, port: int, workers: int, env: dict[str, str], log: Path) -> Iterator[None]:
    """A uvicorn subprocess on 127.0.0.1:port; waits until every worker started."""
    cmd = [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--no-access-log",
           "--log-level", "info"]  # fmt: skip
    with log.open("w") as handle:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 900
        while log.read_text().count("Application startup complete") < workers:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{app} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def p50_p99(times: list[float]) -> tuple[float, float]:
    ms = [t * 1e3 for t in times]
    return percentile(ms, 0.5), percentile(ms, 0.99)


def time_posts(url: str, body: dict[str, Any], n: int) -> tuple[float, float]:
    """Sequential POSTs (after a warm-up): p50 and p99 in ms; every answer must be 200."""
    times: list[float] = []
    with httpx.Client(headers={"X-API-Key": KEY}, timeout=60) as client:
        for i in range(n + 3):
            start = time.perf_counter()
            r = client.post(url, json=body)
            elapsed = time.perf_counter() - start
            if r.status_code != 200:
                raise RuntimeError(f"{url}: {r.status_code} {r.text[:300]}")
            if i >= 3:
                times.append(elapsed)
    return p50_p99(times)


def raw_orders(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` order lines of one customer over two years before the snapshot cutoff."""
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp("2011-12-09") - pd.to_timedelta(np.sort(rng.uniform(1, 720, n)), "D")
    return [
        {"order_id": f"o{i // 3}", "order_ts": t.isoformat(), "amount": round(float(a), 2),
         "status": "returned" if a < 0 else "completed", "product_id": f"P{rng.integers(50)}"}
        for i, (t, a) in enumerate(zip(ts, rng.normal(40, 30, n), strict=True))
    ]  # fmt: skip


def served_versions(url: str, n: int) -> set[str]:
    """model_version of ``n`` fresh-connection answers (reaches both workers)."""
    versions = set()
    for _ in range(n):
        r = httpx.get(url, headers={"X-API-Key": KEY}, timeout=30)
        versions.add(r.json()["model_version"])
    return versions


def reload_under_load(base: str, script: Path, connections: int, link: Path, v2: Path,
                      limit_s: float) -> tuple[WrkResult, float]:  # fmt: skip
    """wrk on the GET route while an admin reload swaps in bundle ``v2``.

    wrk runs until every worker serves the new version (or ``limit_s``), then is stopped
    with SIGINT (it prints its report). Returns wrk's numbers and the seconds from the
    reload call until all workers answered with the new model.
    """
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{int(limit_s)}s", "--latency", "-s",
           str(script), base]  # fmt: skip
    wrk = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    time.sleep(2.0)
    point_model(link, v2)
    started = time.monotonic()
    r = httpx.post(f"{base}/v1/admin/reload", headers={"X-API-Key": ADMIN}, timeout=limit_s)
    if r.status_code != 200:
        raise RuntimeError(f"reload failed: {r.status_code} {r.text[:300]}")
    probe = f"{base}/v1/customers/C0000000/churn"
    while served_versions(probe, 10) != {r.json()["model_version"]}:
        if time.monotonic() - started > limit_s:
            raise RuntimeError("not every worker reloaded in time")
        time.sleep(0.5)
    converged = time.monotonic() - started
    time.sleep(2.0)
    wrk.send_signal(2)  # SIGINT: wrk stops and prints its report
    out, _ = wrk.communicate(timeout=60)
    return parse_wrk(out), converged


def report(rows: list[tuple[str, ...]]) -> None:
    table = Table(title="serving benchmark (loopback)")
    for col in ("measure", "req/s", "p50 ms", "p99 ms", "non-2xx", "socket errors"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _row(name: str, r: WrkResult) -> tuple[str, ...]:
    return (name, f"{r.rps:,.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", str(r.non_2xx),
            str(r.socket_errors))  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--rounds", type=int, default=MIN_RUNS, help="alternating hello/churn rounds")
    p.add_argument("--posts", type=int, default=50, help="timed batch and score requests")
    p.add_argument("--reload-limit", type=float, default=240.0)
    p.add_argument("--report", type=Path, default=None, help="write the summary as JSON")
    args = p.parse_args(argv)
    if args.rounds < MIN_RUNS:
        p.error(f"--rounds must be >= {MIN_RUNS} (medians of rounds)")
    return args


def main(argv: list[str] | None = None) -> None:
    """Build the artefacts, start both servers, measure, print one table."""
    args = parse_args(argv)
    before = machine()
    n = args.customers
    with tempfile.TemporaryDirectory(prefix="bench_serving_") as tmpdir:
        tmp = Path(tmpdir)
        console.print(f"building {n:,} synthetic customers and two model bundles in {tmp}")
        synthetic_features(n, seed=3).drop(columns=["label"]).to_parquet(tmp / "latest.parquet")
        train_bundle(1, tmp / "model_v1")
        train_bundle(2, tmp / "model_v2")
        point_model(tmp / "model", tmp / "model_v1")
        env = {**os.environ, "CHURN_MODEL_DIR": str(tmp / "model"),
               "CHURN_SNAPSHOT_PATH": str(tmp / "latest.parquet"),
               "CHURN_PARAMS_PATH": str(ROOT / "params.yaml"), "CHURN_API_KEYS": KEY,
               "CHURN_ADMIN_KEY": ADMIN, "CHURN_STARTUP_LOAD": "blocking",
               "CHURN_RELOAD_SIGNAL_PATH": str(tmp / "reload.signal"),
               "CHURN_MAX_BATCH_SIZE": "1000"}  # fmt: skip
        hello_port, api_port = free_port(), free_port()
        hello, api = f"http://127.0.0.1:{hello_port}", f"http://127.0.0.1:{api_port}"
        hello_lua = lua_script(tmp / "hello.lua", "/hello?id=%s", n)
        churn_lua = lua_script(tmp / "churn.lua", "/v1/customers/%s/churn", n)
        started = time.monotonic()
        with (
            server("benchmarks.hello_app:create_app", hello_port, args.workers, env,
                   tmp / "hello.log"),
            server("serving.app:create_app", api_port, args.workers, env, tmp / "api.log"),
        ):  # fmt: skip
            console.print(f"servers up ({time.monotonic() - started:.0f}s incl. precompute)")
            runs: dict[str, list[WrkResult]] = {"hello": [], "churn": []}
            for _ in range(args.rounds):
                runs["hello"].append(run_wrk(hello, hello_lua, args.duration, args.connections))
                runs["churn"].append(run_wrk(api, churn_lua, args.duration, args.connections))
            ids = [f"C{i:07d}" for i in range(0, n, max(n // 1000, 1))][:1000]
            batch = time_posts(f"{api}/v1/churn/batch", {"customer_ids": ids}, args.posts)
            order_body = {"customer_id": "new-customer", "orders": raw_orders(200, 5)}
            score = time_posts(f"{api}/v1/churn/score", order_body, args.posts)
            reload, converged = reload_under_load(api, churn_lua, args.connections,
                                                  tmp / "model", tmp / "model_v2",
                                                  args.reload_limit)  # fmt: skip
    pairs = [(i, name, runs[key][i]) for i in range(args.rounds)
             for name, key in (("hello world", "hello"), ("GET churn", "churn"))]  # fmt: skip
    rows = [_row(f"{name} round {i + 1}", r) for i, name, r in pairs]
    rows.append(_row(f"GET churn during reload ({converged:.0f}s to converge)", reload))
    rows.append((f"POST batch ({len(ids)} ids)", "", f"{batch[0]:.1f}", f"{batch[1]:.1f}", "", ""))
    rows.append(("POST score (200 orders)", "", f"{score[0]:.1f}", f"{score[1]:.1f}", "", ""))
    report(rows)
    churn_rps = Spread.of([r.rps for r in runs["churn"]])
    hello_rps = Spread.of([r.rps for r in runs["hello"]])
    ratio = churn_rps.median / hello_rps.median
    console.print(f"hello world req/s: {hello_rps.text('req/s', 0)}")
    console.print(f"GET churn req/s: {churn_rps.text('req/s', 0)}")
    console.print(
        f"GET churn / hello world req/s (medians): {ratio:.0%}; {n:,} customers, "
        f"{args.workers} workers, {args.connections} connections"
    )
    summary = {
        "customers": n,
        "workers": args.workers,
        "connections": args.connections,
        **churn_rps.as_dict("get_rps"),
        **hello_rps.as_dict("hello_rps"),
        "ratio_to_floor": ratio,
        "get_p50_ms": statistics.median(r.p50_ms for r in runs["churn"]),
        "batch_p50_ms": batch[0],
        "batch_p99_ms": batch[1],
        "score_p50_ms": score[0],
        "score_p99_ms": score[1],
        "posts": args.posts,
        "reload_non_2xx": reload.non_2xx,
        "reload_socket_errors": reload.socket_errors,
        "reload_converged_seconds": converged,
    }
    write_report(args.report, "bench_serving", before, summary)


if __name__ == "__main__":
    main()
