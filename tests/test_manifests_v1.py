"""Version-1 manifests (written by the release before one definition per method) replay
to the same pixels: ``tests/fixtures/manifests_v1/make.py`` wrote them with that code."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from occlude.augment import replay

FIXTURES = Path(__file__).parent / "fixtures" / "manifests_v1"
RECORDS = [json.loads(line) for line in (FIXTURES / "records.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    "record", RECORDS, ids=[f"{r['method']}-{r.get('fill')}-{r['output']}" for r in RECORDS]
)
def test_a_v1_record_replays_to_its_pixels(record: dict) -> None:
    pixels = replay(record, base=FIXTURES)
    assert hashlib.sha256(pixels.tobytes()).hexdigest() == record["pixels_sha256"]


def test_the_fixtures_cover_every_method_and_fill() -> None:
    from occlude.augment.methods import METHODS

    assert {r["method"] for r in RECORDS} == set(METHODS)
    fills = {json.dumps(r["fill"]) for r in RECORDS if r["method"] == "cutout"}
    assert {'"noise"', "[127.5]", "[127.5, 127.5, 127.5]", "[10.0, 200.0, 30.0]"} <= fills
    assert any(not r["params"]["applied"] for r in RECORDS)
