"""Labels for inputs: the parent folder's name, or a ``path,label`` CSV."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path

from occlude.errors import UsageError
from occlude.text import shown


def read_label_csv(csv_path: Path, param: str = "labels") -> dict[Path, str]:
    """``path,label`` rows (header required) keyed by resolved path; relative paths are
    taken from the CSV's folder.

    Raises:
        UsageError: the file is missing or malformed, or one path has two labels.
    """
    where = f"{param} {shown(csv_path)}"
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise UsageError(f"{where}: cannot read ({exc.strerror or exc})", param) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{where}: not a UTF-8 CSV file ({exc})", param) from None
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if "path" not in header or "label" not in header:
        raise UsageError(f"{where}: the first row must be the header path,label", param)
    col_path, col_label = header.index("path"), header.index("label")
    folder = csv_path.parent
    labels: dict[Path, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(col_path, col_label) or not row[col_label].strip():
            raise UsageError(f"{where}: line {line} needs a path and a label", param)
        key = Path(os.path.realpath(folder / row[col_path].strip()))
        label = row[col_label].strip()
        if labels.setdefault(key, label) != label:
            raise UsageError(
                f"{where}: line {line} gives {shown(row[col_path].strip())} a second "
                f"label ({labels[key]!r}, then {label!r})",
                param,
            )
    return labels


def folder_label(path: Path) -> str:
    """The class for ``labels="folders"``: the name of the file's parent folder."""
    return Path(os.path.abspath(path)).parent.name


class LabelReader:
    """``labels`` is ``"folders"``, the path of a CSV, or a mapping of image paths to labels
    (the Python API's): ``reader(path)`` -> label or None."""

    def __init__(self, labels: str | Path | Mapping[Path, str]) -> None:
        self.csv: Path | None = None
        self._table: dict[Path, str] | None = None
        if isinstance(labels, Mapping):
            self.spec = "labels"
            self._table = {Path(os.path.realpath(p)): str(v) for p, v in labels.items()}
            return
        self.spec = str(labels)
        if self.spec != "folders":
            self.csv = Path(labels)
            if not self.csv.is_file():
                raise UsageError(
                    f"labels {shown(labels)}: give folders or an existing CSV file", "labels"
                )
            self._table = read_label_csv(self.csv)

    def __call__(self, path: Path) -> str | None:
        if self._table is None:
            return folder_label(path)
        return self._table.get(Path(os.path.realpath(path)))
