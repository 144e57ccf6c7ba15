"""Blending recommendation candidates at query time (pure functions, no database).

Each source's scores are normalised by the best score of that source (so 1.0 = its best candidate),
weighted, and summed per product; stock at the context store adds a little or halves the score.
That is the ``DISCOVER`` list: products the customer never bought (:func:`blend`).

``BUY_AGAIN`` lists the customer's due re-orders, most probable first (score = the probability of buying
it again within the model's horizon). ``MIXED``, the default, gives the first
``ceil(MIXED_REORDER_SHARE x first)`` places to the due re-orders and the rest to discoveries, which also
take any place the re-orders leave free (:func:`mix`). Re-orders first, because on the real Online Retail
history most of what a customer buys next is something they bought before (``benchmarks/bench_recommend.py``
variant A); a share of places kept for discoveries, so a regular's list still shows something new.

>>> rows = [{"product": {"sku": "A"}, "score": 0.8, "source": "PERSONAL", "reason": "bought with X"},
...         {"product": {"sku": "B"}, "score": 0.4, "source": "PERSONAL", "reason": "bought with Y"},
...         {"product": {"sku": "B"}, "score": 2.0, "source": "CONTEXT_PRODUCT", "about": "Tent"}]
>>> [(r.sku, round(r.score, 2)) for r in blend(rows, first=2)]
[('B', 1.3), ('A', 1.0)]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

WEIGHTS: dict[str, float] = {
    "PERSONAL": 1.0,
    "CONTEXT_PRODUCT": 0.8,
    "CONTEXT_SESSION": 0.5,
    "CONTEXT_STORE": 0.4,
    "SEGMENT_POPULAR": 0.6,
    "STORE_POPULAR": 0.5,
    "TRENDING": 0.3,
}
IN_STOCK_BONUS = 0.1
MIXED_REORDER_SHARE = 0.8  # 2 of 10 places kept for discoveries: NDCG@10 0.409 vs 0.425 (validation window)
OUT_OF_STOCK_FACTOR = 0.5


@dataclass
class Blended:
    """One recommended product after blending: its score, the sources that contributed and why."""

    sku: str
    product: dict[str, Any]
    score: float = 0.0
    base_score: float | None = None
    rank: int | None = None
    evidence: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    reasons: list[tuple[float, str]] = field(default_factory=list)
    stock: int | None = None

    @property
    def explanation(self) -> str:
        """The reasons, the strongest first (each in the lower-case style of the algorithms' reasons)."""
        return "; ".join(text for _, text in sorted(self.reasons, key=lambda item: -item[0]))


PRIVATE_EVIDENCE = ("similar:",)  # codes naming another customer (the algorithms now write similar_shoppers)


def public_evidence(codes: Iterable[str] | None) -> list[str]:
    """The evidence codes that may be shown: never one naming another customer.

    >>> public_evidence(["affinity:P11", "similar:12350", "similar_shoppers"])
    ['affinity:P11', 'similar_shoppers']
    """
    return [code for code in codes or () if not code.startswith(PRIVATE_EVIDENCE)]


def reason_text(row: dict[str, Any], store_name: str | None) -> str:
    """A readable reason for one candidate row."""
    source, about = row["source"], row.get("about")
    if source in ("PERSONAL", "BUY_AGAIN"):
        return row.get("reason") or "recommended for you"
    if source == "CONTEXT_PRODUCT":
        return f"often bought with {about}, which you are looking at"
    if source == "CONTEXT_SESSION":
        return f"goes well with {about}, which you viewed in this session"
    if source == "CONTEXT_STORE":
        return f"popular at {about}"
    if source == "SEGMENT_POPULAR":
        return f"popular with shoppers like you ({about})"
    if source == "STORE_POPULAR":
        return f"popular at your store, {about}"
    return "trending now"


def blend(rows: Iterable[dict[str, Any]], *, first: int, exclude: frozenset[str] = frozenset(),
          store_name: str | None = None) -> list[Blended]:
    """The ``first`` best products of ``rows`` (dicts with product, score, source...), best first."""
    rows = [row for row in rows if row["product"]["sku"] not in exclude]
    best: dict[str, float] = {}
    for row in rows:
        best[row["source"]] = max(best.get(row["source"], 0.0), float(row.get("score") or 0.0))
    blended: dict[str, Blended] = {}
    for row in rows:
        sku = row["product"]["sku"]
        item = blended.setdefault(sku, Blended(sku=sku, product=row["product"]))
        source = row["source"]
        if source in item.sources:
            continue
        top = best[source] or 1.0
        contribution = WEIGHTS.get(source, 0.3) * float(row.get("score") or 0.0) / top
        item.score += contribution
        item.sources.append(source)
        item.reasons.append((contribution, reason_text(row, store_name)))
        if source == "PERSONAL":
            item.base_score, item.rank = row.get("score"), row.get("rank")
            item.evidence = public_evidence(row.get("evidence"))
        if row.get("stock") is not None:
            item.stock = row["stock"]
    if store_name is not None:
        for item in blended.values():
            if item.stock is not None and item.stock > 0:
                item.score += IN_STOCK_BONUS
                item.reasons.append((0.0, f"in stock at {store_name}"))
            elif item.stock is not None:
                item.score *= OUT_OF_STOCK_FACTOR
    ordered = sorted(blended.values(), key=lambda item: (-item.score, item.rank or 10**9, item.sku))
    return ordered[:first]


def reorders(rows: Iterable[dict[str, Any]], *, first: int, store_name: str | None = None) -> list[Blended]:
    """The ``first`` most probable due re-orders of ``BUY_AGAIN`` rows (dicts with product, score =
    probability, rank, reason, stock), as they come (already ranked by the algorithms).

    >>> rows = [{"product": {"sku": "MILK"}, "score": 0.7, "rank": 1, "reason": "you order this about every 7 days"}]
    >>> [(r.sku, r.score, r.sources, r.explanation) for r in reorders(rows, first=5)]
    [('MILK', 0.7, ['BUY_AGAIN'], 'you order this about every 7 days')]
    """
    items = []
    for row in list(rows)[:first]:
        item = Blended(sku=row["product"]["sku"], product=row["product"], score=float(row.get("score") or 0.0),
                       base_score=row.get("score"), rank=row.get("rank"), evidence=["buy_again"],
                       sources=["BUY_AGAIN"], stock=row.get("stock"))
        item.reasons.append((item.score, reason_text(dict(row, source="BUY_AGAIN"), store_name)))
        if store_name is not None and item.stock is not None and item.stock > 0:
            item.reasons.append((0.0, f"in stock at {store_name}"))
        items.append(item)
    return items


def mix(again: list[Blended], discover: list[Blended], *, first: int,
        share: float = MIXED_REORDER_SHARE) -> list[Blended]:
    """The ``MIXED`` list: due re-orders in the first ``ceil(share x first)`` places, then discoveries,
    which also fill the places the re-orders leave free; no product twice.

    >>> def items(*skus): return [Blended(sku=s, product={"sku": s}) for s in skus]
    >>> [r.sku for r in mix(items("A", "B", "C", "D"), items("X", "Y", "A"), first=5)]
    ['A', 'B', 'C', 'D', 'X']
    >>> [r.sku for r in mix(items("A"), items("X", "A", "Y"), first=3)]
    ['A', 'X', 'Y']
    """
    slots = min(len(again), math.ceil(share * first))
    chosen = again[:slots]
    taken = {item.sku for item in chosen}
    for item in discover + again[slots:]:
        if len(chosen) >= first:
            break
        if item.sku not in taken:
            chosen.append(item)
            taken.add(item.sku)
    return chosen
