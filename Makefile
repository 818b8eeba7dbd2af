# The two commands of the quick start: `make run` (the local stack) and `make test` (everything CI checks).
# Both create the virtualenv on first use, so a fresh machine needs only Python 3.11+ and pip.

# The Lambda runtime's Python (template.yaml: python3.12) when the machine has one that runs, else python3
# (3.11+); `make test PYTHON=/path/to/python3.12` picks one by hand (a new VENV= too, if .venv exists).
PYTHON ?= $(shell python3.12 -c '' >/dev/null 2>&1 && echo python3.12 || echo python3)
# make run PORT=3001 MOTO_PORT=5056: the API and moto on other ports
PORT ?= 3000
MOTO_PORT ?= 5055
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The dev environment is the lock's (make lock writes it from pyproject.toml): the same versions everywhere.
LOCK   := requirements-dev.lock
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)

.PHONY: run test lint typecheck unit functional e2e bench coldstart events schemas docs lock clean

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)  ## start the local stack on http://127.0.0.1:$(PORT)
	$(PY) -m infra.local --port $(PORT) --moto-port $(MOTO_PORT)

test: $(STAMP) lint typecheck  ## lint, types, every test (cfn-lint on template.yaml is one: tests/functional/test_template.py)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)  ## mypy: strict on casework.domain and casework.services (pyproject.toml)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest tests/unit

functional: $(STAMP)
	$(PY) -m pytest tests/functional

e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

bench: $(STAMP)  ## requests per API operation, cold-start times, the local stack under load, a 10,000-row import, write cost, hot keys, requests per booking
	$(PY) scripts/count_requests.py
	$(PY) scripts/count_directory_requests.py
	$(PY) scripts/count_rule_requests.py
	$(PY) scripts/count_booking_requests.py
	$(PY) scripts/cold_start.py
	$(PY) scripts/bench_local_stack.py --requests 2000
	$(PY) scripts/bench_import.py
	$(PY) scripts/write_cost.py
	PYTHONPATH=shared $(PY) scripts/key_distribution.py

coldstart: $(STAMP)  ## each function's import as a ratio to `import boto3`, and its first request on moto
	$(PY) scripts/cold_start.py

events: $(STAMP)  ## regenerate docs/events/ and the template's schema registry from the event models
	$(PY) scripts/generate_event_catalogue.py

docs: $(STAMP)  ## regenerate docs/openapi.json and the README's table of error codes from the code
	$(PY) scripts/generate_openapi.py
	$(PY) scripts/generate_error_codes.py

lock: $(STAMP)  ## pin pyproject.toml's dependencies (requirements*.lock) and the layer's (shared/requirements.txt)
	$(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --quiet -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --quiet \
		-o requirements-dev.lock
	$(PY) scripts/generate_layer_requirements.py

schemas: $(STAMP)  ## regenerate schemas/ (workflow definitions, module templates and configurations) from the models
	$(PY) scripts/generate_schemas.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .aws-sam
