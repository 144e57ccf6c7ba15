"""Reference checks: which natural keys the graph (or the drop being loaded) already holds.

A row referring to a product, store, session... is checked here before it is written, so a reference to
nothing is rejected with a reason instead of silently matching nothing in Cypher.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from graph_model.connection import session

LABEL_KEYS: dict[str, str] = {
    "Category": "categoryId", "Brand": "brandId", "Product": "sku", "Store": "storeId", "Campaign": "campaignId",
    "Offer": "offerId", "Customer": "customerId", "Session": "sessionId", "Order": "orderId", "Message": "messageId",
}


def prefetch_query(label: str) -> str:
    """Which of ``$keys`` the graph holds for ``label`` (label and property from :data:`LABEL_KEYS`, never
    from input)."""
    prop = LABEL_KEYS[label]
    return f"UNWIND $keys AS k MATCH (n:{label} {{{prop}: k}}) RETURN n.{prop}"


class KeyCache:
    """The natural keys per label: read once from the graph on first use, then kept up to date by the loader.

    ``preload=False`` (the collection API's micro-batches): nothing is read on first use; the caller
    :meth:`prefetch` es the keys its rows refer to, so a batch's reads grow with the batch, not the graph.
    """

    def __init__(self, *, preload: bool = True) -> None:
        self._keys: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._preload = preload

    def prefetch(self, label: str, keys: Iterable[str]) -> None:
        """Add which of ``keys`` the graph holds for ``label`` (one index-seek read)."""
        wanted = sorted(set(keys))
        if not wanted:
            return
        with session() as s:
            found = {r[0] for r in s.run(prefetch_query(label), keys=wanted)}
        self.add(label, found)

    def _load(self, label: str) -> set[str]:
        if not self._preload:
            return set()
        prop = LABEL_KEYS[label]
        with session() as s:  # label and property come from LABEL_KEYS above, never from input
            result = s.run(f"MATCH (n:{label}) RETURN n.{prop} AS k")
            return {record[0] for record in result}

    def keys(self, label: str) -> set[str]:
        with self._lock:
            known = self._keys.get(label)
        if known is None:
            loaded = self._load(label)
            with self._lock:
                known = self._keys.setdefault(label, loaded)
        return known

    def has(self, label: str, key: str) -> bool:
        return key in self.keys(label)

    def add(self, label: str, keys: Iterable[str]) -> None:
        self.keys(label).update(keys)

    def discard(self, label: str, keys: Iterable[str]) -> None:
        self.keys(label).difference_update(keys)
