"""The incremental engine under the JAX and PyTorch backends, each checked in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_incremental_is_exact_under(backend: str) -> None:
    pytest.importorskip(backend)
    env = {**os.environ, "KERAS_BACKEND": backend, "OCCLUDE_BACKEND_CHECK": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-s",
           "tests/backends/test_incremental_backend.py"]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert f"backend: {backend}" in output and "2 passed" in output, output
