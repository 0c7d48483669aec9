"""Model files and named models: what cannot be used fails with one line, code in model files
is refused unless allowed, the offline default model says what to do, and a real ResNet50."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import badfiles
import numpy as np
import pytest
from PIL import Image
from support.children import child_env, occlude, run
from support.cli import assert_usage_error, invoke

from occlude.zoo import APPLICATIONS, FAMILIES


def keras_model(tmp_path: Path, kind: str, suffix: str = ".keras") -> Path:
    import keras

    if kind == "two-inputs":
        a, b = keras.Input((8, 8, 3)), keras.Input((8, 8, 3))
        x = keras.layers.Flatten()(keras.layers.Add()([a, b]))
        model = keras.Model([a, b], keras.layers.Dense(2)(x))
    elif kind == "two-outputs":
        a = keras.Input((8, 8, 3))
        x = keras.layers.Flatten()(a)
        model = keras.Model(a, [keras.layers.Dense(2)(x), keras.layers.Dense(3)(x)])
    elif kind == "vector-input":
        a = keras.Input((10,))
        model = keras.Model(a, keras.layers.Dense(2)(a))
    elif kind == "free-size":
        a = keras.Input((None, None, 3))
        model = keras.Model(a, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(a)))
    elif kind == "fixed-batch":
        a = keras.Input((8, 8, 3), batch_size=4)
        model = keras.Model(a, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(a)))
    else:  # lambda
        a = keras.Input((8, 8, 3))
        x = keras.layers.Lambda(lambda t: t * 2.0)(a)
        model = keras.Model(a, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    path = tmp_path / f"{kind}{suffix}"
    model.save(path)
    return path


def sensitivity(tmp_path: Path, model: Path | str, *args: object):  # type: ignore[no-untyped-def]
    img = badfiles.good_png(tmp_path / "a.png")
    return invoke("sensitivity", img, "-m", model, "-o", tmp_path / "out", *args)


def assert_one_line_failure(res, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert res.exit_code == 1, res.output
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("occlude: error: "), lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("two-inputs", "needs one image input and one score output; it has 2 inputs and 1 "
                       "outputs"),
        ("two-outputs", "needs one image input and one score output; it has 1 inputs and 2 "
                        "outputs"),
        ("vector-input", "input shape (None, 10) is not (batch, height, width, 3)"),
        ("free-size", "input size (None, None) is not fixed; save it with one"),
        ("lambda", "refused: it contains code (a Lambda layer) that would run on loading; pass "
                   "--unsafe-model if you trust this file"),
    ],
)  # fmt: skip
def test_unusable_model_files_fail_with_one_line(tmp_path, kind, message) -> None:
    path = keras_model(tmp_path, kind)
    res = sensitivity(tmp_path, path)
    assert_one_line_failure(res, str(path), message)
    assert not (tmp_path / "out" / "a.png").exists()


def test_the_unsafe_model_flag_allows_lambda_layers(tmp_path) -> None:
    path = keras_model(tmp_path, "lambda")
    res = sensitivity(tmp_path, path, "-p", "4", "--unsafe-model", "--json", "-", "-q")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["windows"] == 4


def test_a_legacy_h5_model_with_a_lambda_layer_is_refused(tmp_path) -> None:
    path = keras_model(tmp_path, "lambda", ".h5")
    assert_one_line_failure(sensitivity(tmp_path, path), str(path), "--unsafe-model")


@pytest.mark.parametrize("kind", ["not-a-zip", "zip-without-a-model"])
def test_a_file_that_is_not_a_keras_model(tmp_path, kind) -> None:
    path = tmp_path / "fake.keras"
    if kind == "not-a-zip":
        path.write_bytes(b"not a zip")
    else:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("hello.txt", "not a model")
    assert_one_line_failure(sensitivity(tmp_path, path), f"{path}: cannot load as a Keras model")


def test_a_model_saved_with_a_fixed_batch_size_runs_at_that_size(tmp_path) -> None:
    path = keras_model(tmp_path, "fixed-batch")
    res = sensitivity(tmp_path, path, "-p", "2", "-b", "32", "--json", "-", "-q")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["windows"] == 16


def test_weights_that_do_not_fit_the_model(model_file, tmp_path) -> None:
    import keras

    inputs = keras.Input((4, 4, 3))
    other = keras.Model(inputs, keras.layers.Dense(5)(keras.layers.Flatten()(inputs)))
    weights = tmp_path / "other.weights.h5"
    other.save_weights(weights)
    res = sensitivity(tmp_path, model_file, "-w", weights, "-q")  # -q: no Keras warnings
    assert_one_line_failure(res, f"{weights}: cannot load into {model_file}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-w", "imagenet"], "--weights imagenet applies to keras.applications names"),
        (["-w", "missing.weights.h5"], "missing.weights.h5: weights file not found"),
    ],
)
def test_weights_usage_errors(model_file, tmp_path, args, message) -> None:
    assert_usage_error(sensitivity(tmp_path, model_file, *args), message)


def test_a_missing_model_file_is_a_usage_error(tmp_path) -> None:
    res = sensitivity(tmp_path, tmp_path / "nope.keras")
    assert_usage_error(res, f"{tmp_path / 'nope.keras'}: model file not found")


def test_the_name_table_matches_keras_applications() -> None:
    """The table lets a typo fail without TensorFlow; it must name real constructors."""
    import keras

    for name, family in APPLICATIONS.items():
        assert callable(getattr(keras.applications, name)), name
        assert callable(getattr(keras.applications, family).preprocess_input), family
    assert set(FAMILIES) == set(APPLICATIONS.values())


# --- offline: the default model without its ImageNet weights ------------------------------


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """``occlude sensitivity img.png`` (ResNet50, ImageNet weights) in a child process whose
    Keras cache is empty and whose sockets are all refused."""
    work = tmp_path_factory.mktemp("offline")
    home = work / "home"
    home.mkdir()
    img = badfiles.good_png(work / "img.png")
    env = child_env(work / "site", offline=True)
    env.update(HOME=str(home), KERAS_HOME=str(home / ".keras"))
    done = run(occlude("sensitivity", img, "-o", work / "out"), env)
    return done, work


@pytest.mark.slow
def test_offline_the_default_model_says_how_to_run_without_a_network(offline_run) -> None:
    done, work = offline_run
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    error = done.stderr.splitlines()[-1]
    assert error == (
        "occlude: error: ResNet50: cannot download its ImageNet weights ([Errno 101] Network "
        "is unreachable). Offline, pass --weights FILE (a ResNet50 weights file, e.g. copied "
        "from ~/.keras/models on a connected machine) or --model FILE.keras"
    )
    assert not list((work / "home" / ".keras").rglob("*.h5"))  # nothing came in
    assert not (work / "out" / "img.png").exists()


@pytest.mark.slow
def test_offline_the_error_is_the_only_line(offline_run) -> None:
    done, _ = offline_run
    assert len(done.stderr.splitlines()) == 1, done.stderr


# --- a real architecture: ResNet50 from a weights file ------------------------------------


@pytest.fixture(scope="module")
def resnet_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("resnet") / "resnet50.weights.h5"
    keras.applications.ResNet50(weights=None).save_weights(path)
    return path


@pytest.mark.slow
def test_design_card_invocation_with_a_resnet50_weights_file(resnet_weights, tmp_path) -> None:
    """`occlude sensitivity cat.jpg --class 281 --patch 40`, offline: weights from a file."""
    cat = tmp_path / "cat.jpg"
    Image.open(Path(__file__).parents[1] / "sample_images" / "cat.png").convert("RGB").save(cat)
    out = tmp_path / "out"
    res = invoke("sensitivity", cat, "--class", "281", "--patch", "40", "--weights",
                 resnet_weights, "-o", out, "--json", "-", "--save-npy")  # fmt: skip
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
    for y in range(0, 224, 40):
        for x in range(0, 224, 40):
            block = values[y : y + 40, x : x + 40]
            assert np.all(block == block[0, 0])
    with Image.open(out / "cat.png") as im:
        assert im.width > 451 and im.height > 300  # the original 451x300, plus a legend
