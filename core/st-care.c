#include "st-care.h"

#include <string.h>

#include "st-alerts.h"
#include "st-customers.h"
#include "st-engine.h"
#include "st-error.h"
#include "st-record.h"
#include "st-script-run.h"
#include "st-waker.h"

/* Idle workers look again this often even without a notification, for
 * jobs that were due later (delays, follow-ups). */
#define CARE_POLL_MS 1000

ST_STATEMENT_DEFINE (st_sql_care_enqueue, 5,
  "WITH s AS ("
  "  SELECT name, delay FROM jsonb_to_recordset($5::jsonb)"
  "    AS x(name text, delay bigint)"
  "), ins AS ("
  "  INSERT INTO care_jobs (customer_id, key, script, trigger, event_id,"
  "                         due_at)"
  "  SELECT $1, $2 || ':' || s.name, s.name, $3, $4::bigint,"
  "         now() + make_interval(secs => s.delay) FROM s"
  "  ON CONFLICT (customer_id, key) DO NOTHING RETURNING 1"
  ")"
  "SELECT pg_notify('" ST_CARE_CHANNEL "', ''), (SELECT count(*) FROM ins)");

/* Claim the oldest due job and take its customer's lock: one job per
 * customer at a time, since a script reads the customer, decides and acts,
 * and a second job deciding on the same stale record would contradict it
 * (two churn checks both moving the customer). The lock is held until the
 * commit; what the job reads is read after it, by the next statement. */
ST_STATEMENT_DEFINE (st_sql_care_claim, 0,
  "WITH j AS ("
  "  SELECT customer_id, id, key, script, trigger, event_id, payload"
  "    FROM care_jobs WHERE state = 'pending' AND due_at <= now()"
  "   ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
  " SELECT j.*,"
  "   pg_advisory_xact_lock(73911856, (j.customer_id % 2147483647)::int)::text"
  "  FROM j");

enum {
  COL_CUSTOMER, COL_ID, COL_KEY, COL_SCRIPT, COL_TRIGGER, COL_EVENT,
  COL_PAYLOAD,
};

ST_STATEMENT_DEFINE (st_sql_care_finish, 4,
  "UPDATE care_jobs SET state = $3, attempts = attempts + 1,"
  "  last_error = $4, finished_at = now()"
  " WHERE customer_id = $1 AND id = $2");

ST_STATEMENT_DEFINE (st_sql_care_event, 2,
  "SELECT id, customer_id, kind, occurred_at, recorded_at, amount, data,"
  "       idem_key AS key"
  "  FROM events WHERE customer_id = $1 AND id = $2");

ST_STATEMENT_DEFINE (st_sql_care_stage_entry, 2,
  "SELECT 'stage:' || to_stage AS kind, id, to_stage AS stage,"
  "       from_stage AS \"from\", actor, reason, changed_at AS occurred_at"
  "  FROM stage_history WHERE customer_id = $1 AND id = $2");

static char *
int_text (gint64 value)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, value);
}

char *
st_care_plan (StScriptSet *scripts, const char *trigger)
{
  g_autoptr (GPtrArray) matching = NULL;
  GString *list;

  if (scripts == NULL)
    return NULL;
  matching = st_script_set_for_trigger (scripts, trigger);
  if (matching == NULL || matching->len == 0)
    return NULL;
  /* Script names are [a-z0-9_-]: nothing to escape. */
  list = g_string_new ("[");
  for (guint i = 0; i < matching->len; i++)
    {
      const StScript *script = g_ptr_array_index (matching, i);
      g_string_append_printf (list, "%s{\"name\":\"%s\",\"delay\":%" G_GINT64_FORMAT "}",
                              i ? "," : "", script->name, script->delay);
    }
  g_string_append_c (list, ']');
  return g_string_free (list, FALSE);
}

gboolean
st_care_enqueue (StStore *store, StScriptSet *scripts, gint64 customer_id,
                 const char *trigger, const char *source, gint64 source_id,
                 GError **error)
{
  g_autofree char *list = st_care_plan (scripts, trigger);
  g_autofree char *customer = NULL, *prefix = NULL, *event_id = NULL;
  g_autoptr (PGresult) res = NULL;

  if (list == NULL)
    return TRUE;
  customer = int_text (customer_id);
  prefix = g_strdup_printf ("%s:%" G_GINT64_FORMAT, source, source_id);
  if (g_str_equal (source, "event"))
    event_id = int_text (source_id);
  res = st_store_exec (store, &st_sql_care_enqueue,
                       (const char *[]){ customer, prefix, trigger, event_id,
                                         list },
                       error);
  return res != NULL;
}

/* Engine --------------------------------------------------------------- */

struct _StCare {
  StEngine *engine;
  StWaker *waker;     /* while started: NOTIFY → worker wake-ups */
  GPtrArray *threads;
};

/* Running one job ------------------------------------------------------- */

/* The event of a job that has no row to read: a follow-up, with the data
 * the script left for itself. */
static GVariant *
follow_up_event (PGresult *claim)
{
  GVariantDict dict;
  g_autoptr (GVariant) payload = st_record_from_json (
      PQgetvalue (claim, 0, COL_PAYLOAD), NULL);

  if (payload != NULL)
    g_variant_ref_sink (payload);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "kind", "s",
                         PQgetvalue (claim, 0, COL_TRIGGER));
  g_variant_dict_insert (&dict, "key", "s", PQgetvalue (claim, 0, COL_KEY));
  if (payload != NULL)
    g_variant_dict_insert_value (&dict, "data", payload);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

/* What the script sees, read in one round trip: the customer, and the
 * recorded event or the stage entry that triggered the job (or the
 * follow-up's own data). */
static gboolean
read_job (StScriptRun *run, PGresult *claim, GError **error)
{
  const char *customer = PQgetvalue (claim, 0, COL_CUSTOMER);
  const char *key = PQgetvalue (claim, 0, COL_KEY);
  g_autofree char *history = NULL;
  const char *customer_params[] = { customer };
  const char *event_params[] = { customer, NULL };
  StStoreCall calls[2] = {
    { st_customers_record_statement (), customer_params, NULL },
  };
  guint n = 1;
  gboolean ok;

  if (!PQgetisnull (claim, 0, COL_EVENT))
    {
      event_params[1] = PQgetvalue (claim, 0, COL_EVENT);
      calls[n++] = (StStoreCall){ &st_sql_care_event, event_params, NULL };
    }
  else if (g_str_has_prefix (key, "stage:"))
    {
      /* key is "stage:<history id>:<script>" */
      history = g_strndup (key + 6, strcspn (key + 6, ":"));
      event_params[1] = history;
      calls[n++] = (StStoreCall){ &st_sql_care_stage_entry, event_params,
                                  NULL };
    }
  if (!st_store_exec_many (run->store, calls, n, error))
    return FALSE;
  run->customer = st_customers_record_from_result (calls[0].result,
                                                   run->customer_id, error);
  if (n == 2 && PQntuples (calls[1].result) == 1)
    run->event = g_variant_ref_sink (st_record_from_row (calls[1].result, 0));
  else
    run->event = follow_up_event (claim);
  ok = run->customer != NULL;
  for (guint i = 0; i < n; i++)
    PQclear (calls[i].result);
  return ok;
}

/* Record the job's end; with @commit, commit in the same round trip. */
static gboolean
finish_job (StStore *store, const char *customer, const char *id,
            const char *state, const char *message, gboolean commit,
            GError **error)
{
  const char *params[] = { customer, id, state, message };
  StStoreCall call = { &st_sql_care_finish, params, NULL };
  gboolean ok = commit ? st_store_exec_and_commit (store, &call, 1, error)
                       : st_store_exec_many (store, &call, 1, error);

  g_clear_pointer (&call.result, PQclear);
  return ok;
}

/* A failed job is recorded, with an alert, in a transaction of its own:
 * nothing the script decided is kept. */
static void
record_failure (StCare *care, StStore *store, const char *customer,
                const char *id, const char *script, const GError *failure)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *message = g_strdup_printf (
      "script %s failed for customer %s: %s", script, customer,
      failure->message);
  g_autoptr (GVariant) alert = NULL;

  g_warning ("%s", message);
  if (!st_store_begin (store, &error))
    return;
  /* The job must still be pending: another worker may not take it now. */
  if (finish_job (store, customer, id, "failed", failure->message, FALSE,
                  &error))
    alert = st_alerts_raise (store, g_ascii_strtoll (customer, NULL, 10),
                             "script_failed", "critical", message, NULL,
                             "core", &error);
  if (alert == NULL || !st_store_commit (store, &error))
    {
      g_warning ("cannot record the failure of job %s: %s", id,
                 error ? error->message : "?");
      st_store_rollback (store);
      return;
    }
  st_engine_alert_raised (care->engine, alert);
}

/* Claim and run one due job. Returns FALSE when there was none. */
static gboolean
run_one (StCare *care, StStore *store, StLua *lua, GError **error)
{
  g_autoptr (PGresult) claim = NULL;
  g_autoptr (GError) failure = NULL;
  g_autoptr (StScriptSet) scripts = NULL;
  const char *customer, *id, *script_name;
  StScriptRun run;
  const StScript *script;
  gboolean ok;

  if (!st_store_begin (store, error))
    return FALSE;
  claim = st_store_exec (store, &st_sql_care_claim, NULL, error);
  if (claim == NULL || PQntuples (claim) == 0)
    {
      st_store_rollback (store);
      return FALSE;
    }
  customer = PQgetvalue (claim, 0, COL_CUSTOMER);
  id = PQgetvalue (claim, 0, COL_ID);
  script_name = PQgetvalue (claim, 0, COL_SCRIPT);

  scripts = st_engine_get_scripts (care->engine);
  script = st_script_set_find (scripts, script_name);
  if (script == NULL || script->error != NULL)
    {
      /* Removed or broken since the job was queued: say so, keep going. */
      g_autofree char *why = g_strdup_printf (
          "script %s is not loaded%s%s", script_name,
          script ? ": " : " (removed or renamed)",
          script ? script->error : "");
      ok = finish_job (store, customer, id, "skipped", why, TRUE, error);
      if (!ok)
        st_store_rollback (store);
      return ok;
    }

  st_script_run_init (&run, care->engine, store, scripts, script,
                      g_ascii_strtoll (customer, NULL, 10));
  run.event_id = PQgetisnull (claim, 0, COL_EVENT)
                     ? 0
                     : g_ascii_strtoll (PQgetvalue (claim, 0, COL_EVENT),
                                        NULL, 10);
  ok = read_job (&run, claim, &failure)
       && st_script_run_call (&run, lua, &failure)
       && st_script_run_apply (&run, &failure)
       && finish_job (store, customer, id, "done", NULL, TRUE, &failure);

  if (ok)
    st_script_run_announce (&run);
  else
    {
      st_store_rollback (store);
      if (g_error_matches (failure, ST_ERROR, ST_ERROR_UNAVAILABLE))
        g_propagate_error (error, g_steal_pointer (&failure));
      else
        record_failure (care, store, customer, id, script_name, failure);
    }
  st_script_run_clear (&run);
  return ok || error == NULL || *error == NULL;
}

static StLua *
care_lua_new (StCare *care)
{
  StLuaLimits limits = st_engine_lua_limits (care->engine);

  return st_lua_new (&limits);
}

guint
st_care_run_once (StCare *care, GError **error)
{
  g_autoptr (StStore) store = st_engine_new_store (care->engine, error);
  g_autoptr (StLua) lua = NULL;
  guint n = 0;

  if (store == NULL)
    return 0;
  lua = care_lua_new (care);
  while (run_one (care, store, lua, error))
    n++;
  return n;
}

static gpointer
care_worker (gpointer data)
{
  StCare *care = data;
  g_autoptr (StStore) store = NULL;
  g_autoptr (StLua) lua = care_lua_new (care);

  while (!st_waker_stopping (care->waker))
    {
      g_autoptr (GError) error = NULL;
      guint64 seen = st_waker_seq (care->waker);

      if (store == NULL)
        store = st_engine_new_store (care->engine, &error);
      if (store != NULL && run_one (care, store, lua, &error))
        continue;
      if (error != NULL)
        g_debug ("care worker: %s", error->message);
      st_waker_wait (care->waker, seen, CARE_POLL_MS);
    }
  return NULL;
}

StCare *
st_care_new (StEngine *engine)
{
  StCare *care = g_new0 (StCare, 1);

  care->engine = engine;
  care->threads = g_ptr_array_new ();
  return care;
}

void
st_care_start (StCare *care)
{
  guint n = MAX (st_engine_get_config (care->engine)->care_workers, 1);
  g_autoptr (GError) error = NULL;

  care->waker = st_waker_new (st_engine_conninfo (care->engine),
                              ST_CARE_CHANNEL, "stewardd-care", &error);
  if (care->waker == NULL)
    {
      g_warning ("care: %s", error->message);
      return;
    }
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (care->threads,
                     g_thread_new ("st-care", care_worker, care));
}

void
st_care_free (StCare *care)
{
  if (care == NULL)
    return;
  if (care->waker != NULL)
    st_waker_stop (care->waker);
  for (guint i = 0; i < care->threads->len; i++)
    g_thread_join (g_ptr_array_index (care->threads, i));
  g_ptr_array_unref (care->threads);
  g_clear_pointer (&care->waker, st_waker_free);
  g_free (care);
}
