"""What a robustness run says about the whole run: the rows with their settings
(:class:`RobustnessResult`: the JSON ``occlude report`` reads, the figure, the table) and
the accuracy gate (:class:`Gate`). The command line and the Python API share them."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from occlude.errors import UsageError
from occlude.robustness.core import Row
from occlude.robustness.stats import MIN_IMAGES, RESAMPLES

GATE_ON = ("estimate", "lower")
SUMMARY = ("robustness.json", "robustness.png")
"""What a run with an output folder also writes there (for ``occlude report``)."""


@dataclass(frozen=True)
class Gate:
    """Accuracy at fraction ``at`` of at least ``min_accuracy`` for every method, judged
    on the point estimate (``on="estimate"``) or on the lower bound of its 95 % interval
    over images (``on="lower"``: needs at least :data:`~occlude.robustness.stats.MIN_IMAGES`
    images)."""

    min_accuracy: float
    at: float
    on: str = "estimate"

    def __post_init__(self) -> None:
        if self.on not in GATE_ON:
            raise UsageError(f"gate_on must be one of {', '.join(GATE_ON)}; received "
                             f"{self.on!r}", "gate_on")  # fmt: skip

    def check_images(self, images: int) -> None:
        """The lower bound is an interval over images, which needs enough of them."""
        if self.on == "lower" and images < MIN_IMAGES:
            raise UsageError(
                f"gate_on lower judges the 95% interval over images, which needs at least "
                f"{MIN_IMAGES} images; the inputs hold {images}: give more images, or gate "
                "on the estimate",
                "gate_on",
            )

    def check_fractions(self, fractions: Sequence[float]) -> None:
        if not any(abs(self.at - f) < 1e-9 for f in fractions):
            listed = ",".join(f"{f:g}" for f in fractions)
            raise UsageError(f"at {self.at} is not one of fractions {listed}", ("at", "fractions"))

    def value(self, row: Row) -> float:
        return row.accuracy if self.on == "estimate" else row.accuracy_low_images

    def failures(self, rows: Sequence[Row]) -> list[str]:
        """One line per method that fails; a missing or non-finite value fails."""
        what = "accuracy" if self.on == "estimate" else "accuracy lower bound (95%, images)"
        few = f" (fewer than {MIN_IMAGES} images)" if self.on != "estimate" else ""
        return [
            f"accuracy gate: {r.method} at {self.at}: {what} {_num(self.value(r))}"
            f"{few if r.images < MIN_IMAGES else ''} < {self.min_accuracy}"
            for r in rows
            if abs(r.fraction - self.at) < 1e-9 and not _at_least(self.value(r), self.min_accuracy)
        ]

    def as_json(self, rows: Sequence[Row]) -> dict[str, Any]:
        return {"min_accuracy": self.min_accuracy, "at": self.at, "on": self.on,
                "passed": not self.failures(rows)}  # fmt: skip


@dataclass
class RobustnessResult:
    """Accuracy under growing occlusion: one :class:`~occlude.robustness.Row` per
    (method, fraction) in :attr:`rows`, with the settings that produced them.

    ``failed`` names the inputs that could not be evaluated (they count nowhere).
    :meth:`to_dict` is the command line's ``--json`` (and ``robustness.json``, which
    ``occlude report`` reads); :meth:`plot` its ``--plot``; ``str(result)`` its table.
    """

    rows: list[Row]
    model: str
    weights: str | None
    methods: tuple[str, ...]
    fractions: tuple[float, ...]
    fill: Any
    seed: int
    repeats: int
    failed: list[str] = field(default_factory=list)

    @property
    def images(self) -> int:
        """The images evaluated (the most any row counts)."""
        return max((r.images for r in self.rows), default=0)

    def gate(self, min_accuracy: float, at: float, on: str = "estimate") -> list[str]:
        """The methods whose accuracy at fraction ``at`` is below ``min_accuracy``, one
        line each (empty: the gate passes). ``on="lower"`` judges the lower bound of the
        95 % interval over images, and needs at least 10 images.

        Raises:
            UsageError: ``at`` is not one of the fractions; ``on`` is unknown; too few
                images for ``on="lower"``.
        """
        judge = Gate(min_accuracy, at, on)
        judge.check_fractions(self.fractions)
        judge.check_images(self.images)
        return judge.failures(self.rows)

    def to_dict(self, gate: Gate | None = None) -> dict[str, Any]:
        """The command line's JSON (``gate``: the gate it judged, if any)."""
        return {
            "results": [_finite(asdict(r)) for r in self.rows],
            "model": self.model,
            "weights": self.weights,
            "methods": list(self.methods),
            "fractions": list(self.fractions),
            "fill": self.fill,
            "seed": self.seed,
            "repeats": self.repeats,
            "intervals": {
                "level": 0.95,
                "accuracy_low/high": "Wilson score interval over the n evaluations",
                "accuracy_low/high_images": f"percentile bootstrap over images ({RESAMPLES} "
                f"resamples, seeded by --seed); null with fewer than {MIN_IMAGES} images",
                "min_images": MIN_IMAGES,
            },
            "gate": None if gate is None else gate.as_json(self.rows),
            "failed": list(self.failed),
        }

    def to_json(self, gate: Gate | None = None) -> str:
        return json.dumps(self.to_dict(gate), indent=2, allow_nan=False) + "\n"

    @property
    def title(self) -> str:
        from occlude.zoo import describe_model

        # a model file's name, not its whole path; random weights say so
        name = describe_model(Path(self.model).name, self.weights)
        return (f"{name}: top-1 accuracy under occlusion ({self.images} images, "
                f"{self.repeats} placements each)")  # fmt: skip

    def plot(self, path: str | Path | None = None) -> bytes:
        """The figure (accuracy with its band over images, mean true-class score) as PNG
        bytes, also written atomically to ``path`` if given (imports matplotlib)."""
        from occlude.imageio import write_bytes
        from occlude.render import robustness_png

        data = robustness_png(self.rows, self.title)
        if path is not None:
            write_bytes(Path(path), data)
        return data

    def save(self, out_dir: str | Path, gate: Gate | None = None) -> None:
        """``robustness.json`` and ``robustness.png`` in ``out_dir``, atomically."""
        from occlude.imageio import write_bytes

        folder = Path(out_dir)
        write_bytes(folder / SUMMARY[0], self.to_json(gate).encode("utf-8"))
        self.plot(folder / SUMMARY[1])

    def table(self, gate: Gate | None = None) -> str:
        return table(self.rows, gate)

    def __str__(self) -> str:
        return table(self.rows)


def table(rows: Sequence[Row], gate: Gate | None = None) -> str:
    """The results as a text table, with both 95 % intervals beside each accuracy."""
    lines = [
        f"{'method':<16}{'fraction':>9}{'accuracy':>10}  {'95% CI (images)':<17}"
        f"{'95% CI (evals)':<17}{'mean score':>10}{'n':>7}{'images':>7}"
    ]
    for r in rows:
        lines.append(
            f"{r.method:<16}{r.fraction:>9.2f}{r.accuracy:>10.3f}  "
            f"{_interval(r.accuracy_low_images, r.accuracy_high_images):<17}"
            f"{_interval(r.accuracy_low, r.accuracy_high):<17}"
            f"{r.mean_true_score:>10.3f}{r.n:>7}{r.images:>7}"
        )
    if gate is not None:
        judged = "the point estimate" if gate.on == "estimate" else "the lower bound (images)"
        lines.append(f"gate: accuracy at {gate.at} >= {gate.min_accuracy}, judged on {judged}")
    return "\n".join(lines) + "\n"


def _at_least(value: float, threshold: float) -> bool:
    return math.isfinite(value) and value >= threshold


def _num(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) else "none"


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    """NaN (nothing scored) as null, so the JSON stays valid."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}


def _interval(low: float, high: float) -> str:
    return f"[{low:.3f}, {high:.3f}]" if math.isfinite(low) and math.isfinite(high) else "-"
