"""Seed the demo through the public APIs only: disclosures by bulk sync, then one cycle from
key areas to a revoked title, with the notice chain of all of it.

Every step looks first (through the same public APIs) for what an earlier seeding left, so a
second seeding adds nothing, and one that was interrupted carries on where it stopped.

Publicity windows close after working days. The cycle is played out in the past: ranking and
oversight are restarted with their clocks some weeks back (``CLOCK_OFFSET_DAYS``, which
production refuses) and moved forward past each window, and at the end back to the real time,
so what is left running is what ``make run`` runs, with a history that ended before today.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx

from scripts.demo import api
from scripts.demo.api import bearer, items, ok, regulator, wait_for
from scripts.demo.data import dataset
from scripts.demo.plans import (
    BODY_CONTACT,
    BODY_NAME,
    BODY_USCC,
    COMMITMENT,
    EVALUATIONS,
    EXPERTS,
    KEY_AREAS,
    OPT_OUT,
    RICE_COOKERS,
    TARGETS,
    Evaluation,
)
from scripts.demo.timeline import Clocks, Timeline
from services.kit.workdays import today_shanghai

# How far back the cycle starts: room for two publicity windows of 7 working days even
# across the Spring Festival, a complaint and its decision, all before today.
REWIND_DAYS = 42
SYNC_BATCH = 1000
TITLE_STATUSES = ("active", "suspended", "revoked", "expired")
DECISION = {
    "action": "decide",
    "outcome": "upheld",
    "reason": "经调查核实，该企业产品待机功率不符合其自我声明公开的企业标准，举报属实，"
    "撤销其企业标准“领跑者”称号。",
}


@dataclass
class Outcome:
    """What the demo holds once seeded (read back, whether this seeding made it or not)."""

    disclosures: dict[str, int] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)
    titles: list[dict[str, Any]] = field(default_factory=list)
    revoked: dict[str, Any] | None = None
    complaint: str | None = None

    def links(self, urls: dict[str, str]) -> list[tuple[str, str]]:
        """A few addresses a person can open to see the demo, each with what it shows."""
        registry, ranking, oversight = urls["registry"], urls["ranking"], urls["oversight"]
        revoked = self.revoked["id"] if self.revoked else None
        active = [t for t in self.titles if t["status"] == "active" and t["id"] != revoked]
        out = [
            ("search 电饭锅", f"{registry}/v1/standards?q={quote('电饭锅')}"),
            ("the catalogue", f"{registry}/v1/categories"),
            ("current forerunners", f"{ranking}/v1/forerunners"),
        ]
        if active and active[0]["barcodes"]:
            barcode = active[0]["barcodes"][0]
            out.append(
                ("is this a forerunner? (barcode)", f"{ranking}/v1/forerunners?barcode={barcode}")
            )
        for key, run_id in self.runs.items():
            out.append((f"ranking list: {key}", f"{ranking}/v1/runs/{run_id}/rankings"))
        if active and active[0]["category"] == RICE_COOKERS.category:
            run_id, standard = self.runs[RICE_COOKERS.key], active[0]["standard_id"]
            out.append(
                (
                    "why a forerunner ranks where it does",
                    f"{ranking}/v1/runs/{run_id}/explanations/{standard}",
                )
            )
        if self.revoked is not None:
            out.append(
                ("a revoked title and its history", f"{ranking}/v1/titles/{self.revoked['id']}")
            )
        out += [
            ("progress against the targets", f"{ranking}/v1/stats"),
            ("the notice board", f"{oversight}/v1/notices"),
            ("the notice chain", f"{oversight}/v1/notices/chain"),
            ("API docs", f"{registry}/docs  {ranking}/docs  {oversight}/docs"),
        ]
        return out


class Seeder:
    def __init__(
        self,
        urls: dict[str, str],
        clocks: Clocks,
        size: int = 300,
        say: Callable[[str], None] = print,
    ) -> None:
        self.urls = urls
        self.size = size
        self.say = say
        self.timeline = Timeline(clocks, say)
        self.outcome = Outcome()

    def __call__(self) -> Outcome:
        with (
            httpx.Client(base_url=self.urls["registry"], timeout=120) as self.registry,
            httpx.Client(base_url=self.urls["ranking"], timeout=30) as self.ranking,
            httpx.Client(base_url=self.urls["oversight"], timeout=30) as self.oversight,
        ):
            self.disclose()
            self.set_targets()
            plans = self.prepare()
            self.publicity_of_plans(plans)
            self.shortlists(plans)
            self.complaint(plans[RICE_COOKERS])
            self.timeline.reset()
        return self.outcome

    # --- registry ---------------------------------------------------------------------------

    def disclose(self) -> None:
        """The national platform syncs the disclosures: enterprises come with them."""
        data = dataset(self.size)
        totals: dict[str, int] = {}
        for start in range(0, len(data), SYNC_BATCH):
            report = ok(
                self.registry.post(
                    "/v1/sync/standards",
                    json=data[start : start + SYNC_BATCH],
                    headers=bearer("sync", sub="sync:national-platform"),
                )
            )
            for key, n in report["totals"].items():
                totals[key] = totals.get(key, 0) + n
            rejected = [i for i in report["items"] if i["result"] == "rejected"]
            assert not rejected, rejected[:3]
        self.outcome.disclosures = totals
        self.say(
            f"  disclosures: {totals['received']} sent, {totals['created']} created, "
            f"{totals['unchanged']} unchanged ({len({i['enterprise']['uscc'] for i in data})} "
            "enterprises)"
        )

    # --- ranking: the regulator's part, the body and its experts -----------------------------

    def set_targets(self) -> None:
        current = {(t["level"], t["by"]): t for t in ok(self.ranking.get("/v1/targets"))}
        for target in TARGETS:
            have = current.get((target["level"], target["by"]))
            if have is None or have["count"] != target["count"]:
                ok(self.ranking.put("/v1/targets", json=target, headers=regulator()))

    def _body(self) -> dict[str, Any] | None:
        listed = items(self.ranking, "/v1/evaluators")
        return next((b for b in listed if b["uscc"] == BODY_USCC), None)

    def prepare(self) -> dict[Evaluation, dict[str, Any]]:
        """Key areas, the body, its experts and a plan for each evaluation, up to review."""
        body = self._body()
        fresh = body is None or not list(
            items(self.ranking, "/v1/plans", {"evaluator_id": body["id"]}, headers=self._own(body))
        )
        if fresh:
            self.say(f"  a fresh cycle: it starts {REWIND_DAYS} days back")
            self.timeline.rewind(REWIND_DAYS)
        areas = {name: self._key_area(name, codes) for name, codes in KEY_AREAS.items()}
        if body is None:
            body_id, _ = api.evaluation_body(
                self.ranking,
                name=BODY_NAME,
                uscc=BODY_USCC,
                areas=list(areas.values()),
                contact=BODY_CONTACT,
                applicant=bearer("enterprise", org=BODY_USCC, sub="applicant:tjis"),
            )
            body = ok(self.ranking.get(f"/v1/evaluators/{body_id}"))
        elif body["status"] == "pending":
            ok(
                self.ranking.post(
                    f"/v1/evaluators/{body['id']}/approval",
                    json={"decision": "approved"},
                    headers=regulator(),
                )
            )
        own = self._own(body)
        reviewers = self._experts()
        plans = {}
        for evaluation in EVALUATIONS:
            plan = self._plan(evaluation, areas[evaluation.area], body, own, reviewers)
            plans[evaluation] = {"id": plan, "own": own, "evaluation": evaluation}
        return plans

    @staticmethod
    def _own(body: dict[str, Any]) -> dict[str, str]:
        return bearer("evaluator", org=str(body["id"]), sub=f"evaluator:{body['id']}")

    def _key_area(self, name: str, categories: list[str]) -> str:
        for area in items(self.ranking, "/v1/key-areas", {"category": categories[0]}):
            if area["name"] == name:
                return str(area["id"])
        created = {
            "year": self.timeline.today().year,
            "level": "municipal",
            "name": name,
            "categories": categories,
        }
        return str(ok(self.ranking.post("/v1/key-areas", json=created, headers=regulator()))["id"])

    def _experts(self) -> list[dict[str, str]]:
        known = {e["subject"] for e in items(self.ranking, "/v1/experts", headers=regulator())}
        out = []
        for subject, name, affiliation in EXPERTS:
            if subject in known:
                out.append(bearer("expert", sub=subject))
            else:
                out.append(api.expert(self.ranking, subject, name, affiliation))
        return out

    def _plan(
        self,
        evaluation: Evaluation,
        area: str,
        body: dict[str, Any],
        own: dict[str, str],
        reviewers: list[dict[str, str]],
    ) -> str:
        """The body's plan of the key area for this category, drafted, submitted, reviewed."""
        query = {"key_area_id": area, "evaluator_id": body["id"]}
        for plan in items(self.ranking, "/v1/plans", query, headers=own):
            full = ok(self.ranking.get(f"/v1/plans/{plan['id']}", headers=own))
            if evaluation.category in full["version"]["content"]["categories"]:
                plan_id = str(plan["id"])
                break
        else:
            today = self.timeline.today()
            content = evaluation.content(today.year, today.replace(day=1))
            plan_id = api.draft_plan(self.ranking, area, content, own)
            self.say(f"  plan {evaluation.key}: {content['name']}")
        if api.plan_state(self.ranking, plan_id, own) == "draft":
            api.submit(self.ranking, plan_id, own)
        if api.plan_state(self.ranking, plan_id, own) == "submitted":
            reviews = items(self.ranking, f"/v1/plans/{plan_id}/reviews", headers=own)
            done = {r["expert_id"] for r in reviews}
            known = {
                e["subject"]: e["id"]
                for e in items(self.ranking, "/v1/experts", headers=regulator())
            }
            for (subject, _, _), reviewer in zip(EXPERTS, reviewers, strict=True):
                if known[subject] not in done:
                    api.review(
                        self.ranking, plan_id, reviewer, "指标选取合理，基准值与国家标准衔接"
                    )
                if api.plan_state(self.ranking, plan_id, own) != "submitted":
                    break
        return plan_id

    # --- publicity and runs ------------------------------------------------------------------

    def _close_windows(self, notices: list[dict[str, Any]]) -> None:
        """Move the clocks to the day after the last of these windows closes."""
        closes = max(date.fromisoformat(n["window"]["closes"]) for n in notices)
        self.timeline.go(closes + timedelta(days=1))

    def publicity_of_plans(self, plans: dict[Evaluation, dict[str, Any]]) -> None:
        """评估方案公示: the notices cross to oversight, the windows close, the plans become
        active."""
        waiting = [p for p in plans.values() if self._state(p) == "publicity"]
        if waiting:
            notices = [
                wait_for(partial(api.notice_about, self.oversight, "plan_publicity", p["id"]))
                for p in waiting
            ]
            self._close_windows(notices)
            for p in waiting:
                wait_for(partial(self._moved_on, p), timeout=60)
        for p in plans.values():
            if self._state(p) == "approved":
                api.activate(self.ranking, p["id"], p["own"])
            assert self._state(p) == "active", (p["evaluation"].key, self._state(p))

    def _state(self, plan: dict[str, Any]) -> str:
        return api.plan_state(self.ranking, plan["id"], plan["own"])

    def _moved_on(self, plan: dict[str, Any]) -> bool:
        return self._state(plan) != "publicity"

    def titles(self, plan_id: str, category: str) -> list[dict[str, Any]]:
        """Every title of the plan, whatever its status."""
        found = []
        for status in TITLE_STATUSES:
            query = {"category": category, "status": status}
            found += [
                t for t in items(self.ranking, "/v1/forerunners", query) if t["plan_id"] == plan_id
            ]
        return sorted(found, key=lambda t: t["standard_no"])

    def _shortlist_notice(self, plan_id: str) -> dict[str, Any] | None:
        for notice in api.notices(self.oversight, "shortlist_publicity"):
            if notice["payload"].get("plan_id") == plan_id:
                return notice
        return None

    def shortlists(self, plans: dict[Evaluation, dict[str, Any]]) -> None:
        """Run, 入围名单, 承诺书 or 放弃, 入围公示; then titles and the 领跑者名单公告."""
        waiting = []
        for evaluation, plan in plans.items():
            if self.titles(plan["id"], evaluation.category):
                continue
            if self._shortlist_notice(plan["id"]) is None:
                self._answer(evaluation, plan, self._pending(evaluation) or self._shortlist(plan))
            waiting.append(wait_for(partial(self._shortlist_notice, plan["id"])))
        if waiting:
            self._close_windows(waiting)
        for evaluation, plan in plans.items():
            titles = wait_for(partial(self.titles, plan["id"], evaluation.category), 60)
            self.outcome.titles += titles
            title = ok(self.ranking.get(f"/v1/titles/{titles[0]['id']}"))
            self.outcome.runs[evaluation.key] = str(title["run_id"])
            self._announce(evaluation, plan["id"], titles)
            self.say(f"  {evaluation.key}: {len(titles)} forerunner titles (run {title['run_id']})")

    def _pending(self, evaluation: Evaluation) -> list[dict[str, Any]]:
        """Entries of an earlier seeding's shortlist still to be answered."""
        listed = items(self.ranking, "/v1/shortlist-entries", headers=regulator())
        return [
            e for e in listed if e["category"] == evaluation.category and e["state"] == "pending"
        ]

    def _shortlist(self, plan: dict[str, Any]) -> list[dict[str, Any]]:
        result = api.run(self.ranking, plan["id"], plan["own"])
        assert result["state"] == "succeeded", result
        self.say(f"  run of {plan['evaluation'].key}: {result.get('n_eligible')} eligible")
        shortlist = ok(self.ranking.post(f"/v1/runs/{result['id']}/shortlist", headers=plan["own"]))
        assert shortlist["entries"], "the run selected no one"
        return list(shortlist["entries"])

    def _answer(
        self, evaluation: Evaluation, plan: dict[str, Any], entries: list[dict[str, Any]]
    ) -> None:
        """Every shortlisted enterprise commits, except that one rice-cooker maker opts out."""
        entries = sorted(entries, key=lambda e: e["standard_no"])
        decliner = entries[-1]["id"] if evaluation == RICE_COOKERS and len(entries) > 1 else None
        for entry in entries:
            own = bearer("enterprise", org=entry["uscc"], sub=f"enterprise:{entry['uscc']}")
            url = f"/v1/shortlist-entries/{entry['id']}"
            if entry["id"] == decliner:
                ok(self.ranking.post(f"{url}/opt-out", json={"reason": OPT_OUT}, headers=own))
                continue
            standard = ok(self.registry.get(f"/v1/standards/{entry['standard_id']}"))
            text = COMMITMENT.format(name=standard["name"], standard_no=entry["standard_no"])
            ok(
                self.ranking.post(
                    f"{url}/commitment", json={"text": text, "agreed": True}, headers=own
                )
            )
        self.say(f"  shortlist of {evaluation.key}: {len(entries)} entries answered")

    def _announce(self, evaluation: Evaluation, plan_id: str, titles: list[dict[str, Any]]) -> None:
        """领跑者名单公告: the regulator announces the forerunners of the plan, once."""
        if api.notice_about(self.oversight, "forerunner_list", plan_id) is not None:
            return
        year = titles[0]["year"]
        listed = [
            {k: t[k] for k in ("uscc", "enterprise_name", "standard_no")} | {"title_id": t["id"]}
            for t in titles
        ]
        notice = {
            "kind": "forerunner_list",
            "title": f"{year}年度天津市企业标准“领跑者”名单公告（{evaluation.product}）",
            "body": (
                f"经评估机构评估、入围公示，下列{len(titles)}项企业标准获得{year}年度天津市企业标准"
                f"“领跑者”称号，有效期至{titles[0]['valid_until']}。"
            ),
            "subject": {"type": "plan", "id": plan_id},
            "payload": {"plan_id": plan_id, "titles": listed},
        }
        ok(self.oversight.post("/v1/notices", json=notice, headers=regulator()))

    # --- oversight: a report that ends in a revocation ---------------------------------------

    def complaint(self, plan: dict[str, Any]) -> None:
        """举报 → 受理 → 企业陈述 → 调查 → 认定属实 → 撤销称号 (with its notice) → 结案."""
        titles = self.titles(plan["id"], RICE_COOKERS.category)
        target = next((t for t in titles if t["status"] == "revoked"), titles[0])
        if target["status"] != "revoked":
            case = self._case_of(target) or self._report(target)
            if case["state"] in ("received", "accepted"):
                self._investigate(case, target)
            self.timeline.go(min(self.timeline.today() + timedelta(days=8), today_shanghai()))
            if self._case(case["id"])["state"] == "investigating":
                api.transition(self.oversight, case["id"], DECISION)
            title_id = target["id"]
            target = wait_for(lambda: self._revoked(title_id), timeout=60)
        wait_for(partial(api.notice_about, self.oversight, "revocation", target["id"]))
        decided = self._case_of(target)
        assert decided is not None, "a revoked title's case"
        if decided["state"] == "decided":
            api.transition(self.oversight, decided["id"], {"action": "close"})
        self.outcome.revoked = target
        self.outcome.complaint = str(decided["id"])
        self.say(f"  title of {target['enterprise_name']} revoked (case {decided['id']})")

    def _revoked(self, title_id: str) -> dict[str, Any] | None:
        title = ok(self.ranking.get(f"/v1/titles/{title_id}"))
        return dict(title) if title["status"] == "revoked" else None

    def _case(self, case_id: str) -> dict[str, Any]:
        return dict(ok(self.oversight.get(f"/v1/cases/{case_id}", headers=regulator())))

    def _case_of(self, title: dict[str, Any]) -> dict[str, Any] | None:
        query = {"respondent_uscc": title["uscc"]}
        listed = items(self.oversight, "/v1/cases", query, headers=regulator())
        return next((c for c in listed if c["title_id"] == title["id"]), None)

    def _report(self, title: dict[str, Any]) -> dict[str, Any]:
        """Someone reports a market sample that falls short, some days after the titles."""
        granted = datetime.fromisoformat(
            ok(self.ranking.get(f"/v1/titles/{title['id']}"))["granted_at"]
        )
        self.timeline.go(min(granted.date() + timedelta(days=6), today_shanghai()))
        content = ok(self.registry.get(f"/v1/standards/{title['standard_id']}"))["content"]
        declared = next(i for i in content["indicators"] if i["code"] == "standby_power")["value"]
        measured = math.ceil(declared * 340) / 100
        product = content["products"][0]
        filed = ok(
            self.oversight.post(
                "/v1/complaints",
                json={
                    "kind": "report",
                    "target": {"type": "title", "id": title["id"]},
                    "grounds": "non_conforming",
                    "description": (
                        f"本人购买的{product['name']}（型号{product.get('model') or '—'}），"
                        "经送检，"
                        f"待机功率实测{measured}W，明显高于其企业标准{title['standard_no']}声明的"
                        f"≤{declared}W，与“领跑者”称号不符，请予核查。"
                    ),
                    "contact": {"name": "孙先生", "phone": "13802212345"},
                },
            )
        )
        return self._case(filed["complaint"]["progress"]["case_id"])

    def _investigate(self, case: dict[str, Any], title: dict[str, Any]) -> None:
        if case["state"] == "received":
            api.transition(self.oversight, case["id"], {"action": "accept"})
        own = bearer("enterprise", org=title["uscc"], sub=f"enterprise:{title['uscc']}")
        ok(
            self.oversight.post(
                f"/v1/cases/{case['id']}/responses",
                json={
                    "text": "经自查，该批次产品因元器件供应商变更导致待机功率偏高，"
                    "已暂停销售并整改。"
                },
                headers=own,
            )
        )
        api.transition(self.oversight, case["id"], {"action": "investigate"})
