"""Runs end to end with the live registry app (oversight stubbed): state, lists, explanations,
verification, failures that leave nothing half-stored, and who may do what."""

from __future__ import annotations

import gc
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from services.clients.registry import RegistryClient
from services.kit.clock import FixedClock
from services.ranking import engine
from services.ranking.models import RunResult, RunSnapshot
from services.ranking.runs import snapshot as snap
from services.ranking.runs import worker
from tests.conftest import auth, token
from tests.ranking.conftest import REGULATOR, body_for, indicator, key_area
from tests.ranking.plan_flow import active_plan, create
from tests.registry.conftest import make_uscc
from tests.registry.test_sync import item, push, source

# (thermal efficiency %, standby power W): ties on purpose (B and C, D and E).
VALUES = {"A": (92.0, 0.6), "B": (90.0, 0.8), "C": (90.0, 0.8), "D": (85.0, 1.0), "E": (85.0, 1.0)}


async def seed(registry_http: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """Five rice cookers of five enterprises, one below baseline, one missing an indicator."""
    items, usccs = [], {}
    for n, (label, (eff, standby)) in enumerate(VALUES.items(), start=1):
        uscc = make_uscc()
        usccs[label] = uscc
        indicators = [
            {"code": "thermal_efficiency", "operator": "≥", "value": eff, "unit": "%"},
            {"code": "standby_power", "operator": "≤", "value": standby, "unit": "W"},
        ]
        items.append(item(uscc, source(), n, indicators=indicators))
    low = make_uscc()
    items.append(
        item(
            low,
            source(),
            7,
            indicators=[
                {"code": "thermal_efficiency", "operator": "≥", "value": 75, "unit": "%"},
                {"code": "standby_power", "operator": "≤", "value": 0.5, "unit": "W"},
            ],
        )
    )
    gap = make_uscc()
    items.append(
        item(
            gap,
            source(),
            8,
            indicators=[
                {"code": "thermal_efficiency", "operator": "≥", "value": 95, "unit": "%"},
            ],
        )
    )
    report = await push(registry_http, items)
    ids = [r["standard_id"] for r in report["items"]]
    labels = [*VALUES, "LOW", "GAP"]
    uscc_of = {**usccs, "LOW": low, "GAP": gap}
    return {
        label: {"id": sid, "uscc": uscc_of[label]} for label, sid in zip(labels, ids, strict=True)
    }


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(worker, "FETCH_BACKOFF_SECONDS", 0)


async def ready(api, session, registry_http, **plan_over: Any):
    seeded = await seed(registry_http)
    area = await key_area(api)
    _body_id, own = await body_for(api, [area])
    plan_id = await active_plan(api, session, area, own, **plan_over)
    return seeded, plan_id, own


async def run_once(api, ranking_app, plan_id: str, own: dict[str, str]) -> dict[str, Any]:
    started = await api.post(f"/v1/plans/{plan_id}/runs", headers=own)
    assert started.status_code == 202, started.text
    assert started.json()["state"] == "queued"
    location = started.headers["Location"]
    assert location == f"/v1/runs/{started.json()['id']}"
    assert await worker.run_step(ranking_app) == 1
    return (await api.get(location, headers=own)).json()


async def all_pages(api, url: str, **params: Any) -> list[dict[str, Any]]:
    out, cursor = [], None
    while True:
        page = await api.get(
            url, params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        out.extend(page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return out


async def test_a_run_end_to_end_agrees_with_the_engine(api, ranking_app, session, registry_http):
    seeded, plan_id, own = await ready(api, session, registry_http)
    run = await run_once(api, ranking_app, plan_id, own)
    assert run["state"] == "succeeded", run
    assert (run["n_candidates"], run["n_eligible"], run["plan_version"]) == (7, 5, 1)
    assert run["engine_version"] == engine.ENGINE_VERSION
    assert len(run["input_digest"]) == len(run["result_digest"]) == 64

    rows = await all_pages(api, f"/v1/runs/{run['id']}/rankings")
    by_id = {r["standard_id"]: r for r in rows}
    a, b, c = (by_id[seeded[x]["id"]] for x in "ABC")
    assert (a["rank"], b["rank"], c["rank"]) == (1, 2, 2)
    assert (a["tied"], b["tied"], c["tied"]) == (False, True, True)
    assert b["position"] < c["position"]
    assert b["standard_no"] < c["standard_no"]
    assert [r["selected"] for r in rows[:3]] == [True, True, True]  # top 2 takes the whole tie
    assert run["selection"]["HA-RICE-COOKER"]["tie_extended"] is True
    assert [r["eligible"] for r in rows[-2:]] == [False, False]
    assert by_id[seeded["A"]["id"]]["uscc"] == seeded["A"]["uscc"]
    assert all(r["standard_version"] == 1 for r in rows)

    # The same snapshot through the engine directly gives the same list.
    snapshot = (await api.get(f"/v1/runs/{run['id']}/snapshot")).json()
    direct = engine.rank(snap.batch(snapshot))
    assert direct.result_digest() == run["result_digest"]
    assert [o.standard_id for o in direct.category("HA-RICE-COOKER").ranking()] == [
        r["standard_id"] for r in rows
    ]
    assert [o.score for o in direct.category("HA-RICE-COOKER").ranking()] == [
        r["score"] for r in rows
    ]
    why = await api.get(f"/v1/runs/{run['id']}/explanations/{seeded['D']['id']}")
    assert why.status_code == 200
    expected = engine.explain(direct, seeded["D"]["id"]).to_dict()
    assert why.json()["score_gap"] == expected["score_gap"]
    assert why.json()["indicators"][0]["value_needed"] == expected["indicators"][0]["value_needed"]
    low = (await api.get(f"/v1/runs/{run['id']}/explanations/{seeded['LOW']['id']}")).json()
    assert low["reasons"] == [
        {"reason": "below_baseline", "indicator": "thermal_efficiency", "detail": None}
    ]
    gap = (await api.get(f"/v1/runs/{run['id']}/explanations/{seeded['GAP']['id']}")).json()
    assert gap["reasons"][0]["reason"] == "missing"
    nowhere = await api.get(f"/v1/runs/{run['id']}/explanations/{uuid.uuid4()}")
    assert nowhere.status_code == 404

    # Tier lists: tier by tier, standard-number order inside a tier.
    tiers = await all_pages(api, f"/v1/runs/{run['id']}/rankings", indicator="thermal_efficiency")
    assert [t["tier"] for t in tiers] == sorted(t["tier"] for t in tiers)
    assert len(tiers) == 5
    bad = await api.get(f"/v1/runs/{run['id']}/rankings", params={"indicator": "noise"})
    assert bad.json()["errors"][0]["field"] == "indicator"

    # Verification passes; a tampered stored row is caught.
    verified = (await api.get(f"/v1/runs/{run['id']}/verification")).json()
    assert verified["verified"] is True, verified
    await session.execute(
        update(RunResult)
        .where(
            RunResult.run_id == uuid.UUID(run["id"]),
            RunResult.standard_id == uuid.UUID(seeded["D"]["id"]),
        )
        .values(score=99.0)
    )
    tampered = (await api.get(f"/v1/runs/{run['id']}/verification")).json()
    assert tampered["verified"] is False
    assert tampered["rows_in_database"]["matches"] is False
    assert tampered["result_digest"]["matches"] is True
    assert tampered["mismatched_standards"] == [seeded["D"]["id"]]

    # A succeeded run never changes: the worker has nothing more to do.
    assert await worker.run_step(ranking_app) == 0
    assert (await api.get(f"/v1/runs/{run['id']}")).json() == run


async def test_the_collector_is_held_off_while_a_run_is_carried_out(
    api, ranking_app, session, registry_http, monkeypatch
):
    _, plan_id, own = await ready(api, session, registry_http)
    real_rank, real_seal, seen = worker.rank, worker.seal, []

    def rank(inputs: snap.Inputs) -> worker.Ranked:
        seen.append(gc.isenabled())
        return real_rank(inputs)

    def seal(ranked: worker.Ranked) -> worker.Sealed:
        seen.append(gc.isenabled())
        return real_seal(ranked)

    monkeypatch.setattr(worker, "rank", rank)
    monkeypatch.setattr(worker, "seal", seal)
    assert gc.isenabled()
    run = await run_once(api, ranking_app, plan_id, own)
    assert (run["state"], seen) == ("succeeded", [False, False])
    assert gc.isenabled()


def test_the_collector_pause_ends_with_the_last_run_whatever_happens():
    assert gc.isenabled()
    with worker.collector_paused():
        with worker.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # another run is still under way
    assert gc.isenabled()
    with pytest.raises(RuntimeError), worker.collector_paused():
        raise RuntimeError("the run broke")
    assert gc.isenabled()
    gc.disable()
    try:
        with worker.collector_paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


async def test_exclusions_from_oversight_are_applied(
    api, ranking_app, session, registry_http, oversight
):
    seeded, plan_id, own = await ready(api, session, registry_http)
    oversight.exclusions = [
        {"uscc": seeded["A"]["uscc"], "reason": "弄虚作假", "ends_on": "2027-01-01"}
    ]
    try:
        run = await run_once(api, ranking_app, plan_id, own)
    finally:
        oversight.exclusions = []
    assert run["n_eligible"] == 4
    why = (await api.get(f"/v1/runs/{run['id']}/explanations/{seeded['A']['id']}")).json()
    assert why["reasons"][0]["reason"] == "pre_excluded"
    assert "弄虚作假" in why["reasons"][0]["detail"]


async def test_exclusions_are_asked_for_the_beijing_date(
    api, ranking_app, session, registry_http, oversight
):
    # 16:30 UTC on 2 March is 00:30 on 3 March in Beijing, the date oversight's exclusions
    # start and end on: one decided that morning is already in force.
    clock: FixedClock = ranking_app.state.clock
    before = clock.now()
    clock.set(datetime(2026, 3, 2, 16, 30, tzinfo=UTC))
    try:
        _, plan_id, own = await ready(api, session, registry_http)
        await run_once(api, ranking_app, plan_id, own)
    finally:
        clock.set(before)
    assert oversight.asked_on == "2026-03-03"


async def test_without_oversight_the_run_fails_with_a_reason(
    api, ranking_app, session, registry_http, oversight
):
    _, plan_id, own = await ready(api, session, registry_http)
    oversight.up = False
    try:
        run = await run_once(api, ranking_app, plan_id, own)
    finally:
        oversight.up = True
    assert run["state"] == "failed"
    assert "oversight could not be reached" in run["reason"]
    stored = await session.execute(
        select(func.count()).select_from(RunResult).where(RunResult.run_id == uuid.UUID(run["id"]))
    )
    assert stored.scalar_one() == 0
    refused = await api.get(f"/v1/runs/{run['id']}/rankings", headers=own)
    assert (refused.status_code, refused.json()["code"]) == (409, "run_not_succeeded")
    assert (await api.get(f"/v1/runs/{run['id']}")).status_code == 404  # not public


async def test_a_failure_while_sealing_leaves_no_rows_and_fails_the_run(
    api, ranking_app, session, registry_http, monkeypatch
):
    """The rows go in while a thread seals the run: if sealing breaks, the COPY is undone."""
    _, plan_id, own = await ready(api, session, registry_http)

    def seal(ranked: worker.Ranked) -> worker.Sealed:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(worker, "seal", seal)
    run = await run_once(api, ranking_app, plan_id, own)
    assert (run["state"], run["reason"]) == ("failed", "internal error (ZeroDivisionError)")
    run_id = uuid.UUID(run["id"])
    for table in (RunResult, RunSnapshot):
        stored = await session.execute(
            select(func.count()).select_from(table).where(table.run_id == run_id)
        )
        assert stored.scalar_one() == 0


class BreakingExport(httpx.AsyncBaseTransport):
    """The registry, except that the first ``breaks`` exports stop after one line."""

    def __init__(self, app: Any, breaks: int) -> None:
        self.inner = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.breaks = breaks
        self.exports = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path != "/v1/exports/standards":
            return response
        self.exports += 1
        if self.exports > self.breaks:
            return response
        body = await response.aread()
        first = body.split(b"\n", 1)[0] + b"\n"

        class Broken(httpx.AsyncByteStream):
            async def __aiter__(self):
                yield first
                raise httpx.RemoteProtocolError("connection dropped")

        # The body was decoded above: send it on plain, whatever encoding it came in.
        headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-encoding", "content-length")
        }
        return httpx.Response(200, headers=headers, stream=Broken())


@pytest.mark.parametrize(("breaks", "state"), [(1, "succeeded"), (5, "failed")])
async def test_a_registry_failure_midway_is_retried_or_fails_cleanly(
    api, ranking_app, registry_app, session, registry_http, fast_retries, breaks, state
):
    _, plan_id, own = await ready(api, session, registry_http)
    flaky = BreakingExport(registry_app, breaks)
    real = ranking_app.state.registry
    ranking_app.state.registry = RegistryClient(
        "http://registry", token("service"), transport=flaky
    )
    try:
        run = await run_once(api, ranking_app, plan_id, own)
    finally:
        await ranking_app.state.registry.aclose()
        ranking_app.state.registry = real
    assert run["state"] == state, run
    run_id = uuid.UUID(run["id"])
    rows = (
        await session.execute(
            select(func.count()).select_from(RunResult).where(RunResult.run_id == run_id)
        )
    ).scalar_one()
    snaps = (
        await session.execute(
            select(func.count()).select_from(RunSnapshot).where(RunSnapshot.run_id == run_id)
        )
    ).scalar_one()
    if state == "succeeded":
        assert (rows, snaps, flaky.exports) == (7, 1, 2)
    else:
        assert (rows, snaps, flaky.exports) == (0, 0, 3)
        assert "registry could not be read after 3 attempts" in run["reason"]


async def test_who_may_start_and_see_runs(api, ranking_app, session, registry_http):
    area = await key_area(api)
    _, own = await body_for(api, [area])
    _, rival = await body_for(api, [area])
    draft = (await create(api, area, own)).json()["id"]
    not_active = await api.post(f"/v1/plans/{draft}/runs", headers=own)
    assert (not_active.status_code, not_active.json()["code"]) == (409, "plan_not_active")
    assert (await api.post(f"/v1/plans/{draft}/runs", headers=rival)).status_code == 404
    plan_id = await active_plan(api, session, area, own)
    for headers in (rival, REGULATOR, auth("expert")):
        assert (await api.post(f"/v1/plans/{plan_id}/runs", headers=headers)).status_code == 403
    started = await api.post(f"/v1/plans/{plan_id}/runs", headers={**own, "Idempotency-Key": "k1"})
    again = await api.post(f"/v1/plans/{plan_id}/runs", headers={**own, "Idempotency-Key": "k1"})
    assert again.json()["id"] == started.json()["id"]
    assert again.headers["Location"] == started.headers["Location"]
    url = started.headers["Location"]
    assert (await api.get(url, headers=own)).json()["state"] == "queued"
    assert (await api.get(url, headers=REGULATOR)).status_code == 200
    for headers in (rival, {}):
        assert (await api.get(url, headers=headers)).status_code == 404
    assert (await api.get(f"{url}/rankings", headers=rival)).status_code == 404


async def test_a_zero_weight_indicator_gates_eligibility(api, ranking_app, session, registry_http):
    _, plan_id, own = await ready(
        api,
        session,
        registry_http,
        indicators=[
            indicator("thermal_efficiency"),
            indicator("standby_power", weight=0, baseline=0.9),
        ],
    )
    run = await run_once(api, ranking_app, plan_id, own)
    # D and E declare 1.0 W standby, worse than 0.9; GAP does not declare it.
    assert run["n_eligible"] == 3


async def test_the_verify_command_checks_a_published_run(
    api, ranking_app, session, registry_http, monkeypatch, capsys
):
    from services.ranking import verify

    seeded, plan_id, own = await ready(api, session, registry_http)
    run = await run_once(api, ranking_app, plan_id, own)
    real_client = httpx.AsyncClient

    def in_process(**kw: Any) -> httpx.AsyncClient:
        return real_client(transport=httpx.ASGITransport(app=ranking_app), base_url=kw["base_url"])

    monkeypatch.setattr(verify.httpx, "AsyncClient", in_process)
    assert verify.report(await verify.verify("http://ranking", run["id"])) == 0
    assert "verified" in capsys.readouterr().out
    await session.execute(
        update(RunResult)
        .where(
            RunResult.run_id == uuid.UUID(run["id"]),
            RunResult.standard_id == uuid.UUID(seeded["A"]["id"]),
        )
        .values(rank=3)
    )
    assert verify.report(await verify.verify("http://ranking", run["id"])) == 1
    assert "DIFF published_rows" in capsys.readouterr().out


async def test_benchmark_a_standard_in_and_out_of_the_run(api, ranking_app, session, registry_http):
    seeded, plan_id, own = await ready(api, session, registry_http)
    before = await api.get(
        "/v1/benchmarks", params={"standard_id": seeded["A"]["id"], "plan_id": plan_id}
    )
    assert (before.status_code, before.json()["code"]) == (404, "no_run")
    run = await run_once(api, ranking_app, plan_id, own)

    top = (
        await api.get(
            "/v1/benchmarks", params={"standard_id": seeded["A"]["id"], "plan_id": plan_id}
        )
    ).json()
    assert (top["in_run"], top["selected"], top["rank"], top["run_id"]) == (
        True,
        True,
        1,
        run["id"],
    )
    eff = {i["code"]: i for i in top["indicators"]}["thermal_efficiency"]
    assert eff["percentile"] == 100.0
    assert eff["gap"] == 0.0

    # A standard declared after the run: it is ranked as if it had been in it.
    newcomer = make_uscc()
    report = await push(
        registry_http,
        [
            item(
                newcomer,
                source(),
                9,
                indicators=[
                    {"code": "thermal_efficiency", "operator": "≥", "value": 86, "unit": "%"},
                    {"code": "standby_power", "operator": "≤", "value": 1.2, "unit": "W"},
                ],
            )
        ],
    )
    new_id = report["items"][0]["standard_id"]
    out = (
        await api.get("/v1/benchmarks", params={"standard_id": new_id, "plan_id": plan_id})
    ).json()
    assert (out["in_run"], out["eligible"], out["selected"]) == (False, True, False)
    by_code = {i["code"]: i for i in out["indicators"]}
    assert by_code["thermal_efficiency"]["percentile"] == 40.0  # beats D and E (85) of five
    assert out["score_gap"] > 0
    needed = [i for i in out["indicators"] if i["forerunner_cut"] is not None]
    assert needed
    assert all(i["gap"] > 0 for i in needed)

    missing = (
        await api.get(
            "/v1/benchmarks", params={"standard_id": seeded["GAP"]["id"], "plan_id": plan_id}
        )
    ).json()
    assert missing["eligible"] is False
    assert missing["to_become_eligible"] == ["disclose standby_power in the standard"]

    other = await push(
        registry_http, [item(make_uscc(), source(), 1, category="HA-REFRIGERATOR", indicators=[])]
    )
    wrong = await api.get(
        "/v1/benchmarks",
        params={"standard_id": other["items"][0]["standard_id"], "plan_id": plan_id},
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "standard_id"
    unknown = await api.get(
        "/v1/benchmarks", params={"standard_id": str(uuid.uuid4()), "plan_id": plan_id}
    )
    assert unknown.status_code == 404
