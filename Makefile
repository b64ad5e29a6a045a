SHELL := /bin/bash
# The two commands the README opens with: `make run` (demo server + dashboard) and `make test`.
# Each builds its own virtual environment from a lock file in requirements/ (exact versions and
# hashes), so a fresh clone installs exactly what CI tested. `make lock` refreshes the locks on
# purpose; `make test-latest` tries the newest releases the pyproject ranges allow.
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
LOCKS := requirements
# uv pip compile, for every lock: all platforms, Python 3.11 and newer, hashes of every file.
COMPILE := .venv-lock/bin/uv pip compile --quiet --universal --python-version 3.11 \
	--generate-hashes --no-header --annotation-style line

.PHONY: run test lint typecheck unit venv run-venv bench-venv system-deps bench schema lock \
	test-latest sdk

# $(call locked,VENV,LOCK): a new environment VENV holding exactly LOCK, plus splitlab itself
# (editable, no dependencies resolved at install time, built with the locked setuptools).
define locked
	rm -rf $(1)
	$(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install -q --require-hashes --no-deps -r $(2)
	$(1)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	$(1)/bin/python -m pip check
	touch $(1)/.locked
endef

venv: $(VENV)/.locked

$(VENV)/.locked: $(LOCKS)/test.txt pyproject.toml
	$(call locked,$(VENV),$(LOCKS)/test.txt)

run-venv: .venv-run/.locked

.venv-run/.locked: $(LOCKS)/run.txt pyproject.toml
	$(call locked,.venv-run,$(LOCKS)/run.txt)

bench-venv: .venv-bench/.locked

.venv-bench/.locked: $(LOCKS)/bench.txt pyproject.toml
	$(call locked,.venv-bench,$(LOCKS)/bench.txt)

run: run-venv
	.venv-run/bin/splitlab demo --host $(HOST) --port $(PORT)

system-deps:
	bash scripts/install-system-deps.sh

lint: venv
	$(BIN)/ruff check src tests bench scripts examples
	$(BIN)/ruff format --check src tests bench scripts examples

typecheck: venv
	$(BIN)/mypy

# The JS SDK's package: exactly the locked devDependencies (esbuild, typescript), its bundles
# in sdk/js/dist/ (the browser tests load them) and a check of its TypeScript declarations.
sdk:
	cd sdk/js && npm ci --no-audit --no-fund --ignore-scripts --silent && \
		npm run --silent build -- --quiet && npm run --silent check:types

unit: venv sdk
	$(BIN)/pytest

test: venv system-deps lint typecheck unit

schema: venv
	$(BIN)/splitlab schema > schemas/experiment.schema.json

bench: bench-venv
	for script in bench/*.py; do case $$script in */harness.py) ;; *) .venv-bench/bin/python $$script;; esac; done

# Refresh every lock file from pyproject.toml (needs the package index). Review and commit.
lock:
	test -x .venv-lock/bin/uv || { $(PYTHON) -m venv .venv-lock && \
		.venv-lock/bin/python -m pip install -q --require-hashes --no-deps -r $(LOCKS)/tools.txt; }
	$(COMPILE) $(LOCKS)/tools.in -o $(LOCKS)/tools.txt
	$(COMPILE) pyproject.toml $(LOCKS)/build.in --extra all --extra dev -o $(LOCKS)/test.txt
	$(COMPILE) pyproject.toml $(LOCKS)/build.in --extra all -c $(LOCKS)/test.txt \
		-o $(LOCKS)/run.txt
	$(COMPILE) pyproject.toml $(LOCKS)/build.in --extra all --extra dev --extra bench \
		-o $(LOCKS)/bench.txt

# The suite on the newest releases the pyproject ranges allow: shows drift, never gates CI.
test-latest: system-deps
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/python -m pip install -q --upgrade pip
	.venv-latest/bin/python -m pip install -q --upgrade -e '.[all,dev]'
	.venv-latest/bin/python -m pip list --format=freeze > .venv-latest/versions.txt
	diff <(grep -E '^[A-Za-z0-9._-]+==' $(LOCKS)/test.txt | cut -d' ' -f1 | sort -f) \
		<(grep -v '^splitlab' .venv-latest/versions.txt | sort -f) || true
	SPLITLAB_UNLOCKED=1 .venv-latest/bin/pytest
