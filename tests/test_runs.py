"""Runs end to end: reruns resume and ``--overwrite`` redoes, an edited input is redone,
records are withdrawn before their files are rewritten, runs interrupted by Ctrl-C or
killed resume to byte-identical outputs, temporaries never outlive a run, and outputs get
the usual permissions.

The interruption tests are deterministic: the child process runs with the test hooks of
``support/child_hooks.py`` (its ``sitecustomize``), which let the first units finish, hold
the next one in the middle of an atomic write and say so in a file; only then does the test
send its signal."""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path

import badfiles
import numpy as np
import pytest
from PIL import Image
from support.children import Gated, child_env, children_of, gone, occlude, run, wait_gone
from support.cli import digest, invoke, manifest, ok, run_main, temporaries

# --- reruns --------------------------------------------------------------------------------


def mtimes(folder: Path) -> dict[str, int]:
    return {
        p.relative_to(folder).as_posix(): p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.is_file() and ".occlude" not in p.relative_to(folder).parts
    }


def test_sensitivity_rerun_skips_finished_images_and_overwrite_redoes_them(
    model_file, tmp_path
) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    out = tmp_path / "out"
    args = [img, "-m", model_file, "-p", "16", "-o", out, "--save-npy"]
    first = ok("sensitivity", *args)
    assert "already done" not in first.stderr
    stamps = mtimes(out)
    assert sorted(stamps) == ["a.json", "a.npy", "a.png", "a_scales.npz", "a_scales.png"]
    again = ok("sensitivity", *args, "--json", "-")
    assert "already done" in again.stderr
    assert mtimes(out) == stamps  # nothing rewritten
    assert json.loads(again.stdout)[0] == json.loads((out / "a.json").read_text())
    other = ok("sensitivity", img, "-m", model_file, "-p", "8", "-o", out, "--save-npy")
    assert "already done" not in other.stderr  # other settings are other outputs
    assert json.loads((out / "a.json").read_text())["patch_sizes"] == [8]
    stamps = mtimes(out)
    forced = ok("sensitivity", img, "-m", model_file, "-p", "8", "-o", out, "--save-npy",
                "--overwrite")  # fmt: skip
    assert "already done" not in forced.stderr
    assert all(mtimes(out)[k] != v for k, v in stamps.items())
    assert temporaries(out) == []


@pytest.mark.slow
def test_augment_rerun_skips_finished_outputs_and_overwrite_redoes_them(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        badfiles.good_png(folder / f"a{i}.png")
    out = tmp_path / "out"
    args = [folder, "-m", "random-erasing", "-o", out, "-n", "2", "-q"]
    ok("augment", *args)
    before = (out / "manifest.jsonl").read_bytes()
    stamps = mtimes(out)
    ok("augment", *args)
    images = {k: v for k, v in stamps.items() if k.endswith(".png")}
    assert {k: v for k, v in mtimes(out).items() if k.endswith(".png")} == images
    assert (out / "manifest.jsonl").read_bytes() == before
    ok("augment", *args, "--seed", "1")  # other settings are other outputs: redone
    assert all(mtimes(out)[k] != v for k, v in images.items())
    assert len(manifest(out)) == 6 and {r["seed"] for r in manifest(out)} == {1}
    stamps = mtimes(out)
    ok("augment", *args, "--seed", "1", "--overwrite")
    assert all(mtimes(out)[k] != v for k, v in stamps.items())
    assert temporaries(out) == []


def edit_keeping_size_and_mtime(path: Path) -> None:
    """Change an image's pixels but not its size or time stamp (a copy tool's doing)."""
    info = path.stat()
    arr = np.asarray(Image.open(path)).copy()
    arr[0, 0] = 255 - arr[0, 0]
    Image.fromarray(arr).save(path)  # BMP: the same size for the same dimensions
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert path.stat().st_size == info.st_size and path.stat().st_mtime_ns == info.st_mtime_ns


def test_an_input_edited_with_the_same_size_and_mtime_is_redone(model_file, tmp_path) -> None:
    img = tmp_path / "a.bmp"
    Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(img)
    aug, sens = tmp_path / "aug", tmp_path / "sens"
    ok("augment", img, "-m", "cutout", "-o", aug, "-q")
    ok("sensitivity", img, "-m", model_file, "-p", "16", "-o", sens)
    old = manifest(aug)[0]["source_sha256"]
    edit_keeping_size_and_mtime(img)
    ok("augment", img, "-m", "cutout", "-o", aug, "-q")
    (record,) = manifest(aug)
    assert record["source_sha256"] != old
    fresh = tmp_path / "fresh"
    ok("augment", img, "-m", "cutout", "-o", fresh, "-q")
    assert digest(aug) == digest(fresh)  # redone from the new pixels
    again = ok("sensitivity", img, "-m", model_file, "-p", "16", "-o", sens)
    assert "already done" not in again.stderr


def test_sensitivity_withdraws_a_record_before_rewriting_its_outputs(
    model_file, tmp_path, capsys, monkeypatch
) -> None:
    """Run A finishes; run B (other settings) dies mid-image; rerunning A must redo it."""
    from occlude import render

    img = badfiles.good_png(tmp_path / "a.png")
    out, clean = tmp_path / "out", tmp_path / "clean"
    args = [img, "-m", model_file, "-p", "16", "-q"]
    ok("sensitivity", *args, "-o", clean)
    ok("sensitivity", *args, "-o", out)

    def die(*a, **k):  # type: ignore[no-untyped-def]  # B has written its heatmap only
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "contact_sheet_png", die)
    stopped = run_main(capsys, "sensitivity", *args, "-o", out, "--fill", "black")
    assert (stopped.code, stopped.stderr) == (130, "occlude: interrupted after 0 of 1 inputs\n")
    monkeypatch.undo()
    again = ok("sensitivity", img, "-m", model_file, "-p", "16", "-o", out)
    assert "already done" not in again.stderr
    assert same_outputs(out, clean)


def test_augment_withdraws_records_before_rewriting_outputs(tmp_path, capsys, monkeypatch):  # type: ignore[no-untyped-def]
    """Run A finishes; run B (another seed) dies after rewriting some files; rerunning A
    must redo those, not trust A's old records."""
    import occlude.augment.job as job

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        badfiles.good_png(folder / f"a{i}.png")
    out, clean = tmp_path / "out", tmp_path / "clean"
    args = [folder, "-m", "random-erasing", "--prob", "1", "-j", "1", "-q"]
    ok("augment", *args, "-o", clean)
    ok("augment", *args, "-o", out)
    real_save = job.save_image
    calls = []

    def save_then_die(*a, **k):  # type: ignore[no-untyped-def]
        real_save(*a, **k)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(job, "save_image", save_then_die)
    stopped = run_main(capsys, "augment", *args, "-o", out, "--seed", "7")
    assert (stopped.code, stopped.stderr) == (130, "occlude: interrupted after 1 of 4 inputs\n")
    assert [r["seed"] for r in manifest(out)] == [7]  # B's one finished output, nothing stale
    monkeypatch.undo()
    ok("augment", *args, "-o", out)
    assert digest(out) == digest(clean)


def test_an_out_folder_inside_the_input_folder_is_never_read_back(model_file, tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    badfiles.good_png(folder / "a.png")
    for _ in range(2):
        res = ok("sensitivity", folder, "-m", model_file, "-p", "16", "-o", folder / "out",
                 "--json", "-", "--overwrite")  # fmt: skip
        assert [Path(r["input"]).name for r in json.loads(res.stdout)] == ["a.png"]
    assert sorted(p.name for p in (folder / "out").iterdir()) == [
        ".occlude", "a.json", "a.png", "a_scales.png"
    ]  # fmt: skip


# --- interrupted and killed runs ----------------------------------------------------------------


def same_outputs(a: Path, b: Path) -> bool:
    """Whether two output folders hold the same files, byte for byte; sensitivity records are
    compared without their timing and with their own folder's paths."""

    def normalised(folder: Path) -> dict[str, object]:
        found: dict[str, object] = {}
        for rel, sha in digest(folder).items():
            if rel.endswith(".json"):
                record = json.loads((folder / rel).read_text().replace(str(folder), "OUT"))
                record.pop("seconds", None)
                found[rel] = record
            else:
                found[rel] = sha
        return found

    return normalised(a) == normalised(b)


def assert_whole(folder: Path) -> None:
    """Every output under its final name is complete (temporaries are not outputs)."""
    for path in folder.rglob("*"):
        if path.name.startswith(".") or ".occlude" in path.parts or not path.is_file():
            continue
        if path.suffix == ".png":
            with Image.open(path) as im:
                im.load()
        elif path.suffix in (".npy", ".npz"):
            np.load(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".jsonl":
            for line in path.read_text().splitlines():
                json.loads(line)


SCENARIOS = {
    # name: (command line after the inputs, inputs, units let through, workers)
    "sensitivity": (["-m", "{model}", "-p", "4,8", "--save-npy", "-q"], 4, 2, 1),
    "augment-1-worker": (["-m", "random-erasing", "--prob", "1", "-n", "2", "-j", "1", "-q"],
                         10, 3, 1),
    "augment-2-workers": (["-m", "random-erasing", "--prob", "1", "-n", "2", "-j", "2", "-q"],
                          12, 3, 2),
}  # fmt: skip


@pytest.fixture(scope="module")
def scenario_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    for i in range(12):
        badfiles.good_png(folder / f"img{i:02d}.png", (48 + 4 * i, 64))
    return folder


def scenario(name: str, model_file: Path, inputs: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    options, count, after, workers = SCENARIOS[name]
    folder = tmp_path / "in"
    folder.mkdir()
    for path in sorted(inputs.iterdir())[:count]:
        (folder / path.name).write_bytes(path.read_bytes())
    command = name.split("-")[0]
    argv = [folder, *[str(o).format(model=model_file) for o in options]]
    return command, argv, count, after, workers


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_ctrl_c_stops_cleanly_and_a_rerun_finishes_the_same_outputs(
    name, model_file, scenario_inputs, tmp_path
) -> None:
    command, argv, count, after, workers = scenario(name, model_file, scenario_inputs, tmp_path)
    clean, out = tmp_path / "clean", tmp_path / "out"
    ok(command, *argv, "-o", clean)

    child = Gated(occlude(command, *argv, "-o", out), tmp_path / "child", after, workers)
    child.wait_until_ready()
    code, stdout, stderr = child.interrupt()

    assert code == 130, stderr
    assert stdout == ""
    (line,) = stderr.splitlines()  # one line, no traceback
    prefix, _, total = line.removeprefix("occlude: interrupted after ").partition(" of ")
    finished = int(prefix)
    assert total == f"{count} inputs"
    if workers == 1:
        assert finished == after  # the held unit was stopped mid-write
    else:
        assert after <= finished < count  # plus what the workers held, finished on the way out
    if command == "augment":
        sources = {Path(r["source"]).name for r in manifest(out)}
        assert len(sources) == finished and len(manifest(out)) == 2 * finished
        assert {p.name.split("_")[0] for p in out.glob("*.png")} == {s[:-4] for s in sources}
    else:
        assert len(list(out.glob("*.json"))) == finished
    assert temporaries(out) == []  # Ctrl-C removes the temporary file it was writing
    assert_whole(out)
    kept = mtimes(out)

    rerun = invoke(command, *argv, "-o", out)
    assert rerun.exit_code == 0 and rerun.stderr == "", rerun.output
    assert same_outputs(out, clean)
    if command == "augment":
        assert (out / "manifest.jsonl").read_bytes() == (clean / "manifest.jsonl").read_bytes()
    unchanged = {k: v for k, v in kept.items() if k != "manifest.jsonl"}
    assert {k: mtimes(out)[k] for k in unchanged} == unchanged  # finished work was not redone
    assert temporaries(out) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_killed_run_leaves_whole_files_and_a_rerun_finishes_the_same_outputs(
    name, model_file, scenario_inputs, tmp_path
) -> None:
    command, argv, _, after, workers = scenario(name, model_file, scenario_inputs, tmp_path)
    clean, out = tmp_path / "clean", tmp_path / "out"
    ok(command, *argv, "-o", clean)

    child = Gated(occlude(command, *argv, "-o", out), tmp_path / "child", after, workers)
    child.wait_until_ready()
    held = child.held_pids()
    assert child.kill() == -signal.SIGKILL
    assert wait_gone(held) == []  # workers exit when their parent dies

    assert len(temporaries(out)) == workers  # each held unit's half-done write
    assert_whole(out)
    rerun = invoke(command, *argv, "-o", out)
    assert rerun.exit_code == 0 and rerun.stderr == "", rerun.output
    assert same_outputs(out, clean)
    assert temporaries(out) == []  # the killed run's temporaries are cleared


def test_a_run_killed_between_the_manifest_and_its_stamp_can_be_resumed(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        badfiles.good_png(folder / f"a{i}.png")
    out = tmp_path / "out"
    argv = occlude("augment", folder, "-m", "cutout", "-j", "1", "-q", "-o", out)
    killed = run(argv, child_env(tmp_path / "site", kill_on_write="manifest.sha256"))
    assert killed.returncode == -signal.SIGKILL
    assert len(manifest(out)) == 3  # the manifest itself was written, whole
    rerun = run(argv)
    assert rerun.returncode == 0, rerun.stderr


def test_a_worker_still_starting_when_its_parent_is_killed_exits(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        badfiles.good_png(folder / f"a{i}.png")
    signals = tmp_path / "signals"
    signals.mkdir()
    env = child_env(tmp_path / "site", signals=str(signals), after=99, worker_start_gate=True)
    import subprocess

    with open(tmp_path / "stderr", "wb") as err:
        proc = subprocess.Popen(
            occlude("augment", folder, "-m", "cutout", "-j", "2", "-q", "-o", tmp_path / "out"),
            env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
        )  # fmt: skip
    import time

    deadline = time.monotonic() + 120
    while len(list(signals.glob("worker-*"))) < 2:  # both workers started, held before setup
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    workers = [int(p.read_text()) for p in signals.glob("worker-*")]
    spawned = children_of(proc.pid)  # the workers and multiprocessing's resource tracker
    assert set(workers) <= set(spawned)
    proc.kill()
    proc.wait()
    (signals / "go").write_text("")  # the workers now finish starting, their parent gone
    for pid in workers:  # until it has set itself up (or exited)
        while not (signals / f"initialised-{pid}").exists() and not gone(pid):
            assert time.monotonic() < deadline
            time.sleep(0.02)
    alive = wait_gone(workers, timeout=5)  # their parent watch polls every 0.2 s
    wait_gone(spawned, timeout=5)  # no stray process outlives the test
    assert alive == []


# --- permissions ---------------------------------------------------------------------------


@pytest.mark.parametrize(("umask", "mode"), [(0o077, 0o600), (0o022, 0o644), (0o002, 0o664)])
def test_outputs_get_the_usual_permissions(tmp_path, umask: int, mode: int) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    out = tmp_path / "out"
    code = (
        f"import os, sys\nos.umask({umask:#o})\nfrom occlude.cli import main\nmain(sys.argv[1:])\n"
    )
    import sys

    done = run([sys.executable, "-c", code, "augment", str(img), "-m", "cutout", "-o", str(out),
                "-q"])  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name in ("a_cutout_0.png", "manifest.jsonl"):
        assert stat.S_IMODE((out / name).stat().st_mode) == mode, name
