"""GraphQL documents parsed once: one parse cache for the schema and for the HTTP layer's question "which
operation?" (which needs the document before the schema runs it).

Strawberry runs the first operation of a document when no ``operationName`` is given; the GraphQL-over-HTTP
spec (and graphql-core's own executor) refuse a document with several operations and no name, as a client
that sends one has made a mistake, and the first one may be the wrong (a mutation instead of a query) one.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, parse
from strawberry.extensions import SchemaExtension

#: Documents kept parsed (by text and parse options; bounded: a public endpoint must not grow it at will).
CACHE_SIZE = 1024

parse_document = lru_cache(maxsize=CACHE_SIZE)(parse)


class CachedParser(SchemaExtension):
    """Strawberry's parsing step through :data:`parse_document` (as its ``ParserCache`` does with its own)."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.graphql_document = parse_document(context.query, **context.parse_options)
        yield


def operation_count(query: str, *, max_tokens: int) -> int | None:
    """How many operations ``query`` defines (``None`` when it does not parse: the schema reports why), parsed
    with the same options as the schema's (``max_tokens``: the :class:`MaxTokensLimiter`'s), so from the same
    cache entry.

    >>> operation_count("query A { a } query B { b }", max_tokens=100)
    2
    >>> operation_count("{ a } fragment F on Q { b }", max_tokens=100), operation_count("{ a", max_tokens=100)
    (1, None)
    """
    try:
        document: DocumentNode = parse_document(query, max_tokens=max_tokens)
    except GraphQLError:
        return None
    return sum(isinstance(definition, OperationDefinitionNode) for definition in document.definitions)

