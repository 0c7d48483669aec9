"""``build_report``: the static HTML report of an output folder.

It writes only ``<out>/index.html`` and ``<out>/report/`` (the page's script, style and
data, and ``thumbs/``), each file atomically, ``index.html`` last, and replaces or removes
only files it wrote (:mod:`occlude.report.owned`), never through a link. The page needs no
network and no server: the data is a script (``report/data.js`` sets a global), because a
page opened from ``file://`` may not ``fetch()`` local JSON.
"""

from __future__ import annotations

import html
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from occlude.checks import check_prob
from occlude.errors import UsageError
from occlude.imageio import write_bytes
from occlude.paths import PathPlan
from occlude.report.collect import ROBUSTNESS_JSON, collect, href
from occlude.report.owned import (
    ASSET_DIR,
    ASSETS,
    DATA,
    FIXED,
    GLOBAL,
    INDEX,
    existing,
    plain,
    refuse_foreign,
    remove,
    write_list,
)
from occlude.report.thumbs import thumb_path, update_thumbs
from occlude.runner.ledger import read_state
from occlude.runner.state import STATE_DIR, folder_lock
from occlude.text import shown


@dataclass(frozen=True)
class Built:
    """What :func:`build` wrote: the page, and what it shows."""

    index: Path
    images: int
    failures: int
    robustness: bool
    thumbs_made: int
    evaluated: int = 0
    """Images the robustness runs evaluated."""


def build_report(out_dir: Path, *, min_focus: float | None = None, title: str | None = None
                 ) -> Path:  # fmt: skip
    """Write the HTML report of ``out_dir`` (a sensitivity and/or robustness output folder).

    ``min_focus`` marks images whose focus is below it (or missing) as failing the gate,
    and enables the page's "below min focus" filter. Returns the path of ``index.html``.

    Raises:
        UsageError: ``out_dir`` is not an occlude output folder, holds no results, or
            ``min_focus`` is not between 0 and 1; a link at ``index.html`` or under
            ``report/``; a file there that the report did not write (or a run did) at a
            path it writes; a file it would write or remove that it also reads.
    """
    return build(out_dir, min_focus=min_focus, title=title).index


def build(out_dir: Path, *, min_focus: float | None = None, title: str | None = None) -> Built:
    """:func:`build_report`, also saying how many images, failures and thumbnails.

    Builds of one folder take turns (the folder's lock), so each list of written files
    holds what the one before wrote.
    """
    out_dir = Path(out_dir)
    _check(out_dir, min_focus)
    with folder_lock(out_dir / STATE_DIR):
        return _build(out_dir, min_focus, title)


def _build(out_dir: Path, min_focus: float | None, title: str | None) -> Built:
    state = read_state(out_dir)
    found = collect(out_dir, state, min_focus)
    if not found.cards and not found.failures and found.robustness is None:
        raise UsageError(f"{shown(out_dir)}: nothing to report: its ledger holds no "
                         "sensitivity or robustness results")  # fmt: skip
    found.heatmaps = [h if h is not None and plain(h) else None for h in found.heatmaps]
    heatmaps = [h for h in found.heatmaps if h is not None]
    ours = list(dict.fromkeys([*FIXED, *(thumb_path(h) for h in heatmaps)]))
    clash = sorted(set(ours) & set(state.owners))
    if clash:
        raise UsageError(f"{shown(out_dir / clash[0])}: the report would overwrite a file "
                         "that a run wrote there")  # fmt: skip
    before = existing(out_dir, ours)
    refuse_foreign(out_dir, before, ours)
    mine = (before.written | set(ours)) - set(state.owners)
    _check_paths(out_dir, heatmaps, mine)
    write_list(out_dir, mine)  # first: a build cut short leaves no file of its own unlisted
    thumbs, made = update_thumbs(out_dir, found.heatmaps)
    for card, thumb in zip(found.cards, thumbs, strict=True):
        card["thumb"] = None if thumb is None else href(thumb)
    used = {*FIXED, *(t for t in thumbs if t is not None)}
    mine -= set(remove(out_dir, sorted(mine - used)))
    name = shown(title) if title is not None else f"occlude report: {shown(_name(out_dir))}"
    data = found.page_data(name, min_focus)
    data["built"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    write_page(out_dir, name, data)
    write_list(out_dir, (r for r in mine if os.path.lexists(out_dir / r)))
    return Built(out_dir / INDEX, len(found.cards), len(found.failures),
                 found.robustness is not None, made, found.evaluated)  # fmt: skip


def _check_paths(out_dir: Path, heatmaps: list[str], writes: Iterable[str]) -> None:
    """Nothing the report writes or removes is a file it reads (through a link, say)."""
    paths = PathPlan()
    paths.read_all((out_dir / h for h in heatmaps), "heatmap")
    paths.read(out_dir / ROBUSTNESS_JSON, ROBUSTNESS_JSON)
    paths.write_all((out_dir / w for w in writes), "the report")
    paths.check()


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
    if min_focus is not None:
        check_prob(min_focus, "min_focus")
    if not out_dir.is_dir():
        raise UsageError(f"{shown(out_dir)}: no such folder")
    if not (out_dir / STATE_DIR).is_dir():
        raise UsageError(f"{shown(out_dir)}: not an occlude output folder (no {STATE_DIR} "
                         "ledger): nothing to report")  # fmt: skip


def _name(out_dir: Path) -> str:
    return out_dir.resolve().name or str(out_dir)
