"""Synthetic output folders for the report's tests and benchmark, and runs of the real CLI.

:func:`synthetic_run` writes what ``occlude sensitivity`` leaves in an output folder (the
ledger's ``done`` and ``failed`` events, heatmaps, sheets, records) without sweeping, so a
10,000-image report can be built in seconds; :func:`real_run` runs the real commands with
the tests' red-object detector once per session. The test below keeps the synthetic
records honest: same fields as a real record, same event shape.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from badfiles import text_as_image
from kerasmodels import red_image
from PIL import Image
from typer.testing import CliRunner

from occlude.cli import app
from occlude.runner.ledger import read_state

RUN_ID = "5e0d5e0d5e0d5e0d"
MIN_FOCUS = 0.5
"""The threshold the tests build reports with."""


def heatmap_png(size: tuple[int, int] = (600, 380), seed: int = 0) -> bytes:
    """A heatmap-like PNG (smooth colours, a light frame as matplotlib leaves it)."""
    rng = np.random.default_rng(seed)
    height, width = size[1], size[0]
    y, x = np.mgrid[0:height, 0:width]
    field = np.sin(x / 37.0 + rng.uniform(0, 6)) + np.cos(y / 23.0 + rng.uniform(0, 6))
    red = (128 + 60 * field).clip(0, 255)
    image = np.stack([red, 110 + 0 * red, 255 - red], axis=2).astype(np.uint8)
    image[:40] = 255
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def synthetic_record(rel: str, i: int, rng: np.random.Generator, metrics: bool = True
                     ) -> dict[str, Any]:  # fmt: skip
    stem = rel.rsplit(".", 1)[0]
    score = float(rng.uniform(0.05, 0.99))
    record: dict[str, Any] = {
        "input": f"images/{rel}",
        "outputs": {
            "heatmap": f"out/{stem}.png",
            "sheet": f"out/{stem}_scales.png",
            "record": f"out/{stem}.json",
        },
        "model": "synthetic.keras",
        "weights": None,
        "preprocess": "none",
        "backend": "tensorflow",
        "precision": "float32",
        "input_size": [32, 48],
        "class_index": i % 3,
        "class_name": None if i % 3 == 2 else ["tabby", "espresso"][i % 3],
        "base_score": score,
        "top1_index": i % 3 if i % 7 else (i + 1) % 3,
        "top5": [[i % 3, None, score], [(i + 1) % 3, None, 1 - score]],
        "patch_sizes": [8],
        "strides": [8],
        "fill": [127.5, 127.5, 127.5],
        "windows": 24,
        "compute": "incremental",
        "macs_fraction": 0.57,
        "approx": 1.0,
        "map_min": -0.1,
        "map_max": 0.3,
        "focus": None if i % 11 == 5 else float(rng.uniform(0, 1)),
    }
    if metrics:
        ins_random = float(rng.uniform(0.1, 0.5))
        record.update({
            "deletion_auc": float(rng.uniform(0, 0.5)),
            "insertion_auc": ins_random + float(rng.uniform(-0.2, 0.4)),
            "deletion_auc_random": float(rng.uniform(0, 0.5)),
            "insertion_auc_random": ins_random,
            "curves": {"fractions": [0.0, 1.0], "deletion": [score, 0.0],
                       "insertion": [0.0, score], "deletion_random": [score, 0.0],
                       "insertion_random": [0.0, score]},
        })  # fmt: skip
    record["settings"] = {"model": "synthetic.keras", "input_sha256": f"{i:064x}"}
    return record


def synthetic_run(
    out_dir: Path,
    n: int,
    *,
    failures: int = 0,
    metrics: bool = True,
    names: list[str] | None = None,
    heatmap: bytes | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """Write an output folder of ``n`` finished images and ``failures`` failed inputs.

    Returns ``(relative input path, record)`` per image, in key order. Every image gets
    the same heatmap bytes (decoding cost as real ones), a one-pixel sheet and its record.
    """
    rng = np.random.default_rng(n)
    heatmap = heatmap if heatmap is not None else heatmap_png()
    sheet = heatmap_png((4, 4))
    names = names or [f"d{i % 10}/img{i:05d}.png" for i in range(n)]
    events, made = [], []
    for i, rel in enumerate(names):
        record = synthetic_record(rel, i, rng, metrics)
        stem = rel.rsplit(".", 1)[0]
        files = {f"{stem}.png": heatmap, f"{stem}_scales.png": sheet,
                 f"{stem}.json": json.dumps(record).encode()}  # fmt: skip
        for out_rel, body in files.items():
            (out_dir / out_rel).parent.mkdir(parents=True, exist_ok=True)
            (out_dir / out_rel).write_bytes(body)
        outputs = {r: {"size": len(b), "record": None} for r, b in files.items()}
        events.append({"event": "done", "key": f"sensitivity:{rel}", "fingerprint": f"{i:064x}",
                       "record": record, "outputs": outputs, "complete": True})  # fmt: skip
        made.append((rel, record))
    for j in range(failures):
        source = f"images/broken{j}.png"
        events.append({"event": "failed", "key": f"sensitivity:broken{j}.png", "source": source,
                       "message": f"{source}: cannot read image (empty file)"})  # fmt: skip
    write_ledger(out_dir, events)
    return sorted(made)


def write_ledger(out_dir: Path, events: list[dict[str, Any]]) -> None:
    """``events`` as ``.occlude/ledger.jsonl``, stamped as one finished run."""
    lines = []
    for seq, event in enumerate(events, 1):
        stamped = {"t": 1_700_000_000_000_000_000 + seq, "run": RUN_ID, "seq": seq, **event}
        lines.append(json.dumps(stamped, separators=(",", ":"), allow_nan=False) + "\n")
    (out_dir / ".occlude").mkdir(parents=True, exist_ok=True)
    (out_dir / ".occlude" / "ledger.jsonl").write_text("".join(lines), encoding="ascii")


def real_run(root: Path, model_file: Path) -> Path:
    """``occlude sensitivity`` (with focus and metrics) and ``occlude robustness`` into one
    folder, with one broken input each; made once under ``root`` and reused."""
    out = root / "out"
    if (out / "robustness.json").is_file():
        return out
    images, labelled = root / "images", root / "labelled"
    for folder in (images / "sub", labelled / "0", labelled / "1"):
        folder.mkdir(parents=True, exist_ok=True)
    pictures = {
        images / "top.png": red_image((64, 96), (4, 2, 44, 30)),
        images / "mid.png": red_image((64, 96), (30, 20, 66, 44)),
        images / "sub" / "low.png": red_image((64, 96), (60, 40, 94, 62)),
        images / "sub" / "none.jpg": red_image((40, 40), None),
        labelled / "0" / "red.png": red_image((32, 48), (8, 4, 40, 28)),
        labelled / "1" / "grey.png": red_image((32, 48), None),
    }
    for path, pixels in pictures.items():
        Image.fromarray(pixels).save(path)
    text_as_image(images / "broken.png")
    text_as_image(labelled / "1" / "broken.png")
    cli = CliRunner()
    res = cli.invoke(app, ["sensitivity", str(images), "-m", str(model_file), "-c", "0",
                           "-p", "8", "-o", str(out), "--expect-box", "0,0,48,32",
                           "--metrics", "--steps", "5", "-q"])  # fmt: skip
    assert res.exit_code == 1, res.output  # the broken input
    res = cli.invoke(app, ["robustness", str(labelled), "--labels", "folders", "-m",
                           str(model_file), "--repeats", "1", "--fractions", "0,0.3",
                           "--out", str(out), "-q"])  # fmt: skip
    assert res.exit_code == 1, res.output
    return out


def test_synthetic_records_have_the_shape_of_real_ones(real_out: Path, tmp_path: Path) -> None:
    real = read_state(real_out)
    real_event = next(e for k, e in real.by_key.items()
                      if k.startswith("sensitivity:") and e["event"] == "done")  # fmt: skip
    real_failure = real.failures("sensitivity:")[0]
    synthetic_run(tmp_path, 3, failures=1)
    fake = read_state(tmp_path)
    fake_event = fake.current("sensitivity:d0/img00000.png")
    assert fake_event is not None
    assert set(fake_event) == set(real_event)
    assert set(fake_event["record"]) == set(real_event["record"])
    assert set(fake.failures("sensitivity:")[0]) == set(real_failure)
    # The real record's outputs, as the ledger lists them, are named as the report expects.
    rels = list(real_event["outputs"])
    stem = rels[-1].removesuffix(".json")
    assert rels == [f"{stem}.png", f"{stem}_scales.png", f"{stem}.json"]
    assert all(math.isfinite(real_event["record"][k]) for k in ("focus", "insertion_auc"))
