# Two commands on a fresh machine: `make demo` and `make test` (and `make dashboard`). All create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo dashboard test test-ha lint typecheck unit bench fuzz dist clean

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

# Opt-in, not part of `make test` or CI: the MQTT bridge against a real Home Assistant (the newest release
# that installs on a Python found here, in its own venv; the first run takes minutes). Needs mosquitto.
HA_VENV := .venv-ha
test-ha: $(STAMP)
	$(BIN)/python tests/_ha_install.py $(HA_VENV)
	DEVICE_SDK_HA_VENV=$(abspath $(HA_VENV)) $(BIN)/pytest -q tests/test_bridge_ha.py

bench: $(STAMP)
	$(BIN)/python bench/transport.py
	$(BIN)/python bench/pairing.py
	$(BIN)/python bench/resumption.py
	$(BIN)/python bench/discovery.py
	$(BIN)/python bench/channels.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/peers.py
	$(BIN)/python bench/bridge.py

# The long fuzz tier: atheris (coverage-guided) on the decoders for FUZZ_SECONDS, or hypothesis with a
# large budget where atheris is not installed. `make test` runs the same targets briefly.
FUZZ_SECONDS ?= 600
fuzz: $(STAMP)
	$(BIN)/python tests/fuzz_targets.py --seconds $(FUZZ_SECONDS)

# A wheel and an sdist in dist/, to install on a Pi (docs/deploy.md): the package is not on PyPI.
dist: $(STAMP)
	rm -rf dist build
	$(BIN)/python -m build --outdir dist .
	@ls dist

clean:
	rm -rf $(VENV) $(HA_VENV) build dist *.egg-info
