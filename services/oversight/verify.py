"""Check the notice board of an oversight service: anyone can run it.

    python -m services.oversight.verify http://127.0.0.1:8003 [--public-key KEY] [--strict]

It fetches the signed head, checks its Ed25519 signature, walks the whole chain from the first
entry recomputing every hash (SHA-256 of the previous hash and the entry's RFC 8785 canonical
JSON), and reports the first entry that does not verify. ``--public-key`` pins the key (base64
of the raw 32 bytes, or a PEM file); without it the key the service serves is used, which
proves only that the head and chain agree. Exit status: 0 verified, 1 not, 2 could not fetch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.oversight.notices.chain import GENESIS, Failure, verify_entries
from services.oversight.notices.signing import public_key_from_b64, verify_signature

PAGE = 200


@dataclass
class Report:
    entries: int
    head_seq: int
    head_hash: str
    failure: Failure | None

    @property
    def ok(self) -> bool:
        return self.failure is None


def load_public_key(text: str) -> Ed25519PublicKey:
    path = Path(text)
    if path.exists():
        key = serialization.load_pem_public_key(path.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key
    return public_key_from_b64(text)


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params or None)
    response.raise_for_status()
    return response.json()


async def verify(
    client: httpx.AsyncClient, public_key: Ed25519PublicKey | None = None, *, strict: bool = False
) -> Report:
    head = await _get(client, "/v1/notices/chain/head")
    if public_key is None:
        served = await _get(client, head.get("public_key_url", "/v1/notices/chain/public-key"))
        public_key = public_key_from_b64(served["public_key"])
    statement = json.loads(head["signed"])
    if not verify_signature(public_key, head["signature"], head["signed"].encode("utf-8")):
        return Report(0, head["seq"], head["hash"], Failure(head["seq"], "bad head signature"))
    if statement.get("seq") != head["seq"] or statement.get("hash") != head["hash"]:
        return Report(
            0, head["seq"], head["hash"], Failure(head["seq"], "head differs from signed")
        )

    after, prev = 0, GENESIS
    while after < head["seq"]:
        page = await _get(client, "/v1/notices/chain", after=after, limit=PAGE)
        items = [i for i in page["items"] if i["seq"] <= head["seq"]]
        if not items:
            return Report(after, head["seq"], head["hash"], Failure(after + 1, "missing"))
        after, prev, failure = verify_entries(items, prev, after, strict=strict)
        if failure is not None:
            return Report(after, head["seq"], head["hash"], failure)
    if prev != head["hash"]:
        return Report(after, head["seq"], head["hash"], Failure(after, "chain ends off the head"))
    return Report(after, head["seq"], head["hash"], None)


def main(argv: list[str] | None = None, transport: httpx.AsyncBaseTransport | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.oversight.verify")
    parser.add_argument("url", help="base URL of the oversight service")
    parser.add_argument("--public-key", help="pinned key: base64 of the raw key, or a PEM file")
    parser.add_argument("--strict", action="store_true", help="also re-canonicalise each entry")
    args = parser.parse_args(argv)
    key = load_public_key(args.public_key) if args.public_key else None

    async def run() -> Report:
        async with httpx.AsyncClient(base_url=args.url, transport=transport, timeout=30) as c:
            return await verify(c, key, strict=args.strict)

    try:
        report = asyncio.run(run())
    except (httpx.HTTPError, ValueError, KeyError) as err:
        print(f"could not fetch the chain: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
    if report.failure is not None:
        print(f"entry {report.failure.seq} does not verify: {report.failure.reason}")
        return 1
    print(f"verified {report.entries} entries; head {report.head_seq} {report.head_hash}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
