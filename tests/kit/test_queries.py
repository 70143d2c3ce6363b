"""kit.queries: a query model validated in one pass documents and answers as FastAPI's own."""

from __future__ import annotations

from typing import Annotated, Literal

import httpx
from fastapi import Depends, FastAPI, Query
from pydantic import BaseModel, Field

from services.kit.problems import install_problem_handlers
from services.kit.queries import query_model


class Things(BaseModel):
    limit: int = Field(default=20, ge=1, le=200, description="page size")
    kind: Literal["a", "b"] | None = None
    name: str | None = Field(default=None, max_length=5, description="a name")


things, THINGS = query_model(Things)


def app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/native")
    async def native(q: Annotated[Things, Query()]) -> dict[str, object]:
        return q.model_dump()

    @app.get("/one-pass", openapi_extra=THINGS)
    async def one_pass(q: Annotated[Things, Depends(things)]) -> dict[str, object]:
        return q.model_dump()

    return app


def test_the_contract_is_what_fastapi_writes_for_the_same_model():
    paths = app().openapi()["paths"]
    assert paths["/one-pass"]["get"]["parameters"] == paths["/native"]["get"]["parameters"]


async def test_values_and_errors_are_what_fastapi_gives():
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for query in ("", "?limit=5&kind=b&name=abc&other=1", "?kind=c&name=toolong", "?limit=x"):
            native = await client.get("/native" + query)
            mine = await client.get("/one-pass" + query)
            assert mine.status_code == native.status_code, query
            assert mine.json() == native.json(), query
    assert native.status_code == 422
    assert native.json()["errors"] == [
        {"field": "limit", "message": mine.json()["errors"][0]["message"]}
    ]
