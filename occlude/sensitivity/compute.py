"""How a sweep is computed: whole copies (``full``) or only what a patch changes.

``auto`` runs each scale incrementally where the engine estimates it pays (at most 0.75 of
the multiply-adds of a full pass, on a graph it understood, and enough windows in the run to
repay compiling the scale's tiles: :data:`COMPILE_MACS`) and in full otherwise;
``incremental`` runs every scale incrementally unless the model has nothing to gain, does
not compute in float32 or cannot be walked (then it says so and runs full); ``approx=tau <
1`` caps the recomputed regions (always incremental; an approximation the record and the
title state).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from occlude.errors import UsageError

MODES = ("auto", "incremental", "full")
NOTHING_TO_GAIN = 0.95
"""An estimated share of the multiply-adds above which incremental computation gains
nothing (EfficientNet's squeeze-and-excitation sends every layer to full: 0.96)."""
COMPILE_MACS = 0.23e9
"""What compiling one scale's tiles costs, in multiply-adds of inference per graph node:
``auto`` runs a scale incrementally only when ``images x windows x (1 - macs_fraction) x
full_macs`` saves at least this times the model's nodes. Measured, not estimated, on 2
loaded CPU cores with TensorFlow, ResNet50 (177 nodes, 3.86 G multiply-adds an image), in
one process: a scale's first batch of 32 windows minus the same batch again (tracing and
optimising its step) took a median 3.2 s at patch 16 and 3.5 s at patch 40 over three
fresh engines, while full inference took 0.32 s an image (batches of 32): 10-11 images,
0.22-0.24 G multiply-adds a node. One image's default sweep on ResNet50 so runs its 16-
and 32-pixel scales incrementally and its 56- and 112-pixel ones in full; the design
card's patch 40 runs incrementally (36 windows save ~57 G against a ~41 G threshold)."""


def check_compute(mode: str, approx: float, precision: str = "float32") -> tuple[str, float]:
    if mode not in MODES:
        raise UsageError(f"compute must be one of {', '.join(MODES)}; received {mode!r}",
                         "compute")  # fmt: skip
    if not 0.0 < float(approx) <= 1.0:
        raise UsageError(f"approx must be in (0, 1], 1 being exact; received {approx}", "approx")
    if approx < 1.0 and mode == "full":
        raise UsageError("approx needs compute incremental or auto: it caps what the "
                         "incremental engine recomputes", ("approx", "compute"))  # fmt: skip
    if precision != "float32" and (mode == "incremental" or approx < 1.0):
        raise UsageError(f"compute incremental and approx need precision float32; received "
                         f"{precision}", ("compute", "approx", "precision"))  # fmt: skip
    return mode, float(approx)


@dataclass
class ComputePlan:
    """Which scales run incrementally, and the share of multiply-adds each computes."""

    incremental: set[int] = field(default_factory=set)
    fractions: dict[int, float] = field(default_factory=dict)
    note: str | None = None

    def used(self, patches: Sequence[int]) -> str:
        inc = [p for p in patches if p in self.incremental]
        if not inc:
            return "full"
        return "incremental" if len(inc) == len(patches) else "incremental+full"

    def macs_fraction(self, patches: Sequence[int], windows: Sequence[int]) -> float:
        """The window-weighted share of a full pass's multiply-adds the sweep computed."""
        total = sum(windows)
        spent = sum(self.fractions.get(p, 1.0) * n for p, n in zip(patches, windows, strict=True))
        return round(spent / total, 4) if total else 1.0


def decide(
    mode: str,
    approx: float,
    precision: str,
    scorer: Any,
    windows: Mapping[int, int],
    name: str,
    images: int = 1,
) -> ComputePlan:
    """The plan for a sweep of ``windows`` (``{patch size: windows}``) over ``images``
    images (all of the run's inputs, so shards and reruns decide alike) with a model's
    ``scorer`` (:class:`occlude.model.incremental_scorer.IncrementalScorer`).

    A model that does not compute in float32 (``precision``, as the classifier records it)
    or that the engine runs whole (``fallback``: e.g. a ``uint8`` input) runs full: the
    engine would be no faster, or not exact. ``auto`` says nothing; ``incremental`` and
    ``approx`` say why in ``note``.
    """
    if mode == "full":
        return ComputePlan()
    what = "approx" if approx < 1.0 else "compute incremental" if mode == "incremental" else ""
    if precision != "float32":
        why = f"{name} computes in {precision} and the engine is exact in float32 only"
        return ComputePlan(note=f"{what}: {why}; running full" if what else None)
    patches = list(windows)
    estimates = {p: scorer.estimate(p) for p in patches}
    fallback = getattr(scorer.engine, "fallback", None)
    gain = [p for p, e in estimates.items() if e.macs_fraction < NOTHING_TO_GAIN]
    if fallback is not None or not gain:
        least = min(e.macs_fraction for e in estimates.values())
        why = (f"the engine cannot run {name} incrementally ({fallback})" if fallback else
               f"{name} has nothing to gain (it would compute {least:.2f})")  # fmt: skip
        return ComputePlan(note=f"{what}: {why}; running full" if what else None)
    if mode == "auto" and approx == 1.0:
        nodes = len(scorer.engine.specs)
        chosen = {
            p
            for p, e in estimates.items()
            if e.worth_it
            and images * windows[p] * (1 - e.macs_fraction) * e.full_macs >= COMPILE_MACS * nodes
        }
    else:  # asked for: every scale (a whole-image window still gets the engine's answer)
        chosen = set(patches)
    return ComputePlan(chosen, {p: estimates[p].macs_fraction for p in chosen})
