"""Broken, odd and hostile input files, for every command: one line per bad file and the
right exit code, the other inputs still done, the inputs never touched."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import badfiles
import numpy as np
import pytest
from PIL import Image
from support.cli import (
    assert_one_failure,
    assert_usage_error,
    digest,
    error_lines,
    invoke,
    manifest,
)

from occlude.inputs import discover, find_images

MODEL = object()
"""Stands for the red-detector model file in a command's options."""
LABELS = object()
"""Stands for a CSV that labels every file under the inputs as class 0."""


@dataclass(frozen=True)
class Command:
    """How a test runs one command over some inputs and tells which inputs it finished."""

    name: str
    args: Callable[[Path], list[object]]  # the options, given the output folder
    finished: Callable[[Path], set[str]]  # stems of the inputs finished in the output folder

    def run(self, model_file: Path, out: Path, *inputs: Path, extra: tuple[object, ...] = (),
            quiet: bool = True):  # type: ignore[no-untyped-def]  # fmt: skip
        args = []
        for arg in self.args(out):
            if arg is MODEL:
                arg = model_file
            elif arg is LABELS:
                arg = label_everything(out.parent / "labels.csv", inputs)
            if arg != "-q" or quiet:
                args.append(arg)
        return invoke(self.name.split()[0], *inputs, *args, *extra)


def label_everything(csv: Path, inputs: tuple[Path, ...]) -> Path:
    rows = ["path,label"]
    for arg in inputs:
        paths = sorted(arg.rglob("*")) if arg.is_dir() else [arg]
        rows += [f"{p},0" for p in paths if p.name != csv.name]
    csv.write_text("\n".join(rows) + "\n")
    return csv


def _done_images(pattern: str) -> Callable[[Path], set[str]]:
    def finished(out: Path) -> set[str]:
        return {p.name.split("_")[0].removesuffix(".json") for p in out.rglob(pattern)}

    return finished


def _scored(out: Path) -> set[str]:
    """Robustness writes no per-input files: its JSON says which inputs failed."""
    data = json.loads((out / "r.json").read_text())
    inputs = {Path(line.split(",")[0]).stem
              for line in (out.parent / "labels.csv").read_text().splitlines()[1:]}  # fmt: skip
    return inputs - {Path(p).stem for p in data["failed"]}


SENSITIVITY = Command(
    "sensitivity",
    lambda out: ["-m", MODEL, "-p", "16", "-o", out, "-q"],
    _done_images("*.json"),
)
CUTOUT = Command(
    "augment cutout",
    lambda out: ["-m", "cutout", "-o", out, "-j", "1", "-q"],
    _done_images("*_cutout_0.*"),
)
HIDE_AND_SEEK = Command(  # its dataset-mean fill reads every input once more, first
    "augment hide-and-seek",
    lambda out: ["-m", "hide-and-seek", "-o", out, "-j", "1", "-q"],
    _done_images("*_hide-and-seek_0.*"),
)
ROBUSTNESS = Command(
    "robustness",
    lambda out: [
        *("-m", MODEL, "--labels", LABELS, "--fractions", "0,0.5", "--methods", "cutout"),
        *("-q", "--json", out / "r.json"),
    ],
    _scored,
)
COMMANDS = [SENSITIVITY, CUTOUT, HIDE_AND_SEEK, ROBUSTNESS]
ids = [c.name for c in COMMANDS]


@pytest.mark.parametrize("kind", sorted(badfiles.BROKEN))
@pytest.mark.parametrize("command", COMMANDS, ids=ids)
def test_a_bad_file_fails_alone(model_file, tmp_path, command: Command, kind: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.good_png(folder / "good.png")
    maker, message = badfiles.BROKEN[kind]
    bad = maker(folder)
    before = digest(folder)
    out = tmp_path / "out"
    out.mkdir()
    res = command.run(model_file, out, folder)
    assert_one_failure(res, bad, message)
    assert res.stderr.splitlines()[-1] == "occlude: 1 of 2 inputs failed"
    assert command.finished(out) == {"good"}
    if command.name.startswith("augment"):
        method = command.name.split()[1]
        assert [r["output"] for r in manifest(out)] == [f"good_{method}_0.png"]
    assert digest(folder) == before  # inputs untouched


@pytest.mark.parametrize("command", [SENSITIVITY, CUTOUT], ids=["sensitivity", "augment"])
def test_fail_fast_stops_at_the_first_failure(model_file, tmp_path, command: Command) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.zero_byte(folder / "a.png")  # first in order
    for i in range(2):
        badfiles.good_png(folder / f"b{i}.png")
    out = tmp_path / "out"
    res = command.run(model_file, out, folder, extra=("--fail-fast",))
    assert_one_failure(res, folder / "a.png", "empty file")
    assert out.is_dir() and command.finished(out) == set()
    assert res.stderr.splitlines()[-1] == "occlude: 1 of 3 inputs failed"


def test_fail_fast_stops_before_any_work_on_a_missing_label(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        badfiles.good_png(folder / f"a{i}.png")
    (folder / "labels.csv").write_text("path,label\na0.png,x\na1.png,y\n")
    out = tmp_path / "out"
    res = invoke("augment", folder, "-m", "cutout", "--labels", folder / "labels.csv", "-o", out,
                 "--fail-fast", "-q")  # fmt: skip
    assert_one_failure(res, folder / "a2.png", f"no label in {folder / 'labels.csv'}")
    assert not out.exists()  # nothing was written, not even the manifest


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16"])
@pytest.mark.parametrize("command", COMMANDS, ids=ids)
def test_every_image_mode_is_read(model_file, tmp_path, command: Command, mode: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    ext = ".jpg" if mode == "CMYK" else ".png"
    badfiles.mode_image(folder / f"a{ext}", mode)
    out = tmp_path / "out"
    out.mkdir()
    res = command.run(model_file, out, folder)
    assert res.exit_code == 0, res.output
    assert command.finished(out) == {"a"}
    if command is CUTOUT:
        with Image.open(out / f"a_cutout_0{ext}") as im:
            assert im.size == (96, 64)


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16"])
def test_a_partner_of_any_mode_mixes_in(tmp_path, mode: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    ext = ".jpg" if mode == "CMYK" else ".png"
    badfiles.mode_image(folder / f"a{ext}", mode)
    badfiles.good_png(folder / "b.png")
    res = invoke("augment", folder, "-m", "mixup", "-o", tmp_path / "out", "-j", "1", "-q")
    assert res.exit_code == 0, res.output
    for name in (f"a_mixup_0{ext}", "b_mixup_0.png"):
        with Image.open(tmp_path / "out" / name) as im:
            assert im.size == (96, 64)


def test_exif_rotation_is_applied(model_file, tmp_path) -> None:
    path = badfiles.exif_rotated_jpeg(tmp_path / "rot.jpg")  # stored 96x64, shown 64x96
    res = invoke("sensitivity", path, "-m", model_file, "-p", "16", "-o", tmp_path / "s", "-q")
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "s" / "rot.png") as im:
        assert im.height > im.width  # the heatmap is portrait, as a viewer shows the photo
    res = invoke("augment", path, "-m", "cutout", "-o", tmp_path / "a", "-q")
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "a" / "rot_cutout_0.jpg") as im:
        assert im.size == (64, 96)


@pytest.mark.parametrize("command", COMMANDS, ids=ids)
def test_an_animated_gif_uses_its_first_frame_and_says_so(model_file, tmp_path, command) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.animated_gif(folder / "anim.gif")
    out = tmp_path / "out"
    out.mkdir()
    res = command.run(model_file, out, folder, quiet=False)
    assert res.exit_code == 0, res.output
    notes = [line for line in res.stderr.splitlines() if "frame" in line]
    assert notes == [f"occlude: note: {folder / 'anim.gif'}: animated (2 frames): using the "
                     "first frame"]  # fmt: skip
    assert command.finished(out) == {"anim"}
    if command is CUTOUT:
        with Image.open(out / "anim_cutout_0.gif") as im:
            assert getattr(im, "n_frames", 1) == 1


@pytest.mark.parametrize("size", [(1, 1), (3, 200)])
def test_images_smaller_than_the_patch(model_file, tmp_path, size) -> None:
    path = badfiles.good_png(tmp_path / "tiny.png", size)
    res = invoke("sensitivity", path, "-m", model_file, "-p", "40", "-o", tmp_path / "out",
                 "--json", "-", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["windows"] == 2  # 32x48 input, patch 40: 1 x 2


@pytest.mark.parametrize("method", ["cutout", "hide-and-seek", "random-erasing", "mixup", "cutmix"])
def test_one_pixel_images(tmp_path, method) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.good_png(folder / "a.png", (1, 1))
    badfiles.good_png(folder / "b.png", (1, 1))
    res = invoke("augment", folder, "-m", method, "-o", tmp_path / "out", "-j", "1", "--prob",
                 "1", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "out" / f"a_{method}_0.png") as im:
        assert im.size == (1, 1)


def test_one_pixel_image_in_robustness(model_file, tmp_path) -> None:
    (tmp_path / "0").mkdir()
    badfiles.good_png(tmp_path / "0" / "a.png", (1, 1))
    res = invoke("robustness", tmp_path / "0", "-m", model_file, "--labels", "folders",
                 "--fractions", "0,0.5", "--json", "-", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    results = json.loads(res.stdout)["results"]
    assert [r["n"] for r in results] == [1, 5, 1, 5, 1, 5]  # fraction 0 once, 5 placements
    assert all(r["images"] == 1 for r in results)


@pytest.fixture(scope="module")
def huge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A large but valid photo, longer than the 4096 px heatmap limit (fast to encode)."""
    return badfiles.huge_jpeg(tmp_path_factory.mktemp("huge") / "huge.jpg", (2000, 4600))


@pytest.mark.slow
def test_a_huge_valid_image_is_drawn_at_most_4096_px(model_file, huge, tmp_path) -> None:
    res = invoke("sensitivity", huge, "-m", model_file, "-p", "16", "-o", tmp_path / "out", "-q")
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "out" / "huge.png") as im:
        assert 4096 <= max(im.size) <= 4096 + 200  # plus the legend


def test_a_huge_valid_image_is_augmented_at_full_size(huge, tmp_path) -> None:
    res = invoke("augment", huge, "-m", "cutout", "-o", tmp_path / "out", "-q")
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "out" / "huge_cutout_0.jpg") as im:
        assert im.size == (4600, 2000)


@pytest.mark.parametrize(
    "command", [SENSITIVITY, CUTOUT, ROBUSTNESS], ids=["sensitivity", "augment", "robustness"]
)
def test_no_images_or_a_missing_path_is_a_usage_error(model_file, tmp_path, command) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    res = command.run(model_file, out, tmp_path / "empty")
    assert_usage_error(res, "no images found")
    res = command.run(model_file, out, tmp_path / "missing.png")
    assert_usage_error(res, f"{tmp_path / 'missing.png'}: no such file or folder")
    assert not out.exists()  # refused before anything was written


def test_a_hostile_file_name_cannot_forge_lines(model_file, tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.good_png(folder / "good.png")
    (folder / "x\nocclude: error: forged\x1b[2J.png").write_text("not a picture")
    for command in (CUTOUT, SENSITIVITY):
        res = command.run(model_file, tmp_path / command.name.split()[-1], folder)
        assert res.exit_code == 1
        errors = error_lines(res.stderr)
        assert len(errors) == 1 and "x\\nocclude: error: forged\\x1b[2J.png" in errors[0]
        assert "\x1b" not in res.stderr


# --- what counts as an input -------------------------------------------------------------


def test_special_files_are_skipped_with_a_note(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.good_png(folder / "a.png")
    os.mkfifo(folder / "pipe.png")  # opening it would hang
    res = invoke("augment", folder, "-m", "cutout", "-o", tmp_path / "out", "-j", "1")
    assert res.exit_code == 0, res.output
    assert f"occlude: note: {folder / 'pipe.png'}: not a regular file (FIFO): skipped" in (
        res.stderr.splitlines()
    )
    assert (tmp_path / "out" / "a_cutout_0.png").is_file()


def test_links_are_followed_loops_noted_and_dangling_links_fail(tmp_path) -> None:
    data = tmp_path / "data"
    (data / "sub" / "inner").mkdir(parents=True)
    badfiles.good_png(data / "sub" / "b.png")
    (data / "sub" / "inner" / "loop").symlink_to("..")  # back to data/sub
    (data / "dangling.png").symlink_to("missing.png")
    (tmp_path / "view").mkdir()
    (tmp_path / "view" / "linked").symlink_to(data / "sub")  # a DVC-style link to a folder
    found = discover([tmp_path / "view"])
    assert [i.rel.as_posix() for i in found.images] == ["linked/b.png"]
    loop = tmp_path / "view" / "linked" / "inner" / "loop"
    assert found.notes == [f"{loop}: link loop back to a parent folder: skipped"]
    assert found.failures == []
    found = discover([data])
    assert [i.rel.as_posix() for i in found.images] == ["sub/b.png"]
    dangling = data / "dangling.png"
    assert found.failures == [(dangling, f"{dangling}: dangling link (its target is missing)")]
    res = invoke("augment", data, "-m", "cutout", "-o", tmp_path / "out", "-j", "1")
    assert_one_failure(res, data / "dangling.png", "dangling link")
    assert (
        f"occlude: note: {data / 'sub' / 'inner' / 'loop'}: link loop back to a parent "
        "folder: skipped" in res.stderr.splitlines()
    )
    assert (tmp_path / "out" / "sub" / "b_cutout_0.png").is_file()


def test_a_file_named_directly_is_read_whatever_its_extension(tmp_path) -> None:
    photo = tmp_path / "photo.dat"
    Image.open(badfiles.good_png(tmp_path / "photo.png")).save(photo, format="PNG")
    res = invoke("augment", photo, "-m", "cutout", "-o", tmp_path / "out", "-q")
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "out" / "photo_cutout_0.png") as im:  # .dat: written as PNG
        assert im.size == (96, 64)
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "skip.dat").write_bytes(photo.read_bytes())
    assert find_images([tmp_path / "folder"]) == []  # inside folders, image extensions only


def test_overlapping_arguments_do_not_depend_on_their_order(tmp_path) -> None:
    (tmp_path / "data" / "cats").mkdir(parents=True)
    badfiles.good_png(tmp_path / "data" / "cats" / "a.png")
    one = find_images([tmp_path / "data", tmp_path / "data" / "cats" / "a.png"])
    two = find_images([tmp_path / "data" / "cats" / "a.png", tmp_path / "data"])
    assert [i.rel.as_posix() for i in one] == [i.rel.as_posix() for i in two] == ["cats/a.png"]


def test_upper_case_extensions_are_images(tmp_path) -> None:
    for name in ("a.PNG", "b.JpEg", "c.tiff", "d.WEBP", "e.txt"):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / name, format="PNG")
    assert [i.rel.as_posix() for i in find_images([tmp_path])] == [
        "a.PNG", "b.JpEg", "c.tiff", "d.WEBP"
    ]  # fmt: skip
