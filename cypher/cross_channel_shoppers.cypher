// Question: Which customers are active both online (web/app sessions or orders) and in stores (visits or
//   store orders), and how many of them browse a product online and then buy it in a store within
//   $days days?
// Parameters:
//   $days   a store purchase counts as "browsed online first" when the product was viewed online at most this many days before
//   $limit  how many customers to list
// Example:
//   customerId | name        | onlineSessions | onlineOrders | storeVisits | storeOrders | browsedOnlineBoughtInStore | productsBrowsedThenBought
//   C1         | Alice Smith | 3              | 2            | 2           | 1           | 1                          | ["P1"]
//   C3         | Carol White | 1              | 1            | 1           | 1           | 0                          | []
:param days => 14;
:param limit => 100;

MATCH (c:Customer)
WITH c,
     size([(c)-[:HAD_SESSION]->(s:Session) WHERE s.channel IN ['web', 'app'] | s]) AS onlineSessions,
     size([(c)-[:PLACED]->(o:Order) WHERE o.channel IN ['web', 'app'] AND NOT coalesce(o.cancelled, false) | o]) AS onlineOrders,
     size([(c)-[:MADE_VISIT]->(v:Visit) | v]) AS storeVisits,
     size([(c)-[:PLACED]->(o:Order) WHERE (o.channel = 'store' OR (o)-[:AT_STORE]->(:Store)) AND NOT coalesce(o.cancelled, false) | o]) AS storeOrders
WHERE (onlineSessions + onlineOrders) > 0 AND (storeVisits + storeOrders) > 0
OPTIONAL MATCH (c)-[:PLACED]->(o:Order)-[:AT_STORE]->(:Store), (o)-[:INCLUDES]->(p:Product)
WHERE NOT coalesce(o.cancelled, false)
  AND EXISTS {
    MATCH (c)-[:HAD_SESSION]->(s:Session)-[:CONTAINS]->(e:Event {type: 'product_view'})-[:ABOUT_PRODUCT]->(p)
    WHERE s.channel IN ['web', 'app'] AND e.at <= o.placedAt AND e.at >= o.placedAt - duration({days: $days})
  }
WITH c, onlineSessions, onlineOrders, storeVisits, storeOrders, p ORDER BY p.sku
WITH c, onlineSessions, onlineOrders, storeVisits, storeOrders, collect(DISTINCT p.sku) AS browsedThenBought
RETURN c.customerId AS customerId,
       c.name AS name,
       onlineSessions, onlineOrders, storeVisits, storeOrders,
       size(browsedThenBought) AS browsedOnlineBoughtInStore,
       browsedThenBought AS productsBrowsedThenBought
ORDER BY browsedOnlineBoughtInStore DESC, onlineSessions + onlineOrders + storeVisits + storeOrders DESC, customerId
LIMIT $limit;
