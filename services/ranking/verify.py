"""Verify a published run against a live ranking service, on your own machine.

    python -m services.ranking.verify http://127.0.0.1:8002 <run_id>

Downloads the run, its canonical input snapshot and its whole ranking list, re-ranks the
snapshot with this engine, and compares the input and result digests and every row. Exits 0
when everything matches, 1 when anything differs, 2 when the run can not be read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from typing import Any

import httpx

from services.ranking import engine
from services.ranking.runs import snapshot as snap


async def _rows(client: httpx.AsyncClient, run_id: str) -> list[snap.Row]:
    out: list[snap.Row] = []
    params: dict[str, Any] = {"limit": 200}
    while True:
        page = (await client.get(f"/v1/runs/{run_id}/rankings", params=params)).raise_for_status()
        body = page.json()
        for item in body["items"]:
            out.append(snap.Row(**{c: item[c] for c in snap.ROW_COLUMNS}))
        if not body["next_cursor"]:
            return out
        params["cursor"] = body["next_cursor"]


async def verify(base_url: str, run_id: str) -> dict[str, tuple[str | None, str]]:
    """Each figure as published and as recomputed here."""
    async with httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=60) as client:
        run = (await client.get(f"/v1/runs/{run_id}")).raise_for_status().json()
        snapshot = (await client.get(f"/v1/runs/{run_id}/snapshot")).raise_for_status().json()
        published = await _rows(client, run_id)
    result = await asyncio.to_thread(lambda: engine.rank(snap.batch(snapshot)))
    mine = snap.rows(snapshot, result)
    return {
        "engine_version": (run["engine_version"], result.engine_version),
        "input_digest": (run["input_digest"], result.input_digest()),
        "result_digest": (run["result_digest"], result.result_digest()),
        "rows_digest": (run["rows_digest"], snap.rows_digest(mine)),
        "published_rows": (snap.rows_digest(published), snap.rows_digest(mine)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.ranking.verify")
    parser.add_argument("url", help="base URL of the ranking service")
    parser.add_argument("run_id", type=uuid.UUID)
    args = parser.parse_args(argv)
    try:
        figures = asyncio.run(verify(args.url, str(args.run_id)))
    except httpx.HTTPError as exc:
        print(f"could not read the run: {exc}", file=sys.stderr)
        return 2
    return report(figures)


def report(figures: dict[str, tuple[str | None, str]]) -> int:
    ok = True
    for name, (published, recomputed) in figures.items():
        same = published == recomputed
        ok &= same
        print(f"{'ok  ' if same else 'DIFF'} {name}: {published} / {recomputed}")
    print("verified" if ok else "NOT verified: the published run differs from a re-run")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
