"""The definitions version the exports name is the one the glossary states."""

from __future__ import annotations

import re

from signage.fleet import definitions
from signage.modelfiles import PROJECT_ROOT


def test_the_glossary_and_the_exports_name_the_same_definitions_version():
    glossary = (PROJECT_ROOT / definitions.GLOSSARY).read_text()
    stated = re.findall(r"Definitions version (\d+)\.", glossary)
    assert stated == [str(definitions.VERSION)], "docs/glossary.md states the version once, as definitions.py"
    assert definitions.HEADER_LINE == f"# signage audience definitions v{definitions.VERSION}: docs/glossary.md\n"
