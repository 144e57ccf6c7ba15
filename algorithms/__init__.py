"""Graph algorithms of the customer graph, one module per family (networkx-style).

* :mod:`algorithms.affinity`: products bought / viewed together (support, confidence, lift)
* :mod:`algorithms.similarity`: similar shoppers (cosine over weighted cross-channel interactions)
* :mod:`algorithms.recommend`: recommendations with explanations, context blending
* :mod:`algorithms.segments`: Louvain communities of shoppers and RFM segments
* :mod:`algorithms.retention`: BG/NBD churn risk and expected purchases
* :mod:`algorithms.trends`: popularity, rising products, popular per store / segment

Each is a set of functions from plain inputs (scipy sparse matrices, numpy arrays, pandas frames) to
plain outputs. :mod:`algorithms.projection` reads from Neo4j, :mod:`algorithms.writeback` writes
versioned results, :mod:`algorithms.pipeline` holds the pure computations and :mod:`algorithms.run` runs everything
(``customer-graph algorithms run``).
"""
