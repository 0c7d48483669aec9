"""What a report shows, read from an output folder: the ledger and ``robustness.json``.

Everything here reads; nothing writes. The result is plain JSON-ready data (strict: no
NaN), with names already made printable (:func:`occlude.text.shown`) and links as
percent-encoded paths relative to the output folder, so the page only has to lay it out.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from occlude.runner.ledger import LedgerState
from occlude.sensitivity.outputs import describe_class
from occlude.text import shown
from occlude.zoo import describe_model

SENSITIVITY = "sensitivity:"
ROBUSTNESS = "robustness:"
ROBUSTNESS_JSON = "robustness.json"
ROBUSTNESS_PNG = "robustness.png"
SUFFIXES = {
    "heatmap": (".png",),
    "sheet": ("_scales.png",),
    "animation": ("_sweep.gif", "_sweep.webp"),
    "record": (".json",),
}
"""Each output kind's file name after the image's stem (``sensitivity.outputs``)."""
ROW_FIELDS = (
    "method", "fraction", "accuracy", "accuracy_low_images", "accuracy_high_images",
    "accuracy_low", "accuracy_high", "mean_true_score", "n", "images",
)  # fmt: skip


@dataclass
class Collected:
    """Everything the page shows; :meth:`page_data` is what goes to the browser."""

    cards: list[dict[str, Any]] = field(default_factory=list)
    heatmaps: list[str | None] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    robustness: dict[str, Any] | None = None
    evaluated: int = 0
    """Images the robustness runs evaluated (finished units in the ledger)."""
    models: list[str] = field(default_factory=list)

    def page_data(self, title: str, min_focus: float | None) -> dict[str, Any]:
        return {
            "title": title,
            "min_focus": min_focus,
            "has_focus": any(c["focus"] is not None for c in self.cards),
            "has_metrics": any(c["ins"] is not None for c in self.cards),
            "models": self.models,
            "cards": self.cards,
            "failures": self.failures,
            "robustness": self.robustness,
        }


def number(value: object) -> float | None:
    """A finite number as is (an int stays one), anything else (missing, NaN, text) as None.

    >>> number(3), number(0.5), number(float("nan")), number("1"), number(True)
    (3, 0.5, None, None, None)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def model_name(model: object) -> str:
    """A model as the page names it: a zoo name as is, a model file by its file name.

    >>> model_name("/data/models/red.keras"), model_name("MobileNetV2")
    ('red.keras', 'MobileNetV2')
    """
    return _file_name(model) if isinstance(model, str) else ""


@functools.cache
def _file_name(path: str) -> str:
    return shown(PurePosixPath(path).name)


def href(rel: str) -> str:
    """A relative link to ``rel`` (a POSIX path under the output folder), percent-encoded.

    >>> href("sub dir/cat #1.png")
    'sub%20dir/cat%20%231.png'
    """
    return quote(os.fsencode(rel), safe="/")


def classify(outputs: Mapping[str, Any]) -> dict[str, str]:
    """A unit's output files by kind (see ``sensitivity.outputs.output_paths``).

    The record ``<stem>.json`` gives the stem; without one, the shortest ``.png`` is the
    heatmap (the sheet is ``<stem>_scales.png``).

    >>> kinds = classify({"d/b.png": 0, "d/b_scales.png": 0, "d/b.json": 0, "d/b_sweep.gif": 0})
    >>> kinds["heatmap"], kinds["sheet"], kinds["animation"], kinds["record"]
    ('d/b.png', 'd/b_scales.png', 'd/b_sweep.gif', 'd/b.json')
    """
    record = next((r for r in outputs if r.endswith(".json")), None)
    if record is not None:
        stem = record[: -len(".json")]
    else:
        pngs = sorted((r for r in outputs if r.endswith(".png")), key=len)
        if not pngs:
            return {}
        stem = pngs[0][: -len(".png")]
    found = {}
    for kind, suffixes in SUFFIXES.items():
        rel = next((stem + n for n in suffixes if stem + n in outputs), None)
        if rel is not None:
            found[kind] = rel
    return found


def collect(out_dir: Path, state: LedgerState, min_focus: float | None) -> Collected:
    """Cards for every finished sensitivity image, failures, and the robustness summary."""
    found = Collected()
    models = set()
    root = os.fspath(out_dir)
    for key in sorted(state.by_key):
        event = state.current(key) if key.startswith(SENSITIVITY) else None
        if event is None or not isinstance(event.get("record"), dict):
            continue
        files = {kind: rel for kind, rel in classify(event.get("outputs") or {}).items()
                 if state.by_output.get(rel) is event
                 and os.path.isfile(os.path.join(root, rel))}  # fmt: skip
        record = event["record"]
        found.cards.append(card(key[len(SENSITIVITY) :], record, files, min_focus))
        found.heatmaps.append(files.get("heatmap"))
        if isinstance(record.get("model"), str):
            models.add(describe_model(model_name(record["model"]), record.get("weights")))
    found.models = sorted(models)
    found.failures = _failures(state, SENSITIVITY)
    found.robustness = robustness(out_dir, state)
    found.evaluated = sum(1 for k in state.by_key
                          if k.startswith(ROBUSTNESS) and state.current(k) is not None)  # fmt: skip
    return found


def card(name: str, record: Mapping[str, Any], files: Mapping[str, str],
         min_focus: float | None) -> dict[str, Any]:  # fmt: skip
    """One gallery card's data from a sensitivity record and its files (kind -> path)."""
    index, top1 = record.get("class_index"), record.get("top1_index")
    class_name = record.get("class_name") if isinstance(record.get("class_name"), str) else None
    label = text(describe_class(class_name, index)) if isinstance(index, int) else "class ?"
    top1_label = None
    if isinstance(top1, int) and isinstance(index, int) and top1 != index:
        top1_label = text(describe_class(_top1_name(record, top1), top1))
    focus = number(record.get("focus"))
    ins, ins_random = (
        number(record.get("insertion_auc")),
        number(record.get("insertion_auc_random")),
    )
    return {
        "name": text(name),
        "cls": label,
        "top1": top1_label,
        "score": number(record.get("base_score")),
        "focus": focus,
        "del": number(record.get("deletion_auc")),
        "delR": number(record.get("deletion_auc_random")),
        "ins": ins,
        "insR": ins_random,
        "low": min_focus is not None and (focus is None or focus < min_focus),
        "unfaithful": ins is not None and ins_random is not None and ins < ins_random,
        "thumb": None,
        "links": {kind: href(rel) for kind, rel in files.items()},
    }


def robustness(out_dir: Path, state: LedgerState) -> dict[str, Any] | None:
    """The robustness summary (``robustness.json``) as the page shows it, if any.

    A folder with robustness results in its ledger but no summary (shards not yet
    combined) gets a note instead of a table.
    """
    failures = _failures(state, ROBUSTNESS)
    has_units = any(k.startswith(ROBUSTNESS) for k in state.by_key)
    path = out_dir / ROBUSTNESS_JSON
    if not path.is_file():
        if not has_units:
            return None
        note = ("robustness results are in the ledger but there is no robustness.json yet: "
                "run occlude robustness again without --shard to combine them")  # fmt: skip
        return {"rows": [], "failures": failures, "note": note, "plot": None, "gate": None}
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        rows = [_row(r) for r in summary["results"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        note = f"{ROBUSTNESS_JSON} could not be read: {shown(exc)}"
        return {"rows": [], "failures": failures, "note": note, "plot": None, "gate": None}
    gate = summary.get("gate") if isinstance(summary.get("gate"), dict) else None
    return {
        "rows": rows,
        "failures": failures,
        "note": None,
        "plot": href(ROBUSTNESS_PNG) if (out_dir / ROBUSTNESS_PNG).is_file() else None,
        "model": describe_model(model_name(summary.get("model")), summary.get("weights")),
        "repeats": summary.get("repeats") if isinstance(summary.get("repeats"), int) else None,
        "gate": None if gate is None else {
            "min_accuracy": number(gate.get("min_accuracy")),
            "at": number(gate.get("at")),
            "on": shown(gate.get("on", "estimate")),
            "passed": bool(gate.get("passed")),
        },
    }  # fmt: skip


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"method": text(row["method"])}
    for name in ROW_FIELDS[1:]:
        out[name] = number(row.get(name))
    return out


def _failures(state: LedgerState, prefix: str) -> list[dict[str, str]]:
    return [
        {
            "input": text(f["key"][len(prefix) :]),
            "message": text(f.get("message") or "failed"),
        }
        for f in state.failures(prefix)
    ]


def _top1_name(record: Mapping[str, Any], index: int) -> str | None:
    top5 = record.get("top5")
    for entry in top5 if isinstance(top5, list) else ():
        if isinstance(entry, list) and entry and entry[0] == index and len(entry) > 1:
            return entry[1] if isinstance(entry[1], str) else None
    return None


def text(value: object) -> str:
    """:func:`shown`, with a fast path for the common case (printable ASCII is kept as is)."""
    if isinstance(value, str) and value.isascii() and value.isprintable():
        return value
    return shown(value)
