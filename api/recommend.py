"""Assembling recommendations for a batch of customers: precomputed, fallback, then context.

Round trips per batch: one for ``RECOMMENDED`` with each customer's live consent decisions
(personalisation, analytics); one more for the segment/home-store fallback only when
some customer has none, or fewer than asked for (they are topped up with fallback products ranked after
their own); one for trending when even the fallback is empty; with a context, one to resolve the store
from a location and one for the context candidates, shared by the whole batch. Products a customer
bought are never among the fallback ones (for a customer who withdrew personalisation their purchases
are not looked at, so they may be).
"""

from __future__ import annotations

from dataclasses import dataclass

from api.blend import Blended, blend, mix, reorders
from api.db import Database
from api.queries import recommendations as q
from graph_model.privacy.policy import current_policy

CONTEXT_STORE_RADIUS_KM = 2.0
MAX_CANDIDATES = 100
DEFAULT_KIND = "MIXED"  # what a list holds by default: MIXED, DISCOVER or BUY_AGAIN (see api.blend)


@dataclass(frozen=True)
class RecommendationContext:
    """Where the customer is right now: the store, the web/app session, the product on screen, a location."""

    store_id: str | None = None
    session_id: str | None = None
    product_sku: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def empty(self) -> bool:
        """True when nothing is known about the situation."""
        return not any((self.store_id, self.session_id, self.product_sku, self.latitude is not None))


NOT_PERSONALISED = "not personalised, as you asked"


def _context_rows(shared: list[dict], personalised: bool) -> list[dict]:
    """The shared context candidates one customer may get: with personalisation withdrawn, never the
    session's past views (``CONTEXT_SESSION``), and nothing of the context at all unless the policy's
    ``context_without_personalisation`` allows the product on screen and the store."""
    if personalised:
        return shared
    if not current_policy().context_without_personalisation:
        return []
    return [row for row in shared if row["source"] != "CONTEXT_SESSION"]


async def recommend(db: Database, ids: list[str], *, first: int, context: RecommendationContext | None,
                    personal: dict[str, q.Personal] | None = None, kind: str = DEFAULT_KIND) -> dict[str, list[Blended]]:
    """The ``first`` best products of ``kind`` for each customer (see :mod:`api.blend`): ``DISCOVER``,
    never-bought products blended with the context when one is given; ``BUY_AGAIN``, the due re-orders;
    ``MIXED``, both.

    ``personal``: the customers' consent decisions and ``RECOMMENDED`` rows when already fetched
    (without a context only). A customer whose policy does not permit ``personalisation`` gets only the
    non-personal fallbacks (segment-popular when ``analytics`` is permitted, home-store-popular,
    trending), and their explanations say so.
    """
    context = None if context is None or context.empty else context
    store = None
    if context is not None:
        store = await q.context_store(db, store_id=context.store_id, latitude=context.latitude,
                                      longitude=context.longitude, radius_km=CONTEXT_STORE_RADIUS_KM)
    store_id = store["storeId"] if store else None
    store_name = store["name"] if store else None
    limit = first if context is None else min(first + 20, MAX_CANDIDATES)
    if personal is None or context is not None:
        personal = await q.personal(db, ids, limit, store_id)
    who = {customer_id: personal.get(customer_id, q.NOT_PERMITTED) for customer_id in ids}
    on_screen = context.product_sku if context is not None else None
    again = {customer_id: reorders([row for row in p.again if row["product"]["sku"] != on_screen], first=first,
                                   store_name=store_name) for customer_id, p in who.items()}
    if kind == "BUY_AGAIN":
        return again
    discover = await _discover(db, who, first=first, limit=limit, context=context, store_id=store_id,
                               store_name=store_name)
    if kind == "DISCOVER":
        return discover
    return {customer_id: mix(again[customer_id], discover[customer_id], first=first) for customer_id in ids}


async def _discover(db: Database, who: dict[str, q.Personal], *, first: int, limit: int,
                    context: RecommendationContext | None, store_id: str | None,
                    store_name: str | None) -> dict[str, list[Blended]]:
    """The ``DISCOVER`` lists: ``RECOMMENDED`` rows, topped up with fallbacks, blended with the context."""
    candidates = {customer_id: [dict(row, source="PERSONAL") for row in p.rows] for customer_id, p in who.items()}
    missing = [customer_id for customer_id, rows in candidates.items() if not rows]
    short = [customer_id for customer_id, rows in candidates.items() if 0 < len(rows) < first]
    top_up: dict[str, list[dict]] = {}
    if missing or short:
        fallback = await q.fallback(db, {customer_id: who[customer_id] for customer_id in missing + short},
                                    limit, store_id)
        need_trending = []
        for customer_id in missing:
            rows = fallback[customer_id]
            segment_rows = [row for row in rows if row["source"] == "SEGMENT_POPULAR"]
            candidates[customer_id] = segment_rows or rows
            if not rows:
                need_trending.append(customer_id)
        for customer_id in short:
            top_up[customer_id] = [dict(row) for row in fallback[customer_id]]
        if need_trending:
            trending = await q.trending(db, limit, store_id)
            for customer_id in need_trending:
                candidates[customer_id] = [dict(row) for row in trending]
    shared: list[dict] = []
    exclude: frozenset[str] = frozenset()
    if context is not None:
        shared = await q.context_candidates(db, limit=limit, product_sku=context.product_sku,
                                            session_id=context.session_id, store_id=store_id)
        exclude = frozenset({context.product_sku}) if context.product_sku else frozenset()
    ranked = {}
    for customer_id, rows in candidates.items():
        personalised = who[customer_id].personalised
        ranked[customer_id] = blend(rows + _context_rows(shared, personalised), first=first, exclude=exclude,
                                    store_name=store_name)
        if not personalised:
            for item in ranked[customer_id]:
                item.reasons.append((float("-inf"), NOT_PERSONALISED))
    for customer_id, rows in top_up.items():
        ranked[customer_id] = _topped_up(ranked[customer_id], rows, first=first, exclude=exclude,
                                         store_name=store_name)
    return ranked


def _topped_up(ranked: list[Blended], fallback_rows: list[dict], *, first: int, exclude: frozenset[str],
               store_name: str | None) -> list[Blended]:
    """``ranked`` filled up to ``first`` with fallback products, placed (and scored) below the last of them."""
    if len(ranked) >= first or not fallback_rows:
        return ranked
    taken = exclude | {item.sku for item in ranked}
    extra = blend(fallback_rows, first=first - len(ranked), exclude=taken, store_name=store_name)
    floor = ranked[-1].score if ranked else 0.0
    if extra and ranked and extra[0].score >= floor > 0:
        scale = 0.99 * floor / extra[0].score
        for item in extra:
            item.score *= scale
    return ranked + extra
