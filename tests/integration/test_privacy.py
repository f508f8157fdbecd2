"""Invariant 1: no image leaves the vision stage, and nothing is written while it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from signage.models import PROJECT_ROOT

IGNORED_PARTS = {".git", ".pytest_cache", "__pycache__", ".hypothesis"}


def tree(root: Path) -> dict[str, int]:
    """Every file under root with its modification time."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and not IGNORED_PARTS.intersection(path.relative_to(root).parts):
            found[str(path.relative_to(root))] = path.stat().st_mtime_ns
    return found


@pytest.mark.parametrize("backend", ["litert", "mediapipe"])
def test_processing_videos_writes_no_file_anywhere(tmp_path, models_dir, samples, backend):
    home, temp, cache = (tmp_path / name for name in ("home", "tmp", "cache"))
    for directory in (home, temp, cache):
        directory.mkdir()
    env = dict(os.environ, HOME=str(home), TMPDIR=str(temp), XDG_CACHE_HOME=str(cache),
               PYTHONDONTWRITEBYTECODE="1", SIGNAGE_MODELS_DIR=str(models_dir),
               SIGNAGE_SAMPLES_DIR=str(samples))
    before = tree(PROJECT_ROOT), tree(models_dir), tree(samples)
    for video in ("noface_face.mov", "face_noface.mov"):
        result = subprocess.run(
            [sys.executable, "-m", "signage.cli", "vision", "--source", str(samples / video),
             "--backend", backend, "--json"],
            env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert records[-1]["summary"]["passers"] == 1
        assert any(r.get("faces") for r in records)
        assert not any("track" in face for r in records for face in r.get("faces", ())), \
            "track numbers never leave the process"
    after = tree(PROJECT_ROOT), tree(models_dir), tree(samples)
    assert after == before, "files were created or changed in the working tree, models or samples"
    for directory in (home, temp, cache):
        written = [p.relative_to(directory) for p in directory.rglob("*") if not p.is_dir()]
        assert [p for p in written if not is_matplotlib_font_cache(p)] == [], \
            f"no file may appear in {directory.name}"


def is_matplotlib_font_cache(path: Path) -> bool:
    """mediapipe imports matplotlib, which caches the list of installed fonts (names
    and paths, no pixels) once per machine. The only file a run may leave."""
    return path.parent == Path("matplotlib") and path.name.startswith("fontlist-") and path.suffix == ".json"
