"""What the registry's domains share: authorisation of writes, rule errors as problems, ETags."""

from __future__ import annotations

from services.kit.auth import Principal, Role
from services.kit.problems import (
    FieldError,
    Forbidden,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
)
from services.registry.rules import RuleError

WRITERS_OF_ANY = (Role.regulator, Role.sync)


def can_write(principal: Principal, uscc: str) -> bool:
    """An enterprise writes only its own records; the regulator and the sync client any."""
    if principal.role in WRITERS_OF_ANY:
        return True
    return principal.role is Role.enterprise and principal.org == uscc


def authorise_write(principal: Principal, uscc: str) -> None:
    if not can_write(principal, uscc):
        raise Forbidden("you may change only your own enterprise's records")


def can_see_private(principal: Principal | None, uscc: str) -> bool:
    if principal is None:
        return False
    return principal.role is Role.regulator or (
        principal.role is Role.enterprise and principal.org == uscc
    )


def rule_problem(err: RuleError, prefix: str = "") -> ValidationFailed:
    field = f"{prefix}{err.field}"
    return ValidationFailed(
        f"{field}: {err.message}",
        code=err.code,
        errors=[FieldError(field=field, message=err.message)],
    )


def etag(row_version: int) -> str:
    return f'"{row_version}"'


def check_if_match(if_match: str | None, row_version: int) -> None:
    """Updates carry the ETag they were based on; a stale one is refused with 412."""
    if if_match is None:
        raise PreconditionRequired("send If-Match with the ETag of the record you changed")
    # Strong comparison (RFC 9110): a weak tag never matches.
    candidates = {tag.strip() for tag in if_match.split(",")}
    if "*" not in candidates and etag(row_version) not in candidates:
        raise PreconditionFailed(
            "the record has changed since you read it; fetch it again and retry",
            code="stale_etag",
        )
