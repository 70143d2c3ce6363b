"""Oversight (监督): complaints and cases, inspections, revocations, the notice board."""

from fastapi import FastAPI

from services.kit.app import build_app
from services.oversight.models import kit_tables
from services.oversight.settings import OversightSettings

VERSION = "0.1.0"


def create_app(settings: OversightSettings | None = None) -> FastAPI:
    settings = settings or OversightSettings()
    return build_app(
        settings,
        title="Forerunner oversight 监督",
        description=(
            "Complaints, reports and objections (投诉举报/异议) with their cases, inspection "
            "findings (抽检), revocations, exclusions and the public notice board (公示/公告)."
        ),
        version=VERSION,
        routers=[],
        tables=kit_tables,
        peers={"registry": settings.registry_url, "ranking": settings.ranking_url},
    )
