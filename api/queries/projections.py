"""Map projections shared by the queries, so every query returns the same row shape per node type."""

def micros(expression: str) -> str:
    """A temporal ``expression`` as microseconds since the epoch (null stays null).

    Decoding a driver ``DateTime`` costs tens of microseconds of Python each; an integer costs nothing,
    so hot projections return instants this way and :func:`api.db.from_micros` turns them back.
    """
    return f"{expression}.epochSeconds * 1000000 + {expression}.microsecond"


CUSTOMER = f"""c {{.customerId, .name, .emailHash, .city, .loyaltyTier, createdAt: {micros('c.createdAt')},
  erasedAt: {micros('c.erasedAt')}, .churnRisk,
  .pAlive, .expectedPurchases90d, .rfmSegment, .rfmScore, .rfmRecencyDays, .rfmFrequency, .rfmMonetary,
  latitude: c.homeLocation.latitude, longitude: c.homeLocation.longitude,
  analyticsConsents: [(c)-[:HAS_CONSENT]->(k:Consent) WHERE k.purpose = 'analytics' | k {{.channel, .purpose, .granted}}]}}"""
"""A customer row; ``analyticsConsents`` are the records the consent policy decides the customer-level models'
figures by (:meth:`api.schema.customer.Customer.from_row`)."""

PRODUCT = "p {.sku, .name, .description, .price, .popularity, .popularityRank, .trendScore, .trendRank}"

STORE = """s {.storeId, .name, .city, latitude: s.location.latitude, longitude: s.location.longitude,
  country: [(s)-[:IN_COUNTRY]->(k:Country) | k.name][0]}"""

SEGMENT = "g {.segmentId, .kind, .name, .description, .size}"


def current_version(family: str, alias: str = "version") -> str:
    """A subquery yielding ``alias``: the runId of the current run of ``family`` (null when there is none).

    Results whose ``version`` differs are skipped, so readers never see a mix of two runs; without any
    recorded run (a graph loaded by hand) every result counts. ``family`` and ``alias`` are fixed names
    of the graph contract, never user input.
    """
    return (
        "CALL () { OPTIONAL MATCH (run:AlgorithmRun {family: '" + family + "', status: 'current'}) "
        "RETURN run.runId AS " + alias + " ORDER BY run.finishedAt DESC LIMIT 1 }"
    )
