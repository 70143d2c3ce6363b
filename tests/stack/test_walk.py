"""The cycle walked through the stack's gateway, its background work racing in both replicas of
each service, and every item handled once (``make test-stack``).

The steps are the live walk's (tests/e2e/walk.py), over one gateway instead of three services.
The clocks move by restarting ranking's and oversight's replicas with an offset
(``Stack.restart``): both replicas of each come up on the new date together and race for
what just fell due. Afterwards the services' tables are read (read-only, straight from
PostgreSQL) for each item the background work carried: one notice per source, one outcome per
window, one lapse, one revocation, one suspension, every outbox message delivered and taken in
once. Each replica's /metrics and log show that its loops ran and what they handled. Timings
are printed (``-s``), never asserted.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from scripts.stack import Stack
from tests.e2e import walk
from tests.e2e.harness import wait_for
from tests.e2e.walk import ok

pytestmark = pytest.mark.stack

# The periodic loops each replica runs (services/*/app.py); the registry has none.
LOOPS = {
    "ranking": ("ranking-runs", "ranking-lapses", "ranking-expiry", "ranking-feed"),
    "oversight": ("flag-overdue-cases", "report-closed-windows", "forget-rate-counters"),
}
HANDLED = re.compile(r"background step (\S+) handled (\d+) item")


async def _tables(database_url: str, plan_id: str, shortlist_id: str) -> dict[str, list[Any]]:
    """What the walk left in the services' tables, read in one read-only transaction."""
    u = make_url(database_url)
    conn = await asyncpg.connect(
        user=u.username, password=u.password, database=u.database, host=u.host, port=u.port
    )
    queries: dict[str, tuple[str, tuple[Any, ...]]] = {
        "notices": (
            "SELECT kind, subject_id, id, payload->>'source_id' AS source_id "
            "FROM oversight.notices",
            (),
        ),
        "ranking_outbox": ("SELECT message_id, path, status, attempts FROM ranking.outbox", ()),
        "oversight_outbox": ("SELECT message_id, path, status, attempts FROM oversight.outbox", ()),
        "windows": ("SELECT notice_id, reported_at FROM oversight.publicity_windows", ()),
        "oversight_keys": ("SELECT key FROM oversight.idempotency_keys", ()),
        "outcomes": (
            "SELECT action, entity, entity_id FROM ranking.audit_log "
            "WHERE action IN ('publicity_outcome', 'revoke')",
            (),
        ),
        "versions": (
            "SELECT n, state, publicity_outcome IS NOT NULL AS reported "
            "FROM ranking.plan_versions WHERE plan_id = $1",
            (plan_id,),
        ),
        "runs": ("SELECT state, attempts FROM ranking.runs WHERE plan_id = $1", (plan_id,)),
        "entries": (
            "SELECT uscc, state FROM ranking.shortlist_entries WHERE shortlist_id = $1",
            (shortlist_id,),
        ),
        "titles": (
            "SELECT id, uscc, status, revoked_by FROM ranking.titles WHERE shortlist_id = $1",
            (shortlist_id,),
        ),
        "events": (
            "SELECT e.title_id, e.status, e.source FROM ranking.title_events e "
            "JOIN ranking.titles t ON t.id = e.title_id WHERE t.shortlist_id = $1 ORDER BY e.id",
            (shortlist_id,),
        ),
        "feed": (
            "SELECT (SELECT changes_seen FROM ranking.feed_cursors WHERE feed = 'registry') "
            "AS seen, (SELECT count(*) FROM registry.changes) AS changes",
            (),
        ),
    }
    try:
        async with conn.transaction(readonly=True):
            return {k: list(await conn.fetch(sql, *args)) for k, (sql, args) in queries.items()}
    finally:
        await conn.close()


class TimedRestarts:
    """The stack's restarts, timed: the walk moves the clocks through them."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.seconds = 0.0
        self.count = 0

    def restart(self, name: str, /, **settings: str) -> None:
        started = time.perf_counter()
        self.stack.restart(name, **settings)
        self.seconds += time.perf_counter() - started
        self.count += 1


def _handled_per_replica(stack: Stack) -> dict[str, Counter[str]]:
    """Items each replica's loops handled, from its log (all its lifetimes: restarts append)."""
    handled: dict[str, Counter[str]] = {}
    for service in LOOPS:
        for n in range(1, len(stack.replicas[service]) + 1):
            name = f"{service}-{n}"
            counts: Counter[str] = Counter()
            for line in Path(stack.logs[name]).read_text(errors="replace").splitlines():
                try:
                    message = json.loads(line).get("message", "")
                except ValueError:
                    continue  # uvicorn's own lines are plain text
                if found := HANDLED.match(message):
                    counts[found.group(1)] += int(found.group(2))
            handled[name] = counts
    return handled


def _passes_per_replica(stack: Stack) -> dict[str, dict[str, float]]:
    """Passes of each loop in each replica now running, from its own /metrics."""
    passes = {}
    for service in LOOPS:
        for n, port in enumerate(stack.replicas[service], start=1):
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            found = re.findall(r'background_passes_total\{[^}]*step="([^"]+)"[^}]*\} (\S+)', text)
            passes[f"{service}-{n}"] = {step: float(v) for step, v in found}
    return passes


def test_the_cycle_through_the_gateway_with_both_replicas_at_work(
    live_stack: dict[str, Any], stack_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stack: Stack = live_stack["stack"]
    timings: dict[str, float] = {"stack startup": live_stack["startup_seconds"]}
    clock = time.perf_counter()
    started = clock

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    walk.OFFSET["days"] = 0  # this stack's clocks start at the real time
    clocks = TimedRestarts(stack)
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.gateway_port}", timeout=30) as api:
        standards = walk.disclose(api)
        by_uscc = {s["uscc"]: s for s in standards}
        lap("disclose")

        area = walk.key_area(api)
        _, body = walk.evaluation_body(api, area)
        plan_id = walk.reviewed_plan(api, area, body)
        assert walk.plan_state(api, plan_id, body) == "publicity"
        lap("key area, body, plan, review")

        plan_notice = wait_for(lambda: walk.notice_about(api, "plan_publicity", plan_id))
        lap("plan publicity notice crosses to oversight (ranking's outbox)")

        walk.close_window(clocks, plan_notice)
        wait_for(lambda: walk.plan_state(api, plan_id, body) == "approved", timeout=60)
        walk.activate(api, plan_id, body)
        lap("window closed, outcome crosses back (oversight's outbox), plan active")

        result = walk.run(api, plan_id, body)
        assert result["state"] == "succeeded", result
        assert result["n_eligible"] == len(standards)
        lap("run")

        shortlist = walk.shortlist(api, result["id"], body)
        entries = {e["uscc"]: e for e in shortlist["entries"]}
        listed = [s for s in standards if s["uscc"] in entries]
        assert len(listed) == 3
        silent, *committers = listed  # the first never answers: its deadline passes
        for one in committers:
            walk.commit(api, entries[one["uscc"]]["id"], one["headers"])
        lap("shortlist, two commitments")

        walk.move_clocks(clocks, date.fromisoformat(shortlist["deadline"]))
        publicity = wait_for(
            lambda: walk.notice_about(api, "shortlist_publicity", shortlist["id"]), timeout=60
        )
        lap("deadline passed: the silent entry lapses, shortlist publicity notice")

        walk.close_window(clocks, publicity)
        titled = wait_for(lambda: walk.titles_of(api, committers), timeout=60)
        assert sorted(t["uscc"] for t in titled) == sorted(c["uscc"] for c in committers)
        assert not ok(api.get("/v1/forerunners", params={"uscc": silent["uscc"]}))["items"]
        lap("window closed, titles granted")

        revoked, kept = titled
        # Each ranking replica answers "is this a forerunner" and keeps the answer (kit.fresh).
        replicas = [f"http://127.0.0.1:{port}" for port in stack.replicas["ranking"]]
        for base in replicas:
            for _ in range(2):
                assert [t["id"] for t in _forerunners(base, revoked["uscc"])] == [revoked["id"]]
        case = walk.file_complaint(
            api,
            {"type": "title", "id": revoked["id"]},
            kind="complaint",
            grounds="non_conforming",
            description="市场抽检待机功率1.9W，不符合其声明的企业标准。",
        )
        walk.decide(api, case, "upheld", "抽检不合格，撤销其领跑者称号")
        walk.title_when(api, revoked["id"], "revoked")
        # Whichever replica revoked it, neither answers from what it kept before: the other
        # hears of the change from PostgreSQL.
        heard = time.perf_counter()
        for base in replicas:
            wait_for(lambda b=base: not _forerunners(b, revoked["uscc"]), timeout=5, interval=0.01)
        timings["revocation seen by both ranking replicas"] = time.perf_counter() - heard
        assert walk.notice_about(api, "revocation", revoked["id"]) is not None
        lap("complaint, decision, revocation crosses to ranking (oversight's outbox)")

        walk.withdraw(api, by_uscc[kept["uscc"]], "产品停产")
        suspended = walk.title_when(api, kept["id"], "suspended")
        assert suspended["history"][-1]["source"] == "registry"
        lap("a titled standard withdrawn: suspended through the change feed")

    def feed_caught_up() -> dict[str, list[Any]] | None:
        tables = asyncio.run(_tables(stack_database, plan_id, shortlist["id"]))
        feed = tables["feed"][0]
        return tables if feed["seen"] is not None and feed["seen"] >= feed["changes"] else None

    tables = wait_for(feed_caught_up, timeout=30)
    lap("the change feed caught up")
    timings["walk"] = time.perf_counter() - started
    handled = _handled_per_replica(stack)
    passes = _passes_per_replica(stack)

    with capsys.disabled():  # before the checks: a failing run shows them too
        print("\nstack walk timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
        print(
            f"clocks moved to +{walk.OFFSET['days']} days by {clocks.count} restarts "
            f"({clocks.seconds:.2f} s of the walk)"
        )
        for name in sorted(handled):
            counts = ", ".join(
                f"{loop} {int(passes[name].get(loop, 0))}/{handled[name][loop]}"
                for loop in LOOPS[name.rsplit("-", 1)[0]]
            )
            print(f"  {name}: passes now running / items over the walk: {counts}")
        attempts = {
            k: sorted(r["attempts"] for r in tables[k])
            for k in ("ranking_outbox", "oversight_outbox")
        }
        print(f"  outbox delivery attempts: {attempts}")

    # Every replica of the services with kept reads listened, and answered some from memory.
    for service in ("registry", "ranking"):
        for port in stack.replicas[service]:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            assert f'read_cache_listening{{service="{service}"}} 1.0' in text, (service, port)
            hits = re.search(r'read_cache_lookups_total\{outcome="hit"[^}]*\} (\S+)', text)
            assert hits is not None, (service, port)
            if service == "ranking":
                assert float(hits.group(1)) >= 1, (service, port)

    # Both replicas of each service ran every one of its loops.
    for service, loops in LOOPS.items():
        for n in range(1, len(stack.replicas[service]) + 1):
            ran = passes[f"{service}-{n}"]
            assert all(ran.get(loop, 0) >= 1 for loop in loops), (f"{service}-{n}", ran)

    # Oversight: one notice per source, per subject; each window reported once.
    notices = tables["notices"]
    about = Counter((r["kind"], r["subject_id"]) for r in notices)
    assert max(about.values()) == 1, about
    for kind, subject in (
        ("plan_publicity", plan_id),
        ("shortlist_publicity", shortlist["id"]),
        ("revocation", revoked["id"]),
    ):
        assert about[(kind, subject)] == 1, (kind, about)
    sources = Counter(r["source_id"] for r in notices if r["source_id"])
    assert sorted(sources.values()) == [1, 1], sources
    windows = tables["windows"]
    assert len(windows) == 2
    assert all(w["reported_at"] is not None for w in windows)

    # Ranking's outbox: the two publicity notices, each delivered and taken in once.
    sent = tables["ranking_outbox"]
    assert all(r["status"] == "delivered" for r in sent), sent
    assert {r["message_id"] for r in sent if r["path"] == "/v1/notices"} == set(sources)
    keys = Counter(r["key"] for r in tables["oversight_keys"])
    assert all(keys[m] == 1 for m in sources), keys

    # Oversight's outbox: two window outcomes and one revocation, each delivered, each taken
    # in once by ranking (a redelivery would return early, leaving no second audit row).
    back = tables["oversight_outbox"]
    assert all(r["status"] == "delivered" for r in back), back
    titles = {str(t["id"]): t for t in tables["titles"]}
    windows_of = {f"publicity-outcome-{uuid.UUID(n).hex}" for n in _notice_ids(notices)}
    decision = uuid.UUID(titles[revoked["id"]]["revoked_by"]).hex
    assert {r["message_id"] for r in back} == windows_of | {decision}
    assert Counter((r["action"], r["entity"], r["entity_id"]) for r in tables["outcomes"]) == {
        ("publicity_outcome", "plan", plan_id): 1,
        ("publicity_outcome", "shortlist", shortlist["id"]): 1,
        ("revoke", "title", revoked["id"]): 1,
    }
    assert [(v["state"], v["reported"]) for v in tables["versions"]] == [("active", True)]

    # Ranking's own loops: one run, one lapse, two titles, one revocation, one suspension.
    assert [(r["state"], r["attempts"]) for r in tables["runs"]] == [("succeeded", 1)]
    assert {e["uscc"]: e["state"] for e in tables["entries"]} == {
        silent["uscc"]: "lapsed",
        **{c["uscc"]: "titled" for c in committers},
    }
    assert len(titles) == 2
    history = {
        t: [(e["status"], e["source"]) for e in tables["events"] if str(e["title_id"]) == t]
        for t in titles
    }
    assert history == {
        revoked["id"]: [("active", "publicity"), ("revoked", "oversight")],
        kept["id"]: [("active", "publicity"), ("suspended", "registry")],
    }
    feed = tables["feed"][0]
    assert feed["seen"] == feed["changes"], feed  # every change of the registry applied once

    # What the replicas' logs say they handled, summed over both: each item once.
    total = sum(handled.values(), Counter())
    assert total["report-closed-windows"] == 2, handled
    assert total["ranking-lapses"] == 1, handled
    assert total["ranking-runs"] == 1, handled
    assert total["ranking-feed"] == feed["changes"], handled


def _forerunners(base: str, uscc: str) -> list[dict[str, Any]]:
    """The current titles of an enterprise, asked of one replica directly."""
    answer = httpx.get(f"{base}/v1/forerunners", params={"uscc": uscc}, timeout=10)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def _notice_ids(notices: list[Any]) -> list[str]:
    return [str(r["id"]) for r in notices if r["kind"] in ("plan_publicity", "shortlist_publicity")]
