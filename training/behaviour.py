"""Behavioural tests of a trained candidate (Made-With-ML's ``tests/model``), run in training.

They check what a sales team takes for granted, on the real candidate and real rows of
the test cutoff, before the gate may promote it:

- **directional**: for every catalog feature whose ``direction`` is +1 (more days since
  the last order, a higher overdue ratio, more regular categories missed), raising the
  value with everything else fixed never lowers the churn probability;
- **invariance**: the customer id and the row order change no customer's probability;
- **minimum functionality**: a hand-made lapsed customer (long silence, no recent
  orders, well past the usual gap) scores above a hand-made active one built from the
  same median customer.

Results are logged to MLflow (``behaviour.checks`` / ``behaviour.failed`` metrics and
``behaviour.json``) and every
failed check is a gate failure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bundle.model import ChurnModel
from features.catalog import BY_NAME

TOLERANCE = 1e-9  # probabilities are compared exactly, up to float noise
STEPS = (1.25, 2.0, 4.0)  # multiplicative raises of a +1-direction feature


@dataclass(frozen=True)
class Check:
    """One behavioural check: its name, whether it passed and what it saw."""

    name: str
    passed: bool
    detail: str


def _rows(frame: pd.DataFrame, model: ChurnModel, n: int, seed: int) -> pd.DataFrame:
    sample = frame.sample(n=min(n, len(frame)), random_state=seed)
    return sample.loc[:, list(model.feature_names)].reset_index(drop=True)


def directional(model: ChurnModel, rows: pd.DataFrame) -> list[Check]:
    """Raising a feature the catalog says can only raise risk never lowers it."""
    out = []
    base = model.predict_proba(rows)
    for name in model.feature_names:
        if BY_NAME[name].direction != 1:
            continue
        worst = 0.0
        for step in STEPS:
            raised = rows.copy()
            value = raised[name].astype("float64")
            # value + |value| * (step - 1) + 1 > value, also for a negative value
            # (overdue_days); equals value * step + 1 for the usual non-negative ones
            raised[name] = np.where(value.notna(), value + value.abs() * (step - 1.0) + 1.0, value)
            worst = min(worst, float(np.min(model.predict_proba(raised) - base)))
        out.append(
            Check(
                f"directional:{name}",
                worst >= -TOLERANCE,
                f"largest drop in probability when raising {name}: {max(0.0, -worst):.2e}",
            )
        )
    return out


def invariance(model: ChurnModel, frame: pd.DataFrame, seed: int) -> Check:
    """Renaming customers and shuffling rows leaves every customer's probability alone."""
    rows = frame.loc[:, ["customer_id", *model.feature_names]].reset_index(drop=True)
    before = pd.Series(model.predict_proba(rows), index=rows["customer_id"].astype(str))
    shuffled = rows.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    renamed = shuffled.assign(customer_id="renamed-" + shuffled["customer_id"].astype(str))
    after = pd.Series(
        model.predict_proba(renamed), index=shuffled["customer_id"].astype(str)
    ).reindex(before.index)
    gap = float(np.max(np.abs(after.to_numpy() - before.to_numpy())))
    return Check("invariance:id_and_row_order", gap <= TOLERANCE, f"largest change {gap:.2e}")


def lapsed_vs_active(model: ChurnModel, frame: pd.DataFrame) -> Check:
    """A lapsed version of the median customer scores above an active version."""
    median = frame.loc[:, list(model.feature_names)].median(numeric_only=True)
    active, lapsed = median.copy(), median.copy()
    gap = float(median.get("gap_mean_days", 30.0) or 30.0)
    settings = {
        "days_since_last_order": (max(1.0, gap / 4), 3 * max(gap, 60.0)),
        "overdue_ratio": (0.25, 3.0),
        "orders_30d": (max(1.0, median.get("orders_30d", 1.0)), 0.0),
        "orders_90d": (max(2.0, median.get("orders_90d", 2.0)), 0.0),
        "spend_30d": (max(1.0, median.get("spend_30d", 1.0)), 0.0),
        "spend_90d": (max(1.0, median.get("spend_90d", 1.0)), 0.0),
    }
    for name, (a, b) in settings.items():
        if name in active.index:
            active[name], lapsed[name] = a, b
    pair = pd.DataFrame([active, lapsed]).reindex(columns=list(model.feature_names))
    p_active, p_lapsed = model.predict_proba(pair)
    return Check(
        "minimum:lapsed_above_active",
        bool(p_lapsed > p_active),
        f"lapsed {p_lapsed:.4f} vs active {p_active:.4f}",
    )


def behavioural_checks(
    model: ChurnModel, frame: pd.DataFrame, seed: int, n: int = 2000
) -> list[Check]:
    """Every behavioural check on ``frame`` (rows of one labelled cutoff)."""
    rows = _rows(frame, model, n, seed)
    return [
        *directional(model, rows),
        invariance(model, frame.head(n), seed),
        lapsed_vs_active(model, frame),
    ]


def failures(checks: list[Check]) -> list[str]:
    """Gate failure messages for the checks that did not pass."""
    return [f"behavioural check {c.name} failed: {c.detail}" for c in checks if not c.passed]
