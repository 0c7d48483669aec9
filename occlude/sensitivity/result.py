"""One image's sensitivity maps for one class, able to draw, save and measure themselves.

:class:`SensitivityResult` is what :meth:`occlude.OcclusionSensitivity.explain` returns, and
what ``occlude sensitivity`` writes: the command line's job calls :meth:`~SensitivityResult.write`,
so ``result.save(dir)`` writes the files the CLI writes (same names, same bytes) and
``result.to_dict()`` is its JSON record. matplotlib is imported only when something is drawn
(by :mod:`occlude.render`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from occlude.box import Box
from occlude.errors import UsageError
from occlude.inputs import InputImage, check_out_dir
from occlude.paths import PathPlan
from occlude.scoring import Predict
from occlude.sensitivity import outputs as O
from occlude.sensitivity.core import Sweep, fill_pixels
from occlude.sensitivity.metrics import Curves, check_box, deletion_insertion
from occlude.sensitivity.options import SensitivityOptions
from occlude.text import shown
from occlude.zoo import describe_model

if TYPE_CHECKING:
    from occlude.sensitivity.animation import SweepAnimation


class ScoringModel(Protocol):
    """What a result needs of its model: names for the record, and a predictor."""

    @property
    def name(self) -> str: ...
    @property
    def weights(self) -> str | None: ...
    @property
    def preprocess(self) -> str: ...
    @property
    def precision(self) -> str: ...
    @property
    def backend(self) -> str | None: ...
    def class_name(self, index: int) -> str | None: ...
    def predictor(self, batch_size: int) -> Predict: ...


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class SensitivityResult(Sweep):
    """The maps of one image for one class (a :class:`~occlude.sensitivity.core.Sweep`:
    ``map``, ``scale_maps``, ``class_index``, ``base_score``...), with the image, the model
    and the settings that made them.

    ``original`` is the image as given (its own size), ``image`` the float32 copy the model
    saw, ``name`` the file name its outputs are named after, ``source`` the file it was
    read from (None for an array).
    """

    original: np.ndarray
    image: np.ndarray
    name: str
    source: Path | None = None
    input_sha256: str | None = None
    model: ScoringModel
    options: SensitivityOptions
    compute: str = "full"
    macs_fraction: float = 1.0
    model_settings: Callable[[], Mapping[str, Any]]
    _curves: dict[tuple[int, int], Curves] = field(default_factory=dict, init=False)

    def __repr__(self) -> str:
        scales = "/".join(map(str, self.patch_sizes))
        return (f"SensitivityResult({self.name!r}: "
                f"{O.describe_class(self.class_name, self.class_index)}, score "
                f"{self.base_score:.3f}, patches {scales}, {self.windows} windows)")  # fmt: skip

    @property
    def class_name(self) -> str | None:
        return self.model.class_name(self.class_index)

    def top(self, k: int = 5) -> list[tuple[int, str | None, float]]:
        """The model's ``k`` best classes on the plain image: (index, name, score)."""
        best = np.argsort(-self.base_scores, kind="stable")[:k]
        return [(int(i), self.model.class_name(int(i)), float(self.base_scores[i])) for i in best]

    def title(self) -> str:
        """The figures' title, as the command line writes it."""
        model = describe_model(self.model.name, self.model.weights)
        return O.title(self.name, self, self.class_name, model, str(self.options.fill),
                       self.model.precision, self.options.approx)  # fmt: skip

    # --- drawing -----------------------------------------------------------------------

    def plot(self, kind: str = "heatmap", *, metrics: bool = False) -> Any:
        """The figure the command line writes: ``heatmap`` (the map over the original
        image, ``<stem>.png``) or ``scales`` (every scale and their mean at model size,
        ``<stem>_scales.png``; with ``metrics``, the deletion/insertion curves too).

        Returns a :class:`matplotlib.figure.Figure` on its own canvas (no pyplot):
        ``fig.savefig(...)`` works, and a notebook shows it.
        """
        from occlude import render

        if kind == "heatmap":
            return render.heatmap_figure(self.original, self.map, self.title(), O.MAP_LABEL)
        if kind == "scales":
            curves = self.deletion_insertion() if metrics else None
            return render.contact_sheet_figure(self.image, self._panels(), self.title(),
                                               O.MAP_LABEL, curves)  # fmt: skip
        raise UsageError(f"kind must be heatmap or scales; received {kind!r}", "kind")

    def _repr_png_(self) -> bytes:
        from occlude import render

        return render.png_bytes(self.plot())

    def _panels(self) -> list[tuple[str, np.ndarray]]:
        panels = [
            (f"patch {p}, stride {s}", m)
            for p, s, m in zip(self.patch_sizes, self.strides, self.scale_maps, strict=True)
        ]
        if len(panels) > 1:
            panels.append(("multi-scale mean", self.map))
        return panels

    def animate(
        self, path: Path | str | None = None, *, scale: int | None = None, fmt: str | None = None
    ) -> SweepAnimation:
        """The sweep of one scale as frames (no model call): the patch moving, the map
        filling in, the score at each step. ``scale`` is a patch size (default: the one
        closest to 100 windows); with ``path``, also written there as GIF or WebP (``fmt``,
        or the extension)."""
        from occlude.sensitivity.animation import animate_sweep

        what = O.describe_class(self.class_name, self.class_index)
        model = describe_model(Path(self.model.name).name, self.model.weights)
        title = f"{shown(self.name)}: {what}  |  {shown(model)}"
        anim = animate_sweep(self.image, self, self.options.fill, patch=scale, title=title)
        if path is not None:
            anim.save(Path(path), fmt)
        return anim

    # --- numbers for CI ------------------------------------------------------------------

    def focus(self, region: Box | np.ndarray | Path | str) -> float:
        """The share of the map's positive part inside ``region``: a :class:`~occlude.box.Box`
        (or four numbers x0, y0, x1, y1) in the original image's pixels (end-exclusive), or
        a mask (an H×W array or an image file, non-zero inside, resized to the original
        image). 1 is all of it, 0 none."""
        shape = (self.original.shape[0], self.original.shape[1])
        if isinstance(region, (str, os.PathLike)):
            return O.region_focus(self.map, shape, mask=Path(region))
        values = np.asarray(region)
        if values.ndim == 2:
            return O.region_focus(self.map, shape, mask=values)
        if values.shape != (4,) or not np.issubdtype(values.dtype, np.number):
            raise UsageError(f"region must be a box (x0, y0, x1, y1) or an H×W mask; received "
                             f"shape {values.shape}", "region")  # fmt: skip
        return O.region_focus(self.map, shape, box=check_box(values.tolist(), "region"))

    def deletion_insertion(self, *, steps: int | None = None, seed: int | None = None) -> Curves:
        """Deletion and insertion curves (RISE) of the map's pixel order and of a random
        one (``seed``), ``steps`` steps each (default: the options', 20 and 0); the AUCs
        are ``curves.summary()``. Scores ``4 × (steps + 1)`` copies with the model."""
        steps = self.options.steps if steps is None else steps
        seed = self.options.seed if seed is None else seed
        if (steps, seed) not in self._curves:
            opts, image = self.options, self.image
            self._curves[(steps, seed)] = deletion_insertion(
                image,
                self.map,
                self.model.predictor(opts.batch_size),
                self.class_index,
                deleted=fill_pixels(image, opts.fill),
                blurred=fill_pixels(image, "blur"),
                steps=steps,
                rng=np.random.default_rng(seed),
                batch_size=opts.batch_size,
            )
        return self._curves[(steps, seed)]

    # --- files and records ---------------------------------------------------------------

    def save(
        self,
        out_dir: Path | str,
        *,
        save_npy: bool = False,
        expect_box: Box | None = None,
        expect_mask: Path | str | None = None,
        metrics: bool = False,
        steps: int = 20,
        seed: int = 0,
        animate: bool = False,
        animate_format: str = "gif",
        animate_scale: int | None = None,
    ) -> dict[str, Any]:
        """Write this image's files into ``out_dir`` as ``occlude sensitivity`` does with
        the same settings (``<stem>.png``, ``<stem>_scales.png``, with ``save_npy``
        ``<stem>.npy`` and ``<stem>_scales.npz``, with ``animate`` ``<stem>_sweep.gif``,
        and ``<stem>.json`` last) and return the record. The keywords are the command's
        options (``--save-npy``, ``--expect-box``...). Refuses to write onto the image
        it was read from."""
        res = self._with(save_npy=save_npy, expect_box=expect_box, expect_mask=expect_mask,
                         metrics=metrics, steps=steps, seed=seed, animate=animate,
                         animate_format=animate_format, animate_scale=animate_scale)  # fmt: skip
        out = Path(out_dir)
        check_out_dir(out)
        paths = res._paths(out)
        plan = PathPlan()
        plan.read(self.source, "input")
        plan.read(res.options.expect_mask, "expect_mask")
        plan.write_all(paths.values(), "output")
        plan.check()
        paths["record"].unlink(missing_ok=True)
        return res.write(paths, res.settings())

    def to_dict(self, out_dir: Path | str | None = None, **options: Any) -> dict[str, Any]:
        """The JSON record :meth:`save` writes with the same arguments (``outputs`` only
        with ``out_dir``): what ``occlude sensitivity`` writes as ``<stem>.json``."""
        res = self._with(**options)
        paths = res._paths(Path(out_dir)) if out_dir is not None else None
        extra, _ = res._extras()
        return O.finite(res._record(paths, extra, res.settings()))  # type: ignore[no-any-return]

    def settings(self) -> dict[str, Any]:
        """What decided this image's outputs (the record's ``settings``)."""
        hashes = _hash_once()
        return {**O.run_settings(dict(self.model_settings()), self.options, hashes),
                "input_sha256": self.input_sha256}  # fmt: skip

    def write(self, paths: dict[str, Path], settings: dict[str, Any]) -> dict[str, Any]:
        """Draw and write the files of :func:`outputs.output_paths`, the record last (it
        marks the image as done), and return the record (strict JSON values)."""
        from occlude import render

        extra, curves = self._extras()
        title = self.title()
        render.heatmap_png(paths["heatmap"], self.original, self.map, title, O.MAP_LABEL)
        render.contact_sheet_png(paths["sheet"], self.image, self._panels(), title, O.MAP_LABEL,
                                 curves)  # fmt: skip
        opts = self.options
        if opts.save_npy:
            O.save_arrays(paths, self)
        if opts.animate:
            self.animate(paths["animation"], scale=opts.animate_scale, fmt=opts.animate_format)
        record = self._record(paths, extra, settings)
        O.write_record(paths["record"], record)
        return O.finite(record)  # type: ignore[no-any-return]

    def _with(self, **options: Any) -> SensitivityResult:
        unknown = sorted(set(options) - set(OUTPUT_OPTIONS))
        if unknown:
            raise UsageError(f"unknown option {unknown[0]!r}; choose from "
                             f"{', '.join(OUTPUT_OPTIONS)}", unknown[0])  # fmt: skip
        if options.get("expect_mask") is not None:
            options["expect_mask"] = Path(options["expect_mask"])
        if options.get("expect_box") is not None:
            options["expect_box"] = Box.of(options["expect_box"])
        return replace(self, options=replace(self.options, **options))

    def _paths(self, out_dir: Path) -> dict[str, Path]:
        item = InputImage(self.source or Path(self.name), PurePosixPath(self.name))
        return O.output_paths(item, out_dir, self.options)

    def _extras(self) -> tuple[dict[str, Any], Curves | None]:
        """``focus`` (with a region) and the faithfulness metrics (with ``metrics``)."""
        opts, extra, curves = self.options, dict[str, Any](), None
        if opts.has_region:
            shape = (self.original.shape[0], self.original.shape[1])
            extra["focus"] = O.region_focus(self.map, shape, opts.expect_box, opts.expect_mask)
        if opts.metrics:
            curves = self.deletion_insertion()
            extra.update(curves.summary())
            extra["curves"] = O.curves_json(curves)
        return extra, curves

    def _record(
        self, paths: dict[str, Path] | None, extra: dict[str, Any], settings: dict[str, Any]
    ) -> dict[str, Any]:
        model, top = self.model, self.top(5)
        record = {
            "input": str(self.source) if self.source is not None else self.name,
            "outputs": {kind: str(path) for kind, path in (paths or {}).items()},
            "model": model.name,
            "weights": model.weights,
            "preprocess": model.preprocess,
            "backend": model.backend,
            "precision": model.precision,
            "input_size": list(self.image.shape[:2]),
            "class_index": self.class_index,
            "class_name": self.class_name,
            "base_score": self.base_score,
            "top1_index": top[0][0],
            "top5": [list(t) for t in top],
            "patch_sizes": list(self.patch_sizes),
            "strides": list(self.strides),
            "fill": self.options.fill.as_json(),
            "windows": self.windows,
            "compute": self.compute,
            "macs_fraction": self.macs_fraction,
            "approx": self.options.approx,
            "map_min": float(self.map.min()),
            "map_max": float(self.map.max()),
            **extra,
            "settings": settings,
        }
        if paths is None:
            del record["outputs"]
        return record


OUTPUT_OPTIONS = ("save_npy", "expect_box", "expect_mask", "metrics", "steps", "seed",
                  "animate", "animate_format", "animate_scale")  # fmt: skip
"""The options of :meth:`SensitivityResult.save` (the command's output options)."""


def _hash_once() -> Callable[[Path | str | None], str | None]:
    from occlude.runner.state import FileHashes

    return FileHashes()
