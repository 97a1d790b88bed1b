"""The JSON error shape of every refusal the server makes: OpenAI's error object plus the
request `field` at fault, with `detail` as FastAPI clients expect it.

    {"detail": msg, "error": {"message": msg, "type": ..., "field": ..., "code": ...}}

A leaf module (pydantic and starlette only), so the access door in front of the API and the
API itself answer alike without importing each other.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from starlette.responses import JSONResponse


class ErrorBody(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error, …")
    field: str | None = Field(default=None, description="The request field at fault.")
    param: str | None = Field(default=None, description="The same, by OpenAI's name.")
    code: str | None = None


class ErrorResponse(BaseModel):
    detail: str
    error: ErrorBody


def error_body(
    status: int, message: str, field: str | None = None, code: str | None = None
) -> dict[str, Any]:
    kind = {
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
        503: "service_unavailable",
    }.get(status, "invalid_request_error")
    if code == "model_not_found":  # OpenAI's type for it, which its clients may read
        kind = "invalid_request_error"
    error = ErrorBody(message=message, type=kind, field=field, param=field, code=code)
    return ErrorResponse(detail=message, error=error).model_dump()


def error_response(
    status: int,
    message: str,
    *,
    field: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(status, message, field, code), status_code=status, headers=headers
    )
