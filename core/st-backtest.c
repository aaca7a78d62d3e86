/* The backtest: score every customer as they were at a cut-off with the
 * health script, then see how well the ranking finds who did not buy
 * again within the horizon. One read-only transaction; the script runs
 * through StScriptRun as for a trigger job, but its actions are only read. */

#include "st-backtest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st-error.h"
#include "st-record.h"
#include "st-script-run.h"

#define DEFAULT_SCRIPT "health"
#define MAX_HORIZON_DAYS 3650

/* A SELECT, so it can be a prepared statement like the others: from here
 * on the transaction refuses to write, whatever a script asks for. */
ST_STATEMENT_DEFINE (st_sql_backtest_read_only, 0,
  "SELECT set_config('transaction_read_only', 'on', true)");

/* Every customer with a purchase before the cut-off ($1), with the
 * aggregates as they were then, computed from the events before it with
 * the definitions of the live ones (st-events.c, st-aggregates.h):
 * revenue is purchases less refunds, open_tickets is folded in the order
 * the events were recorded and never goes below zero (a running count
 * clamped at zero is the running sum less its lowest point, when below
 * zero), last_nps is the latest NPS survey's score (the last recorded
 * among equal times). The stage is the one
 * the history says the customer was in; identity, tags and attributes are
 * today's (they have no history). bt_churned: no purchase in the
 * horizon ($2 days from the cut-off); bt_silence: days since the last
 * purchase, for the recency baseline. */
ST_STATEMENT_DEFINE (st_sql_backtest_customers, 2,
  "WITH e AS ("
  "  SELECT customer_id, id, kind, occurred_at, amount, data,"
  "         sum(CASE kind WHEN 'ticket_opened' THEN 1"
  "                       WHEN 'ticket_closed' THEN -1 ELSE 0 END)"
  "           OVER (PARTITION BY customer_id ORDER BY id) AS tickets"
  "    FROM events WHERE occurred_at < $1::timestamptz"
  "), agg AS ("
  "  SELECT customer_id,"
  "    min(occurred_at) FILTER (WHERE kind = 'purchase') AS first_purchase_at,"
  "    max(occurred_at) FILTER (WHERE kind = 'purchase') AS last_purchase_at,"
  "    count(*) FILTER (WHERE kind = 'purchase') AS purchase_count,"
  "    COALESCE(sum(CASE kind WHEN 'purchase' THEN COALESCE(amount, 0)"
  "                 WHEN 'refund' THEN -abs(COALESCE(amount, 0))"
  "                 ELSE 0 END), 0) AS revenue,"
  "    max(occurred_at) AS last_contact_at,"
  "    max(occurred_at) AS last_event_at,"
  "    count(*) AS event_count,"
  "    ((array_agg(tickets ORDER BY id DESC))[1]"
  "      - LEAST(0, min(tickets)))::int AS open_tickets,"
  "    ((array_agg(data->>'score' ORDER BY occurred_at DESC, id DESC)"
  "      FILTER (WHERE kind = 'survey'"
  "              AND COALESCE(data->>'type', 'nps') = 'nps'))[1])"
  "      ::numeric::int AS last_nps,"
  "    max(occurred_at) FILTER (WHERE kind = 'survey'"
  "      AND COALESCE(data->>'type', 'nps') = 'nps') AS last_nps_at"
  "  FROM e GROUP BY customer_id"
  "  HAVING count(*) FILTER (WHERE kind = 'purchase') > 0"
  ")"
  "SELECT c.id, c.ref, c.name, c.email, c.phone, c.locale, c.tz, c.owner,"
  "       to_json(c.tags) AS tags, c.attrs, h.to_stage AS stage,"
  "       h.changed_at AS stage_since,"
  "       CASE WHEN c.created_at < $1::timestamptz THEN c.created_at END"
  "         AS created_at,"
  "       a.first_purchase_at, a.last_purchase_at, a.purchase_count,"
  "       a.revenue, a.last_contact_at, a.last_event_at, a.event_count,"
  "       a.open_tickets, a.last_nps, a.last_nps_at,"
  "       NOT EXISTS (SELECT 1 FROM events f WHERE f.customer_id = c.id"
  "         AND f.kind = 'purchase' AND f.occurred_at >= $1::timestamptz"
  "         AND f.occurred_at < $1::timestamptz"
  "                             + make_interval(days => $2::int))"
  "         AS bt_churned,"
  "       (extract(epoch FROM $1::timestamptz - a.last_purchase_at)"
  "         / 86400)::float8 AS bt_silence"
  "  FROM agg a JOIN customers c ON c.id = a.customer_id"
  "  LEFT JOIN LATERAL ("
  "    SELECT to_stage, changed_at FROM stage_history s"
  "     WHERE s.customer_id = c.id AND s.changed_at < $1::timestamptz"
  "     ORDER BY s.changed_at DESC, s.id DESC LIMIT 1) h ON true"
  " ORDER BY c.id");

/* How far the events go, to warn when the horizon runs past them. */
ST_STATEMENT_DEFINE (st_sql_backtest_coverage, 2,
  "SELECT max(occurred_at) AS data_until,"
  "       max(occurred_at) < $1::timestamptz + make_interval(days => $2::int)"
  "         AS short"
  "  FROM events");

/* The figures ------------------------------------------------------------ */

typedef struct {
  double score;
  gboolean churned;
} Ranked;

static int
compare_ranked (const void *a, const void *b)
{
  double x = ((const Ranked *) a)->score, y = ((const Ranked *) b)->score;

  return (x > y) - (x < y);
}

/* The customers from the riskiest (lowest score) up. */
static Ranked *
ranked_new (const double *scores, const gboolean *churned, gsize n)
{
  Ranked *ranked = g_new (Ranked, MAX (n, 1));

  for (gsize i = 0; i < n; i++)
    ranked[i] = (Ranked){ scores[i], churned[i] };
  qsort (ranked, n, sizeof *ranked, compare_ranked);
  return ranked;
}

/* The Mann-Whitney form: the chance that a customer who bought again is
 * ranked safer than one who did not, from the rank sum of the first, with
 * tied customers given their average rank. */
double
st_backtest_auc (const double *scores, const gboolean *churned, gsize n)
{
  g_autofree Ranked *ranked = ranked_new (scores, churned, n);
  double rank_sum = 0;
  gsize stayed = 0;

  for (gsize i = 0; i < n;)
    {
      gsize j = i, stayed_here = 0;

      for (; j < n && ranked[j].score == ranked[i].score; j++)
        stayed_here += !ranked[j].churned;
      /* Ranks i + 1 .. j share their average. */
      rank_sum += (double) (i + 1 + j) / 2 * stayed_here;
      stayed += stayed_here;
      i = j;
    }
  if (stayed == 0 || stayed == n)
    return NAN;
  return (rank_sum - (double) stayed * (stayed + 1) / 2)
         / ((double) stayed * (n - stayed));
}

gsize
st_backtest_top_size (gsize n)
{
  return (n + 9) / 10;
}

double
st_backtest_top_precision (const double *scores, const gboolean *churned,
                           gsize n)
{
  g_autofree Ranked *ranked = ranked_new (scores, churned, n);
  gsize k = st_backtest_top_size (n);
  gsize below = 0, churned_below = 0, tied = 0, churned_tied = 0;
  double boundary;

  if (k == 0)
    return NAN;
  boundary = ranked[k - 1].score;
  for (gsize i = 0; i < n && ranked[i].score <= boundary; i++)
    {
      if (ranked[i].score < boundary)
        below++, churned_below += ranked[i].churned;
      else
        tied++, churned_tied += ranked[i].churned;
    }
  return (churned_below + (double) (k - below) * churned_tied / tied) / k;
}

/* One run ---------------------------------------------------------------- */

/* One column of figures with who churned: the scores, or one factor. */
typedef struct {
  GArray *values;  /* double */
  GArray *churned; /* gboolean */
} Column;

static Column *
column_new (void)
{
  Column *column = g_new (Column, 1);

  column->values = g_array_new (FALSE, FALSE, sizeof (double));
  column->churned = g_array_new (FALSE, FALSE, sizeof (gboolean));
  return column;
}

static void
column_free (Column *column)
{
  g_array_unref (column->values);
  g_array_unref (column->churned);
  g_free (column);
}

static void
column_add (Column *column, double value, gboolean churned)
{
  g_array_append_val (column->values, value);
  g_array_append_val (column->churned, churned);
}

static double
column_auc (const Column *column)
{
  return st_backtest_auc ((const double *) (void *) column->values->data,
                          (const gboolean *) (void *) column->churned->data,
                          column->values->len);
}

static double
column_top (const Column *column)
{
  return st_backtest_top_precision (
      (const double *) (void *) column->values->data,
      (const gboolean *) (void *) column->churned->data, column->values->len);
}

typedef struct {
  StEngine *engine;
  StStore *store;
  StScriptSet *scripts;
  const StScript *script;
  StLua *lua;
  double cutoff;       /* epoch seconds */
  GVariant *event;     /* what the script gets as `event` */
  Column *scores;
  Column *silence;     /* minus the days since the last purchase */
  GHashTable *factors; /* name → Column */
  gsize population, unscored, failed;
  char *first_failure;
} Backtest;

static void
backtest_clear (Backtest *bt)
{
  g_clear_pointer (&bt->scripts, st_script_set_unref);
  g_clear_pointer (&bt->lua, st_lua_free);
  g_clear_pointer (&bt->event, g_variant_unref);
  g_clear_pointer (&bt->scores, column_free);
  g_clear_pointer (&bt->silence, column_free);
  g_clear_pointer (&bt->factors, g_hash_table_unref);
  g_clear_pointer (&bt->first_failure, g_free);
}

static double
number_value (GVariant *value, gboolean *ok)
{
  *ok = TRUE;
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    return g_variant_get_double (value);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    return (double) g_variant_get_int64 (value);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
    return g_variant_get_int32 (value);
  *ok = FALSE;
  return 0;
}

/* The last set_health the script asked for its own customer, if any. */
static GVariant *
health_action (StScriptRun *run)
{
  for (guint i = run->actions->len; i-- > 0;)
    {
      StAction *action = g_ptr_array_index (run->actions, i);
      gint64 customer = 0;

      g_variant_lookup (action->args, "customer_id", "x", &customer);
      if (g_str_equal (action->name, "set_health")
          && customer == run->customer_id)
        return action->args;
    }
  return NULL;
}

static void
collect (Backtest *bt, GVariant *health, gboolean churned, double silence)
{
  g_autoptr (GVariant) factors = NULL;
  gint32 score = 0;
  GVariantIter iter;
  const char *name;
  GVariant *value;

  g_variant_lookup (health, "score", "i", &score);
  column_add (bt->scores, score, churned);
  column_add (bt->silence, -silence, churned);
  factors = g_variant_lookup_value (health, "factors", G_VARIANT_TYPE_VARDICT);
  if (factors == NULL)
    return;
  g_variant_iter_init (&iter, factors);
  while (g_variant_iter_next (&iter, "{&sv}", &name, &value))
    {
      Column *column = g_hash_table_lookup (bt->factors, name);
      gboolean ok;
      double number = number_value (value, &ok);

      /* A NaN or an infinity cannot be ranked: left out. */
      ok = ok && isfinite (number);
      if (ok && column == NULL)
        {
          column = column_new ();
          g_hash_table_insert (bt->factors, g_strdup (name), column);
        }
      if (ok)
        column_add (column, number, churned);
      g_variant_unref (value);
    }
}

/* Score the customer of @row. FALSE only when the database is gone; a
 * script that fails, or sets no health, is counted and passed over. */
static gboolean
score_row (Backtest *bt, PGresult *res, int row, GError **error)
{
  g_autoptr (GVariant) full = g_variant_ref_sink (st_record_from_row (res,
                                                                      row));
  g_autoptr (GError) failure = NULL;
  GVariantDict dict;
  gboolean churned = FALSE, ran;
  double silence = 0;
  gint64 id = 0;
  StScriptRun run;
  GVariant *health;

  g_variant_dict_init (&dict, full);
  g_variant_dict_lookup (&dict, "id", "x", &id);
  g_variant_dict_lookup (&dict, "bt_churned", "b", &churned);
  g_variant_dict_lookup (&dict, "bt_silence", "d", &silence);
  g_variant_dict_remove (&dict, "bt_churned");
  g_variant_dict_remove (&dict, "bt_silence");

  st_script_run_init (&run, bt->engine, bt->store, bt->scripts, bt->script,
                      id);
  run.customer = g_variant_ref_sink (g_variant_dict_end (&dict));
  run.event = g_variant_ref (bt->event);
  run.now = bt->cutoff;
  run.until = bt->cutoff;
  ran = st_script_run_call (&run, bt->lua, &failure);
  health = ran ? health_action (&run) : NULL;
  if (health != NULL)
    collect (bt, health, churned, silence);
  else if (ran)
    bt->unscored++;
  else if (!g_error_matches (failure, ST_ERROR, ST_ERROR_UNAVAILABLE))
    {
      bt->failed++;
      if (bt->first_failure == NULL)
        bt->first_failure = g_strdup_printf ("customer %" G_GINT64_FORMAT
                                             ": %s", id, failure->message);
    }
  st_script_run_clear (&run);
  if (failure != NULL
      && g_error_matches (failure, ST_ERROR, ST_ERROR_UNAVAILABLE))
    {
      g_propagate_error (error, g_steal_pointer (&failure));
      return FALSE;
    }
  return TRUE;
}

/* Checking the request ----------------------------------------------------- */

GDateTime *
st_backtest_parse_cutoff (const char *text, GError **error)
{
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  int year, month, day, end = 0;

  if (text != NULL
      && sscanf (text, "%4d-%2d-%2d%n", &year, &month, &day, &end) == 3
      && text[end] == '\0' && end == 10)
    {
      if (g_date_valid_dmy (day, month, year))
        return g_date_time_new (utc, year, month, day, 0, 0, 0);
    }
  else if (text != NULL)
    {
      GDateTime *at = g_date_time_new_from_iso8601 (text, utc);
      if (at != NULL)
        return at;
    }
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
               "cutoff: '%s' is not a date; write it like 2011-09-01 "
               "(midnight UTC) or 2011-09-01T12:00:00Z",
               text ? text : "");
  return NULL;
}

static char *
format_day (GDateTime *at)
{
  return g_date_time_format (at, "%Y-%m-%d %H:%M UTC");
}

/* The cut-off, as a UTC time that has passed with its whole horizon. */
static GDateTime *
check_request (const StBacktestRequest *request, GError **error)
{
  g_autoptr (GDateTime) parsed = NULL, cutoff = NULL, end = NULL, now = NULL;
  g_autofree char *cutoff_text = NULL, *end_text = NULL;

  if (request->horizon_days == 0 || request->horizon_days > MAX_HORIZON_DAYS)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "horizon: %u days; give 1 to %u days (90 is usual): the "
                   "time after the cut-off in which a customer who buys "
                   "again counts as kept",
                   request->horizon_days, MAX_HORIZON_DAYS);
      return NULL;
    }
  parsed = st_backtest_parse_cutoff (request->cutoff, error);
  if (parsed == NULL)
    return NULL;
  cutoff = g_date_time_to_utc (parsed);
  end = g_date_time_add_days (cutoff, (int) request->horizon_days);
  now = g_date_time_new_now_utc ();
  cutoff_text = format_day (cutoff);
  end_text = format_day (end);
  if (g_date_time_compare (cutoff, now) > 0)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "cutoff: %s is in the future; a backtest scores customers "
                   "as they were at a past date and checks who bought "
                   "again after it", cutoff_text);
      return NULL;
    }
  if (g_date_time_compare (end, now) > 0)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "the horizon of %u days after %s ends on %s, which has "
                   "not come yet: who buys again is not known; choose an "
                   "earlier cut-off or a shorter horizon",
                   request->horizon_days, cutoff_text, end_text);
      return NULL;
    }
  return g_steal_pointer (&cutoff);
}

static const StScript *
find_script (StScriptSet *scripts, const char *name, GError **error)
{
  const StScript *script = st_script_set_find (scripts, name);

  if (script == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_NOT_FOUND,
                   "no script named '%s' is loaded ('stewardctl script list' "
                   "shows them); the backtest runs the health script, "
                   "'" DEFAULT_SCRIPT "' unless another is named", name);
      return NULL;
    }
  if (script->error != NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "script '%s' is broken: %s", name, script->error);
      return NULL;
    }
  return script;
}

/* The report -------------------------------------------------------------- */

static void
add_double (GVariantBuilder *builder, const char *key, double value)
{
  /* An undefined figure is left out rather than sent as NaN. */
  if (!isnan (value))
    g_variant_builder_add (builder, "{sv}", key, g_variant_new_double (value));
}

typedef struct {
  const char *name;
  const Column *column;
  double auc;
} FactorEntry;

static int
compare_factors (const void *a, const void *b)
{
  const FactorEntry *x = a, *y = b;
  double ax = isnan (x->auc) ? -1 : x->auc, ay = isnan (y->auc) ? -1 : y->auc;

  if (ax != ay)
    return ax < ay ? 1 : -1;
  return strcmp (x->name, y->name);
}

/* Each factor alone, the most telling first. */
static GVariant *
factors_report (Backtest *bt)
{
  g_autoptr (GArray) entries = g_array_new (FALSE, FALSE, sizeof (FactorEntry));
  GVariantBuilder list;
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, bt->factors);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      FactorEntry entry = { key, value, column_auc (value) };
      g_array_append_val (entries, entry);
    }
  g_array_sort (entries, compare_factors);
  g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < entries->len; i++)
    {
      const FactorEntry *entry = &g_array_index (entries, FactorEntry, i);
      GArray *values = entry->column->values;
      GVariantBuilder factor;
      double sum = 0;

      for (guint k = 0; k < values->len; k++)
        sum += g_array_index (values, double, k);
      g_variant_builder_init (&factor, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&factor, "{sv}", "name",
                             g_variant_new_string (entry->name));
      add_double (&factor, "auc", entry->auc);
      add_double (&factor, "mean", values->len ? sum / values->len : NAN);
      g_variant_builder_add (&factor, "{sv}", "customers",
                             g_variant_new_int64 (values->len));
      g_variant_builder_add_value (&list, g_variant_builder_end (&factor));
    }
  return g_variant_builder_end (&list);
}

static GVariant *
report (Backtest *bt, const StBacktestRequest *request, GDateTime *cutoff,
        GVariant *coverage, double seconds)
{
  GArray *churned = bt->scores->churned;
  gsize n = churned->len, lost = 0;
  g_autofree char *cutoff_text = g_date_time_format (cutoff,
                                                     "%Y-%m-%dT%H:%M:%SZ");
  const char *data_until = NULL;
  gboolean short_data = FALSE;
  GVariantBuilder out;

  for (guint i = 0; i < n; i++)
    lost += g_array_index (churned, gboolean, i);
  g_variant_builder_init (&out, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&out, "{sv}", "script",
                         g_variant_new_string (bt->script->name));
  g_variant_builder_add (&out, "{sv}", "cutoff",
                         g_variant_new_string (cutoff_text));
  g_variant_builder_add (&out, "{sv}", "horizon_days",
                         g_variant_new_uint32 (request->horizon_days));
  g_variant_builder_add (&out, "{sv}", "customers", g_variant_new_int64 (n));
  g_variant_builder_add (&out, "{sv}", "churned", g_variant_new_int64 (lost));
  add_double (&out, "base_rate", n ? (double) lost / n : NAN);
  add_double (&out, "auc", column_auc (bt->scores));
  g_variant_builder_add (&out, "{sv}", "top_decile_size",
                         g_variant_new_int64 (st_backtest_top_size (n)));
  add_double (&out, "top_decile_precision", column_top (bt->scores));
  add_double (&out, "recency_auc", column_auc (bt->silence));
  add_double (&out, "recency_top_decile_precision", column_top (bt->silence));
  g_variant_builder_add (&out, "{sv}", "factors", factors_report (bt));
  g_variant_builder_add (&out, "{sv}", "population",
                         g_variant_new_int64 (bt->population));
  g_variant_builder_add (&out, "{sv}", "unscored",
                         g_variant_new_int64 (bt->unscored));
  g_variant_builder_add (&out, "{sv}", "failed",
                         g_variant_new_int64 (bt->failed));
  if (bt->first_failure != NULL)
    g_variant_builder_add (&out, "{sv}", "first_failure",
                           g_variant_new_string (bt->first_failure));
  g_variant_lookup (coverage, "data_until", "&s", &data_until);
  g_variant_lookup (coverage, "short", "b", &short_data);
  if (data_until != NULL)
    g_variant_builder_add (&out, "{sv}", "data_until",
                           g_variant_new_string (data_until));
  if (short_data)
    g_variant_builder_add (
        &out, "{sv}", "warning",
        g_variant_new_take_string (g_strdup_printf (
            "the events end at %s, before the horizon does: customers who "
            "bought after that count as lost", data_until)));
  g_variant_builder_add (&out, "{sv}", "seconds",
                         g_variant_new_double (seconds));
  return g_variant_builder_end (&out);
}

/* The event a script gets: the backtest itself, at the cut-off. */
static GVariant *
backtest_event (const char *cutoff_text)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "kind", "s", "backtest");
  g_variant_dict_insert (&dict, "occurred_at", "s", cutoff_text);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static gboolean
score_all (Backtest *bt, const char *cutoff_text, const char *horizon_text,
           GVariant **coverage, GError **error)
{
  const char *params[] = { cutoff_text, horizon_text };
  StStoreCall calls[] = {
    { &st_sql_backtest_read_only, NULL, NULL },
    { &st_sql_backtest_coverage, params, NULL },
    { &st_sql_backtest_customers, params, NULL },
  };
  gboolean ok = TRUE;
  PGresult *res;

  if (!st_store_begin (bt->store, error)
      || !st_store_exec_many (bt->store, calls, G_N_ELEMENTS (calls), error))
    {
      st_store_rollback (bt->store);
      return FALSE;
    }
  *coverage = g_variant_ref_sink (st_record_from_row (calls[1].result, 0));
  res = calls[2].result;
  bt->population = (gsize) PQntuples (res);
  for (int row = 0; ok && row < PQntuples (res); row++)
    ok = score_row (bt, res, row, error);
  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    PQclear (calls[i].result);
  st_store_rollback (bt->store);
  return ok;
}

GVariant *
st_backtest_run (StEngine *engine, StStore *store,
                 const StBacktestRequest *request, GError **error)
{
  g_autoptr (GDateTime) cutoff = check_request (request, error);
  const char *name = request->script ? request->script : DEFAULT_SCRIPT;
  g_autofree char *cutoff_text = NULL, *horizon_text = NULL;
  g_autoptr (GVariant) coverage = NULL;
  gint64 started = g_get_monotonic_time ();
  StLuaLimits limits = st_engine_lua_limits (engine);
  Backtest bt = { .engine = engine, .store = store };
  GVariant *result = NULL;

  if (cutoff == NULL)
    return NULL;
  bt.scripts = st_engine_get_scripts (engine);
  bt.script = find_script (bt.scripts, name, error);
  if (bt.script == NULL)
    {
      backtest_clear (&bt);
      return NULL;
    }
  cutoff_text = g_date_time_format (cutoff, "%Y-%m-%dT%H:%M:%SZ");
  horizon_text = g_strdup_printf ("%u", request->horizon_days);
  bt.cutoff = (double) g_date_time_to_unix (cutoff);
  bt.event = backtest_event (cutoff_text);
  bt.lua = st_lua_new (&limits);
  bt.scores = column_new ();
  bt.silence = column_new ();
  bt.factors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) column_free);

  if (score_all (&bt, cutoff_text, horizon_text, &coverage, error))
    {
      if (bt.scores->values->len == 0 && bt.population > 0)
        g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                     "script '%s' scored none of the %" G_GSIZE_FORMAT
                     " customers (%" G_GSIZE_FORMAT " failed, the others "
                     "set no health)%s%s", name, bt.population, bt.failed,
                     bt.first_failure ? "; first failure: " : "",
                     bt.first_failure ? bt.first_failure : "");
      else
        result = g_variant_ref_sink (
            report (&bt, request, cutoff, coverage,
                    (g_get_monotonic_time () - started)
                        / (double) G_USEC_PER_SEC));
    }
  backtest_clear (&bt);
  return result;
}
