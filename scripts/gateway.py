"""The gateway's nginx config, from one template for every place it runs.

    python -m scripts.gateway write   # render deploy/gateway/nginx.conf (compose)
    python -m scripts.gateway check   # fail when the committed file differs

Which path prefix goes to which service is read from the committed ``openapi/*.json``, so a
new route family is routed once its contract is committed. ``make stack`` renders the same
template with local ports (``render``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.kit.problems import NotFound, PayloadTooLarge, ServiceUnavailable, TooManyRequests

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "gateway" / "nginx.conf.template"
COMPOSE_CONF = ROOT / "deploy" / "gateway" / "nginx.conf"
SERVICES = ("registry", "ranking", "oversight")
# What the gateway lets through: a little above the services' own default (1 MiB), so that
# the service answers the precise 413; larger for the routes that take large bodies, at least
# what their app allows (tests/stack checks against the apps' body_limit_overrides).
DEFAULT_BODY_LIMIT = "2m"
BODY_LIMITS = {"/v1/sync": "256m", "/v1/complaints": "48m"}
# Routes whose large bodies are streamed to the service as they arrive (never spooled first).
STREAMED = frozenset({"/v1/sync"})
_FILL_IN = re.compile(r"\{\{(\w+)\}\}")


def prefixes(openapi_dir: Path = ROOT / "openapi") -> dict[str, list[str]]:
    """``/v1/<first segment>`` of every path each service serves, from its committed contract."""
    owned: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for service in SERVICES:
        paths = json.loads((openapi_dir / f"{service}.json").read_text())["paths"]
        found = sorted({"/".join(p.split("/")[:3]) for p in paths if p.startswith("/v1/")})
        for prefix in found:
            if prefix in seen:
                raise ValueError(f"{prefix} is served by both {seen[prefix]} and {service}")
            seen[prefix] = service
        owned[service] = found
    return owned


@dataclass(frozen=True)
class Gateway:
    """What differs between the places the gateway runs."""

    listen: str
    servers: Mapping[str, Sequence[str]]
    workers: str = "auto"
    rate: str = "50r/s"
    burst: int = 100
    main: Sequence[str] = ()
    http: Sequence[str] = field(default_factory=tuple)


def _problem(problem: NotFound | PayloadTooLarge | TooManyRequests | ServiceUnavailable) -> str:
    text = problem.body().model_dump_json(exclude_none=True)
    # Inside an nginx single-quoted string: no quote may end it early.
    if "'" in text or "\\" in text:
        raise ValueError(f"cannot quote for nginx: {text}")
    return text


def _locations(owned: Mapping[str, Sequence[str]]) -> list[str]:
    lines: list[str] = []
    for service, found in owned.items():
        plain = [p for p in found if p not in BODY_LIMITS]
        if plain:
            names = "|".join(p.removeprefix("/v1/") for p in plain)
            lines.append(f"location ~ ^/v1/({names})(/|$) {{ proxy_pass http://{service}; }}")
        for prefix in (p for p in found if p in BODY_LIMITS):
            extra = " proxy_request_buffering off;" if prefix in STREAMED else ""
            lines.append(
                f"location ~ ^{prefix}(/|$) {{ client_max_body_size {BODY_LIMITS[prefix]};"
                f"{extra} proxy_pass http://{service}; }}"
            )
        # Each service's readiness, reachable from outside for the load balancer in front.
        lines.append(f"location = /readyz/{service} {{ proxy_pass http://{service}/readyz; }}")
    return ["        " + line for line in lines]


def render(gateway: Gateway, owned: Mapping[str, Sequence[str]] | None = None) -> str:
    owned = owned if owned is not None else prefixes()
    upstreams = []
    for service in SERVICES:
        servers = " ".join(f"server {s};" for s in gateway.servers[service])
        upstreams.append(f"    upstream {service} {{ {servers} keepalive 32; }}")
    values = {
        "main": "\n".join(gateway.main),
        "http": "\n".join(f"    {line}" for line in gateway.http),
        "workers": gateway.workers,
        "listen": gateway.listen,
        "rate": gateway.rate,
        "burst": str(gateway.burst),
        "body_limit": DEFAULT_BODY_LIMIT,
        "upstreams": "\n".join(upstreams),
        "locations": "\n".join(_locations(owned)),
        "problem_404": _problem(NotFound("no service serves this path")),
        "problem_413": _problem(PayloadTooLarge("the body is larger than the gateway accepts")),
        "problem_429": _problem(TooManyRequests("too many requests from this address")),
        "problem_503": _problem(ServiceUnavailable("the service did not answer; retry")),
    }
    return _FILL_IN.sub(lambda m: values[m.group(1)], TEMPLATE.read_text())


# Compose: Docker's resolver picks up scaled replicas; each service answers on port 8000.
COMPOSE = Gateway(
    listen="8080",
    servers={s: [f"{s}:8000"] for s in SERVICES},
    http=(
        "# Docker's resolver, so that scaled replicas are picked up.",
        "resolver 127.0.0.11 valid=10s ipv6=off;",
    ),
)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    text = render(COMPOSE)
    if command == "write":
        COMPOSE_CONF.write_text(text)
        print(f"wrote {COMPOSE_CONF.relative_to(ROOT)}")
        return 0
    if command == "check":
        if COMPOSE_CONF.read_text() != text:
            print("deploy/gateway/nginx.conf is stale: run `make gateway`", file=sys.stderr)
            return 1
        print("deploy/gateway/nginx.conf is current")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
