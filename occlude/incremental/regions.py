"""Where an occlusion changes each layer's output: pure integer geometry, no Keras.

A network is described as a list of :class:`Spec` nodes in topological order (node 0 is
the image). Every spatial rule acts on the two axes independently, so a changed rectangle
is a pair of half-open intervals ``[a, b)``, one per axis, and the functions here work on
one axis at a time, vectorised over many copies (numpy int64 arrays).

An empty interval is stored as ``(EMPTY_A, EMPTY_B)`` so that the rules (min/max/ceil)
keep it empty without special cases.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EMPTY_A = 1 << 40
EMPTY_B = -(1 << 40)


@dataclass(frozen=True)
class Pointwise:
    """Each output pixel depends on the same input pixel only (BatchNorm, ReLU, ...)."""


@dataclass(frozen=True)
class Window:
    """A sliding window (convolution, pooling, padding, cropping) on one input.

    Output ``o`` reads input ``o * stride - pad + i * dilation`` for ``i < kernel``, per
    axis; ``pad`` is the padding before the first pixel (negative for cropping) and
    ``fill`` what the layer reads outside its input (``"zero"`` or ``"min"``, -inf).
    """

    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    pad: tuple[int, int] = (0, 0)
    fill: str = "zero"

    def span(self, axis: int) -> int:
        """Input pixels one output pixel reads along ``axis`` (the dilated kernel)."""
        return self.dilation[axis] * (self.kernel[axis] - 1) + 1


@dataclass(frozen=True)
class Merge:
    """Element-wise on several inputs of one size (Add, Multiply, Concatenate, ...)."""


@dataclass(frozen=True)
class Opaque:
    """Anything else: global layers and unknown ones. The copies run in full from here."""

    reason: str = "unknown layer"


Rule = Pointwise | Window | Merge | Opaque


@dataclass(frozen=True)
class Spec:
    """One node of the network: its rule, inputs, output map size and multiply-adds.

    ``size`` is the output's (height, width), or ``None`` when the output is not a
    spatial map; ``macs`` counts the multiply-adds of the whole output for one image.
    """

    name: str
    rule: Rule
    inputs: tuple[int, ...]
    size: tuple[int, int] | None
    macs: int = 0


def same_padding(length: int, span: int, stride: int) -> int:
    """Keras/TensorFlow "same" padding before the first pixel (the odd one goes after).

    >>> same_padding(224, 3, 2), same_padding(7, 3, 2), same_padding(5, 1, 2)
    (0, 1, 0)
    """
    out = -(-length // stride)
    total = max((out - 1) * stride + span - length, 0)
    return total // 2


def window_interval(
    a: np.ndarray, b: np.ndarray, span: int, stride: int, pad: int, length_out: int
) -> tuple[np.ndarray, np.ndarray]:
    """Outputs of a window op that read any input in ``[a, b)``, clipped to the output.

    >>> [v.tolist() for v in window_interval(np.array([5]), np.array([9]), 3, 2, 1, 8)]
    [[2], [5]]
    """
    a_out = np.maximum(-((-(a + pad - span + 1)) // stride), 0)
    b_out = np.minimum(-((-(b + pad)) // stride), length_out)
    return _normalise(a_out, b_out)


def _normalise(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    empty = b <= a
    return np.where(empty, EMPTY_A, a), np.where(empty, EMPTY_B, b)


def window_centre(c: np.ndarray, span: int, stride: int, pad: int) -> np.ndarray:
    """Where an input point ``c`` (continuous coordinates) lands in a window op's output."""
    return (c + pad - span / 2) / stride + 0.5


def cap_length(length: int, tau: float) -> int:
    """The approximate mode's cap on a recomputed interval: ``ceil(tau * length)``, ≥ 1.

    >>> cap_length(7, 0.8), cap_length(56, 0.5), cap_length(7, 1.0)
    (6, 28, 7)
    """
    return max(1, min(length, math.ceil(tau * length - 1e-9)))


def cap_interval(
    a: np.ndarray, b: np.ndarray, centre: np.ndarray, cap: int
) -> tuple[np.ndarray, np.ndarray]:
    """Shrink intervals longer than ``cap`` to ``cap``, centred on ``centre`` inside them.

    >>> [v.tolist() for v in cap_interval(np.array([0]), np.array([10]), np.array([7.0]), 4)]
    [[5], [9]]
    """
    long = (b - a) > cap
    start = np.clip(np.floor(centre - cap / 2 + 0.5).astype(np.int64), a, b - cap)
    return np.where(long, start, a), np.where(long, start + cap, b)


@dataclass(frozen=True)
class AxisRegions:
    """Per node, the changed interval along one axis for each copy (``None``: not spatial)."""

    a: tuple[np.ndarray | None, ...]
    b: tuple[np.ndarray | None, ...]

    def length(self, node: int) -> np.ndarray | None:
        a, b = self.a[node], self.b[node]
        return None if a is None or b is None else np.maximum(b - a, 0)


def propagate_axis(
    specs: Sequence[Spec], axis: int, a0: np.ndarray, b0: np.ndarray, tau: float = 1.0
) -> AxisRegions:
    """Changed intervals along ``axis`` at every node, for copies changed over ``[a0, b0)``.

    With ``tau < 1`` each spatial node's interval but the input's (the occluded patch is
    always applied whole) is capped at ``cap_length(L, tau)`` of its length ``L``,
    centred on the occlusion's projected centre (the approximate mode);
    the cap is applied before the interval is passed on. Nodes after an :class:`Opaque`
    one, and non-spatial ones, get ``None``.
    """
    a_out: list[np.ndarray | None] = []
    b_out: list[np.ndarray | None] = []
    centres: list[np.ndarray | None] = []
    for spec in specs:
        a, b, c = _node_interval(spec, axis, a0, b0, a_out, b_out, centres)
        capped = tau < 1.0 and spec.size and spec.inputs  # never the input: the patch is whole
        if a is not None and b is not None and c is not None and capped:
            assert spec.size is not None
            a, b = cap_interval(a, b, c, cap_length(spec.size[axis], tau))
        a_out.append(a)
        b_out.append(b)
        centres.append(c)
    return AxisRegions(tuple(a_out), tuple(b_out))


def _node_interval(
    spec: Spec,
    axis: int,
    a0: np.ndarray,
    b0: np.ndarray,
    a_out: list[np.ndarray | None],
    b_out: list[np.ndarray | None],
    centres: list[np.ndarray | None],
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    if not spec.inputs:
        a, b = _normalise(np.asarray(a0, np.int64), np.asarray(b0, np.int64))
        return a, b, (a0 + b0) / 2.0
    ins = [(a_out[i], b_out[i], centres[i]) for i in spec.inputs]
    if spec.size is None or any(x is None for t in ins for x in t):
        return None, None, None
    rule = spec.rule
    if isinstance(rule, Pointwise):
        return ins[0]
    if isinstance(rule, Window):
        wa, wb, wc = ins[0]
        assert wa is not None and wb is not None and wc is not None
        span, stride, pad = rule.span(axis), rule.stride[axis], rule.pad[axis]
        a2, b2 = window_interval(wa, wb, span, stride, pad, spec.size[axis])
        return a2, b2, window_centre(wc, span, stride, pad)
    if isinstance(rule, Merge):
        a_all = np.min(np.stack([t[0] for t in ins if t[0] is not None]), axis=0)
        b_all = np.max(np.stack([t[1] for t in ins if t[1] is not None]), axis=0)
        c_all = np.mean(np.stack([t[2] for t in ins if t[2] is not None]), axis=0)
        a_n, b_n = _normalise(a_all, b_all)
        return a_n, b_n, c_all
    return None, None, None


def tile_starts(a: np.ndarray, tile: int, length: int) -> np.ndarray:
    """Start of a fixed ``tile`` that holds ``[a, a + tile)``, shifted inward at the end.

    >>> tile_starts(np.array([0, 5, 9, EMPTY_A]), 4, 10).tolist()
    [0, 5, 6, 6]
    """
    return np.asarray(np.clip(np.minimum(a, length - tile), 0, max(length - tile, 0)), np.int64)
