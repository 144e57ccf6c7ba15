"""The project-managed local Neo4j 5.26 Community server (with Browser, APOC core and OpenGDS).

Assembled from Maven Central with the machine's Maven (pom files in this folder), resolved once into a
cache folder outside the work tree, and run with its conf/data/logs under the project's home folder.
"""

from graph_model.local_server.distribution import Distribution, ensure_distribution
from graph_model.local_server.server import LocalServer, ServerStatus

__all__ = ["Distribution", "LocalServer", "ServerStatus", "ensure_distribution"]
