"""Typed params for the ``signals`` section: optional tables beside the orders (ingest/signals.py).

Each table is read like the orders (a file path or glob in CSV/Parquet with the same
``data.csv_*`` dialect, or a SQL query on a database) and mapped canonical column ->
source column. A company maps the tables it has; features of a missing table are
omitted and reported.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from config.base import Frozen
from config.data import DatabaseSource
from ingest.signal_schema import MAPPABLE, required


def _norm(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip().lower() for v in values)


class SignalTable(Frozen):
    """One signal table: where it is and how its columns map to canonical."""

    source: str | DatabaseSource
    format: Literal["auto", "csv", "parquet"] = "auto"
    columns: dict[str, str]
    date_format: str | None = None
    max_quarantine_share: float = Field(default=0.35, ge=0.0, le=1.0)

    def check_columns(self, table: str) -> None:
        """Every required canonical column mapped, no unknown canonical name."""
        unknown = sorted(set(self.columns) - set(MAPPABLE[table]))
        if unknown:
            raise ValueError(
                f"unknown canonical column(s) {unknown}; {table} has {list(MAPPABLE[table])}"
            )
        missing = [c for c in required(table) if c not in self.columns]
        if missing:
            raise ValueError(f"map required column(s) {missing}")


class TicketsTable(SignalTable):
    """Tickets: complaints and service requests."""

    # ``type`` values (trimmed, case-insensitive) that make a ticket a complaint.
    complaint_types: tuple[str, ...] = ("complaint",)

    @field_validator("complaint_types")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _norm(value)

    @model_validator(mode="after")
    def _mapped(self) -> TicketsTable:
        self.check_columns("tickets")
        return self


class InteractionsTable(SignalTable):
    """Interactions: calls, visits, messages, emails."""

    # ``direction`` values (trimmed, case-insensitive) meaning "the customer contacted us".
    inbound_values: tuple[str, ...] = ("inbound", "in")
    outbound_values: tuple[str, ...] = ("outbound", "out")

    @field_validator("inbound_values", "outbound_values")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _norm(value)

    @model_validator(mode="after")
    def _mapped(self) -> InteractionsTable:
        self.check_columns("interactions")
        return self


class ContractsTable(SignalTable):
    """Contracts: start, end, value, auto-renewal, cancellation."""

    true_values: tuple[str, ...] = ("true", "yes", "y", "1", "t")
    false_values: tuple[str, ...] = ("false", "no", "n", "0", "f")

    @field_validator("true_values", "false_values")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _norm(value)

    @model_validator(mode="after")
    def _mapped(self) -> ContractsTable:
        self.check_columns("contracts")
        return self


class InvoicesTable(SignalTable):
    """Invoices: issued, due, paid, amount."""

    @model_validator(mode="after")
    def _mapped(self) -> InvoicesTable:
        self.check_columns("invoices")
        return self


class UsageTable(SignalTable):
    """Usage events: logins, feature use, seats."""

    @model_validator(mode="after")
    def _mapped(self) -> UsageTable:
        self.check_columns("usage")
        return self


class SignalsParams(Frozen):
    """The ``signals`` section: the signal tables a company has (each optional)."""

    tickets: TicketsTable | None = None
    interactions: InteractionsTable | None = None
    contracts: ContractsTable | None = None
    invoices: InvoicesTable | None = None
    usage: UsageTable | None = None

    def present(self) -> dict[str, SignalTable]:
        """The mapped tables, by name, in :data:`ingest.signal_schema.SIGNAL_TABLES` order."""
        tables = {
            "tickets": self.tickets,
            "interactions": self.interactions,
            "contracts": self.contracts,
            "invoices": self.invoices,
            "usage": self.usage,
        }
        return {k: v for k, v in tables.items() if v is not None}
