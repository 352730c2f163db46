"""Catalog entries of the signal tables (issue 14): tickets, interactions, contracts,
invoices and usage. Appended to :data:`features.catalog.CATALOG` (as
``features.catalog.SIGNAL_CATALOG``); each feature
``requires`` its table's marker (``signal:<table>``), so a company that does not map a
table gets none of its features, and the features report says why.

Time discipline (what is known at cutoff ``T``; only rows with their start ``< T`` count):
a ticket is open at ``T`` unless it was closed before ``T``, and its satisfaction
score is known only once it is closed; an interaction's response counts only if it
came before ``T``; a contract is known from its start and is live at ``T`` unless it
was cancelled before ``T``; an invoice is overdue at ``T`` when its due date is before
``T`` and it was not paid before ``T``.
"""

from __future__ import annotations

from typing import Any

#: One catalog entry: the positional and keyword arguments of ``features.catalog.Feature``
#: (the family as its name). Plain data, so this module needs nothing from the catalog
#: and the catalog can import it without a cycle.
Spec = tuple[tuple[Any, ...], dict[str, Any]]


def _spec(*args: Any, **kwargs: Any) -> Spec:
    return args, kwargs


class _Family:
    """Names of the signal families (members of ``features.catalog.Family``)."""

    COMPLAINTS = "COMPLAINTS"
    SERVICE = "SERVICE"
    CONTRACT = "CONTRACT"
    PAYMENT = "PAYMENT"
    USAGE = "USAGE"


TICKETS = ("signal:tickets",)
INTERACTIONS = ("signal:interactions",)
CONTRACTS = ("signal:contracts",)
INVOICES = ("signal:invoices",)
USAGE = ("signal:usage",)

SIGNAL_SPECS: tuple[Spec, ...] = (
    # --- COMPLAINTS ----------------------------------------------------------------
    _spec(
        "complaints_30d",
        _Family.COMPLAINTS,
        "30d",
        "complaints",
        "Complaint tickets (signals.tickets.complaint_types) opened in the 30 days "
        "before the cutoff.",
        "{value} {value_unit} in the last 30 days ({reference} in the 90 days before)",
        "近 30 天投诉 {value} 次（此前 90 天：{reference} 次）",
        requires=TICKETS,
        direction=1,
        reference="own",
    ),
    _spec(
        "complaints_120d",
        _Family.COMPLAINTS,
        "120d",
        "complaints",
        "Complaint tickets opened in the 120 days before the cutoff.",
        "{value} {value_unit} in the last 120 days (active customers: {reference})",
        "近 120 天投诉 {value} 次（活跃客户中位数：{reference} 次）",
        requires=TICKETS,
        direction=1,
    ),
    _spec(
        "satisfaction_trend_90d",
        _Family.COMPLAINTS,
        "90d",
        "ratio",
        "Relative change in the mean satisfaction score of tickets opened in the last 90 "
        "days vs those opened in the 90 days before (scores of tickets closed before the "
        "cutoff); missing when either window has no score.",
        "Ticket satisfaction {change} {pct}% vs the 90 days before",
        "工单满意度较前 90 天{change} {pct}%",
        requires=TICKETS,
        reference="own",
    ),
    # --- SERVICE -------------------------------------------------------------------
    _spec(
        "open_tickets",
        _Family.SERVICE,
        "lifetime",
        "tickets",
        "Tickets opened before the cutoff and not closed before it.",
        "{value} open {value_unit} (active customers: {reference})",
        "未关闭工单 {value} 个（活跃客户中位数：{reference} 个）",
        requires=TICKETS,
        direction=1,
    ),
    _spec(
        "inbound_contacts_trend_90d",
        _Family.SERVICE,
        "90d",
        "ratio",
        "Relative change in inbound contacts (calls, messages, emails from the customer): "
        "last 90 days vs the 90 days before; missing when the earlier window has none.",
        "Contacts from the customer {change} {pct}% vs the 90 days before",
        "客户主动联系次数较前 90 天{change} {pct}%",
        requires=INTERACTIONS,
        reference="own",
    ),
    _spec(
        "response_hours_90d",
        _Family.SERVICE,
        "90d",
        "hours",
        "Our mean response time, in hours, to inbound contacts of the last 90 days "
        "answered before the cutoff; missing when none was answered.",
        "We took {value} {value_unit} on average to respond (active customers: {reference})",
        "我方平均响应用时 {value} 小时（活跃客户中位数：{reference} 小时）",
        requires=INTERACTIONS,
    ),
    # --- CONTRACT ------------------------------------------------------------------
    _spec(
        "days_to_contract_end",
        _Family.CONTRACT,
        "lifetime",
        "days",
        "Days from the cutoff to the nearest end of a live contract (started before the "
        "cutoff, ending at or after it, not cancelled before it); missing with none.",
        "Contract ends in {value} {value_unit} (active customers: {reference} {reference_unit})",
        "合同将于 {value} 天后到期（活跃客户中位数：{reference} 天）",
        requires=CONTRACTS,
    ),
    _spec(
        "days_to_end_no_autorenew",
        _Family.CONTRACT,
        "lifetime",
        "days",
        "Days from the cutoff to the nearest end of a live contract that does not "
        "auto-renew; missing when every live contract auto-renews or there is none.",
        "Contract ends in {value} {value_unit} and does not auto-renew",
        "合同将于 {value} 天后到期，且未设置自动续约",
        requires=CONTRACTS,
    ),
    _spec(
        "contracts_cancelled_90d",
        _Family.CONTRACT,
        "90d",
        "contracts",
        "Contracts cancelled in the 90 days before the cutoff.",
        "{value} {value_unit} cancelled in the last 90 days",
        "近 90 天取消合同 {value} 份",
        requires=CONTRACTS,
        direction=1,
        reference="own",
    ),
    # --- PAYMENT -------------------------------------------------------------------
    _spec(
        "overdue_invoices",
        _Family.PAYMENT,
        "lifetime",
        "invoices",
        "Invoices issued and due before the cutoff and not paid before it.",
        "{value} overdue {value_unit} (active customers: {reference})",
        "逾期未付发票 {value} 张（活跃客户中位数：{reference} 张）",
        requires=INVOICES,
        direction=1,
    ),
    _spec(
        "overdue_amount",
        _Family.PAYMENT,
        "lifetime",
        "currency",
        "Amount of the overdue invoices at the cutoff.",
        "{value} overdue (active customers: {reference})",
        "逾期未付金额 {value}（活跃客户中位数：{reference}）",
        requires=INVOICES,
        direction=1,
    ),
    _spec(
        "max_days_overdue",
        _Family.PAYMENT,
        "lifetime",
        "days",
        "Days the oldest overdue invoice is past its due date at the cutoff; 0 with none.",
        "An invoice is {value} {value_unit} overdue (active customers: {reference})",
        "有发票已逾期 {value} 天（活跃客户中位数：{reference} 天）",
        requires=INVOICES,
        direction=1,
    ),
    # --- USAGE ---------------------------------------------------------------------
    _spec(
        "usage_trend_30d",
        _Family.USAGE,
        "30d",
        "ratio",
        "Relative change in usage (sum of quantity, 1 per event when unmapped): last 30 "
        "days vs the 30 before; missing when the earlier window has none.",
        "Usage in the last 30 days {change} {pct}% vs the 30 days before",
        "近 30 天使用量较前 30 天{change} {pct}%",
        requires=USAGE,
        reference="own",
    ),
    _spec(
        "usage_events_30d",
        _Family.USAGE,
        "30d",
        "features",
        "Distinct usage events (features used) in the 30 days before the cutoff.",
        "Used {value} {value_unit} in the last 30 days (active customers: {reference})",
        "近 30 天使用 {value} 项功能（活跃客户中位数：{reference} 项）",
        requires=USAGE,
    ),
)
