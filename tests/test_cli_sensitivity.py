"""``occlude sensitivity`` end to end on Keras models built here (offline): outputs, records,
every fill against the library, preprocessing, class targets and what is printed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from kerasmodels import red_image
from PIL import Image
from support.cli import invoke

from occlude.imageio import read_rgb, resize_rgb
from occlude.sensitivity import occlusion_sensitivity


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def images(tmp_path: Path) -> Path:
    """A folder: top.png (red object top-left), sub/low.PNG (bottom-right), sub/none.jpg."""
    root = tmp_path / "imgs"
    (root / "sub").mkdir(parents=True)
    Image.fromarray(red_image((64, 96), (8, 4, 28, 20))).save(root / "top.png")
    Image.fromarray(red_image((32, 48), (32, 20, 46, 30))).save(root / "sub" / "low.PNG")
    Image.fromarray(red_image((40, 40), None)).save(root / "sub" / "none.jpg", quality=95)
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def red_classifier(model_file):  # type: ignore[no-untyped-def]
    from occlude.model import load_classifier

    return load_classifier(str(model_file))


@pytest.mark.slow
def test_folder_run_mirrors_subfolders_and_writes_records(model_file, images, tmp_path) -> None:
    out = tmp_path / "out"
    res = invoke("sensitivity", images, "--model", model_file, "--class", "0", "-o", out,
                 "--json", out / "r.json")  # fmt: skip
    assert res.exit_code == 0, res.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                     if p.is_file() and ".occlude" not in p.parts)  # fmt: skip
    assert written == ["r.json", "sub/low.json", "sub/low.png", "sub/low_scales.png",
                       "sub/none.json", "sub/none.png", "sub/none_scales.png", "top.json",
                       "top.png", "top_scales.png"]  # fmt: skip
    records = json.loads((out / "r.json").read_text())
    assert [Path(r["input"]).name for r in records] == ["top.png", "low.PNG", "none.jpg"]
    rec = records[0]
    assert rec == json.loads((out / "top.json").read_text())  # the record beside the outputs
    assert rec["input"] == str(images / "top.png")
    assert rec["outputs"] == {"heatmap": str(out / "top.png"), "sheet": str(out / "top_scales.png"),
                              "record": str(out / "top.json")}  # fmt: skip
    assert rec["model"] == str(model_file) and rec["weights"] == str(model_file)
    assert rec["preprocess"] == "none" and rec["input_size"] == [32, 48]
    assert rec["class_index"] == 0 and rec["class_name"] is None and rec["top1_index"] == 0
    assert rec["patch_sizes"] == [2, 5, 8, 16]  # 1/14, 1/7, 1/4, 1/2 of 32
    assert rec["strides"] == rec["patch_sizes"]
    assert rec["windows"] == 16 * 24 + 7 * 10 + 4 * 6 + 2 * 3
    assert [i for i, _, _ in rec["top5"]] == [0, 1]  # the model has two classes
    assert rec["top5"][0][2] == pytest.approx(rec["base_score"])
    assert rec["fill"] == [127.5, 127.5, 127.5]
    assert rec["map_min"] <= 0 < rec["map_max"]
    assert "seconds" not in rec  # a time would make reruns and shards differ byte by byte
    assert rec["backend"] == "tensorflow" and rec["precision"] == "float32"
    settings = rec["settings"]
    assert settings["input_sha256"] == sha256(images / "top.png")
    assert settings["model_sha256"] == sha256(model_file)
    assert settings["weights_sha256"] is None and settings["expect_mask_sha256"] is None
    # The heatmap is at the original resolution (or an enlargement of it), with a legend.
    with Image.open(out / "top.png") as im:
        assert im.width > 96 and im.height > 64


def test_map_peaks_on_the_object_and_npy_matches_the_library(
    model_file, red_classifier, images, tmp_path
) -> None:
    out = tmp_path / "out"
    res = invoke("sensitivity", images / "top.png", "-m", model_file, "-c", "0", "-o", out,
                 "--save-npy", "-q")  # fmt: skip
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
    assert scales["patch_sizes"].tolist() == scales["strides"].tolist() == [2, 5, 8, 16]
    np.testing.assert_array_equal(scales["combined"], values)
    np.testing.assert_allclose(
        np.mean([scales[f"patch_{p}"] for p in (2, 5, 8, 16)], axis=0), values, atol=1e-7
    )
    image = resize_rgb(read_rgb(images / "top.png"), red_classifier.input_size)
    lib = occlusion_sensitivity(image, red_classifier.predictor(7), class_index=0, batch_size=7)
    np.testing.assert_allclose(lib.map, values, atol=1e-6)


def test_json_to_stdout_is_clean_json(model_file, images, tmp_path) -> None:
    res = invoke("sensitivity", images / "sub", "-m", model_file, "-p", "8", "--patch", "16",
                 "-s", "4,16", "--fill", "black", "-b", "5", "-o", tmp_path / "out", "--json",
                 "-")  # fmt: skip
    assert res.exit_code == 0, res.output
    records = json.loads(res.stdout)
    assert len(records) == 2
    assert records[0]["patch_sizes"] == [8, 16] and records[0]["strides"] == [4, 16]
    assert records[0]["windows"] == 7 * 11 + 2 * 3
    assert records[0]["fill"] == [0.0, 0.0, 0.0]
    assert records[0]["class_index"] == 0  # top-1 for the image with a red box
    assert records[1]["class_index"] == 1  # no red: class 1 is top-1


FILLS = {
    "grey": [127.5, 127.5, 127.5],
    "black": [0.0, 0.0, 0.0],
    "white": [255.0, 255.0, 255.0],
    "mean": "mean",
    "blur": "blur",
    "200": [200.0, 200.0, 200.0],
    "10,20,30": [10.0, 20.0, 30.0],
}


@pytest.mark.parametrize("fill", list(FILLS))
def test_every_fill_gives_the_librarys_map(
    model_file, red_classifier, images, tmp_path, fill
) -> None:
    out = tmp_path / "o"
    res = invoke("sensitivity", images / "top.png", "-m", model_file, "-c", "0", "-p", "8",
                 "--fill", fill, "-o", out, "--save-npy", "--json", "-")  # fmt: skip
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)[0]
    assert record["fill"] == FILLS[fill] and record["windows"] == 24
    image = resize_rgb(read_rgb(images / "top.png"), red_classifier.input_size)
    lib = occlusion_sensitivity(image, red_classifier.predictor(25), class_index=0,
                                patch_sizes=[8], fill=fill, batch_size=25)  # fmt: skip
    np.testing.assert_allclose(np.load(out / "top.npy"), lib.map, atol=1e-6)
    assert np.abs(lib.map).max() > 0.01  # occluding the object does change the score


def test_fills_give_different_maps(model_file, images, tmp_path) -> None:
    maps = {}
    for fill in ("black", "255,0,0"):  # red patches add redness instead of removing it
        out = tmp_path / fill
        res = invoke("sensitivity", images / "top.png", "-m", model_file, "-c", "0", "-p", "8",
                     "--fill", fill, "-o", out, "--save-npy", "-q")  # fmt: skip
        assert res.exit_code == 0, res.output
        maps[fill] = np.load(out / "top.npy")
    assert maps["black"].max() > 0.01 and maps["255,0,0"].min() < -0.01


def test_preprocess_override_changes_the_scores(model_file, images, tmp_path) -> None:
    args = [images / "top.png", "-m", model_file, "-p", "16", "--json", "-"]
    raw = invoke("sensitivity", *args, "-o", tmp_path / "raw")
    res = invoke("sensitivity", *args, "-o", tmp_path / "tf", "--preprocess", "tf")
    assert raw.exit_code == 0 and res.exit_code == 0, raw.output + res.output
    raw_rec, pre_rec = json.loads(raw.stdout)[0], json.loads(res.stdout)[0]
    assert pre_rec["preprocess"] == "tf" and raw_rec["preprocess"] == "none"
    # tf mode maps 0..255 to -1..1, which the red detector scores differently
    assert pre_rec["base_score"] != pytest.approx(raw_rec["base_score"], abs=1e-3)


def test_warns_when_the_target_is_not_top1(model_file, images, tmp_path) -> None:
    res = invoke("sensitivity", images / "top.png", "-m", model_file, "-c", "1", "-p", "16",
                 "-o", tmp_path / "o", "--json", "-")  # fmt: skip
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)[0]
    top1_score = rec["top5"][0][2]
    warnings = [line for line in res.stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"occlude: warning: {images / 'top.png'}: target class 1 scores "
        f"{rec['base_score']:.3g}, but the model's top-1 is class 0 at {top1_score:.3g}"
    ]


def test_progress_lines_name_each_image(model_file, images, tmp_path) -> None:
    res = invoke("sensitivity", images / "top.png", "-m", model_file, "-c", "0", "-p", "16",
                 "-o", tmp_path / "o")  # fmt: skip
    assert res.exit_code == 0, res.output
    (line,) = res.stderr.splitlines()
    assert line.startswith(f"{images / 'top.png'}: class (0) score ")
    assert ", 6 windows, " in line and line.endswith(f"-> {tmp_path / 'o' / 'top.png'}")
    assert res.stdout == ""


def test_quiet_does_the_work_and_prints_only_warnings(model_file, images, tmp_path) -> None:
    out = tmp_path / "quiet"
    quiet = invoke("sensitivity", images, "-m", model_file, "-p", "16", "-o", out, "-q")
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stdout == "" and quiet.stderr == ""
    for rel in ("top.png", "top_scales.png", "top.json", "sub/low.png", "sub/none.json"):
        assert (out / rel).is_file(), rel
    warned = invoke("sensitivity", images / "top.png", "-m", model_file, "-c", "1", "-p", "16",
                    "-o", tmp_path / "warned", "-q")  # fmt: skip
    assert warned.exit_code == 0 and warned.stdout == ""
    assert [line.split(":")[1] for line in warned.stderr.splitlines()] == [" warning"]


def test_a_named_model_a_class_name_and_the_default_out(tmp_path, monkeypatch) -> None:
    """--weights none, --class NAME, --preprocess FAMILY and the default --out."""
    Image.fromarray(red_image((64, 96), None)).save(tmp_path / "a.png")
    monkeypatch.chdir(tmp_path)
    res = invoke("sensitivity", "a.png", "-m", "MobileNetV3Small", "-w", "none", "-c", "tabby",
                 "--preprocess", "mobilenet_v2", "-p", "112", "--json", "-", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)[0]
    assert rec["model"] == "MobileNetV3Small"
    assert rec["class_index"] == 281 and rec["class_name"] == "tabby"
    assert rec["weights"] == "random(seed=0)" and rec["preprocess"] == "mobilenet_v2"
    assert rec["input_size"] == [224, 224] and rec["windows"] == 4
    assert len(rec["top5"]) == 5 and all(name for _, name, _ in rec["top5"])
    assert (tmp_path / "occlude-out" / "a.png").is_file()


def test_one_stride_applies_to_the_whole_default_sweep(model_file, images, tmp_path) -> None:
    res = invoke("sensitivity", images / "sub" / "low.PNG", "-m", model_file, "-s", "2", "-o",
                 tmp_path / "o", "--json", "-")  # fmt: skip
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)[0]
    assert rec["patch_sizes"] == [2, 5, 8, 16] and rec["strides"] == [2, 2, 2, 2]
    assert rec["windows"] == 16 * 24 + 15 * 23 + 13 * 21 + 9 * 17


def test_report_builds_the_page_at_the_end_of_a_run(model_file, images, tmp_path) -> None:
    out = tmp_path / "out"
    res = invoke("sensitivity", images, "-m", model_file, "-p", "16", "-o", out,
                 "--expect-box", "0,0,20,20", "--min-focus", "0.99", "--report")  # fmt: skip
    assert res.exit_code == 3  # the gate still decides the exit code
    assert f"occlude: report: {out / 'index.html'}" in res.stderr
    data = (out / "report" / "data.js").read_text()
    assert data.count('"focus"') >= 3 and '"min_focus":0.99' in data
