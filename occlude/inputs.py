"""Finding the images named on the command line, and where their outputs go.

Folders are walked recursively, following symbolic links to files and folders (the usual
DVC and git-annex layouts); a link that leads back into its own ancestry is a loop and is
skipped with a note. Every real file is taken once. Files that are not regular files
(FIFOs, sockets, devices) are skipped with a note instead of being opened (opening a FIFO
would hang). Folders that cannot be listed and dangling links are reported as failures,
never skipped in silence.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from occlude.errors import UsageError
from occlude.text import shown

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
NOT_IMAGES = frozenset({".csv", ".tsv", ".md", ".rst", ".txt", ".json", ".jsonl", ".npy", ".npz",
                        ".yaml", ".yml"})  # fmt: skip
"""Files that are never images (labels, notes, records, maps): named on the command line
they are skipped with a note, so that ``occlude ... photos/*`` takes just the photos."""


@dataclass(frozen=True)
class InputImage:
    """One image file and its path relative to the argument it was found under.

    ``rel`` is the file name for a file argument, and the path below the folder for a
    folder argument (as walked, through links); outputs mirror it, and per-file random
    seeds are derived from it. ``real`` is the file's fully resolved path.
    """

    path: Path
    rel: PurePosixPath
    real: Path = field(default=Path(), compare=False)

    def output(self, out_dir: Path, suffix: str, stem_extra: str = "") -> Path:
        """``<out_dir>/<rel's folders>/<stem><stem_extra><suffix>``."""
        name = f"{self.rel.stem}{stem_extra}{suffix}"
        return out_dir.joinpath(*self.rel.parent.parts, name)


@dataclass
class Discovery:
    """What :func:`discover` found: images, notes (skipped entries) and failures."""

    images: list[InputImage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)


def is_image_path(path: Path | str) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def discover(args: Sequence[Path], exclude: Path | None = None) -> Discovery:
    """Expand files and folders (recursively) into image files, in a stable order.

    Files named directly are taken whatever their extension, except those that are never
    images (:data:`NOT_IMAGES`: skipped with a note); inside folders only the image
    extensions (any letter case) count. An output folder ``exclude`` inside an input
    folder is skipped, so a run never reads its own outputs back. A file reached through
    several paths keeps the longest relative path (then the greatest), so the order of the
    arguments changes nothing.

    Raises:
        UsageError: a path does not exist, nothing was given, or ``exclude`` is itself
            one of the input folders.
    """
    if not args:
        raise UsageError("no inputs given: name image files or folders", "inputs")
    excluded = Path(os.path.realpath(exclude)) if exclude is not None else None
    found = Discovery()
    best: dict[Path, InputImage] = {}
    order: list[Path] = []
    for arg in args:
        arg = Path(arg)
        if not os.path.lexists(arg):
            raise UsageError(f"{shown(arg)}: no such file or folder", "inputs")
        if arg.is_dir():
            root = Path(os.path.realpath(arg))
            if excluded is not None and excluded == root:
                raise UsageError(
                    f"out_dir {shown(exclude)} is an input folder; write outputs elsewhere",
                    "out_dir",
                )
            found.folders.append(root)
            candidates = _walk(arg, excluded, found)
        elif arg.suffix.lower() in NOT_IMAGES:
            found.notes.append(f"{shown(arg)}: not an image (a {arg.suffix} file): skipped")
            candidates = []
        else:
            candidates = _file(arg, PurePosixPath(arg.name), found)
        for item in candidates:
            if item.real not in best:
                order.append(item.real)
                best[item.real] = item
            elif _rank(item) > _rank(best[item.real]):
                best[item.real] = item
    found.images = [best[real] for real in order]
    return found


def _rank(item: InputImage) -> tuple[int, str]:
    return (len(item.rel.parts), item.rel.as_posix())


def _file(path: Path, rel: PurePosixPath, found: Discovery) -> list[InputImage]:
    """``path`` as an input if it is a readable regular file; else a note or a failure."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        found.failures.append((path, f"{shown(path)}: dangling link (its target is missing)"))
        return []
    except OSError as exc:
        found.failures.append((path, f"{shown(path)}: cannot read ({exc.strerror or exc})"))
        return []
    if not stat.S_ISREG(info.st_mode):
        kind = _kind(info.st_mode)
        found.notes.append(f"{shown(path)}: not a regular file ({kind}): skipped")
        return []
    return [InputImage(path, rel, Path(os.path.realpath(path)))]


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def _walk(arg: Path, excluded: Path | None, found: Discovery) -> list[InputImage]:
    """Image files below ``arg`` in sorted order, following links, loops skipped."""
    out: list[InputImage] = []
    stack: list[tuple[Path, PurePosixPath, frozenset[tuple[int, int]]]] = [
        (arg, PurePosixPath(), frozenset())
    ]
    while stack:
        folder, rel, ancestors = stack.pop()
        try:
            info = os.stat(folder)
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            found.failures.append(
                (folder, f"{shown(folder)}: cannot read folder ({exc.strerror or exc})")
            )
            continue
        ident = (info.st_dev, info.st_ino)
        if ident in ancestors:
            found.notes.append(f"{shown(folder)}: link loop back to a parent folder: skipped")
            continue
        if excluded is not None and Path(os.path.realpath(folder)) == excluded:
            continue
        subfolders = []
        for entry in entries:
            path = Path(entry.path)
            if _is_dir(entry):
                subfolders.append((path, rel / entry.name, ancestors | {ident}))
            elif is_image_path(entry.name):
                out.extend(_file(path, rel / entry.name, found))
        stack.extend(reversed(subfolders))
    return out


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=True)
    except OSError:
        return False


def find_images(args: Sequence[Path], exclude: Path | None = None) -> list[InputImage]:
    """The images of :func:`discover`, for callers that need nothing else."""
    return discover(args, exclude).images


def check_out_dir(out: Path, param: str = "out_dir") -> None:
    """Refuse an output folder that is a file or cannot be written."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{param} {shown(out)}: exists and is not a folder", param)
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{param} {shown(out)}: cannot write there (permission denied)", param)


def check_target_file(target: Path, param: str) -> None:
    """Refuse a single-file output (``json_path``, ``plot``) that is a folder or unwritable."""
    if target.is_dir():
        raise UsageError(f"{param} {shown(target)}: is a folder", param)
    check_out_dir(target.parent if str(target.parent) else Path("."), param)
