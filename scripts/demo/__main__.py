"""``make demo``: start what ``make run`` starts, seed the Tianjin demo through the public
APIs, print where to look, and keep running until Ctrl-C (``python -m scripts.demo``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from datetime import timedelta
from pathlib import Path

from scripts.run import ROOT, Launcher, serve
from services.kit.workdays import WorkdayCalendar, today_shanghai

PREFIXES = ("FORERUNNER", "REGISTRY", "RANKING", "OVERSIGHT")
CALENDAR_VARIABLES = [f"{prefix}_WORKDAY_CALENDAR_FILE" for prefix in PREFIXES]


def stand_in_calendar(path: Path) -> list[int] | None:
    """Years around today the calendar package does not know yet, as weekends-only years in
    ``path`` (the State Council publishes each year's holidays late in the year before); None
    when the package knows them all or a calendar file is configured."""
    if any(os.environ.get(v) for v in CALENDAR_VARIABLES):
        return None
    package = WorkdayCalendar()
    today = today_shanghai()
    first, last = (today - timedelta(days=60)).year, (today + timedelta(days=400)).year
    years = [y for y in range(first, last + 1) if not package.covers(y)]
    if not years:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({str(y): {} for y in years}), encoding="utf-8")
    return years


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.demo", description=__doc__)
    parser.add_argument("--size", type=int, default=300, help="disclosures to seed (about)")
    args = parser.parse_args(argv)
    if os.environ.get("FORERUNNER_ENVIRONMENT", "").lower() == "production":
        print("make demo moves service clocks, which production refuses", file=sys.stderr)
        return 2

    from scripts.demo.seed import Seeder

    env: dict[str, str] = {}
    if not any(os.environ.get(f"{p}_LOG_LEVEL") for p in PREFIXES):
        # The services' request lines would bury what the demo prints; LOG_LEVEL brings them.
        env["FORERUNNER_LOG_LEVEL"] = "WARNING"
    calendar = ROOT / ".data" / "demo" / "workdays-stand-in.json"
    stand_in = stand_in_calendar(calendar)
    if stand_in:
        env["FORERUNNER_WORKDAY_CALENDAR_FILE"] = str(calendar)

    def seed(launcher: Launcher) -> None:
        if stand_in:
            print(
                f"calendar: {', '.join(map(str, stand_in))} not in chinese-calendar yet; the "
                "demo counts weekends only there (FORERUNNER_WORKDAY_CALENDAR_FILE: the real one)",
                flush=True,
            )

        def clocks(offset_days: int) -> None:
            launcher.restart(
                ("ranking", "oversight"), True, FORERUNNER_CLOCK_OFFSET_DAYS=str(offset_days)
            )

        urls = {name: launcher.url(name) for name in launcher.services}
        started = time.monotonic()
        print("seeding the Tianjin demo through the public APIs ...", flush=True)
        try:
            outcome = Seeder(urls, clocks, args.size, say=lambda s: print(s, flush=True))()
        except Exception:
            traceback.print_exc()
            print("seeding failed; stopping", file=sys.stderr, flush=True)
            raise SystemExit(1) from None
        print(f"seeded in {time.monotonic() - started:.0f} s. Where to look:", flush=True)
        for label, url in outcome.links(urls):
            print(f"  {label:<40} {url}", flush=True)
        print(
            f"  {'verify the notice chain':<40} .venv/bin/python -m services.oversight.verify "
            f"{urls['oversight']}",
            flush=True,
        )

    return serve("make demo", seed, quiet=True, **env)


if __name__ == "__main__":
    raise SystemExit(main())
