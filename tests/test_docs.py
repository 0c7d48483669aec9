"""The README stays a front page that CI can trust: its test command is the one `.ci/run`
runs, and every link it makes into docs/ leads to a file and a heading that exist (the
MkDocs build checks the pages' own links, not the README's)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def github_slug(heading: str) -> str:
    """The anchor GitHub (and MkDocs, for these headings) gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_readme_test_command_is_the_one_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    command = ci[-1].strip()
    assert command == "python -m pytest -q -n auto --dist loadfile"
    assert f"\npip install -e '.[dev]'\n{command}\n" in README  # installed, then run


def test_readme_links_into_docs_resolve() -> None:
    links = re.findall(r"\]\((docs/[^)\s]+)\)", README)
    assert links, "the README links into docs/"
    for link in links:
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.is_file(), f"README links to a missing file: {link}"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", target.read_text(encoding="utf-8"), re.M)
            assert anchor in {github_slug(h) for h in headings}, f"no heading for {link}"
