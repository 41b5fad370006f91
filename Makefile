# Two commands on a fresh machine: `make demo` and `make test` (and `make dashboard`). All create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo dashboard test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,dashboard]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

DASHBOARD_ARGS ?=
dashboard: $(STAMP)
	$(BIN)/device-sdk dashboard --open $(DASHBOARD_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check device_sdk tests bench examples
	$(BIN)/ruff format --check device_sdk tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/transport.py
	$(BIN)/python bench/pairing.py
	$(BIN)/python bench/discovery.py
	$(BIN)/python bench/channels.py
	$(BIN)/python bench/dashboard.py

clean:
	rm -rf $(VENV) build *.egg-info
