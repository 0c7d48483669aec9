"""The same run locally and with --engine ray (run: python bench/bench_ray.py).

200 images (crops of the sample photos), in one run and alternating: ``augment`` (cutout)
on the local pool and on a local Ray cluster of the same size, and ``sensitivity`` with a
small model file (serial locally; Ray actors each load the model once). Reported: images per
second and Ray's overhead (local throughput / Ray's), each the median of the repetitions.
Ray's start-up (``ray.init``) is timed apart: the runs use one cluster, as a CI job would.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

WORK = ROOT / "bench" / "_work" / "ray"


def images(n: int) -> Path:
    folder = WORK / "in"
    if folder.is_dir() and len(list(folder.glob("*.png"))) == n:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    photos = [
        np.asarray(Image.open(p).convert("RGB"))
        for p in sorted((ROOT / "sample_images").glob("*.png"))
    ]
    for i in range(n):
        photo = photos[i % len(photos)]
        y, x = rng.integers(0, photo.shape[0] - 240), rng.integers(0, photo.shape[1] - 320)
        Image.fromarray(photo[y : y + 240, x : x + 320]).save(folder / f"img{i:03d}.png")
    return folder


def timed(argv: list[str]) -> float:
    from occlude.cli import main

    start = time.perf_counter()
    try:
        main(argv)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise RuntimeError(f"{argv} exited {exc.code}") from None
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    import ray
    from kerasmodels import red_detector

    folder = images(args.images)
    model = red_detector(WORK / "red.keras", size=(96, 128))
    start = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR")  # fmt: skip
    startup = time.perf_counter() - start
    runs = {
        "augment cutout": ["augment", str(folder), "-m", "cutout", "-j", str(args.workers)],
        "sensitivity (small model, patch 16)": [
            "sensitivity",
            str(folder),
            "-m",
            str(model),
            "-p",
            "16",
        ],
    }
    print(f"ray.init (a local cluster of {args.workers} CPUs): {startup:.1f} s\n")
    print(
        "| command | local images/s | ray images/s | overhead (local / ray) |\n|---|---:|---:|---:|"
    )
    for name, argv in runs.items():
        local, distributed = [], []
        for _ in range(args.repeats):
            for engine, times in (("local", local), ("ray", distributed)):
                out = WORK / f"out-{engine}"
                shutil.rmtree(out, ignore_errors=True)
                extra = (
                    ["--engine", "ray", "--workers", str(args.workers)] if engine == "ray" else []
                )
                times.append(timed([*argv, *extra, "-o", str(out), "-q"]))
        lo, ra = (
            args.images / statistics.median(local),
            args.images / statistics.median(distributed),
        )
        print(f"| {name} | {lo:.1f} | {ra:.1f} | {lo / ra:.2f} |", flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
