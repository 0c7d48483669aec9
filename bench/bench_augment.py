"""Throughput of ``occlude augment`` against the floor of only decoding and re-encoding.

Builds a folder of real-size JPEGs (crops of the repository's sample photos, 640x480 by
default) under ``bench/_work/`` (git-ignored), then, in the same run and with the same
number of worker processes, times:

* the floor: decode each file and write it again as JPEG quality 95, nothing else
  (``open_image`` and ``save_image``, the I/O occlude itself uses);
* the same with a second file decoded per output: the floor of mixup and cutmix (a
  partner per output) and of hide-and-seek's default fill (a pass for the dataset mean);
* each ``occlude augment`` method through the library pipeline (``augment_files``);
* if albumentations is importable, its CoarseDropout and Erasing under the same I/O.

Every timing includes starting the worker pool. The pipelines run in interleaved rounds
and each keeps its best round. Prints a markdown table of images/s, the ratio to the
floor, and the ratio to "its" floor: the two-decode floor for the methods that must read
a second file per output (mixup, cutmix) or every file twice (hide-and-seek's default
dataset-mean fill).

    python bench/bench_augment.py [--count 240] [--workers N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import platform
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import PIL
from PIL import Image

from occlude.augment import METHODS, augment_files, augmentation
from occlude.imageio import open_image, save_image
from occlude.runner.engines import default_workers, reuse_image_buffers

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / "_work"


def make_dataset(folder: Path, count: int, width: int, height: int, seed: int = 0) -> Path:
    """``count`` JPEGs (quality 90) cropped at random scales and flips from the samples."""
    marker = folder / f".done-{count}-{width}x{height}-{seed}"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    photos = [Image.open(p).convert("RGB") for p in sorted((REPO / "sample_images").glob("*.png"))]
    rng = np.random.default_rng(seed)
    for i in range(count):
        photo = photos[i % len(photos)]
        scale = max(width / photo.width, height / photo.height) * rng.uniform(1.0, 1.6)
        size = (round(photo.width * scale), round(photo.height * scale))
        big = photo.resize(size, Image.Resampling.LANCZOS)
        x0 = int(rng.integers(0, big.width - width + 1))
        y0 = int(rng.integers(0, big.height - height + 1))
        crop = big.crop((x0, y0, x0 + width, y0 + height))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        crop.save(folder / f"img_{i:04d}.jpg", quality=90)
    marker.touch()
    return folder


# --- the floor and albumentations: same decode, same encode, same pool ---------------

_TRANSFORM: Callable[[np.ndarray], np.ndarray] | None = None


_KIND = "floor"


def _init(kind: str) -> None:
    global _TRANSFORM, _KIND
    _KIND = kind
    reuse_image_buffers()  # the same allocator setting as occlude's workers: a fair floor
    if kind.startswith("floor"):
        _TRANSFORM = None
        return
    import albumentations as A

    if kind == "albu-coarse-dropout":
        # cutout's defaults: one square of half the shorter side (240 px at 640x480), grey
        t = A.CoarseDropout(
            num_holes_range=(1, 1),
            hole_height_range=(240, 240),
            hole_width_range=(240, 240),
            fill=128,
            p=1.0,
        )
    else:
        # random erasing's defaults: p 0.5, area 0.02-0.4, aspect 0.3-3.3, random fill
        t = A.Erasing(scale=(0.02, 0.4), ratio=(0.3, 1 / 0.3), fill="random", p=0.5)
    compose = A.Compose([t], seed=0)
    _TRANSFORM = lambda arr: compose(image=arr)["image"]  # noqa: E731


def _one(pair: tuple[str, str, str]) -> None:
    src, other, dst = pair
    img = open_image(Path(src))
    if _KIND == "floor-2":
        open_image(Path(other))  # what a mixing method or a dataset statistic adds
    if _TRANSFORM is not None:
        img = Image.fromarray(_TRANSFORM(np.asarray(img)))
    save_image(img, Path(dst), 95)


def run_plain(kind: str, images: list[Path], out: Path, workers: int) -> None:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    pairs = [
        (str(p), str(images[(i + 1) % len(images)]), str(out / p.name))
        for i, p in enumerate(images)
    ]
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init, initargs=(kind,)) as ex:
        list(ex.map(_one, pairs, chunksize=1))


def run_ours(method: str, fill: str | None, folder: Path, out: Path, workers: int) -> None:
    shutil.rmtree(out, ignore_errors=True)
    aug = augmentation(method, fill=fill)
    report = augment_files([folder], aug, out_dir=out, workers=workers, show_progress=False)
    if report.failures:
        raise SystemExit(f"{method}: {report.failures[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=600, help="JPEGs to build (>= 200)")
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT of each JPEG")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each pipeline's best kept")
    parser.add_argument("--work", type=Path, default=WORK, help="scratch folder")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    folder = make_dataset(args.work / "images", args.count, width, height)
    images = sorted(folder.glob("*.jpg"))
    n, w, work = len(images), args.workers, args.work

    # (label, needs a second decode, function, arguments)
    pipelines: list[tuple[str, bool, Callable[..., None], tuple[Any, ...]]] = [
        ("floor: decode + encode only", False, run_plain, ("floor", images, work / "f1", w)),
        ("floor + a second decode", True, run_plain, ("floor-2", images, work / "f2", w)),
    ]
    for method in METHODS:
        if METHODS[method].guided:
            continue  # needs sensitivity maps: bench/bench_guided.py times those
        second = method in ("mixup", "cutmix", "hide-and-seek")
        out = work / "ours" / method
        pipelines.append((f"occlude {method}", second, run_ours, (method, None, folder, out, w)))
    out = work / "ours" / "has-grey"
    pipelines.append(
        (
            "occlude hide-and-seek --fill grey",
            False,
            run_ours,
            ("hide-and-seek", "grey", folder, out, w),
        )
    )
    try:
        import albumentations

        version: str | None = albumentations.__version__
    except ImportError:
        version = None
    if version is not None:
        for kind, label in [
            ("albu-coarse-dropout", f"albumentations {version} CoarseDropout"),
            ("albu-erasing", f"albumentations {version} Erasing"),
        ]:
            pipelines.append((label, False, run_plain, (kind, images, work / kind, w)))

    # Interleaved rounds, so that a busy spell on the machine hits every pipeline alike.
    best = [float("inf")] * len(pipelines)
    for _ in range(args.repeat):
        for k, (_label, _second, fn, fn_args) in enumerate(pipelines):
            start = time.perf_counter()
            fn(*fn_args)
            best[k] = min(best[k], time.perf_counter() - start)

    print(
        f"{n} JPEGs of {width}x{height}, {w} worker(s), best of {args.repeat} rounds; "
        f"Python {platform.python_version()}, numpy {np.__version__}, Pillow {PIL.__version__}"
        + ("" if version else "; albumentations not installed")
    )
    print()
    print("| pipeline | images/s | vs floor | vs its floor |")
    print("|---|---:|---:|---:|")
    floor, floor2 = best[0], best[1]
    for (label, second, _fn, _args), seconds in zip(pipelines, best, strict=True):
        own = (floor2 if second else floor) / seconds
        print(f"| {label} | {n / seconds:.1f} | {floor / seconds:.2f} | {own:.2f} |")


if __name__ == "__main__":
    main()
