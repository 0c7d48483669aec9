"""The public engine: :class:`IncrementalModel`, its :class:`Estimate` and :class:`Session`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from occlude.checks import check_int
from occlude.errors import UsageError
from occlude.incremental.execute import (
    Gather,
    cache_table,
    compile_fn,
    gather_indices,
    make_step,
    plan_gathers,
    run_full,
)
from occlude.incremental.graph import GraphError, build_graph, check_size, whole_model_graph
from occlude.incremental.kernels import weights_of
from occlude.incremental.plan import (
    SWITCH_THRESHOLD,
    WORTH_IT,
    TilePlan,
    cache_nodes,
    group_boxes,
    make_plan,
)
from occlude.incremental.regions import Opaque, propagate_axis, tile_starts

EAGER_CLEAN_PASSES = 3
"""On TensorFlow the first sessions' clean passes run eagerly, later ones compiled.

Measured on ResNet50 (2 loaded CPU cores): tracing and optimising the clean pass costs about
4 s once, an eager clean pass about 1 s more than a compiled one; so one image's first call
saves about 3 s, and a long run compiles from its fourth image on.
"""


@dataclass(frozen=True)
class Estimate:
    """What incremental computation saves for one patch size, before any image.

    ``macs_fraction`` is the multiply-adds computed per copy over those of a full
    forward pass (tiles have a fixed size, so it holds for every position);
    ``switch_layer`` names the first layer computed in full (``None``: none is);
    ``worth_it`` is the ``auto`` rule: the whole graph was understood and
    ``macs_fraction <= WORTH_IT``.
    """

    patch: tuple[int, int]
    macs_fraction: float
    full_macs: int
    switch_layer: str | None
    worth_it: bool
    tau: float = 1.0


class IncrementalModel:
    """Occlusion scores of a Keras model computed only where an occlusion changes them.

    Args:
        model: a single-input, single-output functional (or built Sequential) Keras model
            taking (batch, height, width, channels) images, run in inference mode.
        batch_size: most copies per compiled call; a call's copies are split evenly and
            a short batch is padded to a size already compiled for its tile shape when that
            at most doubles it (so a sweep compiles each tile shape once).
        approx: ``tau`` in (0, 1]: cap each layer's recomputed region at ``tau`` of its
            height and width, centred on the occlusion's projected centre, and reuse the
            clean activations outside it (Krypton's projective-field threshold). 1 is exact.
        threshold: switch the copies to full computation at the first layer whose tile
            covers this fraction of its map (see ``SWITCH_THRESHOLD``).
        input_size: (height, width) when the model's own input size is not fixed.

    The graph is walked once; plans and compiled functions are made once per patch shape.
    Layers the engine does not know, and everything after them, are computed in full.
    """

    def __init__(
        self,
        model: Any,
        batch_size: int = 32,
        *,
        approx: float = 1.0,
        threshold: float = SWITCH_THRESHOLD,
        input_size: tuple[int, int] | None = None,
    ) -> None:
        batch_size = check_int(batch_size, "batch_size")
        if not 0.0 < float(approx) <= 1.0:
            raise UsageError(f"approx must be in (0, 1] (1 is exact); received approx={approx}")
        if not 0.0 < float(threshold) <= 1.0:
            raise UsageError(f"threshold must be in (0, 1]; received threshold={threshold}")
        self.model = model
        self.batch_size = batch_size
        self.tau = float(approx)
        self.threshold = float(threshold)
        self.size = check_size(model, input_size)
        self.fallback: str | None = None
        try:
            self.nodes = build_graph(model, self.size)
        except GraphError as exc:
            self.fallback = str(exc)
            self.nodes = whole_model_graph(model, self.size, str(exc))
        self.specs = [n.spec for n in self.nodes]
        self.channels = int(self.nodes[0].meta.get("channels") or 3)
        self._cache_nodes = cache_nodes(self.specs)
        self._kernels = weights_of(self.nodes)
        self._plans: dict[tuple[int, int], TilePlan] = {}
        self._steps: dict[tuple[int, int], Callable[..., Any]] = {}
        self._gathers: dict[tuple[int, int], tuple[Gather, ...]] = {}
        self._sizes: dict[tuple[int, int], set[int]] = {}
        self._clean: Callable[..., Any] | None = None
        self._sessions = 0

    def unknown_layers(self) -> list[tuple[str, str]]:
        """(layer name, reason) of every node computed in full whatever the patch."""
        return [(s.name, s.rule.reason) for s in self.specs if isinstance(s.rule, Opaque)]

    def plan(self, patch: tuple[int, int]) -> TilePlan:
        """The tiles for patches of (height, width) pixels (clipped to the image)."""
        key = self._patch(patch)
        if key not in self._plans:
            self._plans[key] = make_plan(self.specs, key, self.threshold, self.tau)
        return self._plans[key]

    def estimate(self, patch: tuple[int, int] | int) -> Estimate:
        """The multiply-add fraction and the ``auto`` decision for one patch size."""
        plan = self.plan(_as_pair(patch))
        switch = self.specs[plan.switch].name if plan.switch is not None else None
        fraction = plan.macs_fraction if self.fallback is None else 1.0
        return Estimate(
            patch=plan.patch,
            macs_fraction=fraction,
            full_macs=plan.macs_full,
            switch_layer=switch,
            worth_it=self.fallback is None and fraction <= WORTH_IT,
            tau=self.tau,
        )

    def session(self, x_clean: np.ndarray) -> Session:
        """Run the clean (already preprocessed) image once and cache what batches read."""
        return Session(self, x_clean)

    def _patch(self, patch: tuple[int, int]) -> tuple[int, int]:
        ph, pw = (int(v) for v in patch)
        if ph < 1 or pw < 1:
            raise UsageError(f"patch must be positive (height, width); received patch={patch}")
        return min(ph, self.size[0]), min(pw, self.size[1])

    def _clean_fn(self) -> Callable[..., Any]:
        import keras

        nodes, keep = self.nodes, self._cache_nodes

        kernels = self._kernels

        def clean(weights: list[Any], x: Any) -> Any:
            from keras import ops

            out, kept = run_full(nodes, x, keep, kernels, weights)
            scores = ops.reshape(ops.cast(out, "float32"), (1, -1))
            return scores, [cache_table(v) for v in kept]

        self._sessions += 1
        eager = keras.backend.backend() == "tensorflow" and self._sessions <= EAGER_CLEAN_PASSES
        if self._clean is None and not eager:
            self._clean = compile_fn(clean)
        return self._clean or clean

    def _step(self, shape: tuple[int, int]) -> Callable[..., Any]:
        if shape not in self._steps:
            plan = self.plan(shape)
            self._gathers[shape] = plan_gathers(self.specs, plan)
            self._steps[shape] = compile_fn(make_step(self.nodes, plan, self._kernels))
        return self._steps[shape]


class Session:
    """One clean image's cached activations; :meth:`score` evaluates occluded copies."""

    def __init__(self, engine: IncrementalModel, x_clean: np.ndarray) -> None:
        from keras import ops

        x = np.asarray(x_clean, dtype=np.float32)
        expected = (*engine.size, engine.channels)
        if x.shape != expected:
            raise UsageError(f"x_clean must have shape {expected}; received shape {x.shape}")
        self.engine = engine
        self.x_clean = x
        self._weights = engine._kernels.tensors()  # the model's weights as they are now
        scores, caches = engine._clean_fn()(self._weights, ops.convert_to_tensor(x[None]))
        self.base_scores: np.ndarray = np.asarray(ops.convert_to_numpy(scores))[0]
        self._caches = dict(zip(engine._cache_nodes, caches, strict=True))

    def score(self, x_fill: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Scores (N, K) float32 of the copies with ``x_fill`` pasted over each box.

        ``boxes`` (N, 4) are :class:`~occlude.box.Box` rows ``[x0, y0, x1, y1]``,
        end-exclusive, inside the image; copy
        ``n`` is ``x_clean`` with ``x_clean[y0:y1, x0:x1] = x_fill[y0:y1, x0:x1]``.
        """
        engine = self.engine
        fill = np.asarray(x_fill, dtype=np.float32)
        if fill.shape != self.x_clean.shape:
            raise UsageError(
                f"x_fill must have the shape of x_clean {self.x_clean.shape}; "
                f"received shape {fill.shape}"
            )
        boxes = _check_boxes(boxes, engine.size)
        out = np.zeros((len(boxes), len(self.base_scores)), dtype=np.float32)
        for shape, index in group_boxes(boxes):
            out[index] = self._score_group(fill, boxes[index], shape)
        return out

    def _score_group(
        self, fill: np.ndarray, boxes: np.ndarray, shape: tuple[int, int]
    ) -> np.ndarray:
        from keras import ops

        engine = self.engine
        plan = engine.plan(shape)
        step = engine._step(plan.patch)
        pos = tile_positions(engine, plan, boxes)
        caches = [self._caches[i] for i in plan.cached]
        out = []
        sizes = engine._sizes.setdefault(plan.patch, set())
        for start, stop, size in batches(len(boxes), engine.batch_size, sizes):
            chunk = np.arange(start, stop)
            padded = np.concatenate([chunk, np.full(size - len(chunk), chunk[-1])])
            tile = input_tiles(self.x_clean, fill, boxes[padded], pos[0, padded], plan.patch)
            index = gather_indices(engine._gathers[plan.patch], engine.specs, plan, pos[:, padded])
            scores = step(
                self._weights,
                caches,
                ops.convert_to_tensor(tile),
                ops.convert_to_tensor(pos[:, padded]),
                [ops.convert_to_tensor(rows) for rows in index],
            )
            out.append(np.asarray(ops.convert_to_numpy(scores))[: len(chunk)])
        return np.concatenate(out)


def batches(
    n: int, batch_size: int, compiled: set[int] | None = None
) -> list[tuple[int, int, int]]:
    """``(start, stop, padded size)`` of each call: ``n`` copies split evenly into as few
    calls as ``batch_size`` allows; a call runs padded to the smallest size in ``compiled``
    (the batch sizes already compiled for this tile shape, updated here) that at most
    doubles it, else at its own size. A sweep's evened-out chunks so compile once.

    >>> batches(70, 32)
    [(0, 24, 24), (24, 48, 24), (48, 70, 24)]
    >>> batches(24, 32, {25}), batches(4, 32, {25})
    ([(0, 24, 25)], [(0, 4, 4)])
    """
    compiled = set() if compiled is None else compiled
    if n <= 0:
        return []
    size = -(-n // -(-n // batch_size))
    out = []
    for start in range(0, n, size):
        m = min(size, n - start)
        padded = min((s for s in compiled if m <= s <= 2 * m), default=m)
        compiled.add(padded)
        out.append((start, start + m, padded))
    return out


def tile_positions(engine: IncrementalModel, plan: TilePlan, boxes: np.ndarray) -> np.ndarray:
    """(nodes, N, 2) int32 tile starts of every tiled node for each box (0 elsewhere)."""
    pos = np.zeros((len(engine.specs), len(boxes), 2), dtype=np.int32)
    for axis in (0, 1):  # rows (y) then columns (x); a box's y is column 1, its x column 0
        regions = propagate_axis(
            engine.specs, axis, boxes[:, 1 - axis], boxes[:, 3 - axis], tau=engine.tau
        )
        for i, tile in enumerate(plan.tiles):
            size, a = engine.specs[i].size, regions.a[i]
            if tile is not None and size is not None and a is not None:
                pos[i, :, axis] = tile_starts(a, tile[axis], size[axis])
    return pos


def input_tiles(
    clean: np.ndarray,
    fill: np.ndarray,
    boxes: np.ndarray,
    starts: np.ndarray,
    tile: tuple[int, int],
) -> np.ndarray:
    """The copies' pixels (B, th, tw, C) over their input tiles (boxes lie inside them)."""
    th, tw = tile
    out = np.empty((len(boxes), th, tw, clean.shape[2]), dtype=np.float32)
    for k, ((x0, y0, x1, y1), (ty, tx)) in enumerate(zip(boxes, starts, strict=True)):
        out[k] = clean[ty : ty + th, tx : tx + tw]
        out[k, y0 - ty : y1 - ty, x0 - tx : x1 - tx] = fill[y0:y1, x0:x1]
    return out


def _check_boxes(boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    arr = np.asarray(boxes)
    if arr.ndim != 2 or arr.shape[1] != 4 or not np.issubdtype(arr.dtype, np.integer):
        raise UsageError(
            f"boxes must be an (N, 4) integer array of [x0, y0, x1, y1]; received "
            f"{arr.dtype} array of shape {arr.shape}"
        )
    arr = arr.astype(np.int64)
    height, width = size
    bad = (
        (arr[:, 0] < 0)
        | (arr[:, 1] < 0)
        | (arr[:, 2] > width)
        | (arr[:, 3] > height)
        | (arr[:, 2] <= arr[:, 0])
        | (arr[:, 3] <= arr[:, 1])
    )
    if bad.any():
        first = arr[np.argmax(bad)].tolist()
        raise UsageError(
            f"boxes must be non-empty and inside the {height}x{width} image; received {first}"
        )
    return arr


def _as_pair(patch: tuple[int, int] | int) -> tuple[int, int]:
    if isinstance(patch, int | np.integer):
        return int(patch), int(patch)
    if len(patch) != 2:
        raise UsageError(f"patch must be an int or (height, width); received patch={patch}")
    return int(patch[0]), int(patch[1])
