"""The layers' checks of their inputs (their settings are the methods', in
:mod:`occlude.checks`), and of ``data_format``.

Inputs are checked when a layer
is called, before any work (:meth:`OcclusionLayer._check_call`); values only known when a
graph runs (inside ``tf.data``, a ``tf.function`` or a JAX trace) are checked then, by
:func:`at_run_time`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras.src.utils import backend_utils, jax_utils

from occlude.errors import UsageError

Tensor = Any

DATA_FORMATS = ("channels_last", "channels_first")


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
