"""Read a table from a database: a SQL query streamed in Arrow batches to a Parquet file.

``data.source`` may be ``{url_env: NAME, query: "select ..."}`` (or ``url:`` without a
password) instead of a file. The query result is streamed batch by batch into a
Parquet file in the ingest stage's temporary directory, so a table larger than memory is
fine, and from there ingest is exactly the Parquet path: same checks, same quarantine,
rows in = clean + quarantined.

Drivers are ADBC (Arrow-native, binaries shipped in their wheels): PostgreSQL through
libpq (``postgresql://``; libpq also reads ``PGPASSWORD``/``PGHOST``/... from the
environment) and SQLite as the embedded case (``sqlite:///path/to/file.db``).
Credentials never come from params: the URL is read from the environment variable named
by ``url_env``, and a ``url:`` written in params with a password is refused.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.parquet as pq

from config.data import DatabaseSource
from ingest.source import IngestError

logger = logging.getLogger(__name__)
SCHEMES = ("postgresql", "postgres", "sqlite")


def resolve_url(source: DatabaseSource, env: Mapping[str, str]) -> str:
    """The database URL: from the environment (``url_env``) or from params (``url``)."""
    if source.url_env is not None:
        url = env.get(source.url_env)
        if not url:
            raise IngestError(
                f"data.source.url_env: environment variable {source.url_env} is not set "
                "(it must hold the database URL)"
            )
        return url
    assert source.url is not None  # the params model requires one of the two
    return source.url


def redacted(url: str) -> str:
    """``url`` without user information, for logs and reports."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _connect(url: str) -> Any:
    scheme = urlsplit(url).scheme.split("+")[0]
    if scheme not in SCHEMES:
        raise IngestError(f"data.source: unsupported database URL scheme {scheme!r}; use {SCHEMES}")
    try:
        if scheme == "sqlite":
            import adbc_driver_sqlite.dbapi as sqlite

            path = url.split("sqlite:///", 1)[-1] if url.startswith("sqlite:///") else ""
            if not path or not Path(path).is_file():
                raise IngestError(f"data.source: SQLite database {path!r} does not exist")
            return sqlite.connect(path)
        import adbc_driver_postgresql.dbapi as postgresql

        # libpq takes postgresql://; accept SQLAlchemy-style driver suffixes too
        return postgresql.connect("postgresql" + url[url.index("://") :])
    except IngestError:
        raise
    except Exception as exc:  # driver errors carry the server's message
        raise IngestError(f"data.source: cannot connect to {redacted(url)}: {exc}") from exc


def materialise(source: DatabaseSource, out: Path, env: Mapping[str, str] | None = None) -> int:
    """Run ``source.query`` and stream its rows into the Parquet file ``out``; row count."""
    url = resolve_url(source, os.environ if env is None else env)
    rows = 0
    con = _connect(url)
    try:
        cur = con.cursor()
        try:
            cur.execute(source.query)
            reader = cur.fetch_record_batch()
            with pq.ParquetWriter(out, reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
                    rows += batch.num_rows
        except Exception as exc:
            raise IngestError(
                f"data.source.query failed on {redacted(url)}: {str(exc).splitlines()[0]}"
            ) from exc
        finally:
            cur.close()
    finally:
        con.close()
    logger.info("read %d rows from %s into %s", rows, redacted(url), out.name)
    return rows
