"""What the command line reads as a number, a list, a shard and a class name.

Python's ``int()`` and ``float()`` read ``1_0`` as 10, Arabic-Indic digits as digits and
``nan``/``inf`` as floats; every number option, list and shard refuses them. A list whose
entries make rows refuses a repeat; a shard with no input says so; ImageNet's class names
go to keras.applications models, and to a model file only when asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import badfiles
import pytest
from support.cli import assert_usage_error, invoke, ok, run_main

from occlude.cli import augment, report, robustness, sensitivity
from occlude.model import load_classifier
from occlude.runner.run import shard_of
from occlude.values import distinct, read_float, read_int

COMMANDS = {
    "sensitivity": sensitivity.sensitivity,
    "augment": augment.augment,
    "robustness": robustness.robustness,
    "report": report.report,
}


def number_options() -> list[tuple[str, str, type]]:
    """``(command, flag, int or float)`` for every option typed as a number."""
    found = []
    for command, func in COMMANDS.items():
        for hint in get_type_hints(func, include_extras=True).values():
            if get_origin(hint) is not Annotated:
                continue
            base, info = get_args(hint)[:2]
            kinds = {k for k in (get_args(base) or (base,)) if k is not type(None)}
            decls = [getattr(info, "default", None), *(getattr(info, "param_decls", None) or ())]
            flag = next((d for d in decls if str(d).startswith("--")), None)
            if flag is not None and kinds in ({int}, {float}):
                found.append((command, flag, kinds.pop()))
    return found


NUMBER_OPTIONS = number_options()


def test_the_scan_finds_the_number_options() -> None:
    flags = {(c, f) for c, f, _ in NUMBER_OPTIONS}
    assert {("sensitivity", "--approx"), ("robustness", "--min-accuracy"), ("augment", "--prob"),
            ("report", "--min-focus"), ("augment", "--gpus-per-worker")} <= flags  # fmt: skip
    assert len(NUMBER_OPTIONS) >= 25


def required(command: str, tmp_path: Path) -> list[str]:
    """The arguments a command cannot run without."""
    image = str(badfiles.good_png(tmp_path / "a.png"))
    needs = {"sensitivity": [image], "augment": [image, "-m", "cutout"],
             "robustness": [image, "--labels", "folders"], "report": [str(tmp_path)]}  # fmt: skip
    return needs[command]


@pytest.mark.parametrize(("command", "flag", "kind"), NUMBER_OPTIONS)
def test_every_number_option_takes_plain_ascii_numbers_only(
    command, flag, kind, tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # default output folders, should a value get through
    what = "a whole number" if kind is int else "a number"
    bad = ["1_0", "\u0661", "nan", "inf", "1e999", "0x1"] + (["1.5"] if kind is int else [])
    for value in bad:
        res = run_main(capsys, command, *required(command, tmp_path), flag, value)
        assert_usage_error(res, f"Invalid value for '{flag}'", f"expects {what}; received")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]  # nothing written


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("sensitivity", ["--approx", "1.5"], "'--approx': must be between 0 and 1; received 1.5"),
        ("sensitivity", ["--min-focus", "nan", "--expect-box", "0,0,4,4"],
         "'--min-focus': expects a number; received 'nan'"),
        ("robustness", ["--min-accuracy", "nan", "--at", "0"],
         "'--min-accuracy': expects a number; received 'nan'"),
        ("sensitivity", ["-b", "0"], "'--batch-size' / '-b': must be at least 1; received 0"),
        ("sensitivity", ["-p", "1_6"], "--patch expects integers; received '1_6'"),
        ("sensitivity", ["-p", "16", "-s", "\u0668"], "--stride expects integers; received"),
        ("sensitivity", ["--expect-box", "0,0,1_0,4"], "--expect-box expects integers"),
        ("sensitivity", ["--fill", "nan"], "unknown --fill 'nan'"),
        ("sensitivity", ["--fill", "1_0"], "unknown --fill '1_0'"),
        ("robustness", ["--fractions", "0,nan"], "--fractions expects numbers separated by"),
        ("robustness", ["--fractions", "0,1e999"], "--fractions expects numbers separated by"),
        ("augment", ["--area-range", "0.1,inf"], "--area-range expects numbers separated by"),
        ("augment", ["-m", "hide-and-seek", "--grid", "\u0661\u0666"], "--grid expects integers"),
        ("augment", ["--shard", "1_0/20"], "--shard expects I/N (say 2/4); received '1_0/20'"),
        ("augment", ["--shard", "\u0661/2"], "--shard expects I/N (say 2/4)"),
        ("augment", ["--shard", "1/2/3"], "--shard expects I/N (say 2/4)"),
    ],
)  # fmt: skip
def test_lists_shards_fills_and_ranges(command, args, message, tmp_path, capsys) -> None:
    res = run_main(capsys, command, *required(command, tmp_path), *args)
    assert_usage_error(res, message)


def test_the_readers() -> None:
    assert [read_int(t) for t in ("7", " -3 ", "+2", "1_0", "\u0663", "7.0", "", "0x1")] == [
        7, -3, 2, None, None, None, None, None]  # fmt: skip
    floats = ["0.5", ".5", "5.", "-1e-3", "1E2", "nan", "-inf", "Infinity", "1_0.5", "\u0663",
              "1e999", "."]  # fmt: skip
    assert [read_float(t) for t in floats] == [0.5, 0.5, 5.0, -0.001, 100.0] + [None] * 7
    assert distinct(["a", "b"], "methods") == ("a", "b")
    with pytest.raises(ValueError, match=r"fractions lists 0\.2 twice"):
        distinct([0.2, 0.1, 0.2], "fractions")


# --- a list whose entries make rows refuses a repeat -------------------------------------


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("robustness", ["--fractions", "0,0.2,0.2"], "--fractions lists 0.2 twice"),
        ("robustness", ["--fractions", "0.2,0.20"], "--fractions lists 0.2 twice"),
        ("robustness", ["--methods", "cutout,Cutout"], "--methods lists cutout twice"),
        ("sensitivity", ["-p", "8,8"], "--patch lists 8 twice with --stride 8"),
        ("sensitivity", ["-p", "8,16,8", "-s", "4"], "--patch lists 8 twice with --stride 4"),
    ],
)  # fmt: skip
def test_repeats_in_a_list_of_rows_are_refused(command, args, message, tmp_path, capsys) -> None:
    res = run_main(capsys, command, *required(command, tmp_path), *args)
    assert_usage_error(res, message)


def test_one_patch_with_two_strides_is_two_scales() -> None:
    from occlude.sensitivity.windows import check_scales

    assert check_scales([16, 16], [8, 16]) == ((16, 16), (8, 16))


# --- a shard that selects no input says so ----------------------------------------------


def test_an_empty_shard_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        badfiles.good_png(folder / name)
    owners = {shard_of(name, 7) for name in ("a.png", "b.png")}
    empty = min(set(range(1, 8)) - owners)
    res = ok("augment", folder, "-m", "cutout", "-o", tmp_path / "out", "--shard", f"{empty}/7")
    note = f"occlude: note: shard {empty}/7 selects none of the inputs (2 in all): nothing to do"
    assert note in res.stderr.splitlines()
    quiet = ok("augment", folder, "-m", "cutout", "-o", tmp_path / "q", "--shard", f"{empty}/7",
               "-q")  # fmt: skip
    assert quiet.stderr == ""
    busy = ok(
        "augment", folder, "-m", "cutout", "-o", tmp_path / "b", "--shard", f"{min(owners)}/7"
    )
    assert "selects none" not in busy.stderr


# --- ImageNet's class names: keras.applications models, or a model file that asks -------


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model file with 1,000 outputs that are not ImageNet's (16x16 input)."""
    import keras

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1000, activation="softmax")(x))
    path = tmp_path_factory.mktemp("models") / "thousand.keras"
    model.save(path)
    return path


def test_a_model_file_gets_class_names_only_when_asked(thousand: Path, model_file: Path) -> None:
    assert load_classifier(str(thousand)).class_names is None
    named = load_classifier(str(thousand), class_names="imagenet")
    assert named.class_names is not None and named.class_name(281) == "tabby"
    with pytest.raises(ValueError, match=r"class_names=imagenet names 1000 outputs; .* has 2"):
        load_classifier(str(model_file), class_names="imagenet")
    with pytest.raises(ValueError, match="class_names must be one of imagenet; received 'x'"):
        load_classifier(str(thousand), class_names="x")


def test_sensitivity_names_a_model_files_classes_only_when_asked(thousand, tmp_path) -> None:
    image = badfiles.good_png(tmp_path / "a.png")
    args: list[Any] = [image, "-m", thousand, "-p", "8", "-q", "--json", "-"]
    plain = ok("sensitivity", *args, "-o", tmp_path / "plain")
    assert json.loads(plain.stdout)[0]["class_name"] is None  # 1,000 outputs are not ImageNet's
    refused = invoke("sensitivity", *args, "-o", tmp_path / "refused", "-c", "tabby")
    assert_usage_error(refused, "--class name 'tabby' needs an ImageNet model",
                       "pass --class-names imagenet if they are ImageNet's classes")  # fmt: skip
    named = ok("sensitivity", *args, "-o", tmp_path / "named", "-c", "tabby",
               "--class-names", "imagenet")  # fmt: skip
    record = json.loads(named.stdout)[0]
    assert (record["class_index"], record["class_name"]) == (281, "tabby")


def test_class_names_need_a_model_with_a_thousand_outputs(model_file, tmp_path) -> None:
    image = badfiles.good_png(tmp_path / "a.png")
    res = invoke("sensitivity", image, "-m", model_file, "--class-names", "imagenet",
                 "-o", tmp_path / "out")  # fmt: skip
    assert_usage_error(res, "--class-names imagenet names 1000 outputs;", "has 2")
    bad = invoke("sensitivity", image, "-m", model_file, "--class-names", "coco")
    assert bad.exit_code == 2 and "--class-names" in bad.stderr


def test_robustness_labels_by_name_need_the_names(thousand, tmp_path) -> None:
    folder = tmp_path / "tabby"
    folder.mkdir()
    badfiles.good_png(folder / "a.png")
    args: list[Any] = [folder, "-m", thousand, "--labels", "folders", "--fractions", "0",
                       "--repeats", "1", "--json", "-", "-q"]  # fmt: skip
    plain = invoke("robustness", *args)
    assert plain.exit_code == 1
    assert (
        "the model has 1000 outputs without names (a model file): give an index, or pass "
        "--class-names imagenet if they are ImageNet's classes" in plain.stderr
    )
    named = ok("robustness", *args, "--class-names", "imagenet")
    assert json.loads(named.stdout)["results"][0]["n"] == 1


def test_guided_maps_check_the_class_before_writing(model_file, tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        badfiles.good_png(folder / name)
    out = tmp_path / "out"
    args: list[Any] = [folder, "-m", "keep-cutout", "--model", model_file, "-c", "tabby",
                       "-o", out, "-j", "1"]  # fmt: skip
    for _ in range(2):  # the second run is refused for the same reason, not for a manifest
        res = invoke("augment", *args)
        assert_usage_error(res, "--class name 'tabby' needs an ImageNet model")
        assert not out.exists()
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.png"]
