"""API-key checks for ``/v1`` routes: 401 without a key, 403 with a wrong one.

Keys are compared as SHA-256 digests with :func:`hmac.compare_digest` against *every*
configured key (no early exit), so neither the key's content nor its length leaks
through timing. Keys are never logged or echoed in error bodies.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from serving.service import ServiceError

API_KEY_HEADER = "X-API-Key"


class MissingApiKey(ServiceError):
    status, code = 401, "missing_api_key"


class InvalidApiKey(ServiceError):
    status, code = 403, "invalid_api_key"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


@dataclass(frozen=True)
class KeyChecker:
    """Holds digests of the accepted keys (client keys and the admin key)."""

    client_digests: tuple[bytes, ...]
    admin_digest: bytes | None

    @classmethod
    def from_keys(cls, client_keys: Iterable[str], admin_key: str | None) -> KeyChecker:
        digests = tuple(_digest(k) for k in client_keys)
        return cls(digests, _digest(admin_key) if admin_key else None)

    def check_client(self, presented: str | None) -> None:
        """Accept any client key (the admin key works for client routes too)."""
        candidate = self._presented(presented)
        allowed = (*self.client_digests, *((self.admin_digest,) if self.admin_digest else ()))
        if not _matches_any(candidate, allowed):
            raise InvalidApiKey("the API key is not valid")

    def check_admin(self, presented: str | None) -> None:
        """Accept only the admin key; no admin key configured means no admin access."""
        candidate = self._presented(presented)
        allowed = (self.admin_digest,) if self.admin_digest else ()
        if not _matches_any(candidate, allowed):
            raise InvalidApiKey("this route needs the admin key")

    @staticmethod
    def _presented(presented: str | None) -> bytes:
        if not presented:
            raise MissingApiKey(f"send your API key in the {API_KEY_HEADER} header")
        return _digest(presented)


def _matches_any(candidate: bytes, allowed: tuple[bytes, ...]) -> bool:
    """Constant-time membership: compares with every key, never stops early."""
    found = False
    for digest in allowed:
        found |= hmac.compare_digest(candidate, digest)
    return found
