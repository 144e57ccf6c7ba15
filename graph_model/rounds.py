"""Rows of one statement that must not touch the same node: split into rounds."""

from __future__ import annotations

from typing import Any


def rounds(keys: list[Any]) -> list[list[int]]:
    """The positions of ``keys`` split into rounds in which no key occurs twice, each key's positions in
    order: the k-th row of a key goes into round k. A ``None`` key (a row that judges nothing against the
    stored node) goes into the first round.

    One statement judges all its rows against the graph as it was before the statement (the planner puts
    an ``Eager`` between the reads and the writes of a statement that reads what it writes), so two rows of
    one node in one statement both pass ``WHERE r.updatedAt >= c.updatedAt`` and the last row wins even when
    it is older, and two re-pointings of one single relationship both find nothing to delete. Written in
    rounds, in one transaction, each row sees the rows of its key before it, as in a file loaded row by row.

    >>> rounds(["a", "b", "a", None, "a", None])
    [[0, 1, 3, 5], [2], [4]]
    """
    seen: dict[Any, int] = {}
    split: list[list[int]] = [[]]
    for position, key in enumerate(keys):
        k = 0 if key is None else seen.get(key, -1) + 1
        if key is not None:
            seen[key] = k
        if k == len(split):
            split.append([])
        split[k].append(position)
    return split if split[0] else []
