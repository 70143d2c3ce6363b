"""Enterprise rules: valid codes, own records only, regulator-only verification and blocks."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import uscc as stdnum_uscc

from services.kit import audit
from services.kit.auth import Principal
from services.kit.pagination import Page, paginate
from services.kit.preconditions import Precondition
from services.kit.problems import Conflict, FieldError, NotFound, ValidationFailed
from services.registry import policy, rules
from services.registry.changes import repository as changes
from services.registry.enterprises.schemas import (
    EnterpriseCreate,
    EnterpriseFull,
    EnterprisePatch,
    EnterprisePublic,
)
from services.registry.models import Enterprise, Standard, kit_tables
from services.registry.standards import writer


def validated_uscc(raw: str, exception: str | None, principal: Principal | None) -> str:
    """The code, checked; a regulator's audited exception waives only the check digit."""
    try:
        return rules.validate_uscc(raw)
    except rules.RuleError as err:
        value = raw.strip().upper()
        if exception and policy.may_record_uscc_exception(principal) and len(value) == 18:
            try:
                # Well-formed but for the check character: that is what an exception is for.
                rules.validate_uscc(value[:17] + stdnum_uscc.calc_check_digit(value[:17]))
                return value
            except (rules.RuleError, KeyError, ValueError, IndexError):
                pass
        raise _rule_problem(err) from None


def validated_region(uscc: str, region: str, exception: str | None) -> str:
    try:
        region = rules.validate_region(region)
    except rules.RuleError as err:
        raise _rule_problem(err) from None
    if exception is None and not rules.region_consistent(uscc, region):
        raise ValidationFailed.for_field(
            "region",
            f"region {region} does not match the division code {uscc[2:8]} in the USCC",
            code="invalid_region",
        )
    return region


def public_view(e: Enterprise) -> EnterprisePublic:
    return EnterprisePublic.model_validate(e, from_attributes=True)


def full_view(e: Enterprise) -> EnterpriseFull:
    return EnterpriseFull.model_validate(e, from_attributes=True)


async def get(session: AsyncSession, uscc: str, *, for_update: bool = False) -> Enterprise:
    stmt = select(Enterprise).where(Enterprise.uscc == uscc.strip().upper())
    if for_update:
        stmt = stmt.with_for_update()
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no enterprise {uscc}")
    return found


async def create(session: AsyncSession, principal: Principal, body: EnterpriseCreate) -> Enterprise:
    if body.uscc_exception is not None:
        policy.authorise_uscc_exception(principal)
    uscc = validated_uscc(body.uscc, body.uscc_exception, principal)
    policy.authorise_enterprise_create(principal, uscc)
    region = validated_region(uscc, body.region, body.uscc_exception)
    existing = await session.get(Enterprise, uscc)
    if existing is not None:
        raise Conflict(f"enterprise {uscc} is already registered", code="duplicate_uscc")
    enterprise = Enterprise(
        uscc=uscc,
        name=body.name,
        region=region,
        industry_code=body.industry_code,
        address=body.address,
        contact=body.contact.model_dump(exclude_none=True) if body.contact else None,
        uscc_exception=body.uscc_exception,
        verification="unverified",
        blocked=False,
        row_version=1,
    )
    session.add(enterprise)
    await session.flush()
    await changes.record(session, "enterprise.created", uscc)
    await audit.record(
        session,
        kit_tables,
        principal,
        "create",
        "enterprise",
        uscc,
        {"uscc_exception": body.uscc_exception} if body.uscc_exception else None,
    )
    await session.refresh(enterprise)
    return enterprise


async def patch(
    session: AsyncSession,
    principal: Principal,
    uscc: str,
    body: EnterprisePatch,
    precondition: Precondition,
) -> Enterprise:
    enterprise = await get(session, uscc, for_update=True)
    changes_requested = body.model_dump(exclude_unset=True)
    policy.authorise_enterprise_update(
        principal, enterprise.uscc, enterprise.blocked, set(changes_requested)
    )
    precondition.check(enterprise.row_version)
    if "region" in changes_requested and body.region is not None:
        enterprise.region = validated_region(
            enterprise.uscc, body.region, enterprise.uscc_exception
        )
    for field in ("name", "industry_code", "address"):
        if field in changes_requested:
            if field == "name" and body.name is None:
                raise ValidationFailed.for_field("name", "the name cannot be removed")
            setattr(enterprise, field, changes_requested[field])
    if "contact" in changes_requested:
        enterprise.contact = body.contact.model_dump(exclude_none=True) if body.contact else None

    events: list[str] = []
    now = datetime.now(UTC)
    if body.verification is not None and body.verification != enterprise.verification:
        enterprise.verification = body.verification
        enterprise.verified_by = principal.sub if body.verification == "verified" else None
        enterprise.verified_at = now if body.verification == "verified" else None
        events.append(f"enterprise.{body.verification}")
    if body.blocked is not None and body.blocked != enterprise.blocked:
        if body.blocked and not body.blocked_reason:
            raise ValidationFailed.for_field("blocked_reason", "a block needs its reason")
        enterprise.blocked = body.blocked
        enterprise.blocked_reason = body.blocked_reason if body.blocked else None
        await session.execute(
            update(Standard)
            .where(Standard.uscc == enterprise.uscc)
            .values(hidden=policy.hidden_for(body.blocked))
        )
        events.append("enterprise.blocked" if body.blocked else "enterprise.unblocked")
    if "name" in changes_requested or "region" in changes_requested:
        # Search text and region filters of its standards follow the enterprise.
        await session.flush()
        await writer.reindex(session, {enterprise.uscc}, now)
        events.append("enterprise.updated")
    elif not events and changes_requested:
        events.append("enterprise.updated")
    enterprise.row_version += 1
    enterprise.updated_at = now
    for kind in events:
        await changes.record(session, kind, enterprise.uscc)
    await audit.record(
        session,
        kit_tables,
        principal,
        "update",
        "enterprise",
        enterprise.uscc,
        {"fields": sorted(changes_requested)},
    )
    await session.flush()
    return enterprise


async def list_public(
    session: AsyncSession,
    *,
    region: str | None,
    verification: str | None,
    cursor: str | None,
    limit: int,
) -> Page[EnterprisePublic]:
    stmt = select(Enterprise).where(Enterprise.blocked.is_(False))
    if region:
        stmt = stmt.where(Enterprise.region.startswith(region, autoescape=True))
    if verification:
        stmt = stmt.where(Enterprise.verification == verification)
    return await paginate(session, stmt, [Enterprise.uscc], cursor, limit, item=public_view)


def _rule_problem(err: rules.RuleError) -> ValidationFailed:
    return ValidationFailed(
        f"{err.field}: {err.message}",
        code=err.code,
        errors=[FieldError(field=err.field, message=err.message)],
    )
