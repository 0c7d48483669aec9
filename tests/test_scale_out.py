"""Datasets beyond one machine: shards that add up to the whole run, and the Ray engine."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import badfiles
import numpy as np
import pytest
from kerasmodels import red_image
from PIL import Image
from typer.testing import CliRunner, Result

from occlude.cli import app
from occlude.errors import UsageError
from occlude.runner.run import shard_of

runner = CliRunner()
METHODS = ["cutout", "hide-and-seek", "random-erasing", "mixup", "cutmix"]


def cli(*args: object) -> Result:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def files(folder: Path) -> dict[str, str]:
    """Digest of every file we write (the ledger, with its run ids and times, aside)."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".occlude" not in p.relative_to(folder).parts
    }


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for i in range(9):
        box = (4, 2 + i, 30, 18 + i) if i % 2 else None
        path = root / f"c{i % 3}" / f"img{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(red_image((32 + 2 * i, 48), box)).save(path)
    return root


def test_shards_partition_the_inputs_by_path() -> None:
    rels = [f"folder{i % 7}/image{i}.jpg" for i in range(500)]
    for n in (1, 2, 5):
        owners = [shard_of(rel, n) for rel in rels]
        assert set(owners) == set(range(1, n + 1))
        assert owners == [shard_of(rel, n) for rel in rels]  # stable
    counts = np.bincount([shard_of(rel, 4) for rel in rels])[1:]
    assert counts.min() > 500 / 4 * 0.75  # a fair split


@pytest.mark.parametrize("method", METHODS)
def test_augment_shards_add_up_to_the_whole_run(data: Path, tmp_path: Path, method: str) -> None:
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    cli("augment", data, "-m", method, "-o", whole, "-n", 2, "--seed", 5, "-j", 1, "-q")
    for i in (1, 2, 3):
        cli("augment", data, "-m", method, "-o", parts, "-n", 2, "--seed", 5, "-j", 1, "-q",
            "--shard", f"{i}/3")  # fmt: skip
    assert not (parts / "manifest.jsonl").exists()  # shards never rewrite one file
    sharded = {k: v for k, v in files(parts).items()}
    assert sharded == {k: v for k, v in files(whole).items() if k != "manifest.jsonl"}
    merge = cli("augment", data, "-m", method, "-o", parts, "-n", 2, "--seed", 5, "-j", 1)
    assert "wrote 0 image(s)" in merge.stderr and "18 already done" in merge.stderr
    assert files(parts) == files(whole)  # the merged manifest too, byte for byte


@pytest.mark.slow
def test_sensitivity_shards_add_up_to_the_whole_run(model_file, data: Path, tmp_path: Path) -> None:
    whole, parts = tmp_path / "whole", tmp_path / "out"
    args = ["-m", model_file, "-p", "8,16", "--save-npy", "-q"]
    cli("sensitivity", data, *args, "-o", parts)
    parts.rename(whole)  # records name their outputs: compare runs into the same --out
    for i in (1, 2):
        cli("sensitivity", data, *args, "-o", parts, "--shard", f"{i}/2")
    assert files(parts) == files(whole)
    assert len([k for k in files(whole) if k.endswith(".json")]) == 9


@pytest.mark.slow
def test_concurrent_shards_into_one_folder_lose_nothing(data: Path, tmp_path: Path) -> None:
    out, reference = tmp_path / "out", tmp_path / "reference"
    base = [sys.executable, "-m", "occlude", "augment", str(data), "-m", "cutmix", "-n", "3",
            "-j", "1", "-q"]  # fmt: skip
    procs = [subprocess.Popen([*base, "-o", str(out), "--shard", f"{i}/3"],
                              stderr=subprocess.PIPE, text=True) for i in (1, 2, 3)]  # fmt: skip
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    subprocess.run([*base, "-o", str(out)], check=True, timeout=300)
    subprocess.run([*base, "-o", str(reference)], check=True, timeout=300)
    records = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(records) == len({r["output"] for r in records}) == 27
    assert files(out) == files(reference)


def test_robustness_shards_combine_into_one_table_and_gate(model_file, tmp_path: Path) -> None:
    for i in range(8):
        folder = tmp_path / "imgs" / ("0" if i % 2 else "1")
        folder.mkdir(parents=True, exist_ok=True)
        box = (5, 3, 40, 25) if i % 2 else None
        Image.fromarray(red_image((32, 48), box)).save(folder / f"i{i}.png")
    common = ["robustness", tmp_path / "imgs", "--labels", "folders", "-m", model_file,
              "--fractions", "0,0.3", "--repeats", "2"]  # fmt: skip
    whole = cli(*common, "--json", "-", "--min-accuracy", "0.1", "--at", "0.3")
    out = tmp_path / "out"
    for i in (1, 2, 3):
        part = cli(*common, "--out", out, "--shard", f"{i}/3", "--min-accuracy", "0.1",
                   "--at", "0.3")  # fmt: skip
        assert "run the command again without --shard" in part.stderr
    combined = cli(*common, "--out", out, "--json", "-", "--min-accuracy", "0.1", "--at", "0.3")
    assert json.loads(combined.stdout) == json.loads(whole.stdout)
    assert json.loads((out / "robustness.json").read_text()) == json.loads(whole.stdout)
    assert (out / "robustness.png").is_file()


def test_a_shard_needs_a_valid_index(data: Path, tmp_path: Path) -> None:
    for bad in ("0/3", "4/3", "2", "a/b"):
        res = runner.invoke(app, ["augment", str(data), "-m", "cutout", "-o",
                                  str(tmp_path / "o"), "--shard", bad])  # fmt: skip
        assert res.exit_code == 2 and "--shard" in res.stderr


def test_engine_ray_without_ray_is_one_clear_line(tmp_path: Path) -> None:
    img = badfiles.good_png(tmp_path / "a.png")
    code = (
        "import sys\n"
        "sys.modules['ray'] = None  # as if Ray were not installed\n"
        "from occlude.cli import main\n"
        f"main(['augment', {str(img)!r}, '-m', 'cutout', '-o', {str(tmp_path / 'o')!r}, "
        "'--engine', 'ray'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == (
        "occlude: error: --engine ray needs Ray, which is not installed: "
        "pip install 'occlude[ray]'\n"
    )


def free_port() -> int:
    """A local port nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_address_where_no_cluster_answers_fails_at_once(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    img = badfiles.good_png(tmp_path / "a.png")
    address = f"127.0.0.1:{free_port()}"
    argv = [sys.executable, "-m", "occlude", "augment", str(img), "-m", "cutout", "-o",
            str(tmp_path / "o"), "--engine", "ray", "--address", address]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)  # Ray: ten minutes
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"occlude: error: --address {address}: no Ray cluster "
                                  "answers there (")  # fmt: skip
    assert len(proc.stderr.splitlines()) == 1  # no native Ray log lines
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("workers", "gpus", "resources", "expected"),
    [
        (None, 0, {"CPU": 8.0}, 8),
        (None, 1, {"CPU": 8.0, "GPU": 2.0}, 2),
        (None, 0.5, {"CPU": 8.0, "GPU": 2.0}, 4),
        (None, 0.1, {"CPU": 16.0, "GPU": 1.0}, 10),
        (3, 0, {"CPU": 4.0}, 3),
        (10, 0.1, {"CPU": 16.0, "GPU": 1.0}, 10),
        (None, 1, {"CPU": 2.0}, "gpus_per_worker 1 needs 1 GPUs a worker, and the Ray cluster "
                                "at X has 0"),
        (None, 2, {"CPU": 2.0, "GPU": 1.0}, "gpus_per_worker 2 needs 2 GPUs a worker"),
        (3, 0, {"CPU": 2.0}, "workers 3 need 3 CPUs (one each), and the Ray cluster at X has 2"),
        (2, 1, {"CPU": 4.0, "GPU": 1.0}, "workers 2 with gpus_per_worker 1 need 2 GPUs, and the "
                                         "Ray cluster at X has 1"),
        (None, 0, {"GPU": 1.0}, "each worker needs a CPU, and the Ray cluster at X has 0"),
    ],
)  # fmt: skip
def test_workers_are_checked_against_the_cluster(workers, gpus, resources, expected) -> None:
    from occlude.runner.ray_engine import fit_workers

    if isinstance(expected, int):
        assert fit_workers(workers, gpus, resources, " at X") == expected
    else:
        with pytest.raises(UsageError) as caught:
            fit_workers(workers, gpus, resources, " at X")
        assert str(caught.value).startswith(expected)


def test_addresses_are_read_before_ray_is_asked() -> None:
    from occlude.runner.ray_engine import _endpoint

    assert _endpoint("auto") is None and _endpoint("local") is None
    assert _endpoint("10.0.0.5:6379") == ("10.0.0.5", 6379)
    assert _endpoint("ray://head.example:10001") == ("head.example", 10001)
    assert _endpoint("[::1]:6379") == ("::1", 6379)
    for bad in ("head", "head:", ":6379", "head:1_0", "head:70000", "head:\u0665"):
        with pytest.raises(UsageError, match="address expects HOST:PORT"):
            _endpoint(bad)


@pytest.fixture(scope="module")
def ray_cluster():  # type: ignore[no-untyped-def]
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR")  # fmt: skip
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_the_ray_engine_gives_the_same_outputs_as_a_local_run(
    ray_cluster, model_file, data: Path, tmp_path: Path
) -> None:
    for method in ("cutmix", "hide-and-seek"):
        local, distributed = tmp_path / f"{method}-local", tmp_path / f"{method}-ray"
        cli("augment", data, "-m", method, "-o", local, "-n", 2, "-q", "-j", 1)
        cli("augment", data, "-m", method, "-o", distributed, "-n", 2, "-q", "--engine", "ray")
        assert files(distributed) == files(local)
    local, distributed = tmp_path / "s-local", tmp_path / "s-ray"
    cli("sensitivity", data, "-m", model_file, "-p", "16", "--save-npy", "-q", "-o", local)
    res = cli("sensitivity", data, "-m", model_file, "-p", "16", "--save-npy", "-q",
              "-o", distributed, "--engine", "ray", "--workers", "2", "--json", "-")  # fmt: skip
    assert len(json.loads(res.stdout)) == 9
    strip = {k: v for k, v in files(local).items() if not k.endswith(".json")}
    assert {k: v for k, v in files(distributed).items() if not k.endswith(".json")} == strip
    again = runner.invoke(
        app,
        ["sensitivity", str(data), "-m", str(model_file), "-p", "16", "--save-npy", "-o",
         str(distributed), "--engine", "ray"],
    )  # fmt: skip
    assert again.exit_code == 0 and again.stderr.count("already done") == 9


@pytest.mark.slow
def test_a_run_the_cluster_cannot_place_is_refused(ray_cluster, data: Path, tmp_path) -> None:
    base = ["augment", str(data), "-m", "cutout", "--engine", "ray"]
    for extra, message in (
        (["--gpus-per-worker", "1"], "--gpus-per-worker 1 needs 1 GPUs a worker, and the Ray "
                                     "cluster has 0"),
        (["--workers", "3"], "--workers 3 need 3 CPUs (one each), and the Ray cluster has 2"),
    ):  # fmt: skip
        out = tmp_path / extra[0]
        res = runner.invoke(app, [*base, "-o", str(out), *extra])
        assert res.exit_code == 2, res.output
        assert res.stderr == f"occlude: error: {message}\n"
        assert not out.exists()  # no manifest, no ledger: a rerun starts clean


@pytest.mark.slow
def test_a_local_cluster_without_the_gpus_asked_for_fails_in_one_line(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    img = badfiles.good_png(tmp_path / "a.png")
    argv = [sys.executable, "-m", "occlude", "augment", str(img), "-m", "cutout", "-o",
            str(tmp_path / "o"), "--engine", "ray", "--gpus-per-worker", "64"]  # fmt: skip
    env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("occlude: error: --gpus-per-worker 64 needs 64 GPUs a worker, "
                                  "and the Ray cluster started for this run has ")  # fmt: skip
    assert len(proc.stderr.splitlines()) == 1
