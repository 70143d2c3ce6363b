"""The public read path: what it serves equals the schema, and it is cacheable."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.kit.pagination import Page
from services.registry.standards import service
from services.registry.standards.schemas import StandardOut, StandardSummary
from tests.conftest import auth
from tests.registry.conftest import declare, make_uscc, register, standard_body


@pytest.fixture(autouse=True, params=["from the database", "kept in memory"])
def reads(request: pytest.FixtureRequest, registry_client: httpx.AsyncClient) -> str:
    """Every test here twice: reads from the database, and reads kept in memory (kit.fresh)
    as with a live listener: what a caller is shown, and when, must be the same."""
    app = registry_client._transport.app  # type: ignore[attr-defined]
    app.state.db.read_cache.listening = request.param == "kept in memory"
    return str(request.param)


async def test_served_standard_equals_the_models_view(registry_client, enterprise, session):
    sid = (await declare(registry_client, enterprise)).json()["id"]
    served = await registry_client.get(f"/v1/standards/{sid}")
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"
    _, expected = await service.get_view(session, uuid.UUID(sid), None)
    assert StandardOut.model_validate_json(served.content) == expected
    assert served.json() == expected.model_dump(mode="json")


async def test_standard_etag_304_and_a_new_version_changes_it(registry_client, enterprise):
    sid = (await declare(registry_client, enterprise)).json()["id"]
    first = await registry_client.get(f"/v1/standards/{sid}")
    etag = first.headers["etag"]
    assert etag == '"1"'
    assert first.headers["cache-control"].startswith("public")
    cached = await registry_client.get(f"/v1/standards/{sid}", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag

    content = {k: v for k, v in standard_body(enterprise).items() if k != "uscc"}
    content["name"] = "智能电饭锅企业标准（第二版）"
    changed = await registry_client.post(
        f"/v1/standards/{sid}/versions",
        json={"kind": "revision", "content": content},
        headers={**auth("enterprise", enterprise), "If-Match": etag},
    )
    assert changed.status_code == 201, changed.text
    again = await registry_client.get(f"/v1/standards/{sid}", headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert again.headers["etag"] != etag
    assert again.json()["name"] == "智能电饭锅企业标准（第二版）"


async def test_an_enterprise_rename_changes_its_standards_etag(registry_client, enterprise):
    sid = (await declare(registry_client, enterprise)).json()["id"]
    other = (await declare(registry_client, enterprise, standard_no="Q/12TJ 0002-2024")).json()
    before = await registry_client.get(f"/v1/standards/{sid}")
    etag = before.headers["etag"]
    tag = (await registry_client.get(f"/v1/enterprises/{enterprise}")).headers["etag"]
    renamed = await registry_client.patch(
        f"/v1/enterprises/{enterprise}",
        json={"name": "天津新名字电器有限公司"},
        headers={**auth("enterprise", enterprise), "If-Match": tag},
    )
    assert renamed.status_code == 200, renamed.text

    after = await registry_client.get(f"/v1/standards/{sid}", headers={"If-None-Match": etag})
    assert after.status_code == 200  # the cached copy names the old enterprise
    assert after.headers["etag"] != etag
    assert after.json()["enterprise_name"] == "天津新名字电器有限公司"
    assert after.json()["current_version"] == 1  # the content did not change
    stale = await registry_client.post(
        f"/v1/standards/{other['id']}/withdrawal",
        json={"reason": "被新标准替代"},
        headers={**auth("enterprise", enterprise), "If-Match": '"1"'},
    )
    assert stale.status_code == 412


async def test_a_callers_own_view_is_private_and_a_hidden_one_404_to_others(registry_client):
    uscc = make_uscc()
    await register(registry_client, uscc)
    sid = (await declare(registry_client, uscc)).json()["id"]
    own = await registry_client.get(f"/v1/standards/{sid}", headers=auth("enterprise", uscc))
    assert own.headers["cache-control"].startswith("private")
    current = await registry_client.get(f"/v1/enterprises/{uscc}", headers=auth("regulator"))
    blocked = await registry_client.patch(
        f"/v1/enterprises/{uscc}",
        json={"blocked": True, "blocked_reason": "虚假声明，责令整改"},
        headers={**auth("regulator"), "If-Match": current.headers["ETag"]},
    )
    assert blocked.status_code == 200
    assert (await registry_client.get(f"/v1/standards/{sid}")).status_code == 404
    other = auth("enterprise", make_uscc())
    assert (await registry_client.get(f"/v1/standards/{sid}", headers=other)).status_code == 404
    owner = await registry_client.get(f"/v1/standards/{sid}", headers=auth("enterprise", uscc))
    assert owner.status_code == 200
    hits = await registry_client.get("/v1/standards", params={"uscc": uscc})
    assert hits.json()["items"] == []
    mine = await registry_client.get(
        "/v1/standards", params={"uscc": uscc}, headers=auth("enterprise", uscc)
    )
    assert [s["id"] for s in mine.json()["items"]] == [sid]


async def test_search_page_is_the_schema_and_answers_304(registry_client, enterprise):
    await declare(registry_client, enterprise)
    response = await registry_client.get("/v1/standards", params={"q": "电饭", "limit": 5})
    assert response.status_code == 200
    page = Page[StandardSummary].model_validate_json(response.content)
    assert page.items
    assert all("电饭" in s.name for s in page.items)
    etag = response.headers["etag"]
    cached = await registry_client.get(
        "/v1/standards", params={"q": "电饭", "limit": 5}, headers={"If-None-Match": etag}
    )
    assert cached.status_code == 304


async def test_unknown_standard_is_a_problem_404(registry_client):
    response = await registry_client.get(f"/v1/standards/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_public_answer_is_served_before_routing_and_a_hidden_one_never(
    registry_client, reads
):
    """Kept by its URL, a public standard or search page is answered without the routes;
    a hidden standard is no public answer, so its owner still goes through the route."""
    app = registry_client._transport.app  # type: ignore[attr-defined]
    app.state.db.read_cache.listening = True
    uscc = make_uscc()
    await register(registry_client, uscc)
    shown = (await declare(registry_client, uscc)).json()["id"]
    first = await registry_client.get(f"/v1/standards/{shown}")
    search = await registry_client.get("/v1/standards", params={"uscc": uscc})
    current = await registry_client.get(f"/v1/enterprises/{uscc}", headers=auth("regulator"))
    routes = app.router.routes
    app.router.routes = []
    try:
        again = await registry_client.get(f"/v1/standards/{shown}")
        assert again.status_code == 200
        assert again.content == first.content
        assert again.headers["etag"] == first.headers["etag"]
        page = await registry_client.get("/v1/standards", params={"uscc": uscc})
        assert page.content == search.content
        # With credentials the route is needed: gone, it is a 404 of the router.
        own = await registry_client.get(f"/v1/standards/{shown}", headers=auth("enterprise", uscc))
        assert own.status_code == 404
    finally:
        app.router.routes = routes
    blocked = await registry_client.patch(
        f"/v1/enterprises/{uscc}",
        json={"blocked": True, "blocked_reason": "虚假声明，责令整改"},
        headers={**auth("regulator"), "If-Match": current.headers["ETag"]},
    )
    assert blocked.status_code == 200
    for _ in range(2):  # the second asks what the first kept: still nothing to show
        assert (await registry_client.get(f"/v1/standards/{shown}")).status_code == 404
        assert (await registry_client.get("/v1/standards", params={"uscc": uscc})).json()[
            "items"
        ] == []
    owner = await registry_client.get(f"/v1/standards/{shown}", headers=auth("enterprise", uscc))
    assert owner.status_code == 200
