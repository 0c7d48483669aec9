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


def file_stamp(path: str | Path | None) -> list[int] | None:
    """(size, mtime in ns) of a file, so that a changed file is not mistaken for the old."""
    if path is None:
        return None
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


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
    image extensions (any letter case) count. An output folder ``exclude`` inside an input
    folder is skipped, so a run never reads its own outputs back. A file reached through
    several arguments keeps the longest relative path (from the outermost folder), so the
    order of the arguments changes nothing.

    Raises:
        UsageError: a path does not exist, nothing was given, or ``exclude`` is itself
            one of the input folders.
    """
    if not args:
        raise UsageError("no input given: name image files or folders")
    excluded = exclude.resolve() if exclude is not None else None
    best: dict[Path, InputImage] = {}
    order: list[Path] = []
    for arg in args:
        if not arg.exists():
            raise UsageError(f"{arg}: no such file or folder")
        if arg.is_dir():
            root = arg.resolve()
            if excluded is not None and excluded == root:
                raise UsageError(f"--out {exclude} is an input folder; write outputs elsewhere")
            # Skip the output folder only when it lies inside this input folder; an input
            # folder inside the output folder (``--out .``) is read as usual.
            skip = excluded if excluded is not None and _inside(excluded, root) else None
            candidates = [
                (path, PurePosixPath(path.resolve().relative_to(root).as_posix()))
                for path in _walk(arg)
                if skip is None or not _inside(path.resolve(), skip)
            ]
        else:
            candidates = [(arg, PurePosixPath(arg.name))]
        for path, rel in candidates:
            real = path.resolve()
            item = InputImage(path, rel)
            if real not in best:
                order.append(real)
                best[real] = item
            elif (len(rel.parts), rel.as_posix()) > (
                len(best[real].rel.parts),
                best[real].rel.as_posix(),
            ):
                best[real] = item
    return [best[real] for real in order]


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


def check_json_target(
    target: Path, images: Sequence[InputImage], outputs: Sequence[Sequence[Path]]
) -> None:
    """Refuse a ``--json`` file that is a folder, an input, or one of the planned outputs."""
    real = target.resolve()
    if target.is_dir():
        raise UsageError(f"--json {target}: is a folder")
    if real in {img.path.resolve() for img in images}:
        raise UsageError(f"--json {target}: would overwrite an input")
    if real in {p.resolve() for paths in outputs for p in paths}:
        raise UsageError(f"--json {target}: would overwrite one of the outputs")
    check_out_dir(target.parent if str(target.parent) else Path("."))


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
