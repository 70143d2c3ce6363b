"""Evaluation and ranking (评估与排行): key areas, evaluators, plans, runs, shortlists, titles."""

from fastapi import FastAPI

from services.kit.app import build_app
from services.ranking.models import kit_tables
from services.ranking.settings import RankingSettings

VERSION = "0.1.0"


def create_app(settings: RankingSettings | None = None) -> FastAPI:
    settings = settings or RankingSettings()
    return build_app(
        settings,
        title="Forerunner ranking 企业标准排行榜",
        description=(
            "Key areas (重点领域), evaluation bodies (评估机构), evaluation plans (评估方案) and "
            "their review, ranking runs, shortlists (入围名单), forerunner titles (领跑者称号)."
        ),
        version=VERSION,
        routers=[],
        tables=kit_tables,
        peers={"registry": settings.registry_url, "oversight": settings.oversight_url},
    )
