"""The GraphQL schema, split by type: customer, engagement, product, store, segment, mutations."""

from api.schema.build import build_schema

__all__ = ["build_schema"]
