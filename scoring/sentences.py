"""Number formatting and reason sentences in ``en`` and ``zh-CN``.

Sentences come from the catalog templates (:mod:`features.catalog`), filled with
numbers formatted by the feature's unit:

- ``days`` and counts (``orders``, ``products``, ``categories``): whole numbers
  (a median can be a half, shown with one decimal);
- ``currency``: thousands separators, no decimals from 10 up (and for 0), two below,
  with the symbol of ``data.currency`` (``£312``; an unknown code follows: ``312 CHF``);
- ``ratio`` (e.g. the overdue ratio): one decimal, ``4.1``;
- ``share``: a percentage with one decimal, ``3.2%``;
- ``tier``: the tier name (``low``/``medium``/``high``, ``低``/``中``/``高``).

English unit words agree with the number (``{value_unit}``: "1 order", "2 orders").
``{pct}`` is ``abs(value) * 100`` and ``{change}`` carries the direction ("fell"/"rose",
"下降"/"上升"), so a decline reads "Spend in the last 90 days fell 62%" /
"近 90 天消费额较前 90 天下降 62%". A missing reference renders
as ``n/a`` / ``不详``; a missing *value* gets a sentence saying why it is missing
(:data:`MISSING_SENTENCES`), because missingness can itself drive risk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from config.features import TIER_NAMES
from features.catalog import BY_NAME, Feature
from features.wording import UNIT_WORDS

LANGS: tuple[str, ...] = ("en", "zh-CN")
_MISSING = {"en": "n/a", "zh-CN": "不详"}
_TIER_ZH = {"low": "低", "medium": "中", "high": "高"}
_COUNT_UNITS = {"orders", "products", "categories"}
# Count units of the signal tables (issue 14).
_COUNT_UNITS |= {"complaints", "tickets", "contracts", "invoices", "features"}
# The direction word of {change}: (fell, rose, no change).
_CHANGE = {"en": ("fell", "rose", "changed"), "zh-CN": ("下降", "上升", "变化")}

# What an "own" reference of a feature is measured in (the value's unit otherwise).
OWN_REFERENCE_UNIT: dict[str, str] = {
    "overdue_ratio": "days",
    "orders_trend_90d": "orders",
    "spend_trend_90d": "currency",
    "aov_trend_90d": "currency",
    "complaints_30d": "complaints",
    "contracts_cancelled_90d": "contracts",
}


# Sentences for a driving feature whose value is missing: missingness itself carries
# risk in the model (a one-order customer has no usual gap), and "n/a days" reads badly.
MISSING_SENTENCES: dict[str, tuple[str, str]] = {
    "gap_mean_days": (
        "Only one order so far: no usual order gap yet",
        "目前仅下单一次，尚无固定的下单间隔",
    ),
    "gap_std_days": (
        "Fewer than three orders: no steady order rhythm yet",
        "下单少于三次，尚未形成稳定的下单节奏",
    ),
    "orders_trend_90d": (
        "No orders in the 90 days before the last 90: no order trend yet",
        "前一个 90 天内没有订单，无法计算下单趋势",
    ),
    "spend_trend_90d": (
        "No spend in the 90 days before the last 90: no spend trend yet",
        "前一个 90 天内没有消费，无法计算消费趋势",
    ),
    "aov_trend_90d": (
        "No orders in one of the last two 90-day windows: no order-value trend",
        "最近两个 90 天中有一个没有订单，无法计算客单价趋势",
    ),
    "category_shift_90d": (
        "No spend in one of the last two 90-day windows: category mix not comparable",
        "最近两个 90 天中有一个没有消费，无法比较品类结构",
    ),
    "return_rate_365d": (
        "No completed spend in the last 365 days: return rate unknown",
        "近 365 天没有完成的消费，无法计算退货率",
    ),
    "return_rate_trend_90d": (
        "No completed spend in one of the last two 90-day windows: return trend unknown",
        "最近两个 90 天中有一个没有完成的消费，无法计算退货趋势",
    ),
}
_MISSING_GENERIC = ("{name}: no value", "{name}：无数据")

# Sentences for an ``own`` feature whose reference is missing: a one-order customer's
# "usual gap" is the assumed features.single_order_gap_days, not a fact to quote.
NO_REFERENCE_SENTENCES: dict[str, tuple[str, str]] = {
    "overdue_ratio": MISSING_SENTENCES["gap_mean_days"],
    "overdue_days": MISSING_SENTENCES["gap_mean_days"],
}
# Sentences for an ``own`` gap feature whose usual gap reads "1 day" or less (same-day
# repeat orders; the features floor it at features.min_usual_gap_days): "182x the usual gap
# of 1 day" would be true to the floor but reads like an error. {days}: days since the last
# order. Gaps that round to 1 day or less (< SHORT_GAP_DAYS) get this sentence.
SHORT_GAP_SENTENCES: dict[str, tuple[str, str]] = {
    name: (
        "No order for {days} days; earlier orders were a day or less apart",
        "已 {days} 天未下单；此前的订单间隔约一天或更短",
    )
    for name in ("overdue_ratio", "overdue_days")
}
SHORT_GAP_DAYS = 1.5
MISSING_SENTENCES["overdue_days"] = MISSING_SENTENCES["gap_mean_days"]
MISSING_SENTENCES["gap_cv"] = MISSING_SENTENCES["gap_std_days"]


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")


#: Symbols of common ISO 4217 codes; any other code is written after the amount.
CURRENCY_SYMBOLS: dict[str, str] = {"GBP": "£", "USD": "$", "EUR": "€", "CNY": "¥", "JPY": "¥"}


def format_currency(text: str, currency: str | None) -> str:
    """``text`` (a formatted amount) with the currency: ``£312``, ``312 CHF``."""
    if not currency:
        return text
    symbol = CURRENCY_SYMBOLS.get(currency)
    if symbol is None:
        return f"{text} {currency}"
    return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"


def format_number(value: float, unit: str, lang: str = "en", currency: str | None = None) -> str:
    """Format ``value`` for a sentence according to the catalog ``unit``."""
    _check_lang(lang)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _MISSING[lang]
    v = float(value)
    if unit == "days":
        return f"{v:,.0f}"
    if unit in _COUNT_UNITS:
        return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 else f"{v:,.1f}"
    if unit == "currency":
        return format_currency(f"{v:,.0f}" if abs(v) >= 10 or v == 0 else f"{v:,.2f}", currency)
    if unit == "share":
        return f"{v * 100:.1f}%"
    if unit == "tier":
        name = TIER_NAMES[min(max(round(v), 0), len(TIER_NAMES) - 1)]
        return _TIER_ZH[name] if lang == "zh-CN" else name
    return f"{v:,.1f}"  # ratio and anything else


def unit_word(text: str, unit: str, lang: str) -> str:
    """The English unit word agreeing with the formatted number ``text`` ("1 order")."""
    words = UNIT_WORDS.get(unit)
    if words is None or lang != "en":
        return ""
    return words[0] if text in ("1", "-1") else words[1]


def format_pct(value: float, lang: str = "en") -> str:
    """``abs(value) * 100``, one decimal below 10 and none from 10 up."""
    if value is None or math.isnan(value):
        return _MISSING[lang]
    pct = abs(float(value)) * 100.0
    return f"{pct:.0f}" if abs(pct) >= 10 else f"{pct:.1f}"


def reference_unit(feature: Feature) -> str:
    """Unit of the reference a feature is compared with in its sentence."""
    if feature.reference == "own":
        return OWN_REFERENCE_UNIT.get(feature.name, feature.unit)
    return feature.unit


def template_fields(
    feature: Feature, value: float, reference: float, lang: str, currency: str | None = None
) -> dict[str, str]:
    """The template fields (``value``, ``reference``, ``ratio``, ``pct``, ``change``, units)."""
    ratio = math.nan
    if not (math.isnan(value) or math.isnan(reference)) and reference != 0:
        ratio = value / reference
    ref_unit = reference_unit(feature)
    value_text = format_number(value, feature.unit, lang, currency)
    reference_text = format_number(reference, ref_unit, lang, currency)
    return {
        "value": value_text,
        "reference": reference_text,
        "ratio": format_number(ratio, "ratio", lang),
        "pct": format_pct(value, lang),
        "change": change_word(value, lang),
        "value_unit": unit_word(value_text, feature.unit, lang),
        "reference_unit": unit_word(reference_text, ref_unit, lang),
    }


def change_word(value: float, lang: str = "en") -> str:
    """Direction of a relative change for ``{change}``: fell, rose or changed (zero)."""
    fell, rose, flat = _CHANGE[lang]
    if math.isnan(value) or value == 0:
        return flat
    return fell if value < 0 else rose


def render_sentence(
    feature_name: str,
    value: float,
    reference: float,
    lang: str = "en",
    currency: str | None = None,
) -> str:
    """The catalog sentence of ``feature_name`` with real numbers, in ``lang``.

    ``currency`` is the ISO code of ``data.currency`` (amounts read ``£312``).
    """
    _check_lang(lang)
    feature = BY_NAME.get(feature_name)
    if feature is None:
        raise KeyError(f"feature {feature_name!r} is not in the catalog")
    missing = None
    if math.isnan(float(value)):
        missing = MISSING_SENTENCES.get(feature_name, _MISSING_GENERIC)
    elif feature_name in NO_REFERENCE_SENTENCES and math.isnan(float(reference)):
        missing = NO_REFERENCE_SENTENCES[feature_name]
    if missing is not None:
        en, zh = missing
        return (en if lang == "en" else zh).format(name=feature_name)
    if feature_name in SHORT_GAP_SENTENCES and float(reference) < SHORT_GAP_DAYS:
        since = value * reference if feature_name == "overdue_ratio" else value + reference
        en, zh = SHORT_GAP_SENTENCES[feature_name]
        return (en if lang == "en" else zh).format(days=format_number(since, "days", lang))
    template = feature.template_en if lang == "en" else feature.template_zh
    fields = template_fields(feature, float(value), float(reference), lang, currency)
    return template.format(**fields)


def render_many(
    feature_name: str,
    values: Sequence[float],
    references: Sequence[float],
    lang: str,
    currency: str | None = None,
) -> list[str]:
    """:func:`render_sentence` over aligned sequences (one feature, many customers).

    Each distinct (value, reference) pair, compared bit for bit, is rendered once and
    shared: customers with the same counts, days or tier read the same sentence, and
    a million reasons hold far fewer distinct pairs.
    """
    v = np.ascontiguousarray(values, dtype=np.float64)
    r = np.ascontiguousarray(references, dtype=np.float64)
    if len(v) != len(r):
        raise ValueError(f"{len(v)} values but {len(r)} references")
    if len(v) == 0:
        return []
    pair = np.stack([v.view(np.int64), r.view(np.int64)], axis=1)
    first, codes = np.unique(pair, axis=0, return_index=True, return_inverse=True)[1:]
    rendered = np.array(
        [render_sentence(feature_name, v[i], r[i], lang, currency) for i in first],
        dtype=object,
    )
    return list(rendered[codes.ravel()])
