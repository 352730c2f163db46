"""Temporal split of labelled snapshots by cutoff: train < validation < test.

Never a random split across customers: the test cutoff is the latest labelled one, the
validation cutoff is the latest whose label window ends at or before the test cutoff,
and training uses every earlier cutoff allowed by :class:`~config.training.SplitParams`
(many snapshots per customer).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from config.training import SplitParams

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CutoffSplit:
    """The cutoffs of each part of one temporal split."""

    train: tuple[pd.Timestamp, ...]
    valid: pd.Timestamp
    test: pd.Timestamp

    def describe(self) -> dict[str, object]:
        """JSON-friendly summary (ISO dates) for logs, MLflow and bundle metadata."""
        return {
            "train_cutoffs": [t.date().isoformat() for t in self.train],
            "valid_cutoff": self.valid.date().isoformat(),
            "test_cutoff": self.test.date().isoformat(),
        }


def labelled_cutoffs(snapshots: pd.DataFrame) -> list[pd.Timestamp]:
    """Sorted distinct cutoffs of a snapshot frame (needs a ``cutoff`` column)."""
    if "cutoff" not in snapshots.columns:
        raise KeyError("snapshot frame has no 'cutoff' column")
    return sorted(pd.Timestamp(t) for t in pd.unique(snapshots["cutoff"]))


def split_cutoffs(
    cutoffs: list[pd.Timestamp], horizon_days: int, params: SplitParams, test: pd.Timestamp
) -> CutoffSplit:
    """Split ``cutoffs`` around ``test``, keeping every label window inside T_test.

    Validation is the latest cutoff with ``T + H <= T_test``; training cutoffs are the
    earlier ones with ``T + H <= T_val`` when ``params.strict`` else ``T + H <= T_test``.
    """
    horizon = pd.Timedelta(days=horizon_days)
    before = [t for t in cutoffs if t + horizon <= test]
    if not before:
        raise ValueError(
            f"no cutoff has its {horizon_days}-day label window end by the test cutoff "
            f"{test.date()}; need more cutoffs (features.n_cutoffs) or a shorter horizon"
        )
    valid = max(before)
    limit = valid if params.strict else test
    train = [t for t in before if t < valid and t + horizon <= limit]
    if params.max_train_cutoffs is not None:
        train = train[-params.max_train_cutoffs :]
    if not train:
        raise ValueError(
            f"no training cutoff before validation cutoff {valid.date()} "
            f"(split.strict={params.strict}); need more cutoffs or split.strict=false"
        )
    return CutoffSplit(train=tuple(train), valid=valid, test=test)


def make_split(snapshots: pd.DataFrame, horizon_days: int, params: SplitParams) -> CutoffSplit:
    """The main split: test = the latest labelled cutoff."""
    cutoffs = labelled_cutoffs(snapshots)
    split = split_cutoffs(cutoffs, horizon_days, params, test=cutoffs[-1])
    logger.info("split: %s", split.describe())
    return split


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
