"""README.md stays a front page and the docs site stays whole: every page in docs/ is in
mkdocs.yml's nav, every link of README.md and of the pages leads to a file of this
repository (and an anchor that exists), and none leads outside it. `make docs` (part of
`make test`) builds the site with `mkdocs build --strict`, which checks the pages' own
links and anchors again as MkDocs renders them."""

from __future__ import annotations

import re
from pathlib import Path

import markdown
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README_MAX_LINES = 160

# [text](target) and ![alt](target), and <scheme:...> autolinks; code is removed first.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]*)>")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE_SPAN = re.compile(r"(`+).+?\1", re.S)


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def nav_files(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [name for item in node for name in nav_files(item)]
    if isinstance(node, dict):
        return [name for value in node.values() for name in nav_files(value)]
    return []


def links(path: Path) -> list[str]:
    text = CODE_SPAN.sub("", FENCE.sub("", path.read_text()))
    return LINK.findall(text) + AUTOLINK.findall(text)


def anchors(path: Path) -> set[str]:
    """The ids MkDocs gives the headings of a page (its toc extension, as mkdocs.yml sets it)."""
    md = markdown.Markdown(extensions=["toc", "tables", "attr_list"])
    md.convert(path.read_text())

    def walk(tokens):
        for token in tokens:
            yield token["id"]
            yield from walk(token["children"])
    return set(walk(md.toc_tokens))


def test_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < README_MAX_LINES, (
        f"README.md has {len(lines)} lines (fewer than {README_MAX_LINES} allowed): move the detail into a page"
        " of docs/ and link it")


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    listed = nav_files(config["nav"])
    on_disk = [str(path.relative_to(DOCS)) for path in pages()]
    assert sorted(set(on_disk) - set(listed)) == [], "pages missing from mkdocs.yml's nav"
    assert sorted(set(listed) - set(on_disk)) == [], "nav entries with no page in docs/"
    assert len(listed) == len(set(listed)), "a page listed twice in the nav"


@pytest.mark.parametrize("document", [ROOT / "README.md", *pages()], ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_inside_the_repository_and_lead_somewhere(document: Path):
    problems = []
    for target in links(document):
        if SCHEME.match(target):
            problems.append(f"{target}: points outside the repository (name upstream things in text)")
            continue
        name, _, anchor = target.partition("#")
        file = (document.parent / name).resolve() if name else document
        if not file.is_file() or ROOT not in file.parents:
            problems.append(f"{target}: no such file in the repository")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            problems.append(f"{target}: {file.relative_to(ROOT)} has no heading with that anchor")
    assert problems == []


def test_the_link_checker_sees_what_it_must_refuse(tmp_path: Path):
    """The checks above pass only because the links are right, not because they find none."""
    (tmp_path / "other.md").write_text("# Other\n\n## A part\n")
    page = tmp_path / "page.md"
    page.write_text("[a](other.md#a-part) [b](https://example.org/) <http://example.org/> ![c](pic.png)\n"
                    "`[not](https://a.link/)`\n\n```\n[nor](https://this.one/)\n```\n")
    assert links(page) == ["other.md#a-part", "https://example.org/", "pic.png", "http://example.org/"]
    assert anchors(tmp_path / "other.md") == {"other", "a-part"}
