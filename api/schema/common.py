"""Types shared by the schema modules: locations, page info, enums, and helpers for resolvers."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types import Info
from strawberry.types.base import StrawberryContainer

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


def _is_id(annotation: object) -> bool:
    """Whether an argument's type is ``ID``, optional or a list of it."""
    while isinstance(annotation, StrawberryContainer):
        annotation = annotation.of_type
    return annotation is strawberry.ID


def _read_key(value: Any) -> Any:
    if isinstance(value, str):
        return normal_key(value)
    if isinstance(value, list):
        return [_read_key(item) for item in value]
    return value


class KeyArguments(FieldExtension):
    """A field whose ``ID`` arguments are read as the loaders read a key (:func:`normal_key`), as the texts of
    every input object are (:class:`StrippedInput`): ``customer(id: " C1 ")`` and ``addNote(customerId:
    "C1\\u200b")`` name C1 (until stop 41 they answered NOT_FOUND). GraphQL reserves the name ``ID``, so its
    scalar cannot be replaced: every root field with ``ID`` arguments carries ``extensions=[KeyArguments()]``,
    and ``tests/test_api_keys.py`` checks that none is missed."""

    def apply(self, field: Any) -> None:
        self.names = [argument.python_name for argument in field.arguments if _is_id(argument.type)]

    def _read(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**kwargs, **{name: _read_key(kwargs[name]) for name in self.names if name in kwargs}}

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        return next_(source, info, **self._read(kwargs))

    async def resolve_async(self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info,
                            **kwargs: Any) -> Any:
        return await next_(source, info, **self._read(kwargs))


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
