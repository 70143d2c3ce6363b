"""What the registry's domains share: authorisation of writes, rule errors as problems."""

from __future__ import annotations

from services.kit.auth import Principal, Role
from services.kit.problems import FieldError, Forbidden, ValidationFailed
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
