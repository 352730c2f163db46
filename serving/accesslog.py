"""Keep credentials out of the access log.

uvicorn logs every request line with its query string. A client that puts its API
key in the URL (``?api_key=...``) is refused (keys are read from the ``X-API-Key``
header only), but the line with the key would still reach the log. This filter
rewrites the logged path, replacing the value of every query parameter whose name
looks like a credential with ``***``.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, quote, urlencode

ACCESS_LOGGER = "uvicorn.access"
_SECRET_NAME = re.compile(r"key|token|secret|passw|auth|signature|credential", re.IGNORECASE)
REDACTED = "***"


def redact_path(path: str) -> str:
    """``path?query`` with credential-like parameter values replaced by ``***``."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(_SECRET_NAME.search(name) for name, _ in pairs):
        return path
    cleaned = [(n, REDACTED if _SECRET_NAME.search(n) else v) for n, v in pairs]
    return f"{base}?{urlencode(cleaned, safe='*', quote_via=quote)}"


class RedactQueryFilter(logging.Filter):
    """Redacts the request path of uvicorn access records (``args[2]``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def install_access_log_redaction() -> None:
    """Attach the filter to uvicorn's access logger once (idempotent)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactQueryFilter) for f in logger.filters):
        logger.addFilter(RedactQueryFilter())
