"""Turning one batch-score row into the API's JSON, once, at load time.

A *full record* keeps every reason the scorer returned and both languages; a *public
body* is what a caller sees for one ``lang`` and ``top_k`` (reasons are ranked, so the
first ``top_k`` of the full list are exactly what the batch scorer returns for
``top_k``). Public bodies for the default ``top_k`` are serialised once per customer
and language, so the GET hot path is a dictionary lookup.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd

from config.features import TIER_NAMES
from features.reason_codes import REASON_CODE_LABELS
from features.wording import FEATURE_LABELS, RISK_LEVEL_LABELS, TIER_LABELS, label

#: Field of a reason/rule sentence per API language.
TEXT_FIELD: dict[str, str] = {"en": "text_en", "zh-CN": "text_zh"}


@dataclass(frozen=True, slots=True)
class Prepared:
    """A serialised answer plus the facts the metrics record about it."""

    body: bytes
    probability: float
    risk_level: str


def _number(value: Any) -> float | None:
    """A JSON-safe float: NaN/None become ``None`` (JSON has no NaN)."""
    if value is None:
        return None
    out = float(value)
    return None if math.isnan(out) or math.isinf(out) else out


def as_of_text(value: Any) -> str:
    """ISO date for midnight cutoffs (the usual case), else an ISO timestamp."""
    ts = pd.Timestamp(value)
    if ts == ts.normalize():
        return ts.date().isoformat()
    return ts.isoformat()


def _tier(value: Any) -> str:
    """Tier name; the scorer may hand over the catalog's 0/1/2 code or the name."""
    if isinstance(value, str):
        return value
    return TIER_NAMES[int(value)]


def _items(value: Any) -> Iterable[Mapping[str, Any]]:
    """Parquet gives lists of structs as numpy arrays; in memory they are lists."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return list(value)
    return list(value)


def _reason(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "code": str(r["code"]),
        "family": str(r["family"]),
        "impact": _number(r["impact"]),
        "feature": str(r["feature"]),
        "value": _number(r.get("value")),
        "reference": _number(r.get("reference")),
        "text_en": str(r["text_en"]),
        "text_zh": str(r["text_zh"]),
    }


def _rule(r: Mapping[str, Any]) -> dict[str, Any]:
    return {"code": str(r["code"]), "text_en": str(r["text_en"]), "text_zh": str(r["text_zh"])}


def full_record(row: Mapping[Any, Any]) -> dict[str, Any]:
    """Normalise one score row (from ``score_customers`` or the scores parquet)."""
    as_of = row["as_of"]
    return {
        "customer_id": str(row["customer_id"]),
        "churn_probability": float(row["churn_probability"]),
        "risk_level": str(row["risk_level"]),
        "value_tier": _tier(row["value_tier"]),
        "revenue_at_risk": _number(row["revenue_at_risk"]),
        "reasons": [_reason(r) for r in _items(row["reasons"])],
        "triggered_rules": [_rule(r) for r in _items(row["triggered_rules"])],
        "as_of": as_of if isinstance(as_of, str) else as_of_text(as_of),
        "model_version": str(row["model_version"]),
    }


#: Decimals of probabilities and impacts in the API (0.1723, not 0.17229946519027065).
PROBABILITY_DECIMALS = 4
#: Decimals of money and feature values in the API.
VALUE_DECIMALS = 2


def _rounded(value: float | None, decimals: int) -> float | None:
    return None if value is None else round(value, decimals)


def _public_reason(r: Mapping[str, Any], lang: str) -> dict[str, Any]:
    return {
        "code": r["code"],
        "name": label(REASON_CODE_LABELS, r["code"], lang),
        "family": r["family"],
        "impact": _rounded(r["impact"], PROBABILITY_DECIMALS),
        "feature": r["feature"],
        "feature_label": label(FEATURE_LABELS, r["feature"], lang),
        "value": _rounded(r["value"], PROBABILITY_DECIMALS),
        "reference": _rounded(r["reference"], PROBABILITY_DECIMALS),
        "text": r[TEXT_FIELD[lang]],
    }


def public_record(record: Mapping[str, Any], lang: str, top_k: int) -> dict[str, Any]:
    """The caller's view: one language, the first ``top_k`` reasons, rounded numbers.

    Probabilities and impacts have 4 decimals, money 2; codes stay stable English
    identifiers and each gets a ``*_label`` (or ``name``) in ``lang`` from the catalog.
    """
    text = TEXT_FIELD[lang]
    reasons = [_public_reason(r, lang) for r in record["reasons"][:top_k]]
    rules = [{"code": r["code"], "text": r[text]} for r in record["triggered_rules"]]
    return {
        "customer_id": record["customer_id"],
        "churn_probability": round(record["churn_probability"], PROBABILITY_DECIMALS),
        "risk_level": record["risk_level"],
        "risk_level_label": label(RISK_LEVEL_LABELS, record["risk_level"], lang),
        "value_tier": record["value_tier"],
        "value_tier_label": label(TIER_LABELS, record["value_tier"], lang),
        "revenue_at_risk": _rounded(record["revenue_at_risk"], VALUE_DECIMALS),
        "reasons": reasons,
        "triggered_rules": rules,
        "as_of": record["as_of"],
        "model_version": record["model_version"],
    }


def public_body(record: Mapping[str, Any], lang: str, top_k: int) -> Prepared:
    """:func:`public_record` serialised, with the probability and risk level beside it."""
    public = public_record(record, lang, top_k)
    return Prepared(orjson.dumps(public), public["churn_probability"], public["risk_level"])


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """orjson with numpy arrays and dates handled (for model info and metadata)."""
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY)
