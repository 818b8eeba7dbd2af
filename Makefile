# The two commands of the quick start: `make run` (the local stack) and `make test` (everything CI checks).
# Both create the virtualenv on first use, so a fresh machine needs only Python 3.11+ and pip.

PYTHON ?= python3
# make run PORT=3001 MOTO_PORT=5056: the API and moto on other ports
PORT ?= 3000
MOTO_PORT ?= 5055
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test lint unit functional e2e bench coldstart events clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)  ## start the local stack on http://127.0.0.1:$(PORT)
	$(PY) -m infra.local --port $(PORT) --moto-port $(MOTO_PORT)

test: $(STAMP) lint  ## lint, every test, cfn-lint on template.yaml
	$(PY) -m pytest
	$(VENV)/bin/cfn-lint template.yaml

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

unit: $(STAMP)
	$(PY) -m pytest tests/unit

functional: $(STAMP)
	$(PY) -m pytest tests/functional

e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

bench: $(STAMP)  ## requests per API operation (and per booking), cold-start times, the local stack under load, a 10,000-row import
	$(PY) scripts/count_requests.py
	$(PY) scripts/count_directory_requests.py
	$(PY) scripts/count_booking_requests.py
	$(PY) scripts/cold_start.py
	$(PY) scripts/bench_local_stack.py --requests 2000
	$(PY) scripts/bench_import.py

events: $(STAMP)  ## regenerate docs/events/ and the template's schema registry from the event models
	$(PY) scripts/generate_event_catalogue.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .aws-sam
