"""A shared file that tells every worker process to reload.

An admin reload reaches one uvicorn worker. That worker reloads, then touches the file;
the others poll its modification time (a cheap ``stat``) and reload when it changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path


class ReloadSignal:
    """Touch/poll a signal file; with no path configured it never fires."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._seen = self._stamp()

    def _stamp(self) -> int | None:
        if self.path is None or not self.path.exists():
            return None
        return self.path.stat().st_mtime_ns

    def touch(self) -> None:
        """Announce a reload (this process has already reloaded: it ignores its own touch)."""
        if self.path is None:
            return
        self.path.write_text(datetime.now(UTC).isoformat(), encoding="utf-8")
        self._seen = self._stamp()

    def pending(self) -> bool:
        """True once per touch made by another process since we last looked."""
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return False
        self._seen = stamp
        return True
