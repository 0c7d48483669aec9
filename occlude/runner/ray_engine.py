"""A distributed engine on Ray Data: a pool of actors, each holding the job (and its model).

``RayEngine.imap`` turns the items into a Ray dataset and maps the job's method over it
with ``map_batches`` on an actor pool: every actor unpickles the job once and calls
``job.setup()`` (so a model is loaded once per actor), then processes one item at a time
and streams the result back. The runner does everything else as for a local run (resume,
ledger, atomic writes by the actors, records, exit codes), and results are the same bytes,
since every seed comes from a path, not from an order.

Ray is an optional extra: ``pip install 'occlude[ray]'``.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import socket
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from occlude.errors import OccludeError, UsageError
from occlude.imageio import run_tag, set_run_tag
from occlude.runner.engines import Startable
from occlude.values import read_int


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise UsageError(
            "engine ray needs Ray, which is not installed: pip install 'occlude[ray]'", "engine"
        ) from None
    return ray


class RayEngine:
    """Run units on a Ray cluster (``address``), or on a local one started for the run.

    ``workers`` actors (default: one per CPU of the cluster), each with one CPU and
    ``gpus_per_worker`` GPUs. A cluster that is already initialised in this process is
    used as it is and left running.
    """

    def __init__(
        self, workers: int | None = None, address: str | None = None, gpus_per_worker: float = 0
    ) -> None:
        if workers is not None and workers < 1:
            raise UsageError(f"workers must be at least 1; received {workers}", "workers")
        if gpus_per_worker < 0:
            raise UsageError(
                f"gpus_per_worker must be 0 or more; received {gpus_per_worker}", "gpus_per_worker"
            )
        self.address = address
        self.gpus = gpus_per_worker
        self._requested = workers
        self.workers = workers or 1
        self._job: bytes = b""
        self._started = False

    def start(self, job: Startable) -> None:
        ray = _ray()
        if not ray.is_initialized():
            self._connect(ray)
            self._started = True
        _quiet(ray)
        where = f" at {self.address}" if self.address else " started for this run"
        where = where if self.address or self._started else ""
        self.workers = fit_workers(self._requested, self.gpus, ray.cluster_resources(), where)
        self._job = pickle.dumps(job)

    def _connect(self, ray: Any) -> None:
        """``ray.init`` that fails in seconds, in one line, instead of retrying for minutes
        with Ray's native log lines on the terminal."""
        from occlude.model.backend import quiet_native

        if self.address is not None:
            reach(self.address)
        try:
            with quiet_native(), _one_try(ray, self.address), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the error below says it in one line
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.ERROR)  # fmt: skip
        except Exception as exc:
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            if self.address is None:
                raise OccludeError(f"cannot start a local Ray cluster ({reason})") from None
            raise UsageError(f"address {self.address}: cannot connect to a Ray cluster there "
                             f"({reason})", "address") from None  # fmt: skip

    def imap(
        self, method: str, items: Iterable[Any], tick: Callable[[int], None] | None = None
    ) -> Iterator[tuple[Any, Any]]:
        ray = _ray()
        rows = [{"item": pickle.dumps(item)} for item in items]
        if not rows:
            return
        kwargs = {"job": self._job, "tag": run_tag(), "method": method}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = ray.data.from_items(rows).map_batches(
                _Worker,
                fn_constructor_kwargs=kwargs,
                batch_size=1,
                compute=ray.data.ActorPoolStrategy(size=min(self.workers, len(rows))),
                num_cpus=1,
                num_gpus=self.gpus or None,
                max_restarts=0,
            )
        for row in dataset.iter_rows():
            yield pickle.loads(row["out"])

    def stop(self) -> list[tuple[Any, Any]]:
        if self._started:
            _ray().shutdown()
            self._started = False
        return []


CONNECT_SECONDS = 5.0
"""How long an address may take to accept a connection before the run is refused."""


def reach(address: str, timeout: float = CONNECT_SECONDS) -> None:
    """Refuse an ``address`` where nothing accepts a connection (Ray itself would retry
    for about ten minutes). ``auto`` and ``local`` are Ray's to resolve."""
    endpoint = _endpoint(address)
    if endpoint is None:
        return
    try:
        with socket.create_connection(endpoint, timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise UsageError(f"address {address}: no Ray cluster answers there ({reason})",
                         "address") from None  # fmt: skip


def _endpoint(address: str) -> tuple[str, int] | None:
    """``host:port`` or ``ray://host:port`` as (host, port); None for ``auto``/``local``."""
    text = address.strip()
    if text.lower() in ("auto", "local"):
        return None
    host, sep, port = text.removeprefix("ray://").rpartition(":")
    number = read_int(port) if sep else None
    if not host or number is None or not 0 < number < 65536:
        raise UsageError(f"address expects HOST:PORT, ray://HOST:PORT or auto; received "
                         f"{address!r}", "address")  # fmt: skip
    return host.strip("[]"), number


@contextlib.contextmanager
def _one_try(ray: Any, address: str | None) -> Iterator[None]:
    """Ray tries a cluster that does not answer 20 times, over half a minute each: try it
    once when connecting to an address (a local cluster it starts keeps Ray's patience)."""
    constants: Any = getattr(getattr(ray, "_private", None), "ray_constants", None)
    saved = getattr(constants, "NUM_REDIS_GET_RETRIES", None)
    if address is None or not isinstance(saved, int):
        yield
        return
    constants.NUM_REDIS_GET_RETRIES = 1
    try:
        yield
    finally:
        constants.NUM_REDIS_GET_RETRIES = saved


def fit_workers(
    requested: int | None, gpus: float, resources: Mapping[str, float], where: str
) -> int:
    """How many actors to run, checked against the cluster's ``resources``
    (``ray.cluster_resources()``), so that a run that cannot be placed fails now instead
    of waiting for ever: each actor takes one CPU and ``gpus`` GPUs. By default, one per
    CPU, and no more than the GPUs hold.

    >>> fit_workers(None, 0.5, {"CPU": 8.0, "GPU": 2.0}, " started for this run")
    4
    """
    cpus, have = float(resources.get("CPU", 0.0)), float(resources.get("GPU", 0.0))
    slack = 1e-9  # 0.1 GPU x 10 workers is 1.0000000000000002
    if gpus > 0 and have + slack < gpus:
        raise UsageError(f"gpus_per_worker {gpus:g} needs {gpus:g} GPUs a worker, and the Ray "
                         f"cluster{where} has {have:g}", "gpus_per_worker")  # fmt: skip
    if cpus < 1:
        raise UsageError(f"each worker needs a CPU, and the Ray cluster{where} has {cpus:g}",
                         "workers")  # fmt: skip
    if requested is None:
        fit = int(cpus) if gpus <= 0 else min(int(cpus), int(have / gpus + slack))
        return max(1, fit)
    if requested > cpus + slack:
        raise UsageError(f"workers {requested} need {requested} CPUs (one each), and the Ray "
                         f"cluster{where} has {cpus:g}", "workers")  # fmt: skip
    if gpus > 0 and requested * gpus > have + slack:
        raise UsageError(f"workers {requested} with gpus_per_worker {gpus:g} need "
                         f"{requested * gpus:g} GPUs, and the Ray cluster{where} has "
                         f"{have:g}", ("workers", "gpus_per_worker"))  # fmt: skip
    return requested


def _quiet(ray: Any) -> None:
    """No progress bars or execution logs from Ray Data on the user's terminal."""
    with warnings.catch_warnings():  # Ray's own deprecations, nothing a user can act on
        warnings.simplefilter("ignore")
        context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    for name in ("print_on_execution_start", "verbose_stats_logs",
                 "enable_operator_progress_bars"):  # fmt: skip
        if hasattr(context, name):
            setattr(context, name, False)
    for name in ("ray", "ray.data", "ray.train", "ray.tune"):
        logging.getLogger(name).setLevel(logging.ERROR)


class _Worker:
    """One actor: the job, set up once, then one item per call."""

    def __init__(self, job: bytes, tag: str, method: str) -> None:
        set_run_tag(tag)
        self.job = pickle.loads(job)
        self.job.setup()
        self.method = method

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        out = []
        for blob in batch["item"]:
            item = pickle.loads(blob)
            out.append(pickle.dumps((item, getattr(self.job, self.method)(item))))
        return {"out": np.array(out, dtype=object)}
