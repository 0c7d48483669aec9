"""Approximate incremental inference: speed against fidelity (run: python bench/bench_approx.py).

For each model, each sample photo and each tau, the sensitivity map of the top-1 class
(patch = stride, grey fill) is computed with ``IncrementalModel(model, approx=tau)`` and
compared with the exact map (tau = 1): Pearson correlation and the overlap of the top 10%
of pixels. Times are measured in the same run, photo by photo, against full
re-inference (compiled forward passes at the same batch) and against exact incremental.

MobileNetV2 has real ImageNet weights (when ../shared/models beside the checkout holds
them); ResNet50 and VGG16 have random He-scaled weights, so their fidelity figures are
only indicative.
Writes a PNG plot (fidelity against speed-up) to the path given (default
docs/approx_fidelity.png).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_incremental import full_runner, load

PHOTOS = ("cat", "coffee", "rocket", "astronaut")
TAUS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)


def photo(name: str, size: int = 224) -> np.ndarray:
    from PIL import Image

    with Image.open(Path(__file__).parents[1] / "sample_images" / f"{name}.png") as im:
        im = im.convert("RGB")
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((size, size))
        return np.asarray(im, dtype=np.float32) / 127.5 - 1.0


def sweep_map(boxes: np.ndarray, drops: np.ndarray, size: int = 224) -> np.ndarray:
    sums, counts = np.zeros((size, size)), np.zeros((size, size))
    for (x0, y0, x1, y1), d in zip(boxes, drops, strict=True):
        sums[y0:y1, x0:x1] += d
        counts[y0:y1, x0:x1] += 1
    return sums / np.maximum(counts, 1)


def fidelity(approx: np.ndarray, exact: np.ndarray) -> tuple[float, float]:
    """(Pearson correlation, overlap of the top-10% pixels) of two maps."""
    a, e = approx.ravel(), exact.ravel()
    pearson = float(np.corrcoef(a, e)[0, 1]) if a.std() > 0 and e.std() > 0 else 1.0
    k = max(1, len(a) // 10)
    top_a, top_e = set(np.argsort(-a)[:k].tolist()), set(np.argsort(-e)[:k].tolist())
    return pearson, len(top_a & top_e) / k


def bench_model(name: str, patch: int, batch: int, taus: tuple[float, ...]) -> list[dict]:
    from occlude.incremental import IncrementalModel
    from occlude.sensitivity.windows import window_boxes

    model, weights = load(name)
    full = full_runner(model, batch)
    engines = {t: IncrementalModel(model, batch_size=batch, approx=t) for t in taus}
    boxes = window_boxes(224, 224, patch, patch)
    fill = np.zeros((224, 224, 3), np.float32)
    warm = photo(PHOTOS[0])
    full(warm, fill, boxes[:1])
    for inc in engines.values():
        inc.session(warm).score(fill, boxes[:1])  # compile outside the timings
    rows = {t: {"pearson": [], "top10": [], "t": []} for t in taus}
    t_full = []
    for name_photo in PHOTOS:
        x = photo(name_photo)
        start = time.perf_counter()
        full(x, fill, boxes)
        t_full.append(time.perf_counter() - start)
        maps = {}
        k: int | None = None  # the top-1 class of the clean image (the same for every tau)
        for t, inc in engines.items():
            start = time.perf_counter()
            session = inc.session(x)
            scores = session.score(fill, boxes)
            rows[t]["t"].append(time.perf_counter() - start)
            if k is None:
                k = int(np.argmax(session.base_scores))
            maps[t] = sweep_map(boxes, session.base_scores[k] - scores[:, k])
        for t in taus:
            p, o = fidelity(maps[t], maps[1.0])
            rows[t]["pearson"].append(p)
            rows[t]["top10"].append(o)
    out = []
    for t in taus:
        r = rows[t]
        out.append(
            {
                "model": name,
                "weights": weights,
                "patch": patch,
                "tau": t,
                "macs": engines[t].estimate(patch).macs_fraction,
                "vs_full": float(np.median(np.array(t_full) / np.array(r["t"]))),
                "vs_exact": float(np.median(np.array(rows[1.0]["t"]) / np.array(r["t"]))),
                "pearson_min": min(r["pearson"]),
                "pearson_mean": float(np.mean(r["pearson"])),
                "top10_min": min(r["top10"]),
            }
        )
        print(_row(out[-1]), flush=True)
    return out


HEADER = (
    "| model | weights | patch | tau | MACs | x full | x exact incr. | Pearson min (mean) "
    "| top-10% min |\n|---|---|---|---|---|---|---|---|---|"
)


def _row(r: dict) -> str:
    return (
        f"| {r['model']} | {r['weights']} | {r['patch']} | {r['tau']:.1f} | {r['macs']:.2f} "
        f"| {r['vs_full']:.2f} | {r['vs_exact']:.2f} | {r['pearson_min']:.3f} "
        f"({r['pearson_mean']:.3f}) | {r['top10_min']:.2f} |"
    )


def recommend(rows: list[dict], target: float = 0.98) -> dict[str, float | None]:
    """Per model, the fastest tau whose minimum Pearson is at least ``target``."""
    best: dict[str, float | None] = {}
    for model in dict.fromkeys(r["model"] for r in rows):
        ok = [r for r in rows if r["model"] == model and r["pearson_min"] >= target]
        best[model] = max(ok, key=lambda r: r["vs_full"])["tau"] if ok else None
    return best


def plot(rows: list[dict], path: Path) -> None:
    """Two panels: measured speed-up (left) and the multiply-add limit (right)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 5), dpi=120)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    models = list(dict.fromkeys(r["model"] for r in rows))
    patches = sorted({r["patch"] for r in rows})
    for ax, key, xlabel in (
        (axes[0], "vs_full", "measured speed-up over full re-inference (median over photos)"),
        (axes[1], "limit", "multiply-add limit (1 / fraction of MACs computed)"),
    ):
        for m, model in enumerate(models):
            for patch, style in zip(patches, ("-o", "--s", ":^"), strict=False):
                rs = [r for r in rows if r["model"] == model and r["patch"] == patch]
                if not rs:
                    continue
                xs = [r["vs_full"] if key == "vs_full" else 1 / r["macs"] for r in rs]
                ys = [r["pearson_min"] for r in rs]
                label = f"{model} ({rs[0]['weights']}), patch {patch}"
                ax.plot(xs, ys, style, color=f"C{m}", label=label)
                for r, x, y in zip(rs, xs, ys, strict=True):
                    if r["tau"] < 1.0 and y > 0.9995:
                        continue  # same plan as exact (the 0.7 switch threshold)
                    text = "exact" if r["tau"] == 1.0 else f"{r['tau']:.1f}"
                    ax.annotate(text, (x, y), fontsize=7, xytext=(4, -9),
                                textcoords="offset points", color=f"C{m}")  # fmt: skip
        ax.axhline(0.98, color="grey", lw=0.8, ls=":")
        ax.set_xlabel(xlabel, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Pearson with the exact map (min over 4 photos)")
    axes[0].set_ylim(max(0.0, min(r["pearson_min"] for r in rows) - 0.03), 1.01)
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle("Approximate incremental inference: fidelity against speed (labels: tau)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plot", nargs="?", default="docs/approx_fidelity.png")
    parser.add_argument("--models", default="ResNet50,VGG16,MobileNetV2")
    parser.add_argument("--patches", default="16")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--taus", default=",".join(str(t) for t in TAUS))
    args = parser.parse_args()
    taus = tuple(sorted({float(t) for t in args.taus.split(",")} | {1.0}))
    print(f"batch {args.batch}, photos {', '.join(PHOTOS)}\n\n{HEADER}", flush=True)
    rows = []
    for name in args.models.split(","):
        for patch in (int(p) for p in args.patches.split(",")):
            rows += bench_model(name, patch, args.batch, taus)
    print("\n" + HEADER)
    for r in rows:
        print(_row(r))
    print("\nfastest tau with min Pearson >= 0.98:", recommend(rows))
    print("fastest tau with min Pearson >= 0.95:", recommend(rows, 0.95))
    Path(args.plot).with_suffix(".json").write_text(json.dumps(rows, indent=1))
    plot(rows, Path(args.plot))
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
