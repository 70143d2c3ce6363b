"""Settings of the oversight service (env prefix `OVERSIGHT_`, then `FORERUNNER_`)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class OversightSettings(ServiceSettings):
    service_name: ClassVar[str] = "oversight"
    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_", extra="ignore")

    port: int = 8003
    registry_url: str = "http://127.0.0.1:8001"
    ranking_url: str = "http://127.0.0.1:8002"
