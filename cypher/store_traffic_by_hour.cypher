// Question: How many visits and distinct visitors does each store get per hour of the day (in the
//   stores' local time), and how long do visitors stay?
// Parameters:
//   $timezone  IANA time zone for the hour of day, e.g. 'Europe/London'
//   $storeId   one store (Store.storeId) or null for every store
//   $from      first arrival to count (ISO date-time text) or null
//   $to        arrivals before this (ISO date-time text) or null
// Example:
//   storeId | store              | hour | visits | visitors | avgDwellMinutes
//   S1      | Oxford Street      | 10   | 1      | 1        | 10.0
//   S1      | Oxford Street      | 13   | 2      | 2        | 32.5
//   S2      | Manchester Arndale | 17   | 2      | 2        | 10.0
:param timezone => 'Europe/London';
:param storeId => null;
:param from => null;
:param to => null;

MATCH (c:Customer)-[:MADE_VISIT]->(v:Visit)-[:TO_STORE]->(s:Store)
WHERE ($storeId IS NULL OR s.storeId = $storeId)
  AND ($from IS NULL OR v.arrivedAt >= datetime($from))
  AND ($to IS NULL OR v.arrivedAt < datetime($to))
WITH s, datetime({datetime: v.arrivedAt, timezone: $timezone}).hour AS hour, v, c
RETURN s.storeId AS storeId,
       s.name AS store,
       hour,
       count(v) AS visits,
       count(DISTINCT c) AS visitors,
       round(avg(v.dwellMinutes), 1) AS avgDwellMinutes
ORDER BY storeId, hour;
