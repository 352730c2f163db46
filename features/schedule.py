"""The cutoff schedule: when snapshots are taken.

``data_end`` is midnight after the last order day, so the day of the last order is
complete. Labelled cutoffs step back from ``data_end - horizon`` (the last cutoff whose
label window is fully observed) every ``cutoff_step_days``; cutoffs earlier than the
first order day + ``min_history_days`` are skipped because their features would rest on
almost no history.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from config.features import FeatureParams

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    """Labelled cutoffs (ascending), cutoffs skipped, and the latest cutoff."""

    labelled: tuple[pd.Timestamp, ...]
    skipped: tuple[pd.Timestamp, ...]
    latest: pd.Timestamp


def data_end(last_order_ts: pd.Timestamp) -> pd.Timestamp:
    """Midnight after the day of the last order: the cutoff of the latest snapshot."""
    return pd.Timestamp(last_order_ts).normalize() + pd.Timedelta(days=1)


def build_schedule(
    first_order_ts: pd.Timestamp, last_order_ts: pd.Timestamp, params: FeatureParams
) -> Schedule:
    """Cutoffs ``T_k = data_end - horizon - k * step`` for ``k < n_cutoffs``.

    Raises
    ------
    ValueError
        When no labelled cutoff has ``min_history_days`` of history before it.
    """
    end = data_end(last_order_ts)
    earliest = pd.Timestamp(first_order_ts).normalize() + pd.Timedelta(days=params.min_history_days)
    candidates = [
        end - pd.Timedelta(days=params.horizon_days + k * params.cutoff_step_days)
        for k in range(params.n_cutoffs)
    ]
    kept = tuple(sorted(t for t in candidates if t >= earliest))
    skipped = tuple(sorted(t for t in candidates if t < earliest))
    if not kept:
        found = (end - pd.Timestamp(first_order_ts).normalize()).days
        needed = params.horizon_days + params.min_history_days
        raise ValueError(
            f"order history too short to train: {found} days of orders "
            f"({pd.Timestamp(first_order_ts).date()} .. {pd.Timestamp(last_order_ts).date()}), "
            f"need at least {needed} days (features.horizon_days {params.horizon_days} + "
            f"features.min_history_days {params.min_history_days})"
        )
    if skipped:
        logger.warning("skipped %d cutoffs with too little history: %s", len(skipped), skipped)
    return Schedule(labelled=kept, skipped=skipped, latest=end)
