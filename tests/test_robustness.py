"""``occlude robustness``: occluders, the evaluation loop and the command."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from kerasmodels import red_image
from PIL import Image
from typer.testing import CliRunner

from occlude.cli import app
from occlude.errors import UsageError
from occlude.fill import parse_fill
from occlude.augment.methods import HideAndSeek
from occlude.augment.methods.cutout import square_inside
from occlude.augment.methods.random_erasing import box_inside
from occlude.robustness import Sample, evaluate, occlude, resolve_label


def hidden_cells(rng, shape, fraction):  # type: ignore[no-untyped-def]
    params = HideAndSeek.at_fraction(rng, shape, fraction)
    return params.grid, list(params.hidden)


GREY = parse_fill("grey")


def test_square_and_box_have_the_asked_area_and_stay_inside() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        f = float(rng.uniform(0.01, 0.6))
        x0, y0, x1, y1 = square_inside(rng, (60, 90), f)
        assert 0 <= x0 < x1 <= 90 and 0 <= y0 < y1 <= 60
        assert x1 - x0 == y1 - y0
        assert abs((x1 - x0) * (y1 - y0) / (60 * 90) - f) < 0.03
        x0, y0, x1, y1 = box_inside(rng, (60, 90), f)
        assert 0 <= x0 < x1 <= 90 and 0 <= y0 < y1 <= 60
        assert abs((x1 - x0) * (y1 - y0) / (60 * 90) - f) < 0.04


def test_box_aspect_is_log_uniform_and_centred() -> None:
    rng = np.random.default_rng(1)
    logs = []
    for _ in range(2000):
        x0, y0, x1, y1 = box_inside(rng, (400, 400), 0.05)
        logs.append(np.log((y1 - y0) / (x1 - x0)))
    assert abs(np.mean(logs)) < 0.05
    assert max(logs) < np.log(1 / 0.3) + 0.05 and min(logs) > np.log(0.3) - 0.05


def test_hide_and_seek_hides_about_the_fraction() -> None:
    rng = np.random.default_rng(2)
    side, _cells = hidden_cells(rng, (224, 224), 0.3)
    assert side == 32
    shares = [len(hidden_cells(rng, (224, 224), 0.3)[1]) / 49 for _ in range(400)]
    assert abs(np.mean(shares) - 0.3) < 0.01


def test_occlude_paints_exactly_the_sampled_region() -> None:
    image = np.full((20, 30, 3), 200, np.uint8)
    out = occlude(image, "cutout", 0.25, np.random.default_rng(3), GREY)
    x0, y0, x1, y1 = square_inside(np.random.default_rng(3), (20, 30), 0.25)
    expected = image.copy()
    expected[y0:y1, x0:x1] = 128  # 127.5 rounds to 128
    np.testing.assert_array_equal(out, expected)
    assert occlude(image, "hide-and-seek", 0.0, np.random.default_rng(0), GREY) is image
    noisy = occlude(image, "random-erasing", 0.3, np.random.default_rng(4), parse_fill("noise"))
    changed = (noisy != image).any(axis=2).mean()
    assert 0.25 < changed < 0.32


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
    for method in ("cutout", "hide-and-seek", "random-erasing"):
        accs = [r.accuracy for r in rows if r.method == method]
        scores = [r.mean_true_score for r in rows if r.method == method]
        assert accs[0] == 1.0 and accs[-1] == 0.0
        assert all(a >= b for a, b in itertools.pairwise(accs)), (method, accs)
        assert all(a > b for a, b in itertools.pairwise(scores)), (method, scores)
    assert all(r.n == 20 for r in rows)


def test_results_do_not_depend_on_batch_size_or_order() -> None:
    samples = red_samples(6)
    samples = [Sample(f"img{i}.png", s.image, s.label) for i, s in enumerate(samples)]
    kwargs = {"fractions": [0.0, 0.2, 0.35], "fill": GREY, "seed": 5}
    a = evaluate(samples, red_share_model, batch_size=1, **kwargs)
    b = evaluate(samples[::-1], red_share_model, batch_size=7, **kwargs)
    assert a == b
    c = evaluate(samples, red_share_model, batch_size=4, **{**kwargs, "seed": 6})
    assert a != c


def test_labels_resolve_to_indices() -> None:
    assert resolve_label("3", 10, imagenet=False) == 3
    assert resolve_label("tabby", 1000, imagenet=True) == 281
    with pytest.raises(UsageError, match="out of range"):
        resolve_label("10", 10, imagenet=False)
    with pytest.raises(UsageError, match="need an ImageNet model"):
        resolve_label("tabby", 10, imagenet=False)


runner = CliRunner()


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    """Folders 0/ (a large red object) and 1/ (no red), and labels.csv saying the same."""
    root = tmp_path / "data"
    rows = ["path,label"]
    for label, box in (("0", (4, 6, 28, 42)), ("1", None)):
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(red_image((32 + i, 48), box)).save(root / label / f"{i}.png")
            rows.append(f"{label}/{i}.png,{label}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def run(*args: object):
    return runner.invoke(app, ["robustness", *map(str, args)])


def test_cli_table_json_plot_and_gate(model_file, dataset, tmp_path) -> None:
    args = [dataset, "-m", model_file, "--labels", "folders", "--fractions", "0,0.5,0.9"]
    res = run(*args, "--json", tmp_path / "r.json", "--plot", tmp_path / "r.png", "-q")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0].split() == [
        "method",
        "fraction",
        "accuracy",
        "mean",
        "score",
        "n",
    ]
    data = json.loads((tmp_path / "r.json").read_text())
    assert {r["method"] for r in data["results"]} == {"cutout", "hide-and-seek", "random-erasing"}
    first = data["results"][0]
    assert set(first) == {"method", "fraction", "accuracy", "mean_true_score", "n"}
    assert first["fraction"] == 0.0 and first["accuracy"] == 1.0 and first["n"] == 6
    with Image.open(tmp_path / "r.png") as im:
        assert im.size == (640, 420)
    passed = run(*args, "--min-accuracy", "0.9", "--at", "0")
    assert passed.exit_code == 0
    failed = run(*args, "--min-accuracy", "0.9", "--at", "0.9")
    assert failed.exit_code == 3 and "accuracy gate" in failed.stderr


def test_cli_csv_labels_and_json_to_stdout(model_file, dataset) -> None:
    res = run(dataset, "-m", model_file, "--labels", dataset / "labels.csv", "--methods",
              "cutout", "--fractions", "0,0.2", "--json", "-", "--fill", "noise", "--seed", "1",
              "-b", "4")  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [r["fraction"] for r in data["results"]] == [0.0, 0.2]
    assert data["fill"] == "noise" and data["seed"] == 1
    assert "method" in res.stderr  # the table moves to stderr


def test_cli_missing_label_fails_that_input(model_file, dataset) -> None:
    lines = (dataset / "labels.csv").read_text().splitlines()
    (dataset / "labels.csv").write_text("\n".join(lines[:-1]) + "\n")
    res = run(dataset, "-m", model_file, "--labels", dataset / "labels.csv", "--fractions", "0")
    assert res.exit_code == 1 and "no label" in res.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--methods", "cutmix"], "unknown method"),
        (["--fractions", "0,1.5"], "must be in [0, 1]"),
        (["--fractions", "a"], "expects numbers"),
        (["--min-accuracy", "0.5"], "go together"),
        (["--min-accuracy", "0.5", "--at", "0.7"], "is not one of --fractions"),
        (["--fill", "dataset-mean"], "not available here"),
    ],
)
def test_cli_usage_errors(model_file, dataset, args, message) -> None:
    res = run(dataset, "-m", model_file, "--labels", "folders", *args)
    assert res.exit_code == 2 and message in res.stderr, res.output


def test_cli_class_names_need_an_imagenet_model(model_file, dataset) -> None:
    (dataset / "labels.csv").write_text("path,label\n0/0.png,tabby\n")
    res = run(dataset / "0" / "0.png", "-m", model_file, "--labels", dataset / "labels.csv",
              "--json", "-")  # fmt: skip
    assert res.exit_code == 1 and "ImageNet model" in res.stderr  # that input fails alone
    data = json.loads(res.stdout)
    assert data["results"][0]["n"] == 0 and data["results"][0]["accuracy"] is None  # not NaN


def test_repeated_methods_and_fractions_count_once() -> None:
    rows = evaluate(
        red_samples(3), red_share_model, methods=["cutout", "cutout"], fractions=[0, 0, 0.5],
        fill=GREY,
    )  # fmt: skip
    assert [(r.method, r.fraction, r.n) for r in rows] == [("cutout", 0.0, 3), ("cutout", 0.5, 3)]


def test_cli_named_model_weights_none_and_preprocess(tmp_path) -> None:
    """--weights none on a keras.applications model, --preprocess, ImageNet class names."""
    folder = tmp_path / "data"
    folder.mkdir()
    Image.fromarray(red_image((40, 40), (5, 5, 30, 30))).save(folder / "a.png")
    (folder / "labels.csv").write_text("path,label\na.png,tabby\n")
    res = run(folder, "-m", "mobilenetv3small", "-w", "none", "--preprocess", "none",
              "--labels", folder / "labels.csv", "--fractions", "0,0.5", "--methods", "cutout",
              "--unsafe-model", "--json", "-", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["model"] == "MobileNetV3Small" and data["weights"] == "none"
    assert [r["n"] for r in data["results"]] == [1, 1]


def test_cli_weights_file_for_a_model_file(model_file, dataset, tmp_path) -> None:
    import keras

    model = keras.saving.load_model(model_file)
    model.layers[-2].set_weights([np.zeros((1, 2)), np.array([5.0, 0.0])])  # always class 0
    weights = tmp_path / "class0.weights.h5"
    model.save_weights(weights)
    args = [dataset, "-m", model_file, "--labels", "folders", "--fractions", "0", "--json", "-"]
    plain = json.loads(run(*args).stdout)["results"][0]["accuracy"]
    res = run(*args, "--weights", weights)
    assert res.exit_code == 0, res.output
    assert plain == 1.0 and json.loads(res.stdout)["results"][0]["accuracy"] == 0.5
