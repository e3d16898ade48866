# slotstack: the two commands are `make up` (the local stack) and `make test` (the whole suite).
# Every target sets itself up (Debian packages, .venv, pinned requirements) through scripts/setup.sh.
VENV := .venv
BIN := $(VENV)/bin
ENV ?= local

.PHONY: help setup test check lint typecheck mutate up down validate plan package bench clean

help:
	@echo "make up        run the local stack (environment $(ENV)) on this machine"
	@echo "make test      run the whole test suite"
	@echo "make check     ruff + mypy + the test suite (the gate CI and reviewers use)"
	@echo "make mutate    remove one guardrail at a time from the program; fails if the tests miss one"
	@echo "make validate  validate every environment file"
	@echo "make plan ENV=prod   show what Pulumi would create, offline (mock engine)"
	@echo "make package   build the booking and uptime wheels into dist/"
	@echo "make bench     run the benchmarks in bench/"

setup:
	@scripts/setup.sh

test: setup
	ARTIFACTS_DIR=$(CURDIR)/tests/artifacts $(BIN)/pytest

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy infra policy app/booking monitoring/uptime bench

check: lint typecheck test

mutate: setup
	$(BIN)/python scripts/mutate.py

validate: setup
	$(BIN)/slotstack validate

plan: setup
	$(BIN)/slotstack plan $(ENV)

up: setup
	$(BIN)/slotstack up $(ENV)

down: setup
	$(BIN)/slotstack down

package: setup
	rm -rf dist && mkdir -p dist
	$(BIN)/python -m build --wheel --outdir dist app
	$(BIN)/python -m build --wheel --outdir dist monitoring

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf dist build .pytest_cache .mypy_cache .ruff_cache
