"""CI answers from ``sensitivity``: focus on an expected region, and the deletion/insertion
faithfulness curves, on hand-computable models and through the command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from kerasmodels import red_image
from PIL import Image
from support.cli import invoke

from occlude.errors import UsageError
from occlude.sensitivity.metrics import (
    Curves,
    box_mask,
    deletion_insertion,
    focus,
    pixel_order,
    step_masks,
)
from occlude.sensitivity.options import SensitivityOptions
from occlude.sensitivity.outputs import image_focus


@pytest.fixture()
def photo(tmp_path: Path) -> Path:
    """64x96 image, red object at x 8..28, y 4..20 (original pixels)."""
    path = tmp_path / "obj.png"
    Image.fromarray(red_image((64, 96), (8, 4, 28, 20))).save(path)
    return path


# --- focus ---------------------------------------------------------------------------


def test_focus_is_the_positive_share_inside_the_region() -> None:
    values = np.array([[2.0, -1.0, 0.0], [1.0, 1.0, -3.0]])
    region = box_mask((2, 3), (0, 0, 1, 2))  # x 0..1, y 0..2: the first column
    np.testing.assert_array_equal(region, [[True, False, False], [True, False, False]])
    assert focus(values, region) == pytest.approx(3.0 / 4.0)
    assert focus(-np.abs(values), region) == 0.0  # nothing positive: no focus at all


def test_box_mask_is_clipped_and_checked() -> None:
    np.testing.assert_array_equal(box_mask((2, 2), (-5, 1, 9, 9)), [[False, False], [True, True]])
    with pytest.raises(UsageError, match=r"expect_box needs x0 < x1 and y0 < y1"):
        box_mask((2, 3), (2, 0, 1, 1))
    with pytest.raises(UsageError, match="does not match map shape"):
        focus(np.zeros((2, 2)), np.zeros((3, 2), bool))


@pytest.mark.parametrize(("shape", "box"), [((30, 40), (0, 0, 10, 30)),
                                             ((3000, 4000), (0, 0, 1000, 3000))])  # fmt: skip
def test_focus_is_measured_on_the_original_image_or_2048_px(shape, box) -> None:
    """A uniform map: focus is the box's share of the image, however large the image."""
    opts = SensitivityOptions(expect_box=box)
    assert image_focus(np.ones((4, 4), np.float32), shape, opts) == pytest.approx(0.25, abs=1e-6)


# --- deletion and insertion ------------------------------------------------------------


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


def test_curves_of_a_right_map_on_a_model_that_needs_one_region() -> None:
    image = np.full((16, 16, 3), 255.0)
    values = np.zeros((16, 16))
    values[2:6, 2:6] = 1.0  # the map is right about the region
    curves = deletion_insertion(
        image, values, region_model, 0, deleted=np.zeros_like(image),
        blurred=np.zeros_like(image), steps=16, rng=np.random.default_rng(0), batch_size=5,
    )  # fmt: skip
    # 16 of 256 pixels matter: the map's order deletes (or restores) them all in step 1.
    np.testing.assert_array_equal(curves.deletion, [1.0] + [0.0] * 16)
    np.testing.assert_array_equal(curves.insertion, [0.0] + [1.0] * 16)
    np.testing.assert_array_equal(curves.fractions, np.linspace(0, 1, 17))
    s = curves.summary()
    assert s["deletion_auc"] == pytest.approx(1 / 32)
    assert s["insertion_auc"] == pytest.approx(15.5 / 16)
    assert s["deletion_auc"] < s["deletion_auc_random"]
    assert s["insertion_auc"] > s["insertion_auc_random"]


def test_a_model_that_ignores_the_image_gives_equal_curves() -> None:
    def blind(batch: np.ndarray) -> np.ndarray:
        return np.tile([0.3, 0.7], (len(batch), 1))

    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (12, 10, 3))
    curves = deletion_insertion(
        image, rng.normal(size=(12, 10)), blind, 0, deleted=np.zeros_like(image),
        blurred=image * 0.5, steps=5, rng=np.random.default_rng(0),
    )  # fmt: skip
    np.testing.assert_array_equal(curves.deletion, [0.3] * 6)
    np.testing.assert_array_equal(curves.deletion, curves.deletion_random)
    np.testing.assert_array_equal(curves.insertion, curves.insertion_random)
    assert Curves.auc(np.array([0.3] * 6)) == pytest.approx(0.3)
    assert Curves.auc(np.array([0.0, 1.0])) == pytest.approx(0.5)


def test_the_random_baseline_is_drawn_from_the_generator() -> None:
    image = np.full((8, 8, 3), 255.0)
    values = np.zeros((8, 8))

    def curves(seed: int) -> Curves:
        return deletion_insertion(
            image, values, region_model, 0, deleted=np.zeros_like(image),
            blurred=np.zeros_like(image), steps=4, rng=np.random.default_rng(seed),
        )  # fmt: skip

    np.testing.assert_array_equal(curves(3).deletion_random, curves(3).deletion_random)
    assert not np.array_equal(curves(3).deletion_random, curves(4).deletion_random)


def test_steps_must_be_positive() -> None:
    image = np.zeros((4, 4, 3))
    with pytest.raises(UsageError, match="steps must be at least 1; received 0"):
        deletion_insertion(image, np.zeros((4, 4)), region_model, 0, deleted=image,
                           blurred=image, steps=0, rng=np.random.default_rng(0))  # fmt: skip


# --- through the command --------------------------------------------------------------


def test_focus_in_the_records_and_the_min_focus_gate(model_file, photo, tmp_path) -> None:
    out = tmp_path / "o"
    base = [photo, "-m", model_file, "-c", "0", "-p", "2", "-o", out, "--json", "-"]
    on = invoke("sensitivity", *base, "--expect-box", "8,4,28,20", "--min-focus", "0.8")
    assert on.exit_code == 0, on.output
    inside = json.loads(on.stdout)[0]["focus"]
    assert 0.8 < inside <= 1.0
    off = invoke("sensitivity", *base, "--expect-box", "60,40,96,64", "--min-focus", "0.8")
    assert off.exit_code == 3, off.output
    outside = json.loads(off.stdout)[0]["focus"]
    assert 0.0 <= outside < 0.1
    assert off.stderr.splitlines()[-2:] == [
        f"occlude: focus gate: {photo}: focus {outside:.3f} < 0.8",
        "occlude: 1 of 1 images below --min-focus 0.8",
    ]
    assert (out / "obj.png").is_file() and (out / "obj.json").is_file()  # written first


def test_expect_mask_gives_the_focus_of_the_same_box(model_file, photo, tmp_path) -> None:
    mask = np.zeros((32, 48), np.uint8)  # half size: resized to the image
    mask[2:10, 4:14] = 255  # the box 8,4,28,20 at half size
    Image.fromarray(mask).save(tmp_path / "mask.png")
    args = [photo, "-m", model_file, "-c", "0", "-p", "2", "-o", tmp_path / "o", "--json", "-"]
    by_mask = invoke("sensitivity", *args, "--expect-mask", tmp_path / "mask.png")
    by_box = invoke("sensitivity", *args, "--expect-box", "8,4,28,20", "--overwrite")
    assert by_mask.exit_code == 0 and by_box.exit_code == 0, by_mask.output + by_box.output
    mask_focus = json.loads(by_mask.stdout)[0]["focus"]
    assert mask_focus > 0.8
    assert mask_focus == pytest.approx(json.loads(by_box.stdout)[0]["focus"], abs=1e-12)


@pytest.mark.slow
def test_metrics_in_the_record_and_the_sheet(model_file, photo, tmp_path) -> None:
    out = tmp_path / "o"
    args = [photo, "-m", model_file, "-c", "0", "-p", "4,8", "-o", out, "--json", "-", "-q"]
    res = invoke("sensitivity", *args, "--metrics", "--steps", "10", "--seed", "3")
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)[0]
    curves = rec["curves"]
    assert curves["fractions"] == pytest.approx(np.linspace(0, 1, 11).tolist())
    aucs = {
        "deletion": "deletion_auc",
        "insertion": "insertion_auc",
        "deletion_random": "deletion_auc_random",
        "insertion_random": "insertion_auc_random",
    }
    for curve, auc in aucs.items():
        assert len(curves[curve]) == 11 and all(0.0 <= v <= 1.0 for v in curves[curve])
        assert rec[auc] == pytest.approx(Curves.auc(np.array(curves[curve])))
    # nothing deleted, or everything restored: the plain image's score
    assert curves["deletion"][0] == pytest.approx(rec["base_score"], rel=1e-5)
    assert curves["insertion"][-1] == pytest.approx(rec["base_score"], rel=1e-5)
    assert rec["deletion_auc"] < rec["deletion_auc_random"]
    assert rec["insertion_auc"] > rec["insertion_auc_random"]
    with Image.open(out / "obj_scales.png") as sheet:
        wide = sheet.width
    plain = invoke("sensitivity", *args, "--overwrite")
    assert "deletion_auc" not in json.loads(plain.stdout)[0]
    with Image.open(out / "obj_scales.png") as sheet:
        assert sheet.width < wide  # the curves panel is gone
    again = invoke("sensitivity", *args, "--metrics", "--steps", "10", "--seed", "3",
                   "--overwrite")  # fmt: skip
    assert json.loads(again.stdout)[0]["curves"] == curves  # seeded
