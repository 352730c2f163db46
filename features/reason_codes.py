"""Stable reason codes, one per reason family: the contract a CRM routes follow-up on.

Codes never change meaning within a version; :data:`REASON_CODES_VERSION` is written
into every model bundle and every scored row.
"""

from __future__ import annotations

from features.catalog import Family

REASON_CODES_VERSION = "1.0.0"

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
}
#: The most reasons one customer can have: one per family (the API's ``top_k`` ceiling).
MAX_REASONS = len(Family)
#: Code of a protective (risk-lowering) reason, per family.
PROTECTIVE_CODES: dict[Family, str] = {f: f"PROTECT_{f.value}" for f in Family}
