"""Evaluation and ranking (评估与排行): key areas, evaluators, plans, runs, shortlists, titles."""

from __future__ import annotations

from fastapi import FastAPI

from services.clients.oversight import OversightClient
from services.clients.registry import RegistryClient
from services.kit.app import build_app
from services.kit.background import Periodic
from services.kit.clock import Clock
from services.kit.fresh import Watched
from services.ranking.evaluators.router import router as evaluators_router
from services.ranking.key_areas.router import router as key_areas_router
from services.ranking.models import kit_tables
from services.ranking.plans.router import router as plans_router
from services.ranking.runs import worker
from services.ranking.runs.results import ResultCache
from services.ranking.runs.router import router as runs_router
from services.ranking.settings import RankingSettings
from services.ranking.shortlists import service as shortlists
from services.ranking.shortlists.router import router as shortlists_router
from services.ranking.stats.router import router as stats_router
from services.ranking.titles import feed
from services.ranking.titles import service as titles
from services.ranking.titles.router import router as titles_router

VERSION = "0.3.0"
# "Is this a current forerunner" is kept until a title changes (ranking_0005, kit.fresh).
KEPT_READS = Watched("ranking_changed", ("ranking.titles",))

INTEGRITY_CODES = {
    "uq_key_areas_year_level_name": "duplicate_key_area",
    "uq_evaluators_uscc": "duplicate_evaluator",
    "uq_experts_subject": "duplicate_expert",
    "uq_plan_reviews_plan_id_n_expert_id": "already_reviewed",
    "uq_shortlists_run_id": "already_shortlisted",
}


def create_app(
    settings: RankingSettings | None = None,
    *,
    registry: RegistryClient | None = None,
    oversight: OversightClient | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """The ranking app. ``registry`` and ``oversight`` replace the clients built from the
    settings' URLs (tests pass in-process ones); the app closes only those it built."""
    settings = settings or RankingSettings()
    app = build_app(
        settings,
        title="Forerunner ranking 企业标准排行榜",
        description=(
            "Key areas (重点领域), evaluation bodies (评估机构), evaluation plans (评估方案) and "
            "their review, ranking runs, shortlists (入围名单), forerunner titles (领跑者称号)."
        ),
        version=VERSION,
        routers=[
            titles_router,  # the public lookup ("is this a forerunner") first: matched in order
            key_areas_router,
            evaluators_router,
            plans_router,
            runs_router,
            shortlists_router,
            stats_router,
        ],
        tables=kit_tables,
        peers={"registry": settings.registry_url, "oversight": settings.oversight_url},
        integrity_codes=INTEGRITY_CODES,
        clock=clock,
        watched=KEPT_READS,
        kept_answer_prefixes=["/v1/forerunners"],
        background=[
            worker.periodic(settings),
            Periodic("ranking-lapses", settings.steps_poll_seconds, shortlists.lapse_step),
            Periodic("ranking-expiry", settings.steps_poll_seconds, titles.expire_step),
            Periodic("ranking-feed", settings.feed_poll_seconds, feed.feed_step),
        ],
    )
    app.state.registry = registry or RegistryClient.over(app.state.clients["registry"])
    app.state.oversight = oversight or OversightClient.over(app.state.clients["oversight"])
    app.state.results = ResultCache(settings.result_cache_size)
    return app
