"""Customers: profile, identities, consents, segments, churn risk, home store, timeline, recommendations,
similar shoppers, nearby stores and offers."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from graphql import FieldNode, value_from_ast_untyped
from strawberry.types import Info

from api.auth import Role
from api.db import from_micros
from api.errors import BadUserInput, Forbidden, NotFound
from api.queries import customers as q
from api.queries.ownership import owners
from api.recommend import RecommendationContext
from api.schema.common import (
    Channel,
    KeyArguments,
    Location,
    LocationInput,
    StrippedInput,
    context,
    page_size,
)
from api.schema.engagement import EngagementConnection, EngagementType, decode_cursor, engagement_history
from api.schema.notes import Note, customer_notes
from api.schema.permissions import CanAdminister, CanSeePersonalData
from api.schema.product import Product
from api.schema.segment import Segment
from api.schema.store import Store
from graph_model.model import IDENTITY_TYPES, identity_key
from graph_model.privacy.policy import current_policy

MAX_RADIUS_KM = 200.0


@strawberry.type(description="An identifier resolved to the customer.")
class Identity:
    type: str
    first_seen: datetime | None
    last_seen: datetime | None
    raw_value: strawberry.Private[str]
    customer_id: strawberry.Private[str]

    @strawberry.field(description="The identifier itself (personal data; the read is audited).",
                      permission_classes=[CanSeePersonalData])
    def value(self, info: Info) -> str | None:
        context(info).read_personal(self.customer_id, "identity.value")
        return self.raw_value


@strawberry.type(description="What the customer allows on one channel for one purpose.")
class Consent:
    channel: str
    purpose: str
    granted: bool
    updated_at: datetime | None

    @staticmethod
    def from_row(row: dict[str, Any]) -> Consent:
        return Consent(channel=row["channel"], purpose=row["purpose"], granted=row["granted"],
                       updated_at=row.get("updatedAt"))


@strawberry.enum(description="What a recommendation list holds.")
class RecommendationKind(Enum):
    MIXED = strawberry.enum_value(
        "MIXED", description="Due re-orders in the first 80% of the places, most probable first, then discoveries "
                             "(which also fill the places re-orders leave free).")
    DISCOVER = strawberry.enum_value(
        "DISCOVER", description="Products the customer never bought, blended with the context when given.")
    BUY_AGAIN = strawberry.enum_value(
        "BUY_AGAIN", description="Products the customer bought before and is due to buy again, most probable first; "
                                 "score = the probability of buying it again within 90 days.")


@strawberry.type(description="A recommended product with its blended score and why.")
class Recommendation:
    product: Product
    score: float = strawberry.field(description="The blended score (DISCOVER) or the probability of buying it again "
                                                "(BUY_AGAIN); comparable within one source. The list's order is the "
                                                "answer's order.")
    base_score: float | None = strawberry.field(description="The precomputed RECOMMENDED score, if any.")
    rank: int | None = strawberry.field(description="The precomputed rank, if any.")
    explanation: str = strawberry.field(description="Why, in words, strongest reason first.")
    sources: list[str] = strawberry.field(
        description="BUY_AGAIN, PERSONAL, CONTEXT_PRODUCT, CONTEXT_SESSION, CONTEXT_STORE, SEGMENT_POPULAR, "
                    "STORE_POPULAR, TRENDING.")
    evidence: list[str]
    stock_at_store: int | None = strawberry.field(description="Stock at the context store, when one is given.")


@strawberry.input(description="Where the customer is right now; blended into recommendations.")
class RecommendationContextInput(StrippedInput):
    store_id: strawberry.ID | None = None
    session_id: strawberry.ID | None = None
    product_sku: strawberry.ID | None = None
    location: LocationInput | None = None

    def to_context(self) -> RecommendationContext:
        location = self.location.check() if self.location else None
        return RecommendationContext(
            store_id=str(self.store_id) if self.store_id is not None else None,
            session_id=str(self.session_id) if self.session_id is not None else None,
            product_sku=str(self.product_sku) if self.product_sku is not None else None,
            latitude=location.latitude if location else None, longitude=location.longitude if location else None,
        )


@strawberry.type(description="A store near the customer.")
class NearbyStore:
    store: Store
    distance_km: float


@strawberry.type(description="An offer valid now, at any store or at a store near the customer.")
class Offer:
    id: strawberry.ID
    description: str
    discount_pct: float | None
    valid_from: datetime | None
    valid_to: datetime | None
    store: Store | None
    distance_km: float | None


@strawberry.input(description="An identifier: its type (email_hash, device_id, cookie, loyalty_card, customer_ref) and value.")
class IdentityInput(StrippedInput):
    type: str
    value: str

    def key(self) -> str:
        if self.type not in IDENTITY_TYPES:
            raise BadUserInput(f"identity type must be one of {', '.join(IDENTITY_TYPES)}.", argument="identity")
        return identity_key(self.type, self.value)


def _radius(radius_km: float) -> float:
    if not 0 < radius_km <= MAX_RADIUS_KM:
        raise BadUserInput(f"`radiusKm` must be within 0..{MAX_RADIUS_KM:g}.", argument="radiusKm")
    return radius_km


@strawberry.type(description="One person, across every identifier and channel.")
class Customer:
    id: strawberry.ID
    city: str | None
    loyalty_tier: str | None
    created_at: datetime | None
    erased_at: datetime | None
    churn_risk: float | None = strawberry.field(description="0..1: the probability of no purchase in the next 90 days (retention "
                                                          "algorithm; 1 - pAlive when it had too little to learn from). "
                                                          "Null while the customer withdraws analytics, as are pAlive, "
                                                          "expectedPurchases90d, the RFM fields and segments.")
    p_alive: float | None
    expected_purchases_90d: float | None = strawberry.field(name="expectedPurchases90d")
    rfm_segment: str | None
    rfm_score: str | None
    row: strawberry.Private[dict[str, Any]]

    @staticmethod
    def from_row(row: dict[str, Any]) -> Customer:
        """A customer of the ``CUSTOMER`` projection. The customer-level models' figures (retention, RFM) only
        while the consent policy permits ``analytics`` (decided on the row's records at this read, whatever the
        last algorithms run wrote; a row without the records counts as not permitting)."""
        records = row.get("analyticsConsents")
        models = records is not None and current_policy().permits(records, "analytics")
        return Customer(id=row["customerId"], city=row.get("city"), loyalty_tier=row.get("loyaltyTier"),
                        created_at=from_micros(row.get("createdAt")), erased_at=from_micros(row.get("erasedAt")),
                        churn_risk=row.get("churnRisk") if models else None,
                        p_alive=row.get("pAlive") if models else None,
                        expected_purchases_90d=row.get("expectedPurchases90d") if models else None,
                        rfm_segment=row.get("rfmSegment") if models else None,
                        rfm_score=row.get("rfmScore") if models else None, row=row)

    @strawberry.field(description="Full name (personal data; the read is audited).",
                      permission_classes=[CanSeePersonalData])
    def name(self, info: Info) -> str | None:
        context(info).read_personal(str(self.id), "name")
        return self.row.get("name")

    @strawberry.field(description="Hash of the e-mail address (personal data; the read is audited).",
                      permission_classes=[CanSeePersonalData])
    def email_hash(self, info: Info) -> str | None:
        context(info).read_personal(str(self.id), "emailHash")
        return self.row.get("emailHash")

    @strawberry.field(description="Home location (personal data; the read is audited).",
                      permission_classes=[CanSeePersonalData])
    def home_location(self, info: Info) -> Location | None:
        context(info).read_personal(str(self.id), "homeLocation")
        return Location.from_row(self.row)

    @strawberry.field(description="May the customer be sent marketing on `channel`? The consent policy's live "
                                  "decision: that channel's marketing consent, else the default (withdrawn).")
    async def contactable(self, info: Info, channel: Channel) -> bool:
        return bool(await context(info).loaders.contactable.load((str(self.id), channel.value)))

    @strawberry.field(description="The identifiers resolved to this customer, by type and value: the first `first` "
                                  "(at most the largest page).")
    async def identities(self, info: Info, first: int = 20) -> list[Identity]:
        rows = await context(info).loaders.identities.load((str(self.id), page_size(info, first)))
        return [Identity(type=row["type"], first_seen=row.get("firstSeen"), last_seen=row.get("lastSeen"),
                         raw_value=row["value"], customer_id=str(self.id)) for row in rows]

    @strawberry.field(description="Consent per channel and purpose.")
    async def consents(self, info: Info) -> list[Consent]:
        return [Consent.from_row(row) for row in await context(info).loaders.consents.load(str(self.id))]

    @strawberry.field(description="Store associates' and service agents' notes about the customer, newest first.")
    async def notes(self, info: Info, first: int = 20) -> list[Note]:
        return await customer_notes(info, str(self.id), page_size(info, first))

    @strawberry.field(description="Segments of the current segmentation run (none while the customer withdraws "
                                  "analytics).")
    async def segments(self, info: Info) -> list[Segment]:
        return [Segment.from_row(row) for row in await context(info).loaders.customer_segments.load(str(self.id))]

    @strawberry.field(description="The customer's home store.")
    async def home_store(self, info: Info) -> Store | None:
        row = await context(info).loaders.home_store.load(str(self.id))
        return Store.from_row(row) if row else None

    @strawberry.field(description="One time-ordered cross-channel timeline, newest first, Relay-paginated.")
    async def engagement_history(
        self, info: Info, first: int = 20, after: str | None = None, channels: list[Channel] | None = None,
        types: list[EngagementType] | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None, to: datetime | None = None,
    ) -> EngagementConnection:
        return await engagement_history(info, str(self.id), first=first, after=after, channels=channels,
                                        types=types, start=from_, end=to)

    @strawberry.field(description="Recommended products, best first: due re-orders and discoveries (MIXED, the "
                                  "default), only discoveries blended with the context when given (DISCOVER), or "
                                  "only due re-orders (BUY_AGAIN).")
    async def recommendations(self, info: Info, first: int = 10,
                              context_: Annotated[RecommendationContextInput | None,
                                                  strawberry.argument(name="context")] = None,
                              kind: RecommendationKind = RecommendationKind.MIXED) -> list[Recommendation]:
        first = page_size(info, first)
        situation = await _own_situation(info, str(self.id), context_.to_context()) if context_ else None
        items = await context(info).loaders.recommendations.load((str(self.id), first, situation, kind.value))
        return [Recommendation(product=Product.from_row(item.product), score=round(item.score, 6),
                               base_score=item.base_score, rank=item.rank, explanation=item.explanation,
                               sources=item.sources, evidence=item.evidence, stock_at_store=item.stock)
                for item in items]

    @strawberry.field(description="The most similar shoppers (similarity algorithm), best first; empty when the "
                                  "customer withdrew personalisation or analytics, and nobody who did is listed; "
                                  "always empty for a customer token (they are other people).")
    async def similar_shoppers(self, info: Info, first: int = 10) -> list[SimilarShopper]:
        first = page_size(info, first)
        if context(info).principal.is_customer:
            return []
        rows = await context(info).loaders.similar.load((str(self.id), first))
        return [SimilarShopper(customer=Customer.from_row(row["customer"]), score=row["score"], rank=row.get("rank"))
                for row in rows]

    async def _origin(self, info: Info, location: LocationInput | None) -> tuple[float, float] | None:
        """Where to look from: the location the caller passes, else the home location, but only for an
        admin key or the customer's own token, and when the customer's consent policy permits ``location``."""
        if location is not None:
            checked = location.check()
            return checked.latitude, checked.longitude
        home = Location.from_row(self.row)
        principal = context(info).principal
        if home is None or not (principal.allows(Role.admin) or principal.owns(str(self.id))):
            return None
        consents = await context(info).loaders.consents.load(str(self.id))
        if not current_policy().permits(consents, "location"):
            return None
        return home.latitude, home.longitude

    @strawberry.field(description="Stores within `radiusKm` of `location`, nearest first. Without a location: "
                                  "the home location, for an admin key or the customer's own token and when the "
                                  "customer permits location (else an empty list).")
    async def nearby_stores(self, info: Info, radius_km: float = 10.0, location: LocationInput | None = None,
                            first: int = 10) -> list[NearbyStore]:
        first, radius_km = page_size(info, first), _radius(radius_km)
        origin = await self._origin(info, location)
        if origin is None:
            return []
        rows = await q.nearby_stores(context(info).db, origin[0], origin[1], radius_km, first)
        return [NearbyStore(store=Store.from_row(row["store"]), distance_km=row["distanceKm"]) for row in rows]

    @strawberry.field(description="Offers valid now where the customer is: at any store, or at a store within "
                                  "`radiusKm` of `location` (or of the home location, as for `nearbyStores`).")
    async def offers(self, info: Info, radius_km: float = 10.0, location: LocationInput | None = None,
                     first: int = 10) -> list[Offer]:
        first, radius_km = page_size(info, first), _radius(radius_km)
        origin = await self._origin(info, location)
        latitude, longitude = origin if origin else (0.0, 0.0)
        # without any position only offers valid at every store qualify
        rows = await q.offers_near(context(info).db, latitude, longitude, radius_km if origin else 0.0, first)
        return [Offer(id=row["offer"]["offerId"], description=row["offer"]["description"],
                      discount_pct=row["offer"].get("discountPct"), valid_from=row["offer"].get("validFrom"),
                      valid_to=row["offer"].get("validTo"),
                      store=Store.from_row(row["store"]) if row.get("store") else None,
                      distance_km=row.get("distanceKm")) for row in rows]


async def _own_situation(info: Info, customer_id: str, situation: RecommendationContext) -> RecommendationContext:
    """The context as given; for a customer token, without a ``sessionId`` that is not its own session alone
    (which then counts as an unknown session: it adds nothing)."""
    principal = context(info).principal
    if not principal.is_customer or situation.session_id is None:
        return situation
    found = await owners(context(info).db, session_id=situation.session_id)
    return situation if found.session_is_only(customer_id) else replace(situation, session_id=None)


@strawberry.type(description="A shopper similar to the customer.")
class SimilarShopper:
    customer: Customer
    score: float
    rank: int | None


def _prefetch(info: Info) -> tuple[str, tuple[Any, ...]] | None:
    """What the customer loader can fetch along with the customers, in the same round trip.

    A context-free ``recommendations`` field, or an ``engagementHistory`` asked only with ``first`` and
    ``after``, selected right below this field (the front-ends' most frequent requests): the loader then
    primes the nested field's loader. Reads the operation's syntax tree directly (cheaper than
    ``info.selected_fields``); fragments are not looked into, their fields simply load on their own.
    """
    max_page = context(info).config.max_page_size
    for node in info._raw_info.field_nodes:
        for selection in node.selection_set.selections if node.selection_set else ():
            if not isinstance(selection, FieldNode):
                continue
            name = selection.name.value
            arguments = {argument.name.value: value_from_ast_untyped(argument.value, info.variable_values)
                         for argument in selection.arguments or ()}
            try:
                if name == "recommendations" and set(arguments) <= {"first"}:
                    first = int(arguments.get("first", 10))
                    return ("recommendations", (first,)) if 0 <= first <= max_page else None
                if name == "engagementHistory" and set(arguments) <= {"first", "after"}:
                    first = int(arguments.get("first", 20))
                    after = arguments.get("after")
                    position = decode_cursor(after) if isinstance(after, str) else None
                    return ("timeline", (first + 1, position)) if 0 <= first <= max_page else None
            except (TypeError, ValueError, BadUserInput):
                return None  # the field itself reports the problem
    return None


async def _load_customers(info: Info, ids: list[str]) -> list[dict[str, Any] | None]:
    loaders = context(info).loaders
    plan = _prefetch(info)
    if plan is None:
        return await loaders.customer.load_many(ids)
    loader = loaders.customer_with_recommendations if plan[0] == "recommendations" else loaders.customer_with_timeline
    return await loader.load_many([(i, *plan[1]) for i in ids])


@strawberry.type
class CustomerQuery:
    @strawberry.field(description="A customer by id, or by any identifier; unknown gives null and NOT_FOUND. A "
                                  "customer token reads only its own id (any other answers as unknown) and may "
                                  "not look up identifiers (FORBIDDEN).", extensions=[KeyArguments()])
    async def customer(self, info: Info, id: strawberry.ID | None = None,
                       identity: IdentityInput | None = None) -> Customer | None:
        if (id is None) == (identity is None):
            raise BadUserInput("Give exactly one of `id` and `identity`.")
        principal = context(info).principal
        if id is not None:
            # another customer than a token's own is not looked up at all: it answers as an unknown id
            row = (await _load_customers(info, [str(id)]))[0] if principal.may_read(str(id)) else None
            if row is None:
                raise NotFound(f"No customer with id {id!r}.", id=str(id))
        else:
            assert identity is not None
            if principal.is_customer:
                raise Forbidden("A customer token reads its own customer by `id`; looking customers up by an "
                                "identifier needs an API key.", argument="identity")
            row = await q.customer_by_identity(context(info).db, identity.key())
            if row is None:
                raise NotFound("No customer with that identifier.", identityType=identity.type)
        return Customer.from_row(row)

    @strawberry.field(description="Customers whose name holds every word of `name` as a word prefix (case "
                                  "ignored; at most 5 words), best match first. Names are personal data: an "
                                  "admin key only (FORBIDDEN otherwise).",
                      permission_classes=[CanAdminister])
    async def customer_search(self, info: Info, name: str, first: int = 10) -> list[Customer]:
        first = page_size(info, first)
        query = q.name_query(name)
        if query is None:
            raise BadUserInput("Give at least one word of the name.", argument="name")
        return [Customer.from_row(row) for row in await q.customers_by_name(context(info).db, query, first)]

    @strawberry.field(description="Customers by id, one entry per id in the order asked; an unknown id gives "
                                  "null at its position and a NOT_FOUND error with that path (for a customer "
                                  "token, every id but its own).", extensions=[KeyArguments()])
    async def customers(self, info: Info, ids: list[strawberry.ID]) -> list[Customer | None]:
        page_size(info, len(ids), "ids")
        principal = context(info).principal
        reachable = [str(i) for i in ids if principal.may_read(str(i))]  # a token's others: as unknown ids
        loaded = dict(zip(reachable, await _load_customers(info, reachable), strict=True)) if reachable else {}
        rows = [loaded.get(str(i)) for i in ids]
        # graphql-core turns an exception in a list into null plus an error located at that item
        return [Customer.from_row(row) if row is not None  # type: ignore[misc]
                else NotFound("No customer with that id.", id=str(i)) for i, row in zip(ids, rows, strict=True)]
