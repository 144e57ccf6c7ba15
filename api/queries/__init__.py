"""Query functions: Cypher as named constants, always parameterised, one module per concern.

Each function takes the :class:`api.db.Database` and plain values and returns plain rows; resolvers
and DataLoaders call these functions and never hold Cypher themselves.
"""
