"""Building the schema: the root types merged from the per-type modules, plus the extensions."""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import DisableIntrospection, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types import ExecutionContext

from api.config import ApiConfig
from api.documents import CachedParser
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
from graph_model.timestamps import to_utc

CACHE_SIZE = 1024


def _utc_datetime(value: object) -> datetime:
    """A ``DateTime`` argument as strawberry parses it, then in UTC (:func:`graph_model.timestamps.to_utc`): a
    time UTC cannot hold is a coercion error (an answer with a code) rather than an error inside a resolver."""
    parsed = DateTimeDefinition.parse_value(value)  # type: ignore[misc]
    try:
        return to_utc(parsed)
    except ValueError as error:
        raise StrawberryInputCoercionError(f'Value cannot represent a DateTime: "{value}". {error}') from None


#: strawberry's ``DateTime`` (same name, description and output), its arguments in UTC
UTC_DATETIME = strawberry.scalar(name="DateTime", description=DateTimeDefinition.description,
                                 serialize=datetime.isoformat, parse_value=_utc_datetime)


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
        config=StrawberryConfig(scalar_map={datetime: UTC_DATETIME}),
        extensions=[
            *limit_extensions(config.max_depth, config.max_cost, config.max_page_size, config.max_tokens),
            CachedParser,
            lambda: ValidationCache(maxsize=CACHE_SIZE),
            *([] if config.introspection_enabled else [DisableIntrospection]),
        ],
    )
