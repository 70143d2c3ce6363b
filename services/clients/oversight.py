"""A typed client of the oversight service (监督), for the ranking service.

Reads go straight to oversight and fail fast with a ``ServiceError``. Posting a notice carries a
decision, so it never happens here directly: the caller writes ``NOTICES_PATH`` and a
``NoticeCreate`` body to its outbox, and the relay delivers it with retries.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from services.kit.http import ServiceClient

NOTICES_PATH = "/v1/notices"
MAX_EXCLUSION_PAGES = 1000


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Exclusion(Lenient):
    """Who may not be evaluated (不得参评), until when: an enterprise, by its USCC."""

    uscc: str
    reason: str = ""
    ends_on: date | None = Field(default=None, description="last day of the exclusion")
    # Oversight excludes enterprises; a standard-level exclusion would name its standard.
    standard_id: uuid.UUID | None = None


class ExclusionPage(Lenient):
    items: list[Exclusion]
    next_cursor: str | None = None


class Subject(BaseModel):
    type: Literal["plan", "run", "shortlist", "title", "case", "enterprise", "standard"]
    id: str = Field(min_length=1, max_length=100)


class Window(BaseModel):
    working_days: int = Field(ge=1, le=60)


class NoticeCreate(BaseModel):
    """A notice for the public notice board (公示), in oversight's ``NoticeCreate`` shape.

    ``payload.source_id`` is the sender's own id of the notice: oversight echoes it in the
    outcome of a publicity window, which is how the sender finds what the notice was about.
    Payload values are text or integers (oversight hashes a canonical form of them).
    """

    kind: Literal["plan_publicity", "shortlist_publicity", "forerunner_list"]
    title: str = Field(max_length=300)
    body: str = Field(max_length=20_000)
    subject: Subject | None = None
    window: Window | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class OversightClient:
    """Calls to oversight with the caller's service token; errors are ``ServiceError``s."""

    PATHS: ClassVar[dict[str, tuple[str, str]]] = {
        "exclusions": ("GET", "/v1/exclusions"),
        "post_notice": ("POST", NOTICES_PATH),
    }

    def __init__(
        self,
        base_url: str,
        token: str | Callable[[], str] | None,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 2,
    ) -> None:
        self._http = ServiceClient(
            base_url, token, timeout=timeout, retries=retries, transport=transport
        )

    @classmethod
    def over(cls, http: ServiceClient) -> OversightClient:
        """An oversight client on an existing connection (the app's peer client)."""
        client = cls.__new__(cls)
        client._http = http
        return client

    async def aclose(self) -> None:
        await self._http.aclose()

    async def exclusions(self, on: date) -> list[Exclusion]:
        """Every exclusion in force on ``on``, all pages."""
        out: list[Exclusion] = []
        params: dict[str, Any] = {"on": on.isoformat(), "limit": 200}
        for _ in range(MAX_EXCLUSION_PAGES):
            page = await self._http.get_model(
                self.PATHS["exclusions"][1], ExclusionPage, params=params
            )
            out.extend(page.items)
            if not page.next_cursor:
                return out
            params = {**params, "cursor": page.next_cursor}
        raise RuntimeError("oversight keeps handing out exclusion pages")
