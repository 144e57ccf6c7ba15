"""GraphiQL without a CDN: the page (``api/graphiql.html``) and its vendored assets
(``api/static/graphiql/``, see its README), served by the API itself under :data:`ASSETS_PATH`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from api.static_files import StaticFilesWithHeaders

ASSETS_PATH = "/graphiql-assets"
ASSETS_DIR = Path(__file__).parent / "static" / "graphiql"
PAGE = Path(__file__).parent / "graphiql.html"
IMMUTABLE = "public, max-age=31536000, immutable"  # every file name carries its version


def graphiql_html(default_headers: Mapping[str, str]) -> str:
    """The GraphiQL page; its fetcher sends ``default_headers`` with every request."""
    headers = json.dumps(dict(default_headers)).replace("<", "\\u003c")  # safe inside <script>
    return _page_text().replace("__DEFAULT_HEADERS__", headers)


@cache
def _page_text() -> str:
    """The page file, read once per process (it ships with the package)."""
    return PAGE.read_text(encoding="utf-8")


def graphiql_assets() -> StaticFilesWithHeaders:
    """The vendored files, cached by browsers for a year."""
    return StaticFilesWithHeaders(ASSETS_DIR, {"Cache-Control": IMMUTABLE})
