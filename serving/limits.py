"""Request body size limit as a pure ASGI middleware (413 ``body_too_large``).

A declared ``Content-Length`` above the limit is refused before the body is read; a
chunked body is counted while it streams and refused as soon as it crosses the limit,
so an oversized request never gets buffered whole.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import error_response
from serving.service import ServiceError


class BodyTooLarge(ServiceError):
    status, code = 413, "body_too_large"


class BodyLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            response = error_response(413, BodyTooLarge.code, self._message())
            await response(scope, receive, send)
            return
        seen, exceeded, answered = 0, False, False

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge(self._message())
            return message

        async def guarded_send(message: Message) -> None:
            # The framework turns an error raised while it reads the body into its own
            # "400 error parsing the body": once the limit was crossed, answer 413.
            nonlocal answered
            if not exceeded:
                await send(message)
            elif not answered:
                answered = True
                await error_response(413, BodyTooLarge.code, self._message())(scope, receive, send)

        await self.app(scope, counting_receive, guarded_send)

    def _message(self) -> str:
        return f"request body exceeds {self.max_bytes} bytes"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
