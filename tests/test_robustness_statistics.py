"""Robustness with repeats: placements, intervals, and gates that do not flap."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from kerasmodels import red_image
from PIL import Image
from typer.testing import CliRunner

from occlude.augment.methods import Cutout
from occlude.augment.methods.occluder import keys_of, new_key
from occlude.cli import app
from occlude.draws import NUMPY, PLACE, output_seed, uniform
from occlude.fill import parse_fill
from occlude.robustness import Sample, case_rng, evaluate
from occlude.robustness.stats import MIN_IMAGES, bootstrap_mean, wilson

runner = CliRunner()
GREY = parse_fill("grey")


def red_share(batch: np.ndarray) -> np.ndarray:
    """Scores (red share, 0.15): class 0 wins while over 15 % of the pixels are red."""
    red = ((batch[..., 0] > 200) & (batch[..., 1] < 60)).mean(axis=(1, 2))
    return np.stack([red, np.full(len(batch), 0.15)], axis=1)


def samples() -> list[Sample]:
    out = []
    for i in range(6):
        box = (6, 4 + i, 30, 22 + i) if i % 3 else None
        out.append(Sample(f"img{i}.png", red_image((32, 40), box), 0 if box else 1))
    return out


def naive_cutout_cases(sample: Sample, fractions: list[float], seed: int) -> list[tuple]:
    """The pre-repeats algorithm, written out: one square per fraction, inside the image,
    grey (128), its corner from the case's int32 key (the ``PLACE`` stream's two
    uniforms times the positions where it fits)."""
    h, w = sample.image.shape[:2]
    cases = []
    for f in fractions:
        image = sample.image.copy()
        if f:
            key = f"robustness\0cutout\0{f!r}\0{sample.rel}"
            rng = np.random.default_rng(output_seed(seed, key, 0))
            side = min(h, w, round(math.sqrt(f * h * w)))
            u = uniform(NUMPY, keys_of(new_key(rng)), PLACE, 2)[0]
            y0 = int(np.float32(u[0]) * np.float32(h - side + 1))
            x0 = int(np.float32(u[1]) * np.float32(w - side + 1))
            image[y0 : y0 + side, x0 : x0 + side] = 128
        row = red_share(image[None].astype(np.float32))[0]
        cases.append((f, int(np.argmax(row)) == sample.label, float(row[sample.label])))
    return cases


def test_one_repeat_reproduces_the_single_placement_results_exactly() -> None:
    fractions = [0.0, 0.1, 0.3, 0.5]
    rows = evaluate(samples(), red_share, methods=["cutout"], fractions=fractions,
                    fill=GREY, seed=4, repeats=1)  # fmt: skip
    for row in rows:
        expected = [c for s in samples() for c in naive_cutout_cases(s, fractions, 4)
                    if c[0] == row.fraction]  # fmt: skip
        assert row.n == len(expected) == 6
        assert row.accuracy == sum(c[1] for c in expected) / 6
        assert row.mean_true_score == math.fsum(c[2] for c in expected) / 6
    assert len({r.accuracy for r in rows}) > 1  # the occlusion changes the answer


def test_results_do_not_depend_on_the_order_of_the_images() -> None:
    kwargs = {"methods": ["cutout", "hide-and-seek", "random-erasing"],
              "fractions": [0.0, 0.2, 0.4], "fill": GREY, "seed": 9, "repeats": 3}  # fmt: skip
    forward = evaluate(samples(), red_share, **kwargs)  # type: ignore[arg-type]
    backward = evaluate(samples()[::-1], red_share, **kwargs)  # type: ignore[arg-type]
    assert forward == backward
    assert evaluate(samples(), red_share, batch_size=5, **kwargs) == forward  # type: ignore[arg-type]


def test_repeats_draw_different_placements_and_count_every_evaluation() -> None:
    keys = [keys_of(new_key(case_rng(0, "a.png", "cutout", 0.2, r))) for r in range(8)]
    boxes = {str(Cutout().at_fraction(NUMPY, k, 60, 80, 0.2).to_dict()["boxes"]) for k in keys}
    assert len(boxes) == 8
    assert (
        case_rng(0, "a.png", "cutout", 0.2, 0).random()
        == case_rng(0, "a.png", "cutout", 0.2).random()
    )
    rows = evaluate(samples(), red_share, methods=["cutout"], fractions=[0.0, 0.3], fill=GREY,
                    repeats=4)  # fmt: skip
    assert [(r.fraction, r.n, r.images) for r in rows] == [(0.0, 6, 6), (0.3, 24, 6)]


def test_wilson_interval_against_hand_computed_values() -> None:
    # p = 0.8, n = 10, z = 1.96: centre (0.8 + 0.19207) / 1.38415, half-width 0.226584
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.490162, abs=1e-6) and high == pytest.approx(0.943318, abs=1e-6)
    # 0 or n successes: the bound is z^2 / (n + z^2) = 3.841459 / 23.841459
    assert wilson(0, 20) == (0.0, pytest.approx(0.161125, abs=1e-6))
    assert wilson(20, 20) == (pytest.approx(0.838875, abs=1e-6), 1.0)
    assert wilson(0, 0) is None


def test_bootstrap_interval_is_deterministic_and_about_right() -> None:
    values = [1.0] * 30 + [0.0] * 10
    first = bootstrap_mean(values, seed=3)
    assert first == bootstrap_mean(values, seed=3)
    spread = [0.1 * i**1.5 for i in range(40)]  # means off any grid: seeds show
    assert bootstrap_mean(spread, seed=3) != bootstrap_mean(spread, seed=4)
    # the normal approximation: 0.75 +- 1.96 * sqrt(0.75 * 0.25 / 40) = [0.616, 0.884]
    assert first[0] == pytest.approx(0.616, abs=0.03) and first[1] == pytest.approx(0.884, abs=0.03)
    assert bootstrap_mean([1.0] * MIN_IMAGES, seed=0) == (1.0, 1.0)
    assert bootstrap_mean([], seed=0) is None


def test_no_interval_over_fewer_images_than_the_minimum() -> None:
    # one image: the bootstrap's only resample is the image itself, a point "interval"
    assert MIN_IMAGES == 10
    spread = [0.0, 1.0] * 5
    assert bootstrap_mean(spread[: MIN_IMAGES - 1], seed=0) is None
    assert bootstrap_mean(spread[:1], seed=0, least=1) == (0.0, 0.0)
    low, high = bootstrap_mean(spread, seed=0)  # type: ignore[misc]
    assert low < 0.5 < high
    rows = evaluate(samples()[:1], red_share, methods=["cutout"], fractions=[0.0, 0.3],
                    fill=GREY, repeats=8)  # fmt: skip
    for row in rows:  # over evaluations there is an interval; over images there is none
        assert row.images == 1 and math.isnan(row.accuracy_low_images)
        assert math.isfinite(row.accuracy_low) and math.isfinite(row.accuracy_high)


@pytest.fixture
def nine_of_ten(tmp_path: Path) -> Path:
    """A model that always answers class 0, and ten images of which nine are class 0:
    its accuracy is exactly 0.9 at every fraction."""
    import keras

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, keras.layers.Softmax()(dense(x)))
    dense.set_weights([np.zeros((3, 2)), np.array([2.0, 0.0])])
    model.save(tmp_path / "always0.keras")
    for i in range(10):
        folder = tmp_path / "imgs" / ("0" if i < 9 else "1")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((16, 16, 3), 20 * i, np.uint8)).save(folder / f"i{i}.png")
    return tmp_path


def test_gate_on_the_lower_bound_fails_where_the_estimate_passes(nine_of_ten: Path) -> None:
    args = ["robustness", str(nine_of_ten / "imgs"), "--labels", "folders", "-m",
            str(nine_of_ten / "always0.keras"), "--fractions", "0,0.1", "--min-accuracy",
            "0.8", "--at", "0.1", "--repeats", "2"]  # fmt: skip
    point = runner.invoke(app, [*args, "--json", str(nine_of_ten / "point.json")])
    assert point.exit_code == 0, point.output
    result = json.loads((nine_of_ten / "point.json").read_text())
    row = next(r for r in result["results"] if r["method"] == "cutout" and r["fraction"] == 0.1)
    assert row["accuracy"] == 0.9 and row["n"] == 20 and row["images"] == 10
    assert row["accuracy_low_images"] < 0.8 < row["accuracy"]
    assert result["gate"] == {"min_accuracy": 0.8, "at": 0.1, "on": "estimate", "passed": True}
    lower = runner.invoke(app, [*args, "--gate-on", "lower", "--json", "-"])
    assert lower.exit_code == 3, lower.output
    assert json.loads(lower.stdout)["gate"]["passed"] is False
    gate_lines = [line for line in lower.stderr.splitlines() if "accuracy gate" in line]
    assert len(gate_lines) == 3  # one per method
    assert "accuracy lower bound (95%, images)" in gate_lines[0]


def test_the_table_shows_both_intervals_and_the_gate(nine_of_ten: Path) -> None:
    res = runner.invoke(app, ["robustness", str(nine_of_ten / "imgs"), "--labels", "folders",
                              "-m", str(nine_of_ten / "always0.keras"), "--fractions", "0,0.5",
                              "--methods", "cutout", "--min-accuracy", "0.5", "--at", "0.5",
                              "--gate-on", "lower"])  # fmt: skip
    assert res.exit_code == 0, res.output
    header, first, second, gate = res.stdout.strip().splitlines()
    assert "95% CI (images)" in header and "95% CI (evals)" in header
    assert first.split()[:3] == ["cutout", "0.00", "0.900"]
    wilson_low, wilson_high = wilson(45, 50)
    assert f"[{wilson_low:.3f}, {wilson_high:.3f}]" in second
    assert gate == "gate: accuracy at 0.5 >= 0.5, judged on the lower bound (images)"


def gate_args(root: Path, images: Path) -> list[str]:
    return ["robustness", str(images), "--labels", "folders", "-m", str(root / "always0.keras"),
            "--fractions", "0,0.1", "--repeats", "2", "--min-accuracy", "0.5", "--at", "0.1",
            "--gate-on", "lower"]  # fmt: skip


def test_a_lower_bound_gate_needs_ten_images(nine_of_ten: Path, capsys) -> None:
    from support.cli import assert_usage_error, run_main

    one = nine_of_ten / "imgs" / "0" / "i0.png"
    nine = nine_of_ten / "nine"
    for image in sorted((nine_of_ten / "imgs").rglob("*.png"))[:9]:
        (nine / image.parent.name).mkdir(parents=True, exist_ok=True)
        (nine / image.parent.name / image.name).write_bytes(image.read_bytes())
    for images, count in ((one, 1), (nine, 9)):
        out = nine_of_ten / f"out{count}"
        res = run_main(capsys, *gate_args(nine_of_ten, images), "--json", out / "r.json")
        assert_usage_error(res, "--gate-on lower judges the 95% interval over images, which "
                           f"needs at least 10 images; the inputs hold {count}")  # fmt: skip
        assert not out.exists()
    estimate = runner.invoke(app, [*gate_args(nine_of_ten, one)[:-2], "--json", "-"])
    assert estimate.exit_code == 0, estimate.output  # the estimate gates on any number of images
    result = json.loads(estimate.stdout)
    assert all(r["accuracy_low_images"] is None for r in result["results"])
    assert result["intervals"]["min_images"] == 10
    cutout = next(line for line in estimate.stderr.splitlines() if line.startswith("cutout"))
    assert cutout.split()[3] == "-"  # the table shows no interval over images either


def test_images_that_fail_can_leave_too_few_for_the_interval(nine_of_ten: Path) -> None:
    (nine_of_ten / "imgs" / "0" / "broken.png").write_bytes(b"not a png")
    (nine_of_ten / "imgs" / "0" / "i1.png").write_bytes(b"not a png either")
    res = runner.invoke(app, [*gate_args(nine_of_ten, nine_of_ten / "imgs"), "--json", "-"])
    assert res.exit_code == 1  # failed inputs first
    lines = [line for line in res.stderr.splitlines() if "accuracy gate" in line]
    assert len(lines) == 3
    assert "lower bound (95%, images) none (fewer than 10 images) < 0.5" in lines[0]
