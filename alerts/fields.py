"""The alert's field names, in one place: the worklist, the CRM files and the API.

docs/alerts.md ("What each field means") explains each. The worklist holds every field;
the delivered files leave out what only the loop needs (the randomised ``group``, the
chosen ``reason_family``, the ``model_version``); the API adds the follow-up ``status``
the database keeps and leaves out ``group`` (control alerts are never listed).
"""

from __future__ import annotations

#: Every field of an alert, in the order of the worklist Parquet file.
ALERT_FIELDS: tuple[str, ...] = (
    "alert_id",
    "cycle",
    "customer_id",
    "owner",
    "rank",
    "group",
    "is_new",
    "churn_probability",
    "risk_level",
    "value_tier",
    "revenue_at_risk",
    "expected_value",
    "reason_codes",
    "reason_family",
    "reasons_en",
    "reasons_zh",
    "rule_codes",
    "rules_en",
    "rules_zh",
    "action_en",
    "action_zh",
    "model_version",
    "due",
)
#: Fields the sales team never sees in the CRM files.
_NOT_DELIVERED = ("group", "reason_family", "model_version")
#: Columns of the delivered CSV/JSON, in order.
DELIVERED_FIELDS: tuple[str, ...] = tuple(f for f in ALERT_FIELDS if f not in _NOT_DELIVERED)
#: Fields of an alert in the API: no ``group``, and ``status`` after ``is_new``.
API_FIELDS: tuple[str, ...] = tuple(
    name
    for f in ALERT_FIELDS
    if f != "group"
    for name in ((f, "status") if f == "is_new" else (f,))
)
#: Fields holding ``;``-joined codes, which the API returns as lists.
CODE_LIST_FIELDS: tuple[str, ...] = ("reason_codes", "rule_codes")
