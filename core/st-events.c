#include "st-events.h"

#include <math.h>
#include <string.h>

#include "st-customers.h"
#include "st-error.h"
#include "st-json.h"
#include "st-record.h"
#include "st-triggers.h"

/* Kinds with a meaning for the aggregates; any other well-formed kind is
 * recorded and counted too. */
#define EVENT_COLUMNS \
  "id, customer_id, kind, occurred_at, recorded_at, amount, data, " \
  "idem_key AS key"

/* One statement: the customer found by its address ($1 id, $2 ref, as
 * st_customers_resolve() finds it, and locked FOR KEY SHARE: events have
 * no foreign key, migration 9, so this is what keeps a customer being
 * deleted from getting the event), the event, the customer's aggregates,
 * the per-kind times and, in st_sql_event_insert_jobs, the care jobs ($8,
 * st_triggers_plan(): inserted as st_care_enqueue does, and the care
 * workers woken; none for an event older than the plan's recent window,
 * `care: recent`). An event no script is on takes st_sql_event_insert,
 * which has no care_jobs to open. Aggregates use GREATEST/LEAST so events
 * may arrive out of order. The row it returns always comes, with the
 * event's columns NULL when nothing was inserted, and two more: the
 * customer's id and how many customers the address matched (1 when it
 * names one). */
#define EVENT_INSERT_CTES \
  "WITH target AS (" ST_CUSTOMERS_RESOLVE_SQL ("$1", "$2") \
  "  FOR KEY SHARE" \
  "), one AS (" \
  "  SELECT min(id) AS customer, count(*) AS matches FROM target" \
  "), ins AS (" \
  "  INSERT INTO events (customer_id, kind, occurred_at, amount, data," \
  "                      idem_key)" \
  "  SELECT customer, $3, COALESCE($4::timestamptz, now()), $5::numeric," \
  "         COALESCE($6::jsonb, '{}'), $7" \
  "    FROM one WHERE matches = 1" \
  "  ON CONFLICT (customer_id, idem_key) WHERE idem_key IS NOT NULL" \
  "  DO NOTHING" \
  "  RETURNING *" \
  "), agg AS (" \
  "  UPDATE customers c SET" \
  "    event_count = c.event_count + 1," \
  "    last_event_at = GREATEST(c.last_event_at, ins.occurred_at)," \
  "    last_contact_at = GREATEST(c.last_contact_at, ins.occurred_at)," \
  "    first_purchase_at = CASE WHEN ins.kind = 'purchase'" \
  "      THEN LEAST(c.first_purchase_at, ins.occurred_at)" \
  "      ELSE c.first_purchase_at END," \
  "    last_purchase_at = CASE WHEN ins.kind = 'purchase'" \
  "      THEN GREATEST(c.last_purchase_at, ins.occurred_at)" \
  "      ELSE c.last_purchase_at END," \
  "    purchase_count = c.purchase_count + (ins.kind = 'purchase')::int," \
  "    revenue = c.revenue + CASE ins.kind" \
  "      WHEN 'purchase' THEN COALESCE(ins.amount, 0)" \
  "      WHEN 'refund' THEN -abs(COALESCE(ins.amount, 0))" \
  "      ELSE 0 END," \
  "    open_tickets = GREATEST(0, c.open_tickets + CASE ins.kind" \
  "      WHEN 'ticket_opened' THEN 1 WHEN 'ticket_closed' THEN -1" \
  "      ELSE 0 END)," \
  "    last_nps = CASE WHEN ins.kind = 'survey'" \
  "        AND COALESCE(ins.data->>'type', 'nps') = 'nps'" \
  "        AND ins.occurred_at >= COALESCE(c.last_nps_at, '-infinity')" \
  "      THEN (ins.data->>'score')::numeric::int ELSE c.last_nps END," \
  "    last_nps_at = CASE WHEN ins.kind = 'survey'" \
  "        AND COALESCE(ins.data->>'type', 'nps') = 'nps'" \
  "      THEN GREATEST(c.last_nps_at, ins.occurred_at)" \
  "      ELSE c.last_nps_at END," \
  "    updated_at = now()" \
  "  FROM ins WHERE c.id = ins.customer_id" \
  "  RETURNING c.id" \
  "), kinds AS (" \
  "  INSERT INTO customer_event_kinds AS k" \
  "         (customer_id, kind, first_at, last_at, count)" \
  "  SELECT customer_id, kind, occurred_at, occurred_at, 1 FROM ins" \
  "  ON CONFLICT (customer_id, kind) DO UPDATE SET" \
  "    first_at = LEAST(k.first_at, EXCLUDED.first_at)," \
  "    last_at = GREATEST(k.last_at, EXCLUDED.last_at)," \
  "    count = k.count + 1" \
  ")"

#define EVENT_INSERT_RESULT \
  "SELECT " EVENT_COLUMNS ", false AS duplicate, one.customer, one.matches" \
  "  FROM one LEFT JOIN ins ON true"

/* The two columns after the event's. */
#define EVENT_INSERT_EXTRA_COLUMNS 2

ST_STATEMENT_DEFINE (st_sql_event_insert, 7,
  EVENT_INSERT_CTES EVENT_INSERT_RESULT);

ST_STATEMENT_DEFINE (st_sql_event_insert_jobs, 8,
  EVENT_INSERT_CTES
  ", jobs AS ("
  "  INSERT INTO care_jobs (customer_id, key, script, trigger, event_id,"
  "                         due_at)"
  "  SELECT ins.customer_id, 'event:' || ins.id || ':' || j.name, j.name,"
  "         ins.kind, ins.id, now() + make_interval(secs => j.delay)"
  "    FROM ins, jsonb_to_recordset($8::jsonb)"
  "      AS j(name text, delay bigint, recent bigint)"
  "   WHERE j.recent IS NULL"
  "      OR ins.occurred_at >= now() - make_interval(secs => j.recent)"
  "  ON CONFLICT (customer_id, key) DO NOTHING RETURNING 1"
  ")"
  EVENT_INSERT_RESULT
  "  LEFT JOIN (SELECT pg_notify('" ST_CARE_CHANNEL "', '')"
  "               FROM jobs LIMIT 1) AS wake ON true");

ST_STATEMENT_DEFINE (st_sql_event_by_key, 2,
  "SELECT " EVENT_COLUMNS ", true AS duplicate FROM events"
  " WHERE customer_id = $1 AND idem_key = $2");

/* A guard against typos and unit mix-ups, far above any real order. */
#define MAX_AMOUNT 1e12

/* Events may be recorded late, not early: a little clock skew is allowed. */
#define FUTURE_SKEW_SECONDS 300

typedef struct {
  const char *kind;
  char *at;        /* ISO-8601 in UTC, or NULL for now */
  char *amount;    /* decimal text, or NULL */
  const char *key;
  char *data_json; /* or NULL */
} EventInput;

static void
event_input_clear (EventInput *in)
{
  g_free (in->at);
  g_free (in->amount);
  g_free (in->data_json);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (EventInput, event_input_clear)

static gboolean
check_kind (const char *kind, GError **error)
{
  gsize len = kind ? strlen (kind) : 0;

  if (len >= 1 && len <= 64 && g_ascii_islower (kind[0])
      && strspn (kind, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == len)
    return TRUE;
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
               "kind: '%s' is not an event kind; use lower-case letters, "
               "digits, '_', '.' or '-', starting with a letter (e.g. "
               "purchase, ticket_opened)", kind ? kind : "");
  return FALSE;
}

static gboolean
parse_at (const char *text, char **out, GError **error)
{
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr (GDateTime) at = g_date_time_new_from_iso8601 (text, utc);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();

  if (at == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "at: '%s' is not an ISO-8601 date and time; write it like "
                   "2026-11-24T09:30:00Z or 2026-11-24T10:30:00+01:00", text);
      return FALSE;
    }
  if (g_date_time_difference (at, now) > FUTURE_SKEW_SECONDS * G_TIME_SPAN_SECOND)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "at: '%s' is in the future; events record what has "
                   "happened (plan future care with a script's follow_up)",
                   text);
      return FALSE;
    }
  *out = g_date_time_format_iso8601 (at);
  return TRUE;
}

/* Surveys carry a score on the scale of their type; the aggregates read it. */
static gboolean
check_survey (GVariant *payload, GError **error)
{
  const char *type = "nps";
  double score;
  gboolean present = FALSE;
  int low = 0, high = 10;

  if (payload == NULL
      || !st_record_get_string (payload, "type", &type, error)
      || !st_record_get_double (payload, "score", &present, &score, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                     "data: a survey needs a score (e.g. --data score=9)");
      return FALSE;
    }
  if (g_str_equal (type, "csat"))
    low = 1, high = 5;
  else if (g_str_equal (type, "ces"))
    low = 1, high = 7;
  else if (!g_str_equal (type, "nps"))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "data.type: '%s' is not a survey type; use nps, csat or "
                   "ces", type);
      return FALSE;
    }
  /* The range first: casting a huge score to int is undefined. */
  if (!present || score < low || score > high || score != (int) score)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "data.score: a %s survey needs a whole score from %d to %d",
                   type, low, high);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_event (GVariant *dict, const char *kind, EventInput *in, GError **error)
{
  static const char *const keys[] = { "customer", "kind", "at", "amount",
                                      "key", "data", NULL };
  const char *at = NULL;
  double amount;
  gboolean has_amount;
  g_autoptr (GVariant) payload = NULL;

  in->kind = kind;
  if (!check_kind (kind, error)
      || !st_record_check_keys (dict, keys, "event", error)
      || !st_record_get_string (dict, "at", &at, error)
      || !st_record_get_double (dict, "amount", &has_amount, &amount, error)
      || !st_record_get_string (dict, "key", &in->key, error)
      || !st_record_get_dict (dict, "data", &payload, error))
    return FALSE;
  if (at != NULL && !parse_at (at, &in->at, error))
    return FALSE;
  if (has_amount && fabs (amount) >= MAX_AMOUNT)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "amount: %g is beyond what one event can carry (less than "
                   "a trillion either way); check the value", amount);
      return FALSE;
    }
  if (has_amount)
    /* The shortest text that reads back as the same double: 19.99 is
     * stored as 19.99, not 19.989999999999998, so revenue sums stay the
     * decimals the caller meant. */
    in->amount = st_json_format_double (amount);
  if (in->key != NULL && (in->key[0] == '\0' || strlen (in->key) > 200))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "key: an idempotency key has 1 to 200 characters");
      return FALSE;
    }
  if (g_str_equal (kind, "survey") && !check_survey (payload, error))
    return FALSE;
  if (payload != NULL)
    in->data_json = st_record_to_json (payload);
  return TRUE;
}

/* Record one event inside the caller's transaction; with @commit, commit
 * it in the same round trip as the insert. */
static GVariant *
record_one (StStore *store, const char *customer, const EventInput *in,
            gboolean commit, GError **error)
{
  g_autofree char *id_text = NULL, *jobs = NULL;
  const char *ref;
  const char *params[8];
  StStoreCall call = { &st_sql_event_insert, params, NULL };
  g_autoptr (PGresult) res = NULL;
  g_autoptr (PGresult) earlier = NULL;
  int columns;

  if (!st_customers_address_parse (customer, &id_text, &ref, error))
    return NULL;
  jobs = st_triggers_plan (st_store_get_triggers (store), in->kind);
  params[0] = id_text;
  params[1] = ref;
  params[2] = in->kind;
  params[3] = in->at;
  params[4] = in->amount;
  params[5] = in->data_json;
  params[6] = in->key;
  params[7] = jobs;
  if (jobs != NULL)
    call.stmt = &st_sql_event_insert_jobs;
  if (commit ? !st_store_exec_and_commit (store, &call, 1, error)
             : !st_store_exec_many (store, &call, 1, error))
    return NULL;
  res = g_steal_pointer (&call.result);
  columns = PQnfields (res) - EVENT_INSERT_EXTRA_COLUMNS;
  if (!st_customers_address_check (
          customer, atoi (PQgetvalue (res, 0, columns + 1)), error))
    return NULL;
  if (!PQgetisnull (res, 0, 0))
    return st_record_from_columns (res, 0, columns);

  /* The key was recorded before: answer with that event. */
  earlier = st_store_exec (store, &st_sql_event_by_key,
                           (const char *[]){ PQgetvalue (res, 0, columns),
                                             in->key },
                           error);
  if (earlier == NULL)
    return NULL;
  if (PQntuples (earlier) == 0)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                   "key '%s' conflicted but its event is gone; try again",
                   in->key);
      return NULL;
    }
  return st_record_from_row (earlier, 0);
}

GVariant *
st_events_record (StStore *store, const char *customer, const char *kind,
                  GVariant *data, GError **error)
{
  g_auto (EventInput) in = { 0 };
  g_autoptr (GVariant) event = NULL;

  if (!read_event (data, kind, &in, error))
    return NULL;
  if (!st_store_begin (store, error))
    return NULL;
  /* One round trip: BEGIN, the event with its customer's lookup and its
   * jobs, and the COMMIT. */
  event = record_one (store, customer, &in, TRUE, error);
  if (event == NULL)
    {
      st_store_rollback (store);
      return NULL;
    }
  return g_variant_ref_sink (g_steal_pointer (&event));
}

GVariant *
st_events_record_many (StStore *store, GVariant *events, GError **error)
{
  GVariantBuilder results;
  gsize n = g_variant_n_children (events);

  if (n == 0 || n > 10000)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "events: give 1 to 10000 events per call (got %" G_GSIZE_FORMAT ")",
                   n);
      return NULL;
    }
  if (!st_store_begin (store, error))
    return NULL;
  g_variant_builder_init (&results, G_VARIANT_TYPE ("aa{sv}"));
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) dict = g_variant_get_child_value (events, i);
      g_auto (EventInput) in = { 0 };
      const char *customer = NULL, *kind = NULL;
      GVariant *event = NULL;

      if (st_record_get_string (dict, "customer", &customer, error)
          && st_record_get_string (dict, "kind", &kind, error)
          && read_event (dict, kind ? kind : "", &in, error))
        event = record_one (store, customer ? customer : "", &in, FALSE,
                            error);
      if (event == NULL)
        {
          g_prefix_error (error, "event %" G_GSIZE_FORMAT ": ", i + 1);
          g_variant_builder_clear (&results);
          st_store_rollback (store);
          return NULL;
        }
      g_variant_builder_add_value (&results, event);
    }
  if (!st_store_commit (store, error))
    {
      g_variant_builder_clear (&results);
      return NULL;
    }
  return g_variant_ref_sink (g_variant_builder_end (&results));
}
