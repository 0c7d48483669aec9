"""Every Keras backend gives the same map; precision and backend are chosen and recorded.

Each backend runs in its own process (Keras picks its backend once, at import), through the
real command line, and the maps are compared with TensorFlow's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

OTHERS = ["jax", "torch"]


def he_scaled(model, seed: int = 0):  # type: ignore[no-untyped-def]
    """Random weights that make scores depend on the image: He-scaled kernels, small
    biases, random BatchNorm statistics (a plain random net scores every copy alike)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        name = type(layer).__name__
        if name == "BatchNormalization":
            gamma, beta, mean, var = weights
            stats = [rng.uniform(0.8, 1.2, gamma.shape), rng.normal(0, 0.1, beta.shape),
                     rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, var.shape)]  # fmt: skip
            layer.set_weights(stats)
            continue
        new = []
        for w in weights:
            if w.ndim > 1:
                fan_in = int(np.prod(w.shape[:-1])) if name != "DepthwiseConv2D" else int(
                    np.prod(w.shape[:2]))  # fmt: skip
                new.append(rng.normal(0, np.sqrt(2.0 / fan_in), w.shape))
            else:
                new.append(rng.normal(0, 0.01, w.shape))
        layer.set_weights([x.astype(np.float32) for x in new])
    return model


def small_net(path: Path) -> Path:
    import keras

    inputs = keras.Input((40, 56, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(16, 3, padding="valid", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(5, activation="softmax")(x)
    he_scaled(keras.Model(inputs, outputs)).save(path)
    return path


def sweep(image: Path, model: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``occlude sensitivity`` in a child process (Keras picks its backend once, at import);
    its last stderr line says which of TensorFlow and PyTorch it imported."""
    argv = ["sensitivity", str(image), "-m", str(model), "--save-npy", "-o", str(out),
            "--json", "-", "-q", *extra]  # fmt: skip
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('imported', 'tensorflow' in sys.modules, "
        "'torch' in sys.modules, file=sys.stderr))\n"
        "from occlude.cli import main\n"
        f"main({argv!r})\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600, env=env)  # fmt: skip


def imported(run: subprocess.CompletedProcess[str]) -> list[str]:
    """Which of TensorFlow and PyTorch a :func:`sweep` imported: ``imported True False``."""
    return run.stderr.splitlines()[-1].split()


def photo(path: Path, size: tuple[int, int]) -> Path:
    y, x = np.mgrid[0 : size[0], 0 : size[1]]
    rgb = np.stack([x * 255 / size[1], y * 255 / size[0], (x * y) % 255], axis=2)
    Image.fromarray(rgb.astype(np.uint8)).save(path)
    return path


def assert_same_maps(reference: Path, other: Path) -> None:
    ref, got = np.load(reference), np.load(other)
    scale = float(np.abs(ref).max())
    assert scale > 1e-4  # the map is not flat: the comparison means something
    assert np.abs(got - ref).max() <= 1e-5 * scale + 1e-7


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small net, a photo, and TensorFlow's map of it (under ``tf/``)."""
    root = tmp_path_factory.mktemp("small")
    small_net(root / "net.keras")
    photo(root / "p.png", (40, 56))
    base = sweep(root / "p.png", root / "net.keras", root / "tf", "-p", "6,12", "-s", "3,12",
                 "--backend", "tensorflow")  # fmt: skip
    assert base.returncode == 0, base.stderr
    return root


@pytest.mark.slow
@pytest.mark.parametrize("backend", OTHERS)
def test_small_models_give_the_same_map_on_every_backend(small, tmp_path, backend) -> None:
    other = sweep(small / "p.png", small / "net.keras", tmp_path / backend, "-p", "6,12", "-s",
                  "3,12", "--backend", backend)  # fmt: skip
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout)[0]["backend"] == backend
    # each backend imports only itself: a JAX run never TensorFlow (nor PyTorch)
    assert imported(other) == ["imported", "False", str(backend == "torch")]
    assert_same_maps(small / "tf" / "p.npy", tmp_path / backend / "p.npy")


def test_a_backend_that_is_not_installed_is_one_line(tmp_path) -> None:
    image = photo(tmp_path / "p.png", (16, 16))
    code = (
        "import importlib.util as u, sys\n"
        "real = u.find_spec\n"
        "u.find_spec = lambda name, *a, **k: None if name == 'jax' else real(name, *a, **k)\n"
        "from occlude.cli import main\n"
        f"main(['sensitivity', {str(image)!r}, '--backend', 'jax', '-o', "
        f"{str(tmp_path / 'o')!r}])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == "occlude: error: --backend jax is not installed: pip install jax\n"


@pytest.mark.slow
def test_reduced_precision_is_recorded_and_close(small, tmp_path) -> None:
    half = sweep(small / "p.png", small / "net.keras", tmp_path / "bf16", "-p", "6,12", "-s",
                 "3,12", "--precision", "bfloat16")  # fmt: skip
    assert half.returncode == 0, half.stderr
    record = json.loads(half.stdout)[0]
    # what the model computes in: float32 weights, bfloat16 computation
    assert record["precision"] == record["settings"]["precision"] == "mixed_bfloat16"
    a, b = np.load(small / "tf" / "p.npy"), np.load(tmp_path / "bf16" / "p.npy")
    assert not np.array_equal(a, b)  # it really computed in bfloat16
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


@pytest.mark.parametrize(
    ("model", "precision", "warned"),
    [("resnet50", "bfloat16", True), ("MobileNet_V2", "bfloat16", True),
     ("resnet50", "float32", False), ("resnet50", "float16", False)],
)  # fmt: skip
def test_a_precision_measured_slower_for_the_family_is_a_warning(model, precision, warned) -> None:
    from occlude.zoo import SLOWER, ModelSpec

    note = ModelSpec(model, precision=precision).slower_note()
    assert (note is not None) == warned
    if note is not None:
        family = "resnet" if model == "resnet50" else "mobilenet_v2"
        assert f"{SLOWER[(family, precision)]:.2f}x the speed of float32" in note
        assert "slower" in note and family in note


def test_the_cli_warns_before_a_slower_precision(tmp_path) -> None:
    from support.cli import invoke

    image = tmp_path / "p.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    # the warning comes before the model loads: a missing weights file still fails after it
    res = invoke("sensitivity", image, "-m", "resnet50", "-w", tmp_path / "missing.h5",
                 "--precision", "bfloat16", "-o", tmp_path / "o")  # fmt: skip
    assert "occlude: warning: bfloat16 was measured 0.62x the speed of float32" in res.stderr


def test_tensorfloat32_is_off_under_this_processs_backend() -> None:
    """The model edge switches TensorFloat-32 off (tests/backends/test_model_edge.py, which
    the backend matrix runs under JAX and PyTorch)."""
    from backends.test_model_edge import tensorfloat32_is_off

    from occlude.model.backend import keras

    keras()
    assert tensorfloat32_is_off()
