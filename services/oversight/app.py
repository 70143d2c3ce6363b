"""Oversight (监督): complaints and cases, inspections, revocations, the notice board."""

from __future__ import annotations

from fastapi import FastAPI

from services.clients.ranking import RankingClient
from services.clients.registry import RegistryClient
from services.kit.app import build_app
from services.kit.clock import Clock
from services.oversight.models import kit_tables
from services.oversight.notices.router import router as notices
from services.oversight.notices.signing import NoticeSigner
from services.oversight.settings import OversightSettings

VERSION = "0.1.0"


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
        routers=[notices],
        tables=kit_tables,
        peers={"registry": settings.registry_url, "ranking": settings.ranking_url},
        clock=clock,
    )
    app.state.signer = NoticeSigner(settings)
    app.state.registry = RegistryClient.over(app.state.clients["registry"])
    app.state.ranking = RankingClient.over(app.state.clients["ranking"])
    return app
