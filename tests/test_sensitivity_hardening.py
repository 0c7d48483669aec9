"""``occlude sensitivity`` on bad input: one line, the right exit code, nothing lost."""

from __future__ import annotations

import json
import os
from pathlib import Path

import badfiles
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from occlude.cli import app

runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, ["sensitivity", *map(str, args)])


@pytest.mark.parametrize("kind", sorted(badfiles.BROKEN))
def test_bad_file_among_good_ones(model_file, tmp_path, kind) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.good_png(folder / "good.png")
    maker, message = badfiles.BROKEN[kind]
    bad = maker(folder)
    before = badfiles.digest(folder)
    out = tmp_path / "out"
    res = run(folder, "-m", model_file, "-p", "16", "-o", out, "-q")
    badfiles.assert_one_error(res, bad, message)
    assert (out / "good.png").is_file() and not (out / f"{bad.stem}.png").exists()
    assert badfiles.digest(folder) == before  # inputs untouched


def test_fail_fast_stops_at_the_first_failure(model_file, tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.zero_byte(folder / "a.png")
    badfiles.good_png(folder / "b.png")
    res = run(folder, "-m", model_file, "-p", "16", "-o", tmp_path / "out", "--fail-fast", "-q")
    assert res.exit_code == 1
    assert not (tmp_path / "out" / "b.png").exists()


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16"])
def test_image_modes(model_file, tmp_path, mode) -> None:
    ext = ".jpg" if mode == "CMYK" else ".png"
    path = badfiles.mode_image(tmp_path / f"img{ext}", mode)
    res = run(path, "-m", model_file, "-p", "16", "-o", tmp_path / "out", "--json", "-", "-q")
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)[0]
    assert np.isfinite(record["base_score"])


def test_exif_rotation_is_applied(model_file, tmp_path) -> None:
    path = badfiles.exif_rotated_jpeg(tmp_path / "rot.jpg")
    out = tmp_path / "out"
    res = run(path, "-m", model_file, "-p", "16", "-o", out, "-q")
    assert res.exit_code == 0, res.output
    with Image.open(out / "rot.png") as im:
        assert im.height > im.width  # portrait, as a viewer shows it


def test_animated_gif_uses_the_first_frame_and_says_so(model_file, tmp_path) -> None:
    path = badfiles.animated_gif(tmp_path / "anim.gif")
    res = run(path, "-m", model_file, "-p", "16", "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert "animated (2 frames): using the first frame" in res.stderr


@pytest.mark.parametrize("size", [(1, 1), (3, 200)])
def test_tiny_images_and_images_smaller_than_the_patch(model_file, tmp_path, size) -> None:
    path = badfiles.good_png(tmp_path / "tiny.png", size)
    res = run(path, "-m", model_file, "-p", "40", "-o", tmp_path / "out", "--json", "-", "-q")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["windows"] == 2  # 32x48 input, patch 40: 1 x 2


def test_huge_valid_image(model_file, tmp_path) -> None:
    path = badfiles.huge_jpeg(tmp_path / "huge.jpg")
    out = tmp_path / "out"
    res = run(path, "-m", model_file, "-p", "16", "-o", out, "-q")
    assert res.exit_code == 0, res.output
    with Image.open(out / "huge.png") as im:
        assert max(im.size) <= 4096 + 200  # drawn at most 4096 px, plus the legend


def test_empty_folder_is_a_usage_error(model_file, tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    res = run(tmp_path / "empty", "-m", model_file)
    assert res.exit_code == 2 and "no images found" in res.stderr


def test_out_that_is_a_file_or_not_writable(model_file, tmp_path, monkeypatch) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    (tmp_path / "file").write_text("x")
    res = run(img, "-m", model_file, "-o", tmp_path / "file")
    assert res.exit_code == 2 and "is not a folder" in res.stderr
    real_access = os.access  # as root, chmod would not make a folder unwritable

    def access(path, mode, *args, **kwargs):  # type: ignore[no-untyped-def]
        return str(path) != str(tmp_path) and real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    res = run(img, "-m", model_file, "-o", tmp_path / "ro" / "out")
    assert res.exit_code == 2 and "cannot write there" in res.stderr


def test_out_inside_the_input_folder_is_never_read_back(model_file, tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.good_png(folder / "a.png")
    for _ in range(2):
        res = run(folder, "-m", model_file, "-p", "16", "-o", folder / "out", "--json", "-")
        assert res.exit_code == 0, res.output
        assert [Path(r["input"]).name for r in json.loads(res.stdout)] == ["a.png"]


def test_rerun_skips_complete_outputs_and_overwrite_redoes_them(model_file, tmp_path) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    out = tmp_path / "out"
    first = run(img, "-m", model_file, "-p", "16", "-o", out, "--save-npy")
    assert first.exit_code == 0
    stamp = (out / "a.png").stat().st_mtime_ns
    again = run(img, "-m", model_file, "-p", "16", "-o", out, "--save-npy", "--json", "-")
    assert again.exit_code == 0 and "already done" in again.stderr
    assert (out / "a.png").stat().st_mtime_ns == stamp
    assert json.loads(again.stdout)[0]["windows"] == 6
    # other settings are not "the same outputs": they are redone
    other = run(img, "-m", model_file, "-p", "8", "-o", out, "--save-npy")
    assert other.exit_code == 0 and "already done" not in other.stderr
    forced = run(img, "-m", model_file, "-p", "8", "-o", out, "--save-npy", "--overwrite")
    assert forced.exit_code == 0 and "already done" not in forced.stderr
    assert not list(out.rglob("*.occlude-part"))


def _model(tmp_path: Path, kind: str) -> Path:
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
    else:  # lambda
        a = keras.Input((8, 8, 3))
        x = keras.layers.Lambda(lambda t: t * 2.0)(a)
        model = keras.Model(a, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    path = tmp_path / f"{kind}.keras"
    model.save(path)
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("two-inputs", "has 2 inputs and 1 outputs"),
        ("two-outputs", "has 1 inputs and 2 outputs"),
        ("vector-input", "is not (batch, height, width, 3)"),
        ("lambda", "--unsafe-model"),
    ],
)
def test_unusable_model_files(tmp_path, kind, message) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    res = run(img, "-m", _model(tmp_path, kind), "-o", tmp_path / "out")
    assert res.exit_code == 1, res.output
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_unsafe_model_flag_allows_lambda_layers(tmp_path) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    path = _model(tmp_path, "lambda")
    res = run(img, "-m", path, "-p", "4", "-o", tmp_path / "out", "--unsafe-model", "-q")
    assert res.exit_code == 0, res.output


def test_legacy_h5_with_lambda_is_refused(tmp_path) -> None:
    import keras

    a = keras.Input((8, 8, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0)(a)
    model = keras.Model(a, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    path = tmp_path / "legacy.h5"
    model.save(path)
    img = badfiles.good_png(tmp_path / "a.png")
    res = run(img, "-m", path, "-o", tmp_path / "out")
    assert res.exit_code == 1 and "--unsafe-model" in res.stderr


def test_not_a_keras_model(tmp_path) -> None:
    import zipfile

    path = tmp_path / "fake.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "not a model")
    img = badfiles.good_png(tmp_path / "a.png")
    res = run(img, "-m", path, "-o", tmp_path / "out")
    assert res.exit_code == 1 and "cannot load as a Keras model" in res.stderr


def _outputs(folder: Path) -> dict[str, str]:
    """Digests of the images and arrays (records hold timings, so they are compared apart)."""
    return {k: v for k, v in badfiles.digest(folder).items() if not k.endswith(".json")}


@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_interrupted_run_resumes_to_the_same_outputs(model_file, tmp_path, sig) -> None:
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(8):
        badfiles.good_png(folder / f"img{i}.png", (64 + 8 * i, 96))
    argv = [sys.executable, "-m", "occlude", "sensitivity", str(folder), "-m", str(model_file),
            "-p", "2,4", "--save-npy", "-q"]  # fmt: skip
    clean = tmp_path / "clean"
    subprocess.run([*argv, "-o", str(clean)], check=True, capture_output=True)

    out = tmp_path / "out"
    proc = subprocess.Popen([*argv, "-o", str(out)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(getattr(signal, sig))
    _, stderr = proc.communicate(timeout=60)
    if sig == "SIGINT":
        assert proc.returncode == 130, stderr
        assert "interrupted after" in stderr and "Traceback" not in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    done = sorted(p.stem for p in out.glob("*.json"))
    assert 1 <= len(done) < 8
    for path in out.iterdir():  # whatever exists is whole (temporary files aside)
        if path.suffix == ".png":
            Image.open(path).load()
        elif path.suffix == ".npy":
            np.load(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())

    resumed = subprocess.run([*argv, "-o", str(out)], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert _outputs(out) == _outputs(clean)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in clean.iterdir())


def test_a_record_is_withdrawn_before_its_outputs_are_rewritten(model_file, tmp_path, monkeypatch):
    """Run A finishes; run B (other settings) dies mid-image; rerunning A must redo it."""
    from occlude import render

    img = badfiles.good_png(tmp_path / "a.png")
    out, clean = tmp_path / "out", tmp_path / "clean"
    args = [img, "-m", model_file, "-p", "16", "-q"]
    assert run(*args, "-o", clean).exit_code == 0
    assert run(*args, "-o", out).exit_code == 0

    def die(*a, **k):  # B has written its heatmap, not yet its sheet or record
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "contact_sheet_png", die)
    assert run(*args, "-o", out, "--fill", "black").exit_code == 130
    monkeypatch.undo()
    again = run(img, "-m", model_file, "-p", "16", "-o", out)
    assert again.exit_code == 0 and "already done" not in again.stderr
    assert _outputs(out) == _outputs(clean)


def test_changed_input_is_redone(model_file, tmp_path) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    args = [img, "-m", model_file, "-p", "16", "-o", tmp_path / "out"]
    assert run(*args).exit_code == 0
    badfiles.good_png(img, (64, 80))  # edited in place
    again = run(*args)
    assert again.exit_code == 0 and "already done" not in again.stderr


def test_out_above_the_inputs_and_out_equal_to_an_input_folder(model_file, tmp_path, monkeypatch):
    folder = tmp_path / "imgs"
    folder.mkdir()
    badfiles.good_png(folder / "a.png")
    monkeypatch.chdir(tmp_path)
    res = run("imgs", "-m", model_file, "-p", "16", "-o", ".", "-q")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "a.png").is_file()  # outputs in ".", inputs untouched in imgs/
    res = run("imgs", "-m", model_file, "-o", "imgs")
    assert res.exit_code == 2 and "is an input folder" in res.stderr


def test_overlapping_arguments_do_not_depend_on_their_order(tmp_path) -> None:
    from occlude.inputs import find_images

    (tmp_path / "data" / "cats").mkdir(parents=True)
    badfiles.good_png(tmp_path / "data" / "cats" / "a.png")
    one = find_images([tmp_path / "data", tmp_path / "data" / "cats" / "a.png"])
    two = find_images([tmp_path / "data" / "cats" / "a.png", tmp_path / "data"])
    assert [i.rel.as_posix() for i in one] == [i.rel.as_posix() for i in two] == ["cats/a.png"]


def test_outputs_get_the_usual_permissions(model_file, tmp_path) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    old = os.umask(0o022)
    try:
        assert run(img, "-m", model_file, "-p", "16", "-o", tmp_path / "out", "-q").exit_code == 0
    finally:
        os.umask(old)
    # the umask in force when occlude.imageio was imported applies (022 on most systems)
    from occlude.imageio import _UMASK

    assert (tmp_path / "out" / "a.png").stat().st_mode & 0o777 == 0o666 & ~_UMASK


def test_model_saved_with_a_fixed_batch_size(tmp_path) -> None:
    import keras

    inputs = keras.Input((8, 8, 3), batch_size=4)
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    path = tmp_path / "fixed.keras"
    model.save(path)
    img = badfiles.good_png(tmp_path / "a.png")
    res = run(img, "-m", path, "-p", "2", "-b", "32", "-o", tmp_path / "out", "--json", "-", "-q")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["windows"] == 16


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("in/a.png", "would overwrite an input"),
        ("out/a.json", "outputs"),
        ("in", "is a folder"),
    ],
)
def test_json_target_is_checked_before_any_work(model_file, tmp_path, target, message) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.good_png(folder / "a.png")
    res = run(folder, "-m", model_file, "-o", tmp_path / "out", "--json", tmp_path / target)
    assert res.exit_code == 2 and message in res.stderr
    assert not (tmp_path / "out").exists()


def test_named_model_with_random_weights_a_class_name_and_default_out(tmp_path, monkeypatch):
    """--weights none, --class NAME, --preprocess FAMILY and the default --out."""
    img = badfiles.good_png(tmp_path / "a.png")
    monkeypatch.chdir(tmp_path)
    res = run(img, "-m", "MobileNetV3Small", "-w", "none", "-c", "tabby", "--preprocess",
              "mobilenet_v2", "-p", "112", "--json", "-", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)[0]
    assert rec["class_index"] == 281 and rec["class_name"] == "tabby"
    assert rec["weights"] == "none" and rec["preprocess"] == "mobilenet_v2"
    assert rec["input_size"] == [224, 224] and rec["windows"] == 4
    assert (tmp_path / "occlude-out" / "a.png").is_file()


@pytest.mark.parametrize(
    ("args", "code"), [(["-s", "1"], 0), (["-s", "8"], 2), (["--seed", "-1"], 2)]
)
def test_stride_with_the_default_sweep_and_bad_seed(model_file, tmp_path, args, code) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    res = run(img, "-m", model_file, "-o", tmp_path / "out", "-q", *args)
    assert res.exit_code == code, res.output
