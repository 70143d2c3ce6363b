"""Where a closed publicity window's outcome goes: ``source_id`` is ranking's own id of the
notice it sent, either a plan version's (方案公示) or a shortlist's (入围名单公示)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import Principal
from services.kit.problems import NotFound
from services.ranking import policy
from services.ranking.plans import repository as plans
from services.ranking.plans import service as plan_service
from services.ranking.plans.schemas import PublicityOutcome, PublicityOutcomeOut
from services.ranking.shortlists import repository as shortlists
from services.ranking.shortlists import service as shortlist_service


async def report(
    session: AsyncSession, principal: Principal, body: PublicityOutcome, now: datetime
) -> PublicityOutcomeOut:
    policy.require_service(principal)
    if await plans.version_by_notice(session, body.source_id) is not None:
        version = await plan_service.report_publicity(session, principal, body)
        return PublicityOutcomeOut(
            kind="plan_version",
            plan_id=version.plan_id,
            n=version.n,
            state=version.state,
            notice_id=body.notice_id,
        )
    shortlist = await shortlists.by_notice(session, body.source_id)
    if shortlist is None:
        raise NotFound("ranking sent no publicity notice with this source_id")
    shortlist, granted = await shortlist_service.report_publicity(
        session, principal, shortlist, body, now
    )
    return PublicityOutcomeOut(
        kind="shortlist",
        plan_id=shortlist.plan_id,
        n=shortlist.plan_version,
        state=shortlist.state,
        notice_id=body.notice_id,
        shortlist_id=shortlist.id,
        titles_granted=granted,
    )
