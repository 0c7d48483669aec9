"""Does saliency guidance help? A small, honest experiment (run: python bench/bench_guided.py).

A synthetic task where the label depends on a small object at a random place among
distractors, so plain Cutout often erases it. The importance maps are what occlude measures:
a baseline CNN (trained without augmentation) is swept with ``occlusion_sensitivity`` over
every training image for its true class. Then the same CNN is trained, from the same
initial weights and with the same per-epoch seeds, with cutout vs keep-cutout and cutmix vs
saliency-mix; every method is re-sampled every epoch, per image. Reported: test accuracy
(mean and spread over runs) and the share of augmented training images whose object was
erased (more than half of its pixels hidden, or replaced by the partner's).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np

from occlude import saliency as S
from occlude.augment.methods import Context, augmentation
from occlude.draws import NUMPY
from occlude.sensitivity import occlusion_sensitivity

SIZE, OBJECT, CLASSES = 32, 4, 6
COLOURS = [(230, 40, 40), (40, 80, 230), (40, 200, 60), (230, 200, 30), (200, 40, 220),
           (30, 210, 220)]  # fmt: skip


def share(saliency: np.ndarray, mask: np.ndarray) -> float:
    """The map's importance inside ``mask`` (its share of the positive mass)."""
    pos = S.positive(NUMPY, saliency[None])
    return float(S.share(NUMPY, pos[0][mask].sum(), pos.sum()))


def make(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images, labels and object masks: noise; distractors (grey squares, and hollow squares
    in every class colour); one small filled square whose colour is the class."""
    rng = np.random.default_rng(seed)
    images = rng.integers(60, 160, (n, SIZE, SIZE, 3)).astype(np.uint8)
    masks = np.zeros((n, SIZE, SIZE), bool)
    labels = rng.integers(0, CLASSES, n)
    for i in range(n):
        for k in range(6):
            y, x = rng.integers(0, SIZE - 6, 2)
            if k < 3:
                images[i, y : y + 5, x : x + 5] = rng.integers(90, 200)
            else:
                colour = COLOURS[rng.integers(0, CLASSES)]
                images[i, y : y + 6, x : x + 6] = colour
                images[i, y + 1 : y + 5, x + 1 : x + 5] = rng.integers(60, 160)
        y, x = rng.integers(0, SIZE - OBJECT, 2)
        images[i, y : y + OBJECT, x : x + OBJECT] = COLOURS[labels[i]]
        masks[i, y : y + OBJECT, x : x + OBJECT] = True
    return images, labels, masks


def build(seed: int):  # type: ignore[no-untyped-def]
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(16, 3, activation="relu", padding="same")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, activation="relu", padding="same")(x)
    x = keras.layers.GlobalMaxPooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(x))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    return model


def maps_for(model, images: np.ndarray, labels: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    def predict(batch: np.ndarray) -> np.ndarray:
        return np.asarray(model(batch, training=False))

    return np.stack([
        occlusion_sensitivity(img.astype(np.float32), predict, class_index=int(lab),
                              patch_sizes=[8], strides=[4], batch_size=64).map
        for img, lab in zip(images, labels, strict=True)
    ])  # fmt: skip


def augmented(method: str, images, labels, masks, maps, epoch: int, seed: int):  # type: ignore[no-untyped-def]
    """One epoch's augmented copy of the training set, soft labels, and how many objects
    were erased."""
    aug = augmentation(method, **({"size": 16} if "cutout" in method else {}))
    out, soft, erased = images.copy(), np.eye(CLASSES)[labels], 0
    n = len(images)
    for i in range(n):
        rng = np.random.default_rng([seed, epoch, i])
        others = [j for j in range(n) if j != i] if aug.mixing else []
        ctx = Context(_Lazy(images, others), None, maps[i], _Lazy(maps, others))
        res = aug(images[i], rng, ctx)
        out[i] = res.image
        if not res.params_dict()["applied"]:
            continue
        hidden = np.zeros((SIZE, SIZE), bool)
        for x0, y0, x1, y1 in res.params_dict().get("boxes", []):
            hidden[y0:y1, x0:x1] = True
        erased += (hidden & masks[i]).sum() > masks[i].sum() / 2
        if aug.mixing and res.partner_index is not None:
            lam = res.label_weights[0]
            partner = others[res.partner_index]
            soft[i] = (
                lam * np.eye(CLASSES)[labels[i]] + (1 - lam) * np.eye(CLASSES)[labels[partner]]
            )
    return out, soft, erased / n


class _Lazy:
    def __init__(self, data: np.ndarray, index: list[int]) -> None:
        self.data, self.index = data, index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.data[self.index[i]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args()
    started = time.time()
    x_train, y_train, m_train = make(args.train, 1)
    x_test, y_test, _ = make(args.test, 2)
    baseline = build(0)
    baseline.fit(x_train, np.eye(CLASSES)[y_train], epochs=args.epochs, batch_size=64, verbose=0)
    base_acc = baseline.evaluate(x_test, np.eye(CLASSES)[y_test], verbose=0)[1]
    maps = maps_for(baseline, x_train, y_train)
    inside = np.mean([share(mp, mk) for mp, mk in zip(maps, m_train, strict=True)])
    print(
        f"baseline (no augmentation) test accuracy {base_acc:.3f}; the maps put "
        f"{inside:.0%} of their positive mass on the object ({OBJECT**2 / SIZE**2:.1%} of pixels)"
    )
    print("\n| method | test accuracy, mean ± sd | min-max | objects erased |\n|---|---|---|---|")
    for method in ("cutout", "keep-cutout", "cutmix", "saliency-mix"):
        accs, erased = [], []
        for run in range(args.runs):
            model = build(100 + run)
            for epoch in range(args.epochs):
                x, y, share = augmented(method, x_train, y_train, m_train, maps, epoch, run)
                erased.append(share)
                model.fit(x, y, epochs=1, batch_size=64, verbose=0)
            accs.append(model.evaluate(x_test, np.eye(CLASSES)[y_test], verbose=0)[1])
        print(
            f"| {method} | {np.mean(accs):.3f} ± {np.std(accs):.3f} | "
            f"{min(accs):.3f}-{max(accs):.3f} | {np.mean(erased):.1%} |",
            flush=True,
        )
    print(
        f"\n{args.runs} runs each, {args.epochs} epochs, {args.train} training images; "
        f"{time.time() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
