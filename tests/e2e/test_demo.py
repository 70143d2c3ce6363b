"""``make demo``'s seeding against the three services as processes: the whole cycle through
the public APIs, played out in the past, and a second seeding that adds nothing."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from scripts.demo.api import bearer, items, ok, regulator
from scripts.demo.seed import REWIND_DAYS, Seeder
from services.kit.workdays import today_shanghai
from tests.e2e.harness import NAMES, ROOT, Services

SIZE = 40


def changes(registry: httpx.Client) -> int:
    """How many changes the registry's feed holds (a new version or enterprise is one)."""
    service, after, n = bearer("service", sub="service:test"), None, 0
    while True:
        params = {"limit": 200, **({"after": after} if after else {})}
        page = ok(registry.get("/v1/changes", params=params, headers=service))
        if not page["items"]:
            return n
        n += len(page["items"])
        after = page["next_cursor"]


def census(urls: dict[str, str]) -> dict[str, Any]:
    """Everything the demo makes, counted through the public APIs."""
    with (
        httpx.Client(base_url=urls["registry"], timeout=30) as registry,
        httpx.Client(base_url=urls["ranking"], timeout=30) as ranking,
        httpx.Client(base_url=urls["oversight"], timeout=30) as oversight,
    ):
        return {
            "enterprises": len(list(items(registry, "/v1/enterprises"))),
            "changes": changes(registry),
            "key_areas": len(list(items(ranking, "/v1/key-areas"))),
            "evaluators": len(list(items(ranking, "/v1/evaluators"))),
            "experts": len(list(items(ranking, "/v1/experts", headers=regulator()))),
            "plans": len(list(items(ranking, "/v1/plans", headers=regulator()))),
            "targets": ok(ranking.get("/v1/targets")),
            "stages": ok(ranking.get("/v1/stats"))["stages"],
            "complaints": len(list(items(oversight, "/v1/complaints", headers=regulator()))),
            "cases": len(list(items(oversight, "/v1/cases", headers=regulator()))),
            "notices": ok(oversight.get("/v1/notices/chain/head"))["seq"],
        }


def test_the_demo_seeds_a_whole_cycle_in_the_past_and_a_second_seeding_adds_nothing(
    services: Services,
) -> None:
    moves: list[int] = []

    def clocks(offset_days: int) -> None:
        moves.append(offset_days)
        services.restart("ranking", "oversight", FORERUNNER_CLOCK_OFFSET_DAYS=str(offset_days))

    urls = {name: services.url(name) for name in NAMES}
    first = Seeder(urls, clocks, size=SIZE, say=lambda _: None)()

    assert first.disclosures["created"] == first.disclosures["received"] >= SIZE
    assert moves[0] == -REWIND_DAYS
    assert moves[-1] == 0
    assert moves[1:-1] == sorted(moves[1:-1])  # only forward in between
    assert {t["category"] for t in first.titles} == {"HA-RICE-COOKER", "LT-LED-BULB"}
    assert first.revoked is not None
    assert first.revoked["status"] == "revoked"
    assert first.revoked["history"][-1]["source"] == "oversight"

    with (
        httpx.Client(base_url=urls["ranking"], timeout=30) as ranking,
        httpx.Client(base_url=urls["oversight"], timeout=30) as oversight,
    ):
        # The forerunner list answers for the others; the revoked one is gone from it.
        current = {t["id"] for t in items(ranking, "/v1/forerunners")}
        assert first.revoked["id"] not in current
        assert current == {t["id"] for t in first.titles} - {first.revoked["id"]}
        opted_out = ok(ranking.get("/v1/stats"))["stages"]["opted_out"]
        assert opted_out == 1
        # The cycle happened before today: every notice of it was posted in the past, the
        # plans' publicity about REWIND_DAYS back.
        board = list(items(oversight, "/v1/notices"))
        kinds = [n["kind"] for n in sorted(board, key=lambda n: n["seq"])]
        assert kinds == [
            "plan_publicity",
            "plan_publicity",
            "shortlist_publicity",
            "shortlist_publicity",
            "forerunner_list",
            "forerunner_list",
            "revocation",
        ]
        posted = [datetime.fromisoformat(n["posted_at"]).date() for n in board]
        assert max(posted) <= today_shanghai()
        assert min(posted) <= today_shanghai() - timedelta(days=REWIND_DAYS - 5)
        case = ok(oversight.get(f"/v1/cases/{first.complaint}", headers=regulator()))
        assert (case["state"], case["outcome"]) == ("closed", "upheld")
        assert case["responses"], "the respondent answered"
        assert date.fromisoformat(case["received_on"]) < today_shanghai()

        # Every address the demo prints answers.
        for _, link in first.links(urls):
            for url in link.split():
                assert httpx.get(url, timeout=30).status_code == 200, url

    before = census(urls)
    moves.clear()
    second = Seeder(urls, clocks, size=SIZE, say=lambda _: None)()
    assert second.disclosures["unchanged"] == second.disclosures["received"]
    assert moves == []  # nothing left to wait for: no clock moved
    assert census(urls) == before
    assert second.revoked is not None
    assert second.revoked["id"] == first.revoked["id"]
    assert second.runs == first.runs

    verify = subprocess.run(
        [sys.executable, "-m", "services.oversight.verify", urls["oversight"]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "verified 7 entries" in verify.stdout
