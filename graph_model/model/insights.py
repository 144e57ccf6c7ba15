"""What the algorithms write back: segments and the record of algorithm runs."""

from __future__ import annotations

from neomodel import FloatProperty, IntegerProperty, RelationshipTo, StringProperty, StructuredNode

from graph_model.model.properties import UtcDateTimeProperty
from graph_model.model.relationships import Popularity


class Segment(StructuredNode):
    """A group of customers: a community of similar shoppers or an RFM segment."""

    segmentId = StringProperty(unique_index=True, required=True)
    kind = StringProperty(required=True, index=True)  # "community" | "rfm"
    name = StringProperty(required=True)
    description = StringProperty()
    size = IntegerProperty()
    version = StringProperty()

    popular = RelationshipTo("graph_model.model.catalogue.Product", "POPULAR_IN", model=Popularity)


class AlgorithmRun(StructuredNode):
    """One run of an algorithm family; ``status = 'current'`` marks the results the API serves."""

    runId = StringProperty(unique_index=True, required=True)
    family = StringProperty(required=True, index=True)
    status = StringProperty(required=True)  # "running" | "current" | "superseded" | "failed"
    startedAt = UtcDateTimeProperty(required=True)
    finishedAt = UtcDateTimeProperty()
    # what the run fitted (algorithms.writeback.describe_run): retention
    model = StringProperty()  # "paretonbd" | "mbgnbd" | "bgnbd"
    fit = StringProperty()  # the fitted parameters in words, e.g. "r=0.5974 alpha=11.59 s=0.5222 beta=8.828"
    logLikelihood = FloatProperty()
    churnModel = StringProperty()  # "gradient-boosted" (algorithms.churn), or "1 - pAlive" when it could not learn
    churnTrainingCustomers = IntegerProperty()
    churnHorizonDays = FloatProperty()
    # recommend: the buy-again classifier
    buyAgainModel = StringProperty()  # "gradient-boosted", or "share of days" when nothing could be learned
    buyAgainTrainingPairs = IntegerProperty()
    buyAgainPositiveRate = FloatProperty()
    buyAgainHorizonDays = FloatProperty()
