"""Helpers the tests share live in tests/support/ or an area's own modules, never in a
test module: importing a test module runs its fixtures' imports and collects nothing."""

from __future__ import annotations

from pathlib import Path

from tests.support.source import imports

TESTS = Path(__file__).resolve().parents[1]


def test_no_test_module_imports_from_another():
    found = [f"{path.relative_to(TESTS.parent)} imports {name}" for path in TESTS.rglob("*.py")
             for name in imports(path)
             if name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith("test_")]
    assert len(list(TESTS.rglob("test_*.py"))) > 50, "the tests were found"
    assert not found, found
