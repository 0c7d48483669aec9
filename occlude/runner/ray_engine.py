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

import logging
import pickle
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from occlude.errors import OccludeError, UsageError
from occlude.imageio import run_tag, set_run_tag
from occlude.runner.engines import Startable


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
            try:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.ERROR)  # fmt: skip
            except Exception as exc:
                where = self.address or "a local cluster"
                raise OccludeError(f"cannot start Ray on {where} ({exc})", "address") from None
            self._started = True
        _quiet(ray)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = self._requested or max(1, cpus)
        self._job = pickle.dumps(job)

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


def _quiet(ray: Any) -> None:
    """No progress bars or execution logs from Ray Data on the user's terminal."""
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
