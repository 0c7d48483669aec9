"""Run a batch of occluded copies through the flattened graph, tiles first, then in full.

Everything here is written with ``keras.ops`` and is traced once per tile shape by the
backend's compiler (``tf.function`` on TensorFlow, ``jax.jit`` on JAX).

A tiled node's value for a batch is a tensor (B, th, tw, C): for copy ``n`` the node's
output over rows ``pos[node, n, 0] + [0, th)`` and columns ``pos[node, n, 1] + [0, tw)``;
outside its tile a copy's output equals the clean image's, read from the node's cache.
A cache is the clean output flattened to (H * W + 2, C), with a row of zeros and a row of
-inf appended: the values a window reads outside the map.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from occlude.incremental.graph import Node
from occlude.incremental.kernels import Kernels, apply, no_grad, window
from occlude.incremental.layers import needs_starts
from occlude.incremental.plan import TilePlan
from occlude.incremental.regions import Merge, Pointwise, Spec, Window


def cache_table(output: Any) -> Any:
    """A node's clean output (1, H, W, C) as its cache (H * W + 2, C)."""
    from keras import ops

    channels = output.shape[-1]
    flat = ops.reshape(ops.cast(output, "float32"), (-1, channels))
    pads = ops.stack(
        [ops.zeros((channels,), "float32"), ops.full((channels,), float("-inf"), "float32")]
    )
    return ops.concatenate([flat, pads], axis=0)


@dataclass(frozen=True)
class Gather:
    """One window a batch reads from a node ``source`` (its tile over its clean cache).

    Copy ``n``'s window starts at ``pos[node, n] * stride - pad`` and is ``length`` pixels;
    a window that is the whole map (``stride`` and ``pad`` 0) makes the node's full copies.
    Outside the map it reads 0 (``fill="zero"``) or -inf (``"min"``).
    """

    node: int
    source: int
    stride: tuple[int, int]
    pad: tuple[int, int]
    length: tuple[int, int]
    fill: str = "zero"


def plan_gathers(specs: Sequence[Spec], plan: TilePlan) -> tuple[Gather, ...]:
    """Every window :func:`make_step`'s step reads, in the order it reads them."""
    out: list[Gather] = []
    whole: set[int] = set()

    def materialize(j: int) -> None:
        size = specs[j].size
        if plan.tiles[j] is not None and j not in whole and size is not None:
            whole.add(j)
            out.append(Gather(j, j, (0, 0), (0, 0), size))

    for i in range(1, len(specs)):
        spec, tile = specs[i], plan.tiles[i]
        if tile is None:
            for j in spec.inputs:
                materialize(j)
        elif isinstance(spec.rule, Window) and not plan.inplace[i][0]:
            rule = spec.rule
            length = tuple((tile[a] - 1) * rule.stride[a] + rule.span(a) for a in (0, 1))
            out.append(Gather(i, spec.inputs[0], rule.stride, rule.pad, length, rule.fill))  # type: ignore[arg-type]
        elif isinstance(spec.rule, Merge):
            for j, same in zip(spec.inputs, plan.inplace[i], strict=True):
                if not same:
                    out.append(Gather(i, j, (1, 1), (0, 0), tile))
    materialize(len(specs) - 1)
    return tuple(out)


def gather_indices(
    gathers: Sequence[Gather], specs: Sequence[Spec], plan: TilePlan, pos: np.ndarray
) -> list[np.ndarray]:
    """Per gather, the (B, lh, lw) int32 rows of ``[source's tiles; its cache]`` that make
    each copy's window: computed on the host, so the compiled step only takes them.

    ``pos`` (nodes, B, 2) holds the tiled nodes' tile starts. The tiles' B * th * tw rows
    come first, then the cache's H * W rows and its row of zeros and row of -inf.
    """
    out = []
    batch = pos.shape[1]
    for g in gathers:
        height, width = specs[g.source].size  # type: ignore[misc]
        th, tw = plan.tiles[g.source]  # type: ignore[misc]
        start = pos[g.node] * np.asarray(g.stride) - np.asarray(g.pad)
        rows = start[:, 0:1] + np.arange(g.length[0])[None, :]
        cols = start[:, 1:2] + np.arange(g.length[1])[None, :]
        inside = ((rows >= 0) & (rows < height))[:, :, None] & ((cols >= 0) & (cols < width))[
            :, None, :
        ]
        pad_row = height * width + (1 if g.fill == "min" else 0)
        clean = np.where(inside, rows[:, :, None] * width + cols[:, None, :], pad_row)
        tr = rows - pos[g.source, :, 0:1]
        tc = cols - pos[g.source, :, 1:2]
        in_tile = ((tr >= 0) & (tr < th))[:, :, None] & ((tc >= 0) & (tc < tw))[:, None, :]
        first = np.arange(batch)[:, None, None] * (th * tw)
        changed = first + tr[:, :, None] * tw + tc[:, None, :]
        out.append(np.where(in_tile, changed, clean + batch * th * tw).astype(np.int32))
    return out


def take_window(cache: Any, tile: Any, index: Any) -> Any:
    """Windows (B, lh, lw, C) read at ``index`` (:func:`gather_indices`) from a node's
    tiles (B, th, tw, C) over its cache (H * W + 2, C)."""
    from keras import ops

    table = ops.concatenate([ops.reshape(tile, (-1, tile.shape[-1])), cache], axis=0)
    return ops.take(table, index, axis=0)


def run_full(
    nodes: Sequence[Node], x: Any, keep: Sequence[int], kernels: Kernels, weights: list[Any]
) -> tuple[Any, list[Any]]:
    """The whole graph in full on ``x`` with the engine's kernels (``weights`` are the
    tensors of ``kernels.tensors()``): (output, outputs of the nodes in ``keep``)."""
    values: dict[int, Any] = {0: x}
    for i in range(1, len(nodes)):
        values[i] = apply(nodes[i], i, values, kernels, weights)
    return values[len(nodes) - 1], [values[i] for i in keep]


def make_step(nodes: Sequence[Node], plan: TilePlan, kernels: Kernels) -> Callable[..., Any]:
    """``step(weights, caches, input_tile, pos, index) -> scores (B, K)`` for the batches
    of one plan.

    ``weights`` are ``kernels.tensors()``; ``caches`` follow ``plan.cached``;
    ``input_tile`` is (B, ph, pw, C), the copies' pixels over their input tiles; ``pos``
    (nodes, B, 2) int32 holds every tiled node's tile starts (rows of other nodes are
    ignored); ``index`` follows :func:`plan_gathers` (the windows' rows, from
    :func:`gather_indices`).
    """
    from keras import ops

    specs = [n.spec for n in nodes]
    gathers = plan_gathers(specs, plan)

    def step(weights: list[Any], caches: list[Any], input_tile: Any, pos: Any,
             index: list[Any]) -> Any:  # fmt: skip
        cache = dict(zip(plan.cached, caches, strict=True))
        reads = iter(zip(gathers, index, strict=True))
        tiles: dict[int, Any] = {0: input_tile}
        full: dict[int, Any] = {}

        def read() -> Any:
            g, rows = next(reads)
            return take_window(cache[g.source], tiles[g.source], rows)

        def whole(j: int) -> Any:
            if j not in full:
                full[j] = read()
            return full[j]

        for i in range(1, len(nodes)):
            spec, tile = specs[i], plan.tiles[i]
            if tile is None:
                full[i] = apply(nodes[i], i, {j: whole(j) for j in spec.inputs}, kernels, weights)
            elif isinstance(spec.rule, Pointwise):
                tiles[i] = apply(nodes[i], i, {j: tiles[j] for j in spec.inputs}, kernels, weights)
            elif isinstance(spec.rule, Window):
                rule, j = spec.rule, spec.inputs[0]
                inplace = plan.inplace[i][0]
                x = tiles[j] if inplace else read()
                starts = _starts(nodes[i].op, rule, pos, i, inplace)
                tiles[i] = window(nodes[i], i, x, starts, _size(specs, j), kernels, weights)
            else:
                assert isinstance(spec.rule, Merge)
                parts = {j: tiles[j] if same else read()
                         for j, same in zip(spec.inputs, plan.inplace[i], strict=True)}  # fmt: skip
                tiles[i] = apply(nodes[i], i, parts, kernels, weights)
        out = whole(len(nodes) - 1)
        return ops.reshape(ops.cast(out, "float32"), (out.shape[0], -1))

    return step


def _size(specs: Sequence[Any], i: int) -> tuple[int, int]:
    size = specs[i].size
    assert size is not None
    return size  # type: ignore[no-any-return]


def _starts(op: Any, rule: Window, pos: Any, i: int, inplace: bool) -> Any:
    """The windows' first input rows and columns (B, 2), where the kernel needs them
    (average pooling with "same" padding); None elsewhere (fewer ops to trace)."""
    from keras import ops

    if not needs_starts(op):
        return None
    if inplace:
        return pos[i]
    stride = ops.convert_to_tensor([list(rule.stride)], dtype="int32")
    return pos[i] * stride - ops.convert_to_tensor([list(rule.pad)], dtype="int32")


def compile_fn(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` compiled by the active Keras backend (traced once per input shape); on
    PyTorch, run eagerly without recording gradients."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        compiled: Callable[..., Any] = tf.function(fn, autograph=False)
        return compiled
    if backend == "jax":
        import jax

        jitted: Callable[..., Any] = jax.jit(fn)
        return jitted
    if backend == "torch":

        def ungraded(*args: Any) -> Any:
            with no_grad():
                return fn(*args)

        return ungraded
    return fn
