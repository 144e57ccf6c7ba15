"""Static files served with headers of their own (the GraphiQL assets, the clienteling page's files)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope


class StaticFilesWithHeaders(StaticFiles):
    """Starlette's ``StaticFiles`` on ``directory``; every file (or 304) carries ``headers`` too."""

    def __init__(self, directory: str | os.PathLike[str], headers: Mapping[str, str]) -> None:
        super().__init__(directory=directory)
        self.extra_headers = dict(headers)

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        """The file (or 304) with this folder's headers."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(self.extra_headers)
        return response
