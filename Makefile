# The two commands the README opens with: `make run` (demo server + dashboard) and `make test`.
# Each creates its own virtual environment in .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint typecheck unit venv system-deps bench bench-deps schema

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	rm -f $(VENV)/.installed-* && touch $@

run: venv
	$(BIN)/splitlab demo

system-deps:
	bash scripts/install-system-deps.sh

lint: venv
	$(BIN)/ruff check src tests bench scripts examples
	$(BIN)/ruff format --check src tests bench scripts examples

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest

test: venv system-deps lint typecheck unit

schema: venv
	$(BIN)/splitlab schema > schemas/experiment.schema.json

bench-deps: venv
	$(BIN)/python -m pip install -q -e '.[bench]'

bench: bench-deps
	for script in bench/*.py; do case $$script in */harness.py) ;; *) $(BIN)/python $$script;; esac; done
