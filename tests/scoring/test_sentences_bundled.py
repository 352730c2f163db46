"""Every sentence template, rendered for the real customers of the bundled data, is true.

Runs on the session ``pipeline_run`` (the real ``dvc repro`` of
``data/raw/online_retail.parquet``): each catalog template is rendered for every current
customer with that customer's real reference, and every reason and rule the score stage
wrote is checked. The defects this guards against, all seen on this data before:
"Returns 100%" for cancellations, a "usual gap of 90 days" for one-order customers (an
assumed default), "vs the month before" for a days 30–90 comparison, reasons whose value
equals the reference ("1 orders in the last 90 days (active customers: 1)",
"Cancelled 0.0%"), "1 orders", amounts without currency, untranslated zh-CN labels.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bundle.model import ChurnModel
from config.root import load_params
from features.catalog import BY_NAME, CATALOG, Family
from features.reason_codes import PROTECTIVE_CODES, REASON_CODE_LABELS, REASON_CODES
from features.wording import (
    FAMILY_LABELS,
    FEATURE_LABELS,
    MISSING_IS_RISK,
    NEUTRAL,
    RISK_LEVEL_LABELS,
    RISKY,
    TIER_LABELS,
)
from scoring.reasons import reference_matrix, resolve_reference
from scoring.results import read_scores
from scoring.sentences import render_sentence

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
# "1 orders", "1 days", "1 distinct products", "1 regular categories" ...
BAD_PLURAL = re.compile(r"(?<![\d.,])1 (regular )?(orders|days|distinct products|categories)\b")
LATIN = re.compile(r"[A-Za-z]")


@pytest.fixture(scope="module")
def bundled(pipeline_run: Path) -> tuple[pd.DataFrame, pd.DataFrame, ChurnModel, str]:
    latest = pd.read_parquet(pipeline_run / "data" / "processed" / "latest.parquet")
    latest["customer_id"] = latest["customer_id"].astype(str)
    scores = read_scores(str(pipeline_run / "data" / "scores" / "latest.parquet"))
    model = ChurnModel.load(pipeline_run / "models" / "churn")
    currency = load_params(pipeline_run / "params.yaml").data.currency
    assert currency == "GBP"
    return latest, scores, model, currency


def _check_sentence(text: str, lang: str, feature: str) -> None:
    assert "{" not in text and "nan" not in text.lower(), text
    if lang == "en":
        assert not BAD_PLURAL.search(text), text
        assert "month before" not in text and not text.startswith("Returns "), text
    else:
        assert not LATIN.search(text), f"untranslated zh-CN sentence of {feature}: {text}"


def test_every_template_renders_true_for_every_bundled_customer(bundled) -> None:
    latest, _, model, currency = bundled
    names = model.feature_names
    refs = reference_matrix(latest, names, resolve_reference(model.reference, latest, names))
    one_order = latest["orders_lifetime"].to_numpy(float) <= 1
    for j, name in enumerate(names):
        feature = BY_NAME[name]
        values = latest[name].to_numpy(float)
        for lang in ("en", "zh-CN"):
            texts = [
                render_sentence(name, v, r, lang, currency)
                for v, r in zip(values, refs[:, j], strict=True)
            ]
            for text in set(texts):
                _check_sentence(text, lang, name)
            if feature.unit == "currency":
                assert all("£" in t for t, v in zip(texts, values, strict=True) if v == v)
            if name == "overdue_ratio":
                gap_texts = [t for t, one in zip(texts, one_order, strict=True) if one]
                assert gap_texts and not any("90" in t for t in gap_texts)


def _reads_as_risk(reason: dict, sign: int) -> bool:
    name, value, reference = reason["feature"], reason["value"], reason["reference"]
    feature = BY_NAME[name]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return sign > 0 and name in MISSING_IS_RISK
    point = reference if feature.reference == "population" else NEUTRAL.get(name)
    if point is None or (isinstance(point, float) and math.isnan(point)):
        return sign > 0 and name == "overdue_ratio"  # one order: no usual gap
    return sign * RISKY[name] * (value - point) > 0


def test_every_written_reason_reads_in_its_direction(bundled) -> None:
    latest, scores, _, _ = bundled
    orders = dict(zip(latest["customer_id"], latest["orders_lifetime"], strict=True))
    seen = 0
    for cid, level, reasons in zip(
        scores["customer_id"], scores["risk_level"], scores["reasons"], strict=True
    ):
        for r in reasons:
            sign = -1 if r["code"].startswith("PROTECT_") else 1
            assert _reads_as_risk(r, sign), (cid, r)
            assert r["text_en"] != r["text_zh"]
            _check_sentence(r["text_en"], "en", r["feature"])
            _check_sentence(r["text_zh"], "zh-CN", r["feature"])
            if orders[cid] <= 1:
                assert "usual gap of" not in r["text_en"], (cid, r)
            assert "usual gap of 1 day" not in r["text_en"], (cid, r)  # same-day orders
            seen += 1
        assert (
            level != "low" or not reasons or all(r["code"].startswith("PROTECT_") for r in reasons)
        )
    assert seen > 1000
    families = {r["family"] for rs in scores["reasons"] for r in rs}
    assert {"RECENCY", "SPEND_DECLINE", "ORDER_CYCLE"} <= families


def test_rules_name_cancellations_and_windows_right(bundled) -> None:
    _, scores, _, _ = bundled
    rules = [r for rs in scores["triggered_rules"] for r in rs]
    texts = {(r["code"], r["text_en"], r["text_zh"]) for r in rules}
    codes = {code for code, _, _ in texts}
    assert {"RULE_RETURNS", "RULE_SPEND_DROP", "RULE_INACTIVE"} <= codes
    for _, en, zh in texts:
        _check_sentence(en, "en", "rule")
        _check_sentence(zh, "zh-CN", "rule")
        assert "上月" not in zh


def test_every_label_is_translated() -> None:
    tables = {
        "feature": (FEATURE_LABELS, [f.name for f in CATALOG]),
        "family": (FAMILY_LABELS, list(Family)),
        "tier": (TIER_LABELS, ["low", "medium", "high"]),
        "risk level": (RISK_LEVEL_LABELS, ["low", "medium", "high"]),
        "reason code": (
            REASON_CODE_LABELS,
            [*REASON_CODES.values(), *PROTECTIVE_CODES.values()],
        ),
    }
    for kind, (table, keys) in tables.items():
        assert set(table) == set(keys), kind
        for key in keys:
            en, zh = table[key]  # type: ignore[index]
            assert en and not LATIN.search(zh), (kind, key, zh)
    assert set(RISKY) == {f.name for f in CATALOG}
    assert set(RISKY.values()) == {-1, 1}


def test_readme_example_customer_has_reasons(bundled) -> None:
    _, scores, _, _ = bundled
    ids = set(re.findall(r"/v1/customers/(\w+)/churn", README.read_text(encoding="utf-8")))
    assert ids
    by_id = scores.set_index("customer_id")
    for cid in ids:
        assert cid in by_id.index
        assert len(by_id.loc[cid, "reasons"]) >= 2, f"README's example {cid} shows no reasons"
        assert np.isfinite(by_id.loc[cid, "churn_probability"])
