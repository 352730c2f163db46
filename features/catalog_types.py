"""The types of the feature catalog: reason families and the feature record.

Kept apart from :mod:`features.catalog` (the entries) so the catalog stays under the
module size limit; import them from :mod:`features.catalog`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Family(StrEnum):
    """Reason families: the causes a sales rep can act on."""

    RECENCY = "RECENCY"
    FREQUENCY_DECLINE = "FREQUENCY_DECLINE"
    SPEND_DECLINE = "SPEND_DECLINE"
    ORDER_CYCLE = "ORDER_CYCLE"
    CATEGORY_SHIFT = "CATEGORY_SHIFT"
    RETURNS = "RETURNS"
    TENURE = "TENURE"
    VALUE = "VALUE"
    # Signals beyond orders (features/catalog_signals.py, issue 14)
    COMPLAINTS = "COMPLAINTS"
    SERVICE = "SERVICE"
    CONTRACT = "CONTRACT"
    PAYMENT = "PAYMENT"
    USAGE = "USAGE"


@dataclass(frozen=True)
class Feature:
    """One model feature.

    ``direction`` is +1 when a larger value can only raise churn risk, -1 when it can
    only lower it, 0 when no direction is certain; training turns it into LightGBM
    monotone constraints. ``reference`` says what the value is compared with in a
    reason: ``"own"`` (the customer's own history) or ``"population"`` (median of
    active customers at the same cutoff).
    """

    name: str
    family: Family
    window: str
    unit: str
    description: str
    template_en: str
    template_zh: str
    requires: tuple[str, ...] = ()
    direction: int = 0
    reference: str = "population"
