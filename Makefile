# Forerunner platform. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
# Parallel test workers (pytest-xdist); each gets its own database.
WORKERS ?= 2
# Disclosures make demo seeds (about).
DEMO_SIZE ?= 300

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,embedded]'
	@touch $@

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: install
install: $(VENV)/.installed ## Create the virtual environment and install everything

.PHONY: run
run: $(VENV)/.installed ## Start all three services (embedded PostgreSQL unless DATABASE_URL is set)
	$(PY) -m scripts.run

.PHONY: demo
demo: $(VENV)/.installed ## make run, seeded with a Tianjin demo (through the APIs; again: adds nothing)
	$(PY) -m scripts.demo --size $(DEMO_SIZE)

.PHONY: test
test: $(VENV)/.installed ## Run the whole test suite on real PostgreSQL
	$(PY) -m pytest -n $(WORKERS) -p no:cacheprovider -m "not stack"

.PHONY: stack
stack: $(VENV)/.installed ## Production shape locally: nginx gateway, PgBouncer, two replicas of each service
	$(PY) -m scripts.stack

.PHONY: test-stack
test-stack: $(VENV)/.installed ## Start the stack and walk through its gateway (installs nginx, PgBouncer)
	$(PY) -m pytest -p no:cacheprovider -m stack -s tests/stack

.PHONY: gateway
gateway: $(VENV)/.installed ## Render deploy/gateway/nginx.conf from its template and openapi/*.json
	$(PY) -m scripts.gateway write

.PHONY: check
check: $(VENV)/.installed ## Format check, lint, types
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy services scripts bench deploy

.PHONY: fmt
fmt: $(VENV)/.installed ## Format and fix what ruff can
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

.PHONY: openapi
openapi: $(VENV)/.installed ## Write openapi/*.json from the apps
	$(PY) -m scripts.openapi write

.PHONY: openapi-check
openapi-check: $(VENV)/.installed ## Fail when a committed contract differs from what an app serves
	$(PY) -m scripts.openapi check

.PHONY: bench
bench: $(VENV)/.installed ## Benchmarks, printed as ratios against a baseline run beside them
	@for b in bench/*.py; do m=$$(basename $$b .py); case $$m in _*) continue;; esac; \
		echo "== bench.$$m"; $(PY) -m bench.$$m || exit 1; done

.PHONY: migrate
migrate: $(VENV)/.installed ## Migrate all three services on DATABASE_URL
	@test -n "$$DATABASE_URL" || { echo "set DATABASE_URL"; exit 2; }
	for s in registry ranking oversight; do $(PY) -c "from services.kit.migrations import upgrade; upgrade('$$s', '$$DATABASE_URL')"; done
