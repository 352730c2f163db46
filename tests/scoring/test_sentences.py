"""Sentences in en and zh-CN with real, correctly formatted numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoring.sentences import format_number, format_pct, render_many, render_sentence


def test_days_sentence_en_and_zh():
    assert (
        render_sentence("days_since_last_order", 142.4, 35.0, "en")
        == "No order for 142 days (active customers: 35 days)"
    )
    assert (
        render_sentence("days_since_last_order", 142.4, 35.0, "zh-CN")
        == "已 142 天未下单（活跃客户中位数：35 天）"
    )


def test_overdue_ratio_cites_the_usual_gap_in_days():
    assert (
        render_sentence("overdue_ratio", 4.06, 35.2, "en")
        == "No order for 4.1× the usual gap of 35 days"
    )
    assert (
        render_sentence("overdue_ratio", 4.06, 35.2, "zh-CN")
        == "未下单时长已是平时下单间隔（35 天）的 4.1 倍"
    )


def test_a_usual_gap_of_a_day_or_less_is_not_quoted_as_a_multiple():
    """Same-day repeat orders floor the usual gap at 1 day; "182x the usual gap of 1 day"
    is true to the floor but reads like an error."""
    en = "No order for 182 days; earlier orders were a day or less apart"
    assert render_sentence("overdue_ratio", 182.4, 1.0, "en") == en
    assert render_sentence("overdue_days", 181.6, 0.4, "en") == en
    assert render_sentence("overdue_ratio", 182.4, 1.0, "zh-CN") == (
        "已 182 天未下单；此前的订单间隔约一天或更短"
    )
    assert render_sentence("overdue_ratio", 121.0, 1.4, "en").startswith("No order for 169 days")
    assert render_sentence("overdue_ratio", 2.0, 1.6, "en") == (
        "No order for 2.0× the usual gap of 2 days"
    )


def test_trend_says_whether_it_fell_or_rose():
    assert (
        render_sentence("spend_trend_90d", -0.62, 800.0, "en")
        == "Spend in the last 90 days fell 62% vs the 90 days before"
    )
    assert render_sentence("spend_trend_90d", -0.62, 800.0, "zh-CN") == (
        "近 90 天消费额较前 90 天下降 62%"
    )
    assert render_sentence("orders_trend_90d", 1.5, 2.0, "en") == (
        "Orders in the last 90 days rose 150% vs the 90 days before"
    )
    assert render_sentence("return_rate_trend_90d", 0.05, 0.0, "zh-CN") == (
        "近 90 天退货与取消比例较前 90 天上升 5.0 个百分点"
    )
    assert render_sentence("aov_trend_90d", 0.0, 50.0, "en") == (
        "Average order value in the last 90 days changed 0.0% vs the 90 days before"
    )


def test_currency_share_tier_and_missing_formats():
    assert format_number(12345.678, "currency") == "12,346"
    assert format_number(9.5, "currency") == "9.50"
    assert format_number(0.0, "currency") == "0"
    assert format_number(0.032, "share") == "3.2%"
    assert format_number(2.0, "tier", "en") == "high"
    assert format_number(0.0, "tier", "zh-CN") == "低"
    assert format_number(2.5, "orders") == "2.5"
    assert format_number(math.nan, "days", "en") == "n/a"
    assert format_number(math.nan, "days", "zh-CN") == "不详"
    assert format_pct(0.034) == "3.4"
    assert (
        render_sentence("return_rate_365d", 0.12, 0.01, "en")
        == "Returned or cancelled goods worth 12% of spend in the last 365 days "
        "(active customers: 1.0%)"
    )


def test_currency_comes_from_params_and_sits_with_the_amount():
    assert format_number(312.4, "currency", currency="GBP") == "£312"
    assert format_number(-5.0, "currency", currency="USD") == "-$5.00"
    assert format_number(1234.0, "currency", currency="CHF") == "1,234 CHF"
    assert render_sentence("spend_90d", 0.0, 311.86, "en", currency="GBP") == (
        "Spent £0 in the last 90 days (active customers: £312)"
    )
    assert render_sentence("spend_90d", 0.0, 311.86, "zh-CN", currency="GBP") == (
        "近 90 天消费 £0（活跃客户中位数：£312）"
    )


def test_counts_and_days_agree_in_number():
    assert render_sentence("orders_90d", 1.0, 2.0, "en") == (
        "1 order in the last 90 days (active customers: 2)"
    )
    assert render_sentence("orders_90d", 0.0, 1.0, "en") == (
        "0 orders in the last 90 days (active customers: 1)"
    )
    assert render_sentence("days_since_last_order", 1.2, 1.0, "en") == (
        "No order for 1 day (active customers: 1 day)"
    )
    assert render_sentence("products_90d", 1.0, 17.0, "en") == (
        "Bought 1 distinct product in the last 90 days (active customers: 17)"
    )
    assert render_sentence("regular_categories_missed_90d", 1.0, math.nan, "en") == (
        "Stopped buying 1 regular category in the last 90 days"
    )
    assert render_sentence("orders_90d", 1.0, 2.0, "zh-CN") == (
        "近 90 天下单 1 次（活跃客户中位数：2 次）"
    )


def test_one_order_customer_gets_no_usual_gap_sentence():
    # overdue_ratio of a one-order customer divides by an assumed gap: no reference
    assert render_sentence("overdue_ratio", 3.6, math.nan, "en") == (
        "Only one order so far: no usual order gap yet"
    )
    assert "90" not in render_sentence("overdue_ratio", 3.6, math.nan, "zh-CN")


def test_bad_language_and_feature_are_errors():
    with pytest.raises(ValueError, match="lang"):
        render_sentence("tenure_days", 1.0, 1.0, "fr")
    with pytest.raises(KeyError, match="not in the catalog"):
        render_sentence("no_such_feature", 1.0, 1.0, "en")


def test_missing_value_gets_a_sentence_not_nan():
    assert render_sentence("gap_mean_days", math.nan, 34.0, "en") == (
        "Only one order so far: no usual order gap yet"
    )
    assert render_sentence("gap_mean_days", math.nan, 34.0, "zh-CN") == (
        "目前仅下单一次，尚无固定的下单间隔"
    )
    assert render_sentence("tenure_days", math.nan, 1.0, "en") == "tenure_days: no value"


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize(
    "feature", ["days_since_last_order", "spend_90d", "return_rate_365d", "overdue_ratio"]
)
def test_render_many_renders_each_distinct_pair_once_and_equals_one_at_a_time(
    feature: str, lang: str
) -> None:
    rng = np.random.default_rng(0)
    values = np.r_[rng.integers(0, 5, 200).astype(float), np.nan, np.nan, -0.0, 0.0, 1e-9]
    refs = np.r_[rng.choice([2.0, np.nan], 200), 2.0, np.nan, 2.0, 2.0, 2.0]
    got = render_many(feature, values, refs, lang, "GBP")
    pairs = zip(values, refs, strict=True)
    assert got == [render_sentence(feature, v, r, lang, "GBP") for v, r in pairs]
    assert render_many(feature, np.array([]), np.array([]), lang) == []
