"""deploy/ checked without running it: Kubernetes schemas, nginx -t, routes against contracts."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx
import kubernetes_validate
import pytest
import yaml

from scripts import gateway
from scripts.stack import (
    Stack,
    free_port,
    gateway_config,
    pgbouncer_config,
    refuse_clock_in_production,
)
from services.kit.db import Database, session_settings
from services.kit.settings import ServiceSettings

ROOT = Path(__file__).resolve().parent.parent.parent
MANIFESTS = ROOT / "deploy" / "k8s" / "forerunner.yaml"
K8S_VERSION = "1.33"


def manifests() -> list[dict]:
    return [d for d in yaml.safe_load_all(MANIFESTS.read_text()) if d]


@pytest.mark.parametrize("doc", manifests(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifests_match_the_kubernetes_schemas(doc):
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_catches_a_broken_manifest():
    broken = next(d for d in manifests() if d["kind"] == "Deployment")
    broken = {**broken, "spec": {**broken["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    stray = {**broken, "spec": {**broken["spec"], "replicas": 2, "replicaz": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(stray, K8S_VERSION, strict=True)


def test_ingress_routes_exactly_the_contracts_prefixes_with_their_limits():
    routed: dict[str, str] = {}
    limits: dict[str, str] = {}
    for doc in manifests():
        if doc["kind"] != "Ingress":
            continue
        size = doc["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
        for rule in doc["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["path"] not in routed, f"{path['path']} routed twice"
                routed[path["path"]] = path["backend"]["service"]["name"]
                limits[path["path"]] = size
    expected = {p: s for s, found in gateway.prefixes().items() for p in found}
    assert routed == expected, "deploy/k8s Ingress paths differ from openapi/*.json"
    assert limits == {p: gateway.BODY_LIMITS.get(p, gateway.DEFAULT_BODY_LIMIT) for p in routed}


def test_the_committed_gateway_config_is_rendered_from_the_template():
    assert gateway.main(["gateway", "check"]) == 0, "run `make gateway`"


def test_every_contract_path_is_routed_to_its_service():
    text = gateway.render(gateway.COMPOSE)
    for service, found in gateway.prefixes().items():
        for prefix in found:
            owners = [
                m.group(2)
                for m in re.finditer(
                    r"location ~ \^/v1/\(?([^ )]*)\)?\(/\|\$\) \{.*?http://(\w+)", text
                )
                if prefix.removeprefix("/v1/") in m.group(1).split("|")
            ]
            assert owners == [service], f"{prefix}: {owners}"


def test_a_prefix_claimed_by_two_services_is_refused(tmp_path):
    for service in gateway.SERVICES:
        paths = {"/v1/things": {}} if service != "oversight" else {"/v1/notices": {}}
        (tmp_path / f"{service}.json").write_text(f'{{"paths": {paths!r}}}'.replace("'", '"'))
    with pytest.raises(ValueError, match="/v1/things is served by both registry and ranking"):
        gateway.prefixes(tmp_path)


def _app_body_limits() -> dict[str, int]:
    from services.oversight.app import create_app as oversight
    from services.oversight.settings import OversightSettings
    from services.registry.app import create_app as registry
    from services.registry.settings import RegistrySettings

    limits: dict[str, int] = {}
    for app in (
        registry(RegistrySettings(environment="test")),
        oversight(OversightSettings(environment="test")),
    ):
        for middleware in app.user_middleware:
            limits |= middleware.kwargs.get("body_limit_overrides") or {}
    return limits


def _bytes(size: str) -> int:
    return int(size[:-1]) * {"k": 1024, "m": 1024 * 1024}[size[-1]]


def test_the_gateway_lets_through_what_each_service_accepts():
    assert _bytes(gateway.DEFAULT_BODY_LIMIT) >= ServiceSettings().max_body_bytes
    overrides = _app_body_limits()
    assert set(overrides) == set(gateway.BODY_LIMITS)
    for prefix, limit in overrides.items():
        assert _bytes(gateway.BODY_LIMITS[prefix]) >= limit, prefix


def _nginx_t(binaries, conf: Path) -> subprocess.CompletedProcess[str]:
    log = conf.parent / "error.log"
    return subprocess.run(
        [binaries["nginx"], "-t", "-p", str(conf.parent), "-c", str(conf), "-e", str(log)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_nginx_accepts_the_deploy_gateway_config(binaries, tmp_path):
    # Compose's host names resolve only inside its network: point them at this host.
    text = (ROOT / "deploy" / "gateway" / "nginx.conf").read_text()
    text = re.sub(r"server (\w+):8000;", "server 127.0.0.1:8000;", text)
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    checked = _nginx_t(binaries, conf)
    assert checked.returncode == 0, checked.stderr
    conf.write_text(text.replace("keepalive 32;", "keepalive;"))
    assert _nginx_t(binaries, conf).returncode != 0


def test_nginx_accepts_the_stack_gateway_config(binaries, tmp_path):
    (tmp_path / "nginx").mkdir()
    conf = tmp_path / "nginx" / "nginx.conf"
    servers = {s: [8001 + i, 9001 + i] for i, s in enumerate(gateway.SERVICES)}
    conf.write_text(gateway_config(tmp_path, 18080, servers))
    checked = _nginx_t(binaries, conf)
    assert checked.returncode == 0, checked.stderr


def test_a_service_that_does_not_answer_is_a_503_problem_with_retry_after(binaries, tmp_path):
    (tmp_path / "nginx").mkdir()
    conf = tmp_path / "nginx" / "nginx.conf"
    port = free_port()
    dead = {s: [free_port(), free_port()] for s in gateway.SERVICES}  # nothing listens there
    conf.write_text(gateway_config(tmp_path, port, dead))
    nginx = subprocess.Popen(
        [binaries["nginx"], "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"],
        stderr=subprocess.DEVNULL,
    )
    try:
        answer = None
        for _ in range(50):
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/v1/standards", timeout=5)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert answer is not None, "nginx did not start"
        assert answer.status_code == 503  # not the upstream's 502 under a body saying 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == 503
        assert answer.json()["code"] == "service_unavailable"
        assert answer.headers["retry-after"] == "1"
    finally:
        nginx.terminate()
        nginx.wait(10)


def test_pgbouncer_pools_per_service_with_the_kits_session_settings(tmp_path):
    (tmp_path / "pgbouncer").mkdir()
    text = pgbouncer_config(tmp_path, "postgresql+asyncpg://app:pw@db.local:5433/forerunner", 6432)
    assert "pool_mode = transaction" in text
    assert "server_reset_query = DEALLOCATE ALL" in text
    assert "server_reset_query_always = 1" in text
    for service in gateway.SERVICES:
        line = next(x for x in text.splitlines() if x.startswith(f"forerunner_{service} ="))
        assert "host=db.local port=5433 dbname=forerunner user=app password=pw" in line
        for name, value in session_settings(ServiceSettings()).items():
            assert f"SET {name} = {value}" in line


def test_the_kit_behind_pgbouncer_keeps_no_statement_beyond_a_transaction():
    direct = Database(ServiceSettings())
    pooled = Database(ServiceSettings(db_pgbouncer=True))
    kwargs = pooled.connect_args
    assert kwargs["statement_cache_size"] == 0
    assert kwargs["prepared_statement_cache_size"] == 0
    names = {kwargs["prepared_statement_name_func"]() for _ in range(3)}
    assert len(names) == 3
    # PgBouncer refuses unknown startup parameters: only application_name goes there.
    assert kwargs["server_settings"] == {"application_name": "service"}
    assert pooled._read_pool_args["statement_cache_size"] == 0
    assert pooled._read_pool_args["server_settings"] == {"application_name": "service"}
    assert "statement_cache_size" not in direct.connect_args
    assert direct.connect_args["server_settings"]["lock_timeout"] == "5000"


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        ({"FORERUNNER_ENVIRONMENT": "production", "FORERUNNER_CLOCK_OFFSET_DAYS": "3"}, True),
        ({"FORERUNNER_ENVIRONMENT": "production", "RANKING_CLOCK_OFFSET_DAYS": "0.5"}, True),
        ({"RANKING_ENVIRONMENT": "Production", "FORERUNNER_CLOCK_OFFSET_DAYS": "3"}, True),
        ({"FORERUNNER_ENVIRONMENT": "production", "FORERUNNER_CLOCK_OFFSET_DAYS": "0"}, False),
        ({"FORERUNNER_CLOCK_OFFSET_DAYS": "3"}, False),
        ({"FORERUNNER_ENVIRONMENT": "test", "RANKING_CLOCK_OFFSET_DAYS": "3"}, False),
        # The service's own prefix wins, as in its settings.
        (
            {
                "RANKING_ENVIRONMENT": "development",
                "FORERUNNER_ENVIRONMENT": "production",
                "FORERUNNER_CLOCK_OFFSET_DAYS": "3",
            },
            False,
        ),
    ],
)
def test_the_stack_moves_no_clock_in_production(env, refused):
    if refused:
        with pytest.raises(ValueError, match="production keeps the real time"):
            refuse_clock_in_production("ranking", env)
    else:
        refuse_clock_in_production("ranking", env)


def test_a_clock_move_in_production_stops_no_replica(tmp_path):
    stack = Stack(
        run=tmp_path,
        database_url="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        env={"FORERUNNER_ENVIRONMENT": "production"},
        replicas={"ranking": [1, 2]},  # no child runs: a stop would fail to find one
    )
    with pytest.raises(ValueError, match="production keeps the real time"):
        stack.restart("ranking", FORERUNNER_CLOCK_OFFSET_DAYS="2")
    assert stack.overrides == {}
