"""Where the occluding windows go: pure functions of the image size, patch and stride."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from occlude.errors import UsageError


def axis_starts(length: int, patch: int, stride: int) -> list[int]:
    """Window starts along one axis: 0, s, 2s, ... while start < length - patch + stride.

    The last window may run past the end (it is clipped there), so every pixel is
    covered; when ``patch >= length`` a single window spans the axis.

    >>> axis_starts(224, 40, 40)
    [0, 40, 80, 120, 160, 200]
    >>> axis_starts(10, 4, 3)
    [0, 3, 6]
    >>> axis_starts(5, 8, 2)
    [0]
    """
    if patch <= 0 or stride <= 0:
        raise UsageError(
            f"patch and stride must be positive; received patch={patch}, stride={stride}"
        )
    if stride > patch:
        raise UsageError(
            f"stride {stride} is larger than patch {patch}: pixels between windows "
            "would never be occluded"
        )
    if patch >= length:
        return [0]
    return list(range(0, length - patch + stride, stride))


def window_boxes(height: int, width: int, patch: int, stride: int) -> np.ndarray:
    """All windows of one scale as an (N, 4) int array whose rows are
    :class:`~occlude.box.Box` es ``[x0, y0, x1, y1]``, in row-major order (left to right,
    then top to bottom).

    Ends are exclusive and clipped to the image.

    >>> window_boxes(3, 5, 3, 3).tolist()
    [[0, 0, 3, 3], [3, 0, 5, 3]]
    """
    ys = axis_starts(height, patch, stride)
    xs = axis_starts(width, patch, stride)
    boxes = [(x, y, min(x + patch, width), min(y + patch, height)) for y in ys for x in xs]
    return np.asarray(boxes, dtype=np.int64).reshape(-1, 4)


def coverage(height: int, width: int, boxes: np.ndarray) -> np.ndarray:
    """How many windows cover each pixel (H×W int array)."""
    counts = np.zeros((height, width), dtype=np.int64)
    for x0, y0, x1, y1 in boxes:
        counts[y0:y1, x0:x1] += 1
    return counts


def default_patch_sizes(height: int, width: int) -> tuple[int, ...]:
    """The default sweep from micro to macro: 1/14, 1/7, 1/4 and 1/2 of the shorter side.

    For a 224×224 input that is 16, 32, 56 and 112 pixels (265 windows at stride = patch).
    """
    side = min(height, width)
    sizes = sorted({max(1, round(side * f)) for f in (1 / 14, 1 / 7, 1 / 4, 1 / 2)})
    return tuple(sizes)


def check_scales(
    patch_sizes: Sequence[int] | None, strides: Sequence[int] | None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Validate patch sizes and strides without an image size: ``(patches, strides)``,
    either possibly empty (the default sweep, strides equal to the patches).

    >>> check_scales([20, 40], [10])
    ((20, 40), (10, 10))
    """
    patches = tuple(int(p) for p in patch_sizes or ())
    steps = tuple(int(s) for s in strides or ())
    for p in patches:
        if p <= 0:
            raise UsageError(f"patch_sizes must be positive; received {p}", "patch_sizes")
    for st in steps:
        if st <= 0:
            raise UsageError(f"strides must be positive; received {st}", "strides")
    if patches and len(steps) > 1 and len(steps) != len(patches):
        raise UsageError(
            f"strides: give one or one per patch size; received {len(steps)} for "
            f"{len(patches)} patch sizes",
            "strides",
        )
    if patches and len(steps) == 1:
        steps = steps * len(patches)
    scales = list(zip(patches, steps or patches, strict=True)) if patches else []
    for i, (p, st) in enumerate(scales):
        if (p, st) in scales[:i]:  # the same windows twice: a typo, and a doubled weight
            raise UsageError(f"patch_sizes lists {p} twice with strides {st}",
                             ("patch_sizes", "strides"))  # fmt: skip
    for p, st in zip(patches, steps, strict=False):
        if st > p:
            raise UsageError(
                f"strides {st} is larger than patch_sizes {p}: pixels between windows would "
                "never be occluded",
                ("strides", "patch_sizes"),
            )
    return patches, steps


def resolve_scales(
    shape: tuple[int, int], patch_sizes: Sequence[int] | None, strides: Sequence[int] | None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The sweep's patch sizes and strides at ``shape`` (the defaults filled in)."""
    patches, steps = check_scales(patch_sizes, strides)
    if not patches:
        patches = default_patch_sizes(*shape)
        steps = check_scales(patches, steps)[1]
    return patches, steps or patches


def scale_windows(
    shape: tuple[int, int],
    patch_sizes: Sequence[int] | None = None,
    strides: Sequence[int] | None = None,
) -> dict[int, int]:
    """Occluded copies a sweep evaluates at each scale: ``{patch size: windows}``."""
    patches, steps = resolve_scales(shape, patch_sizes, strides)
    return {p: len(window_boxes(*shape, p, s)) for p, s in zip(patches, steps, strict=True)}


def count_windows(
    shape: tuple[int, int],
    patch_sizes: Sequence[int] | None = None,
    strides: Sequence[int] | None = None,
) -> int:
    """Number of occluded copies a sweep will evaluate (without the base image)."""
    return sum(scale_windows(shape, patch_sizes, strides).values())
