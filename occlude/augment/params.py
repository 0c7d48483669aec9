"""What a sampler drew for one output: small frozen records, serialisable to the manifest.

Boxes are ``(x0, y0, x1, y1)`` in pixels, end-exclusive, already clipped to the image, so
``image[y0:y1, x0:x1]`` is exactly the region that was changed. ``applied`` is false when
the ``prob`` coin skipped the output; the image is then returned unchanged and nothing
else was drawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from occlude.errors import UsageError

Box: TypeAlias = tuple[int, int, int, int]
"""``(x0, y0, x1, y1)``: columns ``x0..x1-1`` and rows ``y0..y1-1``."""

Cell: TypeAlias = tuple[int, int]
"""``(row, col)`` of a Hide-and-Seek grid cell."""


def box_area(box: Box) -> int:
    """Pixels inside ``box`` (0 for an empty box)."""
    x0, y0, x1, y1 = box
    return max(0, x1 - x0) * max(0, y1 - y0)


def _boxes(boxes: tuple[Box, ...]) -> list[list[int]]:
    return [list(b) for b in boxes]


@dataclass(frozen=True)
class CutoutParams:
    """Cutout (DeVries & Taylor 2017): the clipped squares to fill."""

    boxes: tuple[Box, ...]
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "boxes": _boxes(self.boxes)}


@dataclass(frozen=True)
class HideAndSeekParams:
    """Hide-and-Seek (Singh & Lee 2017): the cell side ``grid`` and the hidden cells.

    ``grid == 0`` means nothing is hidden (the reference code's "no hiding" choice).
    """

    grid: int
    hidden: tuple[Cell, ...]
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "grid": self.grid,
            "hidden": [list(c) for c in self.hidden],
        }


@dataclass(frozen=True)
class RandomErasingParams:
    """Random Erasing (Zhong et al. 2017): the erased box, if one fitted.

    ``boxes`` is empty when the coin said "erase" but no box fitted within
    ``attempts`` draws; the image is then unchanged. ``attempts`` counts the draws made.
    """

    boxes: tuple[Box, ...]
    attempts: int = 1
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "boxes": _boxes(self.boxes), "attempts": self.attempts}


@dataclass(frozen=True)
class MixupParams:
    """MixUp (Zhang et al. 2018): output = lam * source + (1 - lam) * partner.

    ``lam_sampled`` is the Beta draw (None when not applied); ``lam`` is the source's
    weight actually used (1.0 when not applied).
    """

    lam: float
    lam_sampled: float | None
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "lam": self.lam, "lam_sampled": self.lam_sampled}


@dataclass(frozen=True)
class CutmixParams:
    """CutMix (Yun et al. 2019): the partner's pixels pasted into ``boxes`` (one box).

    ``lam`` = 1 - (clipped box area) / (H * W), the source's share of the pixels;
    ``lam_sampled`` is the raw Beta draw that sized the box.
    """

    boxes: tuple[Box, ...]
    lam: float
    lam_sampled: float | None
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "boxes": _boxes(self.boxes),
            "lam": self.lam,
            "lam_sampled": self.lam_sampled,
        }


Params: TypeAlias = (
    CutoutParams | HideAndSeekParams | RandomErasingParams | MixupParams | CutmixParams
)
"""Any method's sampled parameters."""


def _box_tuple(boxes: Any) -> tuple[Box, ...]:
    return tuple((int(b[0]), int(b[1]), int(b[2]), int(b[3])) for b in boxes)


def params_from_dict(method: str, data: Mapping[str, Any]) -> Params:
    """Rebuild a method's parameters from a manifest ``params`` dict (to replay or audit).

    Raises:
        UsageError: unknown method or a dict that lacks what the method records.
    """
    try:
        applied = bool(data["applied"])
        if method == "cutout":
            return CutoutParams(_box_tuple(data["boxes"]), applied)
        if method == "hide-and-seek":
            cells = tuple((int(r), int(c)) for r, c in data["hidden"])
            return HideAndSeekParams(int(data["grid"]), cells, applied)
        if method == "random-erasing":
            return RandomErasingParams(_box_tuple(data["boxes"]), int(data["attempts"]), applied)
        lam_sampled = None if data["lam_sampled"] is None else float(data["lam_sampled"])
        if method == "mixup":
            return MixupParams(float(data["lam"]), lam_sampled, applied)
        if method == "cutmix":
            return CutmixParams(_box_tuple(data["boxes"]), float(data["lam"]), lam_sampled, applied)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise UsageError(f"{method} params are incomplete or malformed ({exc!r})") from None
    raise UsageError(f"unknown method {method!r}")
