"""Usage errors and exit codes for every command: one line, ``occlude: error: ...``, exit 2,
nothing written; library errors name Python parameters and the command line names flags.

Commands run through :func:`occlude.cli.main`, the console script, which is what turns the
parser's own errors into one line too."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import badfiles
import numpy as np
import pytest
from support.cli import assert_usage_error, digest, invoke, run_main

from occlude import UsageError, occlusion_sensitivity
from occlude.augment import augmentation
from occlude.augment.job import AugmentJob
from occlude.cli import app
from occlude.cli.flags import FLAGS, to_flags
from occlude.errors import EXIT_FAILED, EXIT_GATE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from occlude.robustness import check_fractions

PACKAGE = Path(__file__).resolve().parents[1] / "occlude"


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """in/a.png and in/b.png, two small photos."""
    root = tmp_path / "in"
    root.mkdir()
    badfiles.good_png(root / "a.png")
    badfiles.good_png(root / "b.png")
    return root


def test_the_exit_codes_are_the_documented_ones() -> None:
    assert (EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_GATE, EXIT_INTERRUPTED) == (0, 1, 2, 3, 130)


# --- one line per usage error, for every command --------------------------------------------

SENSITIVITY = [
    (["-m", "resnet5o"], "unknown model 'resnet5o'"),
    (["-c", "2"], "--class 2 is out of range: {model} has 2 outputs (0-1)"),
    (["-c", "-1"], "--class must be 0 or more; received -1"),
    (["-c", "tabby"], "--class name 'tabby' needs an ImageNet model"),
    (["-c", "not_a_class"], "unknown ImageNet class name 'not_a_class'"),
    (["-p", "0"], "--patch must be positive; received 0"),
    (["-p", "-3"], "--patch must be positive; received -3"),
    (["-p", "x"], "--patch expects integers; received 'x'"),
    (["-p", "8", "-s", "0"], "--stride must be positive; received 0"),
    (["-p", "8", "-s", "9"], "--stride 9 is larger than --patch 8: pixels between windows"),
    (["-p", "8,4", "-s", "1,2,3"], "--stride: give one or one per patch size; received 3 for 2"),
    (["-s", "8"], "--stride 8 is larger than --patch 2"),  # the default sweep's smallest
    (["--fill", "noise"], "--fill 'noise' is not available here"),
    (["--fill", "purple"], "unknown --fill 'purple'"),
    (["--fill", "1,2"], "--fill '1,2': give one number or three (R,G,B)"),
    (["--preprocess", "yolo"], "unknown --preprocess 'yolo'"),
    (["--seed", "-1"], "Invalid value for '--seed'"),
    (["-b", "0"], "Invalid value for '--batch-size'"),
    (["--steps", "0"], "Invalid value for '--steps'"),
    (["--bogus"], "No such option: --bogus"),
    (["--min-focus", "0.5"], "--min-focus needs --expect-box or --expect-mask"),
    (["--expect-box", "0,0,4,4", "--min-focus", "1.5"], "Invalid value for '--min-focus'"),
    (["--expect-box", "1,2,3"], "--expect-box needs x0,y0,x1,y1; received '1,2,3'"),
    (["--expect-box", "5,5,1,9"], "--expect-box needs x0 < x1 and y0 < y1"),
    (["--expect-box", "0,0,4,4", "--expect-mask", "{folder}/a.png"],
     "give --expect-box or --expect-mask, not both"),
    (["--expect-mask", "missing.png"], "--expect-mask missing.png: no such file"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), SENSITIVITY)
def test_sensitivity_usage_errors(model_file, folder, tmp_path, capsys, args, message) -> None:
    argv = [a.format(folder=folder) for a in args]
    if "-m" not in argv:
        argv += ["-m", str(model_file)]
    out = tmp_path / "out"
    res = run_main(capsys, "sensitivity", folder / "a.png", "-o", out, *argv)
    assert_usage_error(res, message.format(model=model_file))
    assert not out.exists() or digest(out) == {}  # a class is checked once the model is loaded


AUGMENT = [
    (["-m", "gridmask"], "Invalid value for '--method'"),
    (["-m", "cutout", "--copies", "0"], "Invalid value for '--copies'"),
    (["-m", "cutout", "--copies", "-1"], "Invalid value for '--copies'"),
    (["-m", "cutout", "--workers", "0"], "Invalid value for '--workers'"),
    (["-m", "cutout", "--format", "tga"], "Invalid value for '--format'"),
    (["-m", "cutout", "--alpha", "1"],
     "--alpha applies to mixup, cutmix, saliency-mix and attentive-cutmix only; received it "
     "with --method cutout"),
    (["-m", "random-erasing", "--holes", "2"],
     "--holes applies to cutout only; received it with --method random-erasing"),
    (["-m", "mixup", "--fill", "black"],
     "--fill applies to cutout, hide-and-seek, random-erasing and keep-cutout only"),
    (["-m", "cutout", "--fill", "blur"], "--fill 'blur' is not available here"),
    (["-m", "cutout", "--fill", "purple"], "unknown --fill 'purple'"),
    (["-m", "cutout", "--size", "0"], "--size must be a positive number; received 0.0"),
    (["-m", "cutout", "--size", "2.5"], "--size of 1 or more is a side in pixels"),
    (["-m", "cutout", "--holes", "0"], "--holes must be an int from 1 to 1024; received 0"),
    (["-m", "hide-and-seek", "--grid", "16,x"], "--grid expects integers; received 'x'"),
    (["-m", "hide-and-seek", "--grid", "-4"], "--grid must be one or more cell sides in pixels"),
    (["-m", "hide-and-seek", "--hide-prob", "1.5"],
     "--hide-prob must be between 0 and 1; received 1.5"),
    (["-m", "random-erasing", "--area-range", "0.4"], "--area-range expects 2 numbers"),
    (["-m", "random-erasing", "--area-range", "0.5,0.2"],
     "--area-range needs 0 < low <= high <= 1; received 0.5,0.2"),
    (["-m", "random-erasing", "--aspect-range", "3,1"], "--aspect-range needs 0 < low <= high"),
    (["-m", "random-erasing", "--aspect-range", "a,b"], "--aspect-range expects numbers"),
    (["-m", "cutmix", "--alpha", "-1"],
     "--alpha must be a positive number below 1,000,000; received -1.0"),
    (["-m", "cutout", "--prob", "2"], "--prob must be between 0 and 1; received 2.0"),
    (["-m", "cutout", "--labels", "{tmp}/missing.csv"],
     "--labels {tmp}/missing.csv: give folders or an existing CSV file"),
    (["-m", "cutout", "--labels", "{tmp}/header.csv"],
     "--labels {tmp}/header.csv: the first row must be the header path,label"),
    (["-m", "cutout", "--labels", "{tmp}/twice.csv"],
     "line 3 gives in/a.png a second label ('x', then 'y')"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), AUGMENT)
def test_augment_usage_errors(folder, tmp_path, capsys, args, message) -> None:
    (tmp_path / "header.csv").write_text("file,class\na.png,x\n")
    (tmp_path / "twice.csv").write_text("path,label\nin/a.png,x\nin/a.png,y\n")
    argv = [a.format(tmp=tmp_path) for a in args]
    res = run_main(capsys, "augment", folder, "-o", tmp_path / "out", *argv)
    assert_usage_error(res, message.format(tmp=tmp_path))
    assert not (tmp_path / "out").exists()


def test_mixing_needs_two_images(folder, tmp_path) -> None:
    res = invoke("augment", folder / "a.png", "-m", "cutmix", "-o", tmp_path / "out")
    assert_usage_error(res, "cutmix mixes each image with another input; give at least two images")
    assert not (tmp_path / "out").exists()


ROBUSTNESS = [
    (["--methods", "cutmix"], "--methods has an unknown method 'cutmix'"),
    (["--methods", ","], "give at least one of --methods"),
    (["--fractions", "0,1.5"], "--fractions must be in [0, 1]; received 1.5"),
    (["--fractions", "a"], "--fractions expects numbers separated by commas; received 'a'"),
    (["--min-accuracy", "0.5"], "--min-accuracy and --at go together"),
    (["--at", "0.5"], "--min-accuracy and --at go together"),
    (["--min-accuracy", "0.5", "--at", "0.7"], "--at 0.7 is not one of --fractions 0,0.5"),
    (["--min-accuracy", "2", "--at", "0"], "Invalid value for '--min-accuracy'"),
    (["--fill", "dataset-mean"], "--fill 'dataset-mean' is not available here"),
    (["-b", "0"], "Invalid value for '--batch-size'"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), ROBUSTNESS)
def test_robustness_usage_errors(model_file, folder, tmp_path, capsys, args, message) -> None:
    options = ["-m", model_file, "--labels", "folders", "--fractions", "0,0.5"]
    res = run_main(capsys, "robustness", folder, *options, "--json", tmp_path / "r.json", *args)
    assert_usage_error(res, message)
    assert not (tmp_path / "r.json").exists()


def test_robustness_needs_labels(model_file, folder, capsys) -> None:
    res = run_main(capsys, "robustness", folder, "-m", model_file)
    assert_usage_error(res, "Missing option '--labels'")


@pytest.mark.parametrize("command", ["sensitivity", "augment", "robustness"])
def test_an_unknown_option_names_the_command(command: str, folder, capsys) -> None:
    line = assert_usage_error(run_main(capsys, command, folder, "--nope"), "No such option: --nope")
    assert line.endswith(f"(see occlude {command} --help)")


def test_an_unknown_command(capsys) -> None:
    line = assert_usage_error(run_main(capsys, "occlusion"), "No such command 'occlusion'")
    assert line.endswith("(see occlude --help)")


# --- where outputs may go -------------------------------------------------------------------


def test_outputs_never_overwrite_an_input(model_file, folder) -> None:
    before = (folder / "a.png").read_bytes()
    res = invoke("sensitivity", folder / "a.png", "-m", model_file, "-o", folder)
    assert_usage_error(res, f"{folder / 'a.png'}: output would overwrite the input "
                            f"{folder / 'a.png'}; write it elsewhere")  # fmt: skip
    assert (folder / "a.png").read_bytes() == before


def test_out_equal_to_an_input_folder_is_refused(model_file, folder) -> None:
    for command, args in (("sensitivity", ["-m", model_file]), ("augment", ["-m", "cutout"])):
        res = invoke(command, folder, *args, "-o", folder)
        assert_usage_error(res, f"--out {folder} is an input folder; write outputs elsewhere")


def test_out_above_the_inputs_is_fine(model_file, folder, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = invoke("sensitivity", "in", "-m", model_file, "-p", "16", "-o", ".", "-q")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "a.png").is_file() and (tmp_path / "a.json").is_file()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("in/a.png", "{t}: --json would overwrite the input {t}; write it elsewhere"),
        ("in/new.json", "{t}: --json would write inside the input folder {folder}"),
        ("out/a.json", "{t}: --json and output would both write this file"),
        ("in", "--json {t}: is a folder"),
    ],
)
def test_the_json_target_is_checked_before_any_work(model_file, folder, tmp_path, target,
                                                     message) -> None:  # fmt: skip
    t = tmp_path / target
    res = invoke("sensitivity", folder, "-m", model_file, "-o", tmp_path / "out", "--json", t)
    assert_usage_error(res, message.format(t=t, folder=folder))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_robustness_files_never_overwrite_an_input(model_file, folder, option) -> None:
    target = folder / "a.png"
    res = invoke("robustness", folder, "-m", model_file, "--labels", "folders", option, target)
    assert_usage_error(res, f"{target}: {option} would overwrite the input {target}")


def test_two_inputs_that_would_write_one_file(folder, tmp_path) -> None:
    badfiles.good_png(folder / "sub.png")
    (folder / "c.jpg").write_bytes((folder / "a.png").read_bytes())
    import shutil

    shutil.copy(folder / "a.png", folder / "a.jpeg")  # a.png and a.jpeg -> a_cutout_0.png
    res = invoke("augment", folder, "-m", "cutout", "--format", "png", "-o", tmp_path / "out")
    assert_usage_error(res, "would both write", "a_cutout_0.png; rename one or run them separately")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["sensitivity", "augment"])
def test_out_that_is_a_file_or_not_writable(model_file, folder, tmp_path, monkeypatch,
                                            command) -> None:  # fmt: skip
    import os

    args = ["-m", str(model_file)] if command == "sensitivity" else ["-m", "cutout"]
    (tmp_path / "file").write_text("x")
    res = invoke(command, folder, *args, "-o", tmp_path / "file")
    assert_usage_error(res, f"--out {tmp_path / 'file'}: exists and is not a folder")
    real_access = os.access  # as root, chmod would not make a folder unwritable

    def access(path, mode, *rest, **kwargs):  # type: ignore[no-untyped-def]
        return str(path) != str(tmp_path / "ro") and real_access(path, mode, *rest, **kwargs)

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(os, "access", access)
    res = invoke(command, folder, *args, "-o", tmp_path / "ro" / "out")
    assert_usage_error(res, f"--out {tmp_path / 'ro' / 'out'}: cannot write there")


# --- library wording and command-line wording -------------------------------------------------


def lib_error(call) -> UsageError:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize(
    ("call", "argv", "python"),
    [
        (lambda: augmentation("cutout", holes=0), ["augment", "{in}", "-m", "cutout",
         "--holes", "0"], "holes must be an int from 1 to 1024; received 0"),
        (lambda: augmentation("hide-and-seek", hide_prob=1.5), ["augment", "{in}", "-m",
         "hide-and-seek", "--hide-prob", "1.5"], "hide_prob must be between 0 and 1; received 1.5"),
        (lambda: augmentation("cutout", alpha=0.5), ["augment", "{in}", "-m", "cutout",
         "--alpha", "0.5"], "alpha applies to mixup, cutmix, saliency-mix and attentive-cutmix "
         "only; received it with method"),
        (lambda: occlusion_sensitivity(np.zeros((8, 8, 3)), np.zeros, patch_sizes=[8],
         strides=[9]), ["sensitivity", "{in}", "-m", "{model}", "-p", "8", "-s", "9"],
         "strides 9 is larger than patch_sizes 8"),
        (lambda: occlusion_sensitivity(np.zeros((8, 8, 3)), np.zeros, fill="x"),
         ["sensitivity", "{in}", "-m", "{model}", "--fill", "x"], "unknown fill 'x'"),
        (lambda: check_fractions([2.0]), ["robustness", "{in}", "-m", "{model}", "--labels",
         "folders", "--fractions", "2"], "fractions must be in [0, 1]; received 2.0"),
    ],
)  # fmt: skip
def test_the_library_names_parameters_and_the_command_line_flags(
    model_file, folder, call, argv, python: str
) -> None:
    exc = lib_error(call)
    assert str(exc).startswith(python) and "--" not in str(exc)
    res = invoke(*[a.format(**{"in": folder, "model": model_file}) for a in argv])
    line = assert_usage_error(res)
    assert line == f"occlude: error: {to_flags(str(exc), exc.params)}"


def test_to_flags_replaces_whole_parameter_names_only() -> None:
    assert to_flags("prob must be between 0 and 1; received 1.5", ["prob"]) == (
        "--prob must be between 0 and 1; received 1.5"
    )
    message = "hide_prob must be between 0 and 1; received 2"
    for params in (["prob", "hide_prob"], ["hide_prob", "prob"]):
        assert to_flags(message, params) == "--hide-prob must be between 0 and 1; received 2"
    assert to_flags("batch_size must be at least 1", ["size"]) == "batch_size must be at least 1"
    assert to_flags("strides 48 is larger than patch_sizes 40", ["strides", "patch_sizes"]) == (
        "--stride 48 is larger than --patch 40"
    )
    assert to_flags("pass safe=False if you trust this file", ["safe=False"]) == (
        "pass --unsafe-model if you trust this file"
    )
    assert to_flags("out_dir x: cannot write there", ["out_dir"]) == "--out x: cannot write there"
    assert to_flags("label 'x' is out of range", ["label"]) == "label 'x' is out of range"
    assert to_flags("holes must be at least 1", []) == "holes must be at least 1"


def all_options() -> set[str]:
    from typer.main import get_command

    commands = get_command(app).commands  # type: ignore[attr-defined]
    return {opt for c in commands.values() for p in c.params for opt in getattr(p, "opts", [])}


def test_every_flag_in_the_table_is_a_real_option() -> None:
    options = all_options()
    for param, flag in FLAGS.items():
        assert flag.strip() in options, (param, flag)


FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def flags_in_raises(source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of string literals naming a command-line flag inside ``raise``
    statements or error constructors of ``source``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and node.exc is not None:
            roots = [node.exc]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "").endswith("Error"):
            roots = [node]
        else:
            continue
        for root in roots:
            for sub in ast.walk(root):
                is_text = isinstance(sub, ast.Constant) and isinstance(sub.value, str)
                if is_text and FLAG.search(sub.value):
                    found.add((sub.lineno, sub.value))
    return sorted(found)


def test_the_flag_detector_finds_flags_in_raises() -> None:
    code = (
        "raise UsageError(f'--holes must be {n}')\n"
        "err = ModelError('pass --weights FILE')\n"
        "raise UsageError('holes -- not a flag --2')\n"
        "x = '--not-an-error'\n"
    )
    assert flags_in_raises(code) == [(1, "--holes must be "), (2, "pass --weights FILE")]


def test_no_library_error_names_a_command_line_flag() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "cli" in path.relative_to(PACKAGE).parts:
            continue
        for line, text in flags_in_raises(path.read_text()):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}")
    assert offenders == []
    assert len(list(PACKAGE.rglob("*.py"))) > 40  # the scan saw the whole package


# --- Ctrl-C -----------------------------------------------------------------------------------


def test_ctrl_c_mid_run_says_how_many_inputs_were_finished(folder, tmp_path, capsys,
                                                           monkeypatch) -> None:  # fmt: skip
    badfiles.good_png(folder / "c.png")
    real = AugmentJob.process
    calls: list[object] = []

    def stop_on_second(self, task, tick=None):  # type: ignore[no-untyped-def]
        calls.append(task)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, task, tick)

    monkeypatch.setattr(AugmentJob, "process", stop_on_second)
    done = run_main(capsys, "augment", folder, "-m", "cutout", "-o", tmp_path / "out", "-j", "1")
    assert done.code == 130
    assert done.stderr.splitlines() == ["occlude: interrupted after 1 of 3 inputs"]


def test_ctrl_c_before_any_work_says_interrupted(folder, tmp_path, capsys, monkeypatch) -> None:
    def interrupted(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr("occlude.augment.job.discover", interrupted)
    done = run_main(capsys, "augment", folder, "-m", "cutout", "-o", tmp_path / "out")
    assert (done.code, done.stdout, done.stderr) == (130, "", "occlude: interrupted\n")
