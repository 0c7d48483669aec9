"""Finding the images named on the command line and where their outputs go."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from occlude.errors import UsageError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


@dataclass(frozen=True)
class InputImage:
    """One image file and its path relative to the argument it was found under.

    ``rel`` is the file name for a file argument, and the path below the folder for a
    folder argument; outputs mirror it, and per-file random seeds are derived from it.
    """

    path: Path
    rel: PurePosixPath

    def output(self, out_dir: Path, suffix: str, stem_extra: str = "") -> Path:
        """``<out_dir>/<rel's folders>/<stem><stem_extra><suffix>``."""
        name = f"{self.rel.stem}{stem_extra}{suffix}"
        return out_dir.joinpath(*self.rel.parent.parts, name)


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def find_images(args: Sequence[Path], exclude: Path | None = None) -> list[InputImage]:
    """Expand files and folders (recursively) into image files, in a stable order.

    Files named directly are taken whatever their extension; inside folders only the
    image extensions (any letter case) count. Anything under ``exclude`` (the output
    folder) is skipped, so a run never reads its own outputs back.

    Raises:
        UsageError: a path does not exist, or nothing was given.
    """
    if not args:
        raise UsageError("no input given: name image files or folders")
    excluded = exclude.resolve() if exclude is not None else None
    found: list[InputImage] = []
    seen: set[Path] = set()
    for arg in args:
        if not arg.exists():
            raise UsageError(f"{arg}: no such file or folder")
        if arg.is_dir():
            root = arg.resolve()
            for path in _walk(arg):
                real = path.resolve()
                if excluded is not None and _inside(real, excluded):
                    continue
                if real in seen:
                    continue
                seen.add(real)
                found.append(InputImage(path, PurePosixPath(real.relative_to(root).as_posix())))
        else:
            real = arg.resolve()
            if real not in seen:
                seen.add(real)
                found.append(InputImage(arg, PurePosixPath(arg.name)))
    return found


def _walk(folder: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if is_image_path(path):
                yield path


def check_out_dir(out: Path) -> None:
    """Refuse an ``--out`` that is a file or cannot be written."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: cannot write there (permission denied)")


def check_outputs(images: Sequence[InputImage], outputs: Sequence[Sequence[Path]]) -> None:
    """Refuse output plans that would overwrite an input or write one file twice."""
    inputs = {img.path.resolve(): img for img in images}
    owner: dict[Path, Path] = {}
    for img, paths in zip(images, outputs, strict=True):
        for out in paths:
            real = out.resolve()
            if real in inputs:
                raise UsageError(f"{img.path}: its output {out} would overwrite an input")
            if real in owner and owner[real] != img.path:
                raise UsageError(
                    f"{img.path} and {owner[real]} would both write {out}; "
                    "rename one or run them separately"
                )
            owner[real] = img.path
