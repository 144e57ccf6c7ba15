"""The clienteling page's store list: who to keep in touch with, and on which channel."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from api.db import from_micros
from api.errors import BadUserInput, Forbidden, NotFound
from api.queries import clienteling as q
from api.schema.common import Channel, KeyArguments, context, page_size
from api.schema.customer import Customer


@strawberry.type(description="A valuable customer at risk, and the channels they may be reached on.")
class KeepInTouch:
    customer: Customer
    past_value: float = strawberry.field(description="Past net value: the sum of their orders' totals "
                                                     "(cancellations negative), as of the last algorithms run.")
    last_order_at: datetime | None
    contactable_on: list[Channel] = strawberry.field(
        description="The channels they may be sent marketing on (the consent policy's live decision); "
                    "empty: talk to them when they come in.")


@strawberry.type
class ClientelingQuery:
    @strawberry.field(description="A store's keep-in-touch list: the customers whose home store it is, with a "
                                  "churn risk of at least `minChurnRisk` and whose consent permits analytics, "
                                  "most at stake first (churn risk x past value, both as of the last algorithms "
                                  "run; ties: the greater customer id first), at most `first`. Unknown "
                                  "store: NOT_FOUND; a customer token may not ask (FORBIDDEN).",
                                  extensions=[KeyArguments()])
    async def keep_in_touch(self, info: Info, store_id: strawberry.ID, min_churn_risk: float = 0.5,
                            first: int = 20) -> list[KeepInTouch]:
        first = page_size(info, first)
        if context(info).principal.is_customer:
            raise Forbidden("A store's customers are other people: this list needs an API key.")
        if not 0.0 <= min_churn_risk <= 1.0:
            raise BadUserInput("`minChurnRisk` must be within 0..1.", argument="minChurnRisk")
        if await context(info).loaders.store.load(str(store_id)) is None:
            raise NotFound(f"No store with id {store_id!r}.", id=str(store_id))
        rows = await q.keep_in_touch(context(info).db, str(store_id), min_churn_risk, first,
                                     [channel.value for channel in Channel])
        return [KeepInTouch(customer=Customer.from_row(row["customer"]), past_value=row["pastValue"],
                            last_order_at=from_micros(row["lastOrderAt"]),
                            contactable_on=[Channel(value) for value in row["contactableOn"]]) for row in rows]
