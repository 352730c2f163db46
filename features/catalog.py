"""The feature catalog: the single source of truth for every model feature.

Column order of feature frames, request validation, monotone constraints and reason
sentences all derive from :data:`CATALOG`. A feature that needs an optional canonical
column (``category``, ``product_id``, ``quantity``) is omitted when the source lacks it;
:func:`active_features` applies that rule.

Sentence templates are ``str.format`` strings with the fields ``value``, ``reference``
(own history or median of active customers), ``ratio`` (value / reference), ``pct``
(``abs(value) * 100``), ``change`` ("fell"/"rose", "下降"/"上升") and ``value_unit`` /
``reference_unit`` ("1 order", "2 orders"). Numbers come pre-formatted (currency from
``data.currency``). Labels, unit words and risky directions: :mod:`features.wording`.
"""

from __future__ import annotations

from features.catalog_signals import SIGNAL_SPECS
from features.catalog_types import Family, Feature

__all__ = ["CATALOG", "CATALOG_VERSION", "Family", "Feature"]

CATALOG_VERSION = "1.3.0"


CATALOG: tuple[Feature, ...] = (
    # --- RECENCY -------------------------------------------------------------------
    Feature(
        "days_since_last_order",
        Family.RECENCY,
        "lifetime",
        "days",
        "Days from the last completed order to the cutoff.",
        "No order for {value} {value_unit} (active customers: {reference} {reference_unit})",
        "已 {value} 天未下单（活跃客户中位数：{reference} 天）",
        direction=1,
    ),
    # --- FREQUENCY_DECLINE ---------------------------------------------------------
    Feature(
        "orders_30d",
        Family.FREQUENCY_DECLINE,
        "30d",
        "orders",
        "Completed orders in the 30 days before the cutoff.",
        "{value} {value_unit} in the last 30 days (active customers: {reference})",
        "近 30 天下单 {value} 次（活跃客户中位数：{reference} 次）",
    ),
    Feature(
        "orders_90d",
        Family.FREQUENCY_DECLINE,
        "90d",
        "orders",
        "Completed orders in the 90 days before the cutoff.",
        "{value} {value_unit} in the last 90 days (active customers: {reference})",
        "近 90 天下单 {value} 次（活跃客户中位数：{reference} 次）",
    ),
    Feature(
        "orders_180d",
        Family.FREQUENCY_DECLINE,
        "180d",
        "orders",
        "Completed orders in the 180 days before the cutoff.",
        "{value} {value_unit} in the last 180 days (active customers: {reference})",
        "近 180 天下单 {value} 次（活跃客户中位数：{reference} 次）",
    ),
    Feature(
        "orders_365d",
        Family.FREQUENCY_DECLINE,
        "365d",
        "orders",
        "Completed orders in the 365 days before the cutoff.",
        "{value} {value_unit} in the last 365 days (active customers: {reference})",
        "近 365 天下单 {value} 次（活跃客户中位数：{reference} 次）",
    ),
    Feature(
        "orders_lifetime",
        Family.FREQUENCY_DECLINE,
        "lifetime",
        "orders",
        "Completed orders before the cutoff.",
        "{value} {value_unit} in total (active customers: {reference})",
        "累计下单 {value} 次（活跃客户中位数：{reference} 次）",
    ),
    Feature(
        "orders_trend_90d",
        Family.FREQUENCY_DECLINE,
        "90d",
        "ratio",
        "Relative change in completed orders: last 90 days vs the 90 days before "
        "(orders_90d / orders in [T-180d, T-90d) - 1); missing when the earlier "
        "window has no order.",
        "Orders in the last 90 days {change} {pct}% vs the 90 days before",
        "近 90 天下单次数较前 90 天{change} {pct}%",
        reference="own",
    ),
    # --- SPEND_DECLINE -------------------------------------------------------------
    Feature(
        "spend_30d",
        Family.SPEND_DECLINE,
        "30d",
        "currency",
        "Spend on completed orders in the 30 days before the cutoff.",
        "Spent {value} in the last 30 days (active customers: {reference})",
        "近 30 天消费 {value}（活跃客户中位数：{reference}）",
    ),
    Feature(
        "spend_90d",
        Family.SPEND_DECLINE,
        "90d",
        "currency",
        "Spend on completed orders in the 90 days before the cutoff.",
        "Spent {value} in the last 90 days (active customers: {reference})",
        "近 90 天消费 {value}（活跃客户中位数：{reference}）",
    ),
    Feature(
        "spend_180d",
        Family.SPEND_DECLINE,
        "180d",
        "currency",
        "Spend on completed orders in the 180 days before the cutoff.",
        "Spent {value} in the last 180 days (active customers: {reference})",
        "近 180 天消费 {value}（活跃客户中位数：{reference}）",
    ),
    Feature(
        "spend_365d",
        Family.SPEND_DECLINE,
        "365d",
        "currency",
        "Spend on completed orders in the 365 days before the cutoff.",
        "Spent {value} in the last 365 days (active customers: {reference})",
        "近 365 天消费 {value}（活跃客户中位数：{reference}）",
    ),
    Feature(
        "spend_lifetime",
        Family.SPEND_DECLINE,
        "lifetime",
        "currency",
        "Spend on completed orders before the cutoff.",
        "Spent {value} in total (active customers: {reference})",
        "累计消费 {value}（活跃客户中位数：{reference}）",
    ),
    Feature(
        "spend_trend_90d",
        Family.SPEND_DECLINE,
        "90d",
        "ratio",
        "Relative change in spend: last 90 days vs the 90 days before "
        "(spend_90d / spend in [T-180d, T-90d) - 1); missing when the earlier "
        "window has no spend.",
        "Spend in the last 90 days {change} {pct}% vs the 90 days before",
        "近 90 天消费额较前 90 天{change} {pct}%",
        reference="own",
    ),
    Feature(
        "aov_lifetime",
        Family.SPEND_DECLINE,
        "lifetime",
        "currency",
        "Average order value: spend_lifetime / orders_lifetime.",
        "Average order value {value} (active customers: {reference})",
        "平均客单价 {value}（活跃客户中位数：{reference}）",
    ),
    Feature(
        "aov_trend_90d",
        Family.SPEND_DECLINE,
        "90d",
        "ratio",
        "Relative change in average order value: last 90 days vs the 90 days before; "
        "missing when either window has no order.",
        "Average order value in the last 90 days {change} {pct}% vs the 90 days before",
        "近 90 天平均客单价较前 90 天{change} {pct}%",
        reference="own",
    ),
    # --- ORDER_CYCLE ---------------------------------------------------------------
    Feature(
        "gap_mean_days",
        Family.ORDER_CYCLE,
        "lifetime",
        "days",
        "Mean days between consecutive completed orders; missing with one order.",
        "Usually orders every {value} {value_unit} "
        "(active customers: {reference} {reference_unit})",
        "平时每 {value} 天下单一次（活跃客户中位数：{reference} 天）",
    ),
    Feature(
        "gap_std_days",
        Family.ORDER_CYCLE,
        "lifetime",
        "days",
        "Standard deviation (ddof=0) of days between consecutive completed orders; "
        "missing with fewer than three orders.",
        "Order gaps vary by {value} {value_unit} (active customers: {reference} {reference_unit})",
        "下单间隔波动 {value} 天（活跃客户中位数：{reference} 天）",
    ),
    Feature(
        "overdue_ratio",
        Family.ORDER_CYCLE,
        "lifetime",
        "ratio",
        "days_since_last_order / the customer's usual gap: gap_mean_days floored at "
        "features.min_usual_gap_days (same-day repeat orders); for a one-order customer "
        "the usual gap is features.single_order_gap_days.",
        "No order for {value}× the usual gap of {reference} {reference_unit}",
        "未下单时长已是平时下单间隔（{reference} 天）的 {value} 倍",
        direction=1,
        reference="own",
    ),
    Feature(
        "overdue_days",
        Family.ORDER_CYCLE,
        "lifetime",
        "days",
        "days_since_last_order - gap_mean_days: days past (negative: before) the "
        "customer's usual gap; missing with one order.",
        "{value} {value_unit} past the usual order gap of {reference} {reference_unit}",
        "已超过平时下单间隔（{reference} 天）{value} 天未下单",
        direction=1,
        reference="own",
    ),
    Feature(
        "gap_cv",
        Family.ORDER_CYCLE,
        "lifetime",
        "ratio",
        "gap_std_days / gap_mean_days (coefficient of variation of the gaps between "
        "orders); missing with fewer than three orders or a zero mean gap.",
        "Irregular order rhythm: gaps vary by {value}× their mean (active customers: {reference}×)",
        "下单节奏不规律：间隔波动为平均间隔的 {value} 倍（活跃客户中位数：{reference} 倍）",
    ),
    # --- CATEGORY_SHIFT ------------------------------------------------------------
    Feature(
        "products_90d",
        Family.CATEGORY_SHIFT,
        "90d",
        "products",
        "Distinct products bought (completed) in the 90 days before the cutoff.",
        "Bought {value} {value_unit} in the last 90 days (active customers: {reference})",
        "近 90 天购买 {value} 种商品（活跃客户中位数：{reference} 种）",
        requires=("product_id",),
    ),
    Feature(
        "products_365d",
        Family.CATEGORY_SHIFT,
        "365d",
        "products",
        "Distinct products bought (completed) in the 365 days before the cutoff.",
        "Bought {value} {value_unit} in the last 365 days (active customers: {reference})",
        "近 365 天购买 {value} 种商品（活跃客户中位数：{reference} 种）",
        requires=("product_id",),
    ),
    Feature(
        "categories_90d",
        Family.CATEGORY_SHIFT,
        "90d",
        "categories",
        "Distinct categories bought (completed) in the 90 days before the cutoff.",
        "Bought from {value} {value_unit} in the last 90 days (active customers: {reference})",
        "近 90 天购买 {value} 个品类（活跃客户中位数：{reference} 个）",
        requires=("category",),
    ),
    Feature(
        "categories_365d",
        Family.CATEGORY_SHIFT,
        "365d",
        "categories",
        "Distinct categories bought (completed) in the 365 days before the cutoff.",
        "Bought from {value} {value_unit} in the last 365 days (active customers: {reference})",
        "近 365 天购买 {value} 个品类（活跃客户中位数：{reference} 个）",
        requires=("category",),
    ),
    Feature(
        "category_shift_90d",
        Family.CATEGORY_SHIFT,
        "90d",
        "share",
        "Total-variation distance between category spend shares in the last 90 days "
        "and the 90 days before (0 = same mix, 1 = disjoint); missing when either "
        "window has no spend.",
        "Category mix shifted {pct}% vs the 90 days before",
        "近 90 天品类结构较前 90 天变化 {pct}%",
        requires=("category",),
        reference="own",
    ),
    Feature(
        "regular_categories_missed_90d",
        Family.CATEGORY_SHIFT,
        "90d",
        "categories",
        "Regular categories (bought in at least features.regular_category_min_orders "
        "orders in [T-365d, T-90d)) with no purchase in the last 90 days.",
        "Stopped buying {value} regular {value_unit} in the last 90 days",
        "近 90 天停止购买 {value} 个常购品类",
        requires=("category",),
        direction=1,
        reference="own",
    ),
    # --- RETURNS -------------------------------------------------------------------
    Feature(
        "return_rate_365d",
        Family.RETURNS,
        "365d",
        "share",
        "Returned + cancelled value (absolute) / completed spend in the 365 days before "
        "the cutoff; missing when there is no completed spend.",
        "Returned or cancelled goods worth {pct}% of spend in the last 365 days "
        "(active customers: {reference})",
        "近 365 天退货及取消金额占消费的 {pct}%（活跃客户中位数：{reference}）",
    ),
    Feature(
        "cancel_rate_365d",
        Family.RETURNS,
        "365d",
        "share",
        "Cancelled orders / (completed + cancelled orders) in the 365 days before the cutoff.",
        "Cancelled {pct}% of orders in the last 365 days (active customers: {reference})",
        "近 365 天取消订单占比 {pct}%（活跃客户中位数：{reference}）",
    ),
    Feature(
        "return_rate_trend_90d",
        Family.RETURNS,
        "90d",
        "share",
        "Return rate (returned + cancelled value / completed spend) in the last 90 days "
        "minus the same rate in the 90 days before; missing when either window has no "
        "completed spend.",
        "Returned or cancelled share of spend {change} {pct} points vs the 90 days before",
        "近 90 天退货与取消比例较前 90 天{change} {pct} 个百分点",
        reference="own",
    ),
    # --- TENURE --------------------------------------------------------------------
    Feature(
        "tenure_days",
        Family.TENURE,
        "lifetime",
        "days",
        "Days from the first completed order to the cutoff.",
        "Customer for {value} {value_unit} (active customers: {reference} {reference_unit})",
        "成为客户 {value} 天（活跃客户中位数：{reference} 天）",
    ),
    # --- VALUE ---------------------------------------------------------------------
    Feature(
        "value_tier",
        Family.VALUE,
        "365d",
        "tier",
        "Value tier from spend_365d against features.value_tiers thresholds "
        "(0 = low, 1 = medium, 2 = high).",
        "Value tier {value} (active customers: {reference})",
        "价值等级 {value}（活跃客户中位数：{reference}）",
    ),
)

# --- Signals beyond orders (issue 14): features of the optional signal tables ----------
#: The order features alone (what a company without signal tables gets at most).
ORDER_FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in CATALOG)
SIGNAL_CATALOG: tuple[Feature, ...] = tuple(
    Feature(args[0], Family(args[1]), *args[2:], **kwargs) for args, kwargs in SIGNAL_SPECS
)
CATALOG = CATALOG + SIGNAL_CATALOG

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in CATALOG)
BY_NAME: dict[str, Feature] = {f.name: f for f in CATALOG}


def active_features(available_columns: set[str] | frozenset[str]) -> list[Feature]:
    """Catalog features computable from a source with ``available_columns``.

    Optional canonical columns (``category``, ``product_id``) may be absent from a
    company's export, and signal tables (marker ``signal:<table>``) may not be mapped;
    features that need them are left out rather than zero-filled.
    """
    return [f for f in CATALOG if set(f.requires) <= set(available_columns)]


def feature_names(available_columns: set[str] | frozenset[str]) -> list[str]:
    """Names of :func:`active_features`, in catalog order."""
    return [f.name for f in active_features(available_columns)]
