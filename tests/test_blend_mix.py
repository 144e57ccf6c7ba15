"""The MIXED list (api.blend.mix): re-orders and discoveries in one order of probability."""

from __future__ import annotations

import pytest

from api.blend import DISCOVERY_PROBABILITY, Blended, discovery_probability, mix


def items(*scored: tuple[str, float]) -> list[Blended]:
    return [Blended(sku=sku, product={"sku": sku}, score=score) for sku, score in scored]


def test_discoveries_are_counted_at_the_first_probability_over_the_root_of_their_place() -> None:
    assert DISCOVERY_PROBABILITY == 0.08
    assert [discovery_probability(place, 0.1) for place in (1, 4, 25)] == pytest.approx([0.1, 0.05, 0.02])


def test_a_regular_sees_due_re_orders_first_and_discoveries_where_re_orders_are_unlikely() -> None:
    again = items(("MILK", 0.9), ("TEA", 0.5), ("JAM", 0.07), ("SALT", 0.03))
    new = items(("X", 3.0), ("Y", 2.0), ("Z", 1.0))  # the discovery blend's scores do not count, their order does
    # X 0.08, Y 0.08/sqrt(2) = 0.057, Z 0.046: X goes before JAM; JAM (0.07) before Y; SALT (0.03) after Z
    assert [r.sku for r in mix(again, new, first=7)] == ["MILK", "TEA", "X", "JAM", "Y", "Z", "SALT"]
    assert [r.sku for r in mix(again, new, first=3)] == ["MILK", "TEA", "X"]


def test_the_first_discovery_probability_moves_the_discoveries() -> None:
    again, new = items(("MILK", 0.9), ("TEA", 0.5)), items(("X", 1.0))
    assert [r.sku for r in mix(again, new, first=3, discovery=0.6)] == ["MILK", "X", "TEA"]
    assert [r.sku for r in mix(again, new, first=3, discovery=0.5)] == ["MILK", "TEA", "X"]  # a tie: the re-order


def test_no_product_twice_and_either_list_may_be_empty() -> None:
    assert [r.sku for r in mix(items(("A", 0.9)), items(("A", 1.0), ("Y", 1.0)), first=3)] == ["A", "Y"]
    assert [r.sku for r in mix([], items(("X", 1.0), ("Y", 1.0)), first=1)] == ["X"]
    assert [r.sku for r in mix(items(("A", 0.01)), [], first=5)] == ["A"]


def test_a_page_of_ten_always_holds_a_discovery_when_there_is_one() -> None:
    again = items(*[(f"R{n}", 0.9 - n / 100) for n in range(12)])  # twelve products due, all above 0.08
    new = items(("X", 1.0), ("Y", 1.0))
    assert [r.sku for r in mix(again, new, first=10)] == [f"R{n}" for n in range(9)] + ["X"]
    assert [r.sku for r in mix(again, new, first=10, min_discover_share=0.0)] == [f"R{n}" for n in range(10)]
    assert [r.sku for r in mix(again, new, first=20)][-4:] == ["R10", "R11", "X", "Y"]  # 2 of 20, room enough
    assert [r.sku for r in mix(again, new, first=9)] == [f"R{n}" for n in range(9)]  # floor(0.1 x 9) = 0
    # a discovery that made it by probability counts: nothing is added
    assert [r.sku for r in mix(items(("A", 0.9), ("B", 0.01)), new, first=10)] == ["A", "X", "Y", "B"]
