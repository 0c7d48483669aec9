"""Which nodes a patch size lets the engine compute on tiles, their tile sizes and cost.

Pure functions of the network's :class:`~occlude.incremental.regions.Spec` list: they
know nothing of Keras, so the rules are tested with exact expected numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from occlude.incremental.regions import (
    AxisRegions,
    Merge,
    Opaque,
    Pointwise,
    Rule,
    Spec,
    Window,
    propagate_axis,
)

SWITCH_THRESHOLD = 0.7
"""A node switches the copies to full computation once its tile covers this much of it.

Tile work carries overhead (gathering windows, small convolutions run less efficiently
than large ones); past 70% of a map the saving no longer pays for it.
"""

WORTH_IT = 0.75
"""``auto`` computes incrementally when at most this fraction of multiply-adds is left."""


@dataclass(frozen=True)
class TilePlan:
    """How one patch size is computed: a tile per incrementally computed node.

    ``tiles[i]`` is node ``i``'s fixed (height, width) tile, or ``None`` where the copies
    are computed in full; ``inplace[i][k]`` says that node ``i``'s ``k``-th input has the
    same changed region as node ``i`` for every box that fits the patch, so its tile is
    read as it is (no gather); ``cached`` lists the nodes whose clean output a batch reads.
    """

    patch: tuple[int, int]
    tau: float
    tiles: tuple[tuple[int, int] | None, ...]
    inplace: tuple[tuple[bool, ...], ...]
    cached: tuple[int, ...]
    switch: int | None
    macs_computed: float
    macs_full: int

    @property
    def macs_fraction(self) -> float:
        return self.macs_computed / self.macs_full if self.macs_full else 1.0


def tileable(specs: Sequence[Spec]) -> list[bool]:
    """Nodes that some patch could leave tiled: spatial, known, after no opaque node."""
    out: list[bool] = []
    for spec in specs:
        ok = spec.size is not None and not isinstance(spec.rule, Opaque)
        out.append(ok and all(out[i] for i in spec.inputs))
    return out


def consumers(specs: Sequence[Spec]) -> list[list[int]]:
    users: list[list[int]] = [[] for _ in specs]
    for j, spec in enumerate(specs):
        for i in spec.inputs:
            users[i].append(j)
    return users


def cache_nodes(specs: Sequence[Spec]) -> tuple[int, ...]:
    """Nodes whose clean output any plan may read (a superset of every plan's ``cached``).

    A pointwise consumer of a tiled node is always tiled itself, so nodes read only by
    pointwise layers are never needed, except the input: a patch as large as the image
    covers it whole, so the copies switch to full right there and paste into its cache.
    """
    ok = tileable(specs)
    users = consumers(specs)
    last = len(specs) - 1
    need = [
        i
        for i in range(len(specs))
        if ok[i]
        and (
            i in (0, last)  # the input: a patch as large as the image switches to full there
            or any(not isinstance(specs[j].rule, Pointwise) for j in users[i])
        )
    ]
    return tuple(need)


def axis_intervals(length: int, patch: int) -> tuple[np.ndarray, np.ndarray]:
    """Every interval of 1 to ``patch`` pixels along an axis of ``length`` pixels.

    >>> [v.tolist() for v in axis_intervals(3, 2)]
    [[0, 1, 2, 0, 1], [1, 2, 3, 2, 3]]
    """
    starts = [
        np.arange(0, length - n + 1, dtype=np.int64) for n in range(1, min(patch, length) + 1)
    ]
    lengths = [np.full(len(a), n, dtype=np.int64) for n, a in enumerate(starts, 1)]
    a = np.concatenate(starts)
    return a, a + np.concatenate(lengths)


def make_plan(
    specs: Sequence[Spec],
    patch: tuple[int, int],
    threshold: float = SWITCH_THRESHOLD,
    tau: float = 1.0,
) -> TilePlan:
    """The tiles for patches of ``patch`` = (height, width) pixels anywhere in the image.

    A node's tile is the longest changed interval over every box that fits the patch, per
    axis, so one tile shape serves every copy. A node is computed in full when it is
    opaque or not a spatial map, when an input is computed in full, or when its tile
    covers at least ``threshold`` of its area (never the image itself: the copies are
    made from its tile).
    """
    size = specs[0].size
    assert size is not None
    regions = [
        propagate_axis(specs, axis, *axis_intervals(size[axis], patch[axis]), tau=tau)
        for axis in (0, 1)
    ]
    tiles: list[tuple[int, int] | None] = []
    for i, spec in enumerate(specs):
        tiles.append(_tile(spec, i, regions, tiles, threshold))
    inplace = tuple(
        tuple(
            _no_halo(spec.rule)
            and spec.size == specs[j].size
            and _same_region(regions, tiles, i, j)
            for j in spec.inputs
        )
        for i, spec in enumerate(specs)
    )
    switch = next((i for i, t in enumerate(tiles) if t is None), None)
    computed = 0.0
    for spec, tile in zip(specs, tiles, strict=True):
        if tile is None or spec.size is None:
            computed += spec.macs
        else:
            computed += spec.macs * tile[0] * tile[1] / (spec.size[0] * spec.size[1])
    users = consumers(specs)
    last = len(specs) - 1
    cached = tuple(
        i
        for i, tile in enumerate(tiles)
        if tile is not None
        and (
            i == last
            or any(
                not inplace[j][k]
                for j in users[i]
                for k, src in enumerate(specs[j].inputs)
                if src == i
            )
            or any(tiles[j] is None for j in users[i])
        )
    )
    return TilePlan(
        patch=patch,
        tau=tau,
        tiles=tuple(tiles),
        inplace=inplace,
        cached=cached,
        switch=switch,
        macs_computed=computed,
        macs_full=sum(s.macs for s in specs),
    )


def _no_halo(rule: Rule) -> bool:
    """Whether the node reads each output pixel's input at that pixel only."""
    if isinstance(rule, Window):
        return rule.kernel == (1, 1) and rule.stride == (1, 1) and rule.pad == (0, 0)
    return isinstance(rule, Pointwise | Merge)


def _same_region(
    regions: Sequence[AxisRegions], tiles: Sequence[tuple[int, int] | None], i: int, j: int
) -> bool:
    """Whether node ``i`` (of input ``j``'s size) can read ``j``'s tile as it is, for every box.

    Equal intervals, tile sizes and map sizes give equal tile starts.
    """
    if tiles[i] is None or tiles[j] is None or tiles[i] != tiles[j]:
        return False
    for r in regions:
        ai, bi, aj, bj = r.a[i], r.b[i], r.a[j], r.b[j]
        if ai is None or bi is None or aj is None or bj is None:
            return False
        if not (np.array_equal(ai, aj) and np.array_equal(bi, bj)):
            return False
    return True


def _tile(
    spec: Spec,
    index: int,
    regions: Sequence[AxisRegions],
    tiles: Sequence[tuple[int, int] | None],
    threshold: float,
) -> tuple[int, int] | None:
    if spec.size is None or isinstance(spec.rule, Opaque):
        return None
    if any(tiles[i] is None for i in spec.inputs):
        return None
    lengths = [r.length(index) for r in regions]
    if lengths[0] is None or lengths[1] is None:
        return None
    th = max(int(lengths[0].max()), 1)
    tw = max(int(lengths[1].max()), 1)
    if spec.inputs and th * tw >= threshold * spec.size[0] * spec.size[1]:
        return None
    return th, tw


def group_boxes(
    boxes: np.ndarray, merge_ratio: float = 4.0
) -> list[tuple[tuple[int, int], np.ndarray]]:
    """Group boxes (rows ``[x0, y0, x1, y1]``) by the (height, width) of the tile that
    serves them: ``[(shape, indices), ...]``.

    Each distinct (height, width) is a group, except that a smaller shape joins the
    smallest larger group that contains it within ``merge_ratio`` of its area (the
    clipped border windows of a scale join its full-size windows), so a sweep compiles
    one function per scale.

    >>> [(s, i.tolist()) for s, i in group_boxes(np.array([[0, 0, 4, 4], [6, 0, 8, 4]]))]
    [((4, 4), [0, 1])]
    """
    hw = np.stack([boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]], axis=1)
    shapes = sorted({(int(h), int(w)) for h, w in hw}, key=lambda s: (-s[0] * s[1], s))
    roots: list[tuple[int, int]] = []
    target: dict[tuple[int, int], tuple[int, int]] = {}
    for h, w in shapes:
        fits = [r for r in roots if r[0] >= h and r[1] >= w and r[0] * r[1] <= merge_ratio * h * w]
        if fits:
            target[(h, w)] = min(fits, key=lambda r: r[0] * r[1])
        else:
            roots.append((h, w))
            target[(h, w)] = (h, w)
    keys = [target[(int(h), int(w))] for h, w in hw]
    return [
        (root, np.array([k for k, key in enumerate(keys) if key == root], dtype=np.int64))
        for root in roots
    ]
