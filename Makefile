# Observatory. `make help` lists the targets. Everything installs what it needs itself.
SHELL := /bin/bash
VENV := .venv
OBS := $(VENV)/bin/observatory
PYTEST_ARGS ?=

.PHONY: help up down logs ps cli e2e local local-down local-status soak test test-unit test-integration test-config lint bench demo query venv config-reference screenshots

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

venv: ## create .venv with the pinned Python packages (and, as root, the Debian packages the tests need)
	@scripts/bootstrap.sh dev

up: ## full stack with Docker: generates .env, starts every container, prints URLs
	@scripts/up.sh

down: ## stop the Docker stack, demo traffic included (volumes kept)
	docker compose --profile setup --profile demo down

logs: ## follow the Docker stack's logs
	docker compose logs -f --tail=100

cli: ## the observatory CLI inside the Docker stack: make cli ARGS="query 'SELECT count() FROM events FINAL'"
	docker compose --profile cli run --rm cli $(ARGS)

ps: ## Docker stack status (one-shot jobs included)
	docker compose --profile setup --profile demo ps -a

e2e: venv ## end-to-end tests against a running stack (OBS_E2E_* URLs, else the compose stack's .env)
	@set -a; [ ! -f .env ] || . ./.env; set +a; $(VENV)/bin/pytest -q -rs tests/e2e $(PYTEST_ARGS)

local: ## local stack without Docker, supervised: RabbitMQ, observatory, Prometheus, Alertmanager, Pushgateway, blackbox
	@scripts/bootstrap.sh runtime
	@$(OBS) local up

local-down: ## stop the local stack (supervisord and every program)
	@$(OBS) local down

local-status: ## state, pid, uptime and readiness of every program of the local stack
	@$(OBS) local status

soak: ## kill -9 random components of a private local stack under traffic: SOAK_SECONDS=180 SOAK_KILL_EVERY=20
	@scripts/bootstrap.sh runtime
	@$(OBS) local soak --seconds $${SOAK_SECONDS:-180} --kill-every $${SOAK_KILL_EVERY:-20} --seed $${SOAK_SEED:-1}

test: venv lint ## lint, then the whole test suite: unit, integration (real RabbitMQ, chDB, Prometheus, Alertmanager), config
	$(VENV)/bin/pytest tests/unit tests/integration tests/config $(PYTEST_ARGS)

lint: venv ## ruff (lint + format check) on the package and tests; mypy on services/observatory (strict on events, ingest, consumer, store)
	$(VENV)/bin/ruff check services tests
	$(VENV)/bin/ruff format --check services tests
	cd services && ../$(VENV)/bin/mypy

test-unit: venv ## only tests/unit (pure, no network)
	$(VENV)/bin/pytest -q tests/unit $(PYTEST_ARGS)

test-integration: venv ## only tests/integration (real RabbitMQ, chDB, Prometheus, Alertmanager, Chromium)
	$(VENV)/bin/pytest -q tests/integration $(PYTEST_ARGS)

test-config: venv ## only tests/config (promtool, amtool, compose, dashboards, docs and links)
	$(VENV)/bin/pytest -q tests/config $(PYTEST_ARGS)

bench: venv ## benchmarks with ceilings measured in the same run (prints a table; never fails on timing)
	$(OBS) bench

screenshots: venv ## PNGs of each console page (desktop, phone, dark) into docs/screenshots/ (Chromium, demo data)
	$(VENV)/bin/python -m observatory.bench.console screenshots docs/screenshots

demo: ## webshop traffic into the running stack: DAYS=30 RATE=20
	$(OBS) demo --days $${DAYS:-30} --rate $${RATE:-20}

query: ## run SQL on the store (read-only through the API while make local runs): make query SQL="select count() from events final"
	$(OBS) query "$$SQL"

config-reference: venv ## regenerate docs/configuration.md from the settings classes
	$(VENV)/bin/python -m observatory.config_reference docs/configuration.md
