"""``occlude augment`` on bad input, and runs that are rerun, interrupted or killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import badfiles
import pytest
from PIL import Image
from typer.testing import CliRunner

from occlude.cli import app, main

runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, ["augment", *map(str, args)])


@pytest.mark.parametrize("kind", sorted(badfiles.BROKEN))
@pytest.mark.parametrize("method", ["cutout", "hide-and-seek"])
def test_bad_file_among_good_ones(tmp_path, kind, method) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.good_png(folder / "good.png")
    maker, message = badfiles.BROKEN[kind]
    bad = maker(folder)
    before = badfiles.digest(folder)
    out = tmp_path / "out"
    res = run(folder, "-m", method, "-o", out, "-j", "1", "-q")
    badfiles.assert_one_error(res, bad, message)
    assert (out / f"good_{method}_0.png").is_file()
    assert not list(out.glob(f"{bad.stem}_*"))
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["output"] for r in records] == [f"good_{method}_0.png"]
    assert badfiles.digest(folder) == before


def test_fail_fast(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.zero_byte(folder / "a.png")
    for i in range(5):
        badfiles.good_png(folder / f"b{i}.png")
    res = run(folder, "-m", "cutout", "-o", tmp_path / "out", "-j", "1", "--fail-fast", "-q")
    assert res.exit_code == 1
    assert not list((tmp_path / "out").glob("b*"))


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16"])
@pytest.mark.parametrize("method", ["cutout", "mixup"])
def test_image_modes(tmp_path, mode, method) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    ext = ".jpg" if mode == "CMYK" else ".png"
    badfiles.mode_image(folder / f"a{ext}", mode)
    badfiles.good_png(folder / "b.png")
    res = run(folder, "-m", method, "-o", tmp_path / "out", "-j", "1", "-q")
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "out" / f"a_{method}_0{ext}") as im:
        assert im.size == (96, 64)


def test_exif_rotation_and_animation(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.exif_rotated_jpeg(folder / "rot.jpg")
    badfiles.animated_gif(folder / "anim.gif")
    res = run(folder, "-m", "cutout", "-o", tmp_path / "out", "-j", "1")
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "out" / "rot_cutout_0.jpg") as im:
        assert im.size == (64, 96)  # portrait, as a viewer shows it
    with Image.open(tmp_path / "out" / "anim_cutout_0.gif") as im:
        assert getattr(im, "n_frames", 1) == 1
    assert "anim.gif: animated (2 frames): using the first frame" in res.stderr


@pytest.mark.parametrize("method", ["cutout", "hide-and-seek", "random-erasing", "mixup", "cutmix"])
def test_one_pixel_images(tmp_path, method) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.good_png(folder / "a.png", (1, 1))
    badfiles.good_png(folder / "b.png", (1, 1))
    res = run(folder, "-m", method, "-o", tmp_path / "out", "-j", "1", "--prob", "1", "-q")
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "out" / f"a_{method}_0.png") as im:
        assert im.size == (1, 1)


def test_huge_valid_image(tmp_path) -> None:
    path = badfiles.huge_jpeg(tmp_path / "huge.jpg")
    res = run(path, "-m", "cutout", "-o", tmp_path / "out", "-q")
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "out" / "huge_cutout_0.jpg") as im:
        assert im.size == (6000, 4000)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--method", "blur"], "Invalid value for '--method'"),
        (["--method", "cutout", "--copies", "-1"], "Invalid value for '--copies'"),
        (["--method", "cutout", "--workers", "0"], "Invalid value for '--workers'"),
        (["--method", "cutout", "--size", "0"], "size"),
        (["--method", "cutout", "--alpha", "1"], "--alpha applies to mixup and cutmix only"),
    ],
)
def test_usage_errors_are_one_line(tmp_path, capsys, argv, message) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    with pytest.raises(SystemExit) as exit_:
        main(["augment", str(img), "-o", str(tmp_path / "out"), *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err and err.startswith("occlude: ")


def test_missing_path_empty_folder_and_bad_out(tmp_path, monkeypatch) -> None:
    res = run(tmp_path / "missing", "-m", "cutout")
    assert res.exit_code == 2 and "no such file or folder" in res.stderr
    (tmp_path / "empty").mkdir()
    res = run(tmp_path / "empty", "-m", "cutout", "-o", tmp_path / "out")
    assert res.exit_code == 2 and "no images found" in res.stderr
    img = badfiles.good_png(tmp_path / "a.png")
    (tmp_path / "file").write_text("x")
    res = run(img, "-m", "cutout", "-o", tmp_path / "file")
    assert res.exit_code == 2 and "is not a folder" in res.stderr
    real_access = os.access

    def access(path, mode, *args, **kwargs):  # type: ignore[no-untyped-def]
        return str(path) != str(tmp_path) and real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)  # as root, chmod would not do
    res = run(img, "-m", "cutout", "-o", tmp_path / "ro" / "out")
    assert res.exit_code == 2 and "cannot write there" in res.stderr


def test_out_inside_the_input_folder_is_never_read_back(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.good_png(folder / "a.png")
    for _ in range(2):
        res = run(folder, "-m", "cutout", "-o", folder / "aug", "-q", "--overwrite")
        assert res.exit_code == 0, res.output
        assert sorted(p.name for p in (folder / "aug").iterdir()) == [
            "a_cutout_0.png",
            "manifest.jsonl",
        ]


def test_rerun_skips_finished_outputs_and_overwrite_redoes_them(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        badfiles.good_png(folder / f"a{i}.png")
    out = tmp_path / "out"
    assert run(folder, "-m", "random-erasing", "-o", out, "-n", "2", "-q").exit_code == 0
    manifest = (out / "manifest.jsonl").read_bytes()
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    assert run(folder, "-m", "random-erasing", "-o", out, "-n", "2", "-q").exit_code == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")} == stamps
    assert (out / "manifest.jsonl").read_bytes() == manifest
    # other settings are other outputs: redone
    assert (
        run(folder, "-m", "random-erasing", "-o", out, "-n", "2", "--seed", "1", "-q").exit_code
        == 0
    )
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")} != stamps
    records = (out / "manifest.jsonl").read_text().splitlines()
    assert len(records) == 6 and all(json.loads(r)["seed"] == 1 for r in records)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    args = ["-m", "random-erasing", "-o", out, "-n", "2", "--seed", "1", "-q", "--overwrite"]
    assert run(folder, *args).exit_code == 0
    assert all(p.stat().st_mtime_ns != stamps[p.name] for p in out.glob("*.png"))


@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_interrupted_run_resumes_to_the_same_outputs_and_manifest(tmp_path, sig) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(60):
        badfiles.good_png(folder / f"img{i:02d}.png", (480, 640))
    argv = [sys.executable, "-m", "occlude", "augment", str(folder), "-m", "random-erasing",
            "-n", "4", "-j", "2", "--prob", "1", "-q"]  # fmt: skip
    clean = tmp_path / "clean"
    subprocess.run([*argv, "-o", str(clean)], check=True, capture_output=True)

    out = tmp_path / "out"
    proc = subprocess.Popen([*argv, "-o", str(out)], stderr=subprocess.PIPE, text=True)
    journal = out / ".manifest.journal.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        journal.is_file() and '"output"' in journal.read_text()
    ):
        time.sleep(0.01)
    proc.send_signal(getattr(signal, sig))
    _, stderr = proc.communicate(timeout=60)
    if sig == "SIGINT":
        assert proc.returncode == 130, stderr
        assert "interrupted after" in stderr and "Traceback" not in stderr
        records = (out / "manifest.jsonl").read_text().splitlines()
        assert 0 < len(records) < 240  # what was finished is in the manifest
    else:
        assert proc.returncode == -signal.SIGKILL
    finished = [p for p in out.glob("*.png")]
    assert 0 < len(finished) < 240
    for path in finished:  # whatever exists under its final name is whole
        Image.open(path).load()

    resumed = subprocess.run([*argv, "-o", str(out)], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert badfiles.digest(out) == badfiles.digest(clean)  # images and manifest, byte for byte


def test_records_are_withdrawn_before_outputs_are_rewritten(tmp_path, monkeypatch) -> None:
    """Run A finishes; run B (another seed) dies after rewriting some files; rerunning A
    must redo those, not trust A's old records."""
    import occlude.augment.run as pipeline

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        badfiles.good_png(folder / f"a{i}.png")
    out, clean = tmp_path / "out", tmp_path / "clean"
    args = ["-m", "random-erasing", "--prob", "1", "-j", "1", "-q"]
    assert run(folder, *args, "-o", clean).exit_code == 0
    assert run(folder, *args, "-o", out).exit_code == 0
    real_save = pipeline.save_image
    calls = []

    def save_then_die(*a, **k):  # type: ignore[no-untyped-def]
        real_save(*a, **k)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "save_image", save_then_die)
    assert run(folder, *args, "-o", out, "--seed", "7").exit_code == 130
    monkeypatch.undo()
    assert run(folder, *args, "-o", out).exit_code == 0
    assert badfiles.digest(out) == badfiles.digest(clean)


def test_fail_fast_stops_before_processing_on_a_missing_label(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        badfiles.good_png(folder / f"a{i}.png")
    (folder / "labels.csv").write_text("path,label\na0.png,x\na1.png,y\n")
    res = run(folder, "-m", "cutout", "--labels", folder / "labels.csv", "-o", tmp_path / "out",
              "--fail-fast", "-q")  # fmt: skip
    assert res.exit_code == 1 and "no label" in res.stderr
    assert not list((tmp_path / "out").glob("*.png")) if (tmp_path / "out").exists() else True
