"""The run worker: a background step every replica runs (评估计算).

A replica claims one queued run in a short transaction, then, outside any transaction, reads
the plan's categories from the registry and the exclusions from oversight, builds the
snapshot and ranks it in a worker thread. Everything is stored in one last transaction, and
only if the run is still this replica's claim (the snapshot is packed and digested in a
thread while the rows go in): a failure anywhere before leaves nothing half-stored, and the
run ends failed with a reason or is taken up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.clients.oversight import OversightClient
from services.clients.registry import DisclosureLine, RegistryClient
from services.kit.background import Periodic
from services.kit.http import ServiceError
from services.kit.workdays import today_shanghai
from services.ranking import engine
from services.ranking.models import Run, RunSnapshot
from services.ranking.plans import repository as plans
from services.ranking.plans.schemas import PlanContent
from services.ranking.runs import repository
from services.ranking.runs import snapshot as snap
from services.ranking.settings import RankingSettings

log = logging.getLogger("forerunner.ranking.runs")
FETCH_BACKOFF_SECONDS = 0.5


class RunFailed(Exception):
    """The run cannot be completed; the message is the reason callers see."""


@dataclass(frozen=True)
class Ranked:
    """A run ranked: its snapshot, the engine's result and the rows to store."""

    snapshot: dict[str, Any]
    result: engine.EngineResult
    rows: list[snap.Row]


@dataclass(frozen=True)
class Sealed:
    """What a run is checked by: its packed snapshot and that snapshot's SHA-256, and the
    digest of its rows (the result's own digests are cached on the result)."""

    body: bytes
    sha256: str
    rows_digest: str


class SealFailed(Exception):
    """Sealing a ranked run raised; the cause is the error."""


def rank(inputs: snap.Inputs) -> Ranked:
    """Snapshot, rank and lay out the rows: CPU work, called in a worker thread."""
    snapshot = snap.build(inputs)
    result = engine.rank(snap.batch(snapshot))
    return Ranked(snapshot, result, snap.rows(snapshot, result))


def seal(ranked: Ranked) -> Sealed:
    """Pack the snapshot and compute every digest: CPU work, in a worker thread while the
    rows are being stored."""
    body, sha = snap.pack(ranked.snapshot)
    ranked.result.input_digest()
    ranked.result.result_digest()
    return Sealed(body, sha, snap.rows_digest(ranked.rows))


def compute(inputs: snap.Inputs) -> tuple[Ranked, Sealed]:
    """All of a run's CPU work in one call (the run itself seals while it stores)."""
    ranked = rank(inputs)
    return ranked, seal(ranked)


async def fetch_disclosures(
    registry: RegistryClient, categories: list[str], attempts: int
) -> list[DisclosureLine]:
    """Every current disclosure of the categories; a broken stream starts the fetch over."""
    last: ServiceError | None = None
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(FETCH_BACKOFF_SECONDS * attempt)
        try:
            out: list[DisclosureLine] = []
            for category in categories:
                async for batch in registry.current_disclosure_lines(category):
                    out.extend(batch)
            return out
        except ServiceError as exc:
            log.warning("registry read failed (attempt %d): %s", attempt + 1, exc)
            last = exc
    raise RunFailed(f"the registry could not be read after {attempts} attempts: {last}")


async def fetch_exclusions(oversight: OversightClient, on: Any) -> list[Any]:
    try:
        return await oversight.exclusions(on)
    except (ServiceError, ValueError) as exc:
        raise RunFailed(
            f"oversight could not be reached for exclusions ({exc}); a run never ranks without them"
        ) from exc


async def _fail(sessionmaker: async_sessionmaker[AsyncSession], run: Run, reason: str) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Run)
            .where(Run.id == run.id, Run.attempts == run.attempts, Run.state == "running")
            .values(state="failed", reason=reason[:2000], finished_at=func.now(), lease_until=None)
        )


async def _store(
    sessionmaker: async_sessionmaker[AsyncSession], run: Run, ranked: Ranked
) -> Sealed | None:
    """Everything in one transaction, if the run is still this claim's (None when another
    replica has taken it over). A 10,000-row COPY is mostly the database's work (its indexes
    and foreign key), so a thread seals the run meanwhile; if sealing fails (``SealFailed``)
    or the database does, the transaction is undone."""
    async with sessionmaker() as session, session.begin():
        current = await repository.get(session, run.id, lock=True)
        if current is None or current.state != "running" or current.attempts != run.attempts:
            return None
        sealing = asyncio.ensure_future(asyncio.to_thread(seal, ranked))
        try:
            await repository.store_rows(session, run.id, ranked.rows)
        finally:
            await asyncio.wait([sealing])  # the thread is done before the transaction ends
            failure = sealing.exception()
        if failure is not None:
            raise SealFailed() from failure
        sealed = sealing.result()
        session.add(RunSnapshot(run_id=run.id, body=sealed.body, sha256=sealed.sha256))
        res = ranked.result
        current.state = "succeeded"
        current.finished_at = func.now()
        current.lease_until = None
        current.engine_version = res.engine_version
        current.input_digest = res.input_digest()
        current.result_digest = res.result_digest()
        current.rows_digest = sealed.rows_digest
        current.n_candidates = len(res)
        current.n_eligible = int(res.eligible.sum())
        current.n_selected = int(res.selected.sum())
        current.selection = {cat.code: cat.selection.to_dict() for cat in res.categories()}
    return sealed


class _CollectorPause:
    """The cyclic garbage collector held off while runs are carried out in this process.

    A run of 10,000 candidates makes some 200,000 objects that live until its rows are
    stored, and none is part of a cycle: left on, the collector takes them for long-lived
    and walks the whole heap of the service once or twice a run (0.15 s and more each
    time, a quarter of the run). Reference counting still frees them all; whatever cyclic
    garbage other requests leave meanwhile is collected once the last run is over.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs = 0
        self._was_enabled = False

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._runs == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._runs += 1
        try:
            yield
        finally:
            with self._lock:
                self._runs -= 1
                if self._runs == 0 and self._was_enabled:
                    gc.enable()


collector_paused = _CollectorPause()


async def execute(app: FastAPI, run: Run) -> None:
    with collector_paused():
        await _execute(app, run)


async def _execute(app: FastAPI, run: Run) -> None:
    settings: RankingSettings = app.state.settings
    sessionmaker = app.state.db.sessionmaker
    try:
        async with sessionmaker() as session:
            version = await plans.version(session, run.plan_id, run.plan_version)
        assert version is not None
        content = PlanContent.model_validate(version.content)
        disclosures = await fetch_disclosures(
            app.state.registry, content.categories, settings.run_fetch_attempts
        )
        # Oversight's dates are Beijing dates: after 16:00 UTC the UTC date is a day behind.
        on = today_shanghai(app.state.clock.now())
        exclusions = await fetch_exclusions(app.state.oversight, on)
        inputs = snap.Inputs(
            str(run.plan_id), run.plan_version, version.content, disclosures, exclusions
        )
        ranked = await asyncio.to_thread(rank, inputs)
    except RunFailed as exc:
        await _fail(sessionmaker, run, str(exc))
        return
    except Exception as exc:
        log.exception("run %s failed", run.id)
        await _fail(sessionmaker, run, f"internal error ({type(exc).__name__})")
        return
    try:
        sealed = await _store(sessionmaker, run, ranked)
    except SealFailed as exc:
        log.error("run %s failed", run.id, exc_info=exc.__cause__)
        await _fail(sessionmaker, run, f"internal error ({type(exc.__cause__).__name__})")
        return
    if sealed is not None:
        app.state.results.put(run.id, ranked.snapshot, ranked.result)
    else:
        log.warning("run %s was taken over by another replica; result dropped", run.id)


async def run_step(app: Any) -> int:
    """Claim and carry out one run; how many were handled (0 when none was due)."""
    settings: RankingSettings = app.state.settings
    async with app.state.db.sessionmaker() as session, session.begin():
        run = await repository.claim(session, settings.run_lease_seconds)
    if run is None:
        return 0
    if run.attempts > settings.run_max_claims:
        await _fail(
            app.state.db.sessionmaker,
            run,
            f"abandoned: claimed {run.attempts - 1} times by replicas that stopped",
        )
        return 1
    await execute(app, run)
    return 1


def periodic(settings: RankingSettings) -> Periodic:
    return Periodic("ranking-runs", settings.run_poll_seconds, run_step)
