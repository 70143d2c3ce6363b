"""Migrate one service or all (the job that runs before a rollout).

python deploy/migrate.py [registry|ranking|oversight ...]
"""

from __future__ import annotations

import os
import sys

from services.kit.migrations import upgrade

SERVICES = ("registry", "ranking", "oversight")


def main(argv: list[str]) -> int:
    url = os.environ.get("FORERUNNER_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        print("set FORERUNNER_DATABASE_URL", file=sys.stderr)
        return 2
    for service in argv[1:] or SERVICES:
        if service not in SERVICES:
            print(f"unknown service {service}", file=sys.stderr)
            return 2
        upgrade(service, url)
        print(f"{service}: at head")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
