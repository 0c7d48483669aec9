"""``occlude sensitivity`` end to end: Keras models built here, offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from kerasmodels import red_image
from PIL import Image
from typer.testing import CliRunner

from occlude.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["sensitivity", *map(str, args)])


@pytest.fixture()
def images(tmp_path: Path) -> Path:
    """A folder: top.png (red object top-left), sub/low.png (bottom-right), sub/none.jpg."""
    root = tmp_path / "imgs"
    (root / "sub").mkdir(parents=True)
    Image.fromarray(red_image((64, 96), (4, 8, 20, 28))).save(root / "top.png")
    Image.fromarray(red_image((32, 48), (20, 32, 30, 46))).save(root / "sub" / "low.PNG")
    Image.fromarray(red_image((40, 40), None)).save(root / "sub" / "none.jpg", quality=95)
    (root / "notes.txt").write_text("not an image")
    return root


def test_folder_run_mirrors_subfolders_and_writes_json(model_file, images, tmp_path) -> None:
    out = tmp_path / "out"
    res = invoke(images, "--model", model_file, "--class", "0", "-o", out, "--json", out / "r.json")
    assert res.exit_code == 0, res.output
    for rel in ("top.png", "top_scales.png", "sub/low.png", "sub/low_scales.png", "sub/none.png"):
        assert (out / rel).is_file(), rel
    assert not (out / "top.npy").exists()
    records = json.loads((out / "r.json").read_text())
    assert [Path(r["input"]).name for r in records] == ["top.png", "low.PNG", "none.jpg"]
    rec = records[0]
    for key in (
        "input", "outputs", "model", "class_index", "class_name", "base_score", "top5",
        "patch_sizes", "strides", "fill", "windows", "seconds",
    ):  # fmt: skip
        assert key in rec
    assert rec["class_index"] == 0 and rec["class_name"] is None
    assert rec["patch_sizes"] == [2, 5, 8, 16]  # 1/14, 1/7, 1/4, 1/2 of 32
    assert rec["strides"] == rec["patch_sizes"]
    assert rec["windows"] == 16 * 24 + 7 * 10 + 4 * 6 + 2 * 3
    assert len(rec["top5"]) == 2  # the model has two classes
    assert rec["fill"] == [127.5, 127.5, 127.5]
    # The heatmap is at the original resolution (or an enlargement of it), with a legend.
    with Image.open(out / "top.png") as im:
        assert im.width > 96 and im.height > 64


def test_map_peaks_on_the_object_and_npy_matches_the_library(model_file, images, tmp_path):
    out = tmp_path / "out"
    res = invoke(images / "top.png", "-m", model_file, "-c", "0", "-o", out, "--save-npy", "-q")
    assert res.exit_code == 0, res.output
    values = np.load(out / "top.npy")
    assert values.shape == (32, 48) and values.dtype == np.float32
    # red box (4..20, 8..28) in a 64x96 image -> (2..10, 4..14) at model size 32x48
    y, x = np.unravel_index(np.argmax(values), values.shape)
    assert 2 <= y < 10 and 4 <= x < 14
    scales = np.load(out / "top_scales.npz")
    assert sorted(scales.files) == sorted(
        ["combined", "patch_sizes", "strides", "patch_2", "patch_5", "patch_8", "patch_16"]
    )
    np.testing.assert_array_equal(scales["combined"], values)
    np.testing.assert_allclose(
        np.mean([scales[f"patch_{p}"] for p in (2, 5, 8, 16)], axis=0), values, atol=1e-7
    )
    from occlude.imageio import read_rgb, resize_rgb
    from occlude.model import load_classifier
    from occlude.sensitivity import occlusion_sensitivity

    clf = load_classifier(str(model_file))
    image = resize_rgb(read_rgb(images / "top.png"), clf.input_size)
    lib = occlusion_sensitivity(image, clf.predictor(7), class_index=0, batch_size=7)
    np.testing.assert_allclose(lib.map, values, atol=1e-6)


def test_json_to_stdout_is_clean_json(model_file, images, tmp_path) -> None:
    out = tmp_path / "out"
    res = invoke(
        images / "sub", "-m", model_file, "-p", "8", "--patch", "16", "-s", "4,16",
        "--fill", "black", "-b", "5", "-o", out, "--json", "-",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    records = json.loads(res.stdout)
    assert len(records) == 2
    assert records[0]["patch_sizes"] == [8, 16] and records[0]["strides"] == [4, 16]
    assert records[0]["windows"] == 7 * 11 + 2 * 3
    assert records[0]["fill"] == [0.0, 0.0, 0.0]
    assert records[0]["class_index"] == 0  # top-1 for the image with a red box
    assert records[1]["class_index"] == 1  # no red: class 1 is top-1


@pytest.mark.parametrize("fill", ["grey", "black", "white", "mean", "blur", "200", "10,20,30"])
def test_every_fill_runs(model_file, images, tmp_path, fill) -> None:
    res = invoke(
        images / "top.png", "-m", model_file, "-p", "16", "--fill", fill, "-o", tmp_path / "o",
        "--json", tmp_path / "r.json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "r.json").read_text())[0]["windows"] == 6


def test_preprocess_override_changes_the_scores(model_file, images, tmp_path) -> None:
    args = [images / "top.png", "-m", model_file, "-p", "16", "-o", tmp_path, "--json", "-"]
    raw = json.loads(invoke(*args).stdout)[0]
    res = invoke(*args, "--preprocess", "tf")
    assert res.exit_code == 0, res.output
    pre = json.loads(res.stdout)[0]
    assert pre["preprocess"] == "tf" and raw["preprocess"] == "none"
    assert pre["base_score"] != raw["base_score"]


def test_warns_when_target_is_not_top1(model_file, images, tmp_path) -> None:
    res = invoke(images / "top.png", "-m", model_file, "-c", "1", "-p", "16", "-o", tmp_path)
    assert res.exit_code == 0
    assert "top-1 is class 0" in res.stderr


def test_quiet_prints_nothing(model_file, images, tmp_path) -> None:
    loud = invoke(images / "top.png", "-m", model_file, "-p", "16", "-o", tmp_path)
    quiet = invoke(images / "top.png", "-m", model_file, "-p", "16", "-o", tmp_path, "-q")
    assert "windows" in loud.stderr
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == ""


def test_unreadable_image_fails_alone(model_file, images, tmp_path) -> None:
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    res = invoke(images, "-m", model_file, "-p", "16", "-o", out, "-q")
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert any("broken.png: cannot read image" in line for line in lines)
    assert "Traceback" not in res.output
    assert (out / "top.png").is_file() and (out / "sub" / "low.png").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "resnet5o"], "unknown model 'resnet5o'"),
        (["-c", "2"], "class index 2 is out of range"),
        (["-c", "tabby"], "needs an ImageNet model"),
        (["-c", "not_a_class"], "unknown ImageNet class name"),
        (["-p", "0"], "--patch must be positive"),
        (["-p", "-3"], "--patch must be positive"),
        (["-p", "x"], "--patch expects integers"),
        (["-p", "8", "-s", "0"], "--stride must be positive"),
        (["-p", "8", "-s", "9"], "larger than --patch"),
        (["-p", "8,4", "-s", "1,2,3"], "one --stride or one per patch"),
        (["--fill", "noise"], "not available here"),
        (["--preprocess", "yolo"], "unknown --preprocess"),
        (["-w", "missing.weights.h5"], "weights file not found"),
    ],
)
def test_usage_errors_exit_2_with_one_line(model_file, images, tmp_path, args, message):
    argv = [images / "top.png", "-o", tmp_path / "o"]
    if "-m" not in args:
        argv += ["-m", model_file]
    res = invoke(*argv, *args)
    assert res.exit_code == 2, res.output
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.output


def test_missing_input_and_output_over_input(model_file, images, tmp_path) -> None:
    res = invoke(tmp_path / "nope.png", "-m", model_file)
    assert res.exit_code == 2 and "no such file or folder" in res.stderr
    # writing next to the inputs would overwrite top.png
    res = invoke(images / "top.png", "-m", model_file, "-o", images)
    assert res.exit_code == 2 and "would overwrite an input" in res.stderr
    assert Image.open(images / "top.png").size == (96, 64)


def test_corrupt_model_file_is_one_line(tmp_path, images) -> None:
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    res = invoke(images / "top.png", "-m", bad, "-o", tmp_path / "o")
    assert res.exit_code == 1
    assert "cannot load as a Keras model" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_offline_imagenet_download_fails_with_one_clear_line(monkeypatch, images, tmp_path):
    """Simulates the download failure (no test touches the network)."""
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://example.invalid/w.h5: None -- no network")

    monkeypatch.setattr(file_utils, "get_file", offline)
    res = invoke(images / "top.png", "-m", "mobilenet_v2", "-o", tmp_path / "o")
    assert res.exit_code == 1
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "cannot download its ImageNet weights" in line and "--weights FILE" in line


def test_help_and_version_load_no_tensorflow() -> None:
    code = (
        "import sys\n"
        "from occlude.cli import app\n"
        "for argv in (['--help'], ['sensitivity', '--help'], ['--version']):\n"
        "    try:\n"
        "        app(argv)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules, 'matplotlib' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False False"
    assert "--save-npy" in out.stdout and "occlude 0.1.0" in out.stdout


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "occlude", "sensitivity", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--batch-size" in out.stdout


def test_every_sensitivity_option_has_help() -> None:
    from typer.main import get_command

    command = get_command(app).commands["sensitivity"]  # type: ignore[attr-defined]
    for param in command.params:
        assert getattr(param, "help", None) or param.param_type_name == "argument", param.name


def test_progress_bar_shows_only_on_a_terminal(monkeypatch) -> None:
    import io

    from occlude.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with Progress(10, "occluding") as bar:
        assert bar.enabled
        bar.advance(10)
    with Progress(10, "occluding", enabled=False) as bar:  # --quiet
        assert not bar.enabled
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a pipe or a CI log
    with Progress(10, "occluding") as bar:
        assert not bar.enabled
