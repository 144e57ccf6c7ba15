"""The project's error tree, in one place.

    CustomerGraphError             root of everything the project raises on purpose
    ├── ConfigurationError         bad or missing settings (environment variables, ports)
    ├── DatabaseUnavailable        the Neo4j server cannot be reached or refused the credentials
    ├── LocalServerError           the project-managed local Neo4j could not be assembled/started/stopped
    │   └── MissingToolError       java or mvn is not installed
    └── QueryError                 Cypher failed for a reason other than availability
        └── QueryTimedOut          the database stopped a statement that ran past its time limit

Foreign errors (from the neo4j driver) are translated once, in :func:`translate_neo4j_error`.
Command-line entry points print ``str(error)``; they never print a stack trace for these.
"""

from __future__ import annotations

from neo4j import exceptions as neo4j_exc


class CustomerGraphError(Exception):
    """Root of every error the project raises on purpose."""


class ConfigurationError(CustomerGraphError):
    """A setting is missing or invalid."""


class DatabaseUnavailable(CustomerGraphError):
    """The Neo4j server cannot be reached (down, wrong address, wrong credentials)."""


class LocalServerError(CustomerGraphError):
    """The project-managed local Neo4j server failed to be assembled, started or stopped."""


class MissingToolError(LocalServerError):
    """A tool the local server needs (java, mvn) is not installed."""


class QueryError(CustomerGraphError):
    """A Cypher statement failed for a reason other than availability."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class QueryTimedOut(QueryError):
    """The database stopped a statement (its transaction) that ran longer than the time allowed."""


# Neo4j's codes for a transaction stopped by its time limit (the client's ``timeout`` or the server's
# ``db.transaction.timeout``), and for one terminated while it ran (the limit reached mid-statement).
TIMEOUT_CODES = frozenset({
    "Neo.ClientError.Transaction.TransactionTimedOut",
    "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration",
    "Neo.TransientError.Transaction.TransactionTimedOut",
    "Neo.TransientError.Transaction.Terminated",
    "Neo.ClientError.Transaction.Terminated",
})


def translate_neo4j_error(error: Exception) -> CustomerGraphError:
    """Map an exception of the neo4j driver onto the project's error tree."""
    if isinstance(error, neo4j_exc.AuthError):
        return DatabaseUnavailable(f"Neo4j refused the credentials: {error}")
    if isinstance(error, (neo4j_exc.ServiceUnavailable, neo4j_exc.SessionExpired, OSError)):
        return DatabaseUnavailable(f"Neo4j is not reachable: {error}")
    if isinstance(error, neo4j_exc.Neo4jError) and error.code in TIMEOUT_CODES:
        return QueryTimedOut(error.message or str(error), code=error.code)
    if isinstance(error, neo4j_exc.Neo4jError):
        return QueryError(error.message or str(error), code=error.code)
    if isinstance(error, neo4j_exc.DriverError):
        return DatabaseUnavailable(f"Neo4j driver error: {error}")
    return CustomerGraphError(str(error))
