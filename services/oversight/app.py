"""Oversight (监督): complaints and cases, inspections, revocations, the notice board."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.clients.ranking import RankingClient
from services.clients.registry import RegistryClient
from services.kit.app import build_app
from services.kit.background import Periodic
from services.kit.clock import Clock
from services.oversight.cases import service as cases
from services.oversight.cases.router import router as cases_router
from services.oversight.complaints import repository as complaints
from services.oversight.complaints.router import router as complaints_router
from services.oversight.decisions import service as decisions
from services.oversight.exclusions.router import router as exclusions_router
from services.oversight.inspections.router import router as inspections_router
from services.oversight.models import kit_tables
from services.oversight.notices.router import router as notices
from services.oversight.notices.signing import NoticeSigner
from services.oversight.settings import OversightSettings

VERSION = "0.1.0"
EVIDENCE_BODY_LIMIT = 48 * 1024 * 1024


def in_transaction(
    work: Callable[[AsyncSession, datetime], Awaitable[int]],
) -> Callable[[Any], Awaitable[int]]:
    """A background step: one transaction, the app's clock. Each ``work`` claims its rows
    (FOR UPDATE SKIP LOCKED), so every replica may run it at once."""

    async def step(app: Any) -> int:
        async with app.state.db.sessionmaker() as session, session.begin():
            return await work(session, app.state.clock.now())

    return step


async def _forget_old_counters(session: AsyncSession, now: datetime) -> int:
    await complaints.forget_windows_before(session, now - timedelta(days=1))
    return 0  # never "more to do": once per interval is plenty


flag_overdue = in_transaction(cases.flag_overdue)
report_closed_windows = in_transaction(decisions.report_closed_windows)
forget_old_counters = in_transaction(_forget_old_counters)


def create_app(settings: OversightSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or OversightSettings()
    app = build_app(
        settings,
        title="Forerunner oversight 监督",
        description=(
            "Complaints, reports and objections (投诉举报/异议) with their cases, inspection "
            "findings (抽检), revocations, exclusions and the public notice board (公示/公告), "
            "a hash chain anyone can verify: `python -m services.oversight.verify <url>`."
        ),
        version=VERSION,
        routers=[notices, complaints_router, cases_router, inspections_router, exclusions_router],
        tables=kit_tables,
        peers={"registry": settings.registry_url, "ranking": settings.ranking_url},
        clock=clock,
        body_limit_overrides={"/v1/complaints": EVIDENCE_BODY_LIMIT},
        background=[
            Periodic("flag-overdue-cases", settings.background_interval_seconds, flag_overdue),
            Periodic(
                "report-closed-windows", settings.background_interval_seconds, report_closed_windows
            ),
            Periodic("forget-rate-counters", 3600, forget_old_counters),
        ],
    )
    app.state.signer = NoticeSigner(settings)
    app.state.registry = RegistryClient.over(app.state.clients["registry"])
    app.state.ranking = RankingClient.over(app.state.clients["ranking"])
    return app
