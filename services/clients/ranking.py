"""A typed client of the ranking service, for oversight.

Reads fail fast (``ServiceError``); the writes that carry a decision (a revocation, a
publicity outcome) never go through here directly but through the caller's outbox, with the
paths and bodies built by ``revocation`` and ``publicity_outcome`` below, so that they arrive
even when ranking was down when the decision was taken.

The models are oversight's view of ranking's contract (DESIGN §5); they ignore fields they do
not know. Ranking is built in parallel: where its shapes settle differently, change them here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict

from services.kit.http import ServiceClient

ACTIVE = "active"


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TitleRecord(Lenient):
    """A forerunner title (领跑者称号) of one standard of one enterprise."""

    id: str
    uscc: str | None = None
    standard_id: str | None = None
    standard_no: str | None = None
    plan_id: str | None = None
    status: str = ACTIVE
    valid_from: date | None = None
    valid_until: date | None = None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


class TitlePage(Lenient):
    items: list[TitleRecord]
    next_cursor: str | None = None


class PlanRecord(Lenient):
    """An evaluation plan (评估方案): who runs it."""

    id: str
    evaluator_id: str | None = None
    category: str | None = None


class RankingClient:
    """Calls to ranking with this service's token; errors are ``ServiceError``s."""

    PATHS: ClassVar[dict[str, tuple[str, str]]] = {
        "get_title": ("GET", "/v1/titles/{title_id}"),
        "forerunners": ("GET", "/v1/forerunners"),
        "get_plan": ("GET", "/v1/plans/{plan_id}"),
        "revocation": ("POST", "/v1/titles/{title_id}/revocation"),
        "publicity_outcome": ("POST", "/v1/publicity-outcomes"),
    }

    def __init__(
        self,
        base_url: str,
        token: str | Callable[[], str] | None,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        timeout: float = 5.0,
        retries: int = 1,
    ) -> None:
        self._http = ServiceClient(
            base_url, token, timeout=timeout, retries=retries, transport=transport
        )

    @classmethod
    def over(cls, http: ServiceClient) -> RankingClient:
        """A client on an existing connection (an app's peer client, closed by the app)."""
        client = cls.__new__(cls)
        client._http = http
        return client

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_title(self, title_id: str) -> TitleRecord:
        path = self.PATHS["get_title"][1].format(title_id=quote(title_id, safe=""))
        return await self._http.get_model(path, TitleRecord)

    async def get_plan(self, plan_id: str) -> PlanRecord:
        path = self.PATHS["get_plan"][1].format(plan_id=quote(plan_id, safe=""))
        return await self._http.get_model(path, PlanRecord)

    async def active_title_of(
        self, *, uscc: str, standard_no: str, standard_id: str | None = None
    ) -> TitleRecord | None:
        """The active title of a standard ("is this a current forerunner?"), or None."""
        page = await self._http.get_model(
            self.PATHS["forerunners"][1],
            TitlePage,
            params={"uscc": uscc, "standard_no": standard_no},
        )
        for title in page.items:
            if not title.active:
                continue
            if standard_id is None or title.standard_id in (None, standard_id):
                return title
        return None


def revocation(title_id: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Path and body of a revocation (撤销称号), for the outbox."""
    return RankingClient.PATHS["revocation"][1].format(title_id=quote(title_id, safe="")), body


def publicity_outcome(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Path and body of a closed publicity window's outcome, for the outbox."""
    return RankingClient.PATHS["publicity_outcome"][1], body
