"""Read a CSV export record by record so that no physical line can be lost.

DuckDB's CSV reader sniffs the dialect: it took a ``#`` at the start of a cell for a
comment character and dropped the line before anything counted it, and a malformed
line stopped the whole read. Here the dialect comes from params only (delimiter,
quote, escape, encoding, header; there is no comment character), every line is
decoded and parsed by Python's :mod:`csv`, and a line that does not parse into a
record with the header's number of fields becomes a *malformed* row: all source
columns NULL, the raw text and why kept in :data:`RAW_COL`/:data:`MALFORMED_COL`, so
the quarantine rule ``malformed_line`` picks it up like any other bad line.

Physical lines are counted a second time, independently of the parser
(:func:`count_lines`), and :func:`read_csv_file` checks that the records it emits
cover every line after the header exactly once.
"""

from __future__ import annotations

import codecs
import csv
import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

import pyarrow as pa

from config.data import DataParams

FILE_COL = "__ingest_file"
ROW_COL = "__ingest_row"
MALFORMED_COL = "__ingest_malformed"
RAW_COL = "__ingest_raw"
LINE_COL = "__ingest_line"
_CHUNK = 1 << 20
_BATCH_ROWS = 50_000
# Encodings where byte 0x0A is always a line feed (never part of a multi-byte char):
# lines can be split on bytes and each decoded alone, so a decode error names its line.
_BYTE_SPLIT = {"utf-8", "latin-1", "gbk", "gb18030"}


class CsvReadError(RuntimeError):
    """The file cannot be read with the declared dialect (the message names the line)."""


class _TooLong(Exception):
    """A quoted field ran over ``data.csv_max_record_lines`` lines."""


@dataclass
class CsvResult:
    """What one file held: header, physical lines and records (good + malformed)."""

    columns: list[str]
    lines: int
    records: int = 0
    malformed: int = 0


def _reader(lines: Iterator[str], params: DataParams) -> Iterator[list[str]]:
    """A strict :func:`csv.reader` with the params' dialect, nothing sniffed."""
    same = params.csv_escape == params.csv_quote
    return csv.reader(
        lines,
        delimiter=params.csv_delimiter,
        quotechar=params.csv_quote,
        doublequote=same,
        escapechar=None if same else params.csv_escape,
        strict=True,
        skipinitialspace=False,
    )


def _open(path: Path) -> IO[bytes]:
    """The file's bytes, gunzipped for a ``.gz`` name."""
    if path.name.lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _decoded_lines(path: Path, encoding: str) -> Iterator[str]:
    """The file's lines (split on ``\\n`` only, terminators kept), BOM removed."""
    if encoding in _BYTE_SPLIT:
        codec = "utf-8-sig" if encoding == "utf-8" else encoding
        with _open(path) as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    text = raw.decode(codec if number == 1 else encoding)
                except UnicodeDecodeError as exc:
                    bad = raw[exc.start : exc.end + 3]
                    raise CsvReadError(
                        f"{path}: line {number} is not valid {encoding} (bytes {bad!r} at "
                        f"column {exc.start + 1}); set data.csv_encoding to the file's encoding"
                    ) from None
                yield text.lstrip("\ufeff") if number == 1 else text
        return
    try:
        with _open(path) as handle:
            text = handle.read().decode(encoding)
    except UnicodeDecodeError as exc:
        raise CsvReadError(
            f"{path}: not valid {encoding} at byte {exc.start}; set data.csv_encoding"
        ) from None
    yield from _split(text.lstrip("\ufeff"))


def _split(text: str) -> Iterator[str]:
    """``text`` cut after every ``\\n`` (unlike ``splitlines``, no other separator)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def count_lines(path: Path, encoding: str) -> int:
    """Physical lines in the file: line feeds, plus one for an unterminated last line.

    Counted on raw chunks, without the CSV parser, so the two counts check each other.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    count, last = 0, ""
    with _open(path) as handle:
        while chunk := handle.read(_CHUNK):
            text = decoder.decode(chunk)
            count += text.count("\n")
            last = text[-1:] or last
        tail = decoder.decode(b"", final=True)
        count += tail.count("\n")
        last = tail[-1:] or last
    return count + (1 if last and last != "\n" else 0)


def header_names(fields: list[str]) -> list[str]:
    """Column names as DuckDB would give them: blank -> ``column<i>``, repeats suffixed."""
    names: list[str] = []
    for i, field in enumerate(fields):
        name = field.strip() or f"column{i}"
        base, k = name, 1
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names


class _Parser:
    """Walks the lines, yielding ``(first_line, line_count, fields | None, why, raw)``."""

    def __init__(self, lines: list[str], params: DataParams, width: int, first: int) -> None:
        self.lines, self.params, self.width, self.first = lines, params, width, first
        self.max_lines = params.csv_max_record_lines

    def _source(self, start: int, state: dict[str, int]) -> Iterator[str]:
        for i in range(start, len(self.lines)):
            state["pos"] = i
            if i - state["record_start"] >= self.max_lines:
                raise _TooLong
            yield self.lines[i]

    def records(self) -> Iterator[tuple[int, int, list[str] | None, str | None]]:
        """``(first line, lines spanned, fields or None, why malformed)``; no line skipped.

        A record whose quoted field spans lines but does not parse (an unbalanced
        quote) costs only its first line: that line is malformed, parsing resumes on
        the next one.
        """
        start = self.first
        while start < len(self.lines):
            state = {"pos": start, "record_start": start}
            reader = _reader(self._source(start, state), self.params)
            begin = start
            while True:
                state["record_start"] = begin
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except (csv.Error, _TooLong) as exc:
                    why = "quoted field too long" if isinstance(exc, _TooLong) else str(exc)
                    yield begin, 1, None, f"unparsable ({why})"
                    start = begin + 1
                    break
                end = state["pos"]
                problem = self._problem(fields)
                if problem is None:
                    yield begin, end - begin + 1, fields, None
                elif end == begin:
                    yield begin, 1, None, problem
                else:  # a multi-line record that does not fit: only its first line is bad
                    yield begin, 1, None, problem
                    start = begin + 1
                    break
                begin = end + 1
            else:  # pragma: no cover - the inner loop always breaks or returns
                return

    def _problem(self, fields: list[str]) -> str | None:
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            return "blank line"
        if len(fields) != self.width:
            return f"{len(fields)} fields, the header has {self.width}"
        return None


def _header(lines: list[str], params: DataParams, path: Path) -> tuple[list[str], int]:
    """Column names and the index of the first data line."""
    state = {"pos": 0, "record_start": 0}
    parser = _Parser(lines, params, 0, 0)
    try:
        first = next(_reader(parser._source(0, state), params))
    except (csv.Error, _TooLong, StopIteration) as exc:
        raise CsvReadError(
            f"{path}: line 1 (the header) does not parse with data.csv_delimiter="
            f"{params.csv_delimiter!r}, csv_quote={params.csv_quote!r} ({exc or 'empty'})"
        ) from None
    if not params.csv_header:
        return [f"column{i}" for i in range(len(first))], 0
    return header_names(first), state["pos"] + 1


def _batch(columns: list[str], rows: list[list[str | None]], meta: list[list[object]]) -> pa.Table:
    """One Arrow batch: text source columns (empty cell -> NULL) + bookkeeping."""
    data: dict[str, pa.Array] = {}
    for j, name in enumerate(columns):
        data[name] = pa.array([r[j] for r in rows], pa.string())
    for k, (name, kind) in enumerate(_META):
        data[name] = pa.array([m[k] for m in meta], kind)
    return pa.table(data)


_META = (
    (FILE_COL, pa.int64()),
    (ROW_COL, pa.int64()),
    (LINE_COL, pa.int64()),
    (MALFORMED_COL, pa.string()),
    (RAW_COL, pa.string()),
)


def read_csv_file(path: Path, index: int, params: DataParams) -> tuple[CsvResult, list[pa.Table]]:
    """Every record of one file as Arrow tables (malformed ones flagged), and the counts.

    Raises :class:`CsvReadError` when a line cannot be decoded, the header does not
    parse, or the records fail to cover the physical lines exactly once.
    """
    lines = list(_decoded_lines(path, params.csv_encoding))
    columns, first = _header(lines, params, path)
    result = CsvResult(columns=columns, lines=count_lines(path, params.csv_encoding))
    tables: list[pa.Table] = []
    rows: list[list[str | None]] = []
    meta: list[list[object]] = []
    empty: list[str | None] = [None] * len(columns)
    covered = first
    for begin, span, fields, why in _Parser(lines, params, len(columns), first).records():
        covered += span
        result.records += 1
        if fields is None:
            result.malformed += 1
            rows.append(empty)
            meta.append([index, result.records, begin + 1, why, lines[begin].rstrip("\r\n")])
        else:
            rows.append([f if f != "" else None for f in fields])
            meta.append([index, result.records, begin + 1, None, None])
        if len(rows) >= _BATCH_ROWS:
            tables.append(_batch(columns, rows, meta))
            rows, meta = [], []
    tables.append(_batch(columns, rows, meta))
    if covered != result.lines or len(lines) != result.lines:
        raise CsvReadError(
            f"{path}: {result.lines} physical lines but the records cover {covered}; "
            "please report this file"
        )
    return result, tables
