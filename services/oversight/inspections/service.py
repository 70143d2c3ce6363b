"""Inspection rules (抽检): compare a measured value with what the version disclosed, and open
a case by itself when a titled standard falls short, once per inspection."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.clients.ranking import RankingClient
from services.clients.registry import Indicator, RegistryClient, VersionRecord
from services.kit import audit
from services.kit.auth import Principal
from services.kit.http import ServiceError, ServiceNotFound
from services.kit.problems import Conflict, ServiceUnavailable, ValidationFailed
from services.kit.workdays import WorkdayCalendar
from services.oversight import policy
from services.oversight.cases import service as cases
from services.oversight.inspections import repository
from services.oversight.inspections.schemas import InspectionIn, InspectionOut
from services.oversight.models import Case, Inspection, kit_tables
from services.oversight.settings import OversightSettings

RELATIVE_TOLERANCE = 1e-9


def compare(declared: Indicator, measured: float, direction: str | None) -> float | None:
    """How far the measured value falls short of the declared one (None: it conforms).

    The operator says what was promised (≥ a minimum, ≤ a maximum, a range); for ``=`` the
    indicator's direction says which side is worse (without one, any difference is).
    """

    def tol(value: float) -> float:
        return RELATIVE_TOLERANCE * max(1.0, abs(value))

    def short(gap: float, value: float) -> float | None:
        return gap if gap > tol(value) else None

    if declared.operator == "range":
        low, high = declared.value_min, declared.value_max
        if low is not None and measured < low:
            return short(low - measured, low)
        if high is not None and measured > high:
            return short(measured - high, high)
        return None
    value = declared.value
    if value is None:
        return None
    if declared.operator == "≥" or (declared.operator == "=" and direction == "higher"):
        return short(value - measured, value)
    if declared.operator == "≤" or (declared.operator == "=" and direction == "lower"):
        return short(measured - value, value)
    return short(abs(measured - value), value)


def _request_hash(body: InspectionIn) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


async def _version(registry: RegistryClient, body: InspectionIn) -> VersionRecord:
    try:
        return await registry.get_version(body.standard_id, body.version)
    except ServiceNotFound:
        raise ValidationFailed.for_field(
            "version", f"no version {body.version} of standard {body.standard_id}", "unknown_target"
        ) from None
    except ServiceError:
        raise ServiceUnavailable(
            "the registry cannot give the disclosed version just now; send it again shortly",
            code="registry_unavailable",
            headers={"Retry-After": "30"},
        ) from None


async def _direction(registry: RegistryClient, category: str, code: str | None) -> str | None:
    if code is None:
        return None
    try:
        vocabulary = await registry.get_category(category)
    except ServiceError:
        return None  # only "=" needs it; without it any difference counts
    return next((w.direction for w in vocabulary.indicators if w.code == code), None)


async def submit(
    session: AsyncSession,
    principal: Principal | None,
    body: InspectionIn,
    *,
    now: datetime,
    calendar: WorkdayCalendar,
    settings: OversightSettings,
    registry: RegistryClient,
    ranking: RankingClient,
) -> tuple[InspectionOut, bool]:
    """The finding and whether it is new; the same report sent again is the same finding."""
    who = policy.authorise_inspection(principal)
    request_hash = _request_hash(body)
    existing = await repository.by_report(session, body.lab, body.report_no)
    if existing is not None:
        return await _same_report(session, existing, request_hash), False

    version = await _version(registry, body)
    declared = next(
        (i for i in version.content.indicators if body.indicator in (i.code, i.name)), None
    )
    if declared is None:
        raise ValidationFailed.for_field(
            "indicator", "this version declares no such indicator", "indicator_not_declared"
        )
    if body.unit and declared.unit and body.unit != declared.unit:
        raise ValidationFailed.for_field(
            "unit", f"the version declares it in {declared.unit}", "unit_mismatch"
        )
    direction = await _direction(registry, version.content.category, declared.code)
    gap = compare(declared, body.measured, direction)
    standard = await registry.get_standard(body.standard_id)

    inspection = Inspection(
        id=uuid.uuid4(),
        request_hash=request_hash,
        uscc=standard.uscc,
        declared=declared.model_dump(
            include={"operator", "value", "value_min", "value_max", "unit"}, exclude_none=True
        ),
        direction=direction,
        result="shortfall" if gap is not None else "conforms",
        gap=gap,
        title_check="not_asked",
        submitted_by=who.sub,
        created_at=now,
        **body.model_dump(),
    )
    if gap is not None:
        await _ask_ranking(ranking, inspection, standard.standard_no)
    try:
        async with session.begin_nested():
            session.add(inspection)
            await session.flush()
    except IntegrityError:
        # The same report sent twice at once: the other request stored it first.
        raced = await repository.by_report(session, body.lab, body.report_no)
        if raced is None:
            raise
        return await _same_report(session, raced, request_hash), False

    case = None
    if inspection.title_check in ("active", "unreachable"):
        # Ranking down: open the case anyway. A regulator rejecting one case too many is
        # better than a titled standard's shortfall going unseen.
        case = await cases.open_case(
            session,
            origin="inspection",
            inspection_id=inspection.id,
            target_type="standard",
            target_id=str(body.standard_id),
            title_id=inspection.title_id,
            respondent_uscc=standard.uscc,
            grounds="non_conforming",
            now=now,
            calendar=calendar,
            settings=settings,
        )
        await session.flush()
    await audit.record(session, kit_tables, who, "submit", "inspection", str(inspection.id))
    return view(inspection, case), True


async def _ask_ranking(ranking: RankingClient, inspection: Inspection, standard_no: str) -> None:
    try:
        title = await ranking.active_title_of(
            uscc=inspection.uscc,
            standard_no=standard_no,
            standard_id=str(inspection.standard_id),
        )
    except ServiceError:
        inspection.title_check = "unreachable"
        return
    inspection.title_check = "active" if title else "none"
    inspection.title_id = title.id if title else None


async def _same_report(
    session: AsyncSession, existing: Inspection, request_hash: str
) -> InspectionOut:
    if existing.request_hash != request_hash:
        raise Conflict(
            "this lab's report was already sent with other content", code="inspection_conflict"
        )
    return view(existing, await repository.case_of(session, existing))


def view(inspection: Inspection, case: Case | None) -> InspectionOut:
    return InspectionOut.model_validate(
        {
            **{c: getattr(inspection, c) for c in InspectionOut.model_fields if c != "case_id"},
            "case_id": case.id if case else None,
        }
    )
