"""Steps of the forerunner cycle over the three services' public APIs (sync httpx).

Shared by ``make demo`` (``scripts/demo/seed.py``) and the end-to-end walk (``tests/e2e``).
Tokens are minted with the signing configuration the services read (``FORERUNNER_JWT_SECRET``
and the rest), as ``python -m services.kit.auth mint`` does.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx

from services.kit.auth import Role, mint_token
from services.kit.settings import ServiceSettings

T = TypeVar("T")


class _Settings(ServiceSettings):
    service_name = "cli"


@functools.cache
def _signing() -> _Settings:
    settings = _Settings()
    if settings.jwt_algorithm != "HS256" or settings.jwt_secret is None:
        raise RuntimeError("minting tokens needs an HS256 secret (FORERUNNER_JWT_SECRET)")
    return settings


def bearer(role: Role | str, org: str | None = None, sub: str | None = None) -> dict[str, str]:
    settings = _signing()
    assert settings.jwt_secret is not None
    token = mint_token(
        settings.jwt_secret.get_secret_value(),
        role=role,
        sub=sub or f"{role}:{org or 'local'}",
        org=org,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    return {"Authorization": f"Bearer {token}"}


def regulator() -> dict[str, str]:
    return bearer("regulator", sub="regulator:tianjin-amr")


def ok(response: httpx.Response, *statuses: int) -> Any:
    assert response.status_code in (statuses or (200, 201)), (
        f"{response.request.method} {response.request.url}: {response.status_code} "
        f"{response.text[:500]}"
    )
    return response.json() if response.content else None


def wait_for(check: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.2) -> T:
    """Poll ``check()`` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout} s")
        time.sleep(interval)


def items(
    client: httpx.Client, path: str, params: dict[str, Any] | None = None, **kw: Any
) -> Iterator[dict[str, Any]]:
    """Every item of a paged list, following ``next_cursor``."""
    query: dict[str, Any] = {**(params or {}), "limit": 200}
    while True:
        page = ok(client.get(path, params=query, **kw))
        yield from page["items"]
        if not page.get("next_cursor"):
            return
        query["cursor"] = page["next_cursor"]


def with_etag(client: httpx.Client, url: str, headers: dict[str, str]) -> dict[str, str]:
    """``headers`` plus ``If-Match`` with the resource's current ETag."""
    current = client.get(url, headers=headers)
    ok(current)
    return {**headers, "If-Match": current.headers["ETag"]}


def evaluation_body(
    ranking: httpx.Client,
    *,
    name: str,
    uscc: str,
    areas: list[str],
    contact: dict[str, str],
    applicant: dict[str, str],
) -> tuple[str, dict[str, str]]:
    """An evaluation body applies for key areas and a regulator approves it; its id and the
    headers of its token."""
    applied = ok(
        ranking.post(
            "/v1/evaluators",
            json={"name": name, "uscc": uscc, "contact": contact, "key_areas": areas},
            headers=applicant,
        )
    )
    body_id = str(applied["id"])
    ok(
        ranking.post(
            f"/v1/evaluators/{body_id}/approval",
            json={"decision": "approved"},
            headers=regulator(),
        )
    )
    return body_id, bearer("evaluator", org=body_id, sub=f"evaluator:{body_id}")


def expert(ranking: httpx.Client, subject: str, name: str, affiliation: str) -> dict[str, str]:
    """A regulator registers an expert; the headers of the expert's token."""
    ok(
        ranking.post(
            "/v1/experts",
            json={"subject": subject, "name": name, "affiliation": affiliation},
            headers=regulator(),
        )
    )
    return bearer("expert", sub=subject)


def draft_plan(
    ranking: httpx.Client, area: str, content: dict[str, Any], own: dict[str, str]
) -> str:
    return str(
        ok(ranking.post("/v1/plans", json={"key_area_id": area, **content}, headers=own))["id"]
    )


def submit(ranking: httpx.Client, plan_id: str, own: dict[str, str]) -> None:
    url = f"/v1/plans/{plan_id}"
    ok(ranking.post(f"{url}/submission", headers=with_etag(ranking, url, own)))


def review(ranking: httpx.Client, plan_id: str, reviewer: dict[str, str], comments: str) -> None:
    ok(
        ranking.post(
            f"/v1/plans/{plan_id}/reviews",
            json={"verdict": "approve", "comments": comments},
            headers=reviewer,
        )
    )


def reviewed_plan(
    ranking: httpx.Client,
    area: str,
    content: dict[str, Any],
    own: dict[str, str],
    reviewers: list[dict[str, str]],
) -> str:
    """Draft, submit, and approve by each reviewer: the plan goes to publicity."""
    plan_id = draft_plan(ranking, area, content, own)
    submit(ranking, plan_id, own)
    for reviewer in reviewers:
        review(ranking, plan_id, reviewer, "指标设置合理，基准值与国家标准一致")
    return plan_id


def plan_state(ranking: httpx.Client, plan_id: str, own: dict[str, str]) -> str:
    return str(ok(ranking.get(f"/v1/plans/{plan_id}", headers=own))["latest_state"])


def activate(ranking: httpx.Client, plan_id: str, own: dict[str, str]) -> None:
    url = f"/v1/plans/{plan_id}"
    ok(
        ranking.post(
            f"{url}/decision", json={"action": "activate"}, headers=with_etag(ranking, url, own)
        )
    )


def run(ranking: httpx.Client, plan_id: str, own: dict[str, str]) -> dict[str, Any]:
    """Start a run and wait until it succeeded or failed."""
    started = ranking.post(f"/v1/plans/{plan_id}/runs", headers=own)
    ok(started, 202)
    location = started.headers["Location"]

    def finished() -> dict[str, Any] | None:
        state = ok(ranking.get(location, headers=own))  # public only once it succeeded
        return state if state["state"] in ("succeeded", "failed") else None

    return dict(wait_for(finished, timeout=60))


def notices(
    oversight: httpx.Client, kind: str, subject_id: str | None = None
) -> list[dict[str, Any]]:
    params = {"kind": kind, **({"subject_id": subject_id} if subject_id else {})}
    return list(items(oversight, "/v1/notices", params))


def notice_about(oversight: httpx.Client, kind: str, subject_id: str) -> dict[str, Any] | None:
    for notice in notices(oversight, kind, subject_id):
        if (notice.get("subject") or {}).get("id") == subject_id:
            return notice
    return None


def titles_of(ranking: httpx.Client, holders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The active titles of these enterprises, once each has one (else an empty list)."""
    found = []
    for holder in holders:
        listed = ok(ranking.get("/v1/forerunners", params={"uscc": holder["uscc"]}))["items"]
        if not listed:
            return []
        found.append(listed[0])
    return found


def transition(oversight: httpx.Client, case_id: str, step: dict[str, Any]) -> None:
    url = f"/v1/cases/{case_id}"
    ok(
        oversight.post(
            f"{url}/transitions", json=step, headers=with_etag(oversight, url, regulator())
        )
    )


def decide(oversight: httpx.Client, case_id: str, outcome: str, reason: str) -> None:
    """Accept, investigate and decide a case, as a regulator."""
    for step in (
        {"action": "accept"},
        {"action": "investigate"},
        {"action": "decide", "outcome": outcome, "reason": reason},
    ):
        transition(oversight, case_id, step)
