"""One image, cold and warm: is the incremental engine worth starting up?

Run: ``python bench/bench_first_image.py [--reps N] [--models resnet50,mobilenet_v2]
[--skip cli,library,jax]`` (one repetition of the defaults: about 10 minutes on 2 loaded
cores). Every "cold" figure is a fresh process (a subprocess each), timed from outside:

* cli: ``occlude sensitivity cat.png --class 281`` end to end (process wall, model load
  included), ResNet50 (``--weights none``: speed does not depend on weights) and
  MobileNetV2 (ImageNet weights from ../shared/models when present), at ``--patch 16``,
  ``--patch 40`` (the design card's call) and the default sweep, ``--compute full`` against
  ``--compute auto``, alternating;
* library: one ``OcclusionSensitivity(...).explain`` call at patch 16 on ResNet50 (random
  He-scaled weights), ``compute="incremental"`` against ``"full"``, timed inside the child
  around the call (cold: the call compiles what it needs), then the same call again (warm);
  the child also reports the engine's first-call overhead: its first session and first batch
  of tiles minus the same work warm;
* jax (``--backend jax``): the design-card call on ResNet50 twice in a row with a fresh
  ``XDG_CACHE_HOME``: the second process finds JAX's compilation cache warm.

Medians over ``--reps`` repetitions; ratios are taken within a repetition.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CAT = ROOT / "sample_images" / "cat.png"
MOBILENET = ROOT.parent / "shared" / "models" / "mobilenet_v2_1.0_224_imagenet.weights.h5"
PATCHES = {"16": ["--patch", "16"], "40": ["--patch", "40"], "sweep": []}

CHILD = """
import json, os, sys, time
sys.path[:0] = [{root!r}, {tests!r}]
import numpy as np, keras
from incmodels import randomize
from PIL import Image
from occlude import OcclusionSensitivity
from occlude.incremental import IncrementalModel
from occlude.sensitivity.windows import window_boxes
model = randomize(keras.applications.ResNet50(weights=None, classifier_activation=None))
image = np.asarray(Image.open({cat!r}).convert("RGB").resize((224, 224)), dtype=np.float32)
out = {{}}
if {mode!r} == "overhead":
    x = image / 127.5 - 1.0
    fill = np.zeros_like(x)
    boxes = window_boxes(224, 224, 16, 16)[:28]
    inc = IncrementalModel(model, 32)
    times = []
    for _ in range(2):
        start = time.perf_counter()
        inc.session(x).score(fill, boxes)
        times.append(time.perf_counter() - start)
    out = {{"first": times[0], "warm": times[1], "overhead": times[0] - times[1]}}
else:
    explainer = OcclusionSensitivity(model, patch_sizes=[16], compute={mode!r},
                                     preprocess="tf")
    for key in ("cold", "warm"):
        start = time.perf_counter()
        explainer.explain(image, 281)
        out[key] = time.perf_counter() - start
print("RESULT " + json.dumps(out))
"""


def env(**extra: str) -> dict[str, str]:
    e = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", **extra}
    e.pop("OCCLUDE_NO_COMPILE_CACHE", None)
    return e


def wall(argv: list[str], extra: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env(**(extra or {})))
    return time.perf_counter() - start


def child(mode: str) -> dict[str, float]:
    code = CHILD.format(root=str(ROOT), tests=str(ROOT / "tests"), cat=str(CAT), mode=mode)
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True, env=env())  # fmt: skip
    line = next(s for s in done.stdout.splitlines() if s.startswith("RESULT "))
    return dict(json.loads(line[7:]))


def cli(model: str, patch: str, compute: str, work: Path, backend: str = "tensorflow",
        extra: dict[str, str] | None = None) -> float:  # fmt: skip
    weights = str(MOBILENET) if model == "mobilenet_v2" and MOBILENET.is_file() else "none"
    argv = [sys.executable, "-m", "occlude", "sensitivity", str(CAT), "-m", model,
            "--weights", weights, "-c", "281", *PATCHES[patch], "--compute", compute,
            "--backend", backend, "-o", str(work / "out"), "-q", "--overwrite"]  # fmt: skip
    return wall(argv, extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--models", default="resnet50", help="also: mobilenet_v2")
    parser.add_argument("--patches", default="16,40,sweep")
    parser.add_argument("--skip", default="", help="comma-separated: cli,library,jax")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    work = Path(tempfile.mkdtemp(prefix="bench-first-"))
    print(f"{args.reps} repetition(s), medians; load average {os.getloadavg()[0]:.1f}\n")
    if "cli" not in skip:
        print("| model | patch | full s | auto s | full / auto |\n|---|---|---|---|---|")
        for model in args.models.split(","):
            for patch in args.patches.split(","):
                full, auto = [], []
                for _ in range(args.reps):
                    full.append(cli(model, patch, "full", work))
                    auto.append(cli(model, patch, "auto", work))
                ratio = np.median(np.array(full) / np.array(auto))
                print(f"| {model} | {patch} | {np.median(full):.1f} | {np.median(auto):.1f} "
                      f"| **{ratio:.2f}x** |", flush=True)  # fmt: skip
    if "library" not in skip:
        rows = {m: [child(m) for _ in range(args.reps)] for m in ("full", "incremental")}
        over = [child("overhead") for _ in range(args.reps)]
        cold = np.median([f["cold"] / i["cold"] for f, i in zip(*rows.values(), strict=True)])
        warm = np.median([f["warm"] / i["warm"] for f, i in zip(*rows.values(), strict=True)])
        print("\nlibrary, ResNet50 patch 16, one explain call:")
        for m, r in rows.items():
            print(
                f"  {m}: cold {np.median([x['cold'] for x in r]):.1f} s, "
                f"warm {np.median([x['warm'] for x in r]):.1f} s"
            )
        print(f"  incremental speed-up: cold **{cold:.2f}x**, warm {warm:.2f}x")
        print(
            f"  engine first-call overhead (session + 28 tiles, first minus warm): "
            f"**{np.median([o['overhead'] for o in over]):.2f} s** "
            f"(first {np.median([o['first'] for o in over]):.2f} s)",
            flush=True,
        )
    if "jax" not in skip:
        cache = {"XDG_CACHE_HOME": str(work / "xdg")}
        runs = [cli("resnet50", "40", "auto", work, "jax", cache) for _ in range(2)]
        print(
            f"\njax, design-card call: cache cold {runs[0]:.1f} s, warm {runs[1]:.1f} s "
            f"(**{runs[0] / runs[1]:.2f}x**)"
        )


if __name__ == "__main__":
    main()
