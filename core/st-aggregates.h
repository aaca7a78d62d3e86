#pragma once

/* The customer aggregates that events maintain, as SQL for a set of new
 * events: the CTEs below follow a CTE named `new_events` (customer_id, id,
 * kind, occurred_at, amount, data: the rows an INSERT INTO events …
 * RETURNING gave) in a WITH statement, and update each customer once, with
 * the same arithmetic RecordEvent applies one event at a time
 * (st-events.c): counts and revenue are added, first and last times are
 * LEAST and GREATEST (so events may arrive out of order), open tickets are
 * folded in id order, clamped at zero after each event, and the last NPS
 * is the latest survey (the last recorded among equal times) unless the
 * customer has a later one. One event is a set of one: this is the
 * statement both paths can share, and tests/test-import.c checks that
 * both give the same aggregates for the same events.
 *
 * Open tickets: with S0 the count before and Q_k the running sum of the
 * +1 (opened) / -1 (closed) of the new events in order, clamping at zero
 * after each step ends at max(S0 + Q_n, Q_n - min_k Q_k). */

#define ST_AGGREGATES_CTES                                                  \
  ", agg_per AS ("                                                          \
  "  SELECT customer_id, count(*) AS n, max(occurred_at) AS last_at,"       \
  "         min(occurred_at) FILTER (WHERE kind = 'purchase') AS first_p,"  \
  "         max(occurred_at) FILTER (WHERE kind = 'purchase') AS last_p,"   \
  "         count(*) FILTER (WHERE kind = 'purchase') AS purchases,"        \
  "         sum(CASE kind WHEN 'purchase' THEN COALESCE(amount, 0)"         \
  "                       WHEN 'refund' THEN -abs(COALESCE(amount, 0))"     \
  "                       ELSE 0 END) AS revenue"                           \
  "    FROM new_events GROUP BY customer_id"                                \
  "), agg_tickets AS ("                                                     \
  "  SELECT customer_id, sum(d) AS total, min(running) AS lowest FROM ("    \
  "    SELECT customer_id, d,"                                              \
  "           sum(d) OVER (PARTITION BY customer_id ORDER BY id) AS running"\
  "      FROM (SELECT customer_id, id,"                                     \
  "                   CASE kind WHEN 'ticket_opened' THEN 1 ELSE -1 END AS d"\
  "              FROM new_events"                                           \
  "             WHERE kind IN ('ticket_opened', 'ticket_closed')) t"        \
  "  ) r GROUP BY customer_id"                                              \
  "), agg_nps AS ("                                                         \
  "  SELECT DISTINCT ON (customer_id) customer_id, occurred_at,"            \
  "         (data->>'score')::numeric::int AS score"                        \
  "    FROM new_events"                                                     \
  "   WHERE kind = 'survey' AND COALESCE(data->>'type', 'nps') = 'nps'"     \
  "   ORDER BY customer_id, occurred_at DESC, id DESC"                      \
  "), agg AS ("                                                             \
  "  UPDATE customers c SET"                                                \
  "    event_count = c.event_count + p.n,"                                  \
  "    last_event_at = GREATEST(c.last_event_at, p.last_at),"               \
  "    last_contact_at = GREATEST(c.last_contact_at, p.last_at),"           \
  "    first_purchase_at = LEAST(c.first_purchase_at, p.first_p),"          \
  "    last_purchase_at = GREATEST(c.last_purchase_at, p.last_p),"          \
  "    purchase_count = c.purchase_count + p.purchases,"                    \
  "    revenue = c.revenue + p.revenue,"                                    \
  "    open_tickets = CASE WHEN t.customer_id IS NULL THEN c.open_tickets"  \
  "      ELSE GREATEST(c.open_tickets + t.total, t.total - t.lowest) END,"  \
  "    last_nps = CASE WHEN s.occurred_at"                                  \
  "        >= COALESCE(c.last_nps_at, '-infinity') THEN s.score"            \
  "      ELSE c.last_nps END,"                                              \
  "    last_nps_at = GREATEST(c.last_nps_at, s.occurred_at),"               \
  "    updated_at = now()"                                                  \
  "  FROM agg_per p LEFT JOIN agg_tickets t USING (customer_id)"            \
  "                 LEFT JOIN agg_nps s USING (customer_id)"                \
  "  WHERE c.id = p.customer_id"                                            \
  "  RETURNING c.id"                                                        \
  "), agg_kinds AS ("                                                       \
  "  INSERT INTO customer_event_kinds AS k"                                 \
  "         (customer_id, kind, first_at, last_at, count)"                  \
  "  SELECT customer_id, kind, min(occurred_at), max(occurred_at), count(*)"\
  "    FROM new_events GROUP BY customer_id, kind"                          \
  "  ON CONFLICT (customer_id, kind) DO UPDATE SET"                         \
  "    first_at = LEAST(k.first_at, EXCLUDED.first_at),"                    \
  "    last_at = GREATEST(k.last_at, EXCLUDED.last_at),"                    \
  "    count = k.count + EXCLUDED.count"                                    \
  ")"
