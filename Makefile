# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | md5sum | cut -c1-12)

# Test services at their default local addresses; override from the environment.
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/spaceiq)
TEST_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/0)
TEST_BROKER_URL ?= $(or $(CELERY_BROKER_URL),redis://127.0.0.1:6379/1)

.PHONY: run test install lint conformance bench bench-scale bench-instructions lock clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

# Demo mode: SQLite in var/, tasks in-process, emails printed.
run: install
	@export SPACEIQ_DEMO=1 DJANGO_DEBUG=1; \
	$(PY) manage.py migrate --noinput -v0 && \
	$(PY) manage.py createcachetable && \
	$(PY) manage.py collectstatic --noinput -v0 && \
	$(PY) manage.py seed_demo && \
	echo "Console: http://127.0.0.1:8000/" && \
	exec $(PY) manage.py runserver 127.0.0.1:8000

test: install
	DJANGO_SECRET_KEY=collectstatic REDIS_URL=$(TEST_REDIS_URL) $(PY) manage.py collectstatic --noinput -v0
	UPDATE_SCREENSHOTS=$(UPDATE_SCREENSHOTS) DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	DJANGO_SECRET_KEY=test-secret-key-not-for-production \
	$(PY) -m pytest $(PYTEST_ARGS)

# scim2-tester's check_server against a live server (gunicorn on PostgreSQL),
# Users and Groups; fails on any failed check. The database is dropped and recreated.
CONFORMANCE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/spaceiq_conformance

conformance: install
	CONFORMANCE_DATABASE_URL=$(CONFORMANCE_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) scripts/conformance.py

# The Entra replay benchmark (bench/run.py): gunicorn, a Celery worker on Redis, and the
# stock django-scim2 baseline, in five alternated rounds on a throwaway PostgreSQL cluster
# of the run's own (PostgreSQL's defaults, autovacuum on; removed at the end); medians to
# bench/results/latest.json and a row in bench/RESULTS.md. About 7 minutes on 2 cores.
bench: install
	REDIS_URL=$(TEST_REDIS_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	$(PY) bench/run.py $(BENCH_ARGS)

# Instructions per request of each kind, ours and stock, counted by valgrind (bench/instructions.py):
# the comparison this machine's noise cannot move. About 3 minutes; needs valgrind (installed here).
bench-instructions: install
	command -v valgrind >/dev/null || apt-get install -y valgrind
	REDIS_URL=$(TEST_REDIS_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	$(PY) bench/instructions.py $(BENCH_ARGS)

# Scale mode: 100,000 people and 500 groups (one of 10,000 members) against 1,000 people; then the
# admin API's audit events with 1,000,000 in the tenant and 10 x 100,000 of others (bench/audit_events.py).
bench-scale: install
	REDIS_URL=$(TEST_REDIS_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	$(PY) bench/run.py --scale $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check .

lock:
	$(PY) -m pip freeze --exclude-editable | sed '1i # Exact pins of everything the app, its tests and its tools install (make lock regenerates).' > requirements.txt

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
