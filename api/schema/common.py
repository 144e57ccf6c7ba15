"""Types shared by the schema modules: locations, page info, enums, and helpers for resolvers."""

from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.types import Info

from api.limits import check_page_size
from graph_model.model.customers import normal_key

if TYPE_CHECKING:
    from api.context import RequestContext


def context(info: Info) -> RequestContext:
    """The request context of a resolver."""
    return info.context


def page_size(info: Info, first: int, argument: str = "first") -> int:
    """``first`` checked against the configured maximum page size."""
    return check_page_size(first, context(info).config.max_page_size, argument)


@strawberry.type(description="A WGS-84 position.")
class Location:
    latitude: float
    longitude: float

    @staticmethod
    def from_row(row: dict[str, Any]) -> Location | None:
        """The location in a row with ``latitude``/``longitude`` keys, if both are there."""
        if row.get("latitude") is None or row.get("longitude") is None:
            return None
        return Location(latitude=row["latitude"], longitude=row["longitude"])


class StrippedInput:
    """An input whose text fields (keys included) are read as the loaders read a key (:func:`normal_key`: without
    surrounding whitespace, composed Unicode), so a key spelled another way names the same node in every check and
    in the write. Until stop 40
    `trackEvent(sessionId: " WS00000109")` passed the tombstone and the token's ownership checks as an unknown
    session, then wrote into `WS00000109`, an erased person's (or another customer's) session (found by an
    audit)."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):  # type: ignore[arg-type]  # every strawberry input is a dataclass
            value = getattr(self, field.name)
            if isinstance(value, str):
                setattr(self, field.name, normal_key(value))


@strawberry.input(description="A WGS-84 position.")
class LocationInput:
    latitude: float
    longitude: float

    def check(self) -> LocationInput:
        """Itself, when it is a real position."""
        from api.errors import BadUserInput

        if not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180):
            raise BadUserInput("latitude must be within -90..90 and longitude within -180..180.")
        return self


@strawberry.enum(description="A channel of contact.")
class Channel(enum.Enum):
    WEB = "web"
    APP = "app"
    STORE = "store"
    PHONE = "phone"
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None
