"""The ``all_labelled`` fit: booster and linear part on every labelled training cutoff.

With ``split.window: all_labelled`` there is no validation cutoff: the booster grows a
fixed ``train.num_boost_round`` trees, the linear part (:mod:`training.linear`) is fitted
when ``train.blend_weight < 1``, and the blended margin is served without
recalibration (``train.calibration: identity``). Both are fitted on exactly the rows
whose labels end by the test cutoff, so the most recent labelled cutoff reaches the
model. How many trees, which blend weight and which L2 strength are chosen on rolling
folds before the test cutoff (``tuning``), never on it.

Selection refits many candidates that share a booster (they differ only in blend
weight or ``linear_c``) on the same folds: fits are memoised per (rows, settings).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any

import lightgbm as lgb
import pandas as pd

from bundle.calibration import Calibrator, IdentityCalibrator
from bundle.linear import LinearPart
from config.training import TrainParams
from training.linear import fit_linear
from training.model import fit_fixed

#: TrainParams keys that do not change the booster.
_NOT_BOOSTER = {"blend_weight", "linear_c", "linear_winsor", "calibration", "calibration_data"}
_CACHE: OrderedDict[str, Any] = OrderedDict()
_CACHE_SIZE = 64
_DIGESTS: OrderedDict[int, tuple[pd.DataFrame, str]] = OrderedDict()


def content_digest(rows: pd.DataFrame) -> str:
    """SHA-256 of the frame's values, remembered for the same frame object (a selection
    passes one training frame per fold to every candidate; frames are not mutated)."""
    held = _DIGESTS.get(id(rows))
    if held is not None and held[0] is rows:
        return held[1]
    digest = hashlib.sha256(
        pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes()
    ).hexdigest()
    _DIGESTS[id(rows)] = (rows, digest)
    if len(_DIGESTS) > 16:
        _DIGESTS.popitem(last=False)
    return digest


def _key(kind: str, rows: pd.DataFrame, names: list[str], settings: dict[str, Any]) -> str:
    ident = {
        "kind": kind,
        "cutoffs": sorted(str(t) for t in pd.unique(rows["cutoff"])),
        "rows": len(rows),
        "ids": content_digest(rows),
        "names": names,
        "settings": settings,
    }
    return json.dumps(ident, sort_keys=True, default=str)


def _memo(key: str, fit: Any) -> Any:
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    value = fit()
    _CACHE[key] = value
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value


def fit_blend(
    rows: pd.DataFrame, names: list[str], params: TrainParams, seed: int
) -> tuple[lgb.Booster, LinearPart | None, Calibrator]:
    """Booster, linear part (None when ``blend_weight == 1``) and calibrator.

    Raises
    ------
    ValueError
        When ``params.calibration`` is not ``identity`` (no held-out cutoff to fit one).
    """
    if params.calibration != "identity":
        raise ValueError(
            "split.window=all_labelled leaves no held-out cutoff to calibrate on: set "
            f"train.calibration: identity (got {params.calibration!r})"
        )
    settings = {k: v for k, v in params.model_dump().items() if k not in _NOT_BOOSTER}
    booster = _memo(
        _key("booster", rows, names, {**settings, "seed": seed}),
        lambda: fit_fixed(rows, names, params, seed, params.num_boost_round),
    )
    linear = None
    if params.blend_weight < 1.0:
        linear = _memo(
            _key(
                "linear",
                rows,
                names,
                {"c": params.linear_c, "monotone": params.monotone, "w": params.linear_winsor},
            ),
            lambda: fit_linear(
                rows,
                names,
                params.linear_c,
                params.monotone,
                params.num_threads,
                winsor=params.linear_winsor,
            ),
        )
    return booster, linear, IdentityCalibrator()
