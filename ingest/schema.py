"""The canonical order contract: what every order row looks like after ingest.

One home for the column names, their types and the line statuses, read by ingest (which
writes the contract), the feature engines (which read it) and the online path (which
builds it from posted orders). This module imports nothing from the project, so even the
params models (:mod:`config.data`) may use it.
"""

from __future__ import annotations

from typing import Literal

Status = Literal["completed", "returned", "cancelled"]
STATUSES: tuple[str, ...] = ("completed", "returned", "cancelled")

# Canonical column -> logical type (Ibis type names), always present after ingest.
REQUIRED_COLUMNS: dict[str, str] = {
    "customer_id": "string",
    "order_id": "string",
    "order_ts": "timestamp",
    "amount": "float64",
    "status": "string",
}
# Present only when the source maps them; features that need them are left out otherwise.
OPTIONAL_COLUMNS: dict[str, str] = {
    "quantity": "float64",
    "product_id": "string",
    "category": "string",
    # the sales rep / account owner on the order line: passed to the worklist, never a
    # feature (features.owner reads it as of a cutoff)
    "owner": "string",
}
CANONICAL_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
