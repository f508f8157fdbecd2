"""The version of the audience definitions (docs/glossary.md) that the fleet's reports and
exports follow, in the one place both name it: a test checks that the glossary says the
same. Raise it with the glossary when a figure's meaning changes, so that a file
exported under the old meaning says so."""

from __future__ import annotations

VERSION = 1
GLOSSARY = "docs/glossary.md"
TITLE = f"signage audience definitions v{VERSION}: {GLOSSARY}"
HEADER_LINE = f"# {TITLE}\n"  # the first line of every audience CSV (read it with comment="#")
HTTP_HEADER = "X-Signage-Definitions"  # the same, on every export's response
