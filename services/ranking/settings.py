"""Settings of the ranking service (env prefix `RANKING_`, then `FORERUNNER_`)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class RankingSettings(ServiceSettings):
    service_name: ClassVar[str] = "ranking"
    model_config = SettingsConfigDict(env_prefix="RANKING_", extra="ignore")

    port: int = 8002
    registry_url: str = "http://127.0.0.1:8001"
    oversight_url: str = "http://127.0.0.1:8003"
