"""Typed params for the ``data`` section: where the export is and how it maps to canonical."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from config.base import Frozen
from ingest.schema import Status


class ColumnMap(Frozen):
    """Canonical column -> source column. ``None`` means the source lacks it."""

    customer_id: str
    order_id: str | None = None
    order_ts: str
    amount: str | None = None
    quantity: str | None = None
    unit_price: str | None = None
    product_id: str | None = None
    category: str | None = None
    status: str | None = None
    owner: str | None = None  # sales rep / account owner (alert routing, never a feature)

    @model_validator(mode="after")
    def _amount_derivable(self) -> ColumnMap:
        if self.amount is None and (self.quantity is None or self.unit_price is None):
            raise ValueError("map 'amount', or both 'quantity' and 'unit_price'")
        return self


class PrefixRule(Frozen):
    """A line is cancelled when ``column`` starts with ``prefix``."""

    column: str
    prefix: str = Field(min_length=1)


class StatusRules(Frozen):
    """How a line's status is read.

    Checked in this order: ``cancelled_prefix`` (-> cancelled); the mapped ``status``
    column through ``value_map`` (keys compared trimmed and case-insensitively; the
    canonical names themselves always map to themselves; ``""`` stands for a blank
    cell; a value with no mapping quarantines the line as ``unknown_status``); then a
    negative quantity (a negative amount when quantity is unmapped) -> returned;
    otherwise completed. A ``returned``/``cancelled`` value from the map wins over the
    sign, a ``completed`` one does not: ERPs often mark a finished refund "Completed".
    """

    cancelled_prefix: PrefixRule | None = None
    value_map: dict[str, Status] = Field(default_factory=dict)
    negative_quantity_is_return: bool = True

    @field_validator("value_map")
    @classmethod
    def _normalised_keys(cls, value: dict[str, Status]) -> dict[str, Status]:
        normalised: dict[str, Status] = {}
        for key, status in value.items():
            norm = key.strip().lower()
            if normalised.get(norm, status) != status:
                raise ValueError(f"value_map key {key!r} maps two ways once case is ignored")
            normalised[norm] = status
        return normalised


class NonProductCodes(Frozen):
    """Lines whose ``column`` is one of ``codes`` or matches ``regex`` are not products.

    Fees, postage, manual adjustments: they are quarantined as ``non_product_code``.
    ``regex`` is RE2 syntax and searched (anchor it with ``^...$`` for a full match).
    """

    column: str | None = None
    codes: tuple[str, ...] = ()
    regex: str | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"regex does not compile: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _column_when_rules(self) -> NonProductCodes:
        if (self.codes or self.regex) and self.column is None:
            raise ValueError("set 'column' when 'codes' or 'regex' is given")
        return self


class Lookup(Frozen):
    """Columns joined onto every export line from a second table (e.g. a product master).

    The lookup must have one row per key; a line whose key is missing from it gets
    nulls. Keys are compared as trimmed text (integral floats without ``.0``).
    """

    source: str
    key: str  # the export column holding the key ("on" would read as true in YAML)
    lookup_key: str | None = None  # the lookup's key column; default: same name as key
    columns: tuple[str, ...] = Field(min_length=1)


class DatabaseSource(Frozen):
    """A SQL query on a database instead of a file (ingest/database.py).

    The URL comes from the environment variable ``url_env`` (credentials never live in
    params); ``url`` is accepted only without a password (e.g. a SQLite file, or
    PostgreSQL with ``PGPASSWORD`` in the environment).
    """

    url_env: str | None = Field(default=None, min_length=1)
    url: str | None = Field(default=None, min_length=1)
    query: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_url_without_secret(self) -> DatabaseSource:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("set exactly one of 'url_env' (recommended) and 'url'")
        if self.url is not None and urlsplit(self.url).password is not None:
            raise ValueError(
                "url holds a password: put the URL in an environment variable and name it "
                "with 'url_env'"
            )
        return self


class DataParams(Frozen):
    """The ``data`` section: where the export is and how it maps to canonical."""

    source: str | DatabaseSource  # a file path or glob, or a SQL query on a database
    format: Literal["auto", "csv", "parquet"] = "auto"
    csv_delimiter: str = Field(default=",", min_length=1, max_length=1)
    csv_quote: str = Field(default='"', min_length=1, max_length=1)
    csv_escape: str = Field(default='"', min_length=1, max_length=1)
    csv_encoding: Literal["utf-8", "utf-16", "latin-1", "gbk", "gb18030"] = "utf-8"
    csv_header: bool = True
    csv_max_record_lines: int = Field(default=100, ge=1)
    decimal_separator: Literal[".", ","] = "."
    columns: ColumnMap
    lookups: tuple[Lookup, ...] = ()
    date_format: str | None = None
    status: StatusRules = StatusRules()
    non_product_codes: NonProductCodes = NonProductCodes()
    data_end: str | None = None
    min_date: str = "1990-01-01"
    future_tolerance_days: int = Field(default=1, ge=0)
    max_abs_amount: float = Field(default=1e9, gt=0)
    max_quarantine_share: float = Field(default=0.35, ge=0.0, le=1.0)
    memory_limit: str = "1GB"
    # ISO 4217 code of the amounts, shown in reason sentences ("Spent £312"); None: none.
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")

    @field_validator("date_format")
    @classmethod
    def _has_directive(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value:
            raise ValueError(f"date_format {value!r} has no strptime directive such as %Y")
        return value

    @field_validator("data_end", "min_date")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                datetime.fromisoformat(value)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not an ISO date or datetime") from exc
        return value

    @model_validator(mode="after")
    def _csv_dialect(self) -> DataParams:
        if self.csv_quote == self.csv_delimiter:
            raise ValueError("csv_quote and csv_delimiter must differ")
        if self.csv_delimiter in "\r\n" or self.csv_quote in "\r\n":
            raise ValueError("csv_delimiter and csv_quote cannot be a line break")
        return self
