"""Request dependencies of the oversight routes: the app's calendar, signer and peers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.clients.ranking import RankingClient
from services.clients.registry import RegistryClient
from services.kit.workdays import WorkdayCalendar
from services.oversight.notices.signing import NoticeSigner
from services.oversight.settings import OversightSettings


async def _settings(request: Request) -> OversightSettings:
    settings: OversightSettings = request.app.state.settings
    return settings


async def _calendar(request: Request) -> WorkdayCalendar:
    calendar: WorkdayCalendar = request.app.state.calendar
    return calendar


async def _signer(request: Request) -> NoticeSigner:
    signer: NoticeSigner = request.app.state.signer
    return signer


async def _registry(request: Request) -> RegistryClient:
    registry: RegistryClient = request.app.state.registry
    return registry


async def _ranking(request: Request) -> RankingClient:
    ranking: RankingClient = request.app.state.ranking
    return ranking


SettingsDep = Annotated[OversightSettings, Depends(_settings)]
CalendarDep = Annotated[WorkdayCalendar, Depends(_calendar)]
SignerDep = Annotated[NoticeSigner, Depends(_signer)]
RegistryDep = Annotated[RegistryClient, Depends(_registry)]
RankingDep = Annotated[RankingClient, Depends(_ranking)]


async def client_ip(request: Request) -> str:
    """The caller's address: the peer, or the entry the trusted proxies added to
    X-Forwarded-For (a client can write anything to the left of those)."""
    settings: OversightSettings = request.app.state.settings
    peer = request.client.host if request.client else "unknown"
    hops = settings.trusted_proxy_hops
    if hops == 0:
        return peer
    forwarded = [
        p.strip() for p in request.headers.get("x-forwarded-for", "").split(",") if p.strip()
    ]
    return forwarded[-hops] if len(forwarded) >= hops else peer


ClientIpDep = Annotated[str, Depends(client_ip)]
