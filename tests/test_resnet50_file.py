"""The real loading path: ResNet50 built with weights=None, saved, and loaded from file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from occlude.cli import app


@pytest.fixture(scope="module")
def resnet_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("resnet") / "resnet50.weights.h5"
    keras.applications.ResNet50(weights=None).save_weights(path)
    return path


def test_design_card_invocation_with_a_weights_file(resnet_weights, tmp_path) -> None:
    """`occlude sensitivity cat.jpg --class 281 --patch 40`, offline: weights from a file."""
    cat = tmp_path / "cat.jpg"
    Image.open(Path(__file__).parents[1] / "sample_images" / "cat.png").convert("RGB").save(cat)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        ["sensitivity", str(cat), "--class", "281", "--patch", "40", "--weights",
         str(resnet_weights), "-o", str(out), "--json", "-", "--save-npy"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)[0]
    assert rec["model"] == "ResNet50" and rec["weights"] == str(resnet_weights)
    assert rec["class_index"] == 281 and rec["class_name"] == "tabby"
    assert rec["windows"] == 36  # the seed's 6x6 grid
    assert rec["preprocess"] == "resnet" and rec["input_size"] == [224, 224]
    assert len(rec["top5"]) == 5 and all(name is not None for _, name, _ in rec["top5"])
    values = np.load(out / "cat.npy")
    assert values.shape == (224, 224)
    # stride = patch = 40: the map is constant on each 40x40 block of the 6x6 grid
    block = values[40:80, 80:120]
    assert np.all(block == block[0, 0])
    with Image.open(out / "cat.png") as im:
        assert im.width > 451 and im.height > 300  # the original 451x300, plus a legend
