"""Where a job's units run: in this process, or on a pool of worker processes.

An engine starts a job (``job.setup()`` once per worker, e.g. to load a model), then
maps one of the job's methods over items and yields ``(item, result)`` as they finish.
Workers are started with ``spawn`` (never ``fork``), ignore Ctrl-C (the parent handles
it), name their temporary files after the parent's run, and exit when the parent dies.
A distributed engine plugs in behind the same three methods.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from occlude.errors import OccludeError
from occlude.imageio import run_tag, set_run_tag


class Startable(Protocol):
    def setup(self) -> None: ...


class Engine(Protocol):
    """What the runner needs from an engine."""

    workers: int

    def start(self, job: Startable) -> None: ...

    def imap(
        self, method: str, items: Iterable[Any], tick: Callable[[int], None] | None = None
    ) -> Iterator[tuple[Any, Any]]: ...

    def stop(self) -> list[tuple[Any, Any]]: ...


class SerialEngine:
    """Everything in this process, in order; ``tick`` reports progress within an item."""

    workers = 1

    def __init__(self) -> None:
        self._job: Any = None

    def start(self, job: Startable) -> None:
        self._job = job
        job.setup()

    def imap(
        self, method: str, items: Iterable[Any], tick: Callable[[int], None] | None = None
    ) -> Iterator[tuple[Any, Any]]:
        func = getattr(self._job, method)
        for item in items:
            yield item, (func(item, tick) if tick is not None else func(item))

    def stop(self) -> list[tuple[Any, Any]]:
        return []


def default_workers() -> int:
    """All cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def choose_engine(workers: int | None, units: int) -> Engine:
    """A pool of ``workers`` processes (default: all cores), or this process when one
    worker (or one unit) is enough."""
    n = min(workers or default_workers(), max(1, units))
    return PoolEngine(n) if n > 1 else SerialEngine()


class PoolEngine:
    """``workers`` spawned processes; at most ``2 * workers`` items in flight at once."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: cf.ProcessPoolExecutor | None = None
        self._pending: dict[cf.Future[Any], Any] = {}

    def start(self, job: Startable) -> None:
        with _sigint_ignored():  # workers inherit it: Ctrl-C is the parent's
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(job, run_tag(), os.getpid()),
            )

    def imap(
        self, method: str, items: Iterable[Any], tick: Callable[[int], None] | None = None
    ) -> Iterator[tuple[Any, Any]]:
        if self._pool is None:
            raise RuntimeError("engine not started")
        queue = iter(items)
        exhausted = False
        limit = 2 * self.workers
        try:
            while True:
                while not exhausted and len(self._pending) < limit:
                    item = next(queue, _END)
                    if item is _END:
                        exhausted = True
                        break
                    with _sigint_ignored():  # a first submit starts the workers
                        future = self._pool.submit(_call, method, item)
                    self._pending[future] = item
                if not self._pending:
                    break
                done, _ = cf.wait(list(self._pending), return_when=cf.FIRST_COMPLETED)
                for future in done:
                    item = self._pending.pop(future)
                    yield item, future.result()
        except BrokenProcessPool:
            raise OccludeError(
                "a worker process stopped abruptly (out of memory, or a script that starts "
                "workers without `if __name__ == '__main__':`); rerun with one worker to "
                "see which input"
            ) from None

    def stop(self) -> list[tuple[Any, Any]]:
        """Shut the pool down; return the items that finished but were not yet taken."""
        leftovers = []
        if self._pool is not None:
            for future in self._pending:
                future.cancel()
            self._pool.shutdown(wait=True, cancel_futures=True)
            for future, item in self._pending.items():
                if future.done() and not future.cancelled() and future.exception() is None:
                    leftovers.append((item, future.result()))
            self._pending = {}
            self._pool = None
        return leftovers


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while workers start, so a Ctrl-C aimed at the whole process group
    cannot hit them half-started (an ignored signal survives exec)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


_WORKER_JOB: Any = None
_END = object()


def reuse_image_buffers() -> None:
    """Ask glibc to keep freed image-sized buffers for reuse (worker processes only).

    By default every buffer over 128 KiB is a fresh ``mmap``, so each decoded image, array
    and encoder buffer pays for its page faults again; reusing them is 10-20 % faster.
    Does nothing where glibc's ``mallopt`` is not available.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 64 << 20)
        libc.mallopt(m_trim_threshold, 256 << 20)
    except (OSError, AttributeError):
        pass


def exit_with_parent(parent: int) -> None:
    """Exit this worker when its parent (``parent``, the pid it was started by) dies, even
    by SIGKILL, and also if it died before this worker got here: no orphans."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _init_worker(job: Startable, tag: str, parent: int) -> None:
    global _WORKER_JOB
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    reuse_image_buffers()
    set_run_tag(tag)
    exit_with_parent(parent)
    job.setup()
    _WORKER_JOB = job


def _call(method: str, item: Any) -> Any:
    if _WORKER_JOB is None:
        raise RuntimeError("worker not initialised")
    return getattr(_WORKER_JOB, method)(item)
