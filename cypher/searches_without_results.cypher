// Question: What do shoppers search for and not find? Normalised search texts (SearchQuery.text) whose
//   searches returned no results, with how many searches and sessions, and when last seen.
// Parameters:
//   $maxResults  a search counts as "not found" when Event.resultsCount is at most this
//   $limit       how many search texts to list
// Example:
//   search       | searches | sessions | lastSearchedAt
//   unicorn lamp | 2        | 1        | 2011-11-05T12:02:00Z
:param maxResults => 0;
:param limit => 50;

MATCH (s:Session)-[:CONTAINS]->(e:Event {type: 'search'})-[:SEARCHED]->(q:SearchQuery)
WHERE e.resultsCount <= $maxResults
RETURN q.text AS search,
       count(e) AS searches,
       count(DISTINCT s) AS sessions,
       max(e.at) AS lastSearchedAt
ORDER BY searches DESC, sessions DESC, search
LIMIT $limit;
