"""RFC 9457 problem details: the one error type every service raises and returns."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kit.workdays import CalendarYearMissing

log = logging.getLogger("forerunner.problems")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://forerunner.tj.gov.cn/problems/"


class FieldError(BaseModel):
    field: str
    message: str


class ProblemBody(BaseModel):
    """The body of every error response."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code")
    errors: list[FieldError] | None = None


class Problem(Exception):
    """An error that becomes a problem+json response. Raise a subclass, or this with a code."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        title: str | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if title is not None:
            self.title = title
        self.detail = detail or self.title
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})
        super().__init__(self.detail)

    def body(self) -> ProblemBody:
        return ProblemBody(
            type=TYPE_BASE + self.code,
            title=self.title,
            status=self.status,
            detail=self.detail,
            code=self.code,
            errors=self.errors,
        )

    def response(self) -> JSONResponse:
        return problem_response(self.body(), self.headers)


class Unauthorized(Problem):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="forerunner"'})
        super().__init__(detail, **kw)


class Forbidden(Problem):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(Problem):
    status, code, title = 404, "not_found", "Not found"


class Conflict(Problem):
    status, code, title = 409, "conflict", "Conflict"


class PreconditionFailed(Problem):
    status, code, title = 412, "precondition_failed", "Precondition failed"


class PreconditionRequired(Problem):
    status, code, title = 428, "precondition_required", "If-Match header required"


class PayloadTooLarge(Problem):
    status, code, title = 413, "payload_too_large", "Request body too large"


class ValidationFailed(Problem):
    status, code, title = 422, "validation_failed", "Validation failed"

    @classmethod
    def for_field(cls, field: str, message: str, code: str | None = None) -> ValidationFailed:
        return cls(
            f"{field}: {message}", code=code, errors=[FieldError(field=field, message=message)]
        )


class TooManyRequests(Problem):
    status, code, title = 429, "too_many_requests", "Too many requests"


class ServiceUnavailable(Problem):
    status, code, title = 503, "service_unavailable", "Service unavailable"


# How long a caller told "busy" should wait before trying again.
BUSY_RETRY_AFTER_SECONDS = 5
# Lock, statement and idle timeouts, deadlocks and serialisation failures: a retry may succeed.
_BUSY_SQLSTATES = frozenset({"55P03", "57014", "25P03", "40P01", "40001"})


class Busy(ServiceUnavailable):
    code, title = "busy", "Busy"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)})
        super().__init__(detail or "the service is busy; try again shortly", **kw)


_HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    412: ("precondition_failed", "Precondition failed"),
    413: ("payload_too_large", "Request body too large"),
    428: ("precondition_required", "If-Match header required"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_failed", "Validation failed"),
    429: ("too_many_requests", "Too many requests"),
    503: ("service_unavailable", "Service unavailable"),
}


def problem_response(body: ProblemBody, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=body.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def internal_error_body() -> ProblemBody:
    return ProblemBody(
        type=TYPE_BASE + "internal_error",
        title="Internal error",
        status=500,
        detail="The server could not complete the request. It has been logged.",
        code="internal_error",
    )


def _sqlstate(exc: BaseException) -> str:
    """The SQLSTATE of a database error, or "" for anything else.

    Through SQLAlchemy (a session) the driver's error is wrapped; on a plain read connection
    (kit.reads) it arrives as asyncpg raised it.
    """
    if isinstance(exc, DBAPIError):
        return str(getattr(exc.orig, "sqlstate", "") or "")
    if isinstance(exc, asyncpg.PostgresError):
        return str(exc.sqlstate or "")
    return ""


def expected_problem(exc: BaseException) -> Problem | None:
    """The problem an error stands for when the caller or the moment is at fault, not the code.

    None for anything else (a bug, a database that is down): that is logged with its traceback.
    """
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, PoolTimeout):
        return Busy()
    if isinstance(exc, IntegrityError):
        return None
    sqlstate = _sqlstate(exc)
    if sqlstate:
        if sqlstate.startswith("22"):
            # Data exception: the input is at fault (a NUL character, a number out of range).
            # Not a 503: a retry would fail the same way.
            return ValidationFailed(
                "a value could not be stored or compared (for example a NUL character or a "
                "number out of range)"
            )
        if sqlstate in _BUSY_SQLSTATES:
            # A bounded wait ran out (see settings.db_*_timeout_seconds) or a lock cycle was
            # broken: the request was fine, the moment was not.
            return Busy()
    return None


def _loc_to_field(loc: Sequence[int | str]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:] or parts
    return ".".join(parts) or "body"


def validation_problem(exc: RequestValidationError) -> ProblemBody:
    errors: list[FieldError] = []
    for err in exc.errors():
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":
            message = "malformed JSON"
        errors.append(FieldError(field=_loc_to_field(err.get("loc", ())), message=message))
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5]) or "invalid request"
    return ProblemBody(
        type=TYPE_BASE + "validation_failed",
        title="Validation failed",
        status=422,
        detail=detail,
        code="validation_failed",
        errors=errors,
    )


def install_problem_handlers(
    app: FastAPI, integrity_codes: Mapping[str, str] | None = None
) -> None:
    """Turn every error the app can raise into problem+json.

    ``integrity_codes`` maps a constraint name to the code a violation of it is reported with
    (a race past the service's own check still gets the specific code, e.g. duplicate_uscc).
    """
    codes = dict(integrity_codes or {})

    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return exc.response()

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(validation_problem(exc))

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code, title = _HTTP_CODES.get(exc.status_code, ("error", "Error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        body = ProblemBody(
            type=TYPE_BASE + code, title=title, status=exc.status_code, detail=detail, code=code
        )
        return problem_response(body, exc.headers)

    async def on_integrity(_: Request, exc: Exception) -> JSONResponse:
        # A constraint the service did not check first (usually a race): a conflict, no SQL.
        constraint = getattr(
            getattr(getattr(exc, "orig", None), "__cause__", None), "constraint_name", None
        )
        log.warning("integrity error on %s turned into 409", constraint)
        return Conflict(
            "the request conflicts with the current state of a record",
            code=codes.get(str(constraint), "conflict"),
        ).response()

    async def on_db_error(_: Request, exc: Exception) -> JSONResponse:
        problem = expected_problem(exc)
        if problem is not None:
            log.info("database refused the request: %s", problem.code)
            return problem.response()
        log.error("database error %s: %s", _sqlstate(exc), type(exc.__cause__ or exc).__name__)
        return ServiceUnavailable("the database could not complete the request").response()

    async def on_pool_timeout(_: Request, exc: Exception) -> JSONResponse:
        log.warning("no database connection free in time; answered 503 with Retry-After")
        return Busy().response()

    async def on_calendar(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CalendarYearMissing)
        log.error("working-day calendar lacks %s", exc.year)
        return ServiceUnavailable(
            f"the working-day calendar has no data for {exc.year} yet; a regulator must add it",
            code="calendar_year_missing",
        ).response()

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(IntegrityError, on_integrity)
    app.add_exception_handler(DBAPIError, on_db_error)
    app.add_exception_handler(asyncpg.PostgresError, on_db_error)
    app.add_exception_handler(CalendarYearMissing, on_calendar)
    app.add_exception_handler(PoolTimeout, on_pool_timeout)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": title,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemBody"}}},
    }
    for status, (_, title) in _HTTP_CODES.items()
    if status in {400, 401, 403, 404, 409, 412, 413, 422, 428, 429, 503}
}
