"""Mutations of the two-way conversation, written straight into the graph.

``trackEvent``, ``recordResponse`` and ``setConsent`` need a writer key, or a customer token for its own
customer (:func:`_scope_track`; another customer's id or message answers as an unknown one);
``eraseCustomer`` an admin key.
Consent is written by :mod:`graph_model.privacy.consent`'s one writer and erasure done by
:mod:`graph_model.privacy.erasure`, nowhere else; both are audited.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import strawberry
from pydantic import ValidationError
from strawberry.types import Info

from api.errors import BadUserInput, Forbidden, NotFound
from api.queries import tracking, writes
from api.queries.ownership import owners
from api.schema.common import KeyArguments, StrippedInput, context
from api.schema.customer import Consent, IdentityInput
from api.schema.permissions import CanErase, CanWriteOwn
from graph_model.model import CONSENT_CHANNELS, CONSENT_PURPOSES
from graph_model.privacy.erasure import ErasureResult, erase_customer
from graph_model.timestamps import latest_acceptable, to_utc
from loaders.entities import HAPPENED, SPECS
from loaders.schemas import EventRow

MAX_TEXT = 2_000
MAX_KEY = 200


@strawberry.enum(description="The interactions a front-end can track.")
class InteractionType(enum.Enum):
    PAGE_VIEW = "page_view"
    SEARCH = "search"
    PRODUCT_VIEW = "product_view"
    ADD_TO_CART = "add_to_cart"
    REMOVE_FROM_CART = "remove_from_cart"
    CHECKOUT = "checkout"
    PURCHASE = "purchase"
    STORE_CHECK_IN = "store_check_in"


@strawberry.enum(description="The web, app or in-store channel of a session.")
class SessionChannel(enum.Enum):
    WEB = "web"
    APP = "app"
    STORE = "store"


@strawberry.enum(description="A customer's response to a message.")
class ResponseType(enum.Enum):
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    REDEEMED = "redeemed"
    REPLIED = "replied"
    UNSUBSCRIBED = "unsubscribed"


@strawberry.input(description="One interaction. `eventId` makes retries idempotent (the same id with other content "
                                     "is CONFLICT); STORE_CHECK_IN records a visit.")
class TrackEventInput(StrippedInput):
    type: InteractionType
    session_id: strawberry.ID | None = None
    channel: SessionChannel = SessionChannel.WEB
    event_id: strawberry.ID | None = None
    at: datetime | None = None
    customer_id: strawberry.ID | None = None
    identity: IdentityInput | None = None
    product_sku: strawberry.ID | None = None
    category_id: strawberry.ID | None = None
    store_id: strawberry.ID | None = None
    order_id: strawberry.ID | None = None
    query: str | None = None
    page: str | None = None
    results_count: int | None = None
    quantity: int | None = None
    device: str | None = None


@strawberry.type(description="What trackEvent recorded.")
class TrackEventPayload:
    event_id: strawberry.ID
    type: InteractionType
    at: datetime
    session_id: strawberry.ID | None
    customer_id: strawberry.ID | None
    duplicate: bool = strawberry.field(description="True when this eventId had been recorded before (with the same "
                                                   "content): the stored event is answered, nothing written again.")


@strawberry.input(description="A response to a message; the customer is the message's recipient.")
class RecordResponseInput(StrippedInput):
    message_id: strawberry.ID
    type: ResponseType
    at: datetime | None = None
    text: str | None = None


@strawberry.type(description="What recordResponse recorded.")
class RecordResponsePayload:
    message_id: strawberry.ID
    customer_id: strawberry.ID
    type: ResponseType
    at: datetime
    replayed: bool = strawberry.field(default=False, description="True when this idempotencyKey had been answered "
                                                                 "before: the first answer, nothing written again.")


@strawberry.input(description="Grant or withdraw consent for one channel and purpose.")
class SetConsentInput(StrippedInput):
    customer_id: strawberry.ID
    channel: str
    purpose: str
    granted: bool


@strawberry.type(description="What eraseCustomer removed (zeros when the customer had been erased before).")
class EraseCustomerPayload:
    customer_id: strawberry.ID
    erased: bool = strawberry.field(description="True when the customer is erased now, by this call or before.")
    already_erased: bool = strawberry.field(description="True when an earlier erasure had removed the customer.")
    identities_removed: int
    consents_removed: int
    sessions_scrubbed: int
    visits_detached: int
    results_removed: int = strawberry.field(description="Algorithm results and responses about the customer.")


def _now(at: datetime | None) -> datetime:
    """When an interaction happened: ``at`` as given (the ``DateTime`` scalar makes it UTC), else now; a time
    past :func:`graph_model.timestamps.latest_acceptable` is bad input, as it is for the loaders."""
    if at is None:
        return datetime.now(UTC)
    at = to_utc(at)
    if at > latest_acceptable():
        raise BadUserInput(f"`at` ({at.isoformat()}) is in the future; {HAPPENED}.", argument="at")
    return at


def _missing(found: dict[str, object], wanted: dict[str, object]) -> None:
    for name, value in wanted.items():
        if value is not None and not found[name]:
            raise NotFound(f"No {name} with id {str(value)!r}.", argument=name)


async def _scope_track(info: Info, data: TrackEventInput, customer_id: str, refs: dict[str, object]) -> None:
    """Keep a customer token's event to itself: another customer's id or order answers as an unknown one
    (``refs`` is changed to say so), and events go only into a new session or one of its own."""
    own = context(info).principal.customer_id
    if customer_id != own:
        refs["customer"] = refs["erased"] = False
        return
    if data.session_id is None and data.order_id is None:
        return
    found = await owners(context(info).db, session_id=str(data.session_id) if data.session_id is not None else None,
                         order_id=str(data.order_id) if data.order_id is not None else None)
    if data.order_id is not None and not found.order_is_only(customer_id):
        refs["order"] = False
    if data.session_id is not None and data.type is not InteractionType.STORE_CHECK_IN \
            and not found.session_open_to(customer_id):
        raise Forbidden("A customer token adds events only to a new session or one of its own.",
                        argument="sessionId")


def _event_row(data: TrackEventInput, event_id: str, at: datetime) -> dict[str, Any]:
    """The loaders' events row (validated by the loaders' schema and checks), or BAD_USER_INPUT."""
    if data.session_id is None:
        raise BadUserInput("`sessionId` is required for this interaction type.", argument="sessionId")
    try:
        row = EventRow(eventId=event_id, sessionId=str(data.session_id), type=data.type.value, at=at,
                       page=data.page, query=data.query, resultsCount=data.results_count, quantity=data.quantity,
                       sku=data.product_sku, categoryId=data.category_id, orderId=data.order_id)
    except ValidationError as error:
        fields = sorted({str(part["loc"][0]) for part in error.errors() if part["loc"]})
        raise BadUserInput(f"invalid event fields: {', '.join(fields)}.") from None
    spec = SPECS["events"]
    problem = spec.check(row) if spec.check else None
    if problem:
        raise BadUserInput(problem)
    return spec.params(row)


def _payload(event_id: str, recorded: tracking.Recorded) -> TrackEventPayload:
    return TrackEventPayload(event_id=strawberry.ID(event_id), type=InteractionType(recorded.type), at=recorded.at,
                             session_id=_id(recorded.session_id), customer_id=_id(recorded.customer_id),
                             duplicate=not recorded.created)


def _id(value: str | None) -> strawberry.ID | None:
    return strawberry.ID(value) if value is not None else None


async def _track(info: Info, data: TrackEventInput) -> TrackEventPayload:
    db, principal = context(info).db, context(info).principal
    event_id = str(data.event_id) if data.event_id is not None else str(uuid.uuid4())
    at = _now(data.at)
    if principal.is_customer and data.identity is not None:
        raise Forbidden("A customer token tracks events of its own customer: leave out `identity` (identifiers "
                        "are linked by the retailer's backend).", argument="identity")
    identity_key = data.identity.key() if data.identity else None
    customer_id = str(data.customer_id) if data.customer_id is not None else principal.customer_id
    is_check_in = data.type is InteractionType.STORE_CHECK_IN
    session_id = str(data.session_id) if data.session_id is not None and not is_check_in else None
    for text in (data.query, data.page, data.device):
        if text is not None and len(text) > MAX_TEXT:
            raise BadUserInput(f"texts are limited to {MAX_TEXT} characters.")
    refs = await writes.references(db, customerId=customer_id, sku=data.product_sku, categoryId=data.category_id,
                                   storeId=data.store_id, orderId=data.order_id, identityKey=identity_key,
                                   sessionId=session_id)
    if principal.is_customer:
        assert customer_id is not None
        await _scope_track(info, data, customer_id, refs)
    if refs["erased"]:  # an erased person's id or identifier: refused like an unknown one, nothing written
        if customer_id is not None:
            raise NotFound(f"No customer with id {customer_id!r}.", argument="customer")
        raise NotFound("No customer with that identifier.", argument="identity")
    if refs["sessionErased"]:  # an erased person's session takes no new events (as in the loaders)
        raise NotFound(f"No session with id {session_id!r}.", argument="sessionId")
    _missing(refs, {"customer": customer_id, "product": data.product_sku, "category": data.category_id,
                    "store": data.store_id, "order": data.order_id})
    customer_id = customer_id or refs["identifiedCustomerId"]
    if is_check_in:
        if customer_id is None or data.store_id is None:
            raise BadUserInput("STORE_CHECK_IN needs a known customer (customerId or identity) and a storeId.")
        recorded = await tracking.check_in(db, event_id=event_id, customer_id=customer_id,
                                           store_id=str(data.store_id), at=at, at_given=data.at is not None,
                                           caller=principal.customer_id)
        return _payload(event_id, recorded)
    event = _event_row(data, event_id, at)
    identity = ({"key": identity_key, "type": data.identity.type, "value": data.identity.value}
                if data.identity and identity_key else None)
    session = tracking.SessionInput(channel=data.channel.value, device=data.device, customer_id=customer_id,
                                    store_id=str(data.store_id) if data.store_id is not None else None,
                                    identity=identity)
    recorded = await tracking.track_event(db, event, session, at_given=data.at is not None,
                                          caller=principal.customer_id)
    return _payload(event_id, recorded)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Track an interaction (page view, search, product view, cart, purchase, check-in).",
                         permission_classes=[CanWriteOwn])
    async def track_event(self, info: Info, input: TrackEventInput) -> TrackEventPayload | None:
        return await _track(info, input)

    @strawberry.mutation(description="Record a customer's response to a message (opened, clicked, redeemed, replied...).",
                         permission_classes=[CanWriteOwn])
    async def record_response(self, info: Info, input: RecordResponseInput,
                              idempotency_key: Annotated[str | None, strawberry.argument(
                                  description="Makes retries idempotent: the same key replays the first answer; "
                                              "with other content it is CONFLICT.")] = None,
                              ) -> RecordResponsePayload | None:
        if input.text is not None and len(input.text) > MAX_TEXT:
            raise BadUserInput(f"`text` is limited to {MAX_TEXT} characters.", argument="text")
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_KEY:
            raise BadUserInput(f"`idempotencyKey` is 1 to {MAX_KEY} characters.", argument="idempotencyKey")
        db, at = context(info).db, _now(input.at)
        target = await writes.response_target(db, str(input.message_id))
        if target is None or not context(info).principal.may_read(target["customerId"]):
            raise NotFound(f"No message with id {str(input.message_id)!r}.", argument="messageId")
        row = await writes.record_response(db, message_id=str(input.message_id), customer_id=target["customerId"],
                                           channel=target["channel"], type_=input.type.value, at=at,
                                           text=input.text, actor=context(info).principal.label,
                                           idempotency_key=idempotency_key, at_given=input.at is not None)
        if row is None:  # the message's recipient went between the two statements (erased)
            raise NotFound(f"No message with id {str(input.message_id)!r}.", argument="messageId")
        return RecordResponsePayload(message_id=input.message_id, customer_id=row["customerId"],
                                     type=ResponseType(row["type"]), at=row["at"], replayed=row["replayed"])

    @strawberry.mutation(description="Grant or withdraw consent for one channel and purpose (audited).",
                         permission_classes=[CanWriteOwn])
    async def set_consent(self, info: Info, input: SetConsentInput) -> Consent | None:
        if input.channel not in CONSENT_CHANNELS or input.purpose not in CONSENT_PURPOSES:
            raise BadUserInput(f"channel must be one of {', '.join(CONSENT_CHANNELS)} and purpose one of "
                               f"{', '.join(CONSENT_PURPOSES)}.")
        customer_id = str(input.customer_id)
        if not context(info).principal.may_read(customer_id):  # another customer than a token's own: unknown
            raise NotFound(f"No customer with id {customer_id!r}.", argument="customerId")
        row = await writes.set_consent(context(info).db, customer_id=customer_id, channel=input.channel,
                                       purpose=input.purpose, granted=input.granted, at=datetime.now(UTC),
                                       actor=context(info).principal.label)
        if row is None:
            raise NotFound(f"No customer with id {customer_id!r}.", argument="customerId")
        return Consent.from_row(row)

    @strawberry.mutation(description="Right to erasure (graph_model.privacy.erasure): remove the person, keep "
                                     "anonymous history, tombstone the id and identifiers. Erasing again answers "
                                     "`alreadyErased`; an id that never existed is NOT_FOUND.",
                         permission_classes=[CanErase], extensions=[KeyArguments()])
    async def erase_customer(self, info: Info, customer_id: strawberry.ID) -> EraseCustomerPayload | None:
        request = context(info)
        actor, collector = request.principal.label, request.collector
        key = str(customer_id)  # read as a key (KeyArguments): a pasted " C1" is C1
        if collector is None:
            result = await asyncio.to_thread(erase_customer, key, actor=actor)
        else:  # not while a batch of collected messages is written (it would write the person again)
            def erase() -> ErasureResult:
                with collector.erasing(key):
                    return erase_customer(key, actor=actor)

            result = await asyncio.to_thread(erase)
        if not result.erased:
            raise NotFound(f"No customer with id {key!r}.", argument="customerId")
        return EraseCustomerPayload(customer_id=strawberry.ID(key), erased=result.erased,
                                    already_erased=result.already_erased,
                                    identities_removed=result.identities_removed,
                                    consents_removed=result.consents_removed,
                                    sessions_scrubbed=result.sessions_scrubbed,
                                    visits_detached=result.visits_detached, results_removed=result.results_removed)
