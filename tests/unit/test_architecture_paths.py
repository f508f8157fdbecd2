"""docs/architecture.md's three paths (a camera frame to the screen, an audience count to a
fleet row, a release to the screen) name real classes, methods and functions: a rename
that forgets the page fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_CODE = {"QoS", "SQLite"}  # words in the drawings, not names in signage/


def drawings() -> str:
    page = (ROOT / "docs" / "architecture.md").read_text()
    section = re.search(r"^## Three paths through the objects\n(.*?)^## ", page, re.S | re.M).group(1)
    return "\n".join(re.findall(r"^```\n(.*?)^```", section, re.S | re.M))


def test_the_paths_name_what_exists():
    source = "\n".join(path.read_text() for path in (ROOT / "signage").rglob("*.py"))
    classes = set(re.findall(r"^class (\w+)", source, re.M))
    members = set(re.findall(r"^\s*def (\w+)", source, re.M)) | set(re.findall(r"self\.(\w+)\b", source))
    text = drawings()
    named = re.findall(r"\b([A-Z][a-z]\w*)(?:\.(\w+))?", text)
    assert len(named) > 40, "the drawings were found"
    missing = [f"{cls}.{member}" if member else cls for cls, member in named
               if cls not in NOT_CODE and (cls not in classes or (member and member not in members))]
    called = set(re.findall(r"\b([a-z_]+)\(", text)) - {"tick"}  # loop.py's tick is named by its file
    missing += [f"{name}()" for name in called if name not in members]
    assert not missing, f"docs/architecture.md names what signage/ does not have: {missing}"
