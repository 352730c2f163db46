"""The churn model bundle: booster + calibration + the contract the scores depend on.

A bundle is a directory (``models/churn`` in the pipeline, and the artifact of the
registered MLflow model):

- ``booster.txt``      LightGBM model text
- ``calibrator.json``  :mod:`bundle.calibration` parameters
- ``linear.json``      the blend: ``blend_weight`` w and the :mod:`bundle.linear` part
                       (the margin is ``w * booster + (1 - w) * linear``; w = 1 and no
                       linear part for a booster alone)
- ``bundle.json``      the contract (feature names in catalog order, catalog version,
                       reason-code and rule versions, label horizon, value-tier
                       thresholds), reference values (median of active customers per
                       feature at the training cutoffs) and metadata (model version,
                       trained at, data range, metrics)
- ``manifest.json``    SHA-256 digest and size of every other file

Everything a served score means is read from the bundle, never from params.yaml:
scoring, the report and the API use the bundle's horizon (revenue at risk) and value
tiers (online features). A params file that disagrees is *reported*
(:meth:`ChurnModel.params_mismatch`), not mixed in.

Writes are atomic (a temporary sibling directory renamed into place) and loads verify
the manifest before any byte reaches LightGBM, whose parser crashes the process on a
truncated model file. A bundle whose catalog version this code cannot compute features
for is refused with :class:`BundleError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bundle.calibration import Calibrator, calibrator_from_dict
from bundle.linear import LinearPart, blend_margin
from bundle.rules import RULES_VERSION
from config.features import FeatureParams, ValueTiers
from features.catalog import CATALOG_VERSION
from features.reason_codes import REASON_CODES_VERSION

BOOSTER_FILE = "booster.txt"
CALIBRATOR_FILE = "calibrator.json"
LINEAR_FILE = "linear.json"
BUNDLE_FILE = "bundle.json"
MANIFEST_FILE = "manifest.json"
BUNDLE_FORMAT = 3
#: ``features`` params that change feature values; stored in the bundle and compared.
FEATURE_SETTINGS = ("single_order_gap_days", "min_usual_gap_days", "regular_category_min_orders")
#: Catalog versions whose features this code computes identically.
SERVABLE_CATALOG_VERSIONS: frozenset[str] = frozenset({CATALOG_VERSION})


class BundleError(RuntimeError):
    """A bundle is missing, partial, corrupt or of a contract this code cannot serve."""


@dataclass(frozen=True)
class ChurnModel:
    """A trained, calibrated churn classifier and the contract served beside it."""

    booster: lgb.Booster
    calibrator: Calibrator
    feature_names: tuple[str, ...]
    catalog_version: str
    horizon_days: int
    value_tiers: ValueTiers
    reason_codes_version: str
    rules_version: str
    feature_settings: dict[str, float] = field(default_factory=dict)
    reference: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    linear: LinearPart | None = None
    blend_weight: float = 1.0  # weight of the booster's margin; 1 - w for the linear part

    @classmethod
    def new(
        cls,
        booster: lgb.Booster,
        calibrator: Calibrator,
        feature_names: tuple[str, ...],
        features: FeatureParams,
        reference: dict[str, float] | None = None,
        metadata: dict[str, Any] | None = None,
        linear: LinearPart | None = None,
        blend_weight: float = 1.0,
    ) -> ChurnModel:
        """A bundle of this code's contract, with the horizon and tiers it was trained on."""
        return cls(
            booster=booster,
            calibrator=calibrator,
            feature_names=tuple(feature_names),
            catalog_version=CATALOG_VERSION,
            horizon_days=features.horizon_days,
            value_tiers=features.value_tiers,
            reason_codes_version=REASON_CODES_VERSION,
            rules_version=RULES_VERSION,
            feature_settings={k: float(getattr(features, k)) for k in FEATURE_SETTINGS},
            reference=dict(reference or {}),
            metadata=dict(metadata or {}),
            linear=linear,
            blend_weight=float(blend_weight) if linear is not None else 1.0,
        )

    def conform(self, features: pd.DataFrame) -> pd.DataFrame:
        """``features`` with contract-dependent columns recomputed from the bundle.

        ``value_tier`` is a model input computed from ``spend_365d`` with the value-tier
        thresholds; a snapshot built with other thresholds (params.yaml changed, the old
        champion still served) gets the bundle's tiers, exactly as the features stage
        computes them (``spend_365d >= high`` -> 2, ``>= medium`` -> 1, else 0).
        """
        if "value_tier" not in features.columns or "spend_365d" not in features.columns:
            return features
        spend = features["spend_365d"].to_numpy(dtype=np.float64)
        tier = np.where(
            spend >= self.value_tiers.high, 2, np.where(spend >= self.value_tiers.medium, 1, 0)
        ).astype(np.int8)
        if np.array_equal(tier, features["value_tier"].to_numpy()):
            return features
        return features.assign(value_tier=tier)

    def matrix(self, features: pd.DataFrame) -> NDArray[np.float64]:
        """Feature matrix in the bundle's column order; a missing column is an error."""
        missing = [c for c in self.feature_names if c not in features.columns]
        if missing:
            raise KeyError(f"feature frame lacks columns the model needs: {missing}")
        frame = self.conform(features)
        return frame.loc[:, list(self.feature_names)].to_numpy(dtype=np.float64)

    def margin(self, features: pd.DataFrame) -> NDArray[np.float64]:
        """The blended log-odds before calibration."""
        x = self.matrix(features)
        return self.blend(np.asarray(self.booster.predict(x, raw_score=True)), x)

    def blend(
        self, booster_margin: NDArray[np.float64], x: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """``w * booster_margin + (1 - w) * linear margin`` for the matrix ``x``."""
        return blend_margin(booster_margin, x, self.linear, self.blend_weight)

    def blend_contributions(
        self, tree: NDArray[np.float64], x: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Exact contributions of the blended margin from the booster's TreeSHAP ``tree``
        (n, k + 1; last column the expected value): the same weights as :meth:`blend`,
        so each row still sums to :meth:`margin`."""
        if self.linear is None:
            return tree
        w = self.blend_weight
        return w * tree + (1.0 - w) * self.linear.contributions(x)

    def predict_proba(self, features: pd.DataFrame) -> NDArray[np.float64]:
        """Calibrated churn probability per row."""
        return self.calibrator.transform(self.margin(features))

    def contributions(self, features: pd.DataFrame) -> NDArray[np.float64]:
        """Exact TreeSHAP contributions on the raw margin, shape (n, n_features + 1).

        The last column is the expected value; each row sums to :meth:`margin`.
        """
        x = self.matrix(features)
        return self.blend_contributions(np.asarray(self.booster.predict(x, pred_contrib=True)), x)

    def with_metadata(self, **updates: Any) -> ChurnModel:
        """A copy with ``metadata`` updated (e.g. the registered model version)."""
        return replace(self, metadata={**self.metadata, **updates})

    def contract(self) -> dict[str, Any]:
        """What the served scores mean: written at training, read at score/serve time."""
        return {
            "format": BUNDLE_FORMAT,
            "feature_names": list(self.feature_names),
            "catalog_version": self.catalog_version,
            "reason_codes_version": self.reason_codes_version,
            "rules_version": self.rules_version,
            "horizon_days": self.horizon_days,
            "value_tiers": self.value_tiers.model_dump(),
            "feature_settings": self.feature_settings,
            "calibration": self.calibrator.kind,
            "blend_weight": self.blend_weight,
        }

    def feature_params(self, params: FeatureParams) -> FeatureParams:
        """``params`` with the bundle's horizon, value tiers and feature settings (online)."""
        settings = {k: type(getattr(params, k))(v) for k, v in self.feature_settings.items()}
        return params.model_copy(
            update={"horizon_days": self.horizon_days, "value_tiers": self.value_tiers, **settings}
        )

    def params_mismatch(self, params: FeatureParams) -> list[str]:
        """Where params.yaml or this code disagrees with the bundle (the bundle wins where
        it can: horizon, value tiers, online feature settings; the rest is reported)."""
        out = [
            f"features.{k} is {getattr(params, k)} in params but {v} in the model bundle "
            "(batch snapshots are built with the params value)"
            for k, v in self.feature_settings.items()
            if float(getattr(params, k)) != v
        ]
        if self.reason_codes_version != REASON_CODES_VERSION:
            out.append(
                f"reason codes version {self.reason_codes_version} in the bundle, "
                f"{REASON_CODES_VERSION} in this code"
            )
        if self.rules_version != RULES_VERSION:
            out.append(
                f"rules version {self.rules_version} in the bundle, {RULES_VERSION} in this code"
            )
        if params.horizon_days != self.horizon_days:
            out.append(
                f"features.horizon_days is {params.horizon_days} in params but "
                f"{self.horizon_days} in the model bundle"
            )
        if params.value_tiers != self.value_tiers:
            out.append(
                f"features.value_tiers is {params.value_tiers.model_dump()} in params but "
                f"{self.value_tiers.model_dump()} in the model bundle"
            )
        return out

    def save(self, directory: str | Path) -> Path:
        """Write the bundle atomically into ``directory`` (replacing an older bundle)."""
        out = Path(directory)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
        tmp.mkdir()
        try:
            files = {
                BOOSTER_FILE: self.booster.model_to_string().encode("utf-8"),
                CALIBRATOR_FILE: json.dumps(self.calibrator.to_dict(), indent=2).encode(),
                LINEAR_FILE: json.dumps(
                    {
                        "blend_weight": self.blend_weight,
                        "linear": None if self.linear is None else self.linear.to_dict(),
                    },
                    indent=2,
                ).encode(),
                BUNDLE_FILE: json.dumps(
                    {**self.contract(), "reference": self.reference, "metadata": self.metadata},
                    indent=2,
                    default=str,
                ).encode(),
            }
            manifest = {name: _digest(data) for name, data in files.items()}
            files[MANIFEST_FILE] = json.dumps(manifest, indent=2, sort_keys=True).encode()
            for name, data in files.items():
                _write_synced(tmp / name, data)
            _swap_into_place(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out

    @classmethod
    def load(cls, directory: str | Path) -> ChurnModel:
        """Read and verify a bundle written by :meth:`save` (:class:`BundleError` if bad)."""
        src = Path(directory)
        files = read_verified(src)
        try:
            meta = json.loads(files[BUNDLE_FILE])
            calibrator = calibrator_from_dict(json.loads(files[CALIBRATOR_FILE]))
            blend = json.loads(files[LINEAR_FILE])
            weight = float(blend["blend_weight"])
            if not 0.0 <= weight <= 1.0:
                raise ValueError(f"blend_weight {weight} outside [0, 1]")
            linear = (
                None
                if blend["linear"] is None
                else LinearPart.from_dict(blend["linear"], len(meta["feature_names"]))
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BundleError(f"model bundle {src}: unreadable metadata: {exc}") from exc
        check_servable(meta, src)
        try:
            fields: dict[str, Any] = {
                "feature_names": tuple(meta["feature_names"]),
                "catalog_version": str(meta["catalog_version"]),
                "horizon_days": int(meta["horizon_days"]),
                "value_tiers": ValueTiers.model_validate(meta["value_tiers"]),
                "reason_codes_version": str(meta["reason_codes_version"]),
                "rules_version": str(meta["rules_version"]),
                "feature_settings": {k: float(v) for k, v in meta["feature_settings"].items()},
                "reference": {k: float(v) for k, v in meta["reference"].items()},
                "metadata": dict(meta["metadata"]),
            }
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(
                f"model bundle {src}: contract field missing or invalid: {exc!r}"
            ) from exc
        booster = lgb.Booster(model_str=files[BOOSTER_FILE].decode("utf-8"))
        return cls(
            booster=booster,
            calibrator=calibrator,
            linear=linear,
            blend_weight=weight if linear is not None else 1.0,
            **fields,
        )


def _digest(data: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an existing ``out`` is moved aside first, then removed."""
    old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
    if out.exists():
        os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def read_verified(src: Path) -> dict[str, bytes]:
    """Every bundle file's bytes, after checking them against ``manifest.json``."""
    try:
        manifest = json.loads((src / MANIFEST_FILE).read_bytes())
    except FileNotFoundError as exc:
        raise BundleError(
            f"model bundle {src}: no {MANIFEST_FILE} (partial or old bundle)"
        ) from exc
    except (OSError, ValueError) as exc:
        raise BundleError(f"model bundle {src}: unreadable {MANIFEST_FILE}: {exc}") from exc
    needed = (BOOSTER_FILE, CALIBRATOR_FILE, LINEAR_FILE, BUNDLE_FILE)
    if not isinstance(manifest, dict) or any(name not in manifest for name in needed):
        raise BundleError(f"model bundle {src}: {MANIFEST_FILE} does not list {list(needed)}")
    files: dict[str, bytes] = {}
    for name in needed:
        try:
            data = (src / name).read_bytes()
        except OSError as exc:
            raise BundleError(f"model bundle {src}: cannot read {name}: {exc}") from exc
        if _digest(data) != manifest[name]:
            raise BundleError(
                f"model bundle {src}: {name} does not match its manifest digest "
                f"({len(data)} bytes, expected {manifest[name].get('bytes')}): "
                "half-written or corrupt"
            )
        files[name] = data
    return files


def check_servable(meta: dict[str, Any], src: Path | str) -> None:
    """Refuse a bundle of another format or a feature catalog this code cannot compute."""
    if meta.get("format") != BUNDLE_FORMAT:
        raise BundleError(
            f"model bundle {src}: format {meta.get('format')!r}, this code serves format "
            f"{BUNDLE_FORMAT}; retrain with `dvc repro train`"
        )
    version = meta.get("catalog_version")
    if version not in SERVABLE_CATALOG_VERSIONS:
        raise BundleError(
            f"model bundle {src}: feature catalog version {version!r} cannot be served by "
            f"this code (it computes catalog {sorted(SERVABLE_CATALOG_VERSIONS)}); retrain "
            "with `dvc repro train` or serve a matching release"
        )


def bundle_digest(directory: str | Path) -> str:
    """SHA-256 of what a bundle *serves*: booster, calibrator, contract and references.

    Built from the verified manifest digests plus ``bundle.json`` without its
    ``metadata`` (training time, run ids, registry status change on every run), so
    two trainings that produced the same model have the same digest and the registry
    can reuse a version instead of adding an identical one.
    """
    src = Path(directory)
    files = read_verified(src)
    manifest = json.loads((src / MANIFEST_FILE).read_bytes())
    served = {k: v for k, v in json.loads(files[BUNDLE_FILE]).items() if k != "metadata"}
    content = {
        BOOSTER_FILE: manifest[BOOSTER_FILE]["sha256"],
        CALIBRATOR_FILE: manifest[CALIBRATOR_FILE]["sha256"],
        LINEAR_FILE: manifest[LINEAR_FILE]["sha256"],
        BUNDLE_FILE: served,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
