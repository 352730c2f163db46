"""Errors the API can return, each with a stable ``error.code`` the CRM can branch on.

Every error body is ``{"error": {"code": ..., "message": ..., "details": [...]}}``. An
unexpected exception becomes ``500 internal_error`` with no stack trace in the body (the
trace goes to the server log only).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from serving.service import ServiceError

logger = logging.getLogger(__name__)

#: HTTP status -> error code used when Starlette/FastAPI raise a plain HTTPException.
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "missing_api_key",
    403: "invalid_api_key",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    503: "model_not_loaded",
}

#: Every code a client may see, with its HTTP status and meaning (docs/serving.md).
ERROR_CODES: dict[str, tuple[int, str]] = {
    "bad_request": (400, "The body is not parseable (e.g. invalid JSON)."),
    "missing_api_key": (401, "No X-API-Key header."),
    "invalid_api_key": (403, "The X-API-Key is not a valid key (or not the admin key)."),
    "not_found": (404, "No such route."),
    "customer_not_found": (404, "The customer is not in the loaded snapshot."),
    "alert_not_found": (
        404,
        "No alert with that alert_id (or no delivered alert for that customer).",
    ),
    "method_not_allowed": (405, "Wrong HTTP method for this route."),
    "body_too_large": (413, "Request body larger than CHURN_MAX_BODY_BYTES."),
    "batch_too_large": (413, "More ids than CHURN_MAX_BATCH_SIZE or orders than CHURN_MAX_ORDERS."),
    "validation_error": (422, "Request parameters or body do not match the schema."),
    "invalid_orders": (422, "Posted orders failed ingest validation (index + field named)."),
    "model_not_loaded": (503, "No model/snapshot loaded yet, or loading failed."),
    "alerts_unavailable": (503, "The alert database (or the orders file) cannot be read."),
    "reload_failed": (503, "Admin reload failed; the previous model keeps serving."),
    "internal_error": (500, "Unexpected server error (logged, never detailed to callers)."),
}


def error_response(
    status: int, code: str, message: str, details: list[Any] | None = None
) -> Response:
    """A JSON error response in the stable envelope."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return Response(
        orjson.dumps({"error": body}, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
    )


def _clean_validation(errors: list[Any]) -> list[dict[str, Any]]:
    """Validation errors reduced to location and message (no echoed input values)."""
    return [
        {"loc": [str(p) for p in e.get("loc", ())], "message": str(e.get("msg"))} for e in errors
    ]


async def _service_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return error_response(exc.status, exc.code, exc.message, exc.details)


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    response = error_response(exc.status_code, code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "bad_request", "the body is not valid JSON")
    details = _clean_validation(errors)
    return error_response(422, "validation_error", "request does not match the schema", details)


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the JSON error handlers on ``app``."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
