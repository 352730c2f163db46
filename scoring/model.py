"""The churn model bundle: LightGBM booster + calibration + the facts reasons need.

A bundle is a directory (``models/churn`` in the pipeline, and the artifact of the
registered MLflow model):

- ``booster.txt``      LightGBM model text
- ``calibrator.json``  :mod:`scoring.calibration` parameters
- ``bundle.json``      feature names (in catalog order), catalog version, reference
                       values (median of active customers per feature at the training
                       cutoffs), value-tier thresholds, metadata (model version, trained
                       at, data range, metrics)

Batch scoring, the analyst report and the API all load the same bundle class, so they
compute identical probabilities and contributions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from scoring.calibration import Calibrator, calibrator_from_dict

BOOSTER_FILE = "booster.txt"
CALIBRATOR_FILE = "calibrator.json"
BUNDLE_FILE = "bundle.json"


@dataclass(frozen=True)
class ChurnModel:
    """A trained, calibrated churn classifier and the metadata served beside it."""

    booster: lgb.Booster
    calibrator: Calibrator
    feature_names: tuple[str, ...]
    catalog_version: str
    reference: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def matrix(self, features: pd.DataFrame) -> NDArray[np.float64]:
        """Feature matrix in the bundle's column order; a missing column is an error."""
        missing = [c for c in self.feature_names if c not in features.columns]
        if missing:
            raise KeyError(f"feature frame lacks columns the model needs: {missing}")
        return features.loc[:, list(self.feature_names)].to_numpy(dtype=np.float64)

    def margin(self, features: pd.DataFrame) -> NDArray[np.float64]:
        """Raw LightGBM score (log-odds before calibration)."""
        return np.asarray(self.booster.predict(self.matrix(features), raw_score=True))

    def predict_proba(self, features: pd.DataFrame) -> NDArray[np.float64]:
        """Calibrated churn probability per row."""
        return self.calibrator.transform(self.margin(features))

    def contributions(self, features: pd.DataFrame) -> NDArray[np.float64]:
        """Exact TreeSHAP contributions on the raw margin, shape (n, n_features + 1).

        The last column is the expected value; each row sums to :meth:`margin`.
        """
        return np.asarray(self.booster.predict(self.matrix(features), pred_contrib=True))

    def with_metadata(self, **updates: Any) -> ChurnModel:
        """A copy with ``metadata`` updated (e.g. the registered model version)."""
        return replace(self, metadata={**self.metadata, **updates})

    def save(self, directory: str | Path) -> Path:
        """Write the bundle files into ``directory`` (created if needed)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(out / BOOSTER_FILE))
        (out / CALIBRATOR_FILE).write_text(json.dumps(self.calibrator.to_dict(), indent=2))
        meta = {
            "feature_names": list(self.feature_names),
            "catalog_version": self.catalog_version,
            "reference": self.reference,
            "metadata": self.metadata,
        }
        (out / BUNDLE_FILE).write_text(json.dumps(meta, indent=2, default=str))
        return out

    @classmethod
    def load(cls, directory: str | Path) -> ChurnModel:
        """Read a bundle written by :meth:`save`."""
        src = Path(directory)
        meta = json.loads((src / BUNDLE_FILE).read_text())
        return cls(
            booster=lgb.Booster(model_file=str(src / BOOSTER_FILE)),
            calibrator=calibrator_from_dict(json.loads((src / CALIBRATOR_FILE).read_text())),
            feature_names=tuple(meta["feature_names"]),
            catalog_version=str(meta["catalog_version"]),
            reference={k: float(v) for k, v in meta["reference"].items()},
            metadata=dict(meta["metadata"]),
        )
