"""One image's outputs: where they go, the region focus, the arrays and the JSON record."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from occlude.box import Box
from occlude.errors import InputError, UsageError
from occlude.imageio import open_image, resize_map, write_atomic, write_bytes
from occlude.inputs import InputImage
from occlude.runner.events import is_int, is_number
from occlude.sensitivity.core import Sweep
from occlude.sensitivity.metrics import Curves, box_mask, focus
from occlude.sensitivity.options import SensitivityOptions
from occlude.text import shown

MAP_LABEL = "score drop when occluded\n(red: region supports the class)"
FOCUS_MAX_SIDE = 2048
"""Focus is measured at the original resolution, or this size on the longer side if less."""


def output_paths(item: InputImage, out_dir: Path, opts: SensitivityOptions) -> dict[str, Path]:
    """Where one image's outputs go; ``record`` (its JSON record) is written last."""
    paths = {
        "heatmap": item.output(out_dir, ".png"),
        "sheet": item.output(out_dir, ".png", "_scales"),
    }
    if opts.save_npy:
        paths["npy"] = item.output(out_dir, ".npy")
        paths["npz"] = item.output(out_dir, ".npz", "_scales")
    if opts.animate:
        paths["animation"] = item.output(out_dir, f".{opts.animate_format}", "_sweep")
    paths["record"] = item.output(out_dir, ".json")
    return paths


def expected_region(
    shape: tuple[int, int],
    box: Box | None = None,
    mask: Path | np.ndarray | None = None,
) -> np.ndarray:
    """The expected region as an H×W boolean mask at ``shape``: a box,
    or a mask (an image file or an array, non-zero inside) resized to ``shape``."""
    if box is not None:
        return box_mask(shape, box)
    if mask is None:
        raise UsageError("give expect_box or expect_mask", ("expect_box", "expect_mask"))
    if isinstance(mask, np.ndarray):
        if mask.ndim != 2:
            raise UsageError(f"a mask must be H×W; received shape {mask.shape}", "expect_mask")
        img = Image.fromarray((mask != 0).astype(np.uint8) * 255, "L")
    else:
        try:
            img = open_image(Path(mask)).convert("L")
        except InputError as exc:
            raise UsageError(f"expect_mask: {exc}", "expect_mask") from None
    resized = img.resize((shape[1], shape[0]), Image.Resampling.NEAREST)
    return np.asarray(resized) > 0


def image_focus(values: np.ndarray, shape: tuple[int, int], opts: SensitivityOptions) -> float:
    """Focus of a model-size map on the region ``opts`` gives in original-image pixels."""
    return region_focus(values, shape, opts.expect_box, opts.expect_mask)


def region_focus(
    values: np.ndarray,
    shape: tuple[int, int],
    box: Box | None = None,
    mask: Path | np.ndarray | None = None,
) -> float:
    """Focus of a model-size map on a box or mask given at the original ``shape``,
    measured at that resolution (or :data:`FOCUS_MAX_SIDE` on the longer side)."""
    height, width = shape
    scale = min(1.0, FOCUS_MAX_SIDE / max(height, width))
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    full = resize_map(values, (size[1], size[0]))
    if box is not None and scale < 1.0:
        x0, y0, x1, y1 = box
        box = Box(
            math.floor(x0 * scale),
            math.floor(y0 * scale),
            max(math.ceil(x1 * scale), math.floor(x0 * scale) + 1),
            max(math.ceil(y1 * scale), math.floor(y0 * scale) + 1),
        )
    return focus(full, expected_region(size, box, mask))


def save_arrays(paths: dict[str, Path], result: Sweep) -> None:
    """``.npy`` (the multi-scale map) and ``_scales.npz`` (every scale, sizes, strides)."""
    write_atomic(paths["npy"], lambda handle: np.save(handle, result.map))
    arrays = {f"patch_{p}": m for p, m in zip(result.patch_sizes, result.scale_maps, strict=True)}
    buffer = io.BytesIO()
    arrays["combined"] = result.map
    arrays["patch_sizes"] = np.asarray(result.patch_sizes)
    arrays["strides"] = np.asarray(result.strides)
    np.savez(buffer, allow_pickle=False, **arrays)
    write_bytes(paths["npz"], buffer.getvalue())


def curves_json(curves: Curves) -> dict[str, Any]:
    return {
        "fractions": curves.fractions.tolist(),
        "deletion": curves.deletion.tolist(),
        "insertion": curves.insertion.tolist(),
        "deletion_random": curves.deletion_random.tolist(),
        "insertion_random": curves.insertion_random.tolist(),
    }


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def write_record(path: Path, record: dict[str, Any]) -> None:
    """The JSON record, strict (no NaN or Infinity tokens); written last."""
    text = json.dumps(finite(record), indent=2, allow_nan=False) + "\n"
    write_bytes(path, text.encode("utf-8"))


def record_ok(record: object) -> bool:
    """Whether ``record`` has the shape of those :class:`SensitivityJob` writes, in what a
    rerun reads back from the ledger (the line it prints, the gates)."""
    if not isinstance(record, dict):
        return False
    outputs, name, focus = record.get("outputs"), record.get("class_name"), record.get("focus")
    return (isinstance(record.get("input"), str) and isinstance(outputs, dict)
            and all(isinstance(v, str) for v in outputs.values())
            and isinstance(outputs.get("heatmap"), str)
            and is_int(record.get("class_index")) and is_int(record.get("windows"))
            and (name is None or isinstance(name, str)) and is_number(record.get("base_score"))
            and (focus is None or is_number(focus)))  # fmt: skip


def describe_class(name: str | None, index: int) -> str:
    return f"{name} ({index})" if name else f"class {index}"


def title(
    name: str, result: Sweep, class_name: str | None, model: str, fill: str,
    precision: str = "float32", approx: float = 1.0,
) -> str:  # fmt: skip
    """The figures' title: image, class, score, model, scales, fill (and what is not exact)."""
    scales = "/".join(str(p) for p in result.patch_sizes)
    text = (
        f"{shown(name)}: {describe_class(class_name, result.class_index)}, score "
        f"{result.base_score:.3f}  |  {shown(model)}, patches {scales}, fill {fill}"
    )
    if precision != "float32":
        text += f", {precision}"
    if approx < 1.0:
        text += f", approximate (tau {approx:g})"
    return text


def run_settings(
    model: dict[str, Any], opts: SensitivityOptions, hashes: Callable[[Path | None], str | None]
) -> dict[str, Any]:
    """The settings that decide an image's outputs (the record's ``settings`` and the
    resume fingerprint, without the input's hash): the model's, then the options'."""
    return {**model, **opts.settings(), "expect_mask_sha256": hashes(opts.expect_mask)}
