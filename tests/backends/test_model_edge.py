"""The model edge under the backend in KERAS_BACKEND: TensorFloat-32 is off.

On Ampere and newer GPUs TensorFloat-32 is on by default and changes results; the model
edge (:func:`occlude.model.backend.keras`) switches it off whichever backend Keras runs on
(checked here on CPU, where the switches exist all the same). TensorFlow's cell runs in the
main suite (tests/test_backends.py), JAX's and PyTorch's in the backend matrix.
"""

from __future__ import annotations

import keras


def tensorfloat32_is_off() -> bool:
    """Whether the active backend's TensorFloat-32 switches are off."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.config.experimental.tensor_float_32_execution_enabled()
    if backend == "jax":
        import jax

        return bool(jax.config.jax_default_matmul_precision == "highest")
    import torch

    return not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32


def test_the_model_edge_turns_tensorfloat32_off() -> None:
    from occlude.model.backend import keras as model_edge

    model_edge()
    assert tensorfloat32_is_off()
