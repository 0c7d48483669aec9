"""The ledger's lines as read back: each one parsed and checked, or refused.

A ledger travels (CI artifacts move between machines) and can be edited by hand, so
nothing in it is trusted: a line is an event only if it has the shape that
:class:`~occlude.runner.ledger.Ledger` writes: a known kind, every field of the right
type, finite numbers only, and output paths that name a file inside the output folder.
Everything that reads a ledger goes through :func:`read_events`.

Shapes (``t``: nanoseconds, ``run``: a run id, ``seq``: its counter; ``rel``: a
relative output path, see :func:`safe_rel`):

* ``started``: ``key``, ``outputs: [rel, ...]``;
* ``done``: ``key``, ``fingerprint``, ``record: {...} | null``, ``complete: bool``,
  ``outputs: {rel: {"size": int, "record": {...} | null}}``;
* ``failed``: ``key``, ``source: str | null``, ``message``;
* ``owns``: ``key``, ``outputs: [rel, ...]`` (who wrote these files; nothing else).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

KINDS = ("started", "done", "failed", "owns")
_MAX = 2**63 - 1
_RUN = re.compile(r"[0-9a-f]{1,64}")
_DRIVE = re.compile(r"[A-Za-z]:")


def safe_rel(rel: object) -> bool:
    """Whether ``rel`` names a file inside the output folder, on any system: relative,
    no empty, ``.`` or ``..`` part (split at ``/`` and at ``\\`` alike, as Windows
    would), no drive letter, no NUL.

    >>> [safe_rel(r) for r in ("a/b.png", "caf\\udce9 #1.png", "x\\ny.png")]
    [True, True, True]
    >>> [safe_rel(r) for r in ("/etc/x", "../x", "a/../b", "..\\\\x", "C:x", "a//b", "", 3)]
    [False, False, False, False, False, False, False, False]
    """
    if not isinstance(rel, str) or not rel or "\0" in rel or _DRIVE.match(rel):
        return False
    return all(part not in ("", ".", "..") for part in rel.replace("\\", "/").split("/"))


def is_int(value: object) -> bool:
    """A JSON whole number (a bool is not one): for the checks of records read back."""
    return type(value) is int


def is_number(value: object) -> bool:
    """A finite JSON number (a bool is not one).

    >>> is_number(2), is_number(0.5), is_number(True), is_number(float("nan")), is_number("1")
    (True, True, False, False, False)
    """
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]


def _count(value: object) -> bool:
    """A whole number in 0 .. 2**63-1 (not a bool)."""
    return type(value) is int and 0 <= value <= _MAX


def _record(value: object) -> bool:
    return value is None or isinstance(value, dict)


def _rels(value: object) -> bool:
    return isinstance(value, list) and all(safe_rel(rel) for rel in value)


def _files(value: object) -> bool:
    """``done`` outputs: ``{rel: {"size": int, "record": {...} | null}}``."""
    return isinstance(value, dict) and all(
        safe_rel(rel) and isinstance(info, dict) and _count(info.get("size"))
        and _record(info.get("record"))
        for rel, info in value.items()
    )  # fmt: skip


def valid(event: object) -> bool:
    """Whether ``event`` (parsed JSON) has the shape of an event occlude writes."""
    if not isinstance(event, dict):
        return False
    kind, key = event.get("event"), event.get("key")
    if kind not in KINDS or not isinstance(key, str) or not key or not _count(event.get("t")):
        return False
    if "run" in event and not (isinstance(event["run"], str) and _RUN.fullmatch(event["run"])):
        return False
    if "seq" in event and not _count(event["seq"]):
        return False
    if kind in ("started", "owns"):
        return _rels(event.get("outputs"))
    if kind == "failed":
        source = event.get("source")
        return (source is None or isinstance(source, str)) and isinstance(event.get("message"), str)
    return (isinstance(event.get("fingerprint"), str) and _record(event.get("record"))
            and isinstance(event.get("complete"), bool)
            and _files(event.get("outputs")))  # fmt: skip


def _strict_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400
        raise ValueError(f"not a finite number: {text}")
    return value


def _no_constant(name: str) -> Any:  # NaN, Infinity, -Infinity
    raise ValueError(f"not a number in strict JSON: {name}")


def parse(line: bytes) -> dict[str, Any] | None:
    """One line as an event, or None if it is not one occlude writes (ASCII, strict JSON,
    the shape :func:`valid` checks)."""
    try:
        event = json.loads(line.decode("ascii"), parse_float=_strict_float,
                           parse_constant=_no_constant)  # fmt: skip
    except (ValueError, RecursionError):  # also UnicodeDecodeError, too many digits
        return None
    return event if valid(event) else None


def _read_regular(path: Path) -> bytes | None:
    """The bytes of ``path`` if it is a regular file (not a link, FIFO or device)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:  # a part folded in and removed since it was listed
        return b""
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return handle.read()


def read_events(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The events of one JSON-lines file, and how many lines were refused.

    A last line without its newline is one a kill cut short (or one still being
    written): it is used if whole and skipped quietly if not. A file that is there but
    is not a regular file (a link, a device) counts as one refused line.
    """
    data = _read_regular(path)
    if data is None:
        return [], 1
    lines = data.split(b"\n")
    tail = lines.pop()
    events, refused = [], 0
    for line in lines:
        if line.strip():
            event = parse(line)
            if event is None:
                refused += 1
            else:
                events.append(event)
    last = parse(tail) if tail.strip() else None
    if last is not None:
        events.append(last)
    return events, refused
