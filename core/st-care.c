#include "st-care.h"

#include <string.h>

#include "st-alerts.h"
#include "st-customers.h"
#include "st-engine.h"
#include "st-error.h"
#include "st-outbox.h"
#include "st-record.h"
#include "st-template.h"

#define CARE_CHANNEL "steward_care"
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
  "SELECT pg_notify('" CARE_CHANNEL "', ''), (SELECT count(*) FROM ins)");

ST_STATEMENT_DEFINE (st_sql_care_follow_up, 5,
  "WITH ins AS ("
  "  INSERT INTO care_jobs (customer_id, key, script, trigger, payload,"
  "                         due_at)"
  "  VALUES ($1, $2, $3, 'follow_up', COALESCE($4::jsonb, '{}'),"
  "          now() + make_interval(secs => $5::bigint))"
  "  ON CONFLICT (customer_id, key) DO NOTHING RETURNING 1"
  ")"
  "SELECT pg_notify('" CARE_CHANNEL "', ''), (SELECT count(*) FROM ins)");

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

ST_STATEMENT_DEFINE (st_sql_care_events, 4,
  "SELECT id, customer_id, kind, occurred_at, amount, data,"
  "       idem_key AS key"
  "  FROM events WHERE customer_id = $1"
  "   AND ($2::text IS NULL OR kind = $2)"
  "   AND ($3::float8 IS NULL OR occurred_at >= to_timestamp($3::float8))"
  " ORDER BY occurred_at DESC, id DESC LIMIT $4");

ST_STATEMENT_DEFINE (st_sql_care_health, 5,
  "WITH c AS ("
  "  UPDATE customers SET health_score = $2, health_factors = $3::jsonb,"
  "    risk_level = $4, health_updated_at = now()"
  "   WHERE id = $1 RETURNING id)"
  "INSERT INTO health_history (customer_id, score, factors, risk_level,"
  "                            event_id)"
  " SELECT id, $2, $3::jsonb, $4, $5::bigint FROM c RETURNING customer_id");

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
  GPtrArray *threads;
  gint stopping;
};

typedef struct {
  char *name;
  GVariant *args;
} Action;

static void
action_free (Action *action)
{
  g_free (action->name);
  g_variant_unref (action->args);
  g_free (action);
}

/* One job on its way through a worker. */
typedef struct {
  StCare *care;
  StStore *store;
  StScriptSet *scripts;
  const StScript *script;
  gint64 customer_id;
  gint64 event_id;       /* 0 when the job did not come from an event */
  GVariant *customer;    /* a{sv} */
  GVariant *event;       /* a{sv} */
  GPtrArray *actions;    /* of Action*, applied after the script returns */
  GPtrArray *alerts;     /* raised alert records, announced after commit */
} Job;

static void
job_clear (Job *job)
{
  g_clear_pointer (&job->customer, g_variant_unref);
  g_clear_pointer (&job->event, g_variant_unref);
  g_clear_pointer (&job->actions, g_ptr_array_unref);
  g_clear_pointer (&job->alerts, g_ptr_array_unref);
  g_clear_pointer (&job->scripts, st_script_set_unref);
}

/* Host callbacks: what the steward module does for a script. */

static gboolean
host_action (gpointer data, const char *name, GVariant *args, GError **error)
{
  Job *job = data;
  Action *action = g_new0 (Action, 1);

  (void) error;
  action->name = g_strdup (name);
  action->args = g_variant_ref_sink (args);
  g_ptr_array_add (job->actions, action);
  return TRUE;
}

static GVariant *
host_customer (gpointer data, gint64 id, GError **error)
{
  Job *job = data;
  g_autoptr (GError) local_error = NULL;
  GVariant *record = st_customers_record (job->store, id, &local_error);

  if (record == NULL
      && !g_error_matches (local_error, ST_ERROR, ST_ERROR_NOT_FOUND))
    g_propagate_error (error, g_steal_pointer (&local_error));
  return record;
}

static GVariant *
host_events (gpointer data, gint64 id, GVariant *filter, GError **error)
{
  Job *job = data;
  const char *kind = NULL;
  double since = 0;
  gboolean has_since = FALSE;
  guint limit = 100;
  g_autofree char *id_text = int_text (id), *limit_text = NULL;
  char since_text[G_ASCII_DTOSTR_BUF_SIZE];
  g_autoptr (PGresult) res = NULL;

  if (filter != NULL
      && (!st_record_get_string (filter, "kind", &kind, error)
          || !st_record_get_double (filter, "since", &has_since, &since, error)
          || !st_record_get_uint (filter, "limit", &limit, error)))
    return NULL;
  limit = CLAMP (limit, 1, 1000);
  limit_text = g_strdup_printf ("%u", limit);
  g_ascii_dtostr (since_text, sizeof since_text, since);
  res = st_store_exec (job->store, &st_sql_care_events,
                       (const char *[]){ id_text, kind,
                                         has_since ? since_text : NULL,
                                         limit_text },
                       error);
  return res == NULL ? NULL
                     : g_variant_ref_sink (st_record_list_from_result (res));
}

static double
host_now (gpointer data)
{
  (void) data;
  return g_get_real_time () / (double) G_USEC_PER_SEC;
}

static void
host_log (gpointer data, const char *level, const char *message)
{
  Job *job = data;
  GLogLevelFlags flags = G_LOG_LEVEL_MESSAGE;

  if (g_strcmp0 (level, "debug") == 0)
    flags = G_LOG_LEVEL_DEBUG;
  else if (g_strcmp0 (level, "info") == 0)
    flags = G_LOG_LEVEL_INFO;
  else if (g_strcmp0 (level, "warning") == 0 || g_strcmp0 (level, "error") == 0)
    flags = G_LOG_LEVEL_WARNING;
  g_log_structured (G_LOG_DOMAIN, flags, "MESSAGE", "script %s (customer %"
                    G_GINT64_FORMAT "): %s", job->script->name,
                    job->customer_id, message);
}

static const StLuaHost care_host = {
  host_action, host_customer, host_events, host_now, host_log,
};

/* Applying actions ------------------------------------------------------ */

/* An integer argument; the module passes most as int64, set_health's score
 * as int32. */
static gint64
arg_int (GVariant *args, const char *key, gint64 fallback)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (args, key, NULL);

  if (value != NULL && g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    return g_variant_get_int64 (value);
  if (value != NULL && g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
    return g_variant_get_int32 (value);
  return fallback;
}

static const char *
arg_str (GVariant *args, const char *key)
{
  const char *value = NULL;

  g_variant_lookup (args, key, "&s", &value);
  return value;
}

static char *
arg_json (GVariant *args, const char *key)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (args, key, NULL);

  return value == NULL ? NULL : st_record_to_json (value);
}

/* The record of the customer an action is about: usually the job's own. */
static GVariant *
action_customer (Job *job, gint64 id, GError **error)
{
  if (id == job->customer_id)
    return g_variant_ref (job->customer);
  return st_customers_record (job->store, id, error);
}

static gboolean
apply_send (Job *job, GVariant *args, GError **error)
{
  gint64 customer_id = arg_int (args, "customer_id", job->customer_id);
  const char *channel = arg_str (args, "channel");
  const char *template_name = arg_str (args, "template");
  g_autoptr (GVariant) customer = action_customer (job, customer_id, error);
  g_autoptr (GVariant) data = NULL;
  g_autofree char *subject = NULL, *body = NULL, *locale = NULL;
  g_autofree char *data_json = arg_json (args, "data");
  const char *recipient = NULL;
  StOutboxMessage message = { 0 };
  gboolean created;

  if (customer == NULL)
    return FALSE;
  data = g_variant_lookup_value (args, "data", G_VARIANT_TYPE_VARDICT);
  if (template_name != NULL)
    {
      GVariantDict vars;
      g_autoptr (GVariant) vars_value = NULL;
      const char *customer_locale = NULL;

      g_variant_dict_init (&vars, NULL);
      g_variant_dict_insert_value (&vars, "customer", customer);
      g_variant_dict_insert_value (&vars, "event", job->event);
      g_variant_dict_insert_value (
          &vars, "data", data ? data : g_variant_new ("a{sv}", NULL));
      vars_value = g_variant_ref_sink (g_variant_dict_end (&vars));
      g_variant_lookup (customer, "locale", "&s", &customer_locale);
      if (!st_template_render (st_script_set_folders (job->scripts),
                               template_name, customer_locale, vars_value,
                               &subject, &body, &locale, error))
        return FALSE;
    }
  else
    {
      subject = g_strdup (arg_str (args, "subject"));
      body = g_strdup (arg_str (args, "body"));
    }
  if (g_strcmp0 (channel, "email") == 0)
    g_variant_lookup (customer, "email", "&s", &recipient);
  else if (g_strcmp0 (channel, "sms") == 0)
    g_variant_lookup (customer, "phone", "&s", &recipient);

  message.customer_id = customer_id;
  message.key = arg_str (args, "key");
  message.channel = channel;
  message.script = job->script->name;
  message.template_name = template_name;
  message.locale = locale;
  message.recipient = recipient;
  message.subject = subject;
  message.body = body ? body : "";
  message.data_json = data_json;
  message.delay_seconds = arg_int (args, "delay", 0);
  return st_outbox_enqueue (job->store, &message, &created, error);
}

static gboolean
apply_alert (Job *job, GVariant *args, GError **error)
{
  g_autofree char *source = g_strconcat ("script:", job->script->name, NULL);
  g_autofree char *data_json = arg_json (args, "data");
  const char *severity = arg_str (args, "severity");
  GVariant *alert = st_alerts_raise (
      job->store, arg_int (args, "customer_id", 0), arg_str (args, "kind"),
      severity ? severity : "warning", arg_str (args, "message"), data_json,
      source, error);

  if (alert == NULL)
    return FALSE;
  g_ptr_array_add (job->alerts, alert);
  return TRUE;
}

static gboolean
apply_follow_up (Job *job, GVariant *args, GError **error)
{
  g_autofree char *customer = int_text (arg_int (args, "customer_id",
                                                 job->customer_id));
  g_autofree char *key = g_strdup_printf ("follow:%s:%s", job->script->name,
                                          arg_str (args, "key"));
  g_autofree char *payload = arg_json (args, "data");
  g_autofree char *after = int_text (arg_int (args, "after", 0));
  g_autoptr (PGresult) res = st_store_exec (
      job->store, &st_sql_care_follow_up,
      (const char *[]){ customer, key, job->script->name, payload, after },
      error);

  return res != NULL;
}

static gboolean
apply_health (Job *job, GVariant *args, GError **error)
{
  g_autofree char *customer = int_text (arg_int (args, "customer_id",
                                                 job->customer_id));
  g_autofree char *score = int_text (arg_int (args, "score", 0));
  g_autofree char *factors = arg_json (args, "factors");
  g_autofree char *event_id = job->event_id ? int_text (job->event_id) : NULL;
  g_autoptr (PGresult) res = NULL;

  res = st_store_exec (job->store, &st_sql_care_health,
                       (const char *[]){ customer, score,
                                         factors ? factors : "{}",
                                         arg_str (args, "risk"), event_id },
                       error);
  return res != NULL;
}

static gboolean
apply_action (Job *job, const Action *action, GError **error)
{
  const char *name = action->name;
  GVariant *args = action->args;
  g_autofree char *actor = NULL;

  if (g_str_equal (name, "send"))
    return apply_send (job, args, error);
  if (g_str_equal (name, "alert"))
    return apply_alert (job, args, error);
  if (g_str_equal (name, "follow_up"))
    return apply_follow_up (job, args, error);
  if (g_str_equal (name, "set_health"))
    return apply_health (job, args, error);
  if (g_str_equal (name, "tag") || g_str_equal (name, "untag"))
    return st_customers_tag (job->store,
                             arg_int (args, "customer_id", job->customer_id),
                             arg_str (args, "tag"), g_str_equal (name, "tag"),
                             error);
  if (g_str_equal (name, "set_stage"))
    {
      actor = g_strconcat ("script:", job->script->name, NULL);
      return st_customers_move (
          job->store, st_engine_get_config (job->care->engine),
          arg_int (args, "customer_id", job->customer_id),
          arg_str (args, "stage"), arg_str (args, "reason"), actor, error);
    }
  g_set_error (error, ST_ERROR, ST_ERROR_FAILED, "unknown action '%s'", name);
  return FALSE;
}

/* Running one job ------------------------------------------------------- */

/* The event the script sees: the recorded event, the stage entry, or the
 * follow-up with the data the script left for itself. */
static GVariant *
job_event (Job *job, PGresult *claim, GError **error)
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
  g_auto (GStrv) folders = NULL;
  g_autofree char *customer = NULL, *id = NULL, *script_name = NULL;
  Job job = { 0 };
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

  job.care = care;
  job.store = store;
  job.scripts = st_engine_get_scripts (care->engine);
  job.script = st_script_set_find (job.scripts, script_name);
  job.customer_id = g_ascii_strtoll (customer, NULL, 10);
  job.event_id = PQgetisnull (claim, 0, 5)
                     ? 0 : g_ascii_strtoll (PQgetvalue (claim, 0, 5), NULL, 10);
  job.actions = g_ptr_array_new_with_free_func ((GDestroyNotify) action_free);
  job.alerts = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_variant_unref);

  {
    g_autoptr (PGresult) locked = st_store_exec (
        store, &st_sql_care_lock_customer, (const char *[]){ customer },
        error);
    if (locked == NULL)
      {
        st_store_rollback (store);
        job_clear (&job);
        return FALSE;
      }
  }

  if (job.script == NULL || job.script->error != NULL)
    {
      /* Removed or broken since the job was queued: say so, keep going. */
      g_autofree char *why = g_strdup_printf (
          "script %s is not loaded%s%s", script_name,
          job.script ? ": " : " (removed or renamed)",
          job.script ? job.script->error : "");
      ok = finish_job (store, customer, id, "skipped", why, error)
           && st_store_commit (store, error);
      if (!ok)
        st_store_rollback (store);
      job_clear (&job);
      return ok;
    }

  job.customer = st_customers_record (store, job.customer_id, &failure);
  if (job.customer != NULL)
    job.event = job_event (&job, claim, &failure);
  ok = job.event != NULL
       && st_lua_run (lua, job.script, st_script_set_folders (job.scripts),
                      job.customer, job.event, &care_host, &job, &failure);
  for (guint i = 0; ok && i < job.actions->len; i++)
    ok = apply_action (&job, g_ptr_array_index (job.actions, i), &failure);
  ok = ok && finish_job (store, customer, id, "done", NULL, &failure)
       && st_store_commit (store, &failure);

  if (ok)
    for (guint i = 0; i < job.alerts->len; i++)
      st_engine_alert_raised (care->engine, g_ptr_array_index (job.alerts, i));
  else
    {
      st_store_rollback (store);
      if (g_error_matches (failure, ST_ERROR, ST_ERROR_UNAVAILABLE))
        g_propagate_error (error, g_steal_pointer (&failure));
      else
        record_failure (care, store, customer, id, script_name, failure);
    }
  job_clear (&job);
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

  while (!g_atomic_int_get (&care->stopping))
    {
      g_autoptr (GError) error = NULL;

      if (store == NULL)
        {
          store = st_engine_new_store (care->engine, &error);
          if (store == NULL)
            {
              g_usleep (CARE_POLL_MS * 1000);
              continue;
            }
        }
      if (run_one (care, store, lua, &error))
        continue;
      if (error != NULL)
        g_debug ("care worker: %s", error->message);
      st_store_wait (store, CARE_CHANNEL, CARE_POLL_MS);
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

  for (guint i = 0; i < n; i++)
    g_ptr_array_add (care->threads,
                     g_thread_new ("st-care", care_worker, care));
}

void
st_care_free (StCare *care)
{
  if (care == NULL)
    return;
  g_atomic_int_set (&care->stopping, 1);
  for (guint i = 0; i < care->threads->len; i++)
    g_thread_join (g_ptr_array_index (care->threads, i));
  g_ptr_array_unref (care->threads);
  g_free (care);
}
