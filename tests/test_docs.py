"""The README and the manuals in docs/ link only to files that exist: results move between
folders (a new run takes `results/`, the old one is kept beside it) and a stale link is a
broken picture on the front page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "experiments").glob("*/README.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def local_links(page: Path) -> list[str]:
    """The page's markdown link targets that name a file of the repository (no URL, no bare anchor)."""
    targets = [m.group(1).split("#", 1)[0] for m in LINK.finditer(page.read_text())]
    return [t for t in targets if t and "://" not in t and not t.startswith("mailto:")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_local_link_of_a_page_names_a_file_that_exists(page):
    missing = [t for t in local_links(page) if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"


def test_the_link_pattern_finds_images_and_skips_urls(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("![a](pics/a.png) [b](https://example.org/x) [c](doc.md#part) [d](#top)\n")
    assert local_links(page) == ["pics/a.png", "doc.md"]
