"""The Keras edge: the only place, with the incremental engine and the layers, that imports
Keras or a backend (TensorFlow, JAX, PyTorch), and only when called."""

from occlude.model.backend import use_backend
from occlude.model.loading import APP_SIZE, Classifier, load_classifier, wrap_model
from occlude.zoo import BACKENDS, PRECISIONS

__all__ = [
    "APP_SIZE",
    "BACKENDS",
    "PRECISIONS",
    "Classifier",
    "load_classifier",
    "use_backend",
    "wrap_model",
]
