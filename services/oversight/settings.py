"""Settings of the oversight service (env prefix `OVERSIGHT_`, then `FORERUNNER_`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.kit.settings import Environment, ServiceSettings


class OversightSettings(ServiceSettings):
    service_name: ClassVar[str] = "oversight"
    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_", extra="ignore")

    port: int = 8003
    registry_url: str = "http://127.0.0.1:8001"
    ranking_url: str = "http://127.0.0.1:8002"

    # Ed25519 private key (PKCS#8 PEM) that signs the notice chain's head: given inline or as a
    # file. Production refuses to start without one; elsewhere a development key is generated
    # once and kept in dev_signing_key_file (tests keep theirs in memory).
    notice_signing_key: SecretStr | None = None
    notice_signing_key_file: Path | None = None
    dev_signing_key_file: Path = Path(".data/oversight-dev-signing-key.pem")

    # Deadlines in working days on the Chinese calendar (工作日).
    accept_within_workdays: int = Field(default=7, ge=1, le=60)
    decide_within_workdays: int = Field(default=30, ge=1, le=365)
    # How long an enterprise found to have cheated (弄虚作假) may not be evaluated.
    fraud_exclusion_days: int = Field(default=3 * 365, ge=1, le=20 * 365)

    # Anonymous filings per client and hour, counted in PostgreSQL across replicas.
    anonymous_filings_per_hour: int = Field(default=5, ge=1)
    # Proxies in front of the service that append to X-Forwarded-For (the gateway: 1).
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)

    evidence_max_files: int = Field(default=5, ge=0, le=20)
    evidence_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)

    background_interval_seconds: float = Field(default=60, gt=0)

    @model_validator(mode="after")
    def _signing_key_in_production(self) -> Self:
        if self.environment is Environment.production and not (
            self.notice_signing_key or self.notice_signing_key_file
        ):
            raise ValueError(
                "production needs the notice chain's signing key "
                "(OVERSIGHT_NOTICE_SIGNING_KEY or OVERSIGHT_NOTICE_SIGNING_KEY_FILE)"
            )
        return self
