"""Work the candidates of a backtest-grid selection share on one fold.

Candidates scored on one selection fold share its training rows, its baselines (fitted
on them, memoised by :mod:`training.pipeline`) and, within a grid shape, the booster
(they differ only in blend weight or ``linear_c``, :mod:`training.blend`). So the
training rows are selected (their content digest and reference medians computed) once,
and the baselines' scores and metrics and each booster's raw margins on the test rows
are computed once per fold instead of once per candidate; the numbers are the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bundle.model import ChurnModel
from bundle.rules import evaluate_rules
from config.root import Params
from training.baselines import Baselines
from training.metrics import flag_metrics, probability_metrics
from training.split import CutoffSplit, train_part


@dataclass
class FoldMemo:
    """What the selection candidates scored on one fold's test rows share.

    Candidates of a fold share its baselines (fitted on the same rows) and, within a
    grid shape, the booster (they differ in blend weight or ``linear_c``): the
    baselines' scores and metrics and each booster's raw margins are computed once.
    Entries are matched by object identity, so a refit object never reuses them.
    """

    train: pd.DataFrame | None = None
    medians: dict[str, float] | None = None
    baselines: Baselines | None = None
    base_scores: dict[str, Any] = field(default_factory=dict)
    base_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    margins: dict[int, tuple[Any, NDArray[np.float64]]] = field(default_factory=dict)

    def train_rows(self, snapshots: pd.DataFrame, split: CutoffSplit) -> pd.DataFrame:
        """The split's training rows, one frame for every candidate (its content digest
        is then computed once, :func:`training.blend.content_digest`)."""
        if self.train is None:
            self.train = train_part(snapshots, split)
        return self.train

    def model_proba(self, frame: pd.DataFrame, model: ChurnModel) -> NDArray[np.float64]:
        """``model.predict_proba(frame)``, the booster's raw margins computed once."""
        x = model.matrix(frame)
        held = self.margins.get(id(model.booster))
        if held is None or held[0] is not model.booster:
            held = (model.booster, np.asarray(model.booster.predict(x, raw_score=True)))
            self.margins[id(model.booster)] = held
        return model.calibrator.transform(model.blend(held[1], x))

    def baseline_metrics(
        self, frame: pd.DataFrame, baselines: Baselines, cfg: Params
    ) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
        """Scores and metrics of every baseline on ``frame`` (computed once)."""
        if self.baselines is not baselines:
            self.base_scores, self.base_metrics = baseline_metrics(frame, baselines, cfg)
            self.baselines = baselines
        return self.base_scores, self.base_metrics


def baseline_metrics(
    frame: pd.DataFrame, baselines: Baselines, cfg: Params
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Scores and metrics of every baseline on ``frame`` (``rules`` with its flag
    metrics)."""
    ev = cfg.evaluate
    y = frame["label"].to_numpy()
    scores = baselines.predict(frame)
    metrics = {
        name: probability_metrics(y, p, ev.top_fractions, ev.ece_bins) for name, p in scores.items()
    }
    flags = evaluate_rules(frame, cfg.rules).any(axis=1).to_numpy()
    metrics["rules"].update(flag_metrics(y, flags))
    return scores, metrics
