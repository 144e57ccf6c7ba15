"""The clienteling page for store associates and service desks: ``GET /clienteling``.

A plain HTML page with a small vanilla JavaScript module and a style sheet (``api/static/clienteling/``),
served by the API itself: no framework, no CDN, no build step. The page holds no data; it talks to
``/graphql`` like any other front-end, with the API key the associate enters (kept in
``sessionStorage``), so the key's role decides what it shows (personal fields only for an admin key).
A strict Content-Security-Policy keeps it to this origin.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from api.static_files import StaticFilesWithHeaders

PAGE_PATH = "/clienteling"
ASSETS_PATH = "/clienteling-assets"
ASSETS_DIR = Path(__file__).parent / "static" / "clienteling"
PAGE = ASSETS_DIR / "index.html"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer"}


async def clienteling(request: Request) -> Response:
    """``GET /clienteling``: the page (revalidated on every load: its files are not version-named)."""
    return FileResponse(PAGE, media_type="text/html; charset=utf-8", headers=HEADERS)


def clienteling_assets() -> StaticFilesWithHeaders:
    """The page's script and style sheet, with the page's headers."""
    return StaticFilesWithHeaders(ASSETS_DIR, HEADERS)
