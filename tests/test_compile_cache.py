"""JAX's persistent compilation cache: where it lives, on for the command line by default,
off with ``OCCLUDE_NO_COMPILE_CACHE=1`` (no wall-clock assertion: the files are the proof)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kerasmodels import red_image
from PIL import Image
from support.children import child_env, occlude, run

from occlude.model.backend import compile_cache_dir


def test_the_cache_folder_follows_xdg_and_the_switches(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OCCLUDE_NO_COMPILE_CACHE", raising=False)
    monkeypatch.delenv("OCCLUDE_COMPILE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache_dir() is None  # the library: off unless asked
    monkeypatch.setenv("OCCLUDE_COMPILE_CACHE", "1")
    assert compile_cache_dir() == tmp_path / "xdg" / "occlude" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert compile_cache_dir() == tmp_path / "home" / ".cache" / "occlude" / "jax"
    monkeypatch.setenv("OCCLUDE_NO_COMPILE_CACHE", "1")
    assert compile_cache_dir() is None
    monkeypatch.setenv("OCCLUDE_NO_COMPILE_CACHE", "0")
    assert compile_cache_dir() is not None


@pytest.mark.slow
@pytest.mark.parametrize("disabled", [False, True])
def test_a_jax_run_fills_the_cache_unless_disabled(
    model_file: Path, tmp_path: Path, disabled: bool
) -> None:
    image = tmp_path / "top.png"
    Image.fromarray(red_image((32, 32), (4, 4, 12, 12))).save(image)
    env = child_env()
    env.pop("OCCLUDE_COMPILE_CACHE", None)
    env.update(KERAS_BACKEND="jax", XDG_CACHE_HOME=str(tmp_path / "xdg"),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")  # fmt: skip
    env["OCCLUDE_NO_COMPILE_CACHE"] = "1" if disabled else "0"
    argv = occlude("sensitivity", image, "-m", model_file, "-c", "0", "-p", "8", "-o",
                   tmp_path / "out")  # fmt: skip
    done = run(argv, env)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "xdg" / "occlude" / "jax"
    cached = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    assert (not cached) if disabled else cached, cached
