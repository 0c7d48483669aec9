"""The bundled photos work for every command: their labels parse and name ImageNet classes,
and the files beside them (labels, notes) are never taken for failed images."""

from __future__ import annotations

import os
from pathlib import Path

from support.children import REPO

from occlude.classes import find_imagenet_class, imagenet_names
from occlude.inputs import discover
from occlude.labels import LabelReader, read_label_csv

SAMPLES = REPO / "sample_images"
EXPECTED = {"astronaut.png": "crash_helmet", "cat.png": "tabby", "coffee.png": "espresso",
            "rocket.png": "missile"}  # fmt: skip


def test_every_photo_has_an_imagenet_label() -> None:
    labels = read_label_csv(SAMPLES / "labels.csv")
    photos = sorted(p.name for p in SAMPLES.glob("*.png"))
    assert sorted(Path(p).name for p in labels) == photos == sorted(EXPECTED)
    assert all(Path(p).is_file() for p in labels)
    for path, label in labels.items():
        assert label == EXPECTED[path.name]
        assert imagenet_names()[find_imagenet_class(label)] == label
    reader = LabelReader(SAMPLES / "labels.csv")
    assert reader(SAMPLES / "cat.png") == "tabby"


def test_the_files_beside_the_photos_are_not_inputs(monkeypatch) -> None:
    whole = discover([SAMPLES])  # the folder
    assert [i.rel.name for i in whole.images] == sorted(EXPECTED)
    assert whole.failures == [] and whole.notes == []
    monkeypatch.chdir(REPO)  # occlude ... sample_images/*: README.md and labels.csv too
    named = discover(sorted(Path("sample_images") / n for n in os.listdir(SAMPLES)))
    assert [i.rel.name for i in named.images] == sorted(EXPECTED) and named.failures == []
    assert named.notes == [
        "sample_images/README.md: not an image (a .md file): skipped",
        "sample_images/labels.csv: not an image (a .csv file): skipped",
    ]
