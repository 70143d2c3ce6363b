"""What each service sends another is what the other's committed contract accepts.

The clients' own code makes the requests (against a transport that records them and answers
404): every one must be an operation of the provider's `openapi/*.json`, with only query
parameters it declares. The bodies that travel through the outboxes (notices, publicity
outcomes, revocations) are validated against the provider's request schemas.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from services.clients import ranking as ranking_client
from services.clients.oversight import NoticeCreate, OversightClient, Subject, Window
from services.clients.ranking import RankingClient
from services.clients.registry import RegistryClient
from services.kit.http import ServiceError

ROOT = Path(__file__).resolve().parent.parent.parent


def contract(service: str) -> dict[str, Any]:
    return dict(json.loads((ROOT / "openapi" / f"{service}.json").read_text(encoding="utf-8")))


def operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    """The operation whose path template matches ``path`` (ids filled in)."""
    for template, ops in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in ops:
            return dict(ops[method.lower()])
    return None


def body_errors(spec: dict[str, Any], method: str, template: str, body: Any) -> list[str]:
    op = spec["paths"][template][method.lower()]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": spec["components"]})
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(body)]


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(404, json={"code": "not_found", "detail": "recorded"})


async def recorded(make_calls: Any) -> list[httpx.Request]:
    recorder = Recorder()
    transport = httpx.MockTransport(recorder.handle)
    await make_calls(transport)
    return recorder.requests


async def _registry_calls(transport: httpx.AsyncBaseTransport) -> None:
    client = RegistryClient("http://registry", "t", transport=transport, retries=0)
    sid = uuid.uuid4()
    for call in (
        client.get_standard(sid),
        client.get_version(sid, 2),
        client.get_category("HA-RICE-COOKER"),
        client.get_enterprise("91120116MA0000000X"),
        client.changes("abc", 50),
    ):
        with contextlib.suppress(ServiceError):
            await call
    with contextlib.suppress(ServiceError):
        async for _ in client.standards_by_category("HA-RICE-COOKER"):
            pass
    with contextlib.suppress(ServiceError):
        async for _ in client.current_disclosure_lines("HA-RICE-COOKER"):
            pass
    await client.aclose()


async def _ranking_calls(transport: httpx.AsyncBaseTransport) -> None:
    client = RankingClient("http://ranking", "t", transport=transport, retries=0)
    for call in (
        client.get_title(str(uuid.uuid4())),
        client.get_plan(str(uuid.uuid4())),
        client.active_title_of(uscc="91120116MA0000000X", standard_no="Q/12TJ 0001-2024"),
    ):
        with contextlib.suppress(ServiceError):
            await call
    await client.aclose()


async def _oversight_calls(transport: httpx.AsyncBaseTransport) -> None:
    client = OversightClient("http://oversight", "t", transport=transport, retries=0)
    with contextlib.suppress(ServiceError):
        await client.exclusions(date(2026, 12, 2))
    await client.aclose()


@pytest.mark.parametrize(
    ("provider", "calls", "expected"),
    [
        ("registry", _registry_calls, 7),
        ("ranking", _ranking_calls, 3),
        ("oversight", _oversight_calls, 1),
    ],
)
async def test_every_client_call_is_an_operation_of_the_provider(provider, calls, expected):
    spec = contract(provider)
    requests = await recorded(calls)
    assert len(requests) == expected  # every call above reached the transport
    wrong = []
    for request in requests:
        op = operation(spec, request.method, request.url.path)
        if op is None:
            wrong.append(f"{request.method} {request.url.path}: no such operation")
            continue
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        unknown = set(request.url.params.keys()) - declared
        if unknown:
            wrong.append(f"{request.method} {request.url.path}: undeclared query {unknown}")
    assert wrong == []


def test_ranking_notices_are_what_oversight_accepts():
    spec = contract("oversight")
    for kind, subject in (("plan_publicity", "plan"), ("shortlist_publicity", "shortlist")):
        notice = NoticeCreate(
            kind=kind,  # type: ignore[arg-type]
            title="评估方案公示",
            body="现予公示5个工作日。",
            subject=Subject(type=subject, id=str(uuid.uuid4())),  # type: ignore[arg-type]
            window=Window(working_days=5),
            payload={"source_id": uuid.uuid4().hex, "plan_id": str(uuid.uuid4()), "version": 2},
        )
        assert body_errors(spec, "POST", "/v1/notices", notice.model_dump(mode="json")) == []
    bad = {"kind": "plan_publicity", "title": "x", "body": "x", "subject_type": "plan"}
    assert body_errors(spec, "POST", "/v1/notices", bad)  # the validator does refuse


def test_oversight_outcomes_and_revocations_are_what_ranking_accepts():
    spec = contract("ranking")
    path, outcome = ranking_client.publicity_outcome(
        {
            "notice_id": str(uuid.uuid4()),
            "source_id": uuid.uuid4().hex,
            "subject": {"type": "shortlist", "id": str(uuid.uuid4())},
            "closed_on": "2026-12-10",
            "objections": 1,
            "upheld": [
                {
                    "case_id": str(uuid.uuid4()),
                    "uscc": "91120116MA0000000X",
                    "title_id": None,
                    "standard_id": str(uuid.uuid4()),
                    "reason": "异议成立",
                }
            ],
        }
    )
    assert operation(spec, "POST", path) is not None
    assert body_errors(spec, "POST", "/v1/publicity-outcomes", outcome) == []
    title = str(uuid.uuid4())
    path, revocation = ranking_client.revocation(
        title,
        {
            "decision_id": str(uuid.uuid4()),
            "case_id": str(uuid.uuid4()),
            "reason": "抽检不合格",
            "decided_at": datetime.now(UTC).isoformat(),
        },
    )
    assert operation(spec, "POST", path) is not None
    assert body_errors(spec, "POST", "/v1/titles/{title_id}/revocation", revocation) == []
