"""The ``customer-graph`` command: thin wrappers over ``graph_model``, ``loaders``, ``algorithms`` and ``api``."""
