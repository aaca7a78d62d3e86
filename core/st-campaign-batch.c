/* Processing one campaign batch in one transaction: claim it (SKIP
 * LOCKED, so the workers of every daemon share a run), re-check the
 * audience for its ids, read the customers still in it with one query,
 * run the script for each (st-campaign-target.c), write the messages and
 * run_targets rows set-based, and count the batch into its run; the batch
 * that completes the run also closes it. A crash before the commit leaves
 * the batch pending for another worker: nothing of it was kept. */

#include "st-campaign-batch-private.h"

#include <stdlib.h>
#include <string.h>

#include "st-alerts.h"
#include "st-customers.h"
#include "st-error.h"
#include "st-record.h"

ST_STATEMENT_DEFINE (st_sql_batch_claim, 0,
  "SELECT b.run_id, b.batch_no, b.first_id, b.ids, b.attempts,"
  "       b.last_error, r.campaign, r.zone, r.dry_run, r.occurrence"
  "  FROM run_batches b JOIN campaign_runs r ON r.id = b.run_id"
  " WHERE b.state = 'pending' AND r.state = 'running'"
  "   AND r.cancelled_by IS NULL"
  " ORDER BY b.run_id, b.batch_no LIMIT 1 FOR UPDATE OF b SKIP LOCKED");

enum {
  CLAIM_RUN, CLAIM_BATCH, CLAIM_FIRST, CLAIM_IDS, CLAIM_ATTEMPTS,
  CLAIM_LAST_ERROR, CLAIM_CAMPAIGN, CLAIM_ZONE, CLAIM_DRY_RUN,
  CLAIM_OCCURRENCE,
};

/* $2: the zone of a local-time run (else NULL), $3: default_tz. */
ST_STATEMENT_DEFINE (st_sql_batch_customers, 3,
  "SELECT " ST_CUSTOMER_COLUMNS " FROM customers"
  " WHERE id = ANY ($1::bigint[])"
  "   AND ($2::text IS NULL OR COALESCE(tz, $3) = $2)"
  " ORDER BY id");

ST_STATEMENT_DEFINE (st_sql_batch_finish, 8,
  "WITH b AS ("
  "  UPDATE run_batches SET state = 'done', summary = $8::jsonb,"
  "    finished_at = clock_timestamp()"
  "   WHERE run_id = $1 AND batch_no = $2)"
  "UPDATE campaign_runs SET done = done + $3, sent = sent + $4,"
  "  skipped = skipped + $5, failed = failed + $6,"
  "  batches_done = batches_done + 1,"
  "  state = CASE WHEN state = 'running' AND batches_done + 1 >= batches"
  "               THEN 'done' ELSE state END,"
  "  finished_at = CASE WHEN state = 'running' AND batches_done + 1 >= batches"
  "                     THEN clock_timestamp() ELSE finished_at END,"
  "  last_error = COALESCE($7, last_error)"
  " WHERE id = $1"
  " RETURNING batches_done >= batches, total, failed");

/* The batches' summaries made one: counts added up, the first samples and
 * errors in batch order. */
ST_STATEMENT_DEFINE (st_sql_run_summary, 1,
  "WITH s AS (SELECT batch_no, summary FROM run_batches"
  "            WHERE run_id = $1 AND summary IS NOT NULL),"
  " a AS (SELECT k, sum(v::bigint) AS n"
  "         FROM s, jsonb_each_text(s.summary->'actions') AS e(k, v)"
  "        GROUP BY k),"
  " c AS (SELECT k, sum(v::bigint) AS n"
  "         FROM s, jsonb_each_text(s.summary->'channels') AS e(k, v)"
  "        GROUP BY k),"
  " x AS (SELECT x FROM s, jsonb_array_elements(s.summary->'samples')"
  "         WITH ORDINALITY AS e(x, i) ORDER BY s.batch_no, e.i LIMIT 5),"
  " y AS (SELECT y FROM s, jsonb_array_elements(s.summary->'errors')"
  "         WITH ORDINALITY AS e(y, i) ORDER BY s.batch_no, e.i LIMIT 5)"
  "UPDATE campaign_runs SET summary = jsonb_build_object("
  "  'actions', (SELECT COALESCE(jsonb_object_agg(k, n), '{}') FROM a),"
  "  'channels', (SELECT COALESCE(jsonb_object_agg(k, n), '{}') FROM c),"
  "  'samples', (SELECT COALESCE(jsonb_agg(x), '[]') FROM x),"
  "  'errors', (SELECT COALESCE(jsonb_agg(y), '[]') FROM y))"
  " WHERE id = $1");

ST_STATEMENT_DEFINE (st_sql_run_batches_drop, 1,
  "DELETE FROM run_batches WHERE run_id = $1");

/* A run whose campaign went away: its pending batches first, then the
 * run, the order every batch's transaction locks them in. */
ST_STATEMENT_DEFINE (st_sql_batch_fail_run, 2,
  "WITH d AS (DELETE FROM run_batches WHERE run_id = $1 AND state = 'pending')"
  "UPDATE campaign_runs SET state = 'failed', last_error = $2,"
  "  finished_at = clock_timestamp()"
  " WHERE id = $1 AND state = 'running'");

/* $4: the attempts the failed transaction claimed the batch with. The
 * claim's lock went with its rollback, so another worker may have run the
 * batch again before this counts the failure: the same attempt, counted
 * once. */
ST_STATEMENT_DEFINE (st_sql_batch_attempt, 4,
  "UPDATE run_batches SET attempts = attempts + 1, last_error = $3"
  " WHERE run_id = $1 AND batch_no = $2 AND state = 'pending'"
  "   AND attempts = $4");

/* Reading the claim ------------------------------------------------------ */

static gboolean
parse_ids (const char *text, GArray *ids)
{
  const char *p = text;

  if (*p++ != '{')
    return FALSE;
  while (*p != '\0' && *p != '}')
    {
      char *end;
      gint64 id = g_ascii_strtoll (p, &end, 10);

      if (end == p)
        return FALSE;
      g_array_append_val (ids, id);
      p = *end == ',' ? end + 1 : end;
    }
  return TRUE;
}

static GVariant *
run_event (StBatch *batch, PGresult *claim)
{
  g_autofree char *occurrence = st_record_time_from_pg (
      PQgetvalue (claim, 0, CLAIM_OCCURRENCE));
  const char *campaign = PQgetvalue (claim, 0, CLAIM_CAMPAIGN);
  g_autofree char *key = g_strdup_printf ("campaign:%s:%s", campaign,
                                          occurrence);
  GVariantDict event;

  g_variant_dict_init (&event, NULL);
  g_variant_dict_insert (&event, "kind", "s", "campaign");
  g_variant_dict_insert (&event, "campaign", "s", campaign);
  g_variant_dict_insert (&event, "run_id", "x",
                         g_ascii_strtoll (batch->run_text, NULL, 10));
  g_variant_dict_insert (&event, "occurrence", "s", occurrence);
  if (batch->zone != NULL)
    g_variant_dict_insert (&event, "zone", "s", batch->zone);
  g_variant_dict_insert (&event, "dry_run", "b", batch->dry_run);
  g_variant_dict_insert (&event, "key", "s", key);
  return g_variant_ref_sink (g_variant_dict_end (&event));
}

/* The event (a flat a{sv} of strings, integers and booleans) as a row:
 * each target's script gets it as a table built straight from these
 * texts, not converted from the record again. */
static void
event_row (StBatch *batch)
{
  gsize n = g_variant_n_children (batch->event);

  batch->event_names = g_new0 (char *, n + 1);
  batch->event_values = g_new0 (char *, n + 1);
  batch->event_kinds = g_new0 (int, n);
  for (gsize i = 0; i < n; i++)
    {
      const char *name;
      g_autoptr (GVariant) value = NULL;

      g_variant_get_child (batch->event, i, "{&sv}", &name, &value);
      batch->event_names[i] = g_strdup (name);
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
        {
          batch->event_kinds[i] = ST_COLUMN_INT64;
          batch->event_values[i] = g_strdup_printf (
              "%" G_GINT64_FORMAT, g_variant_get_int64 (value));
        }
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
        {
          batch->event_kinds[i] = ST_COLUMN_BOOL;
          batch->event_values[i] = g_strdup (
              g_variant_get_boolean (value) ? "t" : "f");
        }
      else
        {
          g_assert (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING));
          batch->event_kinds[i] = ST_COLUMN_TEXT;
          batch->event_values[i] = g_variant_dup_string (value, NULL);
        }
    }
  batch->event_row = (StLuaRow){ (guint) n,
                                 (const char *const *) batch->event_names,
                                 batch->event_kinds,
                                 (const char *const *) batch->event_values };
}

static void
read_claim (StBatch *batch, PGresult *claim)
{
  batch->run_text = g_strdup (PQgetvalue (claim, 0, CLAIM_RUN));
  batch->batch_text = g_strdup (PQgetvalue (claim, 0, CLAIM_BATCH));
  batch->first_id = g_ascii_strtoll (PQgetvalue (claim, 0, CLAIM_FIRST),
                                     NULL, 10);
  parse_ids (PQgetvalue (claim, 0, CLAIM_IDS), batch->ids);
  batch->attempts = atoi (PQgetvalue (claim, 0, CLAIM_ATTEMPTS));
  if (!PQgetisnull (claim, 0, CLAIM_LAST_ERROR))
    batch->last_error = g_strdup (PQgetvalue (claim, 0, CLAIM_LAST_ERROR));
  if (!PQgetisnull (claim, 0, CLAIM_ZONE))
    batch->zone = g_strdup (PQgetvalue (claim, 0, CLAIM_ZONE));
  batch->dry_run = PQgetvalue (claim, 0, CLAIM_DRY_RUN)[0] == 't';
  batch->event = run_event (batch, claim);
  event_row (batch);
}

/* Who is still in the audience ----------------------------------------- */

static char *
ids_literal (GArray *ids)
{
  GString *text = g_string_new ("{");

  for (guint i = 0; i < ids->len; i++)
    g_string_append_printf (text, "%s%" G_GINT64_FORMAT, i ? "," : "",
                            g_array_index (ids, gint64, i));
  g_string_append_c (text, '}');
  return g_string_free (text, FALSE);
}

/* The batch's ids still in the audience, ascending: the audience's query
 * among them alone, by primary key (a sparse audience in a big table
 * costs no more per batch than a dense one). */
static GArray *
still_in_audience (StBatch *batch, GError **error)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GPtrArray) params = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *sql = NULL;
  g_autoptr (PGresult) res = NULL;
  GArray *kept;

  g_ptr_array_add (params, g_strdup_printf ("%" G_GINT64_FORMAT,
                                            batch->first_id - 1));
  g_ptr_array_add (params, g_strdup_printf ("%u", MAX (batch->ids->len, 1)));
  g_ptr_array_add (params, g_date_time_format_iso8601 (now));
  sql = st_audience_sql_among (batch->campaign.audience, params);
  g_ptr_array_add (params, ids_literal (batch->ids));
  res = st_store_exec_sql (batch->store, sql, (int) params->len,
                           (const char *const *) params->pdata, error);
  if (res == NULL)
    return NULL;
  kept = g_array_sized_new (FALSE, FALSE, sizeof (gint64),
                            (guint) PQntuples (res));
  for (int row = 0; row < PQntuples (res); row++)
    {
      gint64 id = g_ascii_strtoll (PQgetvalue (res, row, 0), NULL, 10);
      g_array_append_val (kept, id);
    }
  return kept;
}

/* Running the batch ------------------------------------------------------ */

/* Each id of the batch becomes a target: the script's outcome for those
 * still in the audience, skipped for the others. */
static gboolean
run_targets (StBatch *batch, GError **error)
{
  const StConfig *config = st_engine_get_config (batch->engine);
  g_autoptr (GArray) kept = still_in_audience (batch, error);
  g_autofree char *kept_text = NULL;
  g_autoptr (PGresult) res = NULL;
  g_autofree const char **names = NULL, **values = NULL;
  g_autofree int *kinds = NULL;
  StLuaRow customer;
  int row = 0, n, n_fields;

  if (kept == NULL)
    return FALSE;
  kept_text = ids_literal (kept);
  res = st_store_exec (batch->store, &st_sql_batch_customers,
                       (const char *[]){ kept_text, batch->zone,
                                         config->default_tz },
                       error);
  if (res == NULL)
    return FALSE;
  n = PQntuples (res);
  n_fields = PQnfields (res);
  names = g_new (const char *, n_fields);
  kinds = g_new (int, n_fields);
  values = g_new (const char *, n_fields);
  for (int col = 0; col < n_fields; col++)
    {
      names[col] = PQfname (res, col);
      kinds[col] = st_record_column_kind (res, col);
    }
  customer = (StLuaRow){ (guint) n_fields, names, kinds, values };
  for (guint i = 0; i < batch->ids->len; i++)
    {
      gint64 id = g_array_index (batch->ids, gint64, i);

      if (g_atomic_int_get (batch->stopping))
        {
          g_set_error (error, ST_ERROR, ST_ERROR_UNAVAILABLE,
                       "the daemon is stopping; the batch is left to another "
                       "worker");
          return FALSE;
        }
      if (row < n && g_ascii_strtoll (PQgetvalue (res, row, 0), NULL, 10) == id)
        {
          /* The row as it is: the script gets it as a table directly,
           * and a template reads only the columns it names. */
          for (int col = 0; col < n_fields; col++)
            values[col] = PQgetisnull (res, row, col)
                              ? NULL : PQgetvalue (res, row, col);
          row++;
          if (!st_batch_run_target (batch, id, &customer, error))
            return FALSE;
        }
      else
        st_batch_add_target (batch, id, "skipped",
                             "left the audience before its batch ran");
    }
  return TRUE;
}

/* Every target failed: the batch's transaction failed too often. */
static void
fail_targets (StBatch *batch)
{
  g_autofree char *why = g_strdup_printf (
      "the batch failed %d times: %s", batch->attempts,
      batch->last_error ? batch->last_error : "unknown error");

  for (guint i = 0; i < batch->ids->len; i++)
    st_batch_add_target (batch, g_array_index (batch->ids, gint64, i),
                         "failed", why);
}

gboolean
st_campaign_run_summarize (StStore *store, const char *run_id,
                           GError **error)
{
  g_autoptr (PGresult) summary = NULL, dropped = NULL;

  summary = st_store_exec (store, &st_sql_run_summary,
                           (const char *[]){ run_id }, error);
  if (summary == NULL)
    return FALSE;
  dropped = st_store_exec (store, &st_sql_run_batches_drop,
                           (const char *[]){ run_id }, error);
  return dropped != NULL;
}

/* The run's end, in the transaction of its last batch: the summary made
 * one, the batches dropped, and an alert when targets failed. */
static gboolean
close_run (StBatch *batch, gint64 total, gint64 failed, GError **error)
{
  g_autofree char *message = NULL, *kind = NULL, *data = NULL;
  GVariant *alert;

  if (!st_campaign_run_summarize (batch->store, batch->run_text, error))
    return FALSE;
  if (failed == 0 || batch->dry_run)
    return TRUE;
  kind = g_strdup_printf ("campaign_failed:%.48s",
                          batch->campaign.script->name);
  message = g_strdup_printf (
      "campaign %s, run %s: %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
      " targets failed; 'stewardctl campaign show %s' shows the errors",
      batch->campaign.script->name, batch->run_text, failed, total,
      batch->run_text);
  data = g_strdup_printf ("{\"run_id\": %s, \"failed\": %" G_GINT64_FORMAT
                          ", \"total\": %" G_GINT64_FORMAT "}",
                          batch->run_text, failed, total);
  alert = st_alerts_raise (batch->store, 0, kind, "warning", message, data,
                           "core", error);
  if (alert == NULL)
    return FALSE;
  g_ptr_array_add (batch->alerts, alert);
  return TRUE;
}

static gboolean
finish_batch (StBatch *batch, GError **error)
{
  g_autofree char *done = NULL, *sent = NULL, *skipped = NULL, *failed = NULL;
  g_autofree char *summary = st_batch_summary_json (batch);
  g_autoptr (PGresult) res = NULL;

  done = g_strdup_printf ("%" G_GINT64_FORMAT, batch->sent + batch->acted
                          + batch->skipped + batch->failed);
  sent = g_strdup_printf ("%" G_GINT64_FORMAT, batch->sent);
  skipped = g_strdup_printf ("%" G_GINT64_FORMAT, batch->skipped);
  failed = g_strdup_printf ("%" G_GINT64_FORMAT, batch->failed);
  res = st_store_exec (batch->store, &st_sql_batch_finish,
                       (const char *[]){ batch->run_text, batch->batch_text,
                                         done, sent, skipped, failed,
                                         batch->attempts
                                                 >= ST_CAMPAIGN_BATCH_ATTEMPTS
                                             ? batch->last_error : NULL,
                                         summary },
                       error);
  if (res == NULL)
    return FALSE;
  if (PQntuples (res) == 1 && PQgetvalue (res, 0, 0)[0] == 't')
    return close_run (batch, g_ascii_strtoll (PQgetvalue (res, 0, 1), NULL,
                                              10),
                      g_ascii_strtoll (PQgetvalue (res, 0, 2), NULL, 10),
                      error);
  return TRUE;
}

/* The run's campaign is gone or broken: the run fails. */
static gboolean
fail_run (StBatch *batch, const GError *why, GError **error)
{
  g_autoptr (PGresult) res = NULL;

  g_warning ("campaign run %s failed: %s", batch->run_text, why->message);
  res = st_store_exec (batch->store, &st_sql_batch_fail_run,
                       (const char *[]){ batch->run_text, why->message },
                       error);
  return res != NULL;
}

/* In the claimed batch's transaction. */
static gboolean
process (StBatch *batch, PGresult *claim, GError **error)
{
  g_autoptr (GError) why = NULL;

  if (!st_campaign_script_load (batch->engine,
                                PQgetvalue (claim, 0, CLAIM_CAMPAIGN),
                                &batch->campaign, &why))
    return fail_run (batch, why, error);
  if (batch->attempts >= ST_CAMPAIGN_BATCH_ATTEMPTS)
    fail_targets (batch);
  else if (!run_targets (batch, error))
    return FALSE;
  return (batch->dry_run || st_batch_write (batch, error))
         && finish_batch (batch, error);
}

/* A failed transaction counts against the batch, in one of its own. */
static void
count_attempt (StStore *store, const StBatch *batch, const GError *failure)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PGresult) res = NULL;
  g_autofree char *attempts = g_strdup_printf ("%d", batch->attempts);

  g_warning ("campaign run %s, batch %s failed: %s", batch->run_text,
             batch->batch_text, failure->message);
  if (!st_store_begin (store, &error))
    return;
  res = st_store_exec (store, &st_sql_batch_attempt,
                       (const char *[]){ batch->run_text, batch->batch_text,
                                         failure->message, attempts },
                       &error);
  if (res == NULL || !st_store_commit (store, &error))
    st_store_rollback (store);
}

gboolean
st_campaign_batch_next (StEngine *engine, StStore *store, StLua *lua,
                        const gint *stopping, GError **error)
{
  g_autoptr (PGresult) claim = NULL;
  g_autoptr (GError) failure = NULL;
  StBatch batch;
  gboolean ok;

  if (!st_store_begin (store, error))
    return FALSE;
  claim = st_store_exec (store, &st_sql_batch_claim, NULL, error);
  if (claim == NULL || PQntuples (claim) == 0)
    {
      st_store_rollback (store);
      return FALSE;
    }
  st_batch_init (&batch, engine, store, lua);
  batch.stopping = stopping;
  read_claim (&batch, claim);
  ok = process (&batch, claim, &failure) && st_store_commit (store, &failure);
  if (ok)
    for (guint i = 0; i < batch.alerts->len; i++)
      st_engine_alert_raised (engine, g_ptr_array_index (batch.alerts, i));
  else
    {
      st_store_rollback (store);
      if (g_error_matches (failure, ST_ERROR, ST_ERROR_UNAVAILABLE))
        g_propagate_error (error, g_steal_pointer (&failure));
      else if (st_store_error_is_conflict (failure))
        {
          /* Lost to a concurrent transaction: the batch was not at fault
           * and stays pending, without an attempt; a short random pause
           * lets the winner finish first. */
          g_message ("campaign run %s, batch %s: %s; it runs again",
                     batch.run_text, batch.batch_text, failure->message);
          g_usleep ((gulong) g_random_int_range (5000, 50000));
        }
      else
        count_attempt (store, &batch, failure);
    }
  st_batch_clear (&batch);
  return ok || error == NULL || *error == NULL;
}
