/* The funnel, health and NPS reports. Every figure is computed by
 * PostgreSQL, set-based, in one read-only REPEATABLE READ transaction so
 * the parts of a report agree with each other; the C side reads the
 * options and shapes the rows into the reply. */

#include "st-reports.h"

#include <stdio.h>
#include <string.h>

#include "st-error.h"
#include "st-record.h"

#define MAX_PERIOD_DAYS 36500
#define MAX_HEALTH_LIMIT 1000
#define DEFAULT_RISK "high"

/* The statements ---------------------------------------------------------- */

/* First in each report's transaction: one snapshot for all its queries. */
ST_STATEMENT_DEFINE (st_sql_report_snapshot, 0,
  "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");

/* The start of the period: $1 (since) or $2 days before now. now() is the
 * transaction's start, the same in every statement of a report. */
#define PERIOD_SINCE \
  "COALESCE($1::timestamptz, now() - make_interval(days => $2::int))"

/* The customers of owner $N and with tag $M (NULL: any). */
#define CUSTOMER_FILTER(owner, tag) \
  "(" owner "::text IS NULL OR c.owner = " owner ")" \
  " AND (" tag "::text IS NULL OR c.tags @> ARRAY[" tag "::text])"

ST_STATEMENT_DEFINE (st_sql_report_period, 2,
  "SELECT " PERIOD_SINCE " AS since, now() AS until");

ST_STATEMENT_DEFINE (st_sql_report_funnel_now, 2,
  "SELECT c.stage, count(*)::bigint AS customers FROM customers c"
  " WHERE " CUSTOMER_FILTER ("$1", "$2")
  " GROUP BY c.stage");

/* Each entry into a stage during the period, and the stage the customer
 * moved to next (NULL: still there). The move after an entry is later, so
 * inside the period too: the history before it is never read. */
ST_STATEMENT_DEFINE (st_sql_report_funnel_moves, 4,
  "WITH m AS ("
  "  SELECT s.to_stage, lead (s.to_stage) OVER (PARTITION BY s.customer_id"
  "           ORDER BY s.changed_at, s.id) AS next_stage"
  "    FROM stage_history s JOIN customers c ON c.id = s.customer_id"
  "   WHERE s.changed_at >= " PERIOD_SINCE
  "     AND " CUSTOMER_FILTER ("$3", "$4")
  ")"
  "SELECT to_stage AS stage, next_stage, count(*)::bigint AS customers,"
  "       (count(*)::float8 / sum(count(*)) OVER (PARTITION BY to_stage))"
  "         ::float8 AS share,"
  "       (sum(count(*)) OVER (PARTITION BY to_stage))::bigint AS entered"
  "  FROM m GROUP BY to_stage, next_stage"
  " ORDER BY to_stage, next_stage IS NULL, count(*) DESC, next_stage");

ST_STATEMENT_DEFINE (st_sql_report_health_summary, 3,
  "SELECT count(*)::bigint AS customers,"
  "       count(c.health_score)::bigint AS scored,"
  "       avg(c.health_score)::float8 AS mean,"
  "       min(c.health_score)::bigint AS min,"
  "       max(c.health_score)::bigint AS max,"
  "       (percentile_disc(0.1) WITHIN GROUP (ORDER BY c.health_score))"
  "         ::bigint AS p10,"
  "       (percentile_disc(0.25) WITHIN GROUP (ORDER BY c.health_score))"
  "         ::bigint AS p25,"
  "       (percentile_disc(0.5) WITHIN GROUP (ORDER BY c.health_score))"
  "         ::bigint AS median,"
  "       (percentile_disc(0.75) WITHIN GROUP (ORDER BY c.health_score))"
  "         ::bigint AS p75,"
  "       (percentile_disc(0.9) WITHIN GROUP (ORDER BY c.health_score))"
  "         ::bigint AS p90,"
  "       count(*) FILTER (WHERE c.health_score IS NOT NULL"
  "                        AND c.risk_level = $3)::bigint AS risk_customers"
  "  FROM customers c WHERE " CUSTOMER_FILTER ("$1", "$2"));

/* The levels from the worst (lowest mean score) up; a score set without a
 * level counts under a NULL level, left out of the record. */
ST_STATEMENT_DEFINE (st_sql_report_health_levels, 2,
  "SELECT c.risk_level, count(*)::bigint AS customers,"
  "       (count(*)::float8 / sum(count(*)) OVER ())::float8 AS share,"
  "       avg(c.health_score)::float8 AS mean_score,"
  "       min(c.health_score)::bigint AS min_score,"
  "       max(c.health_score)::bigint AS max_score"
  "  FROM customers c"
  " WHERE c.health_score IS NOT NULL AND " CUSTOMER_FILTER ("$1", "$2")
  " GROUP BY c.risk_level"
  " ORDER BY avg(c.health_score), c.risk_level NULLS LAST");

/* Ten buckets of ten points, 100 in the last; empty ones too. */
ST_STATEMENT_DEFINE (st_sql_report_health_buckets, 2,
  "SELECT (b * 10)::bigint AS min_score,"
  "       (CASE WHEN b = 9 THEN 100 ELSE b * 10 + 9 END)::bigint AS max_score,"
  "       count(c.id)::bigint AS customers"
  "  FROM generate_series(0, 9) b"
  "  LEFT JOIN customers c ON c.health_score IS NOT NULL"
  "       AND LEAST(c.health_score / 10, 9) = b"
  "       AND " CUSTOMER_FILTER ("$1", "$2")
  " GROUP BY b ORDER BY b");

/* The factors of the customers at risk level $3, the one that pulls their
 * score down most first. Factors that are not numbers are skipped. */
ST_STATEMENT_DEFINE (st_sql_report_health_factors, 3,
  "SELECT f.key AS name, avg(f.value::float8)::float8 AS mean,"
  "       count(*)::bigint AS customers,"
  "       count(*) FILTER (WHERE f.value::float8 < 0)::bigint AS negative"
  "  FROM customers c, jsonb_each(CASE jsonb_typeof(c.health_factors)"
  "         WHEN 'object' THEN c.health_factors ELSE '{}' END) f"
  " WHERE c.health_score IS NOT NULL AND c.risk_level = $3"
  "   AND jsonb_typeof(f.value) = 'number'"
  "   AND " CUSTOMER_FILTER ("$1", "$2")
  " GROUP BY f.key ORDER BY avg(f.value::float8), f.key");

ST_STATEMENT_DEFINE (st_sql_report_health_lowest, 3,
  "SELECT c.id, c.ref, c.name, c.owner, c.stage, c.health_score,"
  "       c.risk_level, c.health_factors, c.health_updated_at"
  "  FROM customers c"
  " WHERE c.health_score IS NOT NULL AND " CUSTOMER_FILTER ("$1", "$2")
  " ORDER BY c.health_score, c.id LIMIT $3::int");

/* The figures of a set of NPS responses r (score), for one row. */
#define NPS_FIGURES \
  "count(*)::bigint AS responses," \
  " count(DISTINCT customer_id)::bigint AS customers," \
  " count(*) FILTER (WHERE score >= 9)::bigint AS promoters," \
  " count(*) FILTER (WHERE score >= 7 AND score < 9)::bigint AS passives," \
  " count(*) FILTER (WHERE score < 7)::bigint AS detractors," \
  " (count(*) FILTER (WHERE score >= 9)::float8 / NULLIF(count(*), 0))" \
  "   ::float8 AS promoters_share," \
  " (count(*) FILTER (WHERE score >= 7 AND score < 9)::float8" \
  "   / NULLIF(count(*), 0))::float8 AS passives_share," \
  " (count(*) FILTER (WHERE score < 7)::float8 / NULLIF(count(*), 0))" \
  "   ::float8 AS detractors_share," \
  " (100.0 * (count(*) FILTER (WHERE score >= 9)" \
  "           - count(*) FILTER (WHERE score < 7))" \
  "   / NULLIF(count(*), 0))::float8 AS nps," \
  " avg(score)::float8 AS mean_score"

/* NPS surveys of the period, as the aggregates read them (a survey
 * without a type is an NPS one): every response, or with $5 each
 * customer's latest — over the period for its row, and within each month
 * for the month's, so a customer who answered in two months counts in
 * both. The customers are found through customer_event_kinds (kind,
 * last_at), their surveys through their events' (customer_id,
 * occurred_at) index. One row for the whole period (month NULL, always
 * there) first, then with $6 one per calendar month (UTC) with
 * responses. */
ST_STATEMENT_DEFINE (st_sql_report_nps, 6,
  "WITH r AS ("
  "  SELECT e.customer_id, (e.data->>'score')::numeric AS score,"
  "         to_char(date_trunc('month', e.occurred_at), 'YYYY-MM') AS month,"
  "         row_number () OVER (PARTITION BY e.customer_id"
  "           ORDER BY e.occurred_at DESC, e.id DESC) AS nth,"
  "         row_number () OVER (PARTITION BY e.customer_id,"
  "             date_trunc('month', e.occurred_at)"
  "           ORDER BY e.occurred_at DESC, e.id DESC) AS nth_in_month"
  "    FROM customer_event_kinds k"
  "    JOIN customers c ON c.id = k.customer_id"
  "    JOIN events e ON e.customer_id = k.customer_id"
  "   WHERE k.kind = 'survey' AND k.last_at >= " PERIOD_SINCE
  "     AND " CUSTOMER_FILTER ("$3", "$4")
  "     AND e.kind = 'survey' AND COALESCE(e.data->>'type', 'nps') = 'nps'"
  "     AND e.occurred_at >= " PERIOD_SINCE " AND e.occurred_at <= now()"
  ")"
  "SELECT NULL::text AS month, " NPS_FIGURES
  "  FROM r WHERE NOT $5::boolean OR nth = 1"
  " UNION ALL "
  "SELECT month, " NPS_FIGURES
  "  FROM r WHERE $6::boolean AND (NOT $5::boolean OR nth_in_month = 1)"
  " GROUP BY month"
  " ORDER BY month NULLS FIRST");

/* Options ------------------------------------------------------------------ */

/* What every report may be narrowed to, as statement parameters. */
typedef struct {
  const char *owner; /* NULL: every owner */
  const char *tag;   /* NULL: any tag */
  char *since;       /* ISO-8601, or NULL: @days before now */
  char *days;
} Scope;

static void
scope_clear (Scope *scope)
{
  g_free (scope->since);
  g_free (scope->days);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Scope, scope_clear)

static gboolean
get_boolean (GVariant *options, const char *key, gboolean *out,
             GError **error)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (options, key, NULL);

  if (value == NULL)
    return TRUE;
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s: expected a boolean, got %s (D-Bus type '%s')", key,
                   st_record_kind_of (value), g_variant_get_type_string (value));
      return FALSE;
    }
  *out = g_variant_get_boolean (value);
  return TRUE;
}

static gboolean
read_filter (GVariant *options, Scope *scope, GError **error)
{
  return st_record_get_string (options, "owner", &scope->owner, error)
         && st_record_get_string (options, "tag", &scope->tag, error);
}

/* "2026-01-01" (midnight UTC) or ISO-8601, in UTC when it has no offset
 * (stewardctl sends local times with their offset). */
static GDateTime *
parse_since (const char *text)
{
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  int year, month, day, end = 0;

  if (sscanf (text, "%4d-%2d-%2d%n", &year, &month, &day, &end) == 3
      && end == 10 && text[end] == '\0')
    return g_date_valid_dmy (day, month, year)
               ? g_date_time_new (utc, year, month, day, 0, 0, 0)
               : NULL;
  return g_date_time_new_from_iso8601 (text, utc);
}

static gboolean
read_period (GVariant *options, guint default_days, Scope *scope,
             GError **error)
{
  g_autoptr (GVariant) days_value = g_variant_lookup_value (options, "days",
                                                            NULL);
  g_autoptr (GDateTime) since = NULL, now = g_date_time_new_now_utc ();
  const char *since_text = NULL;
  guint days = default_days;

  if (!st_record_get_string (options, "since", &since_text, error)
      || !st_record_get_uint (options, "days", &days, error))
    return FALSE;
  if (since_text != NULL && days_value != NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "since and days: give one or the other, not both (since "
                   "starts the period at a time, days that many days "
                   "before now)");
      return FALSE;
    }
  if (since_text == NULL)
    {
      if (days == 0 || days > MAX_PERIOD_DAYS)
        {
          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "days: %u is out of range; give 1 to %u", days,
                       MAX_PERIOD_DAYS);
          return FALSE;
        }
      scope->days = g_strdup_printf ("%u", days);
      return TRUE;
    }
  since = parse_since (since_text);
  if (since == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "since: '%s' is not a time; write it like 2026-01-01 "
                   "(midnight UTC), 2026-01-01T09:00:00 (UTC) or "
                   "2026-01-01T09:00:00+01:00",
                   since_text);
      return FALSE;
    }
  if (g_date_time_compare (since, now) > 0)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "since: '%s' is in the future; the period runs from "
                   "since to now", since_text);
      return FALSE;
    }
  scope->since = g_date_time_format_iso8601 (since);
  return TRUE;
}

/* Running the statements --------------------------------------------------- */

/* @calls after the snapshot statement, in one round trip; the results are
 * the caller's (calls_clear). Nothing is written, so it ends in a
 * rollback. */
static gboolean
read_snapshot (StStore *store, StStoreCall *calls, guint n, GError **error)
{
  g_autofree StStoreCall *all = g_new0 (StStoreCall, n + 1);
  gboolean ok;

  all[0].stmt = &st_sql_report_snapshot;
  memcpy (all + 1, calls, n * sizeof *calls);
  ok = st_store_begin (store, error)
       && st_store_exec_many (store, all, n + 1, error);
  st_store_rollback (store);
  if (!ok)
    return FALSE;
  PQclear (all[0].result);
  for (guint i = 0; i < n; i++)
    calls[i].result = all[i + 1].result;
  return TRUE;
}

static void
calls_clear (StStoreCall *calls, guint n)
{
  for (guint i = 0; i < n; i++)
    g_clear_pointer (&calls[i].result, PQclear);
}

/* Each member of the record (a{sv}) into @builder; a floating @record is
 * consumed. */
static void
add_record (GVariantBuilder *builder, GVariant *record)
{
  g_autoptr (GVariant) owned = g_variant_ref_sink (record);
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&iter, owned);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_variant_builder_add (builder, "{sv}", key, value);
      g_variant_unref (value);
    }
}

static void
add_period (GVariantBuilder *builder, PGresult *res)
{
  add_record (builder, st_record_from_row (res, 0));
}

/* The funnel --------------------------------------------------------------- */

typedef struct {
  char *stage;
  gboolean configured;
  gint64 customers, entered, stayed;
  GVariantBuilder next; /* aa{sv}: stage, customers, share */
} FunnelStage;

static void
funnel_stage_free (FunnelStage *row)
{
  g_variant_builder_clear (&row->next);
  g_free (row->stage);
  g_free (row);
}

static FunnelStage *
funnel_stage (GPtrArray *rows, GHashTable *by_name, const char *stage,
              gboolean configured)
{
  FunnelStage *row = g_hash_table_lookup (by_name, stage);

  if (row != NULL)
    return row;
  row = g_new0 (FunnelStage, 1);
  row->stage = g_strdup (stage);
  row->configured = configured;
  g_variant_builder_init (&row->next, G_VARIANT_TYPE ("aa{sv}"));
  g_ptr_array_add (rows, row);
  g_hash_table_insert (by_name, row->stage, row);
  return row;
}

static int
compare_unconfigured (gconstpointer a, gconstpointer b)
{
  const FunnelStage *x = *(FunnelStage *const *) a;
  const FunnelStage *y = *(FunnelStage *const *) b;

  if (x->configured != y->configured)
    return x->configured ? -1 : 1;
  return x->configured ? 0 : g_strcmp0 (x->stage, y->stage);
}

static void
funnel_add_moves (GPtrArray *rows, GHashTable *by_name, PGresult *res)
{
  for (int i = 0; i < PQntuples (res); i++)
    {
      FunnelStage *row = funnel_stage (rows, by_name, PQgetvalue (res, i, 0),
                                       FALSE);
      gint64 count = g_ascii_strtoll (PQgetvalue (res, i, 2), NULL, 10);
      GVariantBuilder next;

      row->entered = g_ascii_strtoll (PQgetvalue (res, i, 4), NULL, 10);
      if (PQgetisnull (res, i, 1))
        {
          row->stayed = count;
          continue;
        }
      /* Builders, not a GVariantDict: the members keep this order. */
      g_variant_builder_init (&next, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&next, "{sv}", "stage",
                             g_variant_new_string (PQgetvalue (res, i, 1)));
      g_variant_builder_add (&next, "{sv}", "customers",
                             g_variant_new_int64 (count));
      g_variant_builder_add (
          &next, "{sv}", "share",
          g_variant_new_double (g_ascii_strtod (PQgetvalue (res, i, 3), NULL)));
      g_variant_builder_add_value (&row->next, g_variant_builder_end (&next));
    }
}

static GVariant *
funnel_stage_record (FunnelStage *row)
{
  GVariantBuilder dict;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&dict, "{sv}", "stage",
                         g_variant_new_string (row->stage));
  g_variant_builder_add (&dict, "{sv}", "customers",
                         g_variant_new_int64 (row->customers));
  g_variant_builder_add (&dict, "{sv}", "entered",
                         g_variant_new_int64 (row->entered));
  g_variant_builder_add (&dict, "{sv}", "stayed",
                         g_variant_new_int64 (row->stayed));
  g_variant_builder_add (&dict, "{sv}", "next",
                         g_variant_builder_end (&row->next));
  if (!row->configured)
    g_variant_builder_add (&dict, "{sv}", "configured",
                           g_variant_new_boolean (FALSE));
  return g_variant_builder_end (&dict);
}

static GVariant *
funnel_reply (const StConfig *config, StStoreCall *calls)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (
      (GDestroyNotify) funnel_stage_free);
  g_autoptr (GHashTable) by_name = g_hash_table_new (g_str_hash, g_str_equal);
  PGresult *now = calls[1].result;
  GVariantBuilder reply, stages;
  gint64 total = 0;

  for (guint i = 0; i < config->stages->len; i++)
    funnel_stage (rows, by_name,
                  ((StStage *) g_ptr_array_index (config->stages, i))->name,
                  TRUE);
  for (int i = 0; i < PQntuples (now); i++)
    {
      FunnelStage *row = funnel_stage (rows, by_name, PQgetvalue (now, i, 0),
                                       FALSE);
      row->customers = g_ascii_strtoll (PQgetvalue (now, i, 1), NULL, 10);
      total += row->customers;
    }
  funnel_add_moves (rows, by_name, calls[2].result);
  /* Stages the configuration no longer has come last, by name. */
  g_ptr_array_sort (rows, compare_unconfigured);

  g_variant_builder_init (&reply, G_VARIANT_TYPE_VARDICT);
  add_period (&reply, calls[0].result);
  g_variant_builder_add (&reply, "{sv}", "customers",
                         g_variant_new_int64 (total));
  g_variant_builder_init (&stages, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < rows->len; i++)
    g_variant_builder_add_value (&stages,
                                 funnel_stage_record (rows->pdata[i]));
  g_variant_builder_add (&reply, "{sv}", "stages",
                         g_variant_builder_end (&stages));
  return g_variant_builder_end (&reply);
}

GVariant *
st_report_funnel (StStore *store, const StConfig *config, GVariant *options,
                  GError **error)
{
  static const char *const known[] = { "since", "days", "owner", "tag",
                                       NULL };
  g_auto (Scope) scope = { 0 };
  GVariant *reply = NULL;

  if (!st_record_check_keys (options, known, "options", error)
      || !read_filter (options, &scope, error)
      || !read_period (options, ST_REPORT_FUNNEL_DEFAULT_DAYS, &scope, error))
    return NULL;
  {
    const char *period[] = { scope.since, scope.days };
    const char *filter[] = { scope.owner, scope.tag };
    const char *moves[] = { scope.since, scope.days, scope.owner, scope.tag };
    StStoreCall calls[] = {
      { &st_sql_report_period, period, NULL },
      { &st_sql_report_funnel_now, filter, NULL },
      { &st_sql_report_funnel_moves, moves, NULL },
    };

    if (read_snapshot (store, calls, G_N_ELEMENTS (calls), error))
      reply = g_variant_ref_sink (funnel_reply (config, calls));
    calls_clear (calls, G_N_ELEMENTS (calls));
  }
  return reply;
}

/* Health ------------------------------------------------------------------ */

static gboolean
read_limit (GVariant *options, guint *limit, GError **error)
{
  if (!st_record_get_uint (options, "limit", limit, error))
    return FALSE;
  if (*limit == 0 || *limit > MAX_HEALTH_LIMIT)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "limit: %u is out of range; give 1 to %u", *limit,
                   MAX_HEALTH_LIMIT);
      return FALSE;
    }
  return TRUE;
}

static GVariant *
health_reply (const char *risk, StStoreCall *calls)
{
  GVariantBuilder reply;
  gint64 customers = 0, scored = 0;
  g_autoptr (GVariant) summary = g_variant_ref_sink (
      st_record_from_row (calls[0].result, 0));

  g_variant_lookup (summary, "customers", "x", &customers);
  g_variant_lookup (summary, "scored", "x", &scored);
  g_variant_builder_init (&reply, G_VARIANT_TYPE_VARDICT);
  add_record (&reply, summary);
  g_variant_builder_add (&reply, "{sv}", "unscored",
                         g_variant_new_int64 (customers - scored));
  g_variant_builder_add (&reply, "{sv}", "risk", g_variant_new_string (risk));
  g_variant_builder_add (&reply, "{sv}", "levels",
                         st_record_list_from_result (calls[1].result));
  g_variant_builder_add (&reply, "{sv}", "buckets",
                         st_record_list_from_result (calls[2].result));
  g_variant_builder_add (&reply, "{sv}", "factors",
                         st_record_list_from_result (calls[3].result));
  g_variant_builder_add (&reply, "{sv}", "lowest",
                         st_record_list_from_result (calls[4].result));
  return g_variant_builder_end (&reply);
}

GVariant *
st_report_health (StStore *store, const StConfig *config, GVariant *options,
                  GError **error)
{
  static const char *const known[] = { "owner", "tag", "risk", "limit",
                                       NULL };
  g_auto (Scope) scope = { 0 };
  const char *risk = DEFAULT_RISK;
  guint limit = ST_REPORT_HEALTH_DEFAULT_LIMIT;
  g_autofree char *limit_text = NULL;
  GVariant *reply = NULL;

  (void) config;
  if (!st_record_check_keys (options, known, "options", error)
      || !read_filter (options, &scope, error)
      || !st_record_get_string (options, "risk", &risk, error)
      || !read_limit (options, &limit, error))
    return NULL;
  limit_text = g_strdup_printf ("%u", limit);
  {
    const char *filter[] = { scope.owner, scope.tag };
    const char *with_risk[] = { scope.owner, scope.tag, risk };
    const char *with_limit[] = { scope.owner, scope.tag, limit_text };
    StStoreCall calls[] = {
      { &st_sql_report_health_summary, with_risk, NULL },
      { &st_sql_report_health_levels, filter, NULL },
      { &st_sql_report_health_buckets, filter, NULL },
      { &st_sql_report_health_factors, with_risk, NULL },
      { &st_sql_report_health_lowest, with_limit, NULL },
    };

    if (read_snapshot (store, calls, G_N_ELEMENTS (calls), error))
      reply = g_variant_ref_sink (health_reply (risk, calls));
    calls_clear (calls, G_N_ELEMENTS (calls));
  }
  return reply;
}

/* NPS ------------------------------------------------------------------- */

static GVariant *
nps_reply (gboolean per_customer, gboolean by_month, StStoreCall *calls)
{
  PGresult *res = calls[1].result;
  GVariantBuilder reply, months;

  g_variant_builder_init (&reply, G_VARIANT_TYPE_VARDICT);
  add_period (&reply, calls[0].result);
  g_variant_builder_add (&reply, "{sv}", "per_customer",
                         g_variant_new_boolean (per_customer));
  /* The whole period's row comes first; its month is NULL. */
  add_record (&reply, st_record_from_row (res, 0));
  if (!by_month)
    return g_variant_builder_end (&reply);
  g_variant_builder_init (&months, G_VARIANT_TYPE ("aa{sv}"));
  for (int i = 1; i < PQntuples (res); i++)
    g_variant_builder_add_value (&months, st_record_from_row (res, i));
  g_variant_builder_add (&reply, "{sv}", "months",
                         g_variant_builder_end (&months));
  return g_variant_builder_end (&reply);
}

GVariant *
st_report_nps (StStore *store, const StConfig *config, GVariant *options,
               GError **error)
{
  static const char *const known[] = { "since", "days", "owner", "tag",
                                       "per_customer", "by_month", NULL };
  g_auto (Scope) scope = { 0 };
  gboolean per_customer = FALSE, by_month = FALSE;
  GVariant *reply = NULL;

  (void) config;
  if (!st_record_check_keys (options, known, "options", error)
      || !read_filter (options, &scope, error)
      || !read_period (options, ST_REPORT_NPS_DEFAULT_DAYS, &scope, error)
      || !get_boolean (options, "per_customer", &per_customer, error)
      || !get_boolean (options, "by_month", &by_month, error))
    return NULL;
  {
    const char *period[] = { scope.since, scope.days };
    const char *params[] = { scope.since, scope.days, scope.owner, scope.tag,
                             per_customer ? "true" : "false",
                             by_month ? "true" : "false" };
    StStoreCall calls[] = {
      { &st_sql_report_period, period, NULL },
      { &st_sql_report_nps, params, NULL },
    };

    if (read_snapshot (store, calls, G_N_ELEMENTS (calls), error))
      reply = g_variant_ref_sink (nps_reply (per_customer, by_month, calls));
    calls_clear (calls, G_N_ELEMENTS (calls));
  }
  return reply;
}
