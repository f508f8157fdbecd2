"""The dashboard reads only the MQTT contract: it never imports the kiosk, and the
kiosk never imports it (nor its web and database stack)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.support.source import imports

PACKAGE = Path(__file__).resolve().parents[2] / "signage"
KIOSK = ("signage.kiosk", "signage.vision", "signage.display", "signage.playlist", "signage.audience", "signage.cli")


def test_fleet_never_imports_the_kiosk():
    files = list((PACKAGE / "fleet").rglob("*.py"))
    assert len(files) > 10
    for path in files:
        for name in imports(path):
            assert not name.startswith(KIOSK), f"{path.relative_to(PACKAGE)} imports {name}"


def test_nothing_else_imports_the_fleet_stack_at_module_level():
    for path in PACKAGE.rglob("*.py"):
        if "fleet" in path.relative_to(PACKAGE).parts:
            continue
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only: cli.py and bench.py import lazily
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(("signage.fleet", "fastapi", "sqlalchemy", "alembic", "psycopg")), \
                    f"{path.relative_to(PACKAGE)} imports {name}"


def test_the_signage_command_works_without_loading_the_fleet_stack():
    code = ("import sys; from signage.cli import build_parser; build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'sqlalchemy', 'alembic')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=PACKAGE.parent)
    assert result.stdout.strip() == "[]"
