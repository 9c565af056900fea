"""The documentation: README links and the site's navigation point at files that exist, and the README's
tables are copies of tables on the site (a figure is changed in one place, never in two)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
# README sections that other pages do not (yet) hold: their tables are checked where they live.
README_ONLY = ("Bad input", "Reliability")


def test_readme_links_point_at_files():
    text = (REPO / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" not in target:
            assert (REPO / target).exists(), f"README links to {target}, which does not exist"


def test_every_page_in_the_nav_exists_and_every_page_is_in_the_nav():
    nav = set(re.findall(r":\s+([\w/-]+\.md)\s*$", (REPO / "mkdocs.yml").read_text(), re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert nav - pages == set(), "mkdocs.yml lists pages that do not exist"
    assert pages - nav == set(), "pages missing from the nav of mkdocs.yml"


def test_readme_tables_are_copies_of_the_docs():
    docs = "\n".join(p.read_text() for p in DOCS.rglob("*.md"))
    section = ""
    for line in (REPO / "README.md").read_text().splitlines():
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        elif line.startswith("|") and not section.startswith(README_ONLY):
            assert line in docs, f"README row not on any docs page (section {section!r}): {line}"


def test_changelog_names_the_version():
    from serkit.version import __version__

    text = (REPO / "CHANGELOG.md").read_text()
    assert f"## {__version__}" in text
    assert "--8<-- [start:changes]" in text and "--8<-- [end:changes]" in text  # docs/changelog.md includes it
