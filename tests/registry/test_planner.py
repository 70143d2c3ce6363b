"""The write planner, without a database: stored state and checked content in, a plan out."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.kit.auth import Principal, Role
from services.kit.problems import ValidationFailed
from services.registry.models import CategoryIndicator
from services.registry.standards import planner
from services.registry.standards.content import Checked, check_content
from services.registry.standards.plan import (
    Declare,
    EnterpriseState,
    FirmTarget,
    Revise,
    State,
    StoredStandard,
    Upsert,
    Withdraw,
)
from services.registry.standards.schemas import StandardContent
from tests.registry.conftest import make_uscc, standard_body

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
VOCAB = {
    "HA-RICE-COOKER": {
        code: CategoryIndicator(category_code="HA-RICE-COOKER", code=code, unit=unit)
        for code, unit in (("thermal_efficiency", "%"), ("standby_power", "W"), ("noise", "dB(A)"))
    }
}
SYNC = Principal(sub="sync:national-platform", role=Role.sync)
REGULATOR = Principal(sub="regulator:1", role=Role.regulator)


def checked(**over: Any) -> Checked:
    body = standard_body("x", **over)
    body.pop("uscc")
    return check_content(StandardContent.model_validate(body), VOCAB)


def firm(
    uscc: str, *, blocked: bool = False, name: str = "天津市滨海新区电器有限公司"
) -> EnterpriseState:
    return EnterpriseState(uscc, name, uscc[2:8], "3854", None, blocked, None, 3)


def stored(uscc: str, c: Checked, **over: Any) -> StoredStandard:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "uscc": uscc,
        "source_id": None,
        "status": "current",
        "current_version": 1,
        "row_version": 1,
        "standard_no_key": c.standard_no_key,
        "category_code": c.content.category,
        "content_hash": c.hash,
    }
    values.update(over)
    return StoredStandard(**values)


def ids() -> Any:
    counter = itertools.count(1)
    return lambda: uuid.UUID(int=next(counter))


def owner(uscc: str) -> Principal:
    return Principal(sub=f"enterprise:{uscc}", role=Role.enterprise, org=uscc)


def test_content_checks_name_every_broken_rule():
    with pytest.raises(ValidationFailed) as info:
        checked(
            standard_no="没有数字",
            category="HA-RICE-COOKER",
            products=[{"name": "锅", "barcode": "6901234567890", "model": "A\x00"}],
            indicators=[{"code": "standby_power", "operator": "≤", "value": 1, "unit": "kW"}],
        )
    fields = [e.field for e in info.value.errors or []]
    assert fields == ["standard_no", "products.0.barcode", "indicators.0.unit", "products.0.model"]
    assert info.value.code == "validation_failed"


def test_equal_content_has_an_equal_hash_and_units_come_from_the_vocabulary():
    a, b = checked(), checked()
    assert a.hash == b.hash
    assert a.json == b.json
    assert checked(name="别的名字").hash != a.hash
    units = {i.code: i.unit for i in a.content.indicators if i.code}
    assert units["standby_power"] == "W"


def test_a_declaration_plans_the_standard_its_version_event_and_audit():
    uscc = make_uscc()
    c = checked()
    plan = planner.plan(
        State(enterprises={uscc: firm(uscc, blocked=True)}),
        [Declare(uscc, c)],
        owner(uscc),
        NOW,
        ids(),
    )
    assert plan.outcomes == [planner.Outcome("created", uuid.UUID(int=1), 1)]
    (row,) = plan.new_standards
    assert (row["uscc"], row["standard_no"], row["status"], row["hidden"]) == (
        uscc,
        "Q/12TJ 0001-2024",
        "current",
        True,  # its enterprise is blocked
    )
    assert {"饭锅", "天津", "津"} <= set(row["grams"])
    (version,) = plan.versions
    assert (version["n"], version["kind"], version["content_hash"]) == (1, "initial", c.hash)
    assert version["author_sub"] == f"enterprise:{uscc}"
    assert [e["kind"] for e in plan.standard_events] == ["standard.created"]
    assert [(a.action, a.entity, a.detail) for a in plan.audits] == [("create", "standard", None)]
    assert not plan.new_enterprises
    assert not plan.standard_updates


@pytest.mark.parametrize(
    ("state_of", "principal_of", "code", "kind"),
    [
        (lambda u, c: State(), owner, "unknown_enterprise", "invalid"),
        (
            lambda u, c: State(enterprises={u: firm(u)}),
            lambda u: owner(make_uscc()),
            "forbidden",
            "forbidden",
        ),
        (
            lambda u, c: State(
                enterprises={u: firm(u)}, holders={(u, c.standard_no_key): uuid.uuid4()}
            ),
            owner,
            "duplicate_standard_no",
            "conflict",
        ),
    ],
)
def test_a_refused_declaration_plans_nothing(state_of, principal_of, code, kind):
    uscc = make_uscc()
    c = checked()
    plan = planner.plan(state_of(uscc, c), [Declare(uscc, c)], principal_of(uscc), NOW)
    (outcome,) = plan.outcomes
    assert outcome.refusal is not None
    assert (outcome.result, outcome.refusal.code, outcome.refusal.kind) == ("refused", code, kind)
    assert not (plan.new_standards)
    assert not (plan.versions)
    assert not (plan.standard_events)
    assert not (plan.audits)


def test_a_new_version_and_a_withdrawal():
    uscc = make_uscc()
    old_content, new_content = checked(), checked(name="智能电饭锅企业标准（修改单）")
    old = stored(uscc, old_content, current_version=2, row_version=4)
    state = State(enterprises={uscc: firm(uscc)}, by_id={old.id: old})

    revised = planner.plan(state, [Revise(old.id, "revision", "改名", new_content)], REGULATOR, NOW)
    assert revised.outcomes == [planner.Outcome("updated", old.id, 3)]
    (update,) = revised.standard_updates
    assert (update["current_version"], update["row_version"], update["name"]) == (
        3,
        5,
        "智能电饭锅企业标准（修改单）",
    )
    assert [(v["n"], v["kind"], v["note"]) for v in revised.versions] == [(3, "revision", "改名")]
    assert [(a.action, a.detail) for a in revised.audits] == [("revision", {"version": 3})]

    same = planner.plan(state, [Revise(old.id, "correction", None, old_content)], REGULATOR, NOW)
    assert same.outcomes[0].refusal is not None
    assert same.outcomes[0].refusal.code == "no_change"

    withdrawn = planner.plan(state, [Withdraw(old.id, "产品停产")], REGULATOR, NOW)
    (update,) = withdrawn.standard_updates
    assert (update["status"], update["withdrawn_reason"], update["withdrawn_at"]) == (
        "abolished",
        "产品停产",
        NOW,
    )
    assert [e["kind"] for e in withdrawn.standard_events] == ["standard.withdrawn"]
    gone = State(
        enterprises=state.enterprises,
        by_id={old.id: stored(uscc, old_content, id=old.id, status="abolished")},
    )
    for intent in (Withdraw(old.id, "再次"), Revise(old.id, "revision", None, new_content)):
        refusal = planner.plan(gone, [intent], REGULATOR, NOW).outcomes[0].refusal
        assert refusal is not None
        assert refusal.code == "withdrawn"


def upsert(
    uscc: str, source_id: str, c: Checked, name: str = "天津市滨海新区电器有限公司", **kw: Any
) -> Upsert:
    target = FirmTarget(uscc, name, uscc[2:8], None, None)
    return Upsert(source_id, target, c, kw.get("status", "current"), kw.get("reason"))


def test_sync_items_create_the_enterprise_once_and_wait_on_their_own_source():
    uscc = make_uscc()
    first, second = checked(), checked(standard_no="Q/12TJ 0002-2024")
    again = checked(name="改过的名字")
    intents = [
        upsert(uscc, "NP-1", first),
        upsert(uscc, "NP-2", second),
        upsert(uscc, "NP-1", again),
    ]
    plan = planner.plan(State(), intents, SYNC, NOW, ids())
    assert [o.result for o in plan.outcomes] == ["created", "created"]
    assert plan.rest == intents[2:]  # NP-1 again: planned on fresh state, after these writes
    assert [row["uscc"] for row in plan.new_enterprises] == [uscc]
    assert [e["kind"] for e in plan.enterprise_events] == ["enterprise.created"]
    assert [a.detail for a in plan.audits if a.entity == "standard"] == [
        {"source_id": "NP-1", "via": "sync"},
        {"source_id": "NP-2", "via": "sync"},
    ]


def test_sync_item_unchanged_renamed_moved_or_abolished():
    uscc = make_uscc()
    c = checked()
    old = stored(uscc, c, source_id="NP-7")
    state = State(
        enterprises={uscc: firm(uscc)},
        by_source={"NP-7": old},
        holders={(uscc, c.standard_no_key): old.id},
    )
    unchanged = planner.plan(state, [upsert(uscc, "NP-7", c)], SYNC, NOW)
    assert unchanged.outcomes == [planner.Outcome("unchanged", old.id, 1)]
    assert not (unchanged.standard_updates)
    assert not (unchanged.enterprise_updates)
    assert not (unchanged.audits)

    renamed = planner.plan(state, [upsert(uscc, "NP-7", c, name="新名字有限公司")], SYNC, NOW)
    assert renamed.outcomes[0].result == "updated"
    assert renamed.reindex == {uscc}
    assert [e["kind"] for e in renamed.enterprise_events] == ["enterprise.updated"]

    other = make_uscc()
    moved = planner.plan(state, [upsert(other, "NP-7", c)], SYNC, NOW).outcomes[0]
    assert moved.refusal is not None
    assert moved.refusal.code == "uscc_mismatch"

    abolished = planner.plan(
        state, [upsert(uscc, "NP-7", c, status="abolished", reason="停产")], SYNC, NOW
    )
    assert abolished.outcomes == [planner.Outcome("updated", old.id, 1)]
    assert abolished.standard_updates[0]["status"] == "abolished"
    assert [a.detail for a in abolished.audits] == [
        {"source_id": "NP-7", "via": "sync", "reason": "停产", "status": "abolished"}
    ]
