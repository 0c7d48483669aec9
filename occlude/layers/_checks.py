"""The layers' checks of their arguments and inputs, each written once.

Arguments are checked when a layer is built: a number must be a real number (an ``int``,
a ``float`` or a NumPy scalar, never a ``bool``), finite, and within its limits; errors
name the parameter, say the limit and what was received. Inputs are checked when a layer
is called, before any work (:meth:`OcclusionLayer._check_call`); values only known when a
graph runs (inside ``tf.data``, a ``tf.function`` or a JAX trace) are checked then, by
:func:`at_run_time`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, TypeGuard

import keras
import numpy as np
from keras.src.utils import backend_utils, jax_utils

from occlude.errors import UsageError

Tensor = Any

MAX_HOLES = 1024
"""Cutout's most squares per image (each is drawn and painted: the cost grows with them)."""
MAX_DRAWS = 10_000
"""The most boxes RandomErasing (``max_attempts``) and KeepCutout (``max_tries``) draw per image."""
MAX_ALPHA = 1e6
"""The mixers' alpha stays below it: lam ~ Beta(alpha, alpha) is then already 0.5 within
0.0004 (one standard deviation), and the float32 sampler is checked up to it."""
MAX_CELLS_GRID = 32
"""AttentiveCutMix's most cells per side: it ranks every pair of the grid * grid cells."""
MAX_CELL_SIDE = 1 << 30
"""Hide-and-Seek's largest cell side in pixels (a side above the image's is one cell)."""
DATA_FORMATS = ("channels_last", "channels_first")


def is_number(value: object) -> TypeGuard[float]:
    """A real number: ``int``, ``float`` or a NumPy scalar, but not a ``bool``."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_whole(value: object) -> TypeGuard[int]:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _no_bool(value: object, name: str, kind: str) -> None:
    if isinstance(value, (bool, np.bool_)):
        raise UsageError(f"{name} must be {kind}, not a bool; received {value!r}", name)


def check_prob(prob: float, name: str = "prob") -> float:
    _no_bool(prob, name, "a number")
    if not (is_number(prob) and 0.0 <= prob <= 1.0):
        raise UsageError(f"{name} must be between 0 and 1; received {prob!r}", name)
    return float(prob)


def check_int(value: int, name: str, most: int | None = None) -> int:
    """A whole-number setting from 1 (to ``most``), as a Python ``int`` (for the config)."""
    _no_bool(value, name, "an int")
    if most is not None and not (is_whole(value) and 1 <= value <= most):
        raise UsageError(f"{name} must be an int from 1 to {most}; received {value!r}", name)
    if not (is_whole(value) and value >= 1):
        raise UsageError(f"{name} must be an int, at least 1; received {value!r}", name)
    return int(value)


def check_alpha(alpha: float) -> float:
    _no_bool(alpha, "alpha", "a number")
    if not (is_number(alpha) and 0 < alpha < MAX_ALPHA):
        raise UsageError(
            f"alpha must be a positive number below {MAX_ALPHA:,.0f}; received {alpha!r}",
            "alpha",
        )
    return float(alpha)


def check_seed(seed: int | None) -> int | None:
    if seed is not None and not is_whole(seed):
        raise UsageError(f"seed must be an int or None; received {seed!r}", "seed")
    return None if seed is None else int(seed)


def check_optional_int(value: int | None, name: str, least: int | None = None) -> int | None:
    """An int (at least ``least``) or None, as a Python ``int``."""
    if value is None:
        return None
    if not is_whole(value) or (least is not None and value < least):
        kind = "an int" if least is None else f"an int, at least {least},"
        raise UsageError(f"{name} must be {kind} or None; received {value!r}", name)
    return int(value)


def _pair(bounds: Sequence[float], name: str) -> tuple[float, float]:
    """Two finite real numbers."""
    if isinstance(bounds, (str, bytes)) or not hasattr(bounds, "__len__") or len(bounds) != 2:
        raise UsageError(f"{name} must be (low, high); received {bounds!r}", name)
    if not all(is_number(v) for v in bounds):
        raise UsageError(f"{name} must be two numbers (not bools); received {bounds!r}", name)
    low, high = float(bounds[0]), float(bounds[1])
    if not (math.isfinite(low) and math.isfinite(high)):
        raise UsageError(f"{name} must be finite; received {bounds!r}", name)
    return low, high


def check_value_range(value_range: Sequence[float]) -> tuple[float, float]:
    low, high = _pair(value_range, "value_range")
    if not low < high:
        raise UsageError(
            f"value_range needs finite low < high; received {value_range!r}", "value_range"
        )
    return low, high


def check_range(bounds: Sequence[float], name: str, upper: float = math.inf) -> tuple[float, float]:
    """``(low, high)``, finite, with ``0 < low <= high <= upper``."""
    low, high = _pair(bounds, name)
    if not 0.0 < low <= high <= upper:
        limit = f" <= {upper:g}" if math.isfinite(upper) else ""
        raise UsageError(f"{name} needs 0 < low <= high{limit}; received {bounds!r}", name)
    return low, high


def check_data_format(data_format: str | None) -> str:
    """``data_format``, or Keras's ``image_data_format()`` when None (as Keras's layers)."""
    if data_format is None:
        return str(keras.config.image_data_format())
    if data_format not in DATA_FORMATS:
        raise UsageError(
            f"data_format must be 'channels_last', 'channels_first' or None (Keras's "
            f"image_data_format()); received {data_format!r}",
            "data_format",
        )
    return data_format


# --- inputs -------------------------------------------------------------------------


def dtype_kind(dtype: str) -> str:
    """``'bool'``, ``'int'``, ``'float'`` or ``'other'`` (complex, string ...) for a Keras dtype."""
    if dtype == "bool":
        return "bool"
    if "int" in dtype:
        return "int"
    return "float" if "float" in dtype else "other"


_KIND_NAMES = {"bool": "bool", "int": "integer", "float": "float"}


def check_dtype(layer: str, key: str, dtype: str, kinds: Sequence[str]) -> None:
    """``key``'s dtype must be of one of ``kinds`` (of :func:`dtype_kind`)."""
    if dtype_kind(dtype) not in kinds:
        allowed = " or ".join(_KIND_NAMES[k] for k in kinds)
        raise UsageError(f"{layer}: {key} must be {allowed}; received dtype {dtype}", key)


def spatial(shape: tuple[int | None, ...], data_format: str) -> tuple[int | None, ...]:
    """``(H, W)`` of an image shape (B, H, W, C) or (H, W, C), or their channels-first forms."""
    return shape[-3:-1] if data_format == "channels_last" else shape[-2:]


def known_values(x: Any) -> np.ndarray | None:
    """``x``'s values where they exist now; None for a symbolic tensor (a Keras input, inside
    a TensorFlow graph or a JAX trace), whose values :func:`at_run_time` checks."""
    if isinstance(x, keras.KerasTensor) or backend_utils.in_tf_graph():
        return None
    if jax_utils.is_in_jax_tracing_scope(x):
        return None
    if hasattr(x, "detach"):  # a PyTorch tensor, perhaps on a GPU
        return np.asarray(x.detach().cpu().numpy())
    return np.asarray(x)


def at_run_time(bk: Any, value: Tensor, ok: Tensor, message: str, *details: Tensor) -> Tensor:
    """``value``, made to depend on a check that the scalar bool ``ok`` holds when a graph
    runs: in a TensorFlow graph an ``Assert`` (an ``InvalidArgumentError`` with ``message``
    and ``details``), in a JAX trace a host callback raising :class:`UsageError`. Eager
    values were checked before the call (:func:`known_values`): then nothing is added."""
    if bk.name == "tensorflow" and backend_utils.in_tf_graph():
        import tensorflow as tf

        # Strings and int32 only: then Assert is one op, not a cond around one (a cond is
        # stateful and would stop tf.data from parallelising the map; Assert does not).
        shown = [d if d.dtype == tf.int32 else tf.strings.as_string(d) for d in details]
        check = tf.debugging.Assert(ok, [message, *shown], summarize=8)
        with tf.control_dependencies([check]):
            return tf.identity(value)
    if bk.name == "jax" and jax_utils.is_in_jax_tracing_scope(ok):
        import jax

        def raise_unless(holds: Any, *seen: Any) -> np.ndarray:
            if not bool(holds):
                raise UsageError(f"{message} " + ", ".join(str(np.asarray(v)) for v in seen))
            return np.zeros((), value.dtype)

        zero = jax.pure_callback(
            raise_unless,
            jax.ShapeDtypeStruct((), value.dtype),  # type: ignore[no-untyped-call]
            ok,
            *details,
        )
        return bk.numpy.add(value, zero)
    return value
