"""Stable reason codes, one per reason family: the contract a CRM routes follow-up on.

Codes never change meaning within a version; :data:`REASON_CODES_VERSION` is written
into every model bundle and every scored row.
"""

from __future__ import annotations

from features.catalog import Family
from features.wording import FAMILY_LABELS

REASON_CODES_VERSION = "1.1.0"  # 1.1.0: signal families (issue 14)

#: Stable code of a risk-raising reason, per family.
REASON_CODES: dict[Family, str] = {
    Family.RECENCY: "RECENCY_INACTIVE",
    Family.FREQUENCY_DECLINE: "FREQUENCY_DECLINE",
    Family.SPEND_DECLINE: "SPEND_DECLINE",
    Family.ORDER_CYCLE: "ORDER_CYCLE_OVERDUE",
    Family.CATEGORY_SHIFT: "CATEGORY_SHIFT",
    Family.RETURNS: "RETURNS_ISSUES",
    Family.TENURE: "TENURE_PROFILE",
    Family.VALUE: "VALUE_PROFILE",
    # signals beyond orders (issue 14)
    Family.COMPLAINTS: "COMPLAINTS_RISING",
    Family.SERVICE: "SERVICE_ISSUES",
    Family.CONTRACT: "CONTRACT_ENDING",
    Family.PAYMENT: "PAYMENT_OVERDUE",
    Family.USAGE: "USAGE_DECLINE",
}
#: The most reasons one customer can have: one per family (the API's ``top_k`` ceiling).
MAX_REASONS = len(Family)
#: Code of a protective (risk-lowering) reason, per family.
PROTECTIVE_CODES: dict[Family, str] = {f: f"PROTECT_{f.value}" for f in Family}

#: What each reason code means, for a person: (en, zh-CN).
REASON_CODE_LABELS: dict[str, tuple[str, str]] = {
    "RECENCY_INACTIVE": ("Long time since the last order", "距上次下单时间长"),
    "FREQUENCY_DECLINE": ("Fewer orders", "下单减少"),
    "SPEND_DECLINE": ("Less spend", "消费减少"),
    "ORDER_CYCLE_OVERDUE": ("Order rhythm overdue or irregular", "下单节奏逾期或不规律"),
    "CATEGORY_SHIFT": ("Fewer products or categories", "购买商品或品类减少"),
    "RETURNS_ISSUES": ("Returns or cancellations", "退货或取消"),
    "TENURE_PROFILE": ("New customer", "新客户"),
    "VALUE_PROFILE": ("Low value tier", "价值等级低"),
    "COMPLAINTS_RISING": ("Complaints or falling satisfaction", "投诉增加或满意度下降"),
    "SERVICE_ISSUES": (
        "Open tickets, more contacts or slow responses",
        "工单未决、联系增多或响应慢",
    ),
    "CONTRACT_ENDING": ("Contract ending, not renewing or cancelled", "合同到期、未续约或已取消"),
    "PAYMENT_OVERDUE": ("Overdue invoices", "发票逾期"),
    "USAGE_DECLINE": ("Less product usage", "产品使用减少"),
} | {
    PROTECTIVE_CODES[f]: (f"Lowers risk: {en}", f"降低风险：{zh}")
    for f, (en, zh) in FAMILY_LABELS.items()
}
