# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-ha lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check device_sdk tests bench examples
	$(BIN)/ruff format --check device_sdk tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

# Opt-in, not part of `make test` or CI: the MQTT bridge against a real Home Assistant (the newest release
# that installs on a Python found here, in its own venv; the first run takes minutes). Needs mosquitto.
HA_VENV := .venv-ha
test-ha: $(STAMP)
	$(BIN)/python tests/_ha_install.py $(HA_VENV)
	DEVICE_SDK_HA_VENV=$(abspath $(HA_VENV)) $(BIN)/pytest -q tests/test_bridge_ha.py

bench: $(STAMP)
	$(BIN)/python bench/transport.py
	$(BIN)/python bench/pairing.py
	$(BIN)/python bench/discovery.py
	$(BIN)/python bench/channels.py
	$(BIN)/python bench/bridge.py

clean:
	rm -rf $(VENV) $(HA_VENV) build *.egg-info
