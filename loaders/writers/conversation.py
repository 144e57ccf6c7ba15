"""Writing campaigns, offers, messages sent and the customers' responses."""

from __future__ import annotations

from loaders.writers import statement_writer

CAMPAIGNS = """
UNWIND $rows AS r
MERGE (c:Campaign {campaignId: r.campaignId})
SET c.name = r.name, c += r.props
"""

OFFERS = """
UNWIND $rows AS r
MERGE (o:Offer {offerId: r.offerId})
SET o.description = r.description, o += r.props
WITH o, r
CALL (o, r) {
  WITH o, r WHERE r.campaignId IS NOT NULL
  MATCH (c:Campaign {campaignId: r.campaignId})
  MERGE (c)-[:HAS_OFFER]->(o)
}
CALL (o, r) {
  UNWIND r.skus AS sku
  MATCH (p:Product {sku: sku})
  MERGE (o)-[:FOR_PRODUCT]->(p)
}
CALL (o, r) {
  UNWIND r.categoryIds AS categoryId
  MATCH (c:Category {categoryId: categoryId})
  MERGE (o)-[:FOR_CATEGORY]->(c)
}
CALL (o, r) {
  WITH o, r WHERE r.storeId IS NOT NULL
  MATCH (s:Store {storeId: r.storeId})
  MERGE (o)-[:VALID_AT]->(s)
}
"""

MESSAGES = """
UNWIND $rows AS r
MATCH (c:Customer {customerId: r.customerId})
MERGE (m:Message {messageId: r.messageId})
SET m.channel = r.channel, m.sentAt = r.sentAt, m += r.props
MERGE (m)-[s:SENT_TO]->(c)
SET s.at = r.sentAt
WITH m, r
OPTIONAL MATCH (campaign:Campaign {campaignId: r.campaignId})
FOREACH (_ IN CASE WHEN campaign IS NULL THEN [] ELSE [1] END | MERGE (m)-[:PART_OF]->(campaign))
WITH m, r
OPTIONAL MATCH (offer:Offer {offerId: r.offerId})
FOREACH (_ IN CASE WHEN offer IS NULL THEN [] ELSE [1] END | MERGE (m)-[:CARRIES]->(offer))
"""

RESPONSES = """
UNWIND $rows AS r
MATCH (c:Customer {customerId: r.customerId})
MATCH (m:Message {messageId: r.messageId})
MERGE (c)-[x:RESPONDED {type: r.type, at: r.at}]->(m)
SET x.text = r.text
"""

write_campaigns = statement_writer(CAMPAIGNS, "write_campaigns")
write_offers = statement_writer(OFFERS, "write_offers")
write_messages = statement_writer(MESSAGES, "write_messages")
write_responses = statement_writer(RESPONSES, "write_responses")
