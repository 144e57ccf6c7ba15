"""Blending recommendation candidates at query time (pure functions, no database).

Each source's scores are normalised by the best score of that source (so 1.0 = its best candidate),
weighted, and summed per product; stock at the context store adds a little or halves the score.
That is the ``DISCOVER`` list: products the customer never bought (:func:`blend`).

``BUY_AGAIN`` lists the customer's due re-orders, most probable first (score = the probability of buying
it again within the model's horizon). ``MIXED``, the default, puts re-orders and discoveries in one order
of probability (:func:`mix`): a re-order's is its score, the discovery at place ``r`` of the discoveries is
given ``DISCOVERY_PROBABILITY / sqrt(r)``. So a regular's due products come first and a discovery
takes the place of every re-order less likely than it: an occasional customer, or one whose products are
not due, sees new products sooner. Even a regular with ten products due sees one new product in a page of
ten (``MIN_DISCOVER_SHARE``), in its last place. Ordering by probability is what NDCG rewards; on the real
Online Retail history (``benchmarks/bench_recommend.py`` variant A, validation window) MIXED scores NDCG@10
0.424 (0.429 without the one guaranteed discovery, as many as re-orders alone) against 0.409 for the 8 of
10 fixed places re-orders had before (main window: 0.398, 0.405 without the guarantee, 0.387 before).

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
# P(the first discovery is bought within 90 days), chosen on the validation window of bench_recommend (0.05-0.08
# tie; 0.12 and above lose): about the precision of a first discovery (0.18) times the share of customers who
# come back within 90 days. Placed r-th among the discoveries: DISCOVERY_PROBABILITY / sqrt(r).
DISCOVERY_PROBABILITY = 0.08
MIN_DISCOVER_SHARE = 0.1  # at least 1 discovery in a page of 10, even for a regular with 10 products due
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


def discovery_probability(place: int, first: float = DISCOVERY_PROBABILITY) -> float:
    """The probability ``MIXED`` gives the discovery at ``place`` (1, 2, ...): ``first / sqrt(place)``.

    >>> [round(discovery_probability(place), 3) for place in (1, 4, 16)]
    [0.08, 0.04, 0.02]
    """
    return first / math.sqrt(place)


def mix(again: list[Blended], discover: list[Blended], *, first: int, discovery: float = DISCOVERY_PROBABILITY,
        min_discover_share: float = MIN_DISCOVER_SHARE) -> list[Blended]:
    """The ``MIXED`` list: due re-orders (score = probability) and discoveries (in their order, the one at
    place ``r`` counted as :func:`discovery_probability` ``(r, discovery)``) by probability, the re-order
    first on a tie; no product twice. At least ``floor(min_discover_share x first)`` discoveries, when
    there are: those that did not make it by probability take the last places.

    >>> def items(*scored): return [Blended(sku=s, product={"sku": s}, score=p) for s, p in scored]
    >>> [r.sku for r in mix(items(("A", 0.9), ("B", 0.06), ("C", 0.03)), items(("X", 5.0), ("Y", 4.0)), first=4)]
    ['A', 'X', 'B', 'Y']
    >>> [r.sku for r in mix(items(("A", 0.9)), items(("X", 1.0), ("A", 0.5), ("Y", 0.2)), first=3)]
    ['A', 'X', 'Y']
    >>> [r.sku for r in mix(items(("A", 0.9), ("B", 0.8), ("C", 0.7)), items(("X", 1.0)), first=3,
    ...                     min_discover_share=0.34)]
    ['A', 'B', 'X']
    """
    candidates = [(item.score, 0, place, item) for place, item in enumerate(again)]
    candidates += [(discovery_probability(place + 1, discovery), 1, place, item) for place, item in enumerate(discover)]
    candidates.sort(key=lambda candidate: (-candidate[0], candidate[1], candidate[2]))
    chosen = _distinct([item for _, _, _, item in candidates])[:first]
    new = {id(item) for item in discover}
    missing = math.floor(min_discover_share * first) - sum(id(item) in new for item in chosen)
    taken = {item.sku for item in chosen}
    extra = [item for item in _distinct(discover) if item.sku not in taken][:max(missing, 0)]
    if extra:  # then the list is full: the last re-orders make room
        last_reorders = {id(item) for item in [item for item in chosen if id(item) not in new][-len(extra):]}
        chosen = [item for item in chosen if id(item) not in last_reorders] + extra
    return chosen


def _distinct(items: list[Blended]) -> list[Blended]:
    """``items`` without a product twice (the first of each kept)."""
    out: list[Blended] = []
    seen: set[str] = set()
    for item in items:
        if item.sku not in seen:
            out.append(item)
            seen.add(item.sku)
    return out
