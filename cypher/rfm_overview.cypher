// Question: What does the customer base look like by RFM segment (Customer.rfmSegment written by the
//   segments algorithm)? Customers, share, average recency, frequency, monetary value and churn risk.
// Parameters:
//   $minCustomers  hide segments with fewer customers than this
// Example:
//   rfmSegment | customers | share | avgRecencyDays | avgFrequency | avgMonetary | avgChurnRisk
//   At Risk    | 2         | 40.0  | 103.0          | 1.5          | 152.5       | 0.86
//   Champions  | 1         | 20.0  | 0.0            | 3.0          | 21.6        | 0.1
//   Loyal      | 1         | 20.0  | 35.0           | 1.0          | 3.75        | 0.3
//   (unscored) | 1         | 20.0  | null           | null         | null        | null
:param minCustomers => 1;

MATCH (c:Customer)
WITH coalesce(c.rfmSegment, '(unscored)') AS rfmSegment, c
WITH rfmSegment,
     count(c) AS customers,
     avg(c.rfmRecencyDays) AS recency,
     avg(c.rfmFrequency) AS frequency,
     avg(c.rfmMonetary) AS monetary,
     avg(c.churnRisk) AS churn
WITH collect({rfmSegment: rfmSegment, customers: customers, recency: recency, frequency: frequency,
              monetary: monetary, churn: churn}) AS rows, sum(customers) AS total
UNWIND rows AS row
WITH row, total WHERE row.customers >= $minCustomers
RETURN row.rfmSegment AS rfmSegment,
       row.customers AS customers,
       round(100.0 * row.customers / total, 1) AS share,
       round(row.recency, 1) AS avgRecencyDays,
       round(row.frequency, 2) AS avgFrequency,
       round(row.monetary, 2) AS avgMonetary,
       round(row.churn, 2) AS avgChurnRisk
ORDER BY rfmSegment = '(unscored)', avgMonetary DESC, rfmSegment;
