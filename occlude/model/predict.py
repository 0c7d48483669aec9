"""A model and its preprocessing as one compiled, fixed-shape ``predict(batch) -> scores``.

One function per backend, each traced or compiled once for a (batch, H, W, 3) float32
input: TensorFlow a ``tf.function`` with a fixed signature, JAX ``jax.jit`` over the
model's stateless call, PyTorch the model under ``torch.no_grad`` (``torch.compile`` did
not pay on CPU here: its first call costs tens of seconds, more than a whole sweep).
Shorter batches are padded and longer ones split, so nothing is traced twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from occlude.errors import UsageError
from occlude.model.backend import keras
from occlude.zoo import PRECISIONS

_POLICIES = {"bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def preprocess_fn(mode: str) -> Callable[[Any], Any]:
    """The preprocessing of a keras.applications mode or family, for backend tensors."""
    k = keras()
    if mode == "none":
        return lambda x: x
    if mode in ("caffe", "tf", "torch"):
        from keras.applications import imagenet_utils

        return lambda x: imagenet_utils.preprocess_input(x, mode=mode)
    fn: Callable[[Any], Any] = getattr(k.applications, mode).preprocess_input
    return fn


def with_precision(model: Any, precision: str, safe: bool = True) -> Any:
    """``model`` computing in ``precision`` (weights kept in float32, outputs cast back):
    a clone whose layers, nested models' included, take Keras's mixed policy, with the
    same weights. ``safe=False`` (a model file trusted with its Lambda layers) lets the
    layers that hold code be rebuilt."""
    if precision not in PRECISIONS:
        raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}; received "
                         f"{precision!r}", "precision")  # fmt: skip
    if precision == "float32":
        return model
    k = keras()
    policy = _POLICIES[precision]

    def clone(layer: Any) -> Any:
        if isinstance(layer, k.layers.InputLayer):
            return layer
        config = k.saving.serialize_keras_object(layer)
        config["config"]["dtype"] = policy
        return k.saving.deserialize_keras_object(config, safe_mode=safe)

    copy = k.models.clone_model(model, clone_function=clone, recursive=True)
    copy.set_weights(model.get_weights())
    return copy


def model_precision(model: Any) -> str:
    """What ``model`` computes in: its layers' Keras dtype policy (``float32``,
    ``mixed_float16`` and ``mixed_bfloat16`` for float32 weights computing in 16 bits,
    ``float16``, ``bfloat16`` ...); when its layers differ, their policies joined with
    ``+``, the most used first (``mixed_float16+float32``). The input's dtype is not
    part of it; nested models count by their layers."""
    counts = Counter(_policies(model))
    return "+".join(sorted(counts, key=lambda name: (-counts[name], name))) or "float32"


def _policies(model: Any) -> Iterator[str]:
    k = keras()
    for layer in getattr(model, "layers", []):
        if isinstance(layer, k.Model):
            yield from _policies(layer)
        elif not isinstance(layer, k.layers.InputLayer):
            yield str(layer.dtype_policy.name)


def compile_predictor(
    model: Any, preprocess: str, input_size: tuple[int, int], n_classes: int, batch_size: int
) -> Callable[[np.ndarray], np.ndarray]:
    """``predict(batch)``: float32 (B, H, W, 3) pixels in, float32 (B, K) scores out."""
    backend = str(keras().backend.backend())
    shape = (batch_size, *input_size, 3)
    make = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}[backend]
    forward = make(model, preprocess_fn(preprocess), shape)

    def predict(batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch, dtype=np.float32)
        n = len(batch)
        outputs = []
        for start in range(0, n, batch_size):
            chunk = batch[start : start + batch_size]
            m = len(chunk)
            if m < batch_size:
                pad = np.zeros((batch_size - m, *chunk.shape[1:]), dtype=np.float32)
                chunk = np.concatenate([chunk, pad])
            outputs.append(np.asarray(forward(chunk), dtype=np.float32)[:m])
        return np.concatenate(outputs) if outputs else np.zeros((0, n_classes), np.float32)

    return predict


def _tensorflow(model: Any, preprocess: Callable[[Any], Any], shape: tuple[int, ...]) -> Any:
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])  # type: ignore[untyped-decorator]
    def forward(x: Any) -> Any:
        out = model(preprocess(x), training=False)
        return tf.reshape(tf.cast(out, tf.float32), (shape[0], -1))

    return lambda chunk: forward(tf.constant(chunk)).numpy()


def _jax(model: Any, preprocess: Callable[[Any], Any], shape: tuple[int, ...]) -> Any:
    import jax
    import jax.numpy as jnp

    trainable = [v.value for v in model.trainable_variables]
    fixed = [v.value for v in model.non_trainable_variables]

    @jax.jit
    def forward(trainable: Any, fixed: Any, x: Any) -> Any:
        out, _ = model.stateless_call(trainable, fixed, preprocess(x), training=False)
        return jnp.reshape(out.astype(jnp.float32), (shape[0], -1))

    return lambda chunk: np.asarray(forward(trainable, fixed, jnp.asarray(chunk)))


def _torch(model: Any, preprocess: Callable[[Any], Any], shape: tuple[int, ...]) -> Any:
    import torch

    ops = keras().ops

    def forward(chunk: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = model(preprocess(ops.convert_to_tensor(chunk)), training=False)
            return np.asarray(ops.convert_to_numpy(ops.cast(out, "float32"))).reshape(shape[0], -1)

    return forward
