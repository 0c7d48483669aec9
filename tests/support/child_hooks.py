"""Test-only hooks for ``occlude`` child processes, installed as their ``sitecustomize``.

:func:`support.children.hooked_env` copies this file into a temporary folder as
``sitecustomize.py`` and puts that folder first on the child's ``PYTHONPATH``, so the
child and every worker process it spawns import it at start-up. It does nothing unless
``OCCLUDE_TEST_HOOKS`` holds a JSON object; production code has no hooks of its own.

Keys of that object:

* ``signals``, ``after`` and ``holders`` (a gate): the first ``after`` units (calls of a
  job's ``process``, counted across processes) run freely. Every later unit stops inside
  its first atomic write, after the temporary file is written and before the rename,
  until ``<signals>/gate`` exists, and records its process id in ``<signals>/held-<pid>``.
  ``<signals>/ready`` appears once the first ``after`` units have finished and
  ``holders`` processes (1, or every worker of a pool) are stopped. A worker pool that
  shuts down (``PoolEngine.stop``, which is what Ctrl-C leads to) opens the gate itself,
  so that its workers can finish what they hold.
* ``worker_start_gate`` (with ``signals``): each worker process of a pool records its
  process id in ``<signals>/worker-<pid>`` as it starts, then waits for
  ``<signals>/go`` before it goes on starting. With ``signals``, every worker writes
  ``<signals>/initialised-<pid>`` once its initialiser has run.
* ``kill_on_write``: a file name; the process kills itself with SIGKILL as soon as it is
  about to rename that file into place (a kill at an exact moment).
* ``offline``: every socket connection and name lookup fails with ``OSError``.

Modules are patched right after they are first imported (an import hook), so importing
this file never imports occlude itself.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib.abc
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ENV = "OCCLUDE_TEST_HOOKS"


class _Config:
    signals: Path | None = None
    after: int = 0
    holders: int = 1
    kill_on_write: str | None = None
    holding = False  # this process's current unit must stop at its first write


CONFIG = _Config()


# --- the gate --------------------------------------------------------------------------


@contextlib.contextmanager
def _folder_lock() -> Iterator[None]:
    import fcntl

    assert CONFIG.signals is not None
    with open(CONFIG.signals / "lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def _bump(name: str) -> int:
    """Add one to the counter file ``name``; return its value before."""
    assert CONFIG.signals is not None
    path = CONFIG.signals / name
    with _folder_lock():
        value = int(path.read_text() or 0) if path.exists() else 0
        path.write_text(str(value + 1))
    return value


def _count(name: str) -> int:
    assert CONFIG.signals is not None
    path = CONFIG.signals / name
    with _folder_lock():
        return int(path.read_text() or 0) if path.exists() else 0


def _touch(name: str, text: str = "") -> None:
    assert CONFIG.signals is not None
    tmp = CONFIG.signals / f".{name}.{os.getpid()}"
    tmp.write_text(text)
    os.replace(tmp, CONFIG.signals / name)


def _hold() -> None:
    """Wait for the gate; say ``ready`` once the free units are all finished."""
    assert CONFIG.signals is not None
    _touch(f"held-{os.getpid()}", str(os.getpid()))
    gate = CONFIG.signals / "gate"
    while not gate.exists():
        if (
            not (CONFIG.signals / "ready").exists()
            and _count("finished") >= CONFIG.after
            and len(list(CONFIG.signals.glob("held-*"))) >= CONFIG.holders
        ):
            _touch("ready")
        time.sleep(0.01)


def _gated_process(original: Callable[..., Any]) -> Callable[..., Any]:
    def process(self: Any, task: Any, *args: Any, **kwargs: Any) -> Any:
        free = _bump("started") < CONFIG.after
        CONFIG.holding = not free
        try:
            result = original(self, task, *args, **kwargs)
        finally:
            CONFIG.holding = False
        if free:
            _bump("finished")
        return result

    return process


def _gated_stop(original: Callable[..., Any]) -> Callable[..., Any]:
    def stop(self: Any) -> Any:
        _touch("gate")
        return original(self)

    return stop


def _reporting_init(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)  # pickled by name into the workers: keep the original's
    def init(*args: Any) -> Any:
        result = original(*args)
        _touch(f"initialised-{os.getpid()}", str(os.getpid()))
        return result

    return init


def _hooked_atomic_file(original: Callable[..., Any]) -> Callable[..., Any]:
    @contextlib.contextmanager
    def atomic_file(path: Path) -> Iterator[Any]:
        with original(path) as handle:
            yield handle
            handle.flush()
            if CONFIG.kill_on_write is not None and Path(path).name == CONFIG.kill_on_write:
                os.kill(os.getpid(), signal.SIGKILL)
            if CONFIG.holding:
                CONFIG.holding = False
                _hold()

    return atomic_file


# --- patching modules as they are imported ------------------------------------------------


def _patch_imageio(module: Any) -> None:
    module.atomic_file = _hooked_atomic_file(module.atomic_file)


def _patch_job(class_name: str) -> Callable[[Any], None]:
    def patch(module: Any) -> None:
        cls = getattr(module, class_name)
        cls.process = _gated_process(cls.process)

    return patch


def _patch_engines(module: Any) -> None:
    module.PoolEngine.stop = _gated_stop(module.PoolEngine.stop)
    module._init_worker = _reporting_init(module._init_worker)


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, patch: Callable[[Any], None]) -> None:
        self._loader = loader
        self._patch = patch

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    def __init__(self, patches: dict[str, Callable[[Any], None]]) -> None:
        self.patches = patches

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in self.patches:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                spec.loader = _PatchingLoader(spec.loader, self.patches.pop(name))
                return spec
        return None


# --- no network ------------------------------------------------------------------------


def _refused(*args: Any, **kwargs: Any) -> Any:
    raise OSError(errno.ENETUNREACH, "Network is unreachable")


def _go_offline() -> None:
    socket.socket.connect = _refused  # type: ignore[method-assign]
    socket.socket.connect_ex = _refused  # type: ignore[method-assign]
    socket.getaddrinfo = _refused
    socket.create_connection = _refused


def install(config: dict[str, Any]) -> None:
    patches: dict[str, Callable[[Any], None]] = {}
    if config.get("signals") is not None:
        CONFIG.signals = Path(config["signals"])
        CONFIG.after = int(config.get("after", 0))
        CONFIG.holders = int(config.get("holders", 1))
        if config.get("worker_start_gate") and "--multiprocessing-fork" in sys.argv:
            _touch(f"worker-{os.getpid()}", str(os.getpid()))
            while not (CONFIG.signals / "go").exists():
                time.sleep(0.01)
        patches["occlude.sensitivity.job"] = _patch_job("SensitivityJob")
        patches["occlude.augment.job"] = _patch_job("AugmentJob")
        patches["occlude.runner.engines"] = _patch_engines
    if config.get("kill_on_write") is not None:
        CONFIG.kill_on_write = str(config["kill_on_write"])
    if CONFIG.signals is not None or CONFIG.kill_on_write is not None:
        patches["occlude.imageio"] = _patch_imageio
    if config.get("offline"):
        _go_offline()
    if patches:
        sys.meta_path.insert(0, _PatchAfterImport(patches))


if os.environ.get(ENV):
    install(json.loads(os.environ[ENV]))
