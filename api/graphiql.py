"""GraphiQL without a CDN: the page (``api/graphiql.html``) and its vendored assets
(``api/static/graphiql/``, see its README), served by the API itself under :data:`ASSETS_PATH`."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

ASSETS_PATH = "/graphiql-assets"
ASSETS_DIR = Path(__file__).parent / "static" / "graphiql"
PAGE = Path(__file__).parent / "graphiql.html"
IMMUTABLE = "public, max-age=31536000, immutable"  # every file name carries its version


def graphiql_html(default_headers: Mapping[str, str]) -> str:
    """The GraphiQL page; its fetcher sends ``default_headers`` with every request."""
    headers = json.dumps(dict(default_headers)).replace("<", "\\u003c")  # safe inside <script>
    return PAGE.read_text(encoding="utf-8").replace("__DEFAULT_HEADERS__", headers)


class GraphiQLAssets(StaticFiles):
    """The vendored files, cached by browsers for a year."""

    def __init__(self) -> None:
        super().__init__(directory=ASSETS_DIR)

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        """The file (or 304) with a long ``Cache-Control``."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = IMMUTABLE
        return response
