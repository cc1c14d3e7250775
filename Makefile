# Two commands for a newcomer: `make run` and `make test`. Both bootstrap .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test test-postgres bench demo migrate clean-venv

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

migrate: $(VENV)/.installed
	$(PY) manage.py migrate --noinput -v 0

run: migrate
	$(VENV)/bin/gunicorn -c deploy/gunicorn.conf.py registry_project.wsgi:application

test: $(VENV)/.installed
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

# The whole suite on PostgreSQL: a private cluster in a temporary directory (unix socket
# only), stopped when the run ends; each live server of tests/e2e gets its own database.
test-postgres: $(VENV)/.installed
	@dir=$$(mktemp -d) && trap 'scripts/postgres-test-cluster stop "$$dir"; rm -rf "$$dir"' EXIT && \
	url=$$(scripts/postgres-test-cluster start "$$dir") && \
	DATABASE_URL="$$url" REGISTRY_TEST_POSTGRES_URL="$$url" $(PY) -m pytest -n 2 $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(PY) bench/run.py

demo: $(VENV)/.installed
	$(PY) scripts/demo.py

clean-venv:
	rm -rf $(VENV)
