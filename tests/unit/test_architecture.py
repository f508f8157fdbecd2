"""The dependency directions DESIGN.md promises, checked on the source: vision imports
nothing of the rest, the display never sees the audience, telemetry never sees vision."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "signage"

FORBIDDEN = {
    "vision": ("signage.playlist", "signage.display", "signage.telemetry", "signage.controller"),
    "display": ("signage.vision", "signage.audience", "signage.playlist", "signage.telemetry"),
    "telemetry": ("signage.vision", "signage.display"),
    "playlist": ("signage.vision", "signage.display", "signage.telemetry"),
}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_point_one_way(package):
    for path in (PACKAGE / package).glob("*.py"):
        for name in imports(path):
            assert not name.startswith(FORBIDDEN[package]), f"{path.relative_to(PACKAGE)} imports {name}"


def test_nothing_outside_vision_and_display_writes_or_encodes_pixels():
    for path in PACKAGE.rglob("*.py"):
        if {"vision", "display"} & set(path.relative_to(PACKAGE).parts):
            continue
        text = path.read_text()
        for call in ("imwrite", "imencode", "VideoWriter", "image.save", ".tofile("):
            assert call not in text, f"{path.relative_to(PACKAGE)} uses {call}"


def test_vision_writes_no_pixels_at_all():
    for path in (PACKAGE / "vision").glob("*.py"):
        text = path.read_text()
        for call in ("imwrite", "imencode", "VideoWriter", ".tofile(", "pickle"):
            assert call not in text, f"{path.relative_to(PACKAGE)} uses {call}"
