"""Planted mutants: does the suite notice when a comparison or a date offset is wrong?

``python -m benchmarks.mutants [--only NAME ...] [--module PATH ...] [--list]``

Each mutant replaces one exact snippet (found exactly once) in one module of a
temporary copy of the repository (:func:`benchmarks.repo_copy.copy_repo`; the working
tree is never touched), runs the tests aimed at that module there
(``python -m pytest -x``), restores the file, and records the mutant as *killed* (the
tests failed) or *survived* (they passed). The unmutated copy must pass first, and
every mutant must still apply (a stale snippet is an error, not a survivor). The
closing table gives the kill rate per module; the exit code is 1 when a mutant
survived.

The mutants target what the issue on window edges asked for: window bounds
(``<=`` / ``<``, ``>`` / ``>=``), date offsets (a day more or less), the cutoff join, the
label window, the population lookback, the schedule, the temporal split and the
calibration cutoffs. ``tests/test_mutants.py`` runs a small fixed subset in CI.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.repo_copy import copy_repo

FEATURE_TESTS = (
    "tests/features/test_window_edges.py",
    "tests/features/test_features_fixture.py",
    "tests/features/test_leakage_cutoffs.py",
    "tests/features/test_leakage.py",
)
# the order table's split-order path: the brute-force test has orders over several seconds
ORDER_TABLE_TESTS = (*FEATURE_TESTS, "tests/features/test_batch_plan.py")
SCHEDULE_TESTS = ("tests/features/test_schedule.py",)
SPLIT_TESTS = ("tests/training/test_split.py",)
CALIBRATION_TESTS = ("tests/training/test_calibration_data.py",)


@dataclass(frozen=True)
class Mutant:
    """Replace ``old`` (must occur exactly once) by ``new`` in ``path``."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


def _m(name: str, path: str, old: str, new: str, tests: tuple[str, ...]) -> Mutant:
    return Mutant(name, path, old, new, tests)


EXPR, LABELS = "features/expressions.py", "features/labels.py"
ORDER_TABLE = "features/order_table.py"
SCHEDULE, SPLIT = "features/schedule.py", "training/split.py"
CALIB = "training/calibration_data.py"

MUTANTS: tuple[Mutant, ...] = (
    # features/expressions.py: window bounds, cutoff joins, date offsets, thresholds
    _m(
        "within_lt",
        EXPR,
        "return age <= days * SECONDS_PER_DAY_INT",
        "return age < days * SECONDS_PER_DAY_INT",
        FEATURE_TESTS,
    ),
    _m(
        "between_ge",
        EXPR,
        "(age > after * SECONDS_PER_DAY_INT)",
        "(age >= after * SECONDS_PER_DAY_INT)",
        FEATURE_TESTS,
    ),
    _m(
        "between_upper_lt",
        EXPR,
        "(age <= until * SECONDS_PER_DAY_INT)",
        "(age < until * SECONDS_PER_DAY_INT)",
        FEATURE_TESTS,
    ),
    # the order table's cutoff join: the join and the "before T" flag of that status
    _m(
        "orders_join_le",
        EXPR,
        "(ords.ts < cutoffs.cutoff_s) | (ords.cancel_ts < cutoffs.cutoff_s))\n"
        "    done, cancelled = j.ts < j.cutoff_s,",
        "(ords.ts <= cutoffs.cutoff_s) | (ords.cancel_ts < cutoffs.cutoff_s))\n"
        "    done, cancelled = j.ts <= j.cutoff_s,",
        FEATURE_TESTS,
    ),
    _m(
        "cancel_join_le",
        EXPR,
        "(ords.cancel_ts < cutoffs.cutoff_s))\n"
        "    done, cancelled = j.ts < j.cutoff_s, j.cancel_ts < j.cutoff_s",
        "(ords.cancel_ts <= cutoffs.cutoff_s))\n"
        "    done, cancelled = j.ts < j.cutoff_s, j.cancel_ts <= j.cutoff_s",
        FEATURE_TESTS,
    ),
    # the last-year lines shared by the spend, product and category windows
    _m(
        "last_year_join_le",
        EXPR,
        "(lines.ts < cutoffs.cutoff_s) & _within(",
        "(lines.ts <= cutoffs.cutoff_s) & _within(",
        FEATURE_TESTS,
    ),
    _m(
        "last_year_minus_a_day",
        EXPR,
        "_within(cutoffs.cutoff_s - lines.ts, LAST_YEAR_DAYS)",
        "_within(cutoffs.cutoff_s - lines.ts, LAST_YEAR_DAYS - 1)",
        FEATURE_TESTS,
    ),
    # lines of orders spanning several seconds (features/order_table.py, their spend)
    _m(
        "split_spend_join_le",
        EXPR,
        "j = split.join(cutoffs, split.ts < cutoffs.cutoff_s)",
        "j = split.join(cutoffs, split.ts <= cutoffs.cutoff_s)",
        ORDER_TABLE_TESTS,
    ),
    _m(
        "one_second_orders_only",
        ORDER_TABLE,
        'split = ords.filter(ords.ts < ords.done_until).select("customer_id", "order_id")',
        'split = ords.filter(ords.ts > ords.done_until).select("customer_id", "order_id")',
        ORDER_TABLE_TESTS,
    ),
    _m(
        "orders_30d_plus_a_day",
        EXPR,
        "orders_30d=j.count(where=done & _within(age, 30))",
        "orders_30d=j.count(where=done & _within(age, 31))",
        FEATURE_TESTS,
    ),
    _m(
        "orders_prev90_plus_a_day",
        EXPR,
        "orders_prev90=j.count(where=done & _between(age, 90, 180))",
        "orders_prev90=j.count(where=done & _between(age, 90, 181))",
        FEATURE_TESTS,
    ),
    _m(
        "spend_365d_minus_a_day",
        EXPR,
        '"365d": (0, 365)}',
        '"365d": (0, 364)}',
        FEATURE_TESTS,
    ),
    _m(
        "products_90d_plus_a_day",
        EXPR,
        "products_90d=per_product.count(where=_within(age, 90))",
        "products_90d=per_product.count(where=_within(age, 91))",
        FEATURE_TESTS,
    ),
    _m(
        "regular_window_minus_a_day",
        EXPR,
        "regular_orders=j.order_id.nunique(where=_between(age, 90, 365))",
        "regular_orders=j.order_id.nunique(where=_between(age, 90, 364))",
        FEATURE_TESTS,
    ),
    _m(
        "cancel_365d_plus_a_day",
        EXPR,
        "_within(j.cutoff_s - j.cancel_ts, 365)",
        "_within(j.cutoff_s - j.cancel_ts, 366)",
        FEATURE_TESTS,
    ),
    _m(
        "regular_min_orders_gt",
        EXPR,
        "per_cat.regular_orders >= params.regular_category_min_orders",
        "per_cat.regular_orders > params.regular_category_min_orders",
        FEATURE_TESTS,
    ),
    _m(
        "value_tier_gt",
        EXPR,
        "(spend_365 >= tiers.medium, 1)",
        "(spend_365 > tiers.medium, 1)",
        FEATURE_TESTS,
    ),
    _m(
        "gap_std_one_gap",
        EXPR,
        "ibis.ifelse(t.gap_n >= 2, _gap_std_days(t)",
        "ibis.ifelse(t.gap_n >= 1, _gap_std_days(t)",
        FEATURE_TESTS,
    ),
    # features/labels.py: population lookback and label window
    _m(
        "lookback_lt",
        LABELS,
        "order_aggregates.last_age <= lookback",
        "order_aggregates.last_age < lookback",
        FEATURE_TESTS,
    ),
    _m(
        "lookback_plus_a_day",
        LABELS,
        "lookback = params.lookback_days * SECONDS_PER_DAY_INT",
        "lookback = (params.lookback_days + 1) * SECONDS_PER_DAY_INT",
        FEATURE_TESTS,
    ),
    _m("label_from_after_t", LABELS, "(lead >= 0)", "(lead > 0)", FEATURE_TESTS),
    _m("label_window_closed", LABELS, "(lead < horizon)", "(lead <= horizon)", FEATURE_TESTS),
    _m(
        "label_window_a_day_short",
        LABELS,
        "horizon = params.horizon_days * SECONDS_PER_DAY_INT",
        "horizon = (params.horizon_days - 1) * SECONDS_PER_DAY_INT",
        FEATURE_TESTS,
    ),
    _m(  # the label's completed lines come from the order table
        "label_counts_returns",
        ORDER_TABLE,
        'done, cancelled = lines.status == "completed", lines.status == "cancelled"',
        'done, cancelled = lines.status != "cancelled", lines.status == "cancelled"',
        ORDER_TABLE_TESTS,
    ),
    # features/schedule.py
    _m(
        "data_end_same_day",
        SCHEDULE,
        "normalize() + pd.Timedelta(days=1)",
        "normalize() + pd.Timedelta(days=0)",
        SCHEDULE_TESTS,
    ),
    _m(
        "schedule_label_window_a_day_short",
        SCHEDULE,
        "days=params.horizon_days + k * params.cutoff_step_days",
        "days=params.horizon_days - 1 + k * params.cutoff_step_days",
        SCHEDULE_TESTS,
    ),
    _m(
        "schedule_earliest_gt",
        SCHEDULE,
        "if t >= earliest)",
        "if t > earliest)",
        SCHEDULE_TESTS,
    ),
    _m(
        "schedule_min_history_plus_a_day",
        SCHEDULE,
        "pd.Timedelta(days=params.min_history_days)",
        "pd.Timedelta(days=params.min_history_days + 1)",
        SCHEDULE_TESTS,
    ),
    _m(
        "schedule_one_cutoff_short",
        SCHEDULE,
        "for k in range(params.n_cutoffs)",
        "for k in range(params.n_cutoffs - 1)",
        SCHEDULE_TESTS,
    ),
    # training/split.py
    _m(
        "split_valid_window_lt",
        SPLIT,
        "before = [t for t in cutoffs if t + horizon <= test]",
        "before = [t for t in cutoffs if t + horizon < test]",
        SPLIT_TESTS,
    ),
    _m(
        "split_train_window_lt",
        SPLIT,
        "strict = [t for t in before if t + horizon <= valid]",
        "strict = [t for t in before if t + horizon < valid]",
        SPLIT_TESTS,
    ),
    _m(
        "split_train_includes_valid",
        SPLIT,
        "loose = [t for t in before if t < valid]",
        "loose = [t for t in before if t <= valid]",
        SPLIT_TESTS,
    ),
    _m(
        "split_strict_ignored",
        SPLIT,
        "if params.strict and strict:",
        "if strict:",
        SPLIT_TESTS,
    ),
    _m(
        "split_horizon_a_day_short",
        SPLIT,
        "horizon = pd.Timedelta(days=horizon_days)",
        "horizon = pd.Timedelta(days=horizon_days - 1)",
        SPLIT_TESTS,
    ),
    _m(
        "split_keeps_oldest_train",
        SPLIT,
        "train = train[-params.max_train_cutoffs :]",
        "train = train[: params.max_train_cutoffs]",
        SPLIT_TESTS,
    ),
    # training/calibration_data.py
    _m(
        "forward_allowed_lt",
        CALIB,
        "allowed = [c for c in cutoffs if c + horizon <= split.test]",
        "allowed = [c for c in cutoffs if c + horizon < split.test]",
        CALIBRATION_TESTS,
    ),
    _m(
        "forward_train_lt",
        CALIB,
        "train = tuple(t for t in cutoffs if t + horizon <= c)",
        "train = tuple(t for t in cutoffs if t + horizon < c)",
        CALIBRATION_TESTS,
    ),
    _m(
        "forward_horizon_a_day_short",
        CALIB,
        "horizon = pd.Timedelta(days=horizon_days)\n    allowed",
        "horizon = pd.Timedelta(days=horizon_days - 1)\n    allowed",
        CALIBRATION_TESTS,
    ),
    _m("forward_oldest_k", CALIB, "return pairs[-k:]", "return pairs[:k]", CALIBRATION_TESTS),
    _m(
        "validation_predicts_test",
        CALIB,
        "valid = valid_part(snapshots, split)",
        "valid = part(snapshots, split.test)",
        CALIBRATION_TESTS,
    ),
    _m(
        "oof_predicts_fit_rows",
        CALIB,
        "margin[held_idx] = _margin(booster, train.iloc[held_idx], names)",
        "margin[held_idx] = _margin(booster, train.iloc[fit_idx], names)[: len(held_idx)]",
        CALIBRATION_TESTS,
    ),
)

# Subjects replaced by a constant: no test may pass when the code it checks is gone.
CONSTANTS: tuple[Mutant, ...] = (
    _m(
        "const_within_always",
        EXPR,
        "return age <= days * SECONDS_PER_DAY_INT",
        "return age > 0",
        FEATURE_TESTS,
    ),
    _m(
        "const_population_everyone",
        LABELS,
        "return order_aggregates.filter(order_aggregates.last_age <= lookback)",
        "return order_aggregates",
        FEATURE_TESTS,
    ),
    _m(
        "const_label_one",
        LABELS,
        'return ibis.ifelse(has_future.isnull(), 1, 0).cast("int8")',
        'return ibis.literal(1).cast("int8")',
        FEATURE_TESTS,
    ),
    _m(
        "const_data_end",
        SCHEDULE,
        "return pd.Timestamp(last_order_ts).normalize() + pd.Timedelta(days=1)",
        'return pd.Timestamp("2011-12-10")',
        SCHEDULE_TESTS,
    ),
    _m(
        "const_split",
        SPLIT,
        "return CutoffSplit(tuple(train), valid, test, mode, params.holdout_share)",
        "return CutoffSplit(tuple(cutoffs[:1]), cutoffs[1], test, mode, params.holdout_share)",
        SPLIT_TESTS,
    ),
    _m("const_forward_cutoffs", CALIB, "return pairs[-k:]", "return []", CALIBRATION_TESTS),
)
MUTANTS += CONSTANTS

# The fixed subset ``tests/test_mutants.py`` runs in CI (fast: the batch window-edge tests).
CI_MUTANTS = ("within_lt", "between_ge", "lookback_lt", "label_window_a_day_short")
CI_TESTS = tuple(
    f"tests/features/test_window_edges.py::{name}"
    for name in (
        "test_batch_window_edges",
        "test_batch_population_keeps_the_lookback_edge_and_drops_one_second_earlier",
        "test_batch_population_label_and_subsecond_edges",
    )
)


@dataclass(frozen=True)
class Outcome:
    """What running one mutant's tests gave."""

    mutant: Mutant
    killed: bool
    seconds: float
    tail: str


def module_of(mutant: Mutant) -> str:
    return mutant.path


def run_tests(repo: Path, tests: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """``python -m pytest -x -q`` on ``tests`` inside ``repo`` (its code first on sys.path)."""
    # No plugin autoload: the schemathesis plugin alone doubles pytest's start-up.
    env = {
        **os.environ,
        "PYTHONPATH": str(repo),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)


def check_imports_from(repo: Path) -> None:
    """The copy's modules, not the working tree's, must be the ones imported."""
    env = {**os.environ, "PYTHONPATH": str(repo)}
    code = "import features.expressions as m; print(m.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    if not Path(out).resolve().is_relative_to(repo.resolve()):
        raise RuntimeError(f"mutants would not be seen: features imported from {out}")


def apply(repo: Path, mutant: Mutant) -> str:
    """Write the mutant into ``repo``; returns the original text to restore."""
    path = repo / mutant.path
    original = path.read_text()
    count = original.count(mutant.old)
    if count != 1:
        raise ValueError(f"mutant {mutant.name}: snippet found {count} times in {mutant.path}")
    path.write_text(original.replace(mutant.old, mutant.new))
    return original


def run_mutant(repo: Path, mutant: Mutant, tests: Sequence[str] | None = None) -> Outcome:
    """Apply ``mutant`` in ``repo``, run its tests, restore the file."""
    original = apply(repo, mutant)
    started = time.perf_counter()
    try:
        result = run_tests(repo, tests or mutant.tests)
    finally:
        (repo / mutant.path).write_text(original)
    tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-3:])
    if result.returncode not in (0, 1):
        raise RuntimeError(f"mutant {mutant.name}: pytest exit {result.returncode}:\n{tail}")
    return Outcome(mutant, result.returncode == 1, time.perf_counter() - started, tail)


def select(names: Sequence[str] | None, modules: Sequence[str] | None) -> list[Mutant]:
    chosen = [m for m in MUTANTS if (not names or m.name in names)]
    chosen = [m for m in chosen if (not modules or m.path in modules)]
    unknown = set(names or ()) - {m.name for m in MUTANTS}
    if unknown:
        raise SystemExit(f"unknown mutant(s): {sorted(unknown)}")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", help="mutant names")
    parser.add_argument("--module", nargs="+", help="module paths, e.g. features/labels.py")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    console = Console()
    mutants = select(args.only, args.module)
    if args.list:
        for m in mutants:
            console.print(f"{m.name:36} {m.path:30} {m.old!r} -> {m.new!r}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        repo = copy_repo(Path(tmp) / "repo")
        check_imports_from(repo)
        suites = sorted({m.tests for m in mutants})
        for tests in suites:
            baseline = run_tests(repo, tests)
            if baseline.returncode != 0:
                console.print(baseline.stdout[-3000:], baseline.stderr[-2000:])
                raise SystemExit(f"the unmutated copy fails {' '.join(tests)}")
        outcomes = []
        for m in mutants:
            outcome = run_mutant(repo, m)
            verdict = "[green]killed" if outcome.killed else "[red]SURVIVED"
            console.print(f"{m.name:36} {verdict}[/] ({outcome.seconds:.0f} s)")
            outcomes.append(outcome)
    table = Table(title="planted mutants: kill rate per module")
    for col in ("module", "killed", "total", "rate", "survivors"):
        table.add_column(col)
    for module in sorted({o.mutant.path for o in outcomes}):
        mine = [o for o in outcomes if o.mutant.path == module]
        killed = sum(o.killed for o in mine)
        survivors = ", ".join(o.mutant.name for o in mine if not o.killed)
        rate = f"{killed / len(mine):.0%}"
        table.add_row(module, str(killed), str(len(mine)), rate, survivors or "-")
    total_killed = sum(o.killed for o in outcomes)
    table.add_row(
        "all", str(total_killed), str(len(outcomes)), f"{total_killed / len(outcomes):.0%}"
    )
    console.print(table)
    return 0 if total_killed == len(outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
