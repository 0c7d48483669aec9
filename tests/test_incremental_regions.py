"""The incremental engine's geometry: exact rectangles on hand-built layer stacks (no Keras)."""

from __future__ import annotations

import numpy as np
import pytest

from occlude.incremental.plan import axis_intervals, group_boxes, make_plan
from occlude.incremental.regions import (
    EMPTY_A,
    Merge,
    Opaque,
    Pointwise,
    Spec,
    Window,
    cap_interval,
    cap_length,
    propagate_axis,
    same_padding,
    window_interval,
)
from occlude.sensitivity.windows import window_boxes

# A small network on 10x12 images: stride-2 conv, BN, "same" conv, Add, global pooling.
STACK = [
    Spec("in", Pointwise(), (), (10, 12)),
    Spec("c1", Window((3, 3), (2, 2), (1, 1), (0, 0)), (0,), (5, 6), macs=100),
    Spec("bn", Pointwise(), (1,), (5, 6)),
    Spec("c2", Window((3, 3), (1, 1), (1, 1), (1, 1)), (2,), (5, 6), macs=300),
    Spec("add", Merge(), (2, 3), (5, 6)),
    Spec("gap", Opaque("global"), (4,), None),
]


def rects(specs: list[Spec], box: tuple[int, int, int, int], tau: float = 1.0) -> list:
    """Changed rectangle (x0, y0, x1, y1) of every node for one box, None where full."""
    x0, y0, x1, y1 = box
    ry = propagate_axis(specs, 0, np.array([y0]), np.array([y1]), tau)
    rx = propagate_axis(specs, 1, np.array([x0]), np.array([x1]), tau)
    out = []
    for i in range(len(specs)):
        if ry.a[i] is None or rx.a[i] is None:
            out.append(None)
        else:
            out.append((int(rx.a[i][0]), int(ry.a[i][0]), int(rx.b[i][0]), int(ry.b[i][0])))
    return out


def test_stack_rectangles_are_the_hand_computed_ones() -> None:
    assert rects(STACK, (0, 4, 3, 6)) == [
        (0, 4, 3, 6),
        (0, 1, 2, 3),  # output o reads rows [2o, 2o + 3): o = 1, 2 read row 4 or 5
        (0, 1, 2, 3),
        (0, 0, 3, 4),  # one more pixel each side, clipped at 0
        (0, 0, 3, 4),  # the union of bn's and c2's
        None,
    ]


def test_plan_tiles_switch_caches_and_cost() -> None:
    plan = make_plan(STACK, (2, 3), threshold=0.7)
    assert plan.tiles == ((2, 3), (2, 3), (2, 3), (4, 5), (4, 5), None)
    assert plan.switch == 5
    assert plan.inplace[4] == (False, True)  # add reads c2's tile as is, gathers bn's
    assert plan.cached == (0, 2, 4)
    assert plan.macs_fraction == pytest.approx((100 * 6 / 30 + 300 * 20 / 30) / 400)
    # a tile over 70% of a map switches to full there
    assert make_plan(STACK, (4, 6), threshold=0.7).tiles[3:] == (None, None, None)


def test_same_padding_puts_the_odd_pixel_after() -> None:
    assert same_padding(7, 3, 2) == 1  # out 4, total 2: one before, one after
    assert same_padding(224, 7, 2) == 2  # total 5: 2 before, 3 after
    assert same_padding(224, 3, 2) == 0  # total 1, after
    assert same_padding(10, 1, 2) == 0


@pytest.mark.parametrize(
    ("length", "span", "stride", "pad", "dilation"),
    [(11, 3, 2, 1, 1), (10, 5, 1, 2, 1), (9, 2, 2, 0, 1), (12, 5, 1, 2, 2), (13, 7, 3, 3, 3),
     (8, 1, 1, -1, 1), (9, 1, 2, 0, 1)],
)  # fmt: skip
def test_window_interval_is_the_bounding_box_of_the_true_dependencies(
    length: int, span: int, stride: int, pad: int, dilation: int
) -> None:
    kernel = (span - 1) // dilation + 1
    n_out = len(range(0, length + 2 * max(pad, 0) - span + 1, stride)) if pad >= 0 else length
    for a in range(length):
        for b in range(a + 1, length + 1):
            lo, hi = window_interval(np.array([a]), np.array([b]), span, stride, pad, n_out)
            hit = [
                o
                for o in range(n_out)
                if any(a <= o * stride - pad + i * dilation < b for i in range(kernel))
            ]
            if not hit:
                assert lo[0] >= hi[0] or dilation > 1
                continue
            assert lo[0] <= hit[0] and hi[0] >= hit[-1] + 1
            if dilation == 1:
                assert (lo[0], hi[0]) == (hit[0], hit[-1] + 1)


def test_an_empty_region_stays_empty() -> None:
    # a 1x1 stride-2 convolution skips odd rows: changing row 3 changes no output
    lo, hi = window_interval(np.array([3]), np.array([4]), 1, 2, 0, 5)
    assert lo[0] == EMPTY_A and hi[0] < lo[0]
    merged = propagate_axis(
        [Spec("in", Pointwise(), (), (9, 9)), Spec("s2", Window((1, 1), (2, 2)), (0,), (5, 5)),
         Spec("c", Window((3, 3), (1, 1), (1, 1), (1, 1)), (1,), (5, 5))],
        0, np.array([3]), np.array([4]),
    )  # fmt: skip
    assert merged.length(2) is not None and merged.length(2)[0] == 0


CHAIN = [Spec("in", Pointwise(), (), (20, 20))] + [
    Spec(f"c{i}", Window((5, 5), (1, 1), (1, 1), (2, 2)), (i,), (20, 20)) for i in range(4)
]


def test_capped_regions_are_exactly_the_specified_ones() -> None:
    # tau 0.5 caps every interval at 10 of 20 pixels, centred on the occlusion's centre
    assert cap_length(20, 0.5) == 10
    got = rects(CHAIN, (8, 8, 14, 14), tau=0.5)
    assert got == [(8, 8, 14, 14), (6, 6, 16, 16), (6, 6, 16, 16), (6, 6, 16, 16), (6, 6, 16, 16)]
    # at the border the cap is centred on the projected centre (2), not on the clipped
    # region's centre (6): [0, 10), not [1, 11)
    assert rects(CHAIN, (0, 0, 4, 4), tau=0.5)[-1] == (0, 0, 10, 10)
    exact = rects(CHAIN, (0, 0, 4, 4))
    assert exact[-1] == (0, 0, 12, 12)
    assert rects(CHAIN, (0, 0, 4, 4), tau=1.0) == exact


def test_caps_move_in_whole_steps_on_small_maps() -> None:
    assert [cap_length(7, t) for t in (0.3, 0.5, 0.6, 0.8, 1.0)] == [3, 4, 5, 6, 7]
    lo, hi = cap_interval(np.array([0]), np.array([7]), np.array([3.5]), 4)
    assert (int(lo[0]), int(hi[0])) == (2, 6)


def test_tau_one_plans_equal_the_exact_plan() -> None:
    assert make_plan(STACK, (2, 3), tau=1.0) == make_plan(STACK, (2, 3))
    assert make_plan(CHAIN, (4, 4), tau=0.5).tiles[-1] == (10, 10)


def test_axis_intervals_cover_every_box_that_fits_the_patch() -> None:
    a, b = axis_intervals(5, 2)
    assert sorted(zip(a.tolist(), b.tolist(), strict=True)) == [
        (0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (2, 4), (3, 4), (3, 5), (4, 5)
    ]  # fmt: skip


def test_group_boxes_one_group_per_scale() -> None:
    boxes = window_boxes(224, 224, 48, 48)  # 192 + 48 > 224: clipped border windows
    groups = group_boxes(boxes)
    assert [(s, len(i)) for s, i in groups] == [((48, 48), 25)]
    mixed = np.concatenate([window_boxes(64, 64, 16, 16), window_boxes(64, 64, 48, 48)])
    shapes = {s: len(i) for s, i in group_boxes(mixed)}
    # the clipped 16x16 corner window of scale 48 joins the 16x16 windows
    assert shapes == {(16, 16): 17, (48, 48): 3}


def test_a_window_with_a_halo_never_reads_its_input_in_place() -> None:
    # with tau 0.3 on a 5x5 map (cap 2) a 3x3 convolution's capped region equals its
    # input's for every box, but the layer still needs the halo around it
    chain = [Spec("in", Pointwise(), (), (5, 5))] + [
        Spec(f"c{i}", Window((3, 3), (1, 1), (1, 1), (1, 1)), (i,), (5, 5)) for i in range(3)
    ]
    ry = propagate_axis(chain, 0, *axis_intervals(5, 2), tau=0.3)
    assert np.array_equal(ry.a[1], ry.a[2]) and np.array_equal(ry.b[1], ry.b[2])
    plan = make_plan(chain, (2, 2), threshold=1.0, tau=0.3)
    assert plan.tiles[1:] == ((2, 2),) * 3
    assert plan.inplace[1:] == ((False,),) * 3
    one_by_one = [*chain, Spec("p", Window(), (3,), (5, 5))]
    assert make_plan(one_by_one, (2, 2), threshold=1.0, tau=0.3).inplace[4] == (True,)
