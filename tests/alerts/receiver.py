"""A local webhook receiver (127.0.0.1 only) that fails, times out and answers slowly.

It behaves like a careful real receiver: it checks the HMAC signature, processes a message
only once per ``Idempotency-Key``, and counts anything processed twice as a duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: behaviour of the n-th request (0-based) for one key -> (status, delay seconds, process?)
Plan = Callable[[str, int], tuple[int, float, bool]]


@dataclass
class Received:
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(plan: Plan, got: Received, secret: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            key = self.headers.get("Idempotency-Key", "")
            with got.lock:
                n = got.requests.get(key, 0)
                got.requests[key] = n + 1
            status, delay, process = plan(key, n)
            time.sleep(delay)
            stamp = self.headers.get("X-Churn-Timestamp", "")
            mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
            if self.headers.get("X-Churn-Signature") != "sha256=" + mac.hexdigest():
                with got.lock:
                    got.bad_signatures += 1
            if process:
                with got.lock:
                    if key in got.messages:
                        got.duplicates += 1
                    got.messages[key] = json.loads(body)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            except OSError:  # the client gave up (timeout)
                pass

    return Handler


@contextmanager
def receiver(plan: Plan, secret: str) -> Iterator[tuple[str, Received]]:
    """Serve on an ephemeral loopback port; yields (url, what was received)."""
    got = Received()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(plan, got, secret))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    finally:
        server.shutdown()
        server.server_close()
