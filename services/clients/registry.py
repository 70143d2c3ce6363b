"""A typed client of the registry, for the ranking and oversight services.

Its models are the caller's view of the contract, kept apart from the registry's own schemas:
they ignore fields they do not know, so the registry can add fields without breaking callers.

    async with RegistryClient(settings.registry_url, service_token(settings)) as registry:
        async for disclosure in registry.standards_by_category("HA-RICE-COOKER"):
            ...
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from types import TracebackType
from typing import Annotated, Any, ClassVar, Literal, NotRequired, Required, Self
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from typing_extensions import TypedDict

from services.kit.http import (
    ServiceClient,
)

Status = Literal["current", "abolished", "superseded"]
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Requirement(Lenient):
    value: float
    source: str | None = None


class Indicator(Lenient):
    """A declared indicator: ``code`` from the category vocabulary, or a free-text ``name``."""

    code: str | None = None
    name: str | None = None
    operator: Literal["≥", "≤", "=", "range"]
    value: float | None = None
    value_min: float | None = None
    value_max: float | None = None
    unit: str | None = None
    test_method: str | None = None
    requirement: Requirement | None = None


class Product(Lenient):
    name: str
    generic_name: str | None = None
    brand: str | None = None
    barcode: str | None = None
    specification: str | None = None
    model: str | None = None


class Content(Lenient):
    """A version's declared content."""

    standard_no: str
    name: str
    subject: Literal["product", "service"]
    category: str
    publication_date: date | None = None
    implementation_date: date | None = None
    products: list[Product] = []
    indicators: list[Indicator] = []
    below_recommended_statement: str | None = None
    full_text_public: bool
    self_commitment: bool


class Summary(Lenient):
    id: uuid.UUID
    uscc: str
    standard_no: str
    standard_type: str
    name: str
    category: str
    region: str
    status: Status
    publication_date: date | None = None
    implementation_date: date | None = None
    current_version: int
    updated_at: datetime


class Disclosure(Summary):
    """A standard in bulk: its summary, enterprise name and current version's indicators."""

    enterprise_name: str
    indicators: list[Indicator] = []


class DeclaredValue(TypedDict, total=False):
    """A declared indicator as a run reads it: the fields a snapshot takes, nothing else."""

    code: str | None
    operator: Required[Literal["≥", "≤", "=", "range"]]
    value: float | None
    value_min: float | None
    value_max: float | None
    unit: str | None


class DisclosureLine(TypedDict):
    """One line of the export as a run reads it (the fields ``Disclosure`` has that a snapshot
    takes), validated into a plain dict: a run reads a whole category, and a model per line
    and per indicator costs three times the parse. The id is checked in the canonical form the
    registry writes, so that it is the string the snapshot pins."""

    id: Annotated[str, Field(pattern=UUID_PATTERN)]
    uscc: str
    standard_no: str
    category: str
    current_version: int
    enterprise_name: str
    implementation_date: NotRequired[date | None]
    indicators: NotRequired[list[DeclaredValue]]


DISCLOSURE_LINE: TypeAdapter[DisclosureLine] = TypeAdapter(DisclosureLine)


class StandardRecord(Summary):
    """One standard with its current version's full content."""

    enterprise_name: str
    withdrawn_reason: str | None = None
    withdrawn_at: datetime | None = None
    created_at: datetime
    content: Content


class VersionRecord(Lenient):
    """One immutable version, exactly as declared."""

    standard_id: uuid.UUID
    n: int
    kind: Literal["initial", "correction", "revision"]
    content: Content
    content_hash: str
    note: str | None = None
    author_role: str
    created_at: datetime


class VocabularyWord(Lenient):
    """One indicator of a category's vocabulary: its code, unit and direction."""

    code: str
    name: str
    unit: str
    direction: Literal["higher", "lower"]
    national_requirement: float | None = None


class CategoryRecord(Lenient):
    """A category of the catalogue (产品/服务类别) with its indicator vocabulary."""

    code: str
    name: str
    parent: str | None = None
    indicators: list[VocabularyWord] = []


class EnterpriseRecord(Lenient):
    """An enterprise's public record (企业)."""

    uscc: str
    name: str
    region: str


class ChangeRecord(Lenient):
    kind: str
    uscc: str
    standard_id: uuid.UUID | None = None
    version: int | None = None
    category: str | None = None
    at: datetime
    cursor: str


class ChangePage(Lenient):
    items: list[ChangeRecord]
    next_cursor: str | None = None


class RegistryClient:
    """Calls to the registry with the caller's service token; errors are ``ServiceError``s."""

    PATHS: ClassVar[dict[str, tuple[str, str]]] = {
        "standards_by_category": ("GET", "/v1/exports/standards"),
        "get_standard": ("GET", "/v1/standards/{standard_id}"),
        "get_version": ("GET", "/v1/standards/{standard_id}/versions/{n}"),
        "changes": ("GET", "/v1/changes"),
        "get_category": ("GET", "/v1/categories/{code}"),
        "get_enterprise": ("GET", "/v1/enterprises/{uscc}"),
    }

    def __init__(
        self,
        base_url: str,
        token: str | Callable[[], str] | None,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
    ) -> None:
        self._http = ServiceClient(
            base_url, token, timeout=timeout, retries=retries, transport=transport
        )

    @classmethod
    def over(cls, http: ServiceClient) -> RegistryClient:
        """A registry client on an existing connection (an app's peer client, which the app
        closes on shutdown)."""
        client = cls.__new__(cls)
        client._http = http
        return client

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def standards_by_category(
        self, category: str, status: Status | None = "current"
    ) -> AsyncIterator[Disclosure]:
        """Every standard of a category with its current indicators, in id order.

        One streamed export request for the whole category, not a call per standard.
        ``status=None`` gives every status.
        """
        params = {"format": "ndjson", "category": category}
        if status is not None:
            params["status"] = status
        async for line in self._http.stream_lines(self.PATHS["standards_by_category"][1], params):
            yield Disclosure.model_validate_json(line)

    async def current_disclosure_lines(self, category: str) -> AsyncIterator[list[DisclosureLine]]:
        """The current standards of a category as a run reads them: the export of
        ``standards_by_category`` in batches of lines, uncompressed (on the services' own
        network compressing costs both sides more time than the bytes it saves)."""
        path = self.PATHS["standards_by_category"][1]
        params = {"format": "ndjson", "category": category, "status": "current"}
        headers = {"Accept-Encoding": "identity"}
        async for lines in self._http.stream_line_batches(path, params, headers):
            yield [DISCLOSURE_LINE.validate_json(line) for line in lines]

    async def get_standard(self, standard_id: uuid.UUID | str) -> StandardRecord:
        # Quoted: the id may come from a caller (a complaint's target) and hold anything.
        path = self.PATHS["get_standard"][1].format(standard_id=quote(str(standard_id), safe=""))
        return await self._http.get_model(path, StandardRecord)

    async def get_version(self, standard_id: uuid.UUID | str, n: int) -> VersionRecord:
        path = self.PATHS["get_version"][1].format(
            standard_id=quote(str(standard_id), safe=""), n=n
        )
        return await self._http.get_model(path, VersionRecord)

    async def get_category(self, code: str) -> CategoryRecord:
        """One category with its vocabulary; ``ServiceNotFound`` when the catalogue lacks it."""
        path = self.PATHS["get_category"][1].format(code=quote(code, safe=""))
        return await self._http.get_model(path, CategoryRecord)

    async def get_enterprise(self, uscc: str) -> EnterpriseRecord:
        """One enterprise; ``ServiceNotFound`` when the registry has none by that code."""
        path = self.PATHS["get_enterprise"][1].format(uscc=quote(uscc, safe=""))
        return await self._http.get_model(path, EnterpriseRecord)

    async def changes(self, after: str | None = None, limit: int = 100) -> ChangePage:
        """One page of the change feed after a cursor (from the start when None).

        At the end of the feed ``next_cursor`` is where to poll from next.
        """
        params: dict[str, Any] = {"limit": limit}
        if after is not None:
            params["after"] = after
        return await self._http.get_model(self.PATHS["changes"][1], ChangePage, params=params)
