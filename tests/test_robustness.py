"""``robustness``: where each method's occlusion goes at a fraction, the evaluation loop on
hand-computable models, and the command (table, JSON, plot and the accuracy gate)."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from kerasmodels import red_image
from PIL import Image
from support.cli import invoke

from occlude.augment.methods import Cutout, HideAndSeek, Occluder, RandomErasing
from occlude.augment.methods.occluder import keys_of, new_key
from occlude.box import Box
from occlude.draws import NUMPY
from occlude.errors import UsageError
from occlude.fill import parse_fill
from occlude.robustness import (
    Sample,
    aggregate,
    case_rng,
    evaluate,
    jobs_per_image,
    occluded,
    resolve_label,
)

GREY = parse_fill("grey")


# --- placements ------------------------------------------------------------------------


def placed(method: Occluder, shape: tuple[int, int], fraction: float, key: int) -> Box:
    """The one box ``method`` puts at ``fraction`` of an image of ``shape``, from ``key``."""
    params = method.at_fraction(NUMPY, keys_of(key), *shape, fraction).to_dict()
    assert params["applied"] and len(params["boxes"]) == 1
    return Box.of(params["boxes"][0])


def test_square_and_box_have_the_asked_area_and_stay_inside() -> None:
    rng = np.random.default_rng(0)
    for key in range(200):
        f = float(rng.uniform(0.01, 0.6))
        x0, y0, x1, y1 = placed(Cutout(), (60, 90), f, key)
        assert 0 <= x0 < x1 <= 90 and 0 <= y0 < y1 <= 60
        assert x1 - x0 == y1 - y0 == round(math.sqrt(f * 60 * 90))
        x0, y0, x1, y1 = placed(RandomErasing(), (60, 90), f, key)
        assert 0 <= x0 < x1 <= 90 and 0 <= y0 < y1 <= 60
        assert abs((x1 - x0) * (y1 - y0) / (60 * 90) - f) < 0.04


def test_placements_are_uniform_where_the_box_fits() -> None:
    corners = np.asarray([placed(Cutout(), (20, 30), 0.25, key)[:2] for key in range(4000)])
    side = round(math.sqrt(0.25 * 600))  # 12: x0 takes 19 values, y0 9
    counts = np.bincount(corners[:, 0], minlength=30 - side + 1)
    assert len(counts) == 30 - side + 1 and counts.min() > 0.7 * 4000 / 19
    assert set(corners[:, 1]) == set(range(20 - side + 1))


def test_box_aspect_is_log_uniform_and_centred() -> None:
    logs = []
    for key in range(2000):
        x0, y0, x1, y1 = placed(RandomErasing(), (400, 400), 0.05, key)
        logs.append(np.log((y1 - y0) / (x1 - x0)))
    assert abs(np.mean(logs)) < 0.05
    assert max(logs) < np.log(1 / 0.3) + 0.05 and min(logs) > np.log(0.3) - 0.05


def test_a_box_too_large_for_any_aspect_is_squeezed_inside() -> None:
    x0, y0, x1, y1 = placed(RandomErasing(), (2, 100), 0.9, 0)
    assert (y0, y1) == (0, 2) and 0 <= x0 < x1 <= 100 and x1 - x0 == 90
    x0, y0, x1, y1 = placed(RandomErasing(), (100, 2), 0.9, 0)  # tall: the same, turned
    assert (x0, x1) == (0, 2) and 0 <= y0 < y1 <= 100 and y1 - y0 == 90


def test_under_half_a_pixel_hides_nothing() -> None:
    for method in (Cutout(), RandomErasing()):
        box = placed(method, (3, 3), 0.02, 0)  # 0.18 of a pixel
        assert box.area == 0 and 0 <= box.x0 <= 3 and 0 <= box.y0 <= 3


def test_at_fraction_is_the_methods_sampler_on_every_image() -> None:
    keys = np.arange(-50, 50, dtype=np.int32)
    erase = RandomErasing().at_fraction(NUMPY, keys, 60, 90, 0.2)
    sampled = RandomErasing(prob=1.0, area_range=(0.2, 0.2)).sample(NUMPY, keys, 60, 90)
    for a, b in zip(erase.boxes, sampled.boxes, strict=True):
        np.testing.assert_array_equal(a, b)
    assert erase.applied.all() and sampled.fitted.all()
    cells = HideAndSeek().at_fraction(NUMPY, keys, 224, 224, 0.3)
    np.testing.assert_array_equal(cells.grid, 32)
    same = HideAndSeek(fill="grey", grid=32, hide_prob=0.3).sample(NUMPY, keys, 224, 224)
    np.testing.assert_array_equal(cells.hidden, same.hidden)
    assert cells.applied.all()


def test_hide_and_seek_hides_about_the_fraction_in_cells_of_a_seventh() -> None:
    def hidden(fraction: float, key: int = 0) -> list[list[int]]:
        params = HideAndSeek().at_fraction(NUMPY, keys_of(key), 224, 224, fraction).to_dict()
        assert params["grid"] == 32 and params["applied"]
        return params["hidden"]  # type: ignore[no-any-return]

    shares = [len(hidden(0.3, key)) / 49 for key in range(400)]
    assert abs(np.mean(shares) - 0.3) < 0.01
    assert hidden(0.0) == []
    assert len(hidden(1.0)) == 49


def test_occlude_paints_exactly_the_sampled_region() -> None:
    image = np.full((20, 30, 3), 200, np.uint8)
    out = occluded(image, "cutout", 0.25, np.random.default_rng(3), GREY)
    x0, y0, x1, y1 = placed(Cutout(), (20, 30), 0.25, new_key(np.random.default_rng(3)))
    expected = image.copy()
    expected[y0:y1, x0:x1] = 128  # 127.5 rounds to 128
    np.testing.assert_array_equal(out, expected)
    assert occluded(image, "hide-and-seek", 0.0, np.random.default_rng(0), GREY) is image
    noisy = occluded(image, "random-erasing", 0.3, np.random.default_rng(4), parse_fill("noise"))
    changed = (noisy != image).any(axis=2).mean()
    assert 0.25 < changed < 0.32


def test_placements_come_from_seed_path_method_and_fraction() -> None:
    def draw(*key: object) -> float:
        return float(case_rng(*key).random())  # type: ignore[arg-type]

    base = draw(0, "a.png", "cutout", 0.2)
    assert base == draw(0, "a.png", "cutout", 0.2)
    others = {
        draw(1, "a.png", "cutout", 0.2),
        draw(0, "b.png", "cutout", 0.2),
        draw(0, "a.png", "hide-and-seek", 0.2),
        draw(0, "a.png", "cutout", 0.3),
    }
    assert base not in others and len(others) == 4


# --- the evaluation ---------------------------------------------------------------------


def red_share_model(batch: np.ndarray) -> np.ndarray:
    """Class 0 when more than 80 % of the pixels are red: it needs the whole object."""
    red = ((batch[..., 0] > 200) & (batch[..., 1] < 60)).mean(axis=(1, 2))
    return np.stack([red, np.full(len(batch), 0.8)], axis=1)


def red_samples(n: int) -> list[Sample]:
    image = np.zeros((28, 28, 3), np.uint8)
    image[..., 0] = 240
    return [Sample(f"img{i}.png", image, 0) for i in range(n)]


def test_accuracy_does_not_increase_with_the_occluded_fraction() -> None:
    fractions = [0.0, 0.1, 0.3, 0.5]
    rows = evaluate(red_samples(20), red_share_model, fractions=fractions, fill=GREY, seed=0)
    assert [(r.method, r.fraction) for r in rows] == [
        (m, f) for m in ("cutout", "hide-and-seek", "random-erasing") for f in fractions
    ]
    for method in ("cutout", "hide-and-seek", "random-erasing"):
        accs = [r.accuracy for r in rows if r.method == method]
        scores = [r.mean_true_score for r in rows if r.method == method]
        assert accs[0] == 1.0 and accs[-1] == 0.0
        assert scores[0] == 1.0  # the plain image: every pixel red
        assert all(a >= b for a, b in itertools.pairwise(accs)), (method, accs)
        assert all(a > b for a, b in itertools.pairwise(scores)), (method, scores)
    assert all(r.n == 20 for r in rows)


def test_fraction_zero_is_the_plain_image_scored_once() -> None:
    calls: list[int] = []

    def predict(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        return red_share_model(batch)

    evaluate(
        red_samples(1),
        predict,
        methods=["cutout", "hide-and-seek"],
        fractions=[0.0, 0.5],
        fill=GREY,
    )
    assert sum(calls) == jobs_per_image(["cutout", "hide-and-seek"], [0.0, 0.5]) == 3


def test_results_do_not_depend_on_batch_size_or_order() -> None:
    samples = red_samples(6)
    kwargs = {"fractions": [0.0, 0.2, 0.35], "fill": GREY, "seed": 5}
    a = evaluate(samples, red_share_model, batch_size=1, **kwargs)
    b = evaluate(samples[::-1], red_share_model, batch_size=7, **kwargs)
    assert a == b
    c = evaluate(samples, red_share_model, batch_size=4, **{**kwargs, "seed": 6})
    assert a != c


def test_repeated_methods_and_fractions_are_refused() -> None:
    # each makes a row: a repeat is a typo (0.2,0.2 for 0.2,0.3), not a wish for two rows
    for methods, fractions, message in (
        (["cutout", "Cutout"], [0, 0.5], "methods lists cutout twice"),
        (["cutout"], [0, 0.0, 0.5], "fractions lists 0.0 twice"),
    ):
        with pytest.raises(UsageError, match=message):
            evaluate(red_samples(3), red_share_model, methods=methods, fractions=fractions,
                     fill=GREY)  # fmt: skip
    rows = evaluate(red_samples(3), red_share_model, methods=["cutout"], fractions=[0, 0.5],
                    fill=GREY)  # fmt: skip
    assert [(r.method, r.fraction, r.n) for r in rows] == [("cutout", 0.0, 3), ("cutout", 0.5, 3)]


def test_nothing_scored_is_nan_not_zero() -> None:
    (row,) = aggregate([], ["cutout"], [0.5])
    assert row.n == 0 and math.isnan(row.accuracy) and math.isnan(row.mean_true_score)


def test_labels_resolve_to_indices() -> None:
    assert resolve_label("3", 10, imagenet=False) == 3
    assert resolve_label("tabby", 1000, imagenet=True) == 281
    with pytest.raises(UsageError, match="label '10' is out of range: the model has 10 classes"):
        resolve_label("10", 10, imagenet=False)
    with pytest.raises(UsageError, match="class names need an ImageNet model"):
        resolve_label("tabby", 10, imagenet=False)


# --- the command ------------------------------------------------------------------------


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    """Folders 0/ (a large red object) and 1/ (no red), and labels.csv saying the same."""
    root = tmp_path / "data"
    rows = ["path,label"]
    for label, box in (("0", (6, 4, 42, 28)), ("1", None)):
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(red_image((32 + i, 48), box)).save(root / label / f"{i}.png")
            rows.append(f"{label}/{i}.png,{label}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def test_table_json_plot_and_the_accuracy_gate(model_file, dataset, tmp_path) -> None:
    args = [dataset, "-m", model_file, "--labels", "folders", "--fractions", "0,0.5,0.9"]
    res = invoke(
        "robustness",
        "--repeats",
        "1",
        *args,
        "--json",
        tmp_path / "r.json",
        "--plot",
        tmp_path / "r.png",
        "-q",
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["model"] == str(model_file) and data["weights"] == str(model_file)
    assert data["methods"] == ["cutout", "hide-and-seek", "random-erasing"]
    assert data["fractions"] == [0.0, 0.5, 0.9]
    assert data["fill"] == [127.5, 127.5, 127.5] and data["seed"] == 0 and data["failed"] == []
    rows = data["results"]
    assert [(r["method"], r["fraction"]) for r in rows] == [
        (m, f) for m in data["methods"] for f in (0.0, 0.5, 0.9)
    ]
    fields = {"method", "fraction", "accuracy", "mean_true_score", "n", "images", "accuracy_low",
              "accuracy_high", "accuracy_low_images", "accuracy_high_images"}  # fmt: skip
    assert all(set(r) == fields for r in rows)
    assert all(r["n"] == 6 for r in rows)
    assert all(r["accuracy"] == 1.0 for r in rows if r["fraction"] == 0.0)
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["method", "fraction", "accuracy", "95%", "CI", "(images)", "95%",
                                "CI", "(evals)", "mean", "score", "n", "images"]  # fmt: skip
    first = lines[1].split()
    assert first[:3] == ["cutout", "0.00", "1.000"]
    assert first[-3:] == [f"{rows[0]['mean_true_score']:.3f}", "6", "6"]
    assert len(lines) == 1 + len(rows)
    with Image.open(tmp_path / "r.png") as im:
        assert im.size == (720, 640)
    passed = invoke("robustness", "--repeats", "1", *args, "--min-accuracy", "0.9", "--at", "0")
    assert passed.exit_code == 0, passed.output
    assert "gate" not in passed.stderr
    failed = invoke("robustness", "--repeats", "1", *args, "--min-accuracy", "0.9", "--at", "0.9")
    assert failed.exit_code == 3, failed.output
    low = [r for r in rows if r["fraction"] == 0.9 and r["accuracy"] < 0.9]
    assert low  # the red object is gone at 90 % for some method
    assert failed.stderr.splitlines() == [
        f"occlude: accuracy gate: {r['method']} at 0.9: accuracy {r['accuracy']:.3f} < 0.9"
        for r in low
    ]


def test_csv_labels_a_seed_a_fill_and_json_to_stdout(model_file, dataset) -> None:
    res = invoke(
        "robustness",
        "--repeats",
        "1",
        dataset,
        "-m",
        model_file,
        "--labels",
        dataset / "labels.csv",
        "--methods",
        "cutout",
        "--fractions",
        "0,0.2",
        "--json",
        "-",
        "--fill",
        "noise",
        "--seed",
        "1",
        "-b",
        "4",
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)  # stdout is JSON only
    assert [(r["method"], r["fraction"], r["n"]) for r in data["results"]] == [
        ("cutout", 0.0, 6),
        ("cutout", 0.2, 6),
    ]
    assert data["fill"] == "noise" and data["seed"] == 1
    assert res.stderr.splitlines()[0].split()[:2] == ["method", "fraction"]  # the table


def test_an_input_without_a_label_fails_alone(model_file, dataset) -> None:
    lines = (dataset / "labels.csv").read_text().splitlines()
    (dataset / "labels.csv").write_text("\n".join(lines[:-1]) + "\n")  # 1/2.png unlabelled
    res = invoke(
        "robustness",
        "--repeats",
        "1",
        dataset,
        "-m",
        model_file,
        "--labels",
        dataset / "labels.csv",
        "--fractions",
        "0",
        "--json",
        "-",
    )
    assert res.exit_code == 1
    errors = [line for line in res.stderr.splitlines() if line.startswith("occlude: error:")]
    assert errors == [
        f"occlude: error: {dataset / '1' / '2.png'}: no label in {dataset / 'labels.csv'}"
    ]
    data = json.loads(res.stdout)
    assert data["failed"] == [str(dataset / "1" / "2.png")]
    assert [r["n"] for r in data["results"]] == [5, 5, 5]  # the others still count
    assert res.stderr.splitlines()[-1] == "occlude: 1 of 6 inputs failed"


def test_class_names_need_an_imagenet_model(model_file, dataset) -> None:
    (dataset / "labels.csv").write_text("path,label\n0/0.png,tabby\n")
    res = invoke(
        "robustness",
        "--repeats",
        "1",
        dataset / "0" / "0.png",
        "-m",
        model_file,
        "--labels",
        dataset / "labels.csv",
        "--json",
        "-",
    )
    assert res.exit_code == 1
    errors = [line for line in res.stderr.splitlines() if line.startswith("occlude: error:")]
    assert len(errors) == 1 and "class names need an ImageNet model" in errors[0]
    data = json.loads(res.stdout)
    assert data["results"][0]["n"] == 0 and data["results"][0]["accuracy"] is None  # not NaN


@pytest.mark.slow
def test_a_named_model_with_random_weights_and_imagenet_names(tmp_path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    Image.fromarray(red_image((40, 40), (5, 5, 30, 30))).save(folder / "a.png")
    (folder / "labels.csv").write_text("path,label\na.png,tabby\n")
    res = invoke(
        "robustness",
        "--repeats",
        "1",
        folder,
        "-m",
        "mobilenetv3small",
        "-w",
        "none",
        "--preprocess",
        "none",
        "--labels",
        folder / "labels.csv",
        "--fractions",
        "0,0.5",
        "--methods",
        "cutout",
        "--json",
        "-",
        "-q",
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["model"] == "MobileNetV3Small" and data["weights"] == "random(seed=0)"
    assert [r["n"] for r in data["results"]] == [1, 1]


def test_a_weights_file_for_a_model_file(model_file, dataset, tmp_path) -> None:
    import keras

    model = keras.saving.load_model(model_file)
    model.layers[-2].set_weights([np.zeros((1, 2)), np.array([5.0, 0.0])])  # always class 0
    weights = tmp_path / "class0.weights.h5"
    model.save_weights(weights)
    args = [dataset, "-m", model_file, "--labels", "folders", "--fractions", "0", "--json", "-"]
    plain = invoke("robustness", "--repeats", "1", *args)
    assert plain.exit_code == 0, plain.output
    assert json.loads(plain.stdout)["results"][0]["accuracy"] == 1.0
    res = invoke("robustness", "--repeats", "1", *args, "--weights", weights)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["weights"] == str(weights)
    assert data["results"][0]["accuracy"] == 0.5  # right on the three class-0 images only
