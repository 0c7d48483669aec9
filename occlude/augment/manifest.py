"""``<out>/manifest.jsonl``: one record per output, written from the ledger; and replay.

The manifest is derived: the ledger (``<out>/.occlude``) holds every run's records, and
the manifest lists the current record of every output file that exists, sorted by output
path. It is ours only if we wrote it: an existing ``manifest.jsonl`` whose content is not
the one occlude last wrote there (a file of someone else's, or one edited since) makes the
run refuse to start rather than rewrite it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from occlude.augment.methods import augmentation, method_class, params_from_dict
from occlude.augment.methods.mixer import match_partner
from occlude.errors import UsageError
from occlude.fill import FillValue, Noise
from occlude.imageio import load_array, write_bytes
from occlude.runner.ledger import Ledger
from occlude.runner.state import STATE_DIR, folder_lock
from occlude.text import shown

MANIFEST = "manifest.jsonl"
VERSION = 2
"""A record's ``version``: 2 since each method is defined once (draws from the image's
int32 ``key``); records without one are version 1 and replay as they were written."""
_STAMP = "manifest.sha256"
_NEXT = "manifest.sha256.next"
"""The digest of a manifest about to replace the current one: a run killed between the
rename and the stamp leaves a manifest that is still recognised as ours."""


def _read(path: Path) -> str | None:
    try:
        return path.read_text("ascii").strip()
    except OSError:
        return None


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def check_manifest_is_ours(out_dir: Path) -> None:
    """Refuse an output folder whose ``manifest.jsonl`` occlude did not write.

    Raises:
        UsageError: the manifest exists and differs from the one occlude last wrote.
    """
    manifest = out_dir / MANIFEST
    if not manifest.exists():
        return
    ours = {_read(out_dir / STATE_DIR / name) for name in (_STAMP, _NEXT)} - {None}
    if _digest(manifest) not in ours:
        raise UsageError(
            f"{shown(manifest)}: not written by occlude, or changed since; occlude does not "
            "rewrite a manifest it did not write: move it away or choose another out_dir",
            "out_dir",
        )


def write_manifest(ledger: Ledger, out_dir: Path) -> int:
    """Write the manifest from every run's records in the ledger; return the line count.

    Runs that finish at the same time take turns (a folder lock), and each reads the
    ledger afresh inside it, so the last manifest written holds every record.
    """
    with folder_lock(ledger.state_dir):
        records = [r for r in ledger.read().output_records(out_dir) if "method" in r]
        body = "".join(json.dumps(r, allow_nan=False) + "\n" for r in records).encode()
        digest = hashlib.sha256(body).hexdigest().encode()
        write_bytes(ledger.state_dir / _NEXT, digest)
        write_bytes(out_dir / MANIFEST, body)
        write_bytes(ledger.state_dir / _STAMP, digest)
    return len(records)


def replay(record: Mapping[str, Any], base: Path | None = None) -> np.ndarray:
    """Rebuild one output's pixels from its manifest record and its source files.

    ``source`` and ``partner`` are read relative to ``base`` (default: the current
    folder, as they were given on the command line). The result equals the written file
    for lossless formats; JPEG and WebP outputs add their compression on top.
    """
    method = str(record["method"])
    method_class(method)
    params = params_from_dict(method, record["params"])
    root = Path.cwd() if base is None else base
    image = load_array(root / str(record["source"]))
    partner = None
    if record.get("partner") is not None:
        partner = match_partner(load_array(root / str(record["partner"])), image)
    fill: FillValue | None = None
    if record.get("fill") == "noise" and "key" in record["params"]:
        fill = Noise(int(record["params"]["key"]), keyed=True)
    elif record.get("fill") == "noise":  # a version-1 record: NumPy's generator
        fill = Noise(int(record["params"]["noise_seed"]))
    elif record.get("fill") is not None:
        fill = tuple(float(v) for v in record["fill"])
    if "fill" not in record and not method_class(method).mixing:
        raise UsageError(f"a {method} record needs its fill", "record")
    return augmentation(method).apply(image, params, fill=fill, partner=partner)
