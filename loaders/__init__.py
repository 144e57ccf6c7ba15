"""Nightly-export loaders: export files (CSV, JSONL, Parquet) into the customer graph, idempotently.

Entry points: :func:`loaders.pipeline.load_drop`, :func:`loaders.pipeline.load_file`,
:func:`loaders.online_retail.load_online_retail`, :func:`loaders.generator.generate`, and the
``customer-graph load / generate / load-online-retail`` commands (:mod:`loaders.cli`).
"""
