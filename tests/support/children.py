"""Running ``occlude`` in child processes, with the test hooks of :mod:`support.child_hooks`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HOOKS = Path(__file__).with_name("child_hooks.py")
WAIT = 300.0
"""Seconds to wait for a child's event before the test fails (never acted on otherwise)."""


def occlude(*args: object) -> list[str]:
    """The argv of ``python -m occlude ARGS``."""
    return [sys.executable, "-m", "occlude", *map(str, args)]


def child_env(site: Path | None = None, **hooks: Any) -> dict[str, str]:
    """An environment that runs this checkout's occlude; with ``hooks``, also installs
    :mod:`support.child_hooks` (configured by them) as the ``sitecustomize`` of the child
    and of every process it spawns. ``site`` is the folder that receives it."""
    env = {k: v for k, v in os.environ.items() if k != "OCCLUDE_TEST_HOOKS"}
    path = [str(REPO)]
    if hooks:
        assert site is not None, "hooks need a folder for sitecustomize.py"
        site.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HOOKS, site / "sitecustomize.py")
        path.insert(0, str(site))
        env["OCCLUDE_TEST_HOOKS"] = json.dumps(hooks)
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join(path + ([old] if old else []))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def run(argv: Sequence[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a child to the end (no hooks unless ``env`` has them)."""
    return subprocess.run(
        list(argv), env=env or child_env(), capture_output=True, text=True, timeout=WAIT
    )


class Gated:
    """A child started with the gate of :mod:`support.child_hooks`: its first ``after``
    units run, then it holds every later one mid-write until :meth:`signal` is sent."""

    def __init__(self, argv: Sequence[str], work: Path, after: int, holders: int = 1) -> None:
        self.signals = work / "signals"
        self.signals.mkdir(parents=True)
        env = child_env(work / "site", signals=str(self.signals), after=after, holders=holders)
        # Files, not pipes: after a SIGKILL, workers that outlive the main process would
        # keep pipes open.
        self.stdout, self.stderr = work / "stdout", work / "stderr"
        with open(self.stdout, "wb") as out, open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen(
                list(argv),
                env=env,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group, as a shell job is
            )

    def wait_until_ready(self) -> None:
        """Block until the child says ``after`` units are finished and the next is held."""
        deadline = time.monotonic() + WAIT
        ready = self.signals / "ready"
        while not ready.exists():
            if self.proc.poll() is not None:
                raise AssertionError(f"child ended before it was ready: {self.output()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("child never became ready")
            time.sleep(0.02)

    def held_pids(self) -> list[int]:
        return [int(p.read_text()) for p in self.signals.glob("held-*")]

    def output(self) -> tuple[str, str]:
        return self.stdout.read_text(), self.stderr.read_text()

    def interrupt(self) -> tuple[int, str, str]:
        """Ctrl-C: SIGINT to the child's whole process group (its workers too)."""
        os.killpg(self.proc.pid, signal.SIGINT)
        code = self.proc.wait(timeout=WAIT)
        return (code, *self.output())

    def kill(self) -> int:
        """SIGKILL to the main process only (its workers must notice by themselves)."""
        self.proc.kill()
        return self.proc.wait(timeout=WAIT)


def children_of(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie waiting for its reaper counts)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def wait_gone(pids: Sequence[int], timeout: float = 60.0) -> list[int]:
    """Wait (up to ``timeout`` seconds) for ``pids`` to exit; return those still alive,
    after killing them so that no test leaves a process behind."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(gone(p) for p in pids):
        time.sleep(0.05)
    alive = [p for p in pids if not gone(p)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return alive
