"""How the feature catalog reads to a person: labels in ``en``/``zh-CN``, unit words, risk.

Part of the catalog (:mod:`features.catalog` holds the features and their sentence
templates; this module the words around them), kept apart so neither module grows past
the size limit. Tests pin that every catalog feature, family, tier and risk level has an
entry here.

- :data:`FEATURE_LABELS`: a short human name of each feature (report axes, API).
- :data:`RISKY`: the direction in which a feature's value reads as a churn risk (+1: a
  larger value is riskier, -1: a smaller one), and :data:`NEUTRAL` the value an ``own``
  feature is compared with when it has no reference of its own (a trend's 0, an overdue
  ratio's 1). A family is a reason only when its driving value differs from its
  reference in the risky direction (``scoring.reasons``): "1 order in the last 90 days
  (active customers: 1)" is no reason.
- :data:`UNIT_WORDS`: English unit words, singular and plural ("1 order", "2 orders").
"""

from __future__ import annotations

from features.catalog import Family

#: Human name of each feature: (en, zh-CN).
FEATURE_LABELS: dict[str, tuple[str, str]] = {
    "days_since_last_order": ("Days since the last order", "距上次下单天数"),
    "orders_30d": ("Orders, last 30 days", "近 30 天订单数"),
    "orders_90d": ("Orders, last 90 days", "近 90 天订单数"),
    "orders_180d": ("Orders, last 180 days", "近 180 天订单数"),
    "orders_365d": ("Orders, last 365 days", "近 365 天订单数"),
    "orders_lifetime": ("Orders in total", "累计订单数"),
    "orders_trend_90d": (
        "Order trend, last 90 vs previous 90 days",
        "订单趋势（近 90 天对比前 90 天）",
    ),
    "spend_30d": ("Spend, last 30 days", "近 30 天消费额"),
    "spend_90d": ("Spend, last 90 days", "近 90 天消费额"),
    "spend_180d": ("Spend, last 180 days", "近 180 天消费额"),
    "spend_365d": ("Spend, last 365 days", "近 365 天消费额"),
    "spend_lifetime": ("Spend in total", "累计消费额"),
    "spend_trend_90d": (
        "Spend trend, last 90 vs previous 90 days",
        "消费趋势（近 90 天对比前 90 天）",
    ),
    "aov_lifetime": ("Average order value", "平均客单价"),
    "aov_trend_90d": (
        "Order value trend, last 90 vs previous 90 days",
        "客单价趋势（近 90 天对比前 90 天）",
    ),
    "gap_mean_days": ("Usual days between orders", "平均下单间隔天数"),
    "gap_std_days": ("Variation of days between orders", "下单间隔波动天数"),
    "overdue_ratio": ("Overdue vs the usual gap", "超出平时下单间隔的倍数"),
    "overdue_days": ("Days past the usual gap", "超出平时下单间隔的天数"),
    "gap_cv": ("Irregularity of order gaps", "下单间隔不规律程度"),
    "products_90d": ("Distinct products, last 90 days", "近 90 天购买商品种数"),
    "products_365d": ("Distinct products, last 365 days", "近 365 天购买商品种数"),
    "categories_90d": ("Categories, last 90 days", "近 90 天购买品类数"),
    "categories_365d": ("Categories, last 365 days", "近 365 天购买品类数"),
    "category_shift_90d": ("Category mix shift", "品类结构变化"),
    "regular_categories_missed_90d": ("Regular categories not bought", "未再购买的常购品类数"),
    "return_rate_365d": ("Returned or cancelled share of spend", "退货及取消金额占比"),
    "cancel_rate_365d": ("Cancelled share of orders", "取消订单占比"),
    "return_rate_trend_90d": ("Return and cancellation trend", "退货与取消比例变化"),
    "tenure_days": ("Days as a customer", "成为客户天数"),
    "value_tier": ("Value tier", "价值等级"),
}

#: Direction in which a value reads as a churn risk: +1 larger is riskier, -1 smaller.
RISKY: dict[str, int] = {
    "days_since_last_order": 1,
    "orders_30d": -1,
    "orders_90d": -1,
    "orders_180d": -1,
    "orders_365d": -1,
    "orders_lifetime": -1,
    "orders_trend_90d": -1,
    "spend_30d": -1,
    "spend_90d": -1,
    "spend_180d": -1,
    "spend_365d": -1,
    "spend_lifetime": -1,
    "spend_trend_90d": -1,
    "aov_lifetime": -1,
    "aov_trend_90d": -1,
    "gap_mean_days": 1,
    "gap_std_days": 1,
    "overdue_ratio": 1,
    "overdue_days": 1,
    "gap_cv": 1,
    "products_90d": -1,
    "products_365d": -1,
    "categories_90d": -1,
    "categories_365d": -1,
    "category_shift_90d": 1,
    "regular_categories_missed_90d": 1,
    "return_rate_365d": 1,
    "cancel_rate_365d": 1,
    "return_rate_trend_90d": 1,
    "tenure_days": -1,
    "value_tier": -1,
}

#: What an ``own`` feature's value is compared with (its reference is no comparable
#: number: a trend's reference is the earlier window's count, not a ratio).
NEUTRAL: dict[str, float] = {
    "overdue_ratio": 1.0,  # 1.0x the usual gap: due, not overdue
    "overdue_days": 0.0,  # 0 days past the usual gap: due, not overdue
    "orders_trend_90d": 0.0,
    "spend_trend_90d": 0.0,
    "aov_trend_90d": 0.0,
    "category_shift_90d": 0.0,
    "regular_categories_missed_90d": 0.0,
    "return_rate_trend_90d": 0.0,
}

#: A missing value that is itself a risk fact (one or two orders so far).
MISSING_IS_RISK: frozenset[str] = frozenset(
    {"gap_mean_days", "gap_std_days", "overdue_days", "gap_cv"}
)

#: English unit words (singular, plural); Chinese counts take no plural.
UNIT_WORDS: dict[str, tuple[str, str]] = {
    "days": ("day", "days"),
    "orders": ("order", "orders"),
    "products": ("distinct product", "distinct products"),
    "categories": ("category", "categories"),
}

#: Reason family names: (en, zh-CN).
FAMILY_LABELS: dict[Family, tuple[str, str]] = {
    Family.RECENCY: ("Recency", "最近下单"),
    Family.FREQUENCY_DECLINE: ("Order frequency", "下单频率"),
    Family.SPEND_DECLINE: ("Spend", "消费金额"),
    Family.ORDER_CYCLE: ("Order rhythm", "下单节奏"),
    Family.CATEGORY_SHIFT: ("Products and categories", "商品与品类"),
    Family.RETURNS: ("Returns and cancellations", "退货与取消"),
    Family.TENURE: ("Customer age", "客户时长"),
    Family.VALUE: ("Customer value", "客户价值"),
}

#: Value tier names (``value_tier`` 0/1/2 read as low/medium/high): (en, zh-CN).
TIER_LABELS: dict[str, tuple[str, str]] = {
    "low": ("low value", "低价值"),
    "medium": ("medium value", "中价值"),
    "high": ("high value", "高价值"),
}

#: Risk level names: (en, zh-CN).
RISK_LEVEL_LABELS: dict[str, tuple[str, str]] = {
    "low": ("low risk", "低风险"),
    "medium": ("medium risk", "中风险"),
    "high": ("high risk", "高风险"),
}


# --- Signals beyond orders (issue 14) ----------------------------------------------
from features.wording_signals import (  # noqa: E402
    SIGNAL_FAMILY_LABELS,
    SIGNAL_LABELS,
    SIGNAL_NEUTRAL,
    SIGNAL_RISKY,
    SIGNAL_UNIT_WORDS,
)

FEATURE_LABELS |= SIGNAL_LABELS
RISKY |= SIGNAL_RISKY
NEUTRAL |= SIGNAL_NEUTRAL
UNIT_WORDS |= SIGNAL_UNIT_WORDS
FAMILY_LABELS |= SIGNAL_FAMILY_LABELS


def label(table: dict[str, tuple[str, str]], key: str, lang: str) -> str:
    """``table[key]`` in ``lang`` (``en`` or ``zh-CN``); an unknown key reads as itself."""
    pair = table.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "zh-CN" else pair[0]
