"""/v1/categories: the catalogue as served, its pages and its caching."""

from __future__ import annotations

from services.kit.pagination import Page
from services.registry.catalogue import load_catalogue
from services.registry.categories.schemas import CategoryOut


async def test_one_category_is_the_shipped_one_in_order(registry_client):
    shipped = {c.code: c for c in load_catalogue()}
    response = await registry_client.get("/v1/categories/HA-RICE-COOKER")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    out = CategoryOut.model_validate_json(response.content)  # the declared schema holds
    spec = shipped["HA-RICE-COOKER"]
    assert (out.code, out.name, out.parent, out.gbt4754) == (
        spec.code,
        spec.name,
        spec.parent,
        spec.gbt4754,
    )
    assert [(w.code, w.unit, w.direction, w.national_requirement) for w in out.indicators] == [
        (i.code, i.unit, i.direction, i.national_requirement) for i in spec.indicators
    ]


async def test_unknown_category_is_a_problem_404(registry_client):
    response = await registry_client.get("/v1/categories/NOPE")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


async def test_pages_cover_the_catalogue_once_in_code_order(registry_client):
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        response = await registry_client.get("/v1/categories", params=params)
        assert response.status_code == 200, response.text
        page = Page[CategoryOut].model_validate_json(response.content)
        assert len(page.items) <= 7
        seen += [c.code for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted(c.code for c in load_catalogue())
    bad = await registry_client.get("/v1/categories", params={"cursor": "not-ours"})
    assert bad.status_code == 422


async def test_strong_etag_cache_control_and_304(registry_client):
    first = await registry_client.get("/v1/categories/HA-RICE-COOKER")
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert not etag.startswith("W/")
    assert first.headers["cache-control"].startswith("public")
    again = await registry_client.get(
        "/v1/categories/HA-RICE-COOKER", headers={"If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = await registry_client.get("/v1/categories/HA", headers={"If-None-Match": etag})
    assert other.status_code == 200
    assert other.headers["etag"] != etag
    listing = await registry_client.get("/v1/categories")
    cached = await registry_client.get(
        "/v1/categories", headers={"If-None-Match": listing.headers["etag"]}
    )
    assert cached.status_code == 304
