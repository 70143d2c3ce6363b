"""Who may see and do what in the registry: the one place every route and service asks.

- An enterprise writes only its own records; the regulator writes any; the national
  platform's sync client writes standards and registers enterprises, but does not edit
  enterprises or read their contact details.
- Contact details and block reasons (personal and regulatory data): the enterprise itself and
  regulators only.
- A blocked enterprise's standards are hidden (``hidden`` follows ``blocked``): only regulators,
  the sync client and the owner see them; the other services do not (ranking must never rank
  what the public may not see).
- A caller that may not see a thing gets 404 for it, on reads and writes alike, so that a
  write never tells a caller that a hidden thing exists.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, true

from services.kit.auth import Principal, Role
from services.kit.problems import Forbidden, NotFound

# Roles that write any enterprise's standards.
STANDARD_WRITERS_OF_ANY = (Role.regulator, Role.sync)
# Roles that see hidden standards of any enterprise.
HIDDEN_READERS = (Role.regulator, Role.sync)
REGULATOR_FIELDS = frozenset({"verification", "blocked", "blocked_reason"})


def _owner(principal: Principal | None, uscc: str) -> bool:
    return principal is not None and principal.role is Role.enterprise and principal.org == uscc


def hidden_for(blocked: bool) -> bool:
    """Whether a standard is hidden from the public: exactly when its enterprise is blocked."""
    return blocked


# ---- enterprises ------------------------------------------------------------------------


def sees_private(principal: Principal | None, uscc: str) -> bool:
    """Contact details and block reasons: the enterprise itself and regulators."""
    return _owner(principal, uscc) or (principal is not None and principal.role is Role.regulator)


def authorise_enterprise_read(principal: Principal | None, uscc: str, blocked: bool) -> None:
    """A blocked enterprise is gone for everyone but itself and regulators."""
    if blocked and not sees_private(principal, uscc):
        raise NotFound(f"no enterprise {uscc}")


def may_record_uscc_exception(principal: Principal | None) -> bool:
    """An audited exception for a real code that fails the check digit: regulators only."""
    return principal is not None and principal.role is Role.regulator


def authorise_uscc_exception(principal: Principal) -> None:
    if not may_record_uscc_exception(principal):
        raise Forbidden("only a regulator may record a USCC exception")


def authorise_enterprise_create(principal: Principal, uscc: str) -> None:
    if not (_owner(principal, uscc) or principal.role in STANDARD_WRITERS_OF_ANY):
        raise Forbidden("you may register only your own enterprise")


def authorise_enterprise_update(
    principal: Principal, uscc: str, blocked: bool, fields: set[str]
) -> None:
    """The enterprise itself and regulators; only regulators verify and block."""
    authorise_enterprise_read(principal, uscc, blocked)
    if not sees_private(principal, uscc):
        raise Forbidden("only the enterprise itself or a regulator may change it")
    if REGULATOR_FIELDS & fields and principal.role is not Role.regulator:
        raise Forbidden("only a regulator may verify or block an enterprise")


# ---- standards --------------------------------------------------------------------------


def sees_hidden(principal: Principal | None, uscc: str | None = None) -> bool:
    """Whether the caller sees the hidden standards of ``uscc`` (of every enterprise if None)."""
    if principal is None:
        return False
    if principal.role in HIDDEN_READERS:
        return True
    return uscc is not None and _owner(principal, uscc)


def authorise_standard_read(principal: Principal | None, uscc: str, hidden: bool) -> None:
    if hidden and not sees_hidden(principal, uscc):
        raise NotFound("no such standard")


def may_write_standards_of(principal: Principal, uscc: str) -> bool:
    return principal.role in STANDARD_WRITERS_OF_ANY or _owner(principal, uscc)


def authorise_standard_declare(principal: Principal, uscc: str) -> None:
    if not may_write_standards_of(principal, uscc):
        raise Forbidden("you may change only your own enterprise's records")


def authorise_standard_write(principal: Principal, uscc: str, hidden: bool) -> None:
    """A new version or a withdrawal: 404 where a read would be, else 403 if not the writer."""
    authorise_standard_read(principal, uscc, hidden)
    authorise_standard_declare(principal, uscc)


def visible_standards(principal: Principal | None, table: Any) -> ColumnElement[bool]:
    """The SQL condition for the standards of ``table`` the caller may see."""
    if sees_hidden(principal):
        return true()
    owner = principal.org if principal is not None and principal.role is Role.enterprise else None
    if owner:
        return or_(table.hidden.is_(False), table.uscc == owner)
    public: ColumnElement[bool] = table.hidden.is_(False)
    return public
