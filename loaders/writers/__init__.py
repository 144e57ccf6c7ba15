"""Writers: the Cypher of each entity as named constants, and the transaction functions that run them.

A transaction function takes ``(tx, rows)`` (rows are the prepared parameters of one batch) and returns
nothing, or the rows it refused as ``(index in batch, reason, message)``, or a
:class:`loaders.batching.Written` (those rows, and keys the load follows up after the file). It may be run
again by the driver's retry, so it has no effect outside the transaction: what it returns counts once, from
the run that committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neo4j import ManagedTransaction

from graph_model.connection import Rows
from graph_model.rounds import rounds

TxWrite = Callable[[ManagedTransaction, list[dict[str, Any]]], Any]


def statement_writer(query: str, name: str, lock_order: Callable[[dict[str, Any]], Any] | None = None,
                     round_keys: Callable[[list[dict[str, Any]]], list[Any]] | None = None) -> TxWrite:
    """A transaction function running ``query`` with ``$rows`` = the batch.

    ``lock_order``: the key of the one node a row locks that other writers' rows may lock too; the rows are
    written in that order, so two writers take those locks in the same order and cannot deadlock on them.
    ``round_keys``: for the batch's rows, the key of the node whose stored state each row is judged against
    (``updatedAt``, a single relationship), ``None`` for a row that judges nothing; rows of one key go to
    the statement in :func:`rounds`, in batch order."""

    def write(tx: ManagedTransaction, rows: list[dict[str, Any]]) -> None:
        ordered = sorted(rows, key=lock_order) if lock_order else rows
        if round_keys is None:
            tx.run(query, rows=Rows(ordered)).consume()
            return
        for positions in rounds(round_keys(ordered)):  # one round when no key repeats
            tx.run(query, rows=Rows([ordered[p] for p in positions])).consume()

    write.__name__ = write.__qualname__ = name
    return write
