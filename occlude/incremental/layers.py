"""What the engine knows about Keras layers: their region rule, cost and tile kernel.

``classify`` reads a layer's configuration into a pure rule (see
:mod:`occlude.incremental.regions`); ``run_window`` runs a sliding-window layer's own
kernel with "valid" padding on gathered windows, with ``keras.ops`` only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from occlude.incremental.regions import Merge, Opaque, Pointwise, Rule, Window, same_padding

Shape = tuple[Any, ...]


def _spatial(shape: Shape) -> tuple[int, int] | None:
    if len(shape) == 4 and isinstance(shape[1], int) and isinstance(shape[2], int):
        return int(shape[1]), int(shape[2])
    return None


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    first, second = tuple(value)
    return int(first), int(second)


def classify(
    op: Any, in_shapes: list[Shape], out_shape: Shape, dtypes: Sequence[str] = ()
) -> tuple[Rule, Any, int]:
    """(rule, output (height, width) or None, multiply-adds for one image) of ``op``.

    ``dtypes`` are those of its input and output tensors: a node that is not float32
    end to end is opaque (see :func:`not_float32`).
    """
    size = _spatial(out_shape)
    macs = layer_macs(op, in_shapes, out_shape)
    if size is None:
        return Opaque("not a spatial map"), None, macs
    reason = not_float32(op, dtypes)
    if reason is not None:
        return Opaque(reason), size, macs
    if not in_shapes or any(_spatial(s) is None for s in in_shapes):
        return Opaque("input is not a spatial map"), size, macs
    if getattr(op, "data_format", "channels_last") != "channels_last":
        return Opaque("channels_first"), size, macs
    in_size = _spatial(in_shapes[0])
    assert in_size is not None
    rule = _window_rule(op, in_size) if len(in_shapes) == 1 else None
    if rule is None:
        rule = _pointwise_or_merge(op, in_shapes, size)
    return rule, size, macs


def not_float32(op: Any, dtypes: Sequence[str] = ()) -> str | None:
    """Why ``op`` does not compute in float32 end to end, or None.

    Tiles and caches are float32 and a window layer's kernel runs on them as they are, so
    a layer under another dtype policy (``mixed_float16``, ``bfloat16``, a quantized one)
    or a node reading or returning other tensors (``uint8``, ``float16``) would silently
    compute something else than the model: the engine runs it, and what follows, in full.
    """
    import keras

    if isinstance(op, keras.layers.Layer):
        policy = op.dtype_policy.name
        if policy != "float32":
            return f"computes in {policy}"
    other = sorted({str(d) for d in dtypes} - {"float32"})
    return f"works on {', '.join(other)} tensors" if other else None


def kind_of(op: Any) -> str:
    import keras

    layers = keras.layers
    kinds: list[tuple[Any, str]] = [
        (layers.DepthwiseConv2D, "depthwise"),
        (layers.SeparableConv2D, "separable"),
        (layers.Conv2D, "conv"),
        (layers.MaxPooling2D, "max_pool"),
        (layers.AveragePooling2D, "average_pool"),
        (layers.ZeroPadding2D, "pad"),
        (layers.Cropping2D, "crop"),
    ]
    for cls, name in kinds:
        if isinstance(op, cls):
            return name
    return ""


def _window_rule(op: Any, in_size: tuple[int, int]) -> Rule | None:
    kind = kind_of(op)
    if kind == "pad":
        (top, _), (left, _) = op.padding
        return Window(pad=(int(top), int(left)))
    if kind == "crop":
        (top, _), (left, _) = op.cropping
        return Window(pad=(-int(top), -int(left)))
    if kind in ("max_pool", "average_pool"):
        kernel, stride, dilation = _pair(op.pool_size), _pair(op.strides), (1, 1)
    elif kind:
        kernel, stride, dilation = _pair(op.kernel_size), _pair(op.strides), _pair(op.dilation_rate)
    else:
        return None
    if op.padding not in ("same", "valid"):
        return Opaque(f"{op.padding} padding")
    spans = [dilation[i] * (kernel[i] - 1) + 1 for i in (0, 1)]
    pad = (0, 0)
    if op.padding == "same":
        pad = (
            same_padding(in_size[0], spans[0], stride[0]),
            same_padding(in_size[1], spans[1], stride[1]),
        )
    fill = "min" if kind == "max_pool" else "zero"
    return Window(kernel, stride, dilation, pad, fill)


POINTWISE = (
    "Activation",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Dropout",
    "SpatialDropout2D",
    "GaussianDropout",
    "GaussianNoise",
    "AlphaDropout",
    "ActivityRegularization",
    "Identity",
)
MERGE = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")


def _pointwise_or_merge(op: Any, in_shapes: list[Shape], size: tuple[int, int]) -> Rule:
    name = type(op).__name__
    if len(in_shapes) > 1 or name in MERGE or name == "Concatenate":
        same = all(_spatial(s) == size for s in in_shapes)
        if not same:
            return Opaque(f"{name} of maps of different sizes")
        if name in MERGE or (name == "Concatenate" and op.axis in (-1, 3)):
            return Merge()
        return Opaque(name)
    if name in POINTWISE or _per_channel(op, name):
        return Pointwise()
    return Opaque(name)


def _per_channel(op: Any, name: str) -> bool:
    """Layers that are element-wise when they act along the channel axis only."""
    if name in ("BatchNormalization", "Softmax"):
        return getattr(op, "axis", None) in (-1, 3, [-1], [3], (-1,), (3,))
    if name == "LayerNormalization":
        axes = op.axis if isinstance(op.axis, list | tuple) else [op.axis]
        return all(a in (-1, 3) for a in axes)
    if name == "Normalization":
        return op.axis in ((-1,), (3,), ())
    if name == "Rescaling":  # a per-channel scale and offset at most
        return all(np.ndim(np.asarray(v)) <= 1 for v in (op.scale, op.offset))
    if name == "PReLU":
        shared = set(op.shared_axes or ())
        return {1, 2} <= shared
    return False


def layer_macs(op: Any, in_shapes: list[Shape], out_shape: Shape) -> int:
    """Multiply-adds of one image through ``op`` (convolutions and dense layers)."""
    kind = kind_of(op)
    pixels = math.prod(int(d) for d in out_shape[1:-1] if d is not None)
    if kind in ("conv", "depthwise", "separable"):
        kh, kw = _pair(op.kernel_size)
        c_in = int(in_shapes[0][-1])
        c_out = int(out_shape[-1])
        if kind == "conv":
            return pixels * kh * kw * (c_in // max(int(getattr(op, "groups", 1)), 1)) * c_out
        if kind == "depthwise":
            return pixels * kh * kw * c_out
        mult = int(op.depth_multiplier)
        return pixels * (kh * kw * c_in * mult + c_in * mult * c_out)
    if type(op).__name__ == "Dense" and in_shapes and in_shapes[0][-1] is not None:
        return pixels * int(in_shapes[0][-1]) * int(out_shape[-1])
    return 0


def needs_starts(op: Any) -> bool:
    """Whether :func:`run_window` needs the windows' starts: average pooling with "same"
    padding divides by the pixels inside the image."""
    return kind_of(op) == "average_pool" and op.padding != "valid"


def run_window(op: Any, rule: Window, x: Any, starts: Any, in_size: tuple[int, int]) -> Any:
    """The layer's kernel on gathered windows ``x`` (B, h, w, C) with "valid" padding.

    ``starts`` (B, 2) are the windows' first input rows and columns (negative where they
    reach into the padding; only read where :func:`needs_starts`); average pooling with
    "same" padding divides by the number of input pixels inside the image, as the layer
    does.
    """
    from keras import ops

    kind = kind_of(op)
    if kind in ("pad", "crop"):
        return x
    if kind == "max_pool":
        return ops.max_pool(x, rule.kernel, rule.stride, "valid")
    if kind == "average_pool":
        y = ops.average_pool(x, rule.kernel, rule.stride, "valid")
        if op.padding == "valid":
            return y
        return y * _pool_correction(rule, starts, y.shape[1], y.shape[2], in_size)
    if kind == "depthwise":
        y = ops.depthwise_conv(x, op.kernel, rule.stride, "valid", "channels_last", rule.dilation)
    elif kind == "separable":
        y = ops.separable_conv(
            x,
            op.depthwise_kernel,
            op.pointwise_kernel,
            rule.stride,
            "valid",
            "channels_last",
            rule.dilation,
        )
    else:
        y = ops.conv(x, op.kernel, rule.stride, "valid", "channels_last", rule.dilation)
    if op.use_bias:
        y = ops.add(y, op.bias)
    if op.activation is not None:
        y = op.activation(y)
    return y


def _pool_correction(rule: Window, starts: Any, th: int, tw: int, in_size: tuple[int, int]) -> Any:
    """kernel area / pixels inside the image, per output pixel of the tile (B, th, tw, 1)."""
    from keras import ops

    factors = []
    for axis, n in ((0, th), (1, tw)):
        k, s, length = rule.kernel[axis], rule.stride[axis], in_size[axis]
        first = starts[:, axis : axis + 1] + ops.arange(n, dtype="int32")[None, :] * s
        inside = ops.clip(first + k, 0, length) - ops.clip(first, 0, length)
        factors.append(float(k) / ops.cast(inside, "float32"))
    return (factors[0][:, :, None] * factors[1][:, None, :])[..., None]
