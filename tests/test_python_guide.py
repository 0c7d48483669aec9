"""docs/python.md runs: its ```python blocks, in order, in one namespace, offline.

The guide's examples use ``classifier.keras`` and three photos in ``photos/``; here they are
stand-ins built in a temporary folder: the red-object detector of kerasmodels (class 0: a
red object is present) and three pictures of different sizes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kerasmodels import red_detector, red_image
from PIL import Image

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "python.md"


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line of the opening fence, code) of every block fenced as ```python."""
    found = []
    for match in re.finditer(r"^```python\n(.*?)^```$", text, flags=re.M | re.S):
        found.append((text.count("\n", 0, match.start()) + 1, match.group(1)))
    return found


@pytest.fixture
def stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    red_detector(tmp_path / "classifier.keras")
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(red_image((64, 96), (8, 4, 28, 20))).save(photos / "kite.png")
    Image.fromarray(red_image((90, 60), (30, 50, 52, 80))).save(photos / "stop.jpg", quality=95)
    Image.fromarray(red_image((40, 40), None)).save(photos / "field.png")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_fences_are_found() -> None:
    text = "intro\n```python\na = 1\n```\n```text\nno\n```\n```python\nb = a\n```\n"
    assert python_blocks(text) == [(2, "a = 1\n"), (8, "b = a\n")]


def test_the_python_guide_runs(stand_ins: Path) -> None:
    blocks = python_blocks(GUIDE.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    namespace: dict[str, object] = {"__name__": "python_guide"}
    for line, code in blocks:
        # padded so that a traceback names the guide's own line numbers
        exec(compile("\n" * line + code, str(GUIDE), "exec"), namespace)
    assert (stand_ins / "maps" / "kite.png").is_file()
