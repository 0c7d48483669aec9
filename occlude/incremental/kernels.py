"""The engine's own kernels: raw ops on weights passed as arguments, instead of Keras
layer calls.

Tracing the tile step costs time in proportion to the graph ops it builds, and a Keras
layer call builds more than its maths (name scopes, variable reads, input casts). So the
engine evaluates every node of a float32 graph through :func:`apply`, in the clean pass
and in the step alike (one computation path):

* convolutions run as ``keras.ops`` on their kernel and bias, and inference BatchNorms as
  ``x * scale + shift`` with ``scale = gamma / sqrt(variance + epsilon)`` and
  ``shift = beta - mean * scale``, TensorFlow's own formula (the same float32 results);
  these weights are read from the model at each session (:meth:`Kernels.tensors`) and
  passed to the compiled functions as arguments, not traced in as per-layer constants;
* layers whose ``call`` is plain maths are called without ``Layer.__call__``'s wrapping;
  every other node is called as the model calls it.

Folding each BatchNorm into the convolution before it would remove its two ops too, but
measured on ResNet50 it gained nothing visible in tracing time and it moved the scores by
up to 2.5 times the engine's round-off (a different float32 computation), so it is not done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

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
    """Which nodes :func:`apply` runs on weights of its own: per such node, its slots in
    the list :meth:`tensors` makes."""

    sources: list[Any] = field(default_factory=list)
    slots: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def take(self, weights: Sequence[Any], i: int) -> tuple[Any, ...]:
        """Node ``i``'s weights among ``weights`` (from :meth:`tensors`)."""
        return tuple(weights[k] for k in self.slots[i])

    def tensors(self) -> list[Any]:
        """The weights as backend tensors, read from the model's variables as they are now
        (each session reads them, so a model changed between calls is never scored on stale
        weights)."""
        from keras import ops

        out: list[Any] = []
        with no_grad():  # PyTorch would record the BatchNorms' maths for a backward pass
            for op in self.sources:
                if type(op).__name__ == "BatchNormalization":
                    out.extend(_affine(op))
                else:
                    out.append(ops.convert_to_tensor(op.kernel))
                    if op.use_bias:
                        out.append(ops.convert_to_tensor(op.bias))
        return out


def no_grad() -> AbstractContextManager[Any]:
    """The engine only evaluates: on PyTorch, ``torch.no_grad()``; elsewhere nothing."""
    import keras

    if keras.backend.backend() == "torch":
        import torch

        return torch.no_grad()
    return nullcontext()


def weights_of(nodes: Sequence[Node]) -> Kernels:
    """The weights :func:`apply` reads for ``nodes``."""
    out = Kernels()
    start = 0
    for i, node in enumerate(nodes):
        kind = _raw_kind(node)
        if kind not in ("conv", "depthwise", "batch_norm"):
            continue
        count = 2 if kind == "batch_norm" or node.op.use_bias else 1
        out.slots[i] = tuple(range(start, start + count))
        out.sources.append(node.op)
        start += count
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


def _affine(bn: Any) -> tuple[Any, Any]:
    """An inference BatchNorm as ``x * scale + shift``, as TensorFlow's
    ``batch_normalization`` computes them: ``scale = gamma / sqrt(variance + epsilon)``,
    ``shift = beta - mean * scale``."""
    from keras import ops

    scale = ops.rsqrt(ops.add(ops.convert_to_tensor(bn.moving_variance), bn.epsilon))
    if bn.scale:
        scale = ops.multiply(scale, ops.convert_to_tensor(bn.gamma))
    shift = ops.negative(ops.multiply(ops.convert_to_tensor(bn.moving_mean), scale))
    if bn.center:
        shift = ops.add(ops.convert_to_tensor(bn.beta), shift)
    return scale, shift
