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
from typing import Any

from occlude.incremental.graph import Node
from occlude.incremental.layers import run_window
from occlude.incremental.plan import TilePlan
from occlude.incremental.regions import Merge, Pointwise, Window


def cache_table(output: Any) -> Any:
    """A node's clean output (1, H, W, C) as its cache (H * W + 2, C)."""
    from keras import ops

    channels = output.shape[-1]
    flat = ops.reshape(ops.cast(output, "float32"), (-1, channels))
    pads = ops.stack(
        [ops.zeros((channels,), "float32"), ops.full((channels,), float("-inf"), "float32")]
    )
    return ops.concatenate([flat, pads], axis=0)


def gather_window(
    cache: Any,
    size: tuple[int, int],
    tile: Any,
    tile_pos: Any,
    start: Any,
    length: tuple[int, int],
    fill: str = "zero",
) -> Any:
    """Windows (B, lh, lw, C) of each copy's map at ``start`` (B, 2): tile over cache.

    Pixels inside a copy's tile come from the tile, other pixels inside the map from the
    cache, and pixels outside the map are 0 (``fill="zero"``) or -inf (``"min"``).
    """
    from keras import ops

    height, width = size
    batch, th, tw, channels = tile.shape
    rows = start[:, 0:1] + ops.arange(length[0], dtype="int32")[None, :]
    cols = start[:, 1:2] + ops.arange(length[1], dtype="int32")[None, :]
    inside = ((rows >= 0) & (rows < height))[:, :, None] & ((cols >= 0) & (cols < width))[
        :, None, :
    ]
    pad_row = height * width + (1 if fill == "min" else 0)
    flat = rows[:, :, None] * width + cols[:, None, :]
    clean = ops.take(cache, ops.where(inside, flat, pad_row), axis=0)
    tr = rows - tile_pos[:, 0:1]
    tc = cols - tile_pos[:, 1:2]
    in_tile = ((tr >= 0) & (tr < th))[:, :, None] & ((tc >= 0) & (tc < tw))[:, None, :]
    first = ops.arange(batch, dtype="int32")[:, None, None] * (th * tw)
    index = first + ops.clip(tr, 0, th - 1)[:, :, None] * tw + ops.clip(tc, 0, tw - 1)[:, None, :]
    changed = ops.take(ops.reshape(tile, (-1, channels)), index, axis=0)
    return ops.where(in_tile[..., None], changed, clean)


def materialize(cache: Any, size: tuple[int, int], tile: Any, tile_pos: Any) -> Any:
    """Each copy's whole map (B, H, W, C): its tile pasted into the clean map."""
    from keras import ops

    height, width = size
    batch, th, tw, channels = tile.shape
    base = ops.reshape(cache[: height * width], (1, height, width, channels))
    base = ops.broadcast_to(base, (batch, height, width, channels))
    b = ops.broadcast_to(ops.arange(batch, dtype="int32")[:, None, None], (batch, th, tw))
    r = ops.broadcast_to(
        tile_pos[:, 0, None, None] + ops.arange(th, dtype="int32")[None, :, None], (batch, th, tw)
    )
    c = ops.broadcast_to(
        tile_pos[:, 1, None, None] + ops.arange(tw, dtype="int32")[None, None, :], (batch, th, tw)
    )
    index = ops.reshape(ops.stack([b, r, c], axis=-1), (-1, 3))
    return ops.scatter_update(base, index, ops.reshape(tile, (-1, channels)))


def run_full(nodes: Sequence[Node], x: Any, keep: Sequence[int]) -> tuple[Any, list[Any]]:
    """The whole graph in full on ``x``: (output, outputs of the nodes in ``keep``)."""
    values: dict[int, Any] = {0: x}
    for i in range(1, len(nodes)):
        values[i] = nodes[i].call(values)
    return values[len(nodes) - 1], [values[i] for i in keep]


def make_step(nodes: Sequence[Node], plan: TilePlan) -> Callable[[list[Any], Any, Any], Any]:
    """``step(caches, input_tile, pos) -> scores (B, K)`` for the batches of one plan.

    ``caches`` follow ``plan.cached``; ``input_tile`` is (B, ph, pw, C), the copies'
    pixels over their input tiles; ``pos`` (nodes, B, 2) int32 holds every tiled node's
    tile starts (rows of other nodes are ignored).
    """
    from keras import ops

    specs = [n.spec for n in nodes]

    def step(caches: list[Any], input_tile: Any, pos: Any) -> Any:
        cache = dict(zip(plan.cached, caches, strict=True))
        tiles: dict[int, Any] = {0: input_tile}
        full: dict[int, Any] = {}

        def whole(i: int) -> Any:
            if i not in full:
                size = specs[i].size
                assert size is not None
                full[i] = materialize(cache[i], size, tiles[i], pos[i])
            return full[i]

        for i in range(1, len(nodes)):
            spec, tile = specs[i], plan.tiles[i]
            if tile is None:
                full[i] = nodes[i].call({j: whole(j) for j in spec.inputs})
            elif isinstance(spec.rule, Pointwise):
                tiles[i] = nodes[i].call({j: tiles[j] for j in spec.inputs})
            elif isinstance(spec.rule, Window):
                if plan.inplace[i][0]:
                    x = tiles[spec.inputs[0]]
                    tiles[i] = run_window(nodes[i].op, spec.rule, x, pos[i], _size(specs, i))
                else:
                    tiles[i] = _window(nodes[i], spec.rule, cache, tiles, pos, specs, tile, i)
            else:
                assert isinstance(spec.rule, Merge)
                parts = {
                    j: tiles[j]
                    if same
                    else gather_window(cache[j], _size(specs, j), tiles[j], pos[j], pos[i], tile)
                    for j, same in zip(spec.inputs, plan.inplace[i], strict=True)
                }
                tiles[i] = nodes[i].call(parts)
        out = whole(len(nodes) - 1)
        return ops.reshape(ops.cast(out, "float32"), (out.shape[0], -1))

    return step


def _size(specs: Sequence[Any], i: int) -> tuple[int, int]:
    size = specs[i].size
    assert size is not None
    return size  # type: ignore[no-any-return]


def _window(
    node: Node,
    rule: Window,
    cache: dict[int, Any],
    tiles: dict[int, Any],
    pos: Any,
    specs: Sequence[Any],
    tile: tuple[int, int],
    i: int,
) -> Any:
    j = node.spec.inputs[0]
    in_size = _size(specs, j)
    stride = _int_row(rule.stride)
    start = pos[i] * stride - _int_row(rule.pad)
    length = (
        (tile[0] - 1) * rule.stride[0] + rule.span(0),
        (tile[1] - 1) * rule.stride[1] + rule.span(1),
    )
    window = gather_window(cache[j], in_size, tiles[j], pos[j], start, length, rule.fill)
    return run_window(node.op, rule, window, start, in_size)


def _int_row(pair: tuple[int, int]) -> Any:
    from keras import ops

    return ops.convert_to_tensor([[pair[0], pair[1]]], dtype="int32")


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
        import torch

        def no_grad(*args: Any) -> Any:
            with torch.no_grad():
                return fn(*args)

        return no_grad
    return fn
