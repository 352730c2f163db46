"""Outcomes from a CRM spreadsheet: ``churn outcomes import FILE.csv``.

Columns (header row, UTF-8 with or without BOM, comma-separated): ``alert_id`` or
``customer_id`` (one of them per row), ``action``, ``contacted_at`` (ISO timestamp; UTC
when it has no zone), ``result`` (``retained | lost | no_answer | in_progress``),
optional ``note``. Every row is validated before anything is stored; a bad row is
reported as ``row N: field: message`` and nothing is imported. A row naming an unknown
alert stops the import there (the rows before it stay stored). Rows already stored (same
alert and ``contacted_at``) count as duplicates, so importing a file again is safe.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alerts.store import AlertStore, Outcome, StoreError

CSV_COLUMNS = ("alert_id", "customer_id", "action", "contacted_at", "result", "note")


class OutcomeRecord(BaseModel):
    """One outcome row, validated like ``POST /v1/outcomes``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    alert_id: str | None = Field(None, min_length=1, max_length=40)
    customer_id: str | None = Field(None, min_length=1, max_length=128)
    action: str = Field(min_length=1, max_length=500)
    contacted_at: datetime
    result: Literal["retained", "lost", "no_answer", "in_progress"]
    note: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _who(self) -> OutcomeRecord:
        if self.alert_id is None and self.customer_id is None:
            raise ValueError("alert_id or customer_id is required")
        return self

    def outcome(self) -> Outcome:
        return Outcome(
            action=self.action,
            contacted_at=self.contacted_at,
            result=self.result,
            alert_id=self.alert_id,
            customer_id=self.customer_id,
            note=self.note,
        )


class ImportError_(ValueError):
    """The file has bad rows; nothing was imported."""


@dataclass(frozen=True)
class ImportResult:
    created: int
    duplicates: int


def read_outcomes(path: Path) -> list[OutcomeRecord]:
    """Parse and validate every row; raise naming each bad row and field."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        unknown = sorted(set(reader.fieldnames or ()) - set(CSV_COLUMNS))
        if unknown:
            raise ImportError_(f"unknown columns {unknown}; use {list(CSV_COLUMNS)}")
        records, problems = [], []
        for n, raw in enumerate(reader, start=2):  # row 1 is the header
            values = {k: v for k, v in raw.items() if k and v not in (None, "")}
            try:
                records.append(OutcomeRecord.model_validate(values))
            except ValidationError as exc:
                for err in exc.errors():
                    field = ".".join(str(p) for p in err["loc"]) or "alert_id"
                    problems.append(f"row {n}: {field}: {err['msg']}")
    if problems:
        raise ImportError_("; ".join(problems))
    return records


def import_outcomes(store: AlertStore, path: Path) -> ImportResult:
    """Validate the whole file, then store each row (idempotent)."""
    records = read_outcomes(path)
    created = duplicates = 0
    for n, record in enumerate(records, start=2):
        try:
            _, new = store.record_outcome(record.outcome())
        except StoreError as exc:
            raise ImportError_(f"row {n}: {exc} ({created} rows before it were stored)") from exc
        created, duplicates = created + new, duplicates + (not new)
    return ImportResult(created=created, duplicates=duplicates)
