"""Hostile and unlucky inputs: no data loss, bounded memory, NaN never passes a gate.

Every fixture is built here: inputs named as output targets, a foreign manifest, images of
extreme shapes under a memory ceiling, a model that returns NaN, links and loops, names
that are not UTF-8 or hold control characters, a FIFO, files of other formats named .png,
concurrent runs into one folder, and a content swap that keeps size and time stamp.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import badfiles
import numpy as np
import pytest
from PIL import Image
from support.cli import digest
from typer.testing import CliRunner, Result

from occlude.cli import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


def cli(*args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def child(*args: object, timeout: float = 300, env: dict[str, str] | None = None):
    """``python -m occlude ...`` in a child process (a hang fails the test, not CI)."""
    return subprocess.run(
        [sys.executable, "-m", "occlude", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def strict_json(text: str):  # type: ignore[no-untyped-def]
    """Parse JSON refusing NaN and Infinity tokens, as strict parsers do."""

    def refuse(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    """imgs/0/{a,b}.png and imgs/1/c.png: folders named by class index."""
    for rel in ("0/a.png", "0/b.png", "1/c.png"):
        (tmp_path / "imgs" / rel).parent.mkdir(parents=True, exist_ok=True)
        badfiles.good_png(tmp_path / "imgs" / rel)
    return tmp_path / "imgs"


# --- no path to data loss -------------------------------------------------------------


def test_robustness_refuses_plot_and_json_onto_inputs(model_file, labelled) -> None:
    before = digest(labelled)
    for flag, target in (("--plot", "0/a.png"), ("--json", "0/b.png")):
        res = cli("robustness", labelled, "--labels", "folders", "-m", model_file,
                  flag, labelled / target)  # fmt: skip
        assert res.exit_code == 2, res.output
        assert f"{flag} would overwrite the input" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
    assert digest(labelled) == before


def test_json_onto_the_model_file_is_refused(model_file, tmp_path) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    victim = tmp_path / "victim.keras"
    victim.write_bytes(model_file.read_bytes())
    res = cli("sensitivity", img, "-m", victim, "--json", victim, "-o", tmp_path / "out")
    assert res.exit_code == 2
    assert "--json would overwrite the model" in res.stderr
    assert victim.read_bytes() == model_file.read_bytes()
    assert not (tmp_path / "out").exists()  # refused before any work


def test_a_mask_that_an_output_would_replace_is_refused(model_file, tmp_path) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    mask = out / "a.png"  # where the heatmap of a.png goes
    Image.fromarray(np.full((64, 96), 255, np.uint8)).save(mask)
    before = mask.read_bytes()
    res = cli("sensitivity", img, "-m", model_file, "--expect-mask", mask, "-o", out)
    assert res.exit_code == 2
    assert "output would overwrite the --expect-mask" in res.stderr
    assert mask.read_bytes() == before


def test_json_inside_an_input_folder_is_refused(model_file, labelled, tmp_path) -> None:
    res = cli("sensitivity", labelled, "-m", model_file, "--json", labelled / "new.json",
              "-o", tmp_path / "out")  # fmt: skip
    assert res.exit_code == 2
    assert "--json would write inside the input folder" in res.stderr
    assert not (labelled / "new.json").exists()


def test_outputs_that_would_replace_an_input_are_refused(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.good_png(folder / "a.png")
    badfiles.good_png(folder / "a_cutout_0.png")  # what a.png's first copy would be named
    before = digest(folder)
    res = cli("augment", folder / "a.png", folder / "a_cutout_0.png", "-m", "cutout",
              "-o", folder, "-j", 1)  # fmt: skip
    assert res.exit_code == 2
    assert "would overwrite the input" in res.stderr
    assert digest(folder) == before


def test_a_foreign_manifest_is_never_rewritten(tmp_path) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    other = badfiles.good_png(tmp_path / "b.png")
    out = tmp_path / "ds"
    out.mkdir()
    foreign = '{"mine": 1}\n{"mine": 2}\n'
    (out / "manifest.jsonl").write_text(foreign)
    res = cli("augment", img, other, "-m", "cutout", "-o", out, "-j", 1)
    assert res.exit_code == 2
    assert "not written by occlude" in res.stderr and "--out" in res.stderr
    assert (out / "manifest.jsonl").read_text() == foreign
    assert sorted(p.name for p in out.iterdir()) == ["manifest.jsonl"]
    # our own manifest, left as we wrote it, is ours: a rerun updates it
    (out / "manifest.jsonl").unlink()
    assert cli("augment", img, "-m", "cutout", "-o", out, "-j", 1).exit_code == 0
    assert cli("augment", img, other, "-m", "cutout", "-o", out, "-j", 1).exit_code == 0
    lines = (out / "manifest.jsonl").read_text().splitlines()
    assert [json.loads(line)["output"] for line in lines] == ["a_cutout_0.png", "b_cutout_0.png"]
    # ... but not once someone edits it
    (out / "manifest.jsonl").write_text(lines[0] + "\n")
    assert cli("augment", img, "-m", "cutout", "-o", out, "-j", 1).exit_code == 2


# --- bounded memory -------------------------------------------------------------------


MEMORY_CEILING_MB = 1500
"""A sweep of a small image peaks near 760 MB here (mostly TensorFlow); the old renderer
needed over 20 GB for a 1x4000 image."""


@pytest.mark.slow
def test_extreme_shapes_stay_under_a_memory_ceiling(model_file, tmp_path) -> None:
    shapes = [(1, 4000), (4000, 1), (1, 1)]
    data = tmp_path / "thin"
    data.mkdir()
    for h, w in shapes:
        Image.fromarray(np.full((h, w, 3), 200, np.uint8)).save(data / f"{h}x{w}.png")
    out = tmp_path / "out"
    # One run over the three (its peak is the largest of theirs). The child reports its
    # own peak (VmHWM, since its exec): a fork of this big test process would inherit its
    # maximum RSS, so os.wait4's ru_maxrss would mislead.
    code = (
        "import atexit, re, runpy, sys\n"
        "def peak():\n"
        "    text = open('/proc/self/status').read()\n"
        "    print('PEAK_KB', re.search(r'VmHWM:\\s+(\\d+)', text).group(1), file=sys.stderr)\n"
        "atexit.register(peak)\n"
        f"sys.argv = ['occlude', 'sensitivity', {str(data)!r}, '-m', {str(model_file)!r}, "
        f"'-p', '16', '-o', {str(out)!r}, '-q']\n"
        "runpy.run_module('occlude', run_name='__main__')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    peak_kb = int(proc.stderr.split("PEAK_KB")[1].split()[0])
    assert peak_kb / 1024 < MEMORY_CEILING_MB
    for h, w in shapes:
        with Image.open(out / f"{h}x{w}.png") as heatmap:
            assert max(heatmap.size) <= 4096 + 200


# --- NaN never passes -----------------------------------------------------------------


def nan_model(path: Path, size: tuple[int, int] = (32, 48)) -> Path:
    """A classifier whose scores are all NaN (its dense kernel is NaN)."""
    import keras

    inputs = keras.Input((*size, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, keras.layers.Softmax()(dense(x)))
    dense.set_weights([np.full((3, 2), np.nan), np.zeros(2)])
    model.save(path)
    return path


@pytest.fixture(scope="module")
def nan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return nan_model(tmp_path_factory.mktemp("nan") / "nan.keras")


def test_nan_scores_fail_the_focus_gate_and_json_stays_strict(nan_file, tmp_path) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    res = cli("sensitivity", img, "-m", nan_file, "-p", "16", "--expect-box", "0,0,10,10",
              "--min-focus", "0.5", "--json", "-", "-o", tmp_path / "out")  # fmt: skip
    assert res.exit_code == 1, res.output
    errors = [line for line in res.stderr.splitlines() if line.startswith("occlude: error:")]
    assert len(errors) == 1 and "NaN or infinite" in errors[0] and "a.png" in errors[0]
    assert strict_json(res.stdout) == []
    assert not (tmp_path / "out" / "a.json").exists()


def test_nan_scores_fail_the_accuracy_gate(nan_file, labelled) -> None:
    res = cli("robustness", labelled, "--labels", "folders", "-m", nan_file,
              "--min-accuracy", "0.5", "--at", "0.1", "--json", "-")  # fmt: skip
    assert res.exit_code == 1, res.output
    result = strict_json(res.stdout)
    assert all(row["accuracy"] is None and row["n"] == 0 for row in result["results"])
    assert len(result["failed"]) == 3
    assert "accuracy gate: cutout at 0.1: accuracy none < 0.5" in res.stderr


def test_a_missing_focus_never_passes_the_gate() -> None:
    from occlude.cli.sensitivity import _at_least

    assert _at_least(0.7, 0.5)
    assert not _at_least(float("nan"), 0.5)
    assert not _at_least(None, 0.5)
    assert not _at_least(float("inf"), 0.5)


# --- input discovery ------------------------------------------------------------------


def test_links_to_files_and_folders_are_followed_once_and_loops_noted(tmp_path) -> None:
    store = tmp_path / "store"  # where DVC or git-annex keep the real files
    store.mkdir()
    badfiles.good_png(store / "x.png")
    (store / "deep").mkdir()
    badfiles.good_png(store / "deep" / "y.png")
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.png").symlink_to(store / "x.png")  # a link to a file elsewhere
    (data / "sub").symlink_to(store / "deep", target_is_directory=True)  # a linked folder
    (data / "sub2").symlink_to(store / "deep", target_is_directory=True)  # y.png again
    (store / "deep" / "loop").symlink_to(store / "deep", target_is_directory=True)
    out = tmp_path / "out"
    res = cli("augment", data, "-m", "cutout", "-o", out, "-j", 1)
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    made = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert made == ["sub2/y_cutout_0.png", "x_cutout_0.png"]  # each real file once
    assert "link loop back to a parent folder: skipped" in res.stderr


def test_dangling_links_and_unreadable_folders_are_failures(tmp_path, monkeypatch) -> None:
    data = tmp_path / "data"
    data.mkdir()
    badfiles.good_png(data / "ok.png")
    (data / "gone.png").symlink_to(tmp_path / "missing.png")
    (data / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]
        if Path(path).name == "locked":  # as root, chmod 000 would not stop us
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    res = cli("augment", data, "-m", "cutout", "-o", tmp_path / "out", "-j", 1)
    assert res.exit_code == 1
    errors = [line for line in res.stderr.splitlines() if line.startswith("occlude: error:")]
    assert any("gone.png: dangling link" in e for e in errors)
    assert any("locked: cannot read folder (Permission denied)" in e for e in errors)
    assert (tmp_path / "out" / "ok_cutout_0.png").is_file()


def test_a_fifo_is_skipped_with_a_note_instead_of_hanging(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    badfiles.good_png(data / "ok.png")
    os.mkfifo(data / "x.png")
    proc = child("augment", data, "-m", "cutout", "-o", tmp_path / "out", "-j", "1", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "x.png: not a regular file (FIFO): skipped" in proc.stderr
    assert (tmp_path / "out" / "ok_cutout_0.png").is_file()


@pytest.mark.slow
def test_names_that_are_not_utf8_work_end_to_end(model_file, tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    name = os.fsdecode(b"caf\xe9.png")
    badfiles.good_png(data / name)
    out = tmp_path / "aug"
    proc = child("augment", data, "-m", "cutout", "-o", out, "-j", "1")
    assert proc.returncode == 0, proc.stderr
    written = os.listdir(os.fsencode(out))
    assert b"caf\xe9_cutout_0.png" in written
    record = json.loads((out / "manifest.jsonl").read_text())
    assert os.fsencode(record["output"]) == b"caf\xe9_cutout_0.png"
    sens = child("sensitivity", data, "-m", model_file, "-p", "16", "-o", tmp_path / "s",
                 "--json", "-")  # fmt: skip
    assert sens.returncode == 0, sens.stderr
    assert "caf\\xe9.png" in sens.stderr  # shown escaped
    assert os.fsencode(json.loads(sens.stdout)[0]["input"]).endswith(b"caf\xe9.png")
    assert (tmp_path / "s" / os.fsdecode(b"caf\xe9.png")).is_file()


@pytest.mark.slow
def test_control_characters_in_names_are_escaped(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    badfiles.good_png(data / "ok.png")
    evil = data / "x\x1b[2J\noccluded: error: forged.png"
    badfiles.zero_byte(evil)
    proc = child("augment", data / "ok.png", evil, "-m", "cutout", "-o", tmp_path / "out")
    assert proc.returncode == 1
    assert "\x1b" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len([line for line in lines if "forged" in line]) == 1
    assert "x\\x1b[2J\\noccluded: error: forged.png: cannot read image (empty file)" in proc.stderr


# --- formats --------------------------------------------------------------------------


def test_only_listed_formats_are_decoded_whatever_the_extension(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    badfiles.good_png(data / "ok.png")
    # Pillow decodes ICO and PPM fully by itself: refusing them proves the allow-list.
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(data / "icon.png", format="ICO")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(data / "pixmap.png", format="PPM")
    (data / "doc.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n")
    (data / "paper.png").write_bytes(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
    res = cli("augment", data, "-m", "cutout", "-o", tmp_path / "out", "-j", 1)
    assert res.exit_code == 1
    errors = [line for line in res.stderr.splitlines() if line.startswith("occlude: error:")]
    assert len(errors) == 4
    assert all("not a JPEG, PNG, BMP, GIF, TIFF or WebP file" in e for e in errors)
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["ok_cutout_0.png"]


# --- concurrency and resume -----------------------------------------------------------


@pytest.mark.slow
def test_two_runs_into_one_folder_lose_no_record(tmp_path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(6):
            badfiles.good_png(tmp_path / name / f"{name}{i}.png", (48 + 4 * i, 64))
    out = tmp_path / "out"
    for attempt in range(3):
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "occlude",
                    "augment",
                    str(tmp_path / name),
                    "-m",
                    "random-erasing",
                    "--prob",
                    "1",
                    "-o",
                    str(out),
                    "-n",
                    "2",
                    "-j",
                    "1",
                    "--overwrite",
                    "-q",
                ],
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("a", "b")
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
        records = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
        outputs = [r["output"] for r in records]
        assert len(outputs) == len(set(outputs)) == 24, attempt
        assert sorted(p.name for p in out.glob("*.png")) == sorted(outputs)


def test_a_content_swap_with_the_same_size_and_mtime_is_redone(model_file, tmp_path) -> None:
    img = tmp_path / "a.bmp"  # uncompressed: the same size whatever the pixels
    first = np.full((32, 48, 3), 120, np.uint8)
    second = first.copy()
    second[4:20, 4:20] = (240, 20, 20)  # a red square: a different map
    Image.fromarray(first).save(img)
    stat = img.stat()
    out = tmp_path / "out"
    assert cli("sensitivity", img, "-m", model_file, "-p", "16", "-o", out, "--save-npy",
               "-q").exit_code == 0  # fmt: skip
    before = np.load(out / "a.npy")
    Image.fromarray(second).save(img)
    assert img.stat().st_size == stat.st_size
    os.utime(img, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    res = cli("sensitivity", img, "-m", model_file, "-p", "16", "-o", out, "--save-npy")
    assert res.exit_code == 0
    assert "already done" not in res.stderr
    assert not np.array_equal(np.load(out / "a.npy"), before)


def test_temporaries_of_finished_runs_go_and_those_of_live_runs_stay(tmp_path) -> None:
    from occlude.runner.ledger import Ledger
    from occlude.runner.state import RunLock

    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    dead = out / "sub" / ".a.png.0123456789abcdef.x1.occlude-part"
    live = out / ".b.png.fedcba9876543210.x2.occlude-part"
    dead.write_bytes(b"half")
    live.write_bytes(b"half")
    lock = RunLock(out / ".occlude", "fedcba9876543210")  # another run, alive (holds its lock)
    try:
        ledger = Ledger(out)
        assert not dead.exists() and live.exists()
        ledger.close()
    finally:
        lock.release()
    Ledger(out).close()
    assert not live.exists()


# --- messages -------------------------------------------------------------------------


def test_ctrl_c_while_tensorflow_is_imported_is_one_line(tmp_path) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    code = (
        "import builtins, os, signal, sys\n"
        "real = builtins.__import__\n"
        "def hook(name, *a, **k):\n"
        "    if name == 'keras':\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = hook\n"
        "from occlude.cli import main\n"
        f"main(['sensitivity', {str(img)!r}, '-o', {str(tmp_path / 'out')!r}])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 130
    assert proc.stderr.strip() == "occlude: interrupted after 0 of 1 inputs"


def test_library_warnings_are_one_line_and_silent_under_quiet() -> None:
    code = (
        "import sys, warnings\n"
        "from occlude.cli._common import quiet_warnings\n"
        "quiet_warnings(sys.argv[1] == 'q')\n"
        "warnings.warn('first line\\n  second line', UserWarning)\n"
    )
    loud = subprocess.run([sys.executable, "-c", code, "loud"], capture_output=True, text=True)
    quiet = subprocess.run([sys.executable, "-c", code, "q"], capture_output=True, text=True)
    assert loud.stderr == "occlude: warning: UserWarning: first line second line\n"
    assert quiet.stderr == ""
