"""The notice chain: verifying it against a bare hashing loop, and appends under contention.

    python -m bench.chain [--entries 100000] [--writers 16] [--seconds 5]

1. Verify ``--entries`` chain entries as ``python -m services.oversight.verify`` does once it
   has fetched them (``verify_entries``), against a bare loop that hashes the same canonical
   bytes and nothing else. Target: at most 2x. Strict mode (re-canonicalising every entry) is
   shown beside it.
2. Append throughput: ``--writers`` concurrent writers posting notices through the service's
   append (head row locked FOR UPDATE: one line) for ``--seconds`` on a scratch database on
   127.0.0.1, against the same writers inserting the same rows with no chain; the chain is
   verified afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bench._common import scratch_database
from services.kit.migrations import upgrade
from services.kit.workdays import WorkdayCalendar
from services.oversight.models import Notice
from services.oversight.notices import repository, service
from services.oversight.notices.chain import GENESIS, canonical, link, verify_entries
from services.oversight.notices.schemas import NoticeCreate, NoticeKind


def entry(seq: int) -> dict[str, object]:
    return {
        "seq": seq,
        "id": str(uuid.UUID(int=seq)),
        "kind": "shortlist_publicity",
        "title": f"2026年度电饭锅企业标准领跑者入围名单公示（第{seq}号）",
        "body": "根据评估方案，现将入围名单予以公示。公示期内如有异议，请向监督机构提出。",
        "subject": {"type": "run", "id": f"run-{seq}"},
        "corrects": None,
        "window": {"opens": "2026-04-27", "closes": "2026-05-06", "working_days": 5},
        "payload": {"plan_id": "plan-7", "entries": 12},
        "posted_at": "2026-04-27T02:00:00.000000Z",
        "posted_by": "service:ranking",
    }


def build(n: int) -> tuple[list[bytes], list[dict[str, object]]]:
    blobs, served, prev = [], [], GENESIS
    for seq in range(1, n + 1):
        blob = canonical(entry(seq))
        h = link(prev, blob)
        blobs.append(blob)
        served.append({"seq": seq, "prev_hash": prev, "hash": h, "entry": blob.decode()})
        prev = h
    return blobs, served


def bare_loop(blobs: list[bytes]) -> str:
    prev = GENESIS
    sha256 = hashlib.sha256
    for blob in blobs:
        prev = sha256(prev.encode("ascii") + blob).hexdigest()
    return prev


def best_of(runs: int, fn: object) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def verification(n: int) -> None:
    blobs, served = build(n)
    expected = bare_loop(blobs)
    assert verify_entries(served)[1] == expected
    for row in served:
        row["id"] = str(uuid.UUID(int=int(str(row["seq"]))))
    assert verify_entries(served, strict=True)[2] is None
    base = best_of(5, lambda: bare_loop(blobs))
    plain = best_of(5, lambda: verify_entries(served))
    strict = best_of(3, lambda: verify_entries(served, strict=True))
    print(f"verify {n} entries (best of runs, one core):")
    for label, took in [
        ("bare SHA-256 loop over the canonical bytes", base),
        ("verify_entries (what the verify command runs)", plain),
        ("verify_entries --strict (re-canonicalise)", strict),
    ]:
        print(f"  {label:<46} {took * 1000:8.1f} ms  {took / base:5.2f}x")


async def appends(url: str, writers: int, seconds: float) -> None:
    engine = create_async_engine(url, pool_size=writers, max_overflow=0)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    calendar = WorkdayCalendar()
    body = NoticeCreate(
        kind=NoticeKind.forerunner_list,
        title="2026年度电饭锅企业标准领跑者名单",
        body="名单如下。" * 20,
        payload={"plan_id": "plan-7", "entries": 12},
    )

    async def chained() -> None:
        async with sessions() as session, session.begin():
            await service.append(
                session, None, body, posted_by="bench", now=datetime.now(UTC), calendar=calendar
            )

    async def unchained() -> None:
        async with sessions() as session, session.begin():
            await session.execute(
                text(
                    "INSERT INTO bench_plain (id, title, body, payload, hash) "
                    "VALUES (:id, :t, :b, '{}'::jsonb, :h)"
                ),
                {"id": uuid.uuid4(), "t": body.title, "b": body.body, "h": "0" * 64},
            )

    async def run(work: object) -> float:
        done = 0
        deadline = time.perf_counter() + seconds

        async def writer() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await work()  # type: ignore[operator]
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(writers)))
        return done / (time.perf_counter() - start)

    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE bench_plain (id uuid PRIMARY KEY, title text, body text, "
                "payload jsonb, hash text)"
            )
        )
    plain = await run(unchained)
    chain = await run(chained)
    async with sessions() as session:
        rows = await repository.chain_after(session, 0, 10**9)
        prev = GENESIS
        for notice in rows:
            assert notice.prev_hash == prev
            prev = link(prev, canonical(service.entry_of(notice)))
            assert prev == notice.hash, f"chain broken at {notice.seq}"
        count = len(rows)
        assert [n.seq for n in rows] == list(range(1, count + 1))
        assert isinstance(rows[0], Notice)
    await engine.dispose()
    print(f"append with {writers} concurrent writers for {seconds:g} s (127.0.0.1):")
    print(f"  plain INSERT, no chain            {plain:8.0f} rows/s   1.00x")
    print(f"  chained append (head row locked)  {chain:8.0f} rows/s   {chain / plain:5.2f}x")
    print(f"  chain of {count} appends verified as one line")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chain")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    verification(args.entries)
    with scratch_database("bench_chain") as url:
        upgrade("oversight", url)
        asyncio.run(appends(url, args.writers, args.seconds))


if __name__ == "__main__":
    main()
