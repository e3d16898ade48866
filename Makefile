# slotstack: the two commands are `make up` (the local stack) and `make test` (the whole suite).
# Every target sets itself up (Debian packages, .venv, pinned requirements) through scripts/setup.sh.
VENV := .venv
BIN := $(VENV)/bin
ENV ?= local

.PHONY: help setup test test-quick check lint typecheck mutate up down validate plan package bench clean

help:
	@echo "make up        run the local stack (environment $(ENV)) on this machine"
	@echo "make test      run the whole test suite"
	@echo "make test-quick  the fast inner-loop subset (no PostgreSQL, browser, Prometheus or whole stack)"
	@echo "make check     ruff + mypy + the test suite (the gate CI and reviewers use)"
	@echo "make mutate    remove one guardrail at a time from the program; fails if the tests miss one"
	@echo "make validate  validate every environment file"
	@echo "make plan ENV=prod   show what Pulumi would create, offline (mock engine)"
	@echo "make package   build the booking and uptime wheels into dist/"
	@echo "make bench     run the benchmarks in bench/"

setup:
	@scripts/setup.sh

# One worker per core; a file's tests stay on one worker (module fixtures such as the local stack of
# tests/e2e start once, and the e2e tests keep running alone, in their own order, on their worker).
PYTEST_PARALLEL := -n auto --dist loadfile
# The inner loop: config, policy inputs, paging, notifiers and password rules; no PostgreSQL, browser,
# Prometheus or whole stack (173 tests in 19 s on 2 cores, docs/development.md).
QUICK_TESTS := tests/infra/test_environment.py tests/infra/test_local_procs.py \
	tests/monitoring/test_config.py tests/monitoring/test_schedule.py tests/monitoring/test_paging.py \
	tests/monitoring/test_notifiers.py tests/monitoring/test_history.py tests/monitoring/test_probe.py \
	tests/monitoring/test_promexport.py tests/monitoring/test_alertmanager.py \
	tests/app/test_passwords.py tests/app/test_sealing.py

test: setup
	ARTIFACTS_DIR=$(CURDIR)/tests/artifacts $(BIN)/pytest $(PYTEST_PARALLEL)

test-quick: setup
	ARTIFACTS_DIR=$(CURDIR)/tests/artifacts $(BIN)/pytest $(PYTEST_PARALLEL) -p no:cacheprovider $(QUICK_TESTS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

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
