"""srseg.parallel.ordered_map: results in item order on any number of workers, errors at their item."""

from __future__ import annotations

import pytest

from srseg.parallel import cpu_count, ordered_map


def _square_or_fail(x: int) -> int:
    if x == 5:
        raise ValueError(f"item {x} is bad")
    return x * x


def test_in_order_on_workers() -> None:
    items = [3, 1, 4, 1, 2, 6, 0, 7, 8, 9, 11]
    assert list(ordered_map(_square_or_fail, items, 2)) == [x * x for x in items]
    assert list(ordered_map(_square_or_fail, items, 1)) == [x * x for x in items]
    assert cpu_count() >= 1


def test_worker_error_raised_at_its_item() -> None:
    got = []
    with pytest.raises(ValueError, match="item 5 is bad"):
        for y in ordered_map(_square_or_fail, range(10), 2):
            got.append(y)
    assert got == [0, 1, 4, 9, 16]  # everything before the bad item came back, in order
