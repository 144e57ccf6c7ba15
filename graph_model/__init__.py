"""The customer graph model: configuration, the database connection, the schema and the neomodel classes.

This is the lowest layer of the project: it imports nothing from ``loaders``, ``algorithms`` or ``api``.
"""

from graph_model.connection import close_driver, execute_read, execute_write, get_driver, run_query, session
from graph_model.errors import ConfigurationError, CustomerGraphError, DatabaseUnavailable
from graph_model.settings import Settings, load_settings

__all__ = [
    "ConfigurationError",
    "CustomerGraphError",
    "DatabaseUnavailable",
    "Settings",
    "close_driver",
    "execute_read",
    "execute_write",
    "get_driver",
    "load_settings",
    "run_query",
    "session",
]
