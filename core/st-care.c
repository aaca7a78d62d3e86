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

ST_STATEMENT_DEFINE (st_sql_care_claim, 0,
  "SELECT customer_id, id, key, script, trigger, event_id, payload"
  "  FROM care_jobs WHERE state = 'pending' AND due_at <= now()"
  " ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED");

/* One job per customer at a time: a script reads the customer, decides and
 * acts; a second job deciding on the same stale record would contradict it
 * (two churn checks both moving the customer). Held until the commit. */
ST_STATEMENT_DEFINE (st_sql_care_lock_customer, 1,
  "SELECT pg_advisory_xact_lock(73911856, ($1::bigint % 2147483647)::int)");

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

gboolean
st_care_enqueue (StStore *store, StScriptSet *scripts, gint64 customer_id,
                 const char *trigger, const char *source, gint64 source_id,
                 GError **error)
{
  g_autoptr (GPtrArray) matching = NULL;
  g_autoptr (GString) list = NULL;
  g_autofree char *customer = NULL, *prefix = NULL, *event_id = NULL;
  g_autoptr (PGresult) res = NULL;

  if (scripts == NULL)
    return TRUE;
  matching = st_script_set_for_trigger (scripts, trigger);
  if (matching == NULL || matching->len == 0)
    return TRUE;

  list = g_string_new ("[");
  for (guint i = 0; i < matching->len; i++)
    {
      const StScript *script = g_ptr_array_index (matching, i);
      g_string_append_printf (list, "%s{\"name\":\"%s\",\"delay\":%" G_GINT64_FORMAT "}",
                              i ? "," : "", script->name, script->delay);
    }
  g_string_append_c (list, ']');
  customer = int_text (customer_id);
  prefix = g_strdup_printf ("%s:%" G_GINT64_FORMAT, source, source_id);
  if (g_str_equal (source, "event"))
    event_id = int_text (source_id);
  res = st_store_exec (store, &st_sql_care_enqueue,
                       (const char *[]){ customer, prefix, trigger, event_id,
                                         list->str },
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

/* The event the script sees: the recorded event, the stage entry, or the
 * follow-up with the data the script left for itself. */
static GVariant *
job_event (StScriptRun *job, PGresult *claim, GError **error)
{
  g_autofree char *customer = int_text (job->customer_id);
  const char *trigger = PQgetvalue (claim, 0, 4);
  const char *key = PQgetvalue (claim, 0, 2);
  g_autoptr (PGresult) res = NULL;

  if (!PQgetisnull (claim, 0, 5))
    {
      res = st_store_exec (job->store, &st_sql_care_event,
                           (const char *[]){ customer,
                                             PQgetvalue (claim, 0, 5) },
                           error);
      if (res == NULL)
        return NULL;
    }
  else if (g_str_has_prefix (key, "stage:"))
    {
      /* key is "stage:<history id>:<script>" */
      g_autofree char *history = g_strndup (key + 6, strcspn (key + 6, ":"));
      res = st_store_exec (job->store, &st_sql_care_stage_entry,
                           (const char *[]){ customer, history }, error);
      if (res == NULL)
        return NULL;
    }
  if (res != NULL && PQntuples (res) == 1)
    return g_variant_ref_sink (st_record_from_row (res, 0));
  {
    GVariantDict dict;
    g_autoptr (GVariant) payload = st_record_from_json (
        PQgetvalue (claim, 0, 6), NULL);
    if (payload != NULL)
      g_variant_ref_sink (payload);
    g_variant_dict_init (&dict, NULL);
    g_variant_dict_insert (&dict, "kind", "s", trigger);
    g_variant_dict_insert (&dict, "key", "s", key);
    if (payload != NULL)
      g_variant_dict_insert_value (&dict, "data", payload);
    return g_variant_ref_sink (g_variant_dict_end (&dict));
  }
}

static gboolean
finish_job (StStore *store, const char *customer, const char *id,
            const char *state, const char *message, GError **error)
{
  g_autoptr (PGresult) res = st_store_exec (
      store, &st_sql_care_finish,
      (const char *[]){ customer, id, state, message }, error);

  return res != NULL;
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
  if (finish_job (store, customer, id, "failed", failure->message, &error))
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
  g_autofree char *customer = NULL, *id = NULL, *script_name = NULL;
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
  customer = g_strdup (PQgetvalue (claim, 0, 0));
  id = g_strdup (PQgetvalue (claim, 0, 1));
  script_name = g_strdup (PQgetvalue (claim, 0, 3));

  {
    g_autoptr (PGresult) locked = st_store_exec (
        store, &st_sql_care_lock_customer, (const char *[]){ customer },
        error);
    if (locked == NULL)
      {
        st_store_rollback (store);
        return FALSE;
      }
  }

  scripts = st_engine_get_scripts (care->engine);
  script = st_script_set_find (scripts, script_name);
  if (script == NULL || script->error != NULL)
    {
      /* Removed or broken since the job was queued: say so, keep going. */
      g_autofree char *why = g_strdup_printf (
          "script %s is not loaded%s%s", script_name,
          script ? ": " : " (removed or renamed)",
          script ? script->error : "");
      ok = finish_job (store, customer, id, "skipped", why, error)
           && st_store_commit (store, error);
      if (!ok)
        st_store_rollback (store);
      return ok;
    }

  st_script_run_init (&run, care->engine, store, scripts, script,
                      g_ascii_strtoll (customer, NULL, 10));
  run.event_id = PQgetisnull (claim, 0, 5)
                     ? 0 : g_ascii_strtoll (PQgetvalue (claim, 0, 5), NULL, 10);
  run.customer = st_customers_record (store, run.customer_id, &failure);
  if (run.customer != NULL)
    run.event = job_event (&run, claim, &failure);
  ok = run.event != NULL && st_script_run_call (&run, lua, &failure)
       && st_script_run_apply (&run, &failure)
       && finish_job (store, customer, id, "done", NULL, &failure)
       && st_store_commit (store, &failure);

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
