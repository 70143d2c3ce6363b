"""Inspection findings: compared by operator and direction; a titled shortfall opens one case."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from services.clients.registry import Indicator
from services.oversight.inspections.service import compare
from services.oversight.models import Case
from tests.conftest import auth
from tests.oversight.conftest import REGULATOR, declared_standard

INSPECTOR = auth("service", sub="service:market-supervision")


@pytest.mark.parametrize(
    ("operator", "value", "measured", "direction", "gap"),
    [
        ("≥", 88.5, 88.5, None, None),
        ("≥", 88.5, 87.0, None, 1.5),
        ("≥", 88.5, 90.0, "lower", None),  # the promise (≥) decides, not the direction
        ("≤", 0.8, 0.9, None, pytest.approx(0.1)),
        ("≤", 0.8, 0.5, None, None),
        ("=", 5.0, 4.0, "higher", 1.0),
        ("=", 5.0, 6.0, "higher", None),
        ("=", 5.0, 6.0, "lower", 1.0),
        ("=", 5.0, 4.0, "lower", None),
        ("=", 5.0, 6.0, None, 1.0),
        ("≥", 88.5, 88.5 - 1e-12, None, None),  # float noise is no shortfall
    ],
)
def test_compare_by_operator_and_direction(operator, value, measured, direction, gap):
    assert compare(Indicator(operator=operator, value=value), measured, direction) == gap


def test_compare_a_range():
    declared = Indicator(operator="range", value_min=10, value_max=20)
    assert compare(declared, 15, None) is None
    assert compare(declared, 8, None) == 2
    assert compare(declared, 23, None) == 3


def finding(standard, **over):
    body = {
        "lab": "天津市产品质量监督检测技术研究院",
        "report_no": f"TJ-2026-{standard['id'][:8]}",
        "standard_id": standard["id"],
        "version": 1,
        "product": "智能电饭锅 TJ-40A",
        "indicator": "thermal_efficiency",
        "measured": 85.0,
        "unit": "%",
        "tested_on": "2026-04-20",
    }
    body.update(over)
    return body


def title_for(ranking, standard, title_id="T-9"):
    ranking.titles[title_id] = {
        "id": title_id,
        "uscc": standard["uscc"],
        "standard_no": standard["standard_no"],
        "standard_id": standard["id"],
        "status": "active",
    }


async def cases_of(session, inspection_id):
    return await session.scalar(
        select(func.count()).select_from(Case).where(Case.inspection_id == inspection_id)
    )


async def test_a_titled_shortfall_opens_exactly_one_case(client, registry, ranking, session):
    standard = await declared_standard(registry)
    title_for(ranking, standard)
    first = await client.post("/v1/inspections", json=finding(standard), headers=INSPECTOR)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["result"], body["gap"], body["title_check"]) == ("shortfall", 3.5, "active")
    assert body["declared"] == {"operator": "≥", "value": 88.5, "unit": "%"}
    again = [
        await client.post("/v1/inspections", json=finding(standard), headers=INSPECTOR)
        for _ in range(3)
    ]
    assert [r.status_code for r in again] == [200, 200, 200]
    assert {r.json()["case_id"] for r in again} == {body["case_id"]}
    assert await cases_of(session, body["id"]) == 1
    case = (await client.get(f"/v1/cases/{body['case_id']}", headers=REGULATOR)).json()
    assert (case["origin"], case["title_id"], case["respondent_uscc"]) == (
        "inspection",
        "T-9",
        standard["uscc"],
    )
    assert "85" in case["description"]


async def test_no_case_without_a_title_or_without_a_shortfall(client, registry, ranking, session):
    standard = await declared_standard(registry)
    short = (await client.post("/v1/inspections", json=finding(standard), headers=REGULATOR)).json()
    assert (short["result"], short["title_check"], short["case_id"]) == ("shortfall", "none", None)
    title_for(ranking, standard)
    fine = finding(standard, report_no="R-2", indicator="standby_power", measured=0.5, unit=None)
    ok = (await client.post("/v1/inspections", json=fine, headers=REGULATOR)).json()
    assert (ok["result"], ok["title_check"], ok["case_id"]) == ("conforms", "not_asked", None)


async def test_ranking_down_still_opens_the_case(client, registry, ranking):
    standard = await declared_standard(registry)
    ranking.down = True
    r = await client.post("/v1/inspections", json=finding(standard), headers=INSPECTOR)
    assert r.status_code == 201
    assert r.json()["title_check"] == "unreachable"
    assert r.json()["case_id"] is not None


async def test_bad_findings_are_refused(client, registry):
    standard = await declared_standard(registry)
    r = await client.post(
        "/v1/inspections", json=finding(standard, indicator="noise"), headers=REGULATOR
    )
    assert r.json()["code"] == "indicator_not_declared"
    r = await client.post("/v1/inspections", json=finding(standard, unit="W"), headers=REGULATOR)
    assert r.json()["code"] == "unit_mismatch"
    r = await client.post("/v1/inspections", json=finding(standard, version=9), headers=REGULATOR)
    assert r.json()["code"] == "unknown_target"
    r = await client.post(
        "/v1/inspections", json=finding(standard), headers=auth("enterprise", org=standard["uscc"])
    )
    assert r.status_code == 403
    assert (await client.post("/v1/inspections", json=finding(standard))).status_code == 401
    assert (
        await client.post("/v1/inspections", json=finding(standard), headers=REGULATOR)
    ).status_code == 201
    other = finding(standard, measured=80.0)
    r = await client.post("/v1/inspections", json=other, headers=REGULATOR)
    assert r.status_code == 409
    assert r.json()["code"] == "inspection_conflict"


async def test_the_same_report_sent_concurrently_opens_one_case(database_url, committed, ranking):
    from services.kit.clock import FixedClock
    from services.oversight.app import create_app
    from services.registry.app import create_app as create_registry
    from services.registry.settings import RegistrySettings
    from tests.conftest import bind_app, client_for, service_settings
    from tests.oversight.conftest import START, oversight_settings, wire

    registry_app = bind_app(
        create_registry(service_settings(RegistrySettings, database_url)), committed
    )
    app = bind_app(create_app(oversight_settings(database_url), clock=FixedClock(START)), committed)
    wire(app, registry_app, ranking)
    async with client_for(registry_app) as registry, client_for(app) as client:
        standard = await declared_standard(registry)
        title_for(ranking, standard)
        sent = await asyncio.gather(
            *(
                client.post("/v1/inspections", json=finding(standard), headers=INSPECTOR)
                for _ in range(8)
            )
        )
        assert sorted(r.status_code for r in sent) == [200] * 7 + [201]
        assert len({r.json()["case_id"] for r in sent}) == 1
        async with committed() as session:
            assert await cases_of(session, sent[0].json()["id"]) == 1
    await app.state.db.dispose()
    await registry_app.state.db.dispose()


async def test_a_version_number_no_registry_can_hold_is_refused(client, registry, ranking):
    """Found by schemathesis: a version past 2^31-1 made the registry answer 422 and the
    inspector a 503; it is the inspector's error, told as such."""
    standard = await declared_standard(registry)
    r = await client.post(
        "/v1/inspections", json=finding(standard, version=2**31), headers=INSPECTOR
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"].endswith("version")
