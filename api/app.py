"""The Starlette application: ``/graphql`` (GraphiQL in development or when introspection is enabled,
its files under ``/graphiql-assets``, :mod:`api.graphiql`), ``/healthz``, ``/readyz``, ``/guide``
(the analysts' Neo4j Browser guide, :mod:`api.guide`), ``/clienteling`` (the store associates' page,
:mod:`api.clienteling`, its files under ``/clienteling-assets``) and ``/v1/…`` (the Segment tracking API,
:mod:`api.collection`)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from api.clienteling import ASSETS_PATH as CLIENTELING_ASSETS_PATH
from api.clienteling import PAGE_PATH as CLIENTELING_PATH
from api.clienteling import clienteling, clienteling_assets
from api.collection.config import CollectionConfig, load_collection_config
from api.collection.routes import CollectionEndpoints, off_routes
from api.collection.spool import Spool
from api.collection.writer import Collector
from api.config import ApiConfig, load_api_config
from api.db import Database
from api.errors import HTTP_ERROR_HANDLERS
from api.graphiql import ASSETS_PATH, graphiql_assets
from api.guide import GUIDE_PATH, guide
from api.http import GraphQLEndpoint
from api.schema import build_schema
from graph_model import connection
from graph_model.errors import CustomerGraphError
from graph_model.settings import Settings

READY_TIMEOUT_SECONDS = 3.0
GC_YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default is 700)


def create_app(config: ApiConfig | None = None, settings: Settings | None = None,
               database: Database | None = None, collection: CollectionConfig | None = None) -> Starlette:
    """The API as an ASGI app; ``config``, ``settings`` and ``collection`` default to the environment.

    ``database`` (built from ``settings`` when not given) is exposed as ``app.state.db``; its driver is
    built on first use and closed at shutdown. With write keys (``collection``), the collector's spool is
    opened and its writer thread runs while the app does (``app.state.collector``).
    """
    config = config or load_api_config()
    config.check()  # production without keys, or with a development key, never starts
    collection = collection or load_collection_config(development=config.development)
    db = database or Database(settings, statement_timeout=config.statement_timeout)
    endpoint = GraphQLEndpoint(build_schema(config), db, config)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        if collector is not None and not collector.warmed.is_set():  # planning its writers (a few seconds)
            return JSONResponse({"status": "starting", "collector": "planning its writers"}, status_code=503)
        try:
            await asyncio.wait_for(db.ping(), READY_TIMEOUT_SECONDS)
        except (CustomerGraphError, TimeoutError):
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ready", "database": "reachable"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Long-lived objects (schema, modules) leave the collector's generations, and young collections
        # run less often: fewer and shorter pauses in the request path (measured by benchmarks/bench_api.py).
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        if collector is not None:
            collector.start()
        try:
            yield
        finally:
            if collector is not None:
                await asyncio.to_thread(collector.stop)
            await db.close()

    routes: list[BaseRoute] = [
        Route("/graphql", endpoint.handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route(GUIDE_PATH, guide, methods=["GET", "OPTIONS"]),
        Route(CLIENTELING_PATH, clienteling),
        Mount(CLIENTELING_ASSETS_PATH, app=clienteling_assets()),
    ]
    if config.introspection_enabled:  # GraphiQL is served: so are its files (no CDN)
        routes.append(Mount(ASSETS_PATH, app=graphiql_assets()))
    collector: Collector | None = None
    if collection.enabled:
        if settings is not None:
            connection.configure(settings)  # the collector writes through the loaders (the sync driver)
        spool = Spool(collection.spool_path)
        collector = Collector(collection, spool)
        routes.extend(CollectionEndpoints(collection, spool, collector, endpoint.tokens).routes())
        endpoint.collector = collector
    else:
        routes.extend(off_routes())
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=HTTP_ERROR_HANDLERS)
    app.state.collector = collector
    app.state.db = db
    app.state.config = config
    app.state.schema = endpoint.schema
    return app
