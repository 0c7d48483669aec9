"""Where the guided methods' importance maps come from: a folder, or a model on the fly.

``--maps DIR`` takes the maps ``occlude sensitivity --save-npy`` wrote: the map of input
``a/b/cat.jpg`` is ``DIR/a/b/cat.npy`` (the float32 multi-scale map at the model's input
size; it is resized to the image). ``--model`` computes each input's map with the
sensitivity sweep before the augmentation starts and keeps it under
``<out>/.occlude/maps/<settings digest>/``, next to the SHA-256 of the input it came from,
so a rerun reuses it and an edited input gets a new one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from occlude.errors import InputError, OccludeError, UsageError
from occlude.imageio import read_rgb, write_atomic, write_bytes
from occlude.runner.state import STATE_DIR, FileHashes, fingerprint
from occlude.text import shown

if TYPE_CHECKING:
    from occlude.sensitivity.explainer import OcclusionSensitivity
    from occlude.sensitivity.options import SensitivityOptions
    from occlude.zoo import ModelSpec


def load_map(path: str | Path, what: str = "saliency map") -> np.ndarray:
    """A 2-D float map from a ``.npy`` file (no pickles), or an InputError saying why not."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(
            f"no {what} at {shown(path)} (write them with the sensitivity command's save_npy, "
            "or compute them with model=NAME)",
            ("save_npy", "model="),
        ) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{what} {shown(path)}: cannot read ({exc})") from None
    if arr.ndim != 2 or arr.dtype.kind not in "fiu" or 0 in arr.shape:
        raise InputError(
            f"{what} {shown(path)}: not a 2-D numeric map (shape {arr.shape}, {arr.dtype})"
        )
    result: np.ndarray = arr.astype(np.float32)
    return result


@dataclass
class MapMaker:
    """Computes missing maps with a model: the sensitivity command's sweep
    (:class:`~occlude.sensitivity.explainer.OcclusionSensitivity`, so a map equals the one
    ``occlude sensitivity --save-npy`` writes), one per input, kept in the out folder."""

    model: ModelSpec
    options: SensitivityOptions
    out_dir: Path
    explainer: OcclusionSensitivity | None = field(default=None, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "explainer": None}  # workers only read the maps

    @property
    def settings(self) -> dict[str, Any]:
        return {"model": self.model.model, "weights": self.model.weights,
                "preprocess": self.model.preprocess, **self.options.settings()}  # fmt: skip

    @property
    def folder(self) -> Path:
        return self.out_dir / STATE_DIR / "maps" / fingerprint(self.settings, 16)

    def path(self, rel: str) -> Path:
        return self.folder / f"{rel}.npy"

    def ensure(
        self, sources: Sequence[tuple[str, str]], hashes: FileHashes, tick: Callable[[], None]
    ) -> list[tuple[str, str]]:
        """Compute the map of each ``(path, rel)`` unless a map of the same bytes exists;
        ``(path, error line)`` for inputs that failed."""
        failed = []
        for path, rel in sources:
            digest = hashes(path)
            stamp = Path(f"{self.path(rel)}.sha256")
            try:
                if not (stamp.is_file() and stamp.read_text().strip() == digest):
                    self._compute(path, rel, len(sources))
                    write_bytes(stamp, str(digest).encode())
            except UsageError:  # the settings, not this input (say, a class the model lacks)
                raise
            except (OccludeError, OSError, MemoryError) as exc:
                from occlude.runner.job import failure_line

                failed.append((path, failure_line(path, exc)))
            tick()
        return failed

    def _compute(self, path: str, rel: str, images: int) -> None:
        from occlude.sensitivity.explainer import OcclusionSensitivity
        from occlude.sensitivity.pictures import Picture

        if self.explainer is None:
            explainer = OcclusionSensitivity.from_spec(self.model, self.options)
            clf = explainer.model
            self.options.target.check(clf.n_classes, clf.name, clf.imagenet_names)
            self.explainer = explainer
        target = self.options.target
        picture = Picture(read_rgb(Path(path)), Path(rel).name, Path(path))
        plan = self.explainer.compute_plan(images)
        ((sweep,),) = self.explainer.results([picture], [1 if target.index is None else (target,)],
                                             plan)  # fmt: skip
        destination = self.path(rel)
        os.makedirs(destination.parent, exist_ok=True)
        write_atomic(destination, lambda handle: np.save(handle, sweep.map))
