"""Everything about a sweep that a caller decides, validated once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from occlude.box import Box
from occlude.classes import IMAGENET_CLASSES, find_imagenet_class, unnamed
from occlude.errors import UsageError
from occlude.fill import Fill, parse_fill
from occlude.sensitivity.core import SENSITIVITY_FILLS
from occlude.sensitivity.metrics import check_box
from occlude.sensitivity.windows import check_scales
from occlude.text import shown
from occlude.values import read_int


@dataclass(frozen=True)
class ClassTarget:
    """The target class: ``top`` (each image's top-1), an index, or an ImageNet name."""

    spec: str = "top"
    index: int | None = None
    by_name: bool = False

    def check(
        self, n_classes: int, model_name: str, named: bool = True, param: str = "class_index"
    ) -> int | None:
        """The index checked against a model's number of outputs (None for ``top``);
        ``named``: whether the model's classes have ImageNet's names; errors name ``param``."""
        if self.index is None:
            return None
        if self.by_name and not (named and n_classes == IMAGENET_CLASSES):
            raise UsageError(
                f"{param} name {self.spec!r} needs an ImageNet model; {shown(model_name)} "
                f"{unnamed(n_classes)}",
                (param, "class_names="),
            )
        if self.index >= n_classes:
            raise UsageError(
                f"{param} {self.index} is out of range: {shown(model_name)} has "
                f"{n_classes} outputs (0-{n_classes - 1})",
                param,
            )
        return self.index


def parse_class(spec: str | int | None, param: str = "class_index") -> ClassTarget:
    """``top`` or None -> top-1, ``"281"`` -> 281, ``"tabby"`` -> 281 (ImageNet, offline).

    >>> parse_class("tabby").index
    281
    """
    if spec is None:
        return ClassTarget()
    text = str(spec).strip()
    if text.lower() == "top":
        return ClassTarget()
    index = read_int(text)
    if index is None:
        return ClassTarget(text, find_imagenet_class(text), True)
    if index < 0:
        raise UsageError(f"{param} must be 0 or more; received {index}", param)
    return ClassTarget(text, index, False)


@dataclass(frozen=True)
class SensitivityOptions:
    """A sweep's settings; every value is checked when built."""

    target: ClassTarget = field(default_factory=ClassTarget)
    patch_sizes: tuple[int, ...] = ()
    strides: tuple[int, ...] = ()
    fill: Fill = field(default_factory=lambda: parse_fill("grey"))
    batch_size: int = 32
    save_npy: bool = False
    expect_box: Box | None = None
    expect_mask: Path | None = None
    metrics: bool = False
    steps: int = 20
    seed: int = 0
    animate: bool = False
    animate_format: str = "gif"
    animate_scale: int | None = None
    compute: str = "auto"
    approx: float = 1.0

    def __post_init__(self) -> None:
        from occlude.sensitivity.compute import check_compute

        check_compute(self.compute, self.approx)
        if isinstance(self.fill, str):
            object.__setattr__(self, "fill", parse_fill(self.fill, SENSITIVITY_FILLS))
        patches, strides = check_scales(self.patch_sizes, self.strides)
        object.__setattr__(self, "patch_sizes", patches)
        object.__setattr__(self, "strides", strides if patches else tuple(self.strides))
        if self.batch_size < 1:
            raise UsageError(f"batch_size must be at least 1; received {self.batch_size}",
                             "batch_size")  # fmt: skip
        if self.steps < 1:
            raise UsageError(f"steps must be at least 1; received {self.steps}", "steps")
        if self.expect_box is not None:
            object.__setattr__(self, "expect_box", check_box(self.expect_box, "expect_box"))
        if self.expect_box is not None and self.expect_mask is not None:
            raise UsageError("give expect_box or expect_mask, not both",
                             ("expect_box", "expect_mask"))  # fmt: skip
        if self.animate_format not in ("gif", "webp"):
            raise UsageError(f"animate_format must be gif or webp; received "
                             f"{self.animate_format!r}", "animate_format")  # fmt: skip
        if (
            self.animate_scale is not None
            and self.patch_sizes
            and (self.animate_scale not in self.patch_sizes)
        ):
            raise UsageError(
                f"animate_scale {self.animate_scale} is not one of patch_sizes "
                f"{list(self.patch_sizes)}",
                ("animate_scale", "patch_sizes"),
            )
        if self.expect_mask is not None and not Path(self.expect_mask).is_file():
            raise UsageError(f"expect_mask {shown(self.expect_mask)}: no such file", "expect_mask")

    @property
    def has_region(self) -> bool:
        return self.expect_box is not None or self.expect_mask is not None

    def settings(self) -> dict[str, Any]:
        """The options as JSON values (for the record and the resume fingerprint)."""
        return {
            "class": self.target.spec,
            "patch_sizes": list(self.patch_sizes),
            "strides": list(self.strides),
            "fill": self.fill.as_json(),
            "save_npy": self.save_npy,
            "expect_box": list(self.expect_box) if self.expect_box else None,
            "expect_mask": str(self.expect_mask) if self.expect_mask else None,
            "metrics": self.metrics,
            "steps": self.steps,
            "seed": self.seed,
            "animate": self.animation_settings(),
            "compute": self.compute,
            "approx": self.approx,
        }

    def animation_settings(self) -> dict[str, Any] | None:
        if not self.animate:
            return None
        return {"format": self.animate_format, "scale": self.animate_scale}
