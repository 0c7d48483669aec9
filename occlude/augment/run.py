"""Methods as settings (validate, sample, apply) and the folder pipeline behind ``occlude augment``.

Reproducibility: every output's generator is derived from (seed, the input's path
relative to its root, copy index) with SHA-256, never from a shared stream, so the
order of the inputs and the number of workers do not change a byte. Partners are drawn
from the other inputs sorted by relative path, and the dataset mean is an exact integer
sum, so those do not depend on order either.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import csv
import hashlib
import json
import multiprocessing
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

import numpy as np
from PIL import Image

from occlude.augment import functional as F
from occlude.augment import samplers as S
from occlude.augment.params import (
    CutoutParams,
    HideAndSeekParams,
    MixupParams,
    Params,
    RandomErasingParams,
    params_from_dict,
)
from occlude.errors import InputError, Interrupted, OccludeError, UsageError
from occlude.fill import Fill, parse_fill
from occlude.imageio import (
    open_image,
    remove_stale_temporaries,
    save_image,
    to_rgb,
    write_atomic,
)
from occlude.inputs import InputImage, check_out_dir, check_outputs, file_stamp, find_images
from occlude.progress import Progress

METHODS = ("cutout", "hide-and-seek", "random-erasing", "mixup", "cutmix")
MIXING = ("mixup", "cutmix")
OCCLUDING = ("cutout", "hide-and-seek", "random-erasing")
AUGMENT_FILLS = ("mean", "dataset-mean", "noise")
"""Derived fills ``augment`` supports besides constant colours."""
DEFAULT_FILL = {"cutout": "grey", "hide-and-seek": "dataset-mean", "random-erasing": "noise"}
DEFAULT_PROB = {"random-erasing": 0.5}
DEFAULT_ALPHA = {"mixup": 0.2, "cutmix": 1.0}
FORMATS = ("same", "png", "jpg", "webp")
DEFAULT_OUT = Path("occlude-augmented")
MANIFEST = "manifest.jsonl"
JOURNAL = ".manifest.journal.jsonl"
"""Records appended as outputs finish, so that a run killed outright can resume."""
JPEG_QUALITY = 95
# Extensions we can write; other input extensions fall back to PNG with --format same.
WRITABLE = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
_OPTION_METHODS = {
    "fill": OCCLUDING,
    "holes": ("cutout",),
    "size": ("cutout",),
    "grid": ("hide-and-seek",),
    "hide_prob": ("hide-and-seek",),
    "area_range": ("random-erasing",),
    "aspect_range": ("random-erasing",),
    "alpha": MIXING,
}


@dataclass(frozen=True)
class Augmentation:
    """One method with its settings, all validated; build it with :func:`augmentation`."""

    method: str
    prob: float
    fill: Fill | None = None
    holes: int = 1
    size: float = S.CUTOUT_SIZE
    grids: tuple[int, ...] = S.HIDE_AND_SEEK_GRIDS
    hide_prob: float = 0.5
    area_range: tuple[float, float] = S.ERASING_AREA
    aspect_range: tuple[float, float] = S.ERASING_ASPECT
    alpha: float = 0.2
    max_attempts: int = S.ERASING_ATTEMPTS

    @property
    def mixing(self) -> bool:
        return self.method in MIXING

    def sample(self, rng: np.random.Generator, shape: Sequence[int]) -> Params:
        """Draw this method's parameters for an image of ``shape`` (height, width, ...)."""
        if self.method == "cutout":
            return S.sample_cutout(rng, shape, holes=self.holes, size=self.size, prob=self.prob)
        if self.method == "hide-and-seek":
            return S.sample_hide_and_seek(
                rng, shape, grids=self.grids, hide_prob=self.hide_prob, prob=self.prob
            )
        if self.method == "random-erasing":
            return S.sample_random_erasing(
                rng,
                shape,
                area_range=self.area_range,
                aspect_range=self.aspect_range,
                max_attempts=self.max_attempts,
                prob=self.prob,
            )
        if self.method == "mixup":
            return S.sample_mixup(rng, alpha=self.alpha, prob=self.prob)
        return S.sample_cutmix(rng, shape, alpha=self.alpha, prob=self.prob)

    def apply(
        self,
        image: np.ndarray,
        params: Params,
        *,
        fill: F.FillValue | None = None,
        partner: np.ndarray | None = None,
    ) -> np.ndarray:
        """The augmented copy of ``image`` (pure; ``partner`` already matched to it)."""
        if not params.applied:
            return F.check_image(image).copy()
        if isinstance(params, CutoutParams | RandomErasingParams | HideAndSeekParams):
            if fill is None:
                raise UsageError(f"{self.method} needs a fill value")
            if isinstance(params, HideAndSeekParams):
                return F.hide_cells(image, params.grid, params.hidden, fill)
            return F.erase_boxes(image, params.boxes, fill)
        if partner is None:
            raise UsageError(f"{self.method} needs a partner image")
        if isinstance(params, MixupParams):
            return F.mixup(image, partner, params.lam)
        return F.cutmix(image, partner, params.boxes)


def augmentation(
    method: str,
    *,
    prob: float | None = None,
    fill: Fill | str | None = None,
    holes: int | None = None,
    size: float | None = None,
    grid: Sequence[int] | None = None,
    hide_prob: float | None = None,
    area_range: Sequence[float] | None = None,
    aspect_range: Sequence[float] | None = None,
    alpha: float | None = None,
) -> Augmentation:
    """Validate a method and its options; ``None`` means the paper's default.

    Raises:
        UsageError: unknown method, a value out of range, or an option that does not
            belong to ``method`` (say, ``alpha`` with cutout).
    """
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}; choose {', '.join(METHODS)}")
    given = {
        "fill": fill,
        "holes": holes,
        "size": size,
        "grid": grid,
        "hide_prob": hide_prob,
        "area_range": area_range,
        "aspect_range": aspect_range,
        "alpha": alpha,
    }
    for name, value in given.items():
        if value is not None and method not in _OPTION_METHODS[name]:
            flag = "--" + name.replace("_", "-")
            raise UsageError(
                f"{flag} applies to {' and '.join(_OPTION_METHODS[name])} only; "
                f"received it with --method {method}"
            )
    aug = Augmentation(
        method=method,
        prob=S.check_prob(DEFAULT_PROB.get(method, 1.0) if prob is None else prob),
        alpha=S.check_alpha(DEFAULT_ALPHA.get(method, 0.2) if alpha is None else alpha),
    )
    if method in OCCLUDING:
        text = DEFAULT_FILL[method] if fill is None else fill
        resolved = parse_fill(text, AUGMENT_FILLS) if isinstance(text, str) else text
        aug = replace(aug, fill=resolved)
    if method == "cutout":
        n = 1 if holes is None else int(holes)
        if n < 1:
            raise UsageError(f"--holes must be at least 1; received {holes}")
        side = S.CUTOUT_SIZE if size is None else float(size)
        S.cutout_side((1 << 20, 1 << 20), side)
        aug = replace(aug, holes=n, size=side)
    if method == "hide-and-seek":
        aug = replace(
            aug,
            grids=S.check_grids(S.HIDE_AND_SEEK_GRIDS if grid is None else grid),
            hide_prob=S.check_prob(0.5 if hide_prob is None else hide_prob, "--hide-prob"),
        )
    if method == "random-erasing":
        aug = replace(
            aug,
            area_range=S.check_range(area_range or S.ERASING_AREA, "--area-range", upper=1.0),
            aspect_range=S.check_range(aspect_range or S.ERASING_ASPECT, "--aspect-range"),
        )
    return aug


@dataclass(frozen=True)
class Augmented:
    """One output: the image, what was sampled, and what it was made from."""

    image: np.ndarray
    params: Params
    partner_index: int | None = None
    fill: F.FillValue | None = None

    def params_dict(self) -> dict[str, Any]:
        """The manifest's ``params``: the sampled values, plus ``noise_seed`` for noise."""
        out = self.params.to_dict()
        if isinstance(self.fill, F.Noise):
            out["noise_seed"] = self.fill.seed
        return out


def augment(
    image: np.ndarray,
    aug: Augmentation,
    rng: np.random.Generator,
    *,
    partners: Sequence[np.ndarray] = (),
    dataset_mean: Sequence[float] | None = None,
) -> Augmented:
    """Sample and apply ``aug`` to one image, drawing everything from ``rng``.

    The draws, in order: the method's parameters (the ``prob`` coin first); for mixing
    methods the partner's index into ``partners``; for a noise fill the noise seed.
    ``partners`` may be a lazy sequence: only the chosen one is read. Mixing partners are
    converted with :func:`~occlude.augment.functional.match_partner`.
    """
    arr = F.check_image(image)
    params = aug.sample(rng, arr.shape)
    if not params.applied:
        return Augmented(arr.copy(), params)
    if aug.mixing:
        if len(partners) == 0:
            raise UsageError(f"{aug.method} needs at least one partner image")
        index = int(rng.integers(0, len(partners)))
        partner = F.match_partner(partners[index], arr)
        return Augmented(aug.apply(arr, params, partner=partner), params, partner_index=index)
    if aug.fill is None:
        raise UsageError(f"{aug.method} needs a fill; build its settings with augmentation()")
    fill: F.FillValue
    if aug.fill.kind == "noise":
        fill = F.Noise(int(rng.integers(0, 2**53)))  # exact in any JSON reader
    else:
        fill = F.fill_colour(aug.fill, arr, dataset_mean)
    return Augmented(aug.apply(arr, params, fill=fill), params, fill=fill)


def replay(record: Mapping[str, Any], base: Path | None = None) -> np.ndarray:
    """Rebuild one output's pixels from its manifest record and its source files.

    ``source`` and ``partner`` are read relative to ``base`` (default: the current
    folder, as they were given on the command line). The result equals the written file
    for lossless formats; JPEG and WebP outputs add their compression on top.
    """
    method = str(record["method"])
    params = params_from_dict(method, record["params"])
    root = Path.cwd() if base is None else base
    image = load_array(root / str(record["source"]))
    aug = augmentation(method)
    partner = None
    if record.get("partner") is not None:
        partner = F.match_partner(load_array(root / str(record["partner"])), image)
    fill: F.FillValue | None = None
    if record.get("fill") == "noise":
        fill = F.Noise(int(record["params"]["noise_seed"]))
    elif record.get("fill") is not None:
        fill = tuple(float(v) for v in record["fill"])
    return aug.apply(image, params, fill=fill, partner=partner)


# --- reproducible per-output randomness -------------------------------------------


def output_seed(seed: int, rel: str, copy: int) -> int:
    """A 128-bit seed from (global seed, relative path, copy index); replay one output
    with ``numpy.random.default_rng(output_seed(...))``."""
    key = f"occlude-augment\0{int(seed)}\0{rel}\0{int(copy)}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:16], "big")


def output_rng(seed: int, rel: str, copy: int) -> np.random.Generator:
    return np.random.default_rng(output_seed(seed, rel, copy))


# --- image files <-> the array model ----------------------------------------------


def pil_to_array(img: Image.Image) -> np.ndarray:
    """A decoded image in the augment model (see ``functional``).

    Grey (1, L) stays grey; LA keeps alpha; palettes become RGB, or RGBA when they have
    transparency; 16-bit grey (I;16*, I) stays 16-bit (I clipped to 0-65535); float (F)
    becomes 8-bit grey; CMYK, YCbCr and the rest become RGB.
    """
    mode = img.mode
    grey: np.ndarray | None = None
    if mode.startswith("I;16"):
        grey = np.asarray(img).astype(np.uint16)
    elif mode == "I":
        grey = np.clip(np.asarray(img), 0, 65535).astype(np.uint16)
    elif mode == "F":
        grey = np.clip(np.rint(np.asarray(img)), 0, 255).astype(np.uint8)
    if grey is not None:
        return grey[..., None]
    if mode in ("1", "L"):
        target = "L"
    elif mode in ("LA", "La"):
        target = "LA"
    elif mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in img.info):
        target = "RGBA"
    else:
        target = "RGB"
    arr = np.asarray(img if mode == target else img.convert(target), dtype=np.uint8)
    return arr.reshape(arr.shape[0], arr.shape[1], -1)


def load_array(path: str | Path, notes: list[str] | None = None) -> np.ndarray:
    """Read ``path`` (EXIF-upright, first frame) into the augment model."""
    return pil_to_array(open_image(Path(path), notes))


def array_to_pil(arr: np.ndarray, suffix: str = ".png") -> Image.Image:
    """An array in the augment model as a Pillow image the format of ``suffix`` can store.

    16-bit stays 16-bit only in PNG and TIFF (elsewhere it is divided by 257 and
    rounded); JPEG drops alpha; BMP stores grey + alpha as RGBA.
    """
    ext = suffix.lower()
    out = F.check_image(arr)
    if out.dtype == np.uint16 and ext not in (".png", ".tif", ".tiff"):
        out = np.rint(out / 257.0).astype(np.uint8)
    channels = out.shape[2]
    if ext in (".jpg", ".jpeg") and channels in (2, 4):
        out = out[..., : channels - 1]
    elif ext == ".bmp" and channels == 2:
        out = np.concatenate([np.repeat(out[..., :1], 3, axis=2), out[..., 1:]], axis=2)
    if out.shape[2] == 1:
        return Image.fromarray(np.ascontiguousarray(out[..., 0]))
    return Image.fromarray(np.ascontiguousarray(out))


def output_suffix(path: Path, fmt: str) -> str:
    """The extension for ``--format``: ``same`` keeps the input's (PNG if unwritable)."""
    if fmt == "same":
        return path.suffix if path.suffix.lower() in WRITABLE else ".png"
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; choose {', '.join(FORMATS)}")
    return f".{fmt}"


# --- labels -------------------------------------------------------------------------


def read_label_csv(csv_path: Path) -> dict[Path, str]:
    """``path,label`` rows (header required) keyed by resolved path; relative paths are
    taken from the CSV's folder.

    Raises:
        UsageError: the file is missing or malformed, or one path has two labels.
    """
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise UsageError(f"--labels {csv_path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"--labels {csv_path}: not a UTF-8 CSV file ({exc})") from None
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if "path" not in header or "label" not in header:
        raise UsageError(f"--labels {csv_path}: the first row must be the header path,label")
    col_path, col_label = header.index("path"), header.index("label")
    folder = csv_path.parent
    labels: dict[Path, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(col_path, col_label) or not row[col_label].strip():
            raise UsageError(f"--labels {csv_path}: line {line} needs a path and a label")
        key = (folder / row[col_path].strip()).resolve()
        label = row[col_label].strip()
        if labels.setdefault(key, label) != label:
            raise UsageError(
                f"--labels {csv_path}: line {line} gives {row[col_path].strip()} a second "
                f"label ({labels[key]!r}, then {label!r})"
            )
    return labels


def folder_label(path: Path) -> str:
    """The class for ``--labels folders``: the name of the file's parent folder."""
    return Path(os.path.abspath(path)).parent.name


# --- the pipeline -------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    path: str
    rel: str
    label: str | None


@dataclass(frozen=True)
class _Plan:
    """What every worker needs, sent once."""

    aug: Augmentation
    seed: int
    out_dir: str
    pool: tuple[_Source, ...]


@dataclass(frozen=True)
class _Task:
    source: _Source
    pool_index: int
    outputs: tuple[str, ...]
    dataset_mean: tuple[float, float, float] | None
    config: str = ""


@dataclass
class _Outcome:
    source: str
    records: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Failures:
    """One line per failure, passed on as it happens; the inputs that failed."""

    def __init__(self, report: Callable[[str], None] | None) -> None:
        self.lines: list[str] = []
        self.inputs: set[str] = set()
        self._report = report

    def add(self, source: str, line: str) -> None:
        self.lines.append(line)
        self.inputs.add(source)
        if self._report is not None:
            self._report(line)


@dataclass(frozen=True)
class AugmentReport:
    """What a run did: outputs written, the manifest, and one line per failure."""

    inputs: int
    written: int
    out_dir: Path
    manifest: Path
    failures: tuple[str, ...]
    failed_inputs: tuple[str, ...] = ()
    dataset_mean: tuple[float, float, float] | None = None


class _Others(Sequence[np.ndarray]):
    """The sorted pool without the source itself, read on demand and cached."""

    def __init__(self, pool: Sequence[_Source], skip: int) -> None:
        self.pool = pool
        self.skip = skip
        self._cache: dict[int, np.ndarray] = {}

    def source(self, index: int) -> _Source:
        return self.pool[index if index < self.skip else index + 1]

    def __len__(self) -> int:
        return len(self.pool) - 1

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if index not in self._cache:
            self._cache[index] = load_array(Path(self.source(index).path))
        return self._cache[index]


def _soft_label(source: str | None, partner: str | None, lam: float) -> dict[str, float] | None:
    if source is None:
        return None
    weights = {source: lam}
    if partner is not None:
        weights[partner] = weights.get(partner, 0.0) + (1.0 - lam)
    return weights


def _process(task: _Task, plan: _Plan) -> _Outcome:
    """Write every copy of one input; failures become lines, never exceptions."""
    src = task.source
    outcome = _Outcome(src.path)
    try:
        image = load_array(Path(src.path), outcome.notes)
    except (OccludeError, OSError, ValueError) as exc:
        outcome.errors.append(_line(exc, src.path))
        return outcome
    aug = plan.aug
    partners = _Others(plan.pool, task.pool_index)
    out_root = Path(plan.out_dir)
    for copy, out in enumerate(task.outputs):
        rng = output_rng(plan.seed, src.rel, copy)
        try:
            result = augment(
                image,
                aug,
                rng,
                partners=partners if aug.mixing else (),
                dataset_mean=task.dataset_mean,
            )
            out_path = Path(out)
            save_image(array_to_pil(result.image, out_path.suffix), out_path, JPEG_QUALITY)
        except InputError as exc:
            outcome.errors.append(f"{src.path}: partner {exc}")
            continue
        except (OccludeError, OSError, ValueError) as exc:
            outcome.errors.append(_line(exc, src.path))
            continue
        index = result.partner_index
        partner = partners.source(index) if index is not None else None
        record: dict[str, Any] = {
            "output": out_path.relative_to(out_root).as_posix(),
            "source": src.path,
            "partner": partner.path if partner else None,
            "method": aug.method,
            "seed": plan.seed,
            "output_seed": f"{output_seed(plan.seed, src.rel, copy):032x}",
            "config": task.config,
            "source_stamp": file_stamp(src.path),
            "params": result.params_dict(),
        }
        if aug.mixing:
            lam = getattr(result.params, "lam", 1.0)
            record["soft_label"] = _soft_label(src.label, partner.label if partner else None, lam)
        else:
            record["fill"] = _fill_json(result.fill) if result.params.applied else None
            record["label"] = src.label
        outcome.records.append(record)
    return outcome


def _fill_json(fill: F.FillValue | None) -> str | list[float] | None:
    if fill is None:
        return None
    if isinstance(fill, F.Noise):
        return "noise"
    return [float(v) for v in fill]


def _line(exc: BaseException, path: str) -> str:
    text = str(exc) or type(exc).__name__
    return text if text.startswith(path) else f"{path}: {text}"


def _channel_sums(path: str) -> tuple[list[int], int] | str:
    """Exact per-channel sums of the 8-bit RGB view (order-independent when added).

    The mean does not depend on orientation, so EXIF rotation is skipped here; a file
    Pillow cannot read goes through ``open_image`` for the usual one-line message.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img_file = Image.open(path)
        with img_file as img:
            img.load()
            rgb = np.asarray(img if img.mode == "RGB" else to_rgb(img), dtype=np.uint8)
    except Exception:
        try:
            open_image(Path(path))
        except OccludeError as exc:
            return _line(exc, path)
        return f"{path}: cannot read image"
    # Column sums first (each fits easily), then the total: exact and fast.
    sums = rgb.sum(axis=0, dtype=np.uint64).sum(axis=0)
    return [int(v) for v in sums], int(rgb.shape[0] * rgb.shape[1])


_WORKER_PLAN: _Plan | None = None


def reuse_image_buffers() -> None:
    """Ask glibc to keep freed image-sized buffers for reuse (worker processes only).

    By default every buffer over 128 KiB is a fresh ``mmap``, so each decoded image, array
    and encoder buffer pays for its page faults again; reusing them is 10-20 % faster.
    Does nothing where glibc's ``mallopt`` is not available.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 64 << 20)
        libc.mallopt(m_trim_threshold, 256 << 20)
    except (OSError, AttributeError):
        pass


def _init_worker(plan: _Plan) -> None:
    global _WORKER_PLAN
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    reuse_image_buffers()
    _WORKER_PLAN = plan
    parent = os.getppid()

    def exit_with_parent() -> None:  # a parent killed outright (SIGKILL) leaves no orphans
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=exit_with_parent, daemon=True).start()


def _process_in_worker(task: _Task) -> _Outcome:
    assert _WORKER_PLAN is not None, "worker not initialised"
    return _process(task, _WORKER_PLAN)


def default_workers() -> int:
    """All cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


T = TypeVar("T")
R = TypeVar("R")


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes are started, so that a Ctrl-C aimed at the
    whole process group cannot hit them half-started (an ignored signal survives exec)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Batch(Generic[T, R]):
    """``func`` over ``items`` in the pool (or in-process without one), results as they
    finish; after an early stop, :meth:`leftovers` returns those finished but not taken."""

    def __init__(self, pool: cf.Executor | None, func: Callable[[T], R], items: Sequence[T]):
        self.pool, self.func, self.items = pool, func, items
        self._pending: set[cf.Future[R]] = set()

    def results(self, progress: Progress) -> Iterator[R]:
        if self.pool is None:
            for item in self.items:
                yield self.func(item)
                progress.advance()
            return
        with _sigint_ignored():  # workers start here and inherit it: Ctrl-C is the parent's
            self._pending = {self.pool.submit(self.func, item) for item in self.items}
        for future in cf.as_completed(list(self._pending)):
            self._pending.discard(future)
            yield future.result()
            progress.advance()

    def leftovers(self) -> list[R]:
        done = [f for f in self._pending if f.done() and not f.cancelled()]
        return [f.result() for f in done if f.exception() is None]


def augment_files(
    inputs: Sequence[str | Path],
    aug: Augmentation,
    *,
    out_dir: str | Path = DEFAULT_OUT,
    copies: int = 1,
    seed: int = 0,
    workers: int | None = None,
    labels: str | Path | None = None,
    fmt: str = "same",
    show_progress: bool = True,
    on_error: Callable[[str], None] | None = None,
    overwrite: bool = False,
    fail_fast: bool = False,
    on_note: Callable[[str], None] | None = None,
) -> AugmentReport:
    """Augment image files and folders into ``out_dir`` and write ``manifest.jsonl``.

    Outputs mirror each input's relative path as ``<stem>_<method>_<k><ext>``. An input
    that fails (unreadable, no label in the CSV, a partner unreadable) is reported through
    ``on_error`` as one line and listed in the report; the others are still written.
    ``labels`` is ``"folders"`` or the path of a ``path,label`` CSV.

    Resuming: every record carries ``config``, a digest of everything that decides the
    outputs (method and options, seed, format, labels, the dataset mean, the partner
    pool). Unless ``overwrite``, an input whose outputs all exist with a record of the
    same ``config`` (in the manifest, or in the journal a killed run left) is not redone,
    so rerunning an interrupted command finishes it with one record per output.
    ``fail_fast`` stops at the first input that fails.

    Raises:
        Interrupted: Ctrl-C; the manifest still covers every finished output.

    Raises:
        UsageError: bad arguments, no inputs, outputs that would collide or overwrite an
            input, or fewer than two usable inputs for a mixing method.
    """
    out_dir = Path(out_dir)
    if copies < 1:
        raise UsageError(f"--copies must be at least 1; received {copies}")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1; received {workers}")
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; choose {', '.join(FORMATS)}")
    check_out_dir(out_dir)
    failures = _Failures(on_error)
    images = find_images([Path(p) for p in inputs], exclude=out_dir)
    if not images:
        raise UsageError("no images found in the inputs given")
    outputs = [
        [
            img.output(out_dir, output_suffix(img.path, fmt), f"_{aug.method}_{k}")
            for k in range(copies)
        ]
        for img in images
    ]
    check_outputs(images, outputs)
    sources, tasks_out = _label_sources(images, outputs, labels, failures)
    if fail_fast and failures.lines:
        return _report(images, 0, out_dir, failures, None)
    if aug.mixing and len(sources) < 2:
        raise UsageError(
            f"{aug.method} mixes each image with another input; give at least two images"
        )
    pool = tuple(sorted(sources, key=_order))
    position = {s.path: i for i, s in enumerate(pool)}
    plan = _Plan(aug=aug, seed=int(seed), out_dir=str(out_dir), pool=pool)
    remove_stale_temporaries(out_dir)
    journal = out_dir / JOURNAL
    finished = {} if overwrite else _finished_records(out_dir)
    n_workers = min(workers or default_workers(), len(sources)) if sources else 1
    executor = _executor(n_workers, plan) if n_workers > 1 else None
    records: list[dict[str, Any]] = []
    manifest = out_dir / MANIFEST
    dataset_mean: tuple[float, float, float] | None = None
    batch: _Batch[_Task, _Outcome] | None = None
    done_inputs, total_inputs = 0, len(sources)
    try:
        if aug.fill is not None and aug.fill.kind == "dataset-mean":
            dataset_mean, keep = _dataset_mean(executor, sources, show_progress, failures)
            pairs = [(s, o) for s, o in zip(sources, tasks_out, strict=True) if s.path in keep]
            sources, tasks_out = [p[0] for p in pairs], [p[1] for p in pairs]
            if fail_fast and failures.lines:
                sources, tasks_out = [], []
        config = _config(plan, fmt, labels, dataset_mean)
        tasks = []
        for s, o in zip(sources, tasks_out, strict=True):
            reused = [finished.get(p.relative_to(out_dir).as_posix()) for p in o]
            stamp = file_stamp(s.path)
            if all(
                r is not None and r.get("config") == config and r.get("source_stamp") == stamp
                for r in reused
            ):
                records.extend(r for r in reused if r is not None)
                done_inputs += 1
                continue
            outs = tuple(str(p) for p in o)
            tasks.append(_Task(s, position[s.path], outs, dataset_mean, config))
        func: Callable[[_Task], _Outcome] = (
            _process_in_worker if executor is not None else (lambda t: _process(t, plan))
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        with (
            Progress(len(tasks), "augment", enabled=show_progress) as bar,
            open(journal, "a", encoding="utf-8") as log,
        ):
            # Outputs about to be rewritten lose their old records first, so a kill mid-way
            # never leaves an old record vouching for a new, different file.
            log.write(
                "".join(json.dumps({"started": o}) + "\n" for t in tasks for o in _rel(t, out_dir))
            )
            log.flush()
            batch = _Batch(executor, func, tasks)
            for outcome in batch.results(bar):
                records.extend(outcome.records)
                log.write("".join(json.dumps(r, allow_nan=False) + "\n" for r in outcome.records))
                log.flush()
                done_inputs += 1
                if on_note is not None:
                    for note in outcome.notes:
                        on_note(f"{outcome.source}: {note}")
                for line in outcome.errors:
                    failures.add(outcome.source, line)
                if outcome.errors and fail_fast:
                    break
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
                executor = None
                records.extend(r for outcome in batch.leftovers() for r in outcome.records)
    except BaseException as exc:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
            executor = None
            if batch is not None:
                records.extend(r for outcome in batch.leftovers() for r in outcome.records)
        if records:  # what was written stays auditable when a run stops early
            with contextlib.suppress(OSError):
                _write_manifest(manifest, _merge_records(manifest, out_dir, records))
        if isinstance(exc, BrokenProcessPool):
            raise OccludeError(
                "a worker process stopped abruptly (out of memory, or a script that starts "
                "workers without `if __name__ == '__main__':`); rerun with --workers 1 to "
                "see which input"
            ) from None
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted(done_inputs, total_inputs) from None
        raise
    finally:
        if executor is not None:
            executor.shutdown(wait=True)
    _write_manifest(manifest, _merge_records(manifest, out_dir, records))
    with contextlib.suppress(OSError):
        journal.unlink()
    remove_stale_temporaries(out_dir)  # again: a killed run's workers may have lingered
    return _report(images, len(records), out_dir, failures, dataset_mean)


def _report(
    images: Sequence[InputImage],
    written: int,
    out_dir: Path,
    failures: _Failures,
    dataset_mean: tuple[float, float, float] | None,
) -> AugmentReport:
    return AugmentReport(
        inputs=len(images),
        written=written,
        out_dir=out_dir,
        manifest=out_dir / MANIFEST,
        failures=tuple(failures.lines),
        failed_inputs=tuple(sorted(failures.inputs)),
        dataset_mean=dataset_mean,
    )


def _executor(n_workers: int, plan: _Plan) -> cf.ProcessPoolExecutor:
    return cf.ProcessPoolExecutor(
        max_workers=n_workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(plan,),
    )


def _config(
    plan: _Plan,
    fmt: str,
    labels: str | Path | None,
    dataset_mean: tuple[float, float, float] | None,
) -> str:
    """A digest of everything that decides an output's bytes and record."""
    parts: dict[str, Any] = {
        "version": 1,
        "aug": repr(plan.aug),
        "seed": plan.seed,
        "format": fmt,
        "labels": None if labels is None else str(labels),
        "labels_file": None if labels in (None, "folders") else file_stamp(str(labels)),
        "dataset_mean": dataset_mean,
    }
    if plan.aug.mixing:  # partners can be any input: their contents count too
        parts["pool"] = [(s.path, s.rel, s.label, file_stamp(s.path)) for s in plan.pool]
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSON-lines file; a line cut short by a kill is skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and (
            isinstance(record.get("output"), str) or isinstance(record.get("started"), str)
        ):
            yield record


def _rel(task: _Task, out_dir: Path) -> list[str]:
    return [Path(o).relative_to(out_dir).as_posix() for o in task.outputs]


def _finished_records(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Records of outputs that exist, from the manifest then a killed run's journal.

    In the journal, ``{"started": output}`` withdraws the output's earlier record: that
    run began rewriting the file; a record follows only if it finished.
    """
    found: dict[str, dict[str, Any]] = {}
    for path in (out_dir / MANIFEST, out_dir / JOURNAL):
        for record in _read_records(path):
            if "started" in record:
                found.pop(str(record["started"]), None)
            elif (out_dir / record["output"]).is_file():
                found[record["output"]] = record
    return found


def _order(source: _Source) -> tuple[str, str]:
    return (source.rel, source.path)


def _label_sources(
    images: Sequence[InputImage],
    outputs: Sequence[Sequence[Path]],
    labels: str | Path | None,
    failures: _Failures,
) -> tuple[list[_Source], list[Sequence[Path]]]:
    """Attach labels; inputs the CSV does not label fail here and take no further part."""
    table: dict[Path, str] | None = None
    if labels is not None and str(labels) != "folders":
        table = read_label_csv(Path(labels))
    sources: list[_Source] = []
    kept: list[Sequence[Path]] = []
    for img, outs in zip(images, outputs, strict=True):
        label: str | None = None
        if labels is not None and table is None:
            label = folder_label(img.path)
        elif table is not None:
            label = table.get(img.path.resolve())
            if label is None:
                failures.add(str(img.path), f"{img.path}: no label in {labels}")
                continue
        sources.append(_Source(str(img.path), img.rel.as_posix(), label))
        kept.append(outs)
    return sources, kept


def _dataset_mean(
    executor: cf.Executor | None,
    sources: Sequence[_Source],
    show_progress: bool,
    failures: _Failures,
) -> tuple[tuple[float, float, float], set[str]]:
    """The mean RGB (0-255) over every pixel of every readable input, and those inputs."""
    totals = [0, 0, 0]
    count = 0
    keep: set[str] = set()
    paths = [s.path for s in sources]
    with Progress(len(paths), "dataset mean", enabled=show_progress) as bar:
        for path, result in _Batch(executor, _sums_with_path, paths).results(bar):
            if isinstance(result, str):
                failures.add(path, result)
                continue
            sums, n = result
            totals = [t + s for t, s in zip(totals, sums, strict=True)]
            count += n
            keep.add(path)
    if count == 0:
        return (127.5, 127.5, 127.5), keep
    return (totals[0] / count, totals[1] / count, totals[2] / count), keep


def _sums_with_path(path: str) -> tuple[str, tuple[list[int], int] | str]:
    return path, _channel_sums(path)


def _merge_records(
    manifest: Path, out_dir: Path, records: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """This run's records plus earlier runs' records for files still in ``out_dir`` that
    this run did not rewrite, sorted by output path (so the manifest covers the folder)."""
    merged = {str(r["output"]): r for r in records}
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    for line in lines:
        try:
            old = json.loads(line)
            name = str(old["output"])
        except (ValueError, TypeError, KeyError):
            continue
        if name not in merged and (out_dir / name).is_file():
            merged[name] = old
    return [merged[name] for name in sorted(merged)]


def _write_manifest(path: Path, records: Sequence[dict[str, Any]]) -> None:
    body = "".join(json.dumps(r, allow_nan=False) + "\n" for r in records).encode()

    def write(handle: IO[bytes]) -> None:
        handle.write(body)

    write_atomic(path, write)
