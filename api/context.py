"""What every resolver gets as ``info.context``: the caller, the database, the limits and the loaders."""

from __future__ import annotations

from dataclasses import dataclass, field

from api.auth import Principal
from api.config import ApiConfig
from api.db import Database
from api.loaders import Loaders


@dataclass
class RequestContext:
    """One request's context; its DataLoaders live (and cache) only as long as the request."""

    principal: Principal
    db: Database
    config: ApiConfig
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db)
