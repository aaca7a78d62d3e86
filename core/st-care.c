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

/* Claim up to $1 due jobs, oldest first. A batch runs in one transaction:
 * the per-transaction costs (BEGIN, claim, reads, COMMIT and their round
 * trips) are shared by its jobs, and batches grow only when jobs queue up
 * (with an idle queue a batch holds the one job that just came). */
ST_STATEMENT_DEFINE (st_sql_care_claim, 1,
  "SELECT customer_id, id, key, script, trigger, event_id, payload"
  "  FROM care_jobs WHERE state = 'pending' AND due_at <= now()"
  " ORDER BY due_at LIMIT $1::int FOR UPDATE SKIP LOCKED");

enum {
  COL_CUSTOMER, COL_ID, COL_KEY, COL_SCRIPT, COL_TRIGGER, COL_EVENT,
  COL_PAYLOAD,
};

/* One job per customer at a time: a script reads the customer, decides and
 * acts, and a second job deciding on the same stale record would contradict
 * it (two churn checks both moving the customer). The batch's customers are
 * locked in key order, so two workers never wait on each other crosswise;
 * the locks are held until the commit, and what the jobs read is read by
 * the statements after this one (a fresh snapshot). */
ST_STATEMENT_DEFINE (st_sql_care_lock, 1,
  "SELECT count(pg_advisory_xact_lock(73911856, k)) FROM ("
  "  SELECT DISTINCT (c % 2147483647)::int AS k"
  "    FROM unnest($1::bigint[]) AS c ORDER BY 1) AS keys");

ST_STATEMENT_DEFINE (st_sql_care_customers, 1,
  "SELECT " ST_CUSTOMER_COLUMNS " FROM customers"
  " WHERE id = ANY($1::bigint[])");

/* The jobs' events by primary key: $1 and $2 are their customers and ids,
 * pair by pair, one index lookup each. OFFSET 0 keeps the lookup a
 * subquery run per pair: as a join, the plan cached while events was small
 * (a daemon starting on a new database) hashed a scan of the whole table,
 * 0.9 ms a batch at 80,000 events (bench/triggers --statements). */
ST_STATEMENT_DEFINE (st_sql_care_events, 2,
  "SELECT e.* FROM unnest($1::bigint[], $2::bigint[]) AS k(customer_id, id),"
  "  LATERAL (SELECT id, customer_id, kind, occurred_at, recorded_at, amount,"
  "                  data, idem_key AS key"
  "             FROM events"
  "            WHERE customer_id = k.customer_id AND id = k.id"
  "           OFFSET 0) AS e");

ST_STATEMENT_DEFINE (st_sql_care_stage_entries, 2,
  "SELECT id, 'stage:' || to_stage AS kind, to_stage AS stage,"
  "       from_stage AS \"from\", actor, reason, changed_at AS occurred_at"
  "  FROM stage_history WHERE id = ANY($2::bigint[])"
  "   AND customer_id = ANY($1::bigint[])");

/* One job's outcome. A batch sends one per job, all in one round trip
 * with the COMMIT: one statement over the whole batch (a join with its
 * outcomes) left the planner guessing, and it guessed badly. */
ST_STATEMENT_DEFINE (st_sql_care_finish, 4,
  "UPDATE care_jobs SET state = $3, attempts = attempts + 1,"
  "  last_error = $4, finished_at = now()"
  " WHERE customer_id = $1 AND id = $2");

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

/* Running a batch of jobs ---------------------------------------------- */

/* The most jobs one transaction takes. */
#define CARE_BATCH 16

/* One claimed job; the strings point into the claim's result. */
typedef struct {
  int row;
  const char *customer; /* id as text */
  const char *id;
  const char *script_name;
  gint64 customer_id;
  gint64 event_id;      /* 0: none */
  gint64 stage_entry;   /* the stage-history row of a stage job, or 0 */
  const char *state;    /* "done", "failed" or "skipped" once run */
  char *error;          /* why, when not done */
} Job;

typedef struct {
  StCare *care;
  StStore *store;
  StLua *lua;
  StScriptSet *scripts;
  PGresult *claim;
  Job *jobs;
  guint n;
  GHashTable *customers; /* customer id → record a{sv} */
  GHashTable *events;    /* event id → record */
  GHashTable *entries;   /* stage-history id → record */
  GPtrArray *alerts;     /* raised, to announce after the commit */
} Batch;

static void
batch_clear (Batch *b)
{
  for (guint i = 0; b->jobs != NULL && i < b->n; i++)
    g_free (b->jobs[i].error);
  g_clear_pointer (&b->jobs, g_free);
  g_clear_pointer (&b->claim, PQclear);
  g_clear_pointer (&b->customers, g_hash_table_unref);
  g_clear_pointer (&b->events, g_hash_table_unref);
  g_clear_pointer (&b->entries, g_hash_table_unref);
  g_clear_pointer (&b->alerts, g_ptr_array_unref);
  g_clear_pointer (&b->scripts, st_script_set_unref);
}

static GHashTable *
record_table (void)
{
  return g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                (GDestroyNotify) g_variant_unref);
}

/* Each row of @res as a record, by its first column (an id: the
 * statements above put it first). */
static void
index_records (GHashTable *table, PGresult *res)
{
  for (int row = 0; row < PQntuples (res); row++)
    {
      gint64 *key = g_new (gint64, 1);

      *key = g_ascii_strtoll (PQgetvalue (res, row, 0), NULL, 10);
      g_hash_table_replace (table, key,
                            g_variant_ref_sink (st_record_from_row (res, row)));
    }
}

static void
append_id (GString *array, gint64 id)
{
  g_string_append_printf (array, "%s%" G_GINT64_FORMAT,
                          array->len > 1 ? "," : "", id);
}

/* Take the jobs out of the claim's result. */
static void
batch_read_claim (Batch *b)
{
  b->n = (guint) PQntuples (b->claim);
  b->jobs = g_new0 (Job, b->n);
  for (guint i = 0; i < b->n; i++)
    {
      Job *job = &b->jobs[i];
      const char *key = PQgetvalue (b->claim, i, COL_KEY);

      job->row = (int) i;
      job->customer = PQgetvalue (b->claim, i, COL_CUSTOMER);
      job->id = PQgetvalue (b->claim, i, COL_ID);
      job->script_name = PQgetvalue (b->claim, i, COL_SCRIPT);
      job->customer_id = g_ascii_strtoll (job->customer, NULL, 10);
      if (!PQgetisnull (b->claim, i, COL_EVENT))
        job->event_id = g_ascii_strtoll (PQgetvalue (b->claim, i, COL_EVENT),
                                         NULL, 10);
      else if (g_str_has_prefix (key, "stage:"))
        /* key is "stage:<history id>:<script>" */
        job->stage_entry = g_ascii_strtoll (key + 6, NULL, 10);
    }
}

/* Lock the batch's customers, then read what the scripts will see, in one
 * round trip. */
static gboolean
batch_read (Batch *b, GError **error)
{
  g_autoptr (GString) customers = g_string_new ("{");
  g_autoptr (GString) events = g_string_new ("{");
  g_autoptr (GString) event_customers = g_string_new ("{");
  g_autoptr (GString) entries = g_string_new ("{");
  const char *lock_params[1], *customer_params[1];
  const char *event_params[2], *entry_params[2];
  StStoreCall calls[4];
  gboolean ok;

  for (guint i = 0; i < b->n; i++)
    {
      append_id (customers, b->jobs[i].customer_id);
      if (b->jobs[i].event_id != 0)
        {
          append_id (events, b->jobs[i].event_id);
          append_id (event_customers, b->jobs[i].customer_id);
        }
      if (b->jobs[i].stage_entry != 0)
        append_id (entries, b->jobs[i].stage_entry);
    }
  g_string_append_c (customers, '}');
  g_string_append_c (events, '}');
  g_string_append_c (event_customers, '}');
  g_string_append_c (entries, '}');
  lock_params[0] = customer_params[0] = customers->str;
  event_params[0] = event_customers->str;
  entry_params[0] = customers->str;
  event_params[1] = events->str;
  entry_params[1] = entries->str;
  calls[0] = (StStoreCall){ &st_sql_care_lock, lock_params, NULL };
  calls[1] = (StStoreCall){ &st_sql_care_customers, customer_params, NULL };
  calls[2] = (StStoreCall){ &st_sql_care_events, event_params, NULL };
  calls[3] = (StStoreCall){ &st_sql_care_stage_entries, entry_params, NULL };
  if (!st_store_exec_many (b->store, calls, G_N_ELEMENTS (calls), error))
    return FALSE;
  index_records (b->customers, calls[1].result);
  index_records (b->events, calls[2].result);
  index_records (b->entries, calls[3].result);
  ok = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    PQclear (calls[i].result);
  return ok;
}

/* The event of a job that has no row to read: a follow-up, with the data
 * the script left for itself. */
static GVariant *
follow_up_event (PGresult *claim, int row)
{
  GVariantDict dict;
  g_autoptr (GVariant) payload = st_record_from_json (
      PQgetvalue (claim, row, COL_PAYLOAD), NULL);

  if (payload != NULL)
    g_variant_ref_sink (payload);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "kind", "s",
                         PQgetvalue (claim, row, COL_TRIGGER));
  g_variant_dict_insert (&dict, "key", "s", PQgetvalue (claim, row, COL_KEY));
  if (payload != NULL)
    g_variant_dict_insert_value (&dict, "data", payload);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

/* What the script of @job sees as `event`. */
static GVariant *
job_event (Batch *b, const Job *job)
{
  GVariant *record = NULL;

  if (job->event_id != 0)
    record = g_hash_table_lookup (b->events, &job->event_id);
  else if (job->stage_entry != 0)
    record = g_hash_table_lookup (b->entries, &job->stage_entry);
  return record != NULL ? g_variant_ref (record)
                        : follow_up_event (b->claim, job->row);
}

/* The customer as @job's script must see it: as read, unless an earlier job
 * of the batch acted on the same customer; then read again, in the
 * transaction that holds those actions. */
static GVariant *
job_customer (Batch *b, const Job *job, GError **error)
{
  GVariant *record;

  for (const Job *earlier = b->jobs; earlier < job; earlier++)
    if (earlier->customer_id == job->customer_id)
      return st_customers_record (b->store, job->customer_id, error);
  record = g_hash_table_lookup (b->customers, &job->customer_id);
  if (record == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_NOT_FOUND,
                   "no customer with id %" G_GINT64_FORMAT, job->customer_id);
      return NULL;
    }
  return g_variant_ref (record);
}

/* A script that failed: recorded, with an alert, in the batch's
 * transaction; nothing it decided is applied. */
static gboolean
job_failed (Batch *b, Job *job, const GError *failure, GError **error)
{
  g_autofree char *message = g_strdup_printf (
      "script %s failed for customer %s: %s", job->script_name,
      job->customer, failure->message);
  GVariant *alert;

  g_warning ("%s", message);
  job->state = "failed";
  job->error = g_strdup (failure->message);
  alert = st_alerts_raise (b->store, job->customer_id, "script_failed",
                           "critical", message, NULL, "core", error);
  if (alert == NULL)
    return FALSE;
  g_ptr_array_add (b->alerts, alert);
  return TRUE;
}

/* Run @job's script and apply its actions. FALSE when the transaction
 * cannot go on (@error set); a script that fails by itself is recorded. */
static gboolean
job_run (Batch *b, Job *job, GError **error)
{
  const StScript *script = st_script_set_find (b->scripts, job->script_name);
  g_autoptr (GError) failure = NULL;
  StScriptRun run;
  gboolean ran, ok = TRUE;

  if (script == NULL || script->error != NULL)
    {
      /* Removed or broken since the job was queued: say so, keep going. */
      job->state = "skipped";
      job->error = g_strdup_printf (
          "script %s is not loaded%s%s", job->script_name,
          script ? ": " : " (removed or renamed)",
          script ? script->error : "");
      return TRUE;
    }
  st_script_run_init (&run, b->care->engine, b->store, b->scripts, script,
                      job->customer_id);
  run.event_id = job->event_id;
  run.customer = job_customer (b, job, &failure);
  ran = run.customer != NULL
        && (run.event = job_event (b, job)) != NULL
        && st_script_run_call (&run, b->lua, &failure);
  if (ran)
    {
      /* The actions write: a failure here leaves the transaction to be
       * rolled back, and the caller sorts it out. */
      ok = st_script_run_apply (&run, error);
      if (ok)
        {
          job->state = "done";
          g_ptr_array_extend_and_steal (b->alerts,
                                        g_steal_pointer (&run.alerts));
          run.alerts = g_ptr_array_new ();
        }
    }
  else if (g_error_matches (failure, ST_ERROR, ST_ERROR_UNAVAILABLE))
    {
      g_propagate_error (error, g_steal_pointer (&failure));
      ok = FALSE;
    }
  else
    ok = job_failed (b, job, failure, error);
  st_script_run_clear (&run);
  return ok;
}

/* Record every job's outcome and commit, in one round trip. */
static gboolean
batch_finish (Batch *b, GError **error)
{
  g_autofree StStoreCall *calls = g_new0 (StStoreCall, b->n);
  g_autofree const char **params = g_new0 (const char *, 4 * b->n);
  gboolean ok;

  for (guint i = 0; i < b->n; i++)
    {
      const char **p = params + 4 * i;

      p[0] = b->jobs[i].customer;
      p[1] = b->jobs[i].id;
      p[2] = b->jobs[i].state;
      p[3] = b->jobs[i].error;
      calls[i] = (StStoreCall){ &st_sql_care_finish, p, NULL };
    }
  ok = st_store_exec_and_commit (b->store, calls, b->n, error);
  for (guint i = 0; i < b->n; i++)
    g_clear_pointer (&calls[i].result, PQclear);
  return ok;
}

/* A job whose actions could not be written, alone in its batch: recorded
 * as failed, with an alert, in a transaction of its own. */
static void
record_failure (Batch *b, const Job *job, const GError *failure)
{
  g_autoptr (GError) error = NULL;
  Job failed = *job;

  failed.error = NULL;
  g_clear_pointer (&b->alerts, g_ptr_array_unref);
  b->alerts = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_variant_unref);
  if (!st_store_begin (b->store, &error)
      || !job_failed (b, &failed, failure, &error))
    goto out;
  /* One job: batch_finish() reads only this one. */
  {
    Job *saved = b->jobs;
    b->jobs = &failed;
    b->n = 1;
    if (!batch_finish (b, &error))
      st_store_rollback (b->store);
    b->jobs = saved;
  }
out:
  if (error != NULL)
    {
      g_warning ("cannot record the failure of job %s: %s", job->id,
                 error->message);
      st_store_rollback (b->store);
      g_ptr_array_set_size (b->alerts, 0);
    }
  g_free (failed.error);
}

typedef enum {
  BATCH_NONE,   /* nothing due */
  BATCH_RAN,
  BATCH_SPLIT,  /* a write failed in a batch of several: run them one by
                 * one to find the job at fault */
  BATCH_ERROR,  /* the database is unavailable (@error set) */
} BatchResult;

/* Claim up to @limit due jobs and run them in one transaction. */
static BatchResult
run_batch (StCare *care, StStore *store, StLua *lua, guint limit, guint *ran,
           GError **error)
{
  g_autofree char *limit_text = g_strdup_printf ("%u", limit);
  g_autoptr (GError) failure = NULL;
  Batch b = { .care = care, .store = store, .lua = lua };
  BatchResult result = BATCH_RAN;
  guint i = 0;

  if (!st_store_begin (store, error))
    return BATCH_ERROR;
  b.claim = st_store_exec (store, &st_sql_care_claim,
                           (const char *[]){ limit_text }, error);
  if (b.claim == NULL || PQntuples (b.claim) == 0)
    {
      st_store_rollback (store);
      result = b.claim == NULL ? BATCH_ERROR : BATCH_NONE;
      batch_clear (&b);
      return result;
    }
  b.scripts = st_engine_get_scripts (care->engine);
  b.customers = record_table ();
  b.events = record_table ();
  b.entries = record_table ();
  b.alerts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  batch_read_claim (&b);

  if (batch_read (&b, &failure))
    for (; i < b.n; i++)
      if (!job_run (&b, &b.jobs[i], &failure))
        break;
  if (failure == NULL && batch_finish (&b, &failure))
    {
      for (guint k = 0; k < b.alerts->len; k++)
        st_engine_alert_raised (care->engine, g_ptr_array_index (b.alerts, k));
      *ran += b.n;
      batch_clear (&b);
      return BATCH_RAN;
    }

  st_store_rollback (store);
  if (g_error_matches (failure, ST_ERROR, ST_ERROR_UNAVAILABLE))
    {
      g_propagate_error (error, g_steal_pointer (&failure));
      result = BATCH_ERROR;
    }
  else if (b.n > 1)
    result = BATCH_SPLIT;
  else
    {
      record_failure (&b, &b.jobs[MIN (i, b.n - 1)], failure);
      for (guint k = 0; k < b.alerts->len; k++)
        st_engine_alert_raised (care->engine, g_ptr_array_index (b.alerts, k));
      *ran += 1;
    }
  batch_clear (&b);
  return result;
}

/* Run what is due in batches until nothing is; returns how many jobs ran.
 * After a split, the next jobs go one at a time. Unless @drain, stop after
 * a batch that was not full: nothing else was due when it was claimed,
 * and what came since was notified (a worker woken for it does not sleep),
 * so claiming again would mostly find nothing. */
static guint
run_due (StCare *care, StStore *store, StLua *lua, gboolean drain,
         GError **error)
{
  guint ran = 0, singles = 0;

  for (;;)
    {
      guint limit = singles > 0 ? 1 : CARE_BATCH;
      guint before = ran;

      switch (run_batch (care, store, lua, limit, &ran, error))
        {
        case BATCH_NONE:
        case BATCH_ERROR:
          return ran;
        case BATCH_SPLIT:
          singles = CARE_BATCH;
          continue;
        case BATCH_RAN:
          if (singles > 0)
            singles--;
          else if (!drain && ran - before < limit)
            return ran;
          break;
        }
      if (care->waker != NULL && st_waker_stopping (care->waker))
        return ran;
    }
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
  n = run_due (care, store, lua, TRUE, error);
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
      if (store != NULL)
        run_due (care, store, lua, FALSE, &error);
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
