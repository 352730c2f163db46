"""How the signal features (issue 14, :mod:`features.catalog_signals`) read to a person.

Merged into the tables of :mod:`features.wording`; kept apart so the order features and
the signal features can change without touching each other.
"""

from __future__ import annotations

from features.catalog import Family

SIGNAL_LABELS: dict[str, tuple[str, str]] = {
    "complaints_30d": ("Complaints, last 30 days", "近 30 天投诉次数"),
    "complaints_120d": ("Complaints, last 120 days", "近 120 天投诉次数"),
    "satisfaction_trend_90d": ("Ticket satisfaction trend", "工单满意度变化"),
    "open_tickets": ("Open tickets", "未关闭工单数"),
    "inbound_contacts_trend_90d": ("Inbound contact trend", "客户主动联系趋势"),
    "response_hours_90d": ("Our response time, hours", "我方响应用时（小时）"),
    "days_to_contract_end": ("Days to contract end", "距合同到期天数"),
    "days_to_end_no_autorenew": (
        "Days to the end of a contract without auto-renewal",
        "距未自动续约合同到期天数",
    ),
    "contracts_cancelled_90d": ("Contracts cancelled, last 90 days", "近 90 天取消合同数"),
    "overdue_invoices": ("Overdue invoices", "逾期发票数"),
    "overdue_amount": ("Overdue amount", "逾期金额"),
    "max_days_overdue": ("Days the oldest invoice is overdue", "最长逾期天数"),
    "usage_trend_30d": (
        "Usage trend, last 30 vs previous 30 days",
        "使用量趋势（近 30 天对比前 30 天）",
    ),
    "usage_events_30d": ("Features used, last 30 days", "近 30 天使用功能数"),
}

SIGNAL_RISKY: dict[str, int] = {
    "complaints_30d": 1,
    "complaints_120d": 1,
    "satisfaction_trend_90d": -1,
    "open_tickets": 1,
    "inbound_contacts_trend_90d": 1,
    "response_hours_90d": 1,
    "days_to_contract_end": -1,
    "days_to_end_no_autorenew": -1,
    "contracts_cancelled_90d": 1,
    "overdue_invoices": 1,
    "overdue_amount": 1,
    "max_days_overdue": 1,
    "usage_trend_30d": -1,
    "usage_events_30d": -1,
}

SIGNAL_NEUTRAL: dict[str, float] = {
    "complaints_30d": 0.0,
    "satisfaction_trend_90d": 0.0,
    "inbound_contacts_trend_90d": 0.0,
    "contracts_cancelled_90d": 0.0,
    "usage_trend_30d": 0.0,
}

SIGNAL_UNIT_WORDS: dict[str, tuple[str, str]] = {
    "complaints": ("complaint", "complaints"),
    "tickets": ("ticket", "tickets"),
    "contracts": ("contract", "contracts"),
    "invoices": ("invoice", "invoices"),
    "features": ("feature", "features"),
    "hours": ("hour", "hours"),
}

SIGNAL_FAMILY_LABELS: dict[Family, tuple[str, str]] = {
    Family.COMPLAINTS: ("Complaints and satisfaction", "投诉与满意度"),
    Family.SERVICE: ("Service and contact", "服务与联系"),
    Family.CONTRACT: ("Contract", "合同"),
    Family.PAYMENT: ("Payment", "付款"),
    Family.USAGE: ("Product usage", "产品使用"),
}
