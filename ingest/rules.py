"""The verdict SQL: parse a source relation, derive status and amount, pick a reason.

:func:`classified_sql` stacks four projections over a relation that has the source
columns plus ``FILE_COL``/``ROW_COL`` (see :mod:`ingest.source`):

1. parse every mapped column (``__c_*``),
2. derive the unsigned line amount,
3. read the status,
4. choose the first quarantine reason and sign amount/quantity.

Nothing is filtered here, so every input line comes out exactly once: the clean and
quarantine outputs are two complementary filters of the same relation.
"""

from __future__ import annotations

from datetime import datetime

from config.data import DataParams
from ingest.csvread import LINE_COL, MALFORMED_COL, RAW_COL
from ingest.schema import OPTIONAL_COLUMNS
from ingest.source import FILE_COL, ROW_COL, ident, literal
from ingest.sql import (
    Rule,
    blank_expr,
    customer_expr,
    data_end_condition,
    implausible_ts_condition,
    mapped_status_expr,
    non_product_expr,
    number_expr,
    row_key,
    text_expr,
    timestamp_expr,
)

DUPLICATE_COLUMN = "*"
QUARANTINE_EXTRA = (
    "reason",
    "reason_column",
    "source_file",
    "source_row",
    "source_line",
    "raw_line",
    "problem",
)
_NULL_TEXT = "CAST(NULL AS VARCHAR)"
_NULL_NUMBER = "CAST(NULL AS DOUBLE)"
# Python's datetime range: a year-99999 text parses in DuckDB but is no real date.
_MIN_TS = "TIMESTAMP '0001-01-01 00:00:00'"
_MAX_TS = "TIMESTAMP '9999-12-31 23:59:59.999999'"


def _parsed_fields(params: DataParams, dtypes: dict[str, str]) -> dict[str, str]:
    """Step 1: one parse expression per mapped column (NULL when unmapped)."""
    m = params.columns

    def num(col: str | None) -> str:
        return number_expr(col, dtypes[col], params.decimal_separator) if col else _NULL_NUMBER

    def text(col: str | None) -> str:
        return text_expr(col, dtypes[col]) if col else _NULL_TEXT

    prefix = params.status.cancelled_prefix
    return {
        "__c_customer_id": customer_expr(m.customer_id, dtypes[m.customer_id]),
        "__c_order_id_src": text(m.order_id),
        "__c_order_ts": timestamp_expr(m.order_ts, dtypes[m.order_ts], params.date_format),
        "__c_q": num(m.quantity),
        "__c_p": num(m.unit_price),
        "__c_a": num(m.amount),
        "__c_a_blank": blank_expr(m.amount, dtypes[m.amount]) if m.amount else "true",
        "__c_product_id": text(m.product_id),
        "__c_category": text(m.category),
        "__c_owner": text(m.owner),
        "__c_prefix": (
            f"coalesce(starts_with(CAST({ident(prefix.column)} AS VARCHAR), "
            f"{literal(prefix.prefix)}), false)"
            if prefix
            else "false"
        ),
        "__c_mapped": (
            mapped_status_expr(m.status, params.status.value_map) if m.status else _NULL_TEXT
        ),
        "__c_fee": non_product_expr(params),
    }


def _amount_expr(params: DataParams) -> str:
    """Step 2: the amount column, or quantity x unit_price when unmapped or blank."""
    m = params.columns
    derived = "__c_q * __c_p" if m.quantity and m.unit_price else None
    if m.amount is None:
        return derived or _NULL_NUMBER
    if derived is None:
        return "__c_a"
    return f"CASE WHEN __c_a_blank THEN {derived} ELSE __c_a END"


def _status_expr(params: DataParams) -> str:
    """Step 3: cancelled prefix, mapped returned/cancelled, negative sign, else completed."""
    m = params.columns
    whens = ["WHEN __c_prefix THEN 'cancelled'"]
    if m.status:
        whens.append("WHEN __c_mapped IS NULL THEN NULL")
        whens.append("WHEN __c_mapped IN ('returned', 'cancelled') THEN __c_mapped")
    if params.status.negative_quantity_is_return:
        negative = "__c_q < 0" if m.quantity else "__c_amount_raw < 0"
        whens.append(f"WHEN {negative} THEN 'returned'")
    return f"CASE {' '.join(whens)} ELSE 'completed' END"


def rules(params: DataParams, now: datetime | None = None) -> list[Rule]:
    """Every applicable check, in the documented order of :data:`REASONS`.

    ``now`` (naive UTC, default: the current time) bounds plausible timestamps when
    ``data_end`` is unset.
    """
    m = params.columns
    amount_col = m.amount or m.quantity or ""
    ts_range = f"NOT (__c_order_ts BETWEEN {_MIN_TS} AND {_MAX_TS})"
    implausible = implausible_ts_condition(params, now)
    out = [
        Rule("missing_customer_id", "customer", "__c_customer_id IS NULL", m.customer_id),
        Rule("bad_timestamp", "timestamp", f"(__c_order_ts IS NULL OR {ts_range})", m.order_ts),
        Rule("implausible_timestamp", "plausible_ts", implausible, m.order_ts),
    ]
    for check, var, col in (
        ("quantity", "__c_q", m.quantity),
        ("unit_price", "__c_p", m.unit_price),
    ):
        if col:
            out.append(Rule("bad_number", check, f"({var} IS NULL OR NOT isfinite({var}))", col))
    bad_amount = "(__c_amount_raw IS NULL OR NOT isfinite(__c_amount_raw))"
    out.append(Rule("bad_number", "amount", bad_amount, amount_col))
    too_big = f"abs(__c_amount_raw) > {params.max_abs_amount!r}"
    out.append(Rule("implausible_amount", "plausible_amount", too_big, amount_col))
    if m.status:
        out.append(Rule("unknown_status", "status", "__c_status IS NULL", m.status))
    sale = "__c_status = 'completed'"
    if m.unit_price:
        out.append(Rule("nonpositive_price", "price_sign", f"{sale} AND __c_p <= 0", m.unit_price))
    out.append(
        Rule("nonpositive_price", "amount_sign", f"{sale} AND __c_amount_raw <= 0", amount_col)
    )
    out.append(Rule("duplicate_line", "duplicate", "__c_dup", DUPLICATE_COLUMN))
    fee_col = params.non_product_codes.column or ""
    out.append(Rule("non_product_code", "non_product", "__c_fee", fee_col))
    after_end = data_end_condition(params.data_end)
    if after_end:
        out.append(Rule("after_data_end", "after_end", after_end, m.order_ts))
    return out


def _case(pairs: list[tuple[str, str]]) -> str:
    return "CASE " + " ".join(f"WHEN {cond} THEN {literal(val)}" for cond, val in pairs) + " END"


def classified_sql(
    params: DataParams,
    dtypes: dict[str, str],
    relation: str,
    duplicate_keys: str | None,
    *,
    malformed: bool = False,
    now: datetime | None = None,
) -> str:
    """Every line of ``relation`` with its canonical values and verdict (``__c_reason``).

    ``duplicate_keys`` names a relation with one column ``k`` holding the
    :func:`~ingest.sql.row_key` of every repeated copy of a line (first copy
    excluded); ``None`` means the input has no duplicate lines. ``malformed``: the
    relation has :data:`~ingest.csvread.MALFORMED_COL` (CSV), whose flagged lines
    are quarantined first, as ``malformed_line``.
    """
    fields = _parsed_fields(params, dtypes)
    fields["__c_dup"] = (
        f"{row_key()} IN (SELECT k FROM {duplicate_keys})" if duplicate_keys else "false"
    )
    parsed = ", ".join(f"{expr} AS {name}" for name, expr in fields.items())
    checks = rules(params, now)
    if malformed:
        flagged = f"{MALFORMED_COL} IS NOT NULL"
        checks.insert(0, Rule("malformed_line", "malformed", flagged, DUPLICATE_COLUMN))
    verdict = _case([(r.condition, r.reason) for r in checks])
    blamed = _case([(r.condition, r.column) for r in checks])
    signed = "CASE WHEN __c_status = 'completed' THEN {0} ELSE -abs({0}) END"
    synthetic_id = "__c_customer_id || '@' || strftime(__c_order_ts, '%Y-%m-%dT%H:%M:%S')"
    return f"""
SELECT *, {verdict} AS __c_reason, {blamed} AS __c_reason_column,
       {signed.format("__c_amount_raw")} AS __c_amount,
       {signed.format("__c_q")} AS __c_quantity,
       coalesce(__c_order_id_src, {synthetic_id}) AS __c_order_id
FROM (SELECT *, {_status_expr(params)} AS __c_status
      FROM (SELECT *, {_amount_expr(params)} AS __c_amount_raw
            FROM (SELECT *, {parsed} FROM {relation})))
"""


def canonical_columns(params: DataParams) -> list[str]:
    """Canonical output columns: the five required, then optional ones the source maps."""
    m = params.columns
    optional = [c for c in OPTIONAL_COLUMNS if getattr(m, c)]
    return ["customer_id", "order_id", "order_ts", "amount", "status", *optional]


def clean_sql(params: DataParams, classified: str) -> str:
    """Clean lines in canonical form (source order kept)."""
    cols = ", ".join(f"__c_{c} AS {c}" for c in canonical_columns(params))
    return f"SELECT {cols} FROM {classified} WHERE __c_reason IS NULL"


def quarantine_names(source_columns: list[str]) -> dict[str, str]:
    """Names of the quarantine bookkeeping columns, underscored if the source has them."""
    taken = {c.lower() for c in source_columns}
    names = {}
    for base in QUARANTINE_EXTRA:
        name = base
        while name.lower() in taken:
            name = "_" + name
        names[base] = name
    return names


def quarantine_sql(
    source_columns: list[str], files: tuple[str, ...], classified: str, *, csv: bool = False
) -> str:
    """Quarantined lines: the original source columns plus reason and location.

    For CSV also ``source_line`` (physical line in the file, header = line 1) and, for
    a malformed line, ``raw_line`` (its text) and ``problem`` (why it did not parse).
    """
    names = quarantine_names(source_columns)
    original = ", ".join(ident(c) for c in source_columns)
    file_list = "[" + ", ".join(literal(f) for f in files) + "]"
    extra = ""
    if csv:
        extra = (
            f", {LINE_COL} AS {ident(names['source_line'])}, "
            f"{RAW_COL} AS {ident(names['raw_line'])}, "
            f"{MALFORMED_COL} AS {ident(names['problem'])}"
        )
    return (
        f"SELECT {original}, __c_reason AS {ident(names['reason'])}, "
        f"__c_reason_column AS {ident(names['reason_column'])}, "
        f"{file_list}[{FILE_COL} + 1] AS {ident(names['source_file'])}, "
        f"{ROW_COL} AS {ident(names['source_row'])}{extra} "
        f"FROM {classified} WHERE __c_reason IS NOT NULL"
    )


def duplicate_hashes_sql(relation: str, source_columns: list[str]) -> str:
    """Hashes shared by two or more lines: a cheap superset of the duplicated lines."""
    cols = ", ".join(ident(c) for c in source_columns)
    return f"SELECT hash({cols}) AS h FROM {relation} GROUP BY h HAVING count(*) > 1"


def duplicate_keys_sql(relation: str, source_columns: list[str], hashes: str | None) -> str:
    """Row keys of every exact repeat of an earlier line (compared on all columns).

    With ``hashes`` only lines whose hash is shared are compared exactly, which keeps
    the window small; the comparison itself is exact, so a hash collision costs time,
    never a wrong verdict.
    """
    cols = ", ".join(ident(c) for c in source_columns)
    where = f"WHERE hash({cols}) IN (SELECT h FROM {hashes})" if hashes else ""
    return f"""
SELECT k FROM (
  SELECT {row_key()} AS k,
         row_number() OVER (PARTITION BY {cols} ORDER BY {FILE_COL}, {ROW_COL}) AS n
  FROM {relation} {where})
WHERE n > 1
"""
