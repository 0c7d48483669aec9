"""A run's identity on disk: run ids, run locks, the folder lock, canonical fingerprints.

Every run into an output folder takes a fresh id and holds an exclusive ``flock`` on
``<out>/.occlude/runs/<id>.lock`` while it lives. Another run (in another container, or on
another host sharing the folder) can then tell a live run from a finished or killed one by
trying that lock, without trusting process ids. Short critical sections (compacting the
ledger, writing a manifest) take ``<out>/.occlude/lock``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process locks
    fcntl = None  # type: ignore[assignment]

STATE_DIR = ".occlude"


def new_run_id() -> str:
    """A run id: 16 hex digits, unique across hosts."""
    return uuid.uuid4().hex[:16]


def canonical_json(value: Any) -> str:
    """One canonical text for a JSON value: sorted keys, no spaces, ASCII only.

    >>> canonical_json({"b": [1, 2.5], "a": None})
    '{"a":null,"b":[1,2.5]}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)  # fmt: skip


def fingerprint(value: Any, length: int = 64) -> str:
    """SHA-256 (hex, first ``length`` digits) of :func:`canonical_json` of ``value``."""
    return hashlib.sha256(canonical_json(value).encode("ascii")).hexdigest()[:length]


def file_sha256(path: Path | str, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class FileHashes:
    """Content hashes computed once per run, by resolved path."""

    def __init__(self) -> None:
        self._cache: dict[str, str | None] = {}

    def __call__(self, path: Path | str | None) -> str | None:
        """The file's SHA-256, or None when there is no path or it cannot be read."""
        if path is None:
            return None
        key = os.path.realpath(path)
        if key not in self._cache:
            try:
                self._cache[key] = file_sha256(key)
            except OSError:
                self._cache[key] = None
        return self._cache[key]


def _flock(handle: Any, blocking: bool) -> bool:
    if fcntl is None:
        return True
    flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
    try:
        fcntl.flock(handle.fileno(), flags)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


class RunLock:
    """Held by a live run: ``<state>/runs/<run id>.lock`` under an exclusive flock."""

    def __init__(self, state_dir: Path, run_id: str) -> None:
        self.path = state_dir / "runs" / f"{run_id}.lock"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: Any = open(self.path, "a+b")  # noqa: SIM115 - held for the run's life
        _flock(self._handle, blocking=True)

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self._handle.close()
            self._handle = None


def run_is_live(state_dir: Path, run_id: str) -> bool:
    """Whether run ``run_id`` still holds its lock (False when it ended or was killed)."""
    path = state_dir / "runs" / f"{run_id}.lock"
    try:
        handle = open(path, "rb")  # noqa: SIM115
    except OSError:
        return False
    with handle:
        if not _flock(handle, blocking=False):
            return True
    with contextlib.suppress(OSError):
        path.unlink()  # a killed run's lock: nobody holds it any more
    return False


@contextlib.contextmanager
def folder_lock(state_dir: Path) -> Iterator[None]:
    """``<state>/lock`` held exclusively for a short critical section."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "lock", "a+b") as handle:
        _flock(handle, blocking=True)
        yield
