"""Settings shared by the three services.

Each service reads its own prefix first (``REGISTRY_``, ``RANKING_``, ``OVERSIGHT_``) and falls
back to the platform-wide ``FORERUNNER_`` prefix, so one signing key or database URL can serve
all three while any service may still override it.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

# Used only outside production; production refuses to start with it (see _refuse_weak_secrets).
DEV_JWT_SECRET = "dev-only-insecure-secret-do-not-use-in-production"  # noqa: S105
SHARED_PREFIX = "FORERUNNER_"


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclasses set ``service_name`` and the env prefix."""

    service_name: ClassVar[str] = "service"
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    environment: Environment = Environment.development
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # Plain public reads have a pool of their own (asyncpg's, first come first served).
    db_read_pool_size: int = Field(default=10, ge=1, le=200)
    # The database URL points at PgBouncer in transaction mode (see kit.db.Database).
    db_pgbouncer: bool = False
    # Straight to PostgreSQL, for LISTEN (kit.fresh): PgBouncer in transaction mode cannot
    # carry it. Unset: the database URL, unless that is PgBouncer (then nothing is kept).
    db_listen_url: str | None = None
    # Public reads kept in memory per process until the database says their tables changed
    # (kit.fresh); 0 keeps none. However quiet the tables, none is kept past
    # read_cache_seconds: a bound in case a notification were ever lost unnoticed.
    read_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    read_cache_seconds: float = Field(default=60, ge=0)
    # No overflow by default: under load SQLAlchemy opens an overflow connection per request
    # and closes it on return (a connect per request); a fixed pool queues instead.
    db_max_overflow: int = Field(default=0, ge=0, le=200)
    # How long a request waits for a free connection before it is told to come back (503).
    db_pool_timeout: float = Field(default=10, gt=0)
    # Bounds on every wait in the database (0 turns one off); a caller that hits one gets a 503
    # with Retry-After instead of hanging, and a stalled client cannot hold locks for long.
    db_lock_timeout_seconds: float = Field(default=5, ge=0)
    db_statement_timeout_seconds: float = Field(default=30, ge=0)
    db_idle_in_transaction_timeout_seconds: float = Field(default=60, ge=0)
    # For the few requests that legitimately run long statements (bulk sync), see
    # db.allow_long_statements.
    db_bulk_statement_timeout_seconds: float = Field(default=300, ge=0)

    jwt_algorithm: str = Field(default="HS256", pattern="^(HS256|RS256)$")
    jwt_secret: SecretStr | None = SecretStr(DEV_JWT_SECRET)
    jwt_public_key: str | None = None
    jwt_issuer: str = "forerunner"
    jwt_audience: str = "forerunner"
    # Bearer token this service presents to the others; minted from jwt_secret when unset.
    service_token: SecretStr | None = None

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Browser origins allowed to call the API (the city portal's pages); none by default.
    cors_origins: list[str] = Field(default_factory=list)
    # Responses at least this large are gzipped for callers that accept it; smaller ones never.
    gzip_min_bytes: int = Field(default=1400, ge=0)
    log_level: str = "INFO"
    log_json: bool = True
    # Who may read /metrics: "public", or "token" (a regulator's or service's bearer token).
    # Unset: public in development and test, token in production.
    metrics_access: Literal["public", "token"] | None = None

    # Idempotency keys (and the responses stored with them) are kept this long.
    idempotency_ttl_hours: float = Field(default=72, gt=0)
    maintenance_interval_seconds: float = Field(default=3600, gt=0)

    outbox_relay_enabled: bool = True
    # Outside production only: run the service's clock this many days ahead, so that an
    # end-to-end walk can close a publicity window or pass a deadline without waiting.
    clock_offset_days: float = 0
    # Periodic background steps of the service (deadlines, windows, feeds); safe in every replica.
    background_enabled: bool = True
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    http_timeout_seconds: float = Field(default=5.0, gt=0)

    # JSON file a regulator maintains for years the calendar package does not cover yet:
    # {"2027": {"holidays": ["2027-01-01", ...], "workdays": ["2027-02-06", ...]}}
    workday_calendar_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared = EnvSettingsSource(settings_cls, env_prefix=SHARED_PREFIX, case_sensitive=False)
        return (init_settings, env_settings, shared, dotenv_settings, file_secret_settings)

    @property
    def schema_name(self) -> str:
        return self.service_name

    @property
    def metrics_need_token(self) -> bool:
        if self.metrics_access is None:
            return self.environment is Environment.production
        return self.metrics_access == "token"

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Self:
        if self.environment is not Environment.production:
            return self
        if self.clock_offset_days:
            raise ValueError("production keeps the real time: CLOCK_OFFSET_DAYS must be 0")
        if self.jwt_algorithm == "HS256":
            secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
            if not secret or secret == DEV_JWT_SECRET or len(secret) < 32:
                raise ValueError(
                    "production needs a JWT secret of at least 32 characters "
                    "(set FORERUNNER_JWT_SECRET); the development default is refused"
                )
        else:
            if not self.jwt_public_key:
                raise ValueError("production with RS256 needs FORERUNNER_JWT_PUBLIC_KEY")
            if self.service_token is None:
                raise ValueError("production with RS256 needs a service token to call others")
        return self
