"""Temporal split of labelled snapshots by cutoff: train < validation < test.

Never a random split across customers: the test cutoff is the latest labelled one (or,
for the served refit, the latest snapshot, one horizon after it), the validation cutoff
is the latest whose label window ends at or before the test cutoff, and training uses
the earlier cutoffs whose label windows end by the validation cutoff (``split.strict``,
default). On a short history the split degrades instead of failing (``split.degrade``):
first training labels may overlap the validation window (``overlapping``), then, with a
single usable cutoff, validation is a customer holdout of that cutoff
(``customer_holdout``). The ``mode`` says which, so every degradation is reported.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from config.training import SplitParams

logger = logging.getLogger(__name__)

#: Split modes, best first.
MODES = ("out_of_time", "overlapping", "customer_holdout")
#: ``split.window: all_labelled``: no validation cutoff; train on every labelled one.
ALL_LABELLED = "all_labelled"


@dataclass(frozen=True)
class CutoffSplit:
    """The cutoffs of each part of one temporal split, and how it was degraded."""

    train: tuple[pd.Timestamp, ...]
    valid: pd.Timestamp
    test: pd.Timestamp
    mode: str = "out_of_time"
    holdout_share: float = 0.2

    def describe(self) -> dict[str, object]:
        """JSON-friendly summary (ISO dates) for logs, MLflow and bundle metadata."""
        return {
            "train_cutoffs": [t.date().isoformat() for t in self.train],
            "valid_cutoff": None if self.mode == ALL_LABELLED else self.valid.date().isoformat(),
            "test_cutoff": self.test.date().isoformat(),
            "split_mode": self.mode,
        }

    def note(self) -> str | None:
        """A sentence for the stage output when the split is degraded, else None."""
        if self.mode == "overlapping":
            return (
                f"split for {self.test.date()}: training labels overlap the validation "
                f"window of {self.valid.date()} (too few cutoffs for an out-of-time split)"
            )
        if self.mode == "customer_holdout":
            return (
                f"split for {self.test.date()}: one usable cutoff ({self.valid.date()}); "
                f"validation is a {self.holdout_share:.0%} customer holdout of it"
            )
        return None


def labelled_cutoffs(snapshots: pd.DataFrame) -> list[pd.Timestamp]:
    """Sorted distinct cutoffs of a snapshot frame (needs a ``cutoff`` column)."""
    if "cutoff" not in snapshots.columns:
        raise KeyError("snapshot frame has no 'cutoff' column")
    return sorted(pd.Timestamp(t) for t in pd.unique(snapshots["cutoff"]))


def split_cutoffs(
    cutoffs: list[pd.Timestamp], horizon_days: int, params: SplitParams, test: pd.Timestamp
) -> CutoffSplit:
    """Split ``cutoffs`` around ``test``, keeping every label window inside T_test.

    ``params.window == "all_labelled"``: training is every cutoff with ``T + H <= T_test``
    and there is no validation cutoff (``valid`` holds the latest training cutoff).

    Validation is the latest cutoff with ``T + H <= T_test``; training cutoffs are the
    earlier ones with ``T + H <= T_val`` when ``params.strict`` else ``T + H <= T_test``.
    With ``params.degrade`` a missing training cutoff degrades the split (module
    docstring) instead of raising.
    """
    horizon = pd.Timedelta(days=horizon_days)
    before = [t for t in cutoffs if t + horizon <= test]
    if not before:
        raise ValueError(
            f"no cutoff has its {horizon_days}-day label window end by the test cutoff "
            f"{test.date()}; need more cutoffs (features.n_cutoffs) or a shorter horizon"
        )
    valid = max(before)
    if params.window == ALL_LABELLED:
        train = before if params.max_train_cutoffs is None else before[-params.max_train_cutoffs :]
        return CutoffSplit(tuple(train), valid, test, ALL_LABELLED, params.holdout_share)
    strict = [t for t in before if t + horizon <= valid]
    loose = [t for t in before if t < valid]
    if params.strict and strict:
        train, mode = strict, "out_of_time"
    elif loose and (params.degrade or not params.strict):
        train = loose
        mode = "out_of_time" if loose == strict else "overlapping"
    elif params.degrade:
        train, mode = [valid], "customer_holdout"
    else:
        raise ValueError(
            f"no training cutoff before validation cutoff {valid.date()} "
            f"(split.strict={params.strict}, split.degrade=false); need more cutoffs"
        )
    if params.max_train_cutoffs is not None:
        train = train[-params.max_train_cutoffs :]
    return CutoffSplit(tuple(train), valid, test, mode, params.holdout_share)


def make_split(snapshots: pd.DataFrame, horizon_days: int, params: SplitParams) -> CutoffSplit:
    """The evaluated split: test = the latest labelled cutoff."""
    cutoffs = labelled_cutoffs(snapshots)
    split = split_cutoffs(cutoffs, horizon_days, params, test=cutoffs[-1])
    logger.info("split: %s", split.describe())
    return split


def served_split(snapshots: pd.DataFrame, horizon_days: int, params: SplitParams) -> CutoffSplit:
    """The same procedure one horizon later: test = latest labelled cutoff + H.

    That is the cutoff of today's snapshot, so training labels end by the latest
    labelled cutoff and validation/calibration is the latest labelled cutoff itself.
    """
    cutoffs = labelled_cutoffs(snapshots)
    return split_cutoffs(
        cutoffs, horizon_days, params, test=cutoffs[-1] + pd.Timedelta(days=horizon_days)
    )


def backtest_splits(
    snapshots: pd.DataFrame, horizon_days: int, params: SplitParams
) -> list[CutoffSplit]:
    """Rolling-origin splits: each of the latest cutoffs that admits a split is a test.

    At most ``params.backtest_folds`` folds, oldest first; the last is :func:`make_split`.
    """
    cutoffs = labelled_cutoffs(snapshots)
    folds: list[CutoffSplit] = []
    for test in reversed(cutoffs):
        if len(folds) >= params.backtest_folds:
            break
        try:
            folds.append(split_cutoffs(cutoffs, horizon_days, params, test=test))
        except ValueError:
            break
    return folds[::-1]


def part(snapshots: pd.DataFrame, cutoffs: tuple[pd.Timestamp, ...] | pd.Timestamp) -> pd.DataFrame:
    """Rows of ``snapshots`` at the given cutoff(s), in input order."""
    wanted = [cutoffs] if isinstance(cutoffs, pd.Timestamp) else list(cutoffs)
    return snapshots.loc[snapshots["cutoff"].isin(wanted)]


def holdout_customers(customer_id: pd.Series, share: float) -> np.ndarray:
    """Boolean mask: the customers in a stable ``share`` holdout (hash of the id)."""
    buckets = [
        int.from_bytes(hashlib.sha256(str(c).encode()).digest()[:4], "big") % 10_000
        for c in customer_id
    ]
    return np.asarray(buckets) < round(share * 10_000)


def train_part(snapshots: pd.DataFrame, split: CutoffSplit) -> pd.DataFrame:
    """Training rows of ``split`` (without the holdout customers in holdout mode)."""
    rows = part(snapshots, split.train)
    if split.mode != "customer_holdout":
        return rows
    return rows.loc[~holdout_customers(rows["customer_id"], split.holdout_share)]


def valid_part(snapshots: pd.DataFrame, split: CutoffSplit) -> pd.DataFrame:
    """Validation rows of ``split`` (only the holdout customers in holdout mode)."""
    rows = part(snapshots, split.valid)
    if split.mode != "customer_holdout":
        return rows
    return rows.loc[holdout_customers(rows["customer_id"], split.holdout_share)]


def selection_splits(
    snapshots: pd.DataFrame, horizon_days: int, split: SplitParams, before: pd.Timestamp, folds: int
) -> list[CutoffSplit]:
    """Up to ``folds`` rolling-origin splits whose *label window* ends by ``before``.

    A fold's test cutoff ``s`` must satisfy ``s + H <= before``: a fold with only
    ``s < before`` would score settings on outcomes inside the test window
    ``[before, before + H)``. Oldest first. Folds whose split degraded to a customer
    holdout are not used (validation would be in-time). Used to choose settings without
    ever seeing anything of the test cutoff ``before``.
    """
    label_window = pd.Timedelta(days=horizon_days)
    cutoffs = labelled_cutoffs(snapshots)
    out: list[CutoffSplit] = []
    for test in reversed([t for t in cutoffs if t + label_window <= before]):
        if len(out) >= folds:
            break
        try:
            fold = split_cutoffs(cutoffs, horizon_days, split, test=test)
        except ValueError:
            break
        if fold.mode == "customer_holdout":
            break
        out.append(fold)
    return out[::-1]
