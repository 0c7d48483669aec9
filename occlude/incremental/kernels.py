"""The engine's own kernels: BatchNorm folded into the convolution before it, raw ops
instead of Keras layer calls.

Tracing the tile step costs time in proportion to the graph ops it builds, and a Keras
layer call builds more than its maths (name scopes, variable reads, input casts). So the
engine evaluates every node of a float32 graph through :func:`apply`, in the clean pass
and in the step alike (one computation path):

* a convolution whose only reader is an inference BatchNorm gets the BatchNorm folded into
  its kernel and bias once on the host (``kernel * s``, ``(bias - mean) * s + beta`` with
  ``s = gamma / sqrt(variance + epsilon)``); the node then yields the BatchNorm's output
  and the BatchNorm node is the identity;
* other convolutions and BatchNorms run as ``keras.ops`` on host arrays; the weights are
  the compiled functions' arguments (:attr:`Kernels.arrays`), not per-layer constants;
* layers whose ``call`` is plain maths are called without ``Layer.__call__``'s wrapping;
  every other node is called as the model calls it.

Folding changes float32 round-off only (maps agree with the model within it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from occlude.incremental.graph import Node
from occlude.incremental.layers import kind_of, not_float32, run_window
from occlude.incremental.regions import Pointwise, Window

DIRECT = (
    "Activation",
    "ReLU",
    "Add",
    "Subtract",
    "Multiply",
    "Maximum",
    "Minimum",
    "Average",
    "Concatenate",
    "ZeroPadding2D",
    "Cropping2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "Flatten",
    "Dense",
    "Dropout",
    "Identity",
)
"""Layers whose ``call`` is their maths: the engine calls it directly."""


@dataclass
class Kernels:
    """The engine's weights: host arrays per node and the BatchNorm nodes folded away."""

    arrays: list[np.ndarray] = field(default_factory=list)
    slots: dict[int, tuple[int, ...]] = field(default_factory=dict)
    folded: set[int] = field(default_factory=set)

    def take(self, weights: Sequence[Any], i: int) -> tuple[Any, ...]:
        """Node ``i``'s weights among ``weights`` (the tensors of :attr:`arrays`)."""
        return tuple(weights[k] for k in self.slots[i])


def fold(nodes: Sequence[Node]) -> Kernels:
    """The weights :func:`apply` reads, BatchNorms folded where they follow a convolution."""
    readers: dict[int, list[int]] = {}
    for i, node in enumerate(nodes):
        for j in node.spec.inputs:
            readers.setdefault(j, []).append(i)
    out = Kernels()

    def keep(i: int, *arrays: np.ndarray) -> None:
        out.slots[i] = tuple(range(len(out.arrays), len(out.arrays) + len(arrays)))
        out.arrays.extend(np.asarray(a, dtype=np.float32) for a in arrays)

    for i, node in enumerate(nodes):
        kind = _raw_kind(node)
        if kind in ("conv", "depthwise"):
            op = node.op
            kernel = np.asarray(op.kernel, dtype=np.float64)
            bias = np.asarray(op.bias, dtype=np.float64) if op.use_bias else None
            after = readers.get(i, [])
            if len(after) == 1 and _linear(op) and _raw_kind(nodes[after[0]]) == "batch_norm":
                scale, shift = _affine(nodes[after[0]].op)
                flat = kernel.reshape(*kernel.shape[:2], -1) if kind == "depthwise" else kernel
                kernel = (flat * scale).reshape(kernel.shape)
                bias = (0.0 if bias is None else bias) * scale + shift
                out.folded.add(after[0])
            keep(i, kernel) if bias is None else keep(i, kernel, bias)
        elif kind == "batch_norm" and i not in out.folded:
            keep(i, *_affine(node.op))
    return out


def apply(
    node: Node, i: int, values: Mapping[int, Any], kernels: Kernels, weights: Sequence[Any]
) -> Any:
    """Node ``i`` on its inputs' full values (as :meth:`Node.call`, on the engine's weights)."""
    from keras import ops

    kind = _raw_kind(node)
    if kind in ("conv", "depthwise"):
        op, rule, x = node.op, node.spec.rule, values[node.spec.inputs[0]]
        assert isinstance(rule, Window)
        return conv(op, kind, rule, x, kernels.take(weights, i), op.padding)
    if kind == "batch_norm":
        x = values[node.spec.inputs[0]]
        if i in kernels.folded:
            return x
        scale, shift = kernels.take(weights, i)
        return ops.add(ops.multiply(x, scale), shift)
    if kind == "direct":
        table = {key: values[j] for key, j in zip(node.keys, node.spec.inputs, strict=True)}
        args, kwargs = node.arguments.fill_in(table)
        if getattr(node.op, "_call_has_training_arg", False):
            kwargs["training"] = False
        return node.op.call(*args, **kwargs)
    return node.call(values)


def window(
    node: Node,
    i: int,
    x: Any,
    starts: Any,
    in_size: tuple[int, int],
    kernels: Kernels,
    weights: Sequence[Any],
) -> Any:
    """A window node's kernel on gathered windows ``x`` with "valid" padding (see
    :func:`~occlude.incremental.layers.run_window`), on the engine's weights."""
    kind, rule = _raw_kind(node), node.spec.rule
    assert isinstance(rule, Window)
    if kind in ("conv", "depthwise"):
        return conv(node.op, kind, rule, x, kernels.take(weights, i), "valid")
    return run_window(node.op, rule, x, starts, in_size)


def conv(op: Any, kind: str, rule: Window, x: Any, weights: tuple[Any, ...], padding: str) -> Any:
    """A (depthwise) convolution layer's maths on ``x`` with the engine's ``weights``."""
    from keras import ops

    if kind == "depthwise":
        y = ops.depthwise_conv(x, weights[0], rule.stride, padding, "channels_last", rule.dilation)
    else:
        y = ops.conv(x, weights[0], rule.stride, padding, "channels_last", rule.dilation)
    if len(weights) > 1:
        y = ops.add(y, weights[1])
    if op.activation is not None and not _linear(op):
        y = op.activation(y)
    return y


def _raw_kind(node: Node) -> str:
    """How :func:`apply` runs a node: "conv", "depthwise", "batch_norm", "direct" or ""."""
    op = node.op
    if op is None or not node.meta.get("float32") or not_float32(op) is not None:
        return ""
    kind = kind_of(op)
    if kind in ("conv", "depthwise") and isinstance(node.spec.rule, Window):
        return kind
    name = type(op).__name__
    if name == "BatchNormalization" and isinstance(node.spec.rule, Pointwise):
        return "batch_norm"
    return "direct" if name in DIRECT else ""


def _linear(op: Any) -> bool:
    return getattr(op.activation, "__name__", "") == "linear"


def _affine(bn: Any) -> tuple[np.ndarray, np.ndarray]:
    """An inference BatchNorm as ``x * scale + shift`` (float64 on the host)."""
    mean = np.asarray(bn.moving_mean, dtype=np.float64)
    variance = np.asarray(bn.moving_variance, dtype=np.float64)
    scale = 1.0 / np.sqrt(variance + bn.epsilon)
    if bn.scale:
        scale = scale * np.asarray(bn.gamma, dtype=np.float64)
    shift = -mean * scale
    if bn.center:
        shift = shift + np.asarray(bn.beta, dtype=np.float64)
    return scale, shift
