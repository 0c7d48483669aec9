"""``--weights none`` is honest: its random weights come from ``--seed`` (the same seed,
the same maps; another seed, a new run), and every title, record and report says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kerasmodels import red_image
from PIL import Image
from support.cli import invoke

from occlude import render
from occlude.model import load_classifier
from occlude.report import build_report
from occlude.sensitivity import animation
from occlude.zoo import ModelSpec, describe_model, random_weights

MODEL = "mobilenetv3small"  # the smallest keras.applications model
MAPS = "resnet50"  # random MobileNets score every image alike (flat maps); ResNet50 does not


def test_the_seed_decides_the_weights_and_names_them() -> None:
    first, again, other = (load_classifier(MODEL, "none", seed=s) for s in (0, 0, 1))
    a, b, c = (clf.model.get_weights() for clf in (first, again, other))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, z) for x, z in zip(a, c, strict=True))
    assert (first.weights, other.weights) == ("random(seed=0)", "random(seed=1)")
    assert first.label == "MobileNetV3Small (random weights, seed 0)"


def test_a_seed_is_checked_before_anything_loads() -> None:
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="seed must be an int"):
            ModelSpec(MODEL, "none", seed=bad)  # type: ignore[arg-type]
    spec = ModelSpec(MODEL, "none", seed=np.int64(3))  # type: ignore[arg-type]
    assert type(spec.seed) is int and spec.seed == 3
    assert random_weights(7) == "random(seed=7)"
    assert describe_model("VGG16", None) == describe_model("VGG16", "imagenet") == "VGG16"


@pytest.fixture
def titles(monkeypatch) -> list[str]:
    """Every title the pictures of a run are drawn with."""
    seen: list[str] = []

    def spy(module: Any, name: str, position: int | None) -> None:
        real = getattr(module, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            seen.append(kwargs["title"] if position is None else args[position])
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapped)

    spy(render, "heatmap_png", 3)
    spy(render, "contact_sheet_png", 3)
    spy(render, "robustness_png", 1)
    spy(animation, "animate_sweep", None)
    return seen


@pytest.mark.slow
def test_runs_with_random_weights(tmp_path: Path, titles: list[str]) -> None:
    Image.fromarray(red_image((48, 64), (8, 8, 40, 40))).save(tmp_path / "a.png")
    args = ["sensitivity", tmp_path / "a.png", "-m", MAPS, "-w", "none", "-p", "112",
            "--save-npy", "--animate", "--animate-scale", "112"]  # fmt: skip

    def run(out: str, *extra: object) -> tuple[dict[str, Any], bytes, str]:
        res = invoke(*args, "-o", tmp_path / out, "--json", "-", *extra)
        assert res.exit_code == 0, res.output
        (record,) = json.loads(res.stdout)
        return record, (tmp_path / out / "a.npy").read_bytes(), res.stderr

    first, first_map, _ = run("o")
    assert first["weights"] == "random(seed=0)"
    assert len(titles) == 3 and all("random weights, seed 0" in t for t in titles), titles
    _, kept, said = run("o")
    assert "already done" in said and kept == first_map  # the same seed: nothing to redo
    _, elsewhere, _ = run("again")
    assert elsewhere == first_map  # two runs, one map
    other, other_map, said = run("o", "--seed", "1")
    assert "already done" not in said and other["weights"] == "random(seed=1)"
    assert other_map != first_map and "random weights, seed 1" in titles[-1]
    assert np.abs(np.load(tmp_path / "o" / "a.npy")).max() > 0  # a map, not a flat field
    build_report(tmp_path / "o")
    page = (tmp_path / "o" / "report" / "data.js").read_text()
    assert "ResNet50 (random weights, seed 1)" in page


@pytest.mark.slow
def test_robustness_with_random_weights(tmp_path: Path, titles: list[str]) -> None:
    (tmp_path / "in").mkdir()
    Image.fromarray(red_image((40, 40), (5, 5, 30, 30))).save(tmp_path / "in" / "a.png")
    (tmp_path / "labels.csv").write_text("path,label\nin/a.png,tabby\n")
    res = invoke("robustness", tmp_path / "in", "-m", MODEL, "-w", "none", "--seed", "3",
                 "--labels", tmp_path / "labels.csv", "--fractions", "0,0.5", "--methods",
                 "cutout", "--repeats", "1", "-o", tmp_path / "o", "--json", "-",
                 "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["weights"] == "random(seed=3)"
    assert titles == ["MobileNetV3Small (random weights, seed 3): top-1 accuracy under "
                      "occlusion (1 images, 1 placements each)"]  # fmt: skip
    build_report(tmp_path / "o")
    assert "random weights, seed 3" in (tmp_path / "o" / "report" / "data.js").read_text()
