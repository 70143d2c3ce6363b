"""Shortlists (入围名单), commitments (承诺书) and opt-outs, their publicity and its outcome.

A succeeded run's body publishes the shortlist: one entry per selected standard, pinned to the
version ranked. Each entry's enterprise answers by a deadline of the plan's working days
(Chinese calendar); past it an unanswered entry lapses. Once none is pending, the committed
entries go to the notice board (through the outbox) for the plan's publicity days; the
window's outcome grants titles to those no upheld objection names.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from services.clients.oversight import NOTICES_PATH, NoticeCreate, Subject, Window
from services.clients.registry import RegistryClient
from services.kit import audit, outbox
from services.kit.auth import Principal
from services.kit.pagination import Page, paginate
from services.kit.problems import Conflict
from services.kit.workdays import WorkdayCalendar, today_shanghai
from services.ranking import policy
from services.ranking.key_areas import repository as key_areas
from services.ranking.models import Shortlist, ShortlistEntry, kit_tables
from services.ranking.plans import repository as plans
from services.ranking.plans.schemas import PlanContent, PublicityOutcome
from services.ranking.runs import repository as runs
from services.ranking.runs import snapshot as snap
from services.ranking.shortlists import facts, repository
from services.ranking.shortlists.schemas import (
    Commitment,
    DeadlinePassed,
    EntryOut,
    OptOut,
    ShortlistOut,
)
from services.ranking.titles import service as titles
from services.ranking.titles.reads import number_key

LAPSED = "no answer by the deadline"


def view(shortlist: Shortlist, entries: list[ShortlistEntry]) -> ShortlistOut:
    return ShortlistOut(
        id=shortlist.id,
        run_id=shortlist.run_id,
        plan_id=shortlist.plan_id,
        plan_version=shortlist.plan_version,
        state=shortlist.state,
        deadline=shortlist.deadline,
        notice_id=shortlist.notice_id,
        created_at=shortlist.created_at,
        entries=[EntryOut.model_validate(e) for e in entries],
    )


async def _content(session: AsyncSession, plan_id: uuid.UUID, n: int) -> PlanContent:
    version = await plans.version(session, plan_id, n)
    assert version is not None, "a run's plan version is never deleted"
    return PlanContent.model_validate(version.content)


async def create(
    session: AsyncSession,
    registry: RegistryClient,
    principal: Principal,
    run_id: uuid.UUID,
    *,
    calendar: WorkdayCalendar,
    now: datetime,
) -> tuple[Shortlist, list[ShortlistEntry]]:
    """Publish the run's shortlist: one entry per selected standard."""
    run = policy.require_shortlister(principal, await runs.get(session, run_id, lock=True))
    if run.state != "succeeded":
        raise Conflict(f"the run is {run.state}, not succeeded", code="run_not_succeeded")
    if await repository.of_run(session, run.id) is not None:
        raise Conflict("this run already has a shortlist", code="already_shortlisted")
    plan = await plans.get(session, run.plan_id)
    assert plan is not None
    content = await _content(session, run.plan_id, run.plan_version)
    stored = await runs.snapshot(session, run.id)
    assert stored is not None, "a succeeded run has its snapshot"
    selected = await repository.selected_rows(session, run.id)
    bands = facts.thresholds(
        content, snap.unpack(stored.body), await repository.tiers_of_run(session, run.id), selected
    )
    found = await facts.registry_facts(registry, selected)
    deadline = calendar.add_workdays(today_shanghai(now), content.commitment_days)
    shortlist = Shortlist(
        id=uuid.uuid4(),
        run_id=run.id,
        plan_id=run.plan_id,
        plan_version=run.plan_version,
        evaluator_id=run.evaluator_id,
        key_area_id=plan.key_area_id,
        state="answering",
        deadline=deadline,
        created_by=principal.sub,
    )
    session.add(shortlist)
    await session.flush()
    entries = [
        ShortlistEntry(
            id=uuid.uuid4(),
            shortlist_id=shortlist.id,
            standard_id=row.standard_id,
            standard_version=row.standard_version,
            standard_no=row.standard_no,
            standard_no_key=number_key(row.standard_no) or row.standard_no,
            uscc=row.uscc,
            enterprise_name=row.enterprise_name,
            category=row.category,
            region=fact.region,
            barcodes=fact.barcodes,
            thresholds=bands[str(row.standard_id)],
            state="pending",
            deadline=deadline,
        )
        for row, fact in zip(selected, found, strict=True)
    ]
    session.add_all(entries)
    await session.flush()
    if not entries:
        shortlist.state = "closed"
    await session.refresh(shortlist)
    for e in entries:
        await session.refresh(e)
    await audit.record(
        session, kit_tables, principal, "shortlist", "run", str(run.id), {"entries": len(entries)}
    )
    return shortlist, entries


async def _answerable(
    session: AsyncSession, principal: Principal, entry_id: uuid.UUID, now: datetime
) -> tuple[Shortlist, ShortlistEntry]:
    entry = await repository.entry(session, entry_id)
    shortlist = await repository.get(session, entry.shortlist_id, lock=True) if entry else None
    evaluator_id = shortlist.evaluator_id if shortlist else None
    entry = policy.require_entry_answerer(principal, entry, evaluator_id)
    assert shortlist is not None
    await session.refresh(entry, with_for_update=True)
    if entry.state == "lapsed" or (
        entry.state == "pending" and today_shanghai(now) > entry.deadline
    ):
        raise DeadlinePassed(entry.deadline)
    if entry.state != "pending":
        raise Conflict(f"this entry was already answered ({entry.state})", code="already_answered")
    return shortlist, entry


async def commit(
    session: AsyncSession,
    principal: Principal,
    entry_id: uuid.UUID,
    body: Commitment,
    now: datetime,
) -> ShortlistEntry:
    shortlist, entry = await _answerable(session, principal, entry_id, now)
    entry.state = "committed"
    entry.commitment = body.text
    return await _answered(session, principal, shortlist, entry, now, "commit")


async def opt_out(
    session: AsyncSession, principal: Principal, entry_id: uuid.UUID, body: OptOut, now: datetime
) -> ShortlistEntry:
    shortlist, entry = await _answerable(session, principal, entry_id, now)
    entry.state = "opted_out"
    entry.opt_out_reason = body.reason
    return await _answered(session, principal, shortlist, entry, now, "opt_out")


async def _answered(
    session: AsyncSession,
    principal: Principal,
    shortlist: Shortlist,
    entry: ShortlistEntry,
    now: datetime,
    action: str,
) -> ShortlistEntry:
    entry.answered_by = principal.sub
    entry.answered_at = now
    entry.row_version += 1
    await session.flush()
    if await repository.pending(session, shortlist.id) == 0:
        await close_answering(session, shortlist)
    await session.refresh(entry)
    await audit.record(session, kit_tables, principal, action, "shortlist_entry", str(entry.id))
    return entry


async def close_answering(session: AsyncSession, shortlist: Shortlist) -> None:
    """None pending: the committed entries go to publicity (公示), or the shortlist closes."""
    committed = [
        e for e in await repository.entries(session, shortlist.id) if e.state == "committed"
    ]
    shortlist.updated_at = func.now()
    if not committed:
        shortlist.state = "closed"
        return
    content = await _content(session, shortlist.plan_id, shortlist.plan_version)
    notice_id = uuid.uuid4().hex
    listed = [
        {
            "entry_id": str(e.id),
            "uscc": e.uscc,
            "enterprise_name": e.enterprise_name,
            "standard_id": str(e.standard_id),
            "standard_no": e.standard_no,
            "standard_version": e.standard_version,
            "category": e.category,
        }
        for e in committed
    ]
    notice = NoticeCreate(
        kind="shortlist_publicity",
        title=f"企业标准领跑者入围名单公示：{content.name}",
        body=(
            f"依据评估方案《{content.name}》，下列{len(committed)}项企业标准入围并已提交承诺书，"
            f"现予公示{content.publicity_days}个工作日。"
        ),
        subject=Subject(type="shortlist", id=str(shortlist.id)),
        window=Window(working_days=content.publicity_days),
        payload={
            "source_id": notice_id,
            "shortlist_id": str(shortlist.id),
            "run_id": str(shortlist.run_id),
            "plan_id": str(shortlist.plan_id),
            "entries": listed,
        },
    )
    await outbox.enqueue(
        session,
        kit_tables,
        target="oversight",
        path=NOTICES_PATH,
        payload=notice.model_dump(mode="json"),
        message_id=notice_id,
    )
    shortlist.notice_id = notice_id
    shortlist.state = "publicity"


async def lapse_step(app: Any) -> int:
    """Past the deadline: pending entries lapse and the shortlist moves on (every replica)."""
    today = today_shanghai(app.state.clock.now())
    handled = 0
    async with app.state.db.sessionmaker() as session, session.begin():
        for shortlist in await repository.claim_overdue(session, today, 20):
            await repository.lapse_pending(session, shortlist.id, LAPSED)
            await close_answering(session, shortlist)
            handled += 1
    return handled


async def report_publicity(
    session: AsyncSession,
    principal: Principal,
    shortlist: Shortlist,
    body: PublicityOutcome,
    now: datetime,
) -> tuple[Shortlist, int]:
    """The window closed: committed entries no upheld objection names get titles."""
    policy.require_service(principal)
    if shortlist.publicity_outcome is not None:
        if _upheld_keys(shortlist.publicity_outcome.get("upheld") or []) != _upheld_keys(
            [o.model_dump() for o in body.upheld]
        ):
            raise Conflict(
                "a different outcome was already reported for this notice",
                code="outcome_conflict",
            )
        titled = await repository.entries(session, shortlist.id)
        return shortlist, sum(e.state == "titled" for e in titled)
    if shortlist.state != "publicity":
        raise Conflict(f"the shortlist is {shortlist.state}", code="invalid_transition")
    usccs = {o.uscc.strip().upper(): o for o in body.upheld if o.uscc}
    standards = {o.standard_id: o for o in body.upheld if o.standard_id}
    plan = await plans.get(session, shortlist.plan_id)
    assert plan is not None
    area = await key_areas.get(session, plan.key_area_id)
    assert area is not None
    content = await _content(session, shortlist.plan_id, shortlist.plan_version)
    granted = 0
    for entry in await repository.entries(session, shortlist.id, lock=True):
        if entry.state != "committed":
            continue
        objection = standards.get(str(entry.standard_id)) or usccs.get(entry.uscc)
        if objection is not None:
            entry.state = "rejected"
            entry.outcome_reason = f"objection upheld (case {objection.case_id})" + (
                f": {objection.reason}" if objection.reason else ""
            )
            continue
        entry.state = "titled"
        titles.grant(session, shortlist, entry, content, area, now, body.notice_id)
        granted += 1
    shortlist.publicity_outcome = body.model_dump(mode="json")
    shortlist.state = "decided"
    shortlist.updated_at = func.now()
    await session.flush()
    await audit.record(
        session,
        kit_tables,
        principal,
        "publicity_outcome",
        "shortlist",
        str(shortlist.id),
        {"granted": granted, "upheld": len(body.upheld), "notice_id": body.notice_id},
    )
    return shortlist, granted


def _upheld_keys(upheld: list[dict[str, Any]]) -> set[tuple[str | None, str | None]]:
    return {(o.get("uscc"), o.get("standard_id")) for o in upheld}


async def listing(
    session: AsyncSession,
    principal: Principal,
    uscc: str | None,
    cursor: str | None,
    limit: int,
) -> Page[EntryOut]:
    whose = policy.require_entries_of(principal, uscc)
    return await paginate(
        session,
        repository.of_enterprise(whose),
        [ShortlistEntry.created_at, ShortlistEntry.id],
        cursor,
        limit,
        item=EntryOut.model_validate,
    )
