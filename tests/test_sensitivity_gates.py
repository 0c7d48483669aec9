"""CI answers from ``sensitivity``: focus on an expected region, and faithfulness curves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from kerasmodels import red_image
from PIL import Image
from typer.testing import CliRunner

from occlude.cli import app
from occlude.errors import UsageError
from occlude.sensitivity.metrics import (
    Curves,
    box_region,
    deletion_insertion,
    focus,
    pixel_order,
    step_masks,
)

runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, ["sensitivity", *map(str, args)])


@pytest.fixture()
def photo(tmp_path: Path) -> Path:
    """64x96 image, red object at x 8..28, y 4..20 (original pixels)."""
    path = tmp_path / "obj.png"
    Image.fromarray(red_image((64, 96), (4, 8, 20, 28))).save(path)
    return path


def test_focus_is_the_positive_share_inside_the_region() -> None:
    values = np.array([[2.0, -1.0, 0.0], [1.0, 1.0, -3.0]])
    region = box_region((2, 3), (0, 0, 1, 2))  # x 0..1, y 0..2: the first column
    assert focus(values, region) == pytest.approx(3.0 / 4.0)
    assert focus(-np.abs(values), region) == 0.0
    with pytest.raises(UsageError):
        box_region((2, 3), (2, 0, 1, 1))


def test_step_masks_follow_the_order() -> None:
    order = pixel_order(np.array([[0.1, 0.9], [0.5, 0.9]]))
    assert order.tolist() == [1, 3, 2, 0]  # ties keep raster order
    masks = step_masks(order, (2, 2), 4)
    assert masks.shape == (5, 2, 2)
    assert masks.reshape(5, -1).sum(axis=1).tolist() == [0, 1, 2, 3, 4]
    assert masks[2].tolist() == [[False, True], [False, True]]


def region_model(batch: np.ndarray) -> np.ndarray:
    score = batch[:, 2:6, 2:6, 0].mean(axis=(1, 2)) / 255.0
    return np.stack([score, 1 - score], axis=1)


def test_deletion_beats_random_on_a_model_that_needs_one_region() -> None:
    image = np.full((16, 16, 3), 255.0)
    values = np.zeros((16, 16))
    values[2:6, 2:6] = 1.0  # the map is right about the region
    curves = deletion_insertion(
        image, values, region_model, 0, deleted=np.zeros_like(image),
        blurred=np.zeros_like(image), steps=16, rng=np.random.default_rng(0), batch_size=5,
    )  # fmt: skip
    s = curves.summary()
    # 16 of 256 pixels matter: the map deletes them all in the first step.
    assert curves.deletion[0] == 1.0 and curves.deletion[1] == 0.0
    assert s["deletion_auc"] == pytest.approx(1 / 32)
    assert s["deletion_auc"] < s["deletion_auc_random"]
    assert s["insertion_auc"] > s["insertion_auc_random"]
    assert curves.insertion[0] == 0.0 and curves.insertion[-1] == 1.0


def test_a_model_that_ignores_the_image_gives_equal_curves() -> None:
    def blind(batch: np.ndarray) -> np.ndarray:
        return np.tile([0.3, 0.7], (len(batch), 1))

    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (12, 10, 3))
    curves = deletion_insertion(
        image, rng.normal(size=(12, 10)), blind, 0, deleted=np.zeros_like(image),
        blurred=image * 0.5, steps=5, rng=np.random.default_rng(0),
    )  # fmt: skip
    np.testing.assert_array_equal(curves.deletion, curves.deletion_random)
    np.testing.assert_array_equal(curves.insertion, curves.insertion_random)
    assert Curves.auc(np.array([0.3] * 6)) == pytest.approx(0.3)


def test_focus_in_the_cli_and_the_min_focus_gate(model_file, photo, tmp_path) -> None:
    base = [photo, "-m", model_file, "-c", "0", "-p", "2", "-o", tmp_path / "o", "--json", "-"]
    on = run(*base, "--expect-box", "8,4,28,20", "--min-focus", "0.8")
    assert on.exit_code == 0, on.output
    inside = json.loads(on.stdout)[0]["focus"]
    assert inside > 0.8
    off = run(*base, "--expect-box", "60,40,96,64", "--min-focus", "0.8")
    assert off.exit_code == 3
    assert json.loads(off.stdout)[0]["focus"] < 0.1
    assert "focus gate" in off.stderr and str(photo) in off.stderr
    assert (tmp_path / "o" / "obj.png").is_file()  # outputs written before the gate


def test_expect_mask_matches_the_box(model_file, photo, tmp_path) -> None:
    mask = np.zeros((32, 48), np.uint8)  # half size: resized to the image
    mask[2:10, 4:14] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    res = run(
        photo, "-m", model_file, "-c", "0", "-p", "2", "-o", tmp_path / "o", "--json", "-",
        "--expect-mask", tmp_path / "mask.png", "--min-focus", "0.8",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["focus"] > 0.8


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-focus", "0.5"], "needs --expect-box or --expect-mask"),
        (["--expect-box", "1,2,3"], "needs x0,y0,x1,y1"),
        (["--expect-box", "5,5,1,9"], "x0 < x1"),
        (["--expect-box", "0,0,4,4", "--expect-mask", "m.png"], "not both"),
        (["--expect-mask", "missing.png"], "no such file"),
    ],
)
def test_gate_usage_errors(model_file, photo, tmp_path, args, message) -> None:
    res = run(photo, "-m", model_file, "-o", tmp_path / "o", *args)
    assert res.exit_code == 2 and message in res.stderr


def test_min_focus_out_of_range_is_a_usage_error(model_file, photo, tmp_path) -> None:
    res = run(photo, "-m", model_file, "--expect-box", "0,0,4,4", "--min-focus", "1.5")
    assert res.exit_code == 2


def test_metrics_in_the_record_and_the_sheet(model_file, photo, tmp_path) -> None:
    out = tmp_path / "o"
    args = [photo, "-m", model_file, "-c", "0", "-p", "4,8", "-o", out, "--json", "-", "-q"]
    res = run(*args, "--metrics", "--steps", "10", "--seed", "3")
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)[0]
    for key in ("deletion_auc", "insertion_auc", "deletion_auc_random", "insertion_auc_random"):
        assert 0.0 <= rec[key] <= 1.0
    assert len(rec["curves"]["deletion"]) == 11
    assert rec["deletion_auc"] < rec["deletion_auc_random"]
    assert rec["insertion_auc"] > rec["insertion_auc_random"]
    with Image.open(out / "obj_scales.png") as sheet:
        wide = sheet.width
    plain = run(*args, "--overwrite")
    assert "deletion_auc" not in json.loads(plain.stdout)[0]
    with Image.open(out / "obj_scales.png") as sheet:
        assert sheet.width < wide  # the curves panel is gone
    again = run(*args, "--metrics", "--steps", "10", "--seed", "3", "--overwrite")
    assert json.loads(again.stdout)[0]["curves"] == rec["curves"]  # seeded
