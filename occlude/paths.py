"""No path to data loss: every path a run reads checked against every path it writes.

A run declares what it reads (inputs, the folders they were found in, a model, weights,
mask or labels file) and what it writes (each planned output, the JSON file, the plot,
the manifest). :meth:`PathPlan.check` refuses, before any work, a plan that would write
onto a file the run reads, write inside an input folder (except under the output folder,
which is never read as input), write one file twice, or read anything inside a folder the
run writes as a whole (files made and removed there are only known at the end, as the
report's thumbnails); the message names both roles.

Writes are always atomic renames, which replace a directory entry and never change the
file behind another link to it, so paths are compared by where the entry really lives:
the fully resolved path for reads, and the resolved parent folder plus the name for
writes (a symbolic link to an input inside the output folder is replaced, not followed).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from occlude.errors import UsageError
from occlude.text import shown


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


@dataclass
class PathPlan:
    """Reads and writes of one run, by role (the Python parameter that named them)."""

    reads: dict[Path, tuple[str, Path]] = field(default_factory=dict)
    writes: dict[Path, tuple[str, Path, object]] = field(default_factory=dict)
    read_folders: list[tuple[str, Path]] = field(default_factory=list)
    write_folders: list[tuple[str, Path]] = field(default_factory=list)
    safe_folders: list[Path] = field(default_factory=list)
    _parents: dict[Path, Path] = field(default_factory=dict, repr=False)

    def read(self, path: Path | str | None, role: str) -> None:
        """The run reads the file ``path`` (nothing if None)."""
        if path is not None:
            self.reads.setdefault(_real(Path(path)), (role, Path(path)))

    def read_all(self, paths: Iterable[Path], role: str) -> None:
        for path in paths:
            self.read(path, role)

    def read_folder(self, folder: Path, role: str) -> None:
        """Every file under ``folder`` counts as read (it may be an input next time)."""
        self.read_folders.append((role, _real(folder)))

    def output_folder(self, folder: Path) -> None:
        """Files under ``folder`` are never read as inputs, even inside an input folder."""
        self.safe_folders.append(_real(folder))

    def write(self, path: Path | str | None, role: str, owner: object = None) -> None:
        """The run writes ``path`` (atomically) for ``owner`` (an input, or None)."""
        if path is None:
            return
        path = Path(path)
        key = self._where(path)
        if key in self.writes:
            other_role, _, other_owner = self.writes[key]
            if other_role != role:
                raise UsageError(
                    f"{shown(path)}: {role} and {other_role} would both write this file",
                    (role, other_role),
                )
            if other_owner != owner:
                raise UsageError(
                    f"{shown(owner)} and {shown(other_owner)} would both write {shown(path)}; "
                    "rename one or run them separately"
                )
        self.writes.setdefault(key, (role, path, owner))

    def write_all(self, paths: Iterable[Path], role: str, owner: object = None) -> None:
        for path in paths:
            self.write(path, role, owner)

    def write_folder(self, folder: Path, role: str) -> None:
        """The run writes, replaces and removes files anywhere under ``folder``: nothing
        it reads (no file, no input folder) may lie there."""
        self.write_folders.append((role, _real(folder)))

    def run_writes(self, folder: Path) -> tuple[str, ...]:
        """The files written for no one input (a summary, a manifest, ``json_path``) that
        land in ``folder``, as sorted relative POSIX paths: a run's whole-run outputs."""
        root = _real(folder)
        return tuple(sorted(
            key.relative_to(root).as_posix()
            for key, (_role, _path, owner) in self.writes.items()
            if owner is None and _under(key, root) and key != root
        ))  # fmt: skip

    def _where(self, path: Path) -> Path:
        parent = path.parent if str(path.parent) else Path(".")
        if parent not in self._parents:
            self._parents[parent] = _real(parent)
        return self._parents[parent] / path.name

    def check(self) -> None:
        """Raise a UsageError naming both roles if a write would hit something read."""
        self._check_write_folders()
        for key, (role, path, _owner) in self.writes.items():
            if key in self.reads:
                read_role, read_path = self.reads[key]
                raise UsageError(
                    f"{shown(path)}: {role} would overwrite the {read_role} "
                    f"{shown(read_path)}; write it elsewhere",
                    (role, read_role),
                )
            if any(_under(key, safe) for safe in self.safe_folders):
                continue
            for read_role, folder in self.read_folders:
                if _under(key, folder):
                    raise UsageError(
                        f"{shown(path)}: {role} would write inside the {read_role} folder "
                        f"{shown(folder)}; write it elsewhere",
                        (role, read_role),
                    )

    def _check_write_folders(self) -> None:
        reads = [(path, role, given) for path, (role, given) in self.reads.items()]
        reads += [(folder, f"{role} folder", folder) for role, folder in self.read_folders]
        for role, folder in self.write_folders:
            for path, read_role, given in reads:
                if _under(path, folder):
                    raise UsageError(
                        f"{shown(given)}: the {read_role} lies inside {shown(folder)}, where "
                        f"{role} writes and removes files; move it elsewhere",
                        (role, read_role),
                    )


def _under(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True
