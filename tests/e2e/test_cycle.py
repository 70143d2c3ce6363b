"""The whole cycle, live: three services as processes, walked through their public APIs only.

disclose → key area → body → plan → review → publicity (the notice crosses to oversight through
ranking's outbox; oversight's clock is moved past the window and its outcome crosses back) →
run (ranking reads the registry and oversight over HTTP) → ranking list → complaint → case →
decision → exclusion → the notice chain verified by the command anyone can run.
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from tests.e2e import walk
from tests.e2e.harness import ROOT, Services, wait_for
from tests.e2e.walk import REGULATOR, ok


def test_the_cycle_from_disclosure_to_a_verified_notice_chain(services: Services) -> None:
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 2)
        clock = now

    with (
        httpx.Client(base_url=services.url("registry"), timeout=30) as registry,
        httpx.Client(base_url=services.url("ranking"), timeout=30) as ranking,
        httpx.Client(base_url=services.url("oversight"), timeout=30) as oversight,
    ):
        standards = walk.disclose(registry)
        lap("disclose")

        unknown = ranking.post(
            "/v1/key-areas",
            json={"year": 2026, "level": "municipal", "name": "x", "categories": ["NOPE"]},
            headers=REGULATOR,
        )
        assert unknown.status_code == 422  # checked against the live registry's catalogue
        area = walk.key_area(ranking)
        _, body = walk.evaluation_body(ranking, area)
        plan_id = walk.reviewed_plan(ranking, area, body)
        assert walk.plan_state(ranking, plan_id, body) == "publicity"
        lap("key area, body, plan, review")

        notice = wait_for(lambda: walk.notice_about(oversight, "plan_publicity", plan_id))
        assert notice["window"]["working_days"] == 5
        lap("plan publicity notice crosses to oversight")

        walk.close_window(services, notice)
        wait_for(lambda: walk.plan_state(ranking, plan_id, body) == "approved", timeout=60)
        walk.activate(ranking, plan_id, body)
        lap("window closed, outcome crosses back, plan active")

        result = walk.run(ranking, plan_id, body)
        assert result["state"] == "succeeded", result
        assert result["n_eligible"] == len(standards)
        rows = ok(ranking.get(f"/v1/runs/{result['id']}/rankings", params={"limit": 200}))
        ranked = [r["standard_id"] for r in rows["items"]]
        assert ranked[0] == standards[0]["id"]  # best on both indicators
        check = ok(ranking.get(f"/v1/runs/{result['id']}/verification"))
        assert check["verified"] is True, check
        lap("run over HTTP, ranking list, verification")

        target = standards[0]
        filed = ok(
            oversight.post(
                "/v1/complaints",
                json={
                    "kind": "report",
                    "target": {"type": "standard", "id": target["id"]},
                    "grounds": "fraud",
                    "description": "抽检热效率仅为82%，与声明的95%严重不符，涉嫌弄虚作假。",
                },
            )
        )
        progress = oversight.get(
            f"/v1/complaints/{filed['tracking_no']}",
            headers={"X-Access-Code": filed["access_code"]},
        )
        assert progress.status_code == 200
        wrong = oversight.get(
            f"/v1/complaints/{filed['tracking_no']}", headers={"X-Access-Code": "nope-nope"}
        )
        assert wrong.status_code in (403, 404)
        case_url = f"/v1/cases/{progress.json()['progress']['case_id']}"
        for step in (
            {"action": "accept"},
            {"action": "investigate"},
            {"action": "decide", "outcome": "upheld", "reason": "经抽检核实，声明值不实"},
        ):
            current = oversight.get(case_url, headers=REGULATOR)
            ok(
                oversight.post(
                    f"{case_url}/transitions",
                    json=step,
                    headers={**REGULATOR, "If-Match": current.headers["ETag"]},
                )
            )
        excluded = ok(oversight.get("/v1/exclusions", params={"uscc": target["uscc"]}))
        assert [e["uscc"] for e in excluded["items"]] == [target["uscc"]]
        lap("complaint, case, decision, exclusion")

        again = walk.run(ranking, plan_id, body)
        assert again["state"] == "succeeded"
        assert again["n_eligible"] == len(standards) - 1  # oversight's exclusion applied
        lap("a second run reads the exclusion")

        # Fault: the registry dies while ranking needs it. The run fails cleanly (no partial
        # result is stored, its reason says why) and the next one, with the registry back,
        # succeeds.
        services.kill("registry")
        broken = walk.run(ranking, plan_id, body)
        assert broken["state"] == "failed", broken
        assert "registry" in (broken.get("reason") or "").lower(), broken
        partial = ranking.get(f"/v1/runs/{broken['id']}/rankings", headers=body)
        assert partial.status_code in (404, 409), partial.text
        services.start("registry")
        healed = walk.run(ranking, plan_id, body)
        assert healed["state"] == "succeeded"
        lap("registry killed during a run: failed cleanly, then succeeded")

        # Shortlist: the top three of the healed run (the fraudulent one is excluded now).
        shortlist = walk.shortlist(ranking, healed["id"], body)
        entries = {e["uscc"]: e for e in shortlist["entries"]}
        by_uscc = {s["uscc"]: s for s in standards}
        listed = [s for s in standards if s["uscc"] in entries]
        assert len(listed) == 3
        decliner, *committers = listed
        for one in committers:
            walk.commit(ranking, entries[one["uscc"]]["id"], one["headers"])
        stranger = ranking.post(
            f"/v1/shortlist-entries/{entries[decliner['uscc']]['id']}/commitment",
            json={"text": "冒名承诺", "agreed": True},
            headers=committers[0]["headers"],
        )
        assert stranger.status_code in (403, 404)  # only the entry's own enterprise answers
        ok(
            ranking.post(
                f"/v1/shortlist-entries/{entries[decliner['uscc']]['id']}/opt-out",
                json={"reason": "产品即将换代，本周期不参评"},
                headers=decliner["headers"],
            )
        )
        publicity = wait_for(
            lambda: walk.notice_about(oversight, "shortlist_publicity", shortlist["id"])
        )
        lap("shortlist, commitments and an opt-out, shortlist publicity notice")

        walk.close_window(services, publicity)
        titled = wait_for(lambda: walk.titles_of(ranking, committers), timeout=60)
        assert sorted(t["uscc"] for t in titled) == sorted(c["uscc"] for c in committers)
        # Procurement asks by a standard number in another spelling (full-width, lower case).
        spelled = committers[0]["standard_no"].lower().replace("/", "／").replace("-", "－")
        by_number = ok(ranking.get("/v1/forerunners", params={"standard_no": spelled}))
        assert [t["uscc"] for t in by_number["items"]] == [committers[0]["uscc"]]
        assert not ok(ranking.get("/v1/forerunners", params={"uscc": decliner["uscc"]}))["items"]
        lap("window closed, titles granted, 'is this a forerunner' answers")

        # Revocation with ranking down: decided while it is killed, delivered once it is back.
        revoked, kept = titled
        case = walk.file_complaint(
            oversight,
            {"type": "title", "id": revoked["id"]},
            kind="complaint",
            grounds="non_conforming",
            description="市场抽检待机功率1.9W，不符合其声明的企业标准。",
        )
        services.kill("ranking")
        walk.decide(oversight, case, "upheld", "抽检不合格，撤销其领跑者称号")
        services.start("ranking", FORERUNNER_CLOCK_OFFSET_DAYS=str(walk.OFFSET["days"]))
        gone = walk.title_when(ranking, revoked["id"], "revoked")
        revocations = [h for h in gone["history"] if h["status"] == "revoked"]
        assert len(revocations) == 1, gone["history"]
        assert walk.notice_about(oversight, "revocation", revoked["id"]) is not None
        lap("ranking killed: revocation delivered once it was back, exactly once")

        # Dynamic adjustment: the other forerunner withdraws its standard in the registry.
        walk.withdraw(registry, by_uscc[kept["uscc"]], "产品停产")
        suspended = walk.title_when(ranking, kept["id"], "suspended")
        assert suspended["history"][-1]["source"] == "registry"
        lap("a titled standard withdrawn: its title suspended through the change feed")

    verify = subprocess.run(
        [sys.executable, "-m", "services.oversight.verify", services.url("oversight")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    lap("notice chain verified by the command")
    print("walk timings (s):", timings)
