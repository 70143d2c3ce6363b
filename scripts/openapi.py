"""Write or check the committed contracts in openapi/ against what the apps serve.

python -m scripts.openapi write     # make openapi
python -m scripts.openapi check     # make openapi-check
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "openapi"
SERVICES = ("registry", "ranking", "oversight")


def served(service: str) -> dict[str, Any]:
    module = __import__(f"services.{service}.app", fromlist=["create_app"])
    app = module.create_app()
    schema: dict[str, Any] = app.openapi()
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    mode = argv[1] if len(argv) > 1 else "check"
    CONTRACTS.mkdir(exist_ok=True)
    stale = []
    for service in SERVICES:
        schema = served(service)
        validate(schema)
        path = CONTRACTS / f"{service}.json"
        text = render(schema)
        if mode == "write":
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
        elif not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path.relative_to(ROOT))
    if stale:
        print(
            "stale contracts (run `make openapi` and commit): " + ", ".join(map(str, stale)),
            file=sys.stderr,
        )
        return 1
    if mode != "write":
        print("openapi/ matches what the services serve; all three are valid OpenAPI")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
