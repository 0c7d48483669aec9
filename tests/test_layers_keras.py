"""occlude.layers with Keras and tf.data: saving, seeds under parallel maps and across
processes and epochs, and the dataset-mean helper."""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import occlude.layers
from occlude.augment import folder_mean
from occlude.layers import CutMix, Cutout, HideAndSeek, MixUp, RandomErasing, dataset_mean

REPO = Path(__file__).resolve().parents[1]


def numpy(x: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


def all_layers() -> list[keras.layers.Layer]:
    return [
        Cutout(seed=1),
        HideAndSeek(fill=(124, 116, 104), seed=2),
        RandomErasing(seed=3),
        MixUp(num_classes=4, seed=4),
        CutMix(num_classes=4, seed=5),
    ]


def test_model_with_the_layers_saves_and_loads_in_safe_mode(tmp_path: Path) -> None:
    layers = [
        Cutout(size=6, seed=1),
        HideAndSeek(fill="grey", grid=(4, 8), seed=2),
        RandomErasing(prob=1.0, seed=3),
        CutMix(seed=4),
        MixUp(alpha=1.0, seed=5),
        Cutout(fill="noise"),  # unseeded: its counter is saved as a variable
    ]
    model = keras.Sequential([keras.Input((24, 24, 3)), *layers, keras.layers.Flatten()])
    path = tmp_path / "augmenting.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert [type(layer) for layer in loaded.layers[:-1]] == [type(layer) for layer in layers]
    for original, copy in zip(layers, loaded.layers, strict=False):
        assert copy.get_config() == original.get_config()
    x = np.random.default_rng(0).uniform(0, 255, (8, 24, 24, 3)).astype("float32")
    np.testing.assert_array_equal(numpy(loaded(x, training=False)), x.reshape(8, -1))
    # Seeded layers are pure functions of the batch: the loaded ones augment identically.
    seeded = keras.Sequential(model.layers[:5])
    seeded_copy = keras.Sequential(loaded.layers[:5])
    np.testing.assert_array_equal(
        numpy(seeded(x, training=True)), numpy(seeded_copy(x, training=True))
    )


def test_functional_model_and_symbolic_dict_inputs() -> None:
    inputs = keras.Input((16, 16, 3), dtype="uint8")
    out = Cutout(seed=0)(inputs)
    assert out.shape == (None, 16, 16, 3) and out.dtype == "uint8"
    spec = CutMix(num_classes=7)(
        {"images": keras.Input((16, 16, 3)), "labels": keras.Input((), dtype="int32")}
    )
    assert spec["labels"].shape == (None, 7) and spec["labels"].dtype == "float32"


# --- seeds under tf.data ---------------------------------------------------------------


def pipeline_digest() -> str:
    """SHA-256 of every layer's output through map(num_parallel_calls=4, deterministic=True),
    after checking that two fresh iterators over each pipeline give the same bytes."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (96, 20, 20, 3)).astype("uint8")
    labels = rng.integers(0, 4, 96).astype("int32")
    digest = hashlib.sha256()
    for layer in all_layers():
        data = tf.data.Dataset.from_tensor_slices({"images": images, "labels": labels}).batch(8)
        data = data.map(layer, num_parallel_calls=4, deterministic=True)
        runs = [b"".join(e[k].numpy().tobytes() for e in data for k in sorted(e)) for _ in "ab"]
        assert runs[0] == runs[1], type(layer).__name__
        digest.update(runs[0])
    return digest.hexdigest()


@pytest.mark.slow
def test_seeded_layers_are_reproducible_under_parallel_maps_and_across_processes() -> None:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    code = "from test_layers_keras import pipeline_digest; print(pipeline_digest())"
    other = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    here = pipeline_digest()  # meanwhile, in this process
    there = other.communicate(timeout=300)[0].strip().splitlines()
    assert other.returncode == 0
    assert there[-1] == here


@pytest.mark.slow
def test_seeded_draws_change_across_epochs_when_the_data_is_reshuffled() -> None:
    """Keys come from the seed and the batch, so a seeded reshuffle (deterministic, and
    different each epoch) gives each image new draws every epoch, the same in every run."""
    ids = np.arange(64, dtype="float32")
    images = np.broadcast_to(ids[:, None, None, None], (64, 16, 16, 3)).copy()

    def two_epochs() -> list[dict[float, bytes]]:
        data = tf.data.Dataset.from_tensor_slices(images).shuffle(64, seed=7).batch(8)
        data = data.map(Cutout(size=4, fill="white", seed=0))
        epochs = []
        for _ in range(2):
            seen = {}
            for batch in data:
                for image in batch.numpy():
                    own = image != 255
                    seen[float(image[own][0])] = own.tobytes()
            epochs.append(seen)
        return epochs

    first, second = two_epochs(), two_epochs()
    assert first == second  # the same in every run
    moved = sum(first[0][k] != first[1][k] for k in first[0])
    assert moved > 56  # a 4 x 4 box rarely lands in the same place twice (1/256)


def test_unbatched_elements_in_a_per_image_map() -> None:
    images = np.zeros((6, 12, 12, 3), "float32")
    data = tf.data.Dataset.from_tensor_slices(images).map(Cutout(fill="white", seed=0)).batch(6)
    out = next(iter(data)).numpy()
    assert out.shape == (6, 12, 12, 3) and np.all((out == 255).any(axis=(1, 2, 3)))


# --- dataset_mean ----------------------------------------------------------------------


def test_dataset_mean_from_arrays_datasets_and_folders(tmp_path: Path) -> None:
    images = np.zeros((4, 2, 2, 3), "float32")
    images[..., 0], images[..., 1], images[..., 2] = 0.2, 0.4, 1.0
    assert dataset_mean(images, value_range=(0, 1)) == pytest.approx((51, 102, 255))
    data = tf.data.Dataset.from_tensor_slices({"images": images * 255, "labels": np.arange(4)})
    assert dataset_mean(data.batch(3)) == pytest.approx((51, 102, 255))
    pairs = [(images[i] * 255, i) for i in range(4)]
    assert dataset_mean(pairs) == pytest.approx((51, 102, 255))
    grey = np.full((2, 3, 3, 1), 0.5, "float32")
    assert dataset_mean(grey, value_range=(0, 1)) == pytest.approx((127.5, 127.5, 127.5))
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    Image.new("RGB", (4, 2), (10, 20, 30)).save(folder / "a.png")
    Image.new("RGB", (2, 2), (40, 50, 60)).save(folder / "sub" / "b.png")
    # Exact integer sums over every pixel, as the CLI's dataset-mean: (8*10 + 4*40) / 12 ...
    assert folder_mean(folder) == (20.0, 30.0, 40.0)
    assert folder_mean([folder / "a.png"]) == (10.0, 20.0, 30.0)
    with pytest.raises(ValueError, match=r"for image files use occlude.augment.folder_mean"):
        dataset_mean(folder)
    layer = HideAndSeek(fill=folder_mean(folder))
    assert layer.get_config()["fill"] == [20.0, 30.0, 40.0]
    with pytest.raises(ValueError, match="no images"):
        dataset_mean(np.zeros((0, 2, 2, 3)))


def test_guided_layers_in_a_functional_model_save_and_load(tmp_path: Path) -> None:
    from occlude.layers import AttentiveCutMix, KeepCutout, SaliencyMix

    inputs = {
        "images": keras.Input((12, 12, 3), name="images"),
        "saliency": keras.Input((12, 12), name="saliency"),
    }
    data = KeepCutout(size=4, seed=1)(inputs)
    data = SaliencyMix(seed=2)(data)
    data = AttentiveCutMix(grid=3, top_k=2, seed=3)(data)
    model = keras.Model(inputs, data["images"])
    model.save(tmp_path / "guided.keras")
    loaded = keras.saving.load_model(tmp_path / "guided.keras", safe_mode=True)
    rng = np.random.default_rng(1)
    x = {
        "images": rng.uniform(0, 255, (4, 12, 12, 3)).astype("float32"),
        "saliency": rng.normal(size=(4, 12, 12)).astype("float32"),
    }
    expected = numpy(model(x, training=True))
    assert not np.array_equal(expected, x["images"])
    np.testing.assert_array_equal(numpy(loaded(x, training=True)), expected)
    np.testing.assert_array_equal(numpy(loaded(x, training=False)), x["images"])


LAYER_NAMES = [name for name in occlude.layers.__all__ if name != "dataset_mean"]


@pytest.mark.parametrize("name", LAYER_NAMES)
def test_each_layer_is_a_registered_documented_class_of_occlude_layers(name: str) -> None:
    layer = getattr(occlude.layers, name)
    assert (layer.__module__, layer.__qualname__, layer.__name__) == ("occlude.layers", name, name)
    assert keras.saving.get_registered_name(layer) == f"occlude>{name}"
    assert keras.saving.get_registered_object(f"occlude>{name}") is layer
    assert set(layer.settings) <= set(layer.method_class.option_names())
    # help() is complete: the method's settings and the layer's own arguments, each once.
    args = (inspect.getdoc(layer) or "").split("\nArgs:\n")[1].split("\n\n")[0]
    documented = [n for line in re.findall(r"^    (\w[\w, ]*):", args, re.M)
                  for n in line.split(", ")]  # fmt: skip
    own = "num_classes" if layer.method_class.mixing else "ignore_class"
    expected = {*layer.settings, own, "value_range", "seed", "data_format"}
    assert sorted(documented) == sorted(expected)


def test_a_layer_saved_before_the_layers_moved_module_still_loads() -> None:
    """Each layer had its own module once (``occlude.layers.cutout``), which saved configs
    name; the registered name, ``occlude>Cutout``, still finds the class."""
    layer = occlude.layers.Cutout(2, 0.25, seed=3)
    config = keras.saving.serialize_keras_object(layer)
    assert config["module"] == "occlude.layers"
    loaded = keras.saving.deserialize_keras_object({**config, "module": "occlude.layers.cutout"})
    assert type(loaded) is occlude.layers.Cutout
    assert loaded.get_config() == layer.get_config()
