"""The canonical signal tables: tickets, interactions, contracts, invoices, usage.

One home for each table's canonical columns and their types (Ibis type names), read by
the params models (which columns may be mapped), ingest (which writes them) and the
feature expressions (which read them). Like :mod:`ingest.schema`, this module imports
nothing from the project.

Source-specific readings happen at ingest, so the feature code needs no params:
``is_complaint`` comes from ``tickets.type`` through ``complaint_types``,
``inbound`` from ``interactions.direction`` through ``inbound_values`` and
``auto_renew`` from the source's yes/no cell.
"""

from __future__ import annotations

SIGNAL_TABLES: tuple[str, ...] = ("tickets", "interactions", "contracts", "invoices", "usage")

#: Source columns a company maps, per table: canonical name -> kind, and which are required.
MAPPABLE: dict[str, dict[str, str]] = {
    "tickets": {
        "customer_id": "id",
        "opened_at": "ts",
        "closed_at": "ts?",
        "type": "text?",
        "severity": "text?",
        "satisfaction": "number?",
    },
    "interactions": {
        "customer_id": "id",
        "ts": "ts",
        "channel": "text?",
        "direction": "text",
        "responded_at": "ts?",
    },
    "contracts": {
        "customer_id": "id",
        "start_at": "ts",
        "end_at": "ts",
        "value": "number?",
        "auto_renew": "bool?",
        "cancelled_at": "ts?",
    },
    "invoices": {
        "customer_id": "id",
        "issued_at": "ts",
        "due_at": "ts",
        "paid_at": "ts?",
        "amount": "number",
    },
    "usage": {
        "customer_id": "id",
        "ts": "ts",
        "event": "text",
        "quantity": "number?",
    },
}

#: Canonical columns written by ingest (Ibis type names), per table.
SIGNAL_COLUMNS: dict[str, dict[str, str]] = {
    "tickets": {
        "customer_id": "string",
        "opened_at": "timestamp",
        "closed_at": "timestamp",
        "type": "string",
        "severity": "string",
        "satisfaction": "float64",
        "is_complaint": "boolean",
    },
    "interactions": {
        "customer_id": "string",
        "ts": "timestamp",
        "channel": "string",
        "inbound": "boolean",
        "responded_at": "timestamp",
    },
    "contracts": {
        "customer_id": "string",
        "start_at": "timestamp",
        "end_at": "timestamp",
        "value": "float64",
        "auto_renew": "boolean",
        "cancelled_at": "timestamp",
    },
    "invoices": {
        "customer_id": "string",
        "issued_at": "timestamp",
        "due_at": "timestamp",
        "paid_at": "timestamp",
        "amount": "float64",
    },
    "usage": {
        "customer_id": "string",
        "ts": "timestamp",
        "event": "string",
        "quantity": "float64",
    },
}

#: Pairs that must be in order when both are present: (table, earlier, later).
ORDERED_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("tickets", "opened_at", "closed_at"),
    ("interactions", "ts", "responded_at"),
    ("contracts", "start_at", "end_at"),
    ("invoices", "issued_at", "due_at"),
)

#: Quarantine reasons of signal rows, in the order they are checked.
SIGNAL_REASONS: tuple[str, ...] = (
    "malformed_line",
    "missing_customer_id",
    "missing_value",
    "bad_timestamp",
    "implausible_timestamp",
    "bad_number",
    "bad_boolean",
    "time_order",
)


def marker(table: str) -> str:
    """The column-set marker of a present signal table (catalog ``requires``)."""
    return f"signal:{table}"


def required(table: str) -> list[str]:
    """Canonical columns a mapping of ``table`` must name."""
    return [c for c, kind in MAPPABLE[table].items() if not kind.endswith("?")]
