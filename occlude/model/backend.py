"""Which Keras backend runs the model, chosen before Keras is imported, and quiet imports.

``KERAS_BACKEND`` (or ``--backend``) picks TensorFlow, JAX or PyTorch; only that backend
is imported. On a GPU every backend computes in exact float32: TensorFloat-32, on by
default on recent NVIDIA GPUs in TensorFlow, JAX and PyTorch, is switched off. JAX keeps
what it compiles in a persistent cache (:func:`compile_cache_dir`) when asked: the command
line asks by default.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from occlude.errors import UsageError
from occlude.zoo import BACKENDS

_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


@contextlib.contextmanager
def quiet_native() -> Iterator[None]:
    """Hide native start-up chatter (set OCCLUDE_TF_LOGS=1 to see it).

    TensorFlow and XLA write notices straight to file descriptor 2, which Python cannot
    filter; Python-level prints (Keras's "Downloading data ...") go to stderr so that
    ``--json -`` keeps stdout clean.
    """
    if os.environ.get("OCCLUDE_TF_LOGS"):
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    sys.stderr.flush()
    visible = _visible_stderr()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        with contextlib.redirect_stdout(visible), contextlib.redirect_stderr(visible):
            yield
    finally:
        visible.flush()
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_VISIBLE: Any = None


def _visible_stderr() -> Any:
    """The real stderr, as a stream that is never closed: a library that keeps the stream
    it found (a logging handler) must not end up writing to a closed file."""
    global _VISIBLE
    if _VISIBLE is None:
        _VISIBLE = os.fdopen(os.dup(2), "w", buffering=1)
    return _VISIBLE


def use_backend(name: str | None) -> str:
    """Choose the backend (None: ``KERAS_BACKEND``, else tensorflow) before Keras loads.

    Raises:
        UsageError: an unknown backend, one that is not installed, or another backend
            than the one Keras already runs on in this process.
    """
    wanted = (name or os.environ.get("KERAS_BACKEND") or "tensorflow").lower()
    if wanted not in BACKENDS:
        check_installed(wanted)
    if "keras" in sys.modules:
        running = str(sys.modules["keras"].backend.backend())
        if running != wanted:
            raise UsageError(f"backend {wanted} was asked for, but Keras already runs on "
                             f"{running} in this process", "backend")  # fmt: skip
        return wanted
    check_installed(wanted)
    os.environ["KERAS_BACKEND"] = wanted
    return wanted


def check_installed(backend: str) -> None:
    """A known backend whose package is installed (looked up, not imported)."""
    if backend not in BACKENDS:
        raise UsageError(f"backend must be one of {', '.join(BACKENDS)}; received {backend!r}",
                         "backend")  # fmt: skip
    if "keras" not in sys.modules and importlib.util.find_spec(_PACKAGES[backend]) is None:
        hint = "pip install torch (a CPU build: torch==2.13.0)" if backend == "torch" else ""
        raise UsageError(
            f"backend {backend} is not installed: {hint or f'pip install {backend}'}", "backend"
        )


def compile_cache_dir() -> Path | None:
    """Where JAX keeps compiled functions between processes, or None (no cache).

    On when ``OCCLUDE_COMPILE_CACHE=1`` (the command line sets it unless it is set) and
    ``OCCLUDE_NO_COMPILE_CACHE`` is unset or ``0``: ``$XDG_CACHE_HOME/occlude/jax``, else
    ``~/.cache/occlude/jax``. TensorFlow has no such cache (see docs/performance.md).
    """
    if os.environ.get("OCCLUDE_NO_COMPILE_CACHE", "0") not in ("", "0"):
        return None
    if os.environ.get("OCCLUDE_COMPILE_CACHE", "0") in ("", "0"):
        return None
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "occlude" / "jax"


def keras() -> Any:
    """Keras, imported quietly on the chosen backend, with TensorFloat-32 off."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "keras" not in sys.modules:
        use_backend(None)
    with quiet_native():
        import keras as keras_module

        _exact_float32(str(keras_module.backend.backend()))
    # TensorFlow's Python logger warns when a compiled function is traced for a new tile
    # shape (the incremental engine does so once per shape, by design) and on deprecations.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return keras_module


def _exact_float32(backend: str) -> None:
    """Switch TensorFloat-32 off (it changes results on Ampere and newer GPUs)."""
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(False)
    elif backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")  # type: ignore[no-untyped-call]
        _jax_cache(jax)
    elif backend == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def _jax_cache(jax: Any) -> None:
    """Point JAX's persistent compilation cache at :func:`compile_cache_dir`, if on.

    Compilations of 0.5 s or more are kept (JAX's default, 1 s, leaves out the engine's
    smaller tile steps) unless ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` says otherwise.
    """
    folder = compile_cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: run without the cache
        return
    jax.config.update("jax_compilation_cache_dir", str(folder))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
