"""Settings of the ranking service (env prefix `RANKING_`, then `FORERUNNER_`)."""

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class RankingSettings(ServiceSettings):
    service_name: ClassVar[str] = "ranking"
    model_config = SettingsConfigDict(env_prefix="RANKING_", extra="ignore")

    port: int = 8002
    registry_url: str = "http://127.0.0.1:8001"
    oversight_url: str = "http://127.0.0.1:8003"

    # Expert approvals a submitted plan version needs before its publicity (专家评审).
    min_reviewers: int = Field(default=3, ge=1, le=50)
    # How often a replica looks for queued runs, and how long a claimed run is its own
    # before another replica may take it over (a replica that died mid-run).
    run_poll_seconds: float = Field(default=1.0, gt=0)
    run_lease_seconds: float = Field(default=600, gt=0)
    # Whole fetches of a category tried before a run fails (a stream broken midway).
    run_fetch_attempts: int = Field(default=3, ge=1, le=10)
    # Claims of one run (replicas that died holding it) before it is failed for good.
    run_max_claims: int = Field(default=3, ge=1, le=10)
    # Engine results of succeeded runs kept in memory for explanations and 对标.
    result_cache_size: int = Field(default=8, ge=0, le=256)
    # How often a replica lapses overdue shortlist entries and expires ended titles, and how
    # often it follows the registry's change feed (one replica at a time reads it).
    steps_poll_seconds: float = Field(default=60.0, gt=0)
    feed_poll_seconds: float = Field(default=5.0, gt=0)
