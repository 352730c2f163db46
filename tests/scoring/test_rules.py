"""Vendor rules: hand-checked rows, absent category features, NaN, sentences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bundle.rules import RULE_CODES, evaluate_rules, render_rule
from config.scoring import RulesParams


def _frame() -> pd.DataFrame:
    # row a: high tier, 40 days idle -> inactive (high threshold 30)
    # row b: low tier, 40 days idle -> not inactive (60); spend 30d 10 vs month avg 100 -> drop
    # row c: medium, returns 6% -> returns rule; spend 30d 60 vs avg 100 -> no drop (40% down)
    # row d: NaN rates, no previous spend -> nothing fires
    return pd.DataFrame(
        {
            "days_since_last_order": [40.0, 40.0, 5.0, 70.0],
            "value_tier": [2, 0, 1, 1],
            "spend_30d": [500.0, 10.0, 60.0, 0.0],
            "spend_90d": [900.0, 210.0, 260.0, 0.0],
            "return_rate_365d": [0.0, 0.01, 0.06, np.nan],
            "cancel_rate_365d": [0.0, 0.05, 0.0, np.nan],
        },
        index=["a", "b", "c", "d"],
    )


def test_rules_fire_on_hand_checked_rows() -> None:
    flags = evaluate_rules(_frame(), RulesParams())
    assert list(flags.columns) == ["RULE_INACTIVE", "RULE_SPEND_DROP", "RULE_RETURNS"]
    assert flags["RULE_INACTIVE"].tolist() == [True, False, False, True]
    assert flags["RULE_SPEND_DROP"].tolist() == [False, True, False, False]
    # cancel rate exactly 5% is not "above 5%"
    assert flags["RULE_RETURNS"].tolist() == [False, False, True, False]
    assert flags.dtypes.eq(bool).all()


def test_tier_thresholds_come_from_params() -> None:
    params = RulesParams.model_validate({"inactivity_days": {"low": 30, "medium": 60, "high": 90}})
    flags = evaluate_rules(_frame(), params)
    assert flags["RULE_INACTIVE"].tolist() == [False, True, False, True]


def test_category_rule_only_when_category_features_exist() -> None:
    frame = _frame().assign(regular_categories_missed_90d=[0, 1, 2, 0])
    flags = evaluate_rules(frame, RulesParams())
    assert flags.columns[-1] == "RULE_CATEGORY_MISSED"
    assert flags["RULE_CATEGORY_MISSED"].tolist() == [False, True, True, False]
    assert set(flags.columns) <= set(RULE_CODES)


def test_bad_value_tier_names_the_row() -> None:
    frame = _frame()
    frame.loc["c", "value_tier"] = 7
    with pytest.raises(ValueError, match="'c'"):
        evaluate_rules(frame, RulesParams())


def test_sentences_in_both_languages() -> None:
    row = _frame().loc["a"].to_dict()
    en = render_rule("RULE_INACTIVE", row, RulesParams(), "en")
    zh = render_rule("RULE_INACTIVE", row, RulesParams(), "zh-CN")
    assert en == "No order for 40 days (rule for high-value customers: 30 days)"
    assert zh == "已 40 天未下单（高价值客户规则：30 天）"
    drop = render_rule("RULE_SPEND_DROP", _frame().loc["b"].to_dict(), RulesParams())
    assert drop == (
        "Spend in the last 30 days fell 90% vs the 30-day average of days 30–90 (rule: 50%)"
    )
    returns = render_rule(
        "RULE_RETURNS", {"return_rate_365d": 1.0, "cancel_rate_365d": 0.5}, RulesParams()
    )
    assert returns == (
        "Returned or cancelled goods worth 100.0% of spend (rule: above 5%) and 50.0% of "
        "orders cancelled (rule: above 5%) in the last 365 days"
    )
    with pytest.raises(KeyError):
        render_rule("RULE_NOPE", row, RulesParams())
    with pytest.raises(ValueError):
        render_rule("RULE_INACTIVE", row, RulesParams(), "fr")


def test_unknown_params_key_is_an_error() -> None:
    with pytest.raises(ValueError):
        RulesParams.model_validate({"inactivity_dayz": {}})
