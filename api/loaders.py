"""DataLoaders, built fresh for every request (a module-level loader would cache across requests).

Each loader collects the keys asked for in one tick of the event loop and fetches them in one round
trip, so a page of 50 customers with their recommendations costs a few queries, not 50. Loaders whose
fields take arguments use keys ``(id, *arguments)`` and run one query per distinct set of arguments.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from api.db import Database
from api.queries import catalogue, customers, engagement, segments, stores
from api.queries import recommendations as recommendation_queries
from api.recommend import RecommendationContext, recommend

T = TypeVar("T")


def by_id(db: Database, fetch: Callable[[Database, list[str]], Awaitable[dict[str, T]]],
          default: Callable[[], Any] = lambda: None) -> DataLoader[str, Any]:
    """A loader of one value per id, fetched in one query per batch."""

    async def load(ids: list[str]) -> list[Any]:
        found = await fetch(db, list(dict.fromkeys(ids)))
        return [found[i] if i in found else default() for i in ids]

    return DataLoader(load_fn=load)


def by_id_and_args(db: Database, fetch: Callable[..., Awaitable[dict[str, Any]]],
                   default: Callable[[], Any] = list) -> DataLoader[tuple[Hashable, ...], Any]:
    """A loader keyed by ``(id, *args)``: one query per distinct ``args`` in a batch."""

    async def load(keys: list[tuple[Hashable, ...]]) -> list[Any]:
        groups: dict[tuple[Hashable, ...], list[Any]] = {}
        for key in keys:
            groups.setdefault(key[1:], []).append(key[0])
        results: dict[tuple[Hashable, ...], Any] = {}
        for args, ids in groups.items():
            unique = list(dict.fromkeys(ids))
            found = await fetch(db, unique, *args)
            for i in unique:
                results[(i, *args)] = found[i] if i in found else default()
        return [results[key] for key in keys]

    return DataLoader(load_fn=load)


async def _recommendations(db: Database, ids: list[str], first: int,
                           context: RecommendationContext | None) -> dict[str, Any]:
    return await recommend(db, ids, first=first, context=context)


async def _visits(db: Database, ids: list[str], first: int, start: datetime | None,
                  end: datetime | None) -> dict[str, Any]:
    return await stores.visits_by_store(db, ids, first, start, end)


async def _visit_stats(db: Database, ids: list[str], start: datetime | None, end: datetime | None) -> dict[str, Any]:
    return await stores.visit_stats_by_store(db, ids, start, end)


class Loaders:
    """Every DataLoader of one request."""

    def __init__(self, db: Database) -> None:
        self.customer = by_id(db, customers.customers_by_ids)
        self.identities = by_id(db, customers.identities_by_customer, list)
        self.consents = by_id(db, customers.consents_by_customer, list)
        self.customer_segments = by_id(db, customers.segments_by_customer, list)
        self.home_store = by_id(db, customers.home_stores)
        self.similar = by_id_and_args(db, customers.similar_shoppers)
        self.recommendations = by_id_and_args(db, _recommendations)
        self.product = by_id(db, catalogue.products_by_sku)
        self.categories = by_id(db, catalogue.categories_by_product, list)
        self.brand = by_id(db, catalogue.brands_by_product)
        self.affinities = by_id_and_args(db, catalogue.affinities_by_product)
        self.store = by_id(db, stores.stores_by_id)
        self.store_visits = by_id_and_args(db, _visits)
        self.store_visit_stats = by_id_and_args(db, _visit_stats, dict)
        self.top_products = by_id_and_args(db, stores.top_products_by_store)
        self.segment = by_id(db, segments.segments_by_id)
        self.segment_products = by_id_and_args(db, segments.popular_by_segment)
        self.session_events = by_id_and_args(db, engagement.events_by_session)
        self.timeline = by_id_and_args(db, engagement.timelines)
        self.order_lines = by_id(db, engagement.lines_by_order, list)
        self.customer_with_recommendations = by_id_and_args(db, self._customers_with_recommendations, lambda: None)

    async def _customers_with_recommendations(self, db: Database, ids: list[str], first: int) -> dict[str, Any]:
        """Customers and their (context-free) recommendations in one round trip; primes both loaders.

        Used when a query asks for a customer and its recommendations together, the front-ends' most
        frequent request: it saves the second round trip the nested field would cost.
        """
        found = await recommendation_queries.customers_with_personal(db, ids, first)
        personal = {customer_id: rows for customer_id, (_, rows) in found.items()}
        blended = await recommend(db, list(found), first=first, context=None, personal=personal)
        for customer_id, (row, _) in found.items():
            self.customer.prime(customer_id, row)
            self.recommendations.prime((customer_id, first, None), blended[customer_id])
        return {customer_id: row for customer_id, (row, _) in found.items()}
