"""DataLoaders, built fresh for every request (a module-level loader would cache across requests).

Each loader collects the keys asked for in one tick of the event loop and fetches them in one round
trip, so a page of 50 customers with their recommendations costs a few queries, not 50. Loaders whose
fields take arguments use keys ``(id, *arguments)`` and run one query per distinct set of arguments.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from api.db import Database
from api.queries import catalogue, customers, engagement, notes, segments, stores
from api.queries import recommendations as recommendation_queries
from api.recommend import DEFAULT_KIND, RecommendationContext, recommend

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


async def _recommendations(db: Database, ids: list[str], first: int, context: RecommendationContext | None,
                           kind: str) -> dict[str, Any]:
    return await recommend(db, ids, first=first, context=context, kind=kind)


async def _visits(db: Database, ids: list[str], first: int, start: datetime | None,
                  end: datetime | None) -> dict[str, Any]:
    return await stores.visits_by_store(db, ids, first, start, end)


async def _visit_stats(db: Database, ids: list[str], start: datetime | None, end: datetime | None) -> dict[str, Any]:
    return await stores.visit_stats_by_store(db, ids, start, end)


class Loaders:
    """Every DataLoader of one request, each built on first use (most requests need two or three)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @cached_property
    def customer(self) -> DataLoader[str, Any]:
        return by_id(self.db, customers.customers_by_ids)

    @cached_property
    def identities(self) -> DataLoader[tuple[Hashable, ...], Any]:
        return by_id_and_args(self.db, customers.identities_by_customer)

    @cached_property
    def consents(self) -> DataLoader[str, Any]:
        return by_id(self.db, customers.consents_by_customer, list)

    @cached_property
    def notes(self) -> DataLoader[tuple[Hashable, ...], Any]:
        return by_id_and_args(self.db, notes.notes_by_customer)

    @cached_property
    def contactable(self) -> DataLoader[tuple[Hashable, ...], Any]:
        return by_id_and_args(self.db, customers.contactable, lambda: False)

    @cached_property
    def customer_segments(self) -> DataLoader[str, Any]:
        return by_id(self.db, customers.segments_by_customer, list)

    @cached_property
    def home_store(self) -> DataLoader[str, Any]:
        return by_id(self.db, customers.home_stores)

    @cached_property
    def similar(self) -> DataLoader[tuple[Hashable, ...], Any]:
        return by_id_and_args(self.db, customers.similar_shoppers)

    @cached_property
    def recommendations(self) -> DataLoader[tuple[Hashable, ...], Any]:
        return by_id_and_args(self.db, _recommendations)

    @cached_property
    def product(self) -> DataLoader[str, Any]:
        return by_id(self.db, catalogue.products_by_sku)

    @cached_property
    def categories(self) -> DataLoader[str, Any]:
        return by_id(self.db, catalogue.categories_by_product, list)

    @cached_property
    def brand(self) -> DataLoader[str, Any]:
        return by_id(self.db, catalogue.brands_by_product)

    @cached_property
    def affinities(self) -> DataLoader[tuple[Hashable, ...], Any]:
        return by_id_and_args(self.db, catalogue.affinities_by_product)

    @cached_property
    def store(self) -> DataLoader[str, Any]:
        return by_id(self.db, stores.stores_by_id)

    @cached_property
    def store_visits(self) -> DataLoader[tuple[Hashable, ...], Any]:
        return by_id_and_args(self.db, _visits)

    @cached_property
    def store_visit_stats(self) -> DataLoader[tuple[Hashable, ...], Any]:
        return by_id_and_args(self.db, _visit_stats, dict)

    @cached_property
    def top_products(self) -> DataLoader[tuple[Hashable, ...], Any]:
        return by_id_and_args(self.db, stores.top_products_by_store)

    @cached_property
    def segment(self) -> DataLoader[str, Any]:
        return by_id(self.db, segments.segments_by_id)

    @cached_property
    def segment_products(self) -> DataLoader[tuple[Hashable, ...], Any]:
        return by_id_and_args(self.db, segments.popular_by_segment)

    @cached_property
    def session_events(self) -> DataLoader[tuple[Hashable, ...], Any]:
        return by_id_and_args(self.db, engagement.events_by_session)

    @cached_property
    def timeline(self) -> DataLoader[tuple[Hashable, ...], Any]:
        return by_id_and_args(self.db, engagement.timelines)

    @cached_property
    def order_lines(self) -> DataLoader[tuple[Hashable, ...], Any]:
        return by_id_and_args(self.db, engagement.lines_by_order)

    @cached_property
    def customer_with_timeline(self) -> DataLoader[tuple[Hashable, ...], Any]:
        return by_id_and_args(self.db, self._customers_with_timeline, lambda: None)

    async def _customers_with_timeline(self, db: Database, ids: list[str], limit: int,
                                       after: tuple[str, str] | None) -> dict[str, Any]:
        """Customers and the first page of their unfiltered timeline in one round trip; primes both loaders."""
        found = await engagement.customers_with_timeline(db, ids, limit, after)
        for customer_id, (row, entries) in found.items():
            self.customer.prime(customer_id, row)
            self.timeline.prime((customer_id, limit, engagement.ENTRY_KINDS, None, None, None, after), entries)
        return {customer_id: row for customer_id, (row, _) in found.items()}

    @cached_property
    def customer_with_recommendations(self) -> DataLoader[tuple[Hashable, ...], Any]:
        return by_id_and_args(self.db, self._customers_with_recommendations, lambda: None)

    async def _customers_with_recommendations(self, db: Database, ids: list[str], first: int) -> dict[str, Any]:
        """Customers and their (context-free) recommendations in one round trip; primes both loaders.

        Used when a query asks for a customer and its recommendations together, the front-ends' most
        frequent request: it saves the second round trip the nested field would cost.
        """
        found = await recommendation_queries.customers_with_personal(db, ids, first)
        personal = {customer_id: decided for customer_id, (_, decided) in found.items()}
        blended = await recommend(db, list(found), first=first, context=None, personal=personal, kind=DEFAULT_KIND)
        for customer_id, (row, _) in found.items():
            self.customer.prime(customer_id, row)
            self.recommendations.prime((customer_id, first, None, DEFAULT_KIND), blended[customer_id])
        return {customer_id: row for customer_id, (row, _) in found.items()}
