"""Churn features: catalog, as-of-date features and labels, batch and online.

``build_online`` is loaded lazily so that importing the light modules (e.g.
``features.catalog``) does not pull in Ibis and DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from features.online import build_online

__all__ = ["build_online"]


def __getattr__(name: str) -> Any:
    if name == "build_online":
        from features.online import build_online

        return build_online
    raise AttributeError(f"module 'features' has no attribute {name!r}")
