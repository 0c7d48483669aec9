"""``build_report``: the static HTML report of an output folder.

It writes only ``<out>/index.html`` and ``<out>/report/`` (the page's script, style and
data, and ``thumbs/``), each file atomically, and ``index.html`` last. The page needs no
network and no server: the data is a script (``report/data.js`` sets a global), because a
page opened from ``file://`` may not ``fetch()`` local JSON.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from occlude.errors import UsageError
from occlude.imageio import write_bytes
from occlude.report.collect import collect, href, number
from occlude.report.thumbs import prune_thumbs, thumb_path, update_thumbs
from occlude.runner.ledger import read_state
from occlude.runner.state import STATE_DIR
from occlude.text import shown

INDEX = "index.html"
ASSET_DIR = "report"
ASSETS = ("report.css", "report.js")
DATA = "report/data.js"
GLOBAL = "OCCLUDE_REPORT"


@dataclass(frozen=True)
class Built:
    """What :func:`build` wrote: the page, and what it shows."""

    index: Path
    images: int
    failures: int
    robustness: bool
    thumbs_made: int


def build_report(out_dir: Path, *, min_focus: float | None = None, title: str | None = None
                 ) -> Path:  # fmt: skip
    """Write the HTML report of ``out_dir`` (a sensitivity and/or robustness output folder).

    ``min_focus`` marks images whose focus is below it (or missing) as failing the gate,
    and enables the page's "below min focus" filter. Returns the path of ``index.html``.

    Raises:
        UsageError: ``out_dir`` is not an occlude output folder, holds no results, or
            ``min_focus`` is not between 0 and 1.
    """
    return build(out_dir, min_focus=min_focus, title=title).index


def build(out_dir: Path, *, min_focus: float | None = None, title: str | None = None) -> Built:
    """:func:`build_report`, also saying how many images, failures and thumbnails."""
    out_dir = Path(out_dir)
    _check(out_dir, min_focus)
    state = read_state(out_dir)
    found = collect(out_dir, state, min_focus)
    if not found.cards and not found.failures and found.robustness is None:
        raise UsageError(f"{shown(out_dir)}: nothing to report: its ledger holds no "
                         "sensitivity or robustness results")  # fmt: skip
    ours = [INDEX, DATA, *(f"{ASSET_DIR}/{a}" for a in ASSETS)]
    ours += [thumb_path(h) for h in found.heatmaps if h is not None]
    clash = sorted(set(ours) & set(state.by_output))
    if clash:
        raise UsageError(f"{shown(out_dir / clash[0])}: the report would overwrite a file "
                         "that a run wrote there")  # fmt: skip
    thumbs, made = update_thumbs(out_dir, found.heatmaps)
    for card, thumb in zip(found.cards, thumbs, strict=True):
        card["thumb"] = None if thumb is None else href(thumb)
    prune_thumbs(out_dir, (t for t in thumbs if t is not None), state.by_output)
    name = shown(title) if title is not None else f"occlude report: {shown(_name(out_dir))}"
    data = found.page_data(name, min_focus)
    data["built"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    write_page(out_dir, name, data)
    return Built(out_dir / INDEX, len(found.cards), len(found.failures),
                 found.robustness is not None, made)  # fmt: skip


def write_page(out_dir: Path, title: str, data: dict[str, Any]) -> None:
    """The assets, the data script, then ``index.html`` (last: a page that is there works)."""
    static = files("occlude.report").joinpath("static")
    for asset in ASSETS:
        write_bytes(out_dir / ASSET_DIR / asset, static.joinpath(asset).read_bytes())
    write_bytes(out_dir / DATA, data_script(data).encode("ascii"))
    page = static.joinpath(INDEX).read_text(encoding="utf-8")
    page = page.replace("{{title}}", html.escape(title))
    write_bytes(out_dir / INDEX, page.encode("utf-8"))


def data_script(data: dict[str, Any]) -> str:
    """``data`` as a script that sets ``window.OCCLUDE_REPORT`` (strict ASCII JSON).

    >>> data_script({"a": [1, None]})
    'window.OCCLUDE_REPORT = {"a":[1,null]};\\n'
    """
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return f"window.{GLOBAL} = {body};\n"


def _check(out_dir: Path, min_focus: float | None) -> None:
    if min_focus is not None and not (number(min_focus) is not None and 0 <= min_focus <= 1):
        raise UsageError(f"min_focus must be between 0 and 1; received {min_focus!r}",
                         "min_focus")  # fmt: skip
    if not out_dir.is_dir():
        raise UsageError(f"{shown(out_dir)}: no such folder")
    if not (out_dir / STATE_DIR).is_dir():
        raise UsageError(f"{shown(out_dir)}: not an occlude output folder (no {STATE_DIR} "
                         "ledger): nothing to report")  # fmt: skip
    if (out_dir / ASSET_DIR).is_symlink():
        raise UsageError(f"{shown(out_dir / ASSET_DIR)}: is a link; the report writes only "
                         "inside the output folder")  # fmt: skip


def _name(out_dir: Path) -> str:
    return out_dir.resolve().name or str(out_dir)
