"""Building the schema: the root types merged from the per-type modules, plus the extensions."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, ParserCache, ValidationCache
from strawberry.types import ExecutionContext

from api.config import ApiConfig
from api.limits import limit_extensions
from api.schema.clienteling import ClientelingQuery
from api.schema.customer import CustomerQuery
from api.schema.engagement import MessageEntry, OrderEntry, ResponseEntry, SessionEntry, VisitEntry
from api.schema.mutations import Mutation
from api.schema.notes import NoteMutation
from api.schema.privacy import PrivacyQuery
from api.schema.product import ProductQuery
from api.schema.segment import SegmentQuery
from api.schema.store import StoreQuery

CACHE_SIZE = 1024


@strawberry.type(description="The customer graph: customers, products, stores and segments.")
class Query(CustomerQuery, ProductQuery, StoreQuery, SegmentQuery, PrivacyQuery, ClientelingQuery):
    pass


@strawberry.type(name="Mutation")
class AllMutations(Mutation, NoteMutation):
    pass


class Schema(strawberry.Schema):
    """A schema that logs only unexpected errors (expected ones are answered with a code, see api.errors)."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Nothing to log here: :func:`api.errors.format_error` logs unexpected errors once."""


def build_schema(config: ApiConfig | None = None) -> strawberry.Schema:
    """The schema with its limits, strawberry's parser and validation caches, and introspection refused
    unless ``config`` enables it (development, or ``CUSTOMER_GRAPH_INTROSPECTION=1``)."""
    config = config or ApiConfig()
    return Schema(
        query=Query,
        mutation=AllMutations,
        types=[SessionEntry, OrderEntry, VisitEntry, MessageEntry, ResponseEntry],
        extensions=[
            *limit_extensions(config.max_depth, config.max_cost, config.max_page_size, config.max_tokens),
            lambda: ParserCache(maxsize=CACHE_SIZE),
            lambda: ValidationCache(maxsize=CACHE_SIZE),
            *([] if config.introspection_enabled else [DisableIntrospection]),
        ],
    )
