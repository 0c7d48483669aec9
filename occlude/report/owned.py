"""The report's own files: where they go, which of them it wrote, and no links among them.

The report writes ``index.html`` and files under ``report/``, nothing else. It lists the
files it wrote in ``report/written.json`` (written before any of them, rewritten after),
and it replaces or removes only those: a file at one of its paths that it did not write
is refused, never overwritten, and a thumbnail that no card uses any more is removed only
if the list names it. A symbolic link at ``index.html`` or anywhere under ``report/`` is
refused: writing or deleting through it would reach files outside the output folder.

A folder built by an occlude that kept no list (``report/data.js`` is the report's script
but there is no ``written.json``) is adopted: its files at the paths this build writes
count as the report's; nothing else there does.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from occlude.errors import UsageError
from occlude.imageio import write_bytes
from occlude.paths import PathPlan
from occlude.text import shown

INDEX = "index.html"
ASSET_DIR = "report"
ASSETS = ("report.css", "report.js")
DATA = "report/data.js"
WRITTEN = "report/written.json"
GLOBAL = "OCCLUDE_REPORT"
FIXED = (INDEX, DATA, *(f"{ASSET_DIR}/{a}" for a in ASSETS), WRITTEN)
"""The files every build writes (thumbnails come on top)."""
RUN_ROLE = "report"
"""The report's role in a run's :class:`PathPlan` (the flag ``--report``)."""


@dataclass(frozen=True)
class Existing:
    """What is at the report's paths before a build."""

    present: frozenset[str]
    """``index.html`` if it exists, and every entry under ``report/`` that is not a folder."""
    written: frozenset[str]
    """Those of them that an earlier build wrote."""


def declare(paths: PathPlan, out_dir: Path) -> None:
    """A run that builds the report at its end: the report's files in the run's plan.

    Its fixed files are planned writes, and ``report/`` is written as a whole (which
    thumbnails are made or removed depends on the ledger at the end), so nothing the run
    reads may lie there. :func:`preflight` checks the folder itself.
    """
    for rel in FIXED:
        paths.write(out_dir / rel, RUN_ROLE)
    paths.write_folder(out_dir / ASSET_DIR, RUN_ROLE)


def preflight(out_dir: Path) -> None:
    """Refuse now, before a run that builds the report does any work, what the build
    would refuse at its end: links, and files it did not write at its fixed paths."""
    refuse_foreign(out_dir, existing(out_dir, FIXED), FIXED)


def existing(out_dir: Path, ours: Iterable[str]) -> Existing:
    """The report's files in ``out_dir`` now; ``ours`` are the paths this build writes.

    Raises:
        UsageError: a link at ``index.html`` or under ``report/``, or an unreadable list.
    """
    present = _scan(out_dir)
    if WRITTEN in present:
        return Existing(present, _listed(out_dir / WRITTEN) & present)
    if DATA in present and _is_report_script(out_dir / DATA):  # built before lists were kept
        return Existing(present, present & frozenset(ours))
    return Existing(present, frozenset())


def plain(rel: str) -> bool:
    """Whether ``rel`` is a plain relative path (its thumbnail stays under ``report/``).

    >>> plain("sub/a.png"), plain("../a.png"), plain("/etc/a.png"), plain("a//b.png")
    (True, False, False, False)
    """
    return not any(part in ("", ".", "..") for part in rel.split("/"))


def refuse_foreign(out_dir: Path, found: Existing, ours: Iterable[str]) -> None:
    """Refuse to build over a file the report did not write (at one of ``ours``)."""
    for rel in ours:
        if rel in found.present and rel not in found.written:
            raise UsageError(
                f"{shown(out_dir / rel)}: not written by occlude report; the report does not "
                "replace a file it did not write: move it away or report another folder"
            )


def write_list(out_dir: Path, rels: Iterable[str]) -> None:
    """``report/written.json``: the files the report wrote (strict ASCII JSON)."""
    body = json.dumps({"written": sorted(set(rels) | {WRITTEN})}, ensure_ascii=True, indent=0)
    write_bytes(out_dir / WRITTEN, body.encode("ascii") + b"\n")


def remove(out_dir: Path, rels: Iterable[str]) -> list[str]:
    """Delete the files ``rels`` (the report's own); return those deleted.

    A file goes only if it is a regular file and no folder on its way from ``out_dir`` is
    a link (checked again here, not only when the build began).
    """
    removed = []
    for rel in rels:
        if _plain_file(out_dir, rel):
            (out_dir / rel).unlink(missing_ok=True)
            removed.append(rel)
    return removed


def _scan(out_dir: Path) -> frozenset[str]:
    """Everything at the report's paths; a link anywhere there is a usage error."""
    found = set()
    index = out_dir / INDEX
    if index.is_symlink():
        _refuse_link(index)
    if os.path.lexists(index):
        found.add(INDEX)
    top = out_dir / ASSET_DIR
    if top.is_symlink():
        _refuse_link(top)
    stack = [(top, ASSET_DIR)] if top.is_dir() else []
    while stack:
        folder, rel = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_symlink():
                    _refuse_link(Path(entry.path))
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), f"{rel}/{entry.name}"))
                else:
                    found.add(f"{rel}/{entry.name}")
    return frozenset(found)


def _refuse_link(path: Path) -> None:
    raise UsageError(
        f"{shown(path)}: is a symbolic link; occlude report writes and removes files only "
        "inside the output folder and never through a link: remove the link"
    )


def _listed(path: Path) -> frozenset[str]:
    try:
        names = json.loads(path.read_bytes())["written"]
        if not isinstance(names, list):
            raise TypeError("not a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"{shown(path)}: cannot read the report's list of the files it wrote "
            f"({shown(exc)}); remove index.html and report/ to build it afresh"
        ) from None
    return frozenset(n for n in names if isinstance(n, str))


def _is_report_script(path: Path) -> bool:
    prefix = f"window.{GLOBAL} = ".encode("ascii")
    try:
        with open(path, "rb") as handle:
            return handle.read(len(prefix)) == prefix
    except OSError:
        return False


def _plain_file(out_dir: Path, rel: str) -> bool:
    path = out_dir
    parts = rel.split("/")
    try:
        for part in parts[:-1]:
            path = path / part
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                return False
        return stat.S_ISREG(os.lstat(path / parts[-1]).st_mode)
    except OSError:
        return False
