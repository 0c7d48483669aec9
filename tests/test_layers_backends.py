"""occlude.layers under the JAX and PyTorch backends: the backend checks in a subprocess
(Keras's backend is fixed when it is first imported, so it cannot change in this one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_checks(backend: str, select: str | None, timeout: int) -> None:
    pytest.importorskip(backend)
    env = {**os.environ, "KERAS_BACKEND": backend, "OCCLUDE_BACKEND_CHECK": "1"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["tests/backends/test_layers_backend.py"]
    if select:
        command += ["-k", select]
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{backend} checks failed:\n{done.stdout}\n{done.stderr}"


def test_layers_under_jax() -> None:
    run_checks("jax", None, timeout=400)


def test_layers_under_torch() -> None:
    # A reduced set: rates, fills, exact labels and pixels, seeds, a model and tf.data.
    select = "backend_is or applied_rate or noise or mixup or cutmix or seeds or fit or pipeline"
    run_checks("torch", select, timeout=300)
