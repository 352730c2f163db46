"""What every benchmark reports: the median of its runs with min and max, and its JSON.

House rule 23 and issue 15: a figure is the median of at least three runs (the best of
N flatters a loaded machine), printed with its spread, next to the ratio to a floor
measured in the same run; ``--report FILE`` writes the summary as JSON with stable keys
(``ratio_to_floor``, ``cpu_ratio_to_floor``, ``online_p50_ms``, ``rss_peak_mb``, ...)
that ``benchmarks/README.md`` tabulates.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MIN_RUNS = 3


@dataclass(frozen=True)
class Spread:
    """Median, min and max of repeated measurements."""

    median: float
    min: float
    max: float
    runs: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """The spread of ``values`` (at least one)."""
        if not values:
            raise ValueError("no measurement")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def text(self, unit: str = "s", digits: int = 2) -> str:
        """``1.23 s (min 1.20, max 1.31, 3 runs)``."""
        return (
            f"{self.median:.{digits}f} {unit} (min {self.min:.{digits}f}, "
            f"max {self.max:.{digits}f}, {self.runs} runs)"
        )

    def as_dict(self, prefix: str) -> dict[str, float | int]:
        """``{prefix: median, prefix_min, prefix_max, prefix_runs}``."""
        return {
            prefix: self.median,
            f"{prefix}_min": self.min,
            f"{prefix}_max": self.max,
            f"{prefix}_runs": self.runs,
        }


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile ``q`` in [0, 1] of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux ``ru_maxrss`` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def repeats_arg(parser: argparse.ArgumentParser, default: int = MIN_RUNS) -> None:
    """Add ``--repeats`` (at least :data:`MIN_RUNS`) and ``--report FILE``."""
    parser.add_argument(
        "--repeats", type=_at_least_min, default=default, help=f">= {MIN_RUNS}; median reported"
    )
    parser.add_argument("--report", type=Path, default=None, help="write the summary as JSON")


def _at_least_min(text: str) -> int:
    value = int(text)
    if value < MIN_RUNS:
        raise argparse.ArgumentTypeError(f"--repeats must be >= {MIN_RUNS} (median of runs)")
    return value


def machine() -> dict[str, Any]:
    """Where and when, taken *before* the benchmark starts: the load average then says
    whether other work shared the machine (``loaded``: more than half a core busy)."""
    load1, load5, _ = os.getloadavg()
    cores = os.cpu_count() or 1
    return {
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host_cores": cores,
        "load_average_1m_before": round(load1, 2),
        "load_average_5m_before": round(load5, 2),
        "loaded": load1 > 0.5,
        "python": platform.python_version(),
    }


def write_report(
    path: Path | None, benchmark: str, before: dict[str, Any], summary: dict[str, Any]
) -> None:
    """Write ``summary`` with the benchmark name and ``before`` (:func:`machine`) as JSON."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": benchmark, **before, **summary}
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
