"""problem+json for every error, and token verification."""

from __future__ import annotations

import time

import jwt
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import Role, mint_token
from services.kit.settings import DEV_JWT_SECRET
from services.registry.models import kit_tables
from tests.conftest import auth

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    assert body["title"]
    assert body["detail"]
    return body


async def count_audit(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(kit_tables.audit))).scalar_one()


async def test_unknown_route_is_problem_404(kit_client):
    assert_problem(await kit_client.get("/v1/nowhere"), 404, "not_found")


async def test_wrong_method_is_problem_405(kit_client):
    assert_problem(await kit_client.delete("/v1/kit/things"), 405, "method_not_allowed")


async def test_malformed_json_is_422_and_writes_nothing(kit_client, session):
    response = await kit_client.post(
        "/v1/kit/things",
        content=b'{"name": "a", "size": ',
        headers={**auth(Role.regulator), "content-type": "application/json"},
    )
    body = assert_problem(response, 422, "validation_failed")
    assert body["errors"][0]["message"] == "malformed JSON"
    assert await count_audit(session) == 0


async def test_wrong_types_and_unknown_fields_name_the_field(kit_client, session):
    response = await kit_client.post(
        "/v1/kit/things", json={"name": "a", "size": "big", "colour": "red"}, headers=auth("sync")
    )
    body = assert_problem(response, 422, "validation_failed")
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"size", "colour"}
    assert await count_audit(session) == 0


async def test_oversized_body_is_413(kit_client, session):
    response = await kit_client.post(
        "/v1/kit/things", json={"name": "x" * 10_000, "size": 1}, headers=auth("sync")
    )
    assert_problem(response, 413, "payload_too_large")
    assert await count_audit(session) == 0


async def test_oversized_chunked_body_is_413(kit_client, session):
    async def chunks():
        yield b'{"name": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'", "size": 1}'

    response = await kit_client.post(
        "/v1/kit/things",
        content=chunks(),
        headers={**auth("sync"), "content-type": "application/json"},
    )
    assert_problem(response, 413, "payload_too_large")
    assert await count_audit(session) == 0


async def test_crash_is_500_without_internals(kit_client, session):
    response = await kit_client.post(
        "/v1/kit/things-then-crash", json={"name": "a", "size": 1}, headers={"X-Request-ID": "r-1"}
    )
    body = assert_problem(response, 500, "internal_error")
    text = response.text
    for leak in ("hunter2", "SELECT", "secret_table", "RuntimeError", "Traceback", "registry"):
        assert leak not in text
    assert response.headers["x-request-id"] == "r-1"
    assert set(body) == {"type", "title", "status", "detail", "code"}


async def test_request_id_is_generated_when_absent_or_invalid(kit_client):
    response = await kit_client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    generated = response.headers["x-request-id"]
    assert generated != "bad id with spaces"
    assert len(generated) == 32


async def test_missing_token_is_401(kit_client):
    response = await kit_client.get("/v1/kit/whoami")
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_valid_token_gives_principal(kit_client):
    response = await kit_client.get("/v1/kit/whoami", headers=auth("enterprise", "ORG1", "u1"))
    assert response.json() == {"sub": "u1", "role": "enterprise", "org": "ORG1"}


async def test_expired_token_is_refused(kit_client):
    expired = mint_token(DEV_JWT_SECRET, role="regulator", sub="r", ttl_seconds=-3600)
    response = await kit_client.get(
        "/v1/kit/whoami", headers={"Authorization": f"Bearer {expired}"}
    )
    assert_problem(response, 401, "token_expired")


async def test_wrong_audience_and_issuer_are_refused(kit_client):
    for kw in ({"audience": "someone-else"}, {"issuer": "elsewhere"}):
        foreign = mint_token(DEV_JWT_SECRET, role="regulator", sub="r", **kw)
        response = await kit_client.get(
            "/v1/kit/whoami", headers={"Authorization": f"Bearer {foreign}"}
        )
        assert_problem(response, 401, "invalid_token")


async def test_foreign_signature_and_alg_none_are_refused(kit_client):
    forged = mint_token("another-secret-of-sufficient-length-0123456789", role="regulator", sub="r")
    claims = {
        "sub": "r",
        "role": "regulator",
        "iss": "forerunner",
        "aud": "forerunner",
        "exp": int(time.time()) + 60,
    }
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    for bad in (forged, unsigned, "not-a-jwt"):
        response = await kit_client.get(
            "/v1/kit/whoami", headers={"Authorization": f"Bearer {bad}"}
        )
        assert_problem(response, 401, "invalid_token")


async def test_non_bearer_authorization_is_refused(kit_client):
    response = await kit_client.get("/v1/kit/whoami", headers={"Authorization": "Basic abc"})
    assert_problem(response, 401, "unauthorized")


async def test_unknown_role_and_missing_org_are_refused(kit_client):
    for kw in ({"role": "enterprise", "org": None},):
        tok = mint_token(DEV_JWT_SECRET, sub="x", **kw)
        response = await kit_client.get(
            "/v1/kit/whoami", headers={"Authorization": f"Bearer {tok}"}
        )
        assert_problem(response, 401, "invalid_token")
    claims = {
        "sub": "x",
        "role": "emperor",
        "iss": "forerunner",
        "aud": "forerunner",
        "exp": int(time.time()) + 60,
    }
    tok = jwt.encode(claims, DEV_JWT_SECRET, algorithm="HS256")
    response = await kit_client.get("/v1/kit/whoami", headers={"Authorization": f"Bearer {tok}"})
    assert_problem(response, 401, "invalid_token")


async def test_role_check_is_403(kit_client):
    assert_problem(
        await kit_client.get("/v1/kit/regulated", headers=auth("enterprise", "ORG")),
        403,
        "forbidden",
    )
    ok = await kit_client.get("/v1/kit/regulated", headers=auth("regulator", sub="reg-1"))
    assert ok.json() == {"sub": "reg-1"}


def test_mint_command_prints_a_verifiable_token(capsys):
    from services.kit.auth import TokenVerifier, main
    from services.registry.settings import RegistrySettings

    assert main(["mint", "--role", "enterprise", "--org", "91120116MA05JXXX0X"]) == 0
    printed = capsys.readouterr().out.strip()
    principal = TokenVerifier(RegistrySettings()).verify(printed)
    assert principal.role == Role.enterprise
    assert principal.org == "91120116MA05JXXX0X"
    assert main(["mint", "--role", "enterprise"]) == 2


def test_service_token_is_renewed_before_it_expires():
    from services.kit.auth import ServiceTokenProvider, TokenVerifier
    from services.ranking.settings import RankingSettings

    settings = RankingSettings()
    now = [time.time()]
    provider = ServiceTokenProvider(settings, ttl_seconds=600, clock=lambda: now[0])
    first = provider()
    assert provider() == first  # cached while fresh
    principal = TokenVerifier(settings).verify(first)
    assert (principal.role, principal.sub) == (Role.service, "service:ranking")
    now[0] += 400  # inside the renewal window (300 s before expiry)
    second = provider()
    assert second != first
    claims = jwt.decode(second, options={"verify_signature": False})
    assert claims["exp"] == int(now[0]) + 600
    fixed = ServiceTokenProvider(RankingSettings(service_token="configured-token"))
    assert fixed() == "configured-token"
