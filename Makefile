# Two commands for a newcomer: `make run` and `make test`. Both bootstrap .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: azurite run test test-postgres test-container bench bench-fleet bench-directory bench-portal bench-replication demo migrate clean-venv

# The development virtualenv: runtime requirements plus the test tools (requirements-dev.txt
# includes requirements.txt); either file changing re-installs.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# Azurite, Microsoft's Azure Storage emulator, for the Azure backend's tests (tests/azurite.py):
# the version pinned in tests/.azurite/package-lock.json, installed there by npm. `make test`
# installs it where npm is found; without it the Azure tests are skipped (failed in CI).
AZURITE := tests/.azurite/node_modules/.installed
$(AZURITE): tests/.azurite/package.json tests/.azurite/package-lock.json
	npm ci --prefix tests/.azurite --no-audit --no-fund --loglevel=error
	touch $@

azurite: $(AZURITE)

migrate: $(VENV)/.installed
	$(PY) manage.py migrate --noinput -v 0

run: migrate
	$(VENV)/bin/gunicorn -c deploy/gunicorn.conf.py registry_project.wsgi:application

test: $(VENV)/.installed $(if $(shell command -v npm),$(AZURITE))
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

# docker build + run of the Dockerfile on a private dockerd, with the stand-in base of
# scripts/container-base.sh (needs root and debootstrap). Minutes, so not part of `test`.
test-container: $(VENV)/.installed
	$(PY) -m pytest -m container tests/e2e/test_container.py $(PYTEST_ARGS)

# The whole suite on PostgreSQL: a private cluster in a temporary directory (unix socket
# only), stopped when the run ends; each live server of tests/e2e gets its own database.
test-postgres: $(VENV)/.installed $(if $(shell command -v npm),$(AZURITE))
	@dir=$$(mktemp -d) && trap 'scripts/postgres-test-cluster stop "$$dir"; rm -rf "$$dir"' EXIT && \
	url=$$(scripts/postgres-test-cluster start "$$dir") && \
	DATABASE_URL="$$url" REGISTRY_TEST_POSTGRES_URL="$$url" $(PY) -m pytest -n 2 $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(PY) bench/run.py

# Slow and idle clients (issue 21): 200 slow pulls, 64 slow pushes, 1,000 half-sent
# requests and 2,000 idle connections, each under a prober, ours beside Distribution.
# BENCH_FLEET_SCALE=0.25 scales the client counts down for a quick run.
bench-fleet: $(VENV)/.installed
	$(PY) bench/fleet.py

# Token requests (what docker sends before each push and pull) by a local account and by a
# directory user, with and without the cache of directory passwords, against a private slapd.
bench-directory: $(VENV)/.installed
	$(PY) bench/directory.py

# Every portal and admin page timed on 10,000 repositories / 100,000 tags / 20,000 blobs
# (a scratch database, filled in bulk): the portal table of docs/performance.md.
bench-portal: $(VENV)/.installed
	$(PY) bench/portal.py $(BENCH_PORTAL_ARGS)

# One replication rule over 1,000 tags (issue 25): a push pass to Distribution, the same
# pass again, a pull pass back; wall time, artifacts/s and the worker's peak RSS.
# BENCH_REPLICATION_TAGS changes the count.
bench-replication: $(VENV)/.installed
	$(PY) bench/replication.py

demo: $(VENV)/.installed
	$(PY) scripts/demo.py

clean-venv:
	rm -rf $(VENV)
