/* One run of a script for one customer: the steward module's host and
 * the actions it buffers, applied in the caller's transaction. */

#include "st-script-run.h"

#include "st-alerts.h"
#include "st-customers.h"
#include "st-engine.h"
#include "st-error.h"
#include "st-outbox.h"
#include "st-record.h"
#include "st-template.h"

#include <string.h>

static char *
int_text (gint64 value)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, value);
}

ST_STATEMENT_DEFINE (st_sql_run_follow_up, 5,
  "WITH ins AS ("
  "  INSERT INTO care_jobs (customer_id, key, script, trigger, payload,"
  "                         due_at)"
  "  VALUES ($1, $2, $3, 'follow_up', COALESCE($4::jsonb, '{}'),"
  "          now() + make_interval(secs => $5::bigint))"
  "  ON CONFLICT (customer_id, key) DO NOTHING RETURNING 1"
  ")"
  "SELECT pg_notify('" ST_CARE_CHANNEL "', ''), (SELECT count(*) FROM ins)");

/* $5: a backtest's cut-off, or NULL. */
ST_STATEMENT_DEFINE (st_sql_run_events, 5,
  "SELECT id, customer_id, kind, occurred_at, amount, data,"
  "       idem_key AS key"
  "  FROM events WHERE customer_id = $1"
  "   AND ($2::text IS NULL OR kind = $2)"
  "   AND ($3::float8 IS NULL OR occurred_at >= to_timestamp($3::float8))"
  "   AND ($5::float8 IS NULL OR occurred_at < to_timestamp($5::float8))"
  " ORDER BY occurred_at DESC, id DESC LIMIT $4");

ST_STATEMENT_DEFINE (st_sql_run_health, 5,
  "WITH c AS ("
  "  UPDATE customers SET health_score = $2, health_factors = $3::jsonb,"
  "    risk_level = $4, health_updated_at = now()"
  "   WHERE id = $1 RETURNING id)"
  "INSERT INTO health_history (customer_id, score, factors, risk_level,"
  "                            event_id)"
  " SELECT id, $2, $3::jsonb, $4, $5::bigint FROM c RETURNING customer_id");


static void
action_free (StAction *action)
{
  g_free (action->name);
  g_variant_unref (action->args);
  g_free (action);
}

/* Host callbacks: what the steward module does for a script. */

/* Actions one call may buffer: they are applied in one transaction that
 * holds the customer's row, and tens of thousands of them (a loop of tags)
 * would hold it, and the worker, for minutes. */
#define ST_SCRIPT_MAX_ACTIONS 1000

static gboolean
host_action (gpointer data, const char *name, GVariant *args, GError **error)
{
  StScriptRun *run = data;
  StAction *action;

  if (run->actions->len >= ST_SCRIPT_MAX_ACTIONS)
    {
      g_variant_unref (g_variant_ref_sink (args));
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "more than %u actions in one call (send, alert, set_stage, "
                   "tag, untag, follow_up and set_health together); do the "
                   "rest in a follow_up", ST_SCRIPT_MAX_ACTIONS);
      return FALSE;
    }
  action = g_new0 (StAction, 1);
  action->name = g_strdup (name);
  action->args = g_variant_ref_sink (args);
  g_ptr_array_add (run->actions, action);
  return TRUE;
}

/* The run's own customer as a record, built from its row when it has
 * one. */
static GVariant *
run_customer (StScriptRun *run)
{
  const StLuaRow *row = run->customer_row;

  if (run->customer != NULL || row == NULL)
    return run->customer;
  run->customer = g_variant_ref_sink (
      st_record_from_texts (row->n, row->names, row->kinds, row->values));
  return run->customer;
}

/* The column @name of the run's customer row: its index, or -1. */
static int
row_column (const StLuaRow *row, const char *name)
{
  for (guint i = 0; i < row->n; i++)
    if (g_str_equal (row->names[i], name))
      return row->values[i] != NULL ? (int) i : -1;
  return -1;
}

static const char *
row_text (const StLuaRow *row, const char *name)
{
  int i = row_column (row, name);

  return i < 0 ? NULL : row->values[i];
}

/* StTemplateLookup: customer.FIELD from the run's row, one column at a
 * time. */
static GVariant *
row_lookup (const char *record, const char *field, gpointer data)
{
  StScriptRun *run = data;
  int i;

  if (!g_str_equal (record, "customer"))
    return NULL;
  if (field == NULL)
    return g_variant_ref (run_customer (run));
  i = row_column (run->customer_row, field);
  if (i < 0)
    return NULL;
  return g_variant_ref_sink (st_record_value_from_text (
      run->customer_row->kinds[i], run->customer_row->values[i]));
}

static GVariant *
host_customer (gpointer data, gint64 id, GError **error)
{
  StScriptRun *run = data;
  g_autoptr (GError) local_error = NULL;
  GVariant *record;

  /* A backtest's customer as of its cut-off, not as of today. */
  if (run->until != 0 && id == run->customer_id
      && run_customer (run) != NULL)
    return g_variant_ref (run_customer (run));
  record = st_customers_record (run->store, id, &local_error);
  if (record == NULL
      && !g_error_matches (local_error, ST_ERROR, ST_ERROR_NOT_FOUND))
    g_propagate_error (error, g_steal_pointer (&local_error));
  return record;
}

static GVariant *
host_events (gpointer data, gint64 id, GVariant *filter, GError **error)
{
  StScriptRun *run = data;
  const char *kind = NULL;
  double since = 0;
  gboolean has_since = FALSE;
  guint limit = 100;
  g_autofree char *id_text = int_text (id), *limit_text = NULL;
  char since_text[G_ASCII_DTOSTR_BUF_SIZE];
  char until_text[G_ASCII_DTOSTR_BUF_SIZE];
  g_autoptr (PGresult) res = NULL;

  if (filter != NULL
      && (!st_record_get_string (filter, "kind", &kind, error)
          || !st_record_get_double (filter, "since", &has_since, &since, error)
          || !st_record_get_uint (filter, "limit", &limit, error)))
    return NULL;
  limit = CLAMP (limit, 1, 1000);
  limit_text = g_strdup_printf ("%u", limit);
  g_ascii_dtostr (since_text, sizeof since_text, since);
  g_ascii_dtostr (until_text, sizeof until_text, run->until);
  res = st_store_exec (run->store, &st_sql_run_events,
                       (const char *[]){ id_text, kind,
                                         has_since ? since_text : NULL,
                                         limit_text,
                                         run->until != 0 ? until_text : NULL },
                       error);
  return res == NULL ? NULL
                     : g_variant_ref_sink (st_record_list_from_result (res));
}

static double
host_now (gpointer data)
{
  StScriptRun *run = data;

  if (run->now != 0)
    return run->now;
  return g_get_real_time () / (double) G_USEC_PER_SEC;
}

static void
host_log (gpointer data, const char *level, const char *message)
{
  StScriptRun *run = data;
  /* info is GLib's MESSAGE, which the daemon's own notes use: GLib drops
   * INFO (like DEBUG) unless G_MESSAGES_DEBUG names it. */
  GLogLevelFlags flags = G_LOG_LEVEL_MESSAGE;

  if (g_strcmp0 (level, "debug") == 0)
    flags = G_LOG_LEVEL_DEBUG;
  else if (g_strcmp0 (level, "warning") == 0 || g_strcmp0 (level, "error") == 0)
    flags = G_LOG_LEVEL_WARNING;
  g_log_structured (G_LOG_DOMAIN, flags, "MESSAGE", "script %s (customer %"
                    G_GINT64_FORMAT "): %s", run->script->name,
                    run->customer_id, message);
}

const StLuaHost st_script_run_host = {
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

/* Not g_variant_lookup (args, key, "&s", ...): it serialises the whole
 * dictionary first, a good part of a campaign target's cost. The string
 * lives as long as @args, which holds it. */
static const char *
arg_str (GVariant *args, const char *key)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (
      args, key, G_VARIANT_TYPE_STRING);

  return value != NULL ? g_variant_get_string (value, NULL) : NULL;
}

static char *
arg_json (GVariant *args, const char *key)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (args, key, NULL);

  return value == NULL ? NULL : st_record_to_json (value);
}

/* One {sv} entry of a template's variables. */
static GVariant *
template_var (const char *name, GVariant *value)
{
  return g_variant_new_dict_entry (g_variant_new_string (name),
                                   g_variant_new_variant (value));
}

/* The record of the customer an action is about: usually the job's own. */
static GVariant *
action_customer (StScriptRun *run, gint64 id, GError **error)
{
  if (id == run->customer_id && run_customer (run) != NULL)
    return g_variant_ref (run_customer (run));
  return st_customers_record (run->store, id, error);
}

/* The template's variables: event and data, and the customer unless it
 * is read from the run's row (row_lookup). */
static GVariant *
template_vars (StScriptRun *run, GVariant *customer, GVariant *data)
{
  GVariant *entries[3];
  guint n = 0;

  /* Built directly: a GVariantDict hashes and parses a format per entry,
   * per customer of a campaign. */
  if (customer != NULL)
    entries[n++] = template_var ("customer", customer);
  entries[n++] = template_var ("event", run->event);
  entries[n++] = template_var (
      "data", data ? data : g_variant_new_array (G_VARIANT_TYPE ("{sv}"),
                                                 NULL, 0));
  return g_variant_ref_sink (
      g_variant_new_array (G_VARIANT_TYPE ("{sv}"), entries, n));
}

/* A field of the customer a message goes to. */
static const char *
send_customer_text (StScriptRun *run, StScriptSend *send, const char *name)
{
  return send->customer != NULL ? arg_str (send->customer, name)
                                : row_text (run->customer_row, name);
}

/* A send's arguments (docs/lua.md), read in one pass over them: each
 * lookup walks the whole dictionary, and a send needs eight. The strings
 * live as long as the arguments. */
typedef struct {
  gint64 customer_id, delay;
  const char *channel, *template_name, *key, *subject, *body;
  GVariant *data; /* owned; NULL when absent */
} SendArgs;

static gint64
int_value (GVariant *value, gint64 fallback)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    return g_variant_get_int64 (value);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
    return g_variant_get_int32 (value);
  return fallback;
}

static void
send_args_read (GVariant *args, gint64 customer_id, SendArgs *out)
{
  struct { const char *name; const char **out; } strings[] = {
    { "channel", &out->channel }, { "template", &out->template_name },
    { "key", &out->key },         { "subject", &out->subject },
    { "body", &out->body },
  };
  gsize n = g_variant_n_children (args);

  memset (out, 0, sizeof *out);
  out->customer_id = customer_id;
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) entry = g_variant_get_child_value (args, i);
      g_autoptr (GVariant) key = g_variant_get_child_value (entry, 0);
      g_autoptr (GVariant) boxed = g_variant_get_child_value (entry, 1);
      g_autoptr (GVariant) value = g_variant_get_variant (boxed);
      const char *name = g_variant_get_string (key, NULL);

      if (g_str_equal (name, "customer_id"))
        out->customer_id = int_value (value, customer_id);
      else if (g_str_equal (name, "delay"))
        out->delay = int_value (value, 0);
      else if (g_str_equal (name, "data"))
        out->data = g_steal_pointer (&value);
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        for (guint s = 0; s < G_N_ELEMENTS (strings); s++)
          if (g_str_equal (name, strings[s].name))
            *strings[s].out = g_variant_get_string (value, NULL);
    }
}

gboolean
st_script_run_render_send (StScriptRun *run, const StAction *action,
                           StScriptSend *send, GError **error)
{
  SendArgs a;
  g_autoptr (GVariant) data = NULL;
  const char *recipient = NULL;
  StOutboxMessage *message = &send->message;
  gboolean from_row;

  memset (send, 0, sizeof *send);
  send_args_read (action->args, run->customer_id, &a);
  data = a.data;
  from_row = a.customer_id == run->customer_id && run->customer == NULL
             && run->customer_row != NULL;
  if (!from_row)
    {
      send->customer = action_customer (run, a.customer_id, error);
      if (send->customer == NULL)
        return FALSE;
    }
  send->args = g_variant_ref (action->args);
  send->data_json = data != NULL ? st_record_to_json (data) : NULL;
  if (a.template_name != NULL)
    {
      g_autoptr (GVariant) vars = template_vars (
          run, send->customer,
          data != NULL && g_variant_is_of_type (data, G_VARIANT_TYPE_VARDICT)
              ? data : NULL);

      if (!st_template_render_cached (
              run->templates, st_script_set_folders (run->scripts),
              a.template_name, send_customer_text (run, send, "locale"), vars,
              from_row ? row_lookup : NULL, run, &send->subject, &send->body,
              &send->html, &send->locale, error))
        {
          st_script_send_clear (send);
          return FALSE;
        }
    }
  else
    {
      send->subject = g_strdup (a.subject);
      send->body = g_strdup (a.body);
    }
  if (g_strcmp0 (a.channel, "email") == 0)
    recipient = send_customer_text (run, send, "email");
  else if (g_strcmp0 (a.channel, "sms") == 0)
    recipient = send_customer_text (run, send, "phone");

  message->customer_id = a.customer_id;
  message->key = a.key;
  message->channel = a.channel;
  message->script = run->script->name;
  message->template_name = a.template_name;
  message->locale = send->locale;
  message->recipient = recipient;
  message->subject = send->subject;
  message->body = send->body ? send->body : "";
  message->html = send->html;
  message->data_json = send->data_json;
  message->delay_seconds = a.delay;
  return TRUE;
}

void
st_script_send_clear (StScriptSend *send)
{
  g_clear_pointer (&send->subject, g_free);
  g_clear_pointer (&send->body, g_free);
  g_clear_pointer (&send->html, g_free);
  g_clear_pointer (&send->locale, g_free);
  g_clear_pointer (&send->data_json, g_free);
  g_clear_pointer (&send->customer, g_variant_unref);
  g_clear_pointer (&send->args, g_variant_unref);
  memset (&send->message, 0, sizeof send->message);
}

static gboolean
apply_send (StScriptRun *run, const StAction *action, GError **error)
{
  StScriptSend send;
  gboolean created, ok;

  if (!st_script_run_render_send (run, action, &send, error))
    return FALSE;
  ok = st_outbox_enqueue (run->store, &send.message, &created, error);
  st_script_send_clear (&send);
  return ok;
}

static gboolean
apply_alert (StScriptRun *run, GVariant *args, GError **error)
{
  g_autofree char *source = g_strconcat ("script:", run->script->name, NULL);
  g_autofree char *data_json = arg_json (args, "data");
  const char *severity = arg_str (args, "severity");
  GVariant *alert = st_alerts_raise (
      run->store, arg_int (args, "customer_id", 0), arg_str (args, "kind"),
      severity ? severity : "warning", arg_str (args, "message"), data_json,
      source, error);

  if (alert == NULL)
    return FALSE;
  g_ptr_array_add (run->alerts, alert);
  return TRUE;
}

static gboolean
apply_follow_up (StScriptRun *run, GVariant *args, GError **error)
{
  g_autofree char *customer = int_text (arg_int (args, "customer_id",
                                                 run->customer_id));
  g_autofree char *key = g_strdup_printf ("follow:%s:%s", run->script->name,
                                          arg_str (args, "key"));
  g_autofree char *payload = arg_json (args, "data");
  g_autofree char *after = int_text (arg_int (args, "after", 0));
  g_autoptr (PGresult) res = st_store_exec (
      run->store, &st_sql_run_follow_up,
      (const char *[]){ customer, key, run->script->name, payload, after },
      error);

  return res != NULL;
}

static gboolean
apply_health (StScriptRun *run, GVariant *args, GError **error)
{
  g_autofree char *customer = int_text (arg_int (args, "customer_id",
                                                 run->customer_id));
  g_autofree char *score = int_text (arg_int (args, "score", 0));
  g_autofree char *factors = arg_json (args, "factors");
  g_autofree char *event_id = run->event_id ? int_text (run->event_id) : NULL;
  g_autoptr (PGresult) res = NULL;

  res = st_store_exec (run->store, &st_sql_run_health,
                       (const char *[]){ customer, score,
                                         factors ? factors : "{}",
                                         arg_str (args, "risk"), event_id },
                       error);
  return res != NULL;
}

gboolean
st_script_run_apply_one (StScriptRun *run, const StAction *action, GError **error)
{
  const char *name = action->name;
  GVariant *args = action->args;
  g_autofree char *actor = NULL;

  if (g_str_equal (name, "send"))
    return apply_send (run, action, error);
  if (g_str_equal (name, "alert"))
    return apply_alert (run, args, error);
  if (g_str_equal (name, "follow_up"))
    return apply_follow_up (run, args, error);
  if (g_str_equal (name, "set_health"))
    return apply_health (run, args, error);
  if (g_str_equal (name, "tag") || g_str_equal (name, "untag"))
    return st_customers_tag (run->store,
                             arg_int (args, "customer_id", run->customer_id),
                             arg_str (args, "tag"), g_str_equal (name, "tag"),
                             error);
  if (g_str_equal (name, "set_stage"))
    {
      actor = g_strconcat ("script:", run->script->name, NULL);
      return st_customers_move (
          run->store, st_engine_get_config (run->engine),
          arg_int (args, "customer_id", run->customer_id),
          arg_str (args, "stage"), arg_str (args, "reason"), actor, error);
    }
  g_set_error (error, ST_ERROR, ST_ERROR_FAILED, "unknown action '%s'", name);
  return FALSE;
}


gboolean
st_script_run_apply (StScriptRun *run, GError **error)
{
  for (guint i = 0; i < run->actions->len; i++)
    if (!st_script_run_apply_one (run, g_ptr_array_index (run->actions, i),
                                  error))
      return FALSE;
  return TRUE;
}

void
st_script_run_announce (StScriptRun *run)
{
  for (guint i = 0; i < run->alerts->len; i++)
    st_engine_alert_raised (run->engine, g_ptr_array_index (run->alerts, i));
}

gboolean
st_script_run_call (StScriptRun *run, StLua *lua, GError **error)
{
  if (run->customer == NULL && run->customer_row != NULL)
    return st_lua_run_row (lua, run->script,
                           st_script_set_folders (run->scripts),
                           run->customer_row, run->event_row, run->event,
                           &st_script_run_host, run, error);
  return st_lua_run (lua, run->script, st_script_set_folders (run->scripts),
                     run->customer, run->event, &st_script_run_host, run,
                     error);
}

void
st_script_run_init (StScriptRun *run, StEngine *engine, StStore *store,
                    StScriptSet *scripts, const StScript *script,
                    gint64 customer_id)
{
  memset (run, 0, sizeof *run);
  run->engine = engine;
  run->store = store;
  run->scripts = st_script_set_ref (scripts);
  run->script = script;
  run->customer_id = customer_id;
  run->actions = g_ptr_array_new_with_free_func ((GDestroyNotify) action_free);
  run->alerts = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_variant_unref);
}

void
st_script_run_clear (StScriptRun *run)
{
  g_clear_pointer (&run->customer, g_variant_unref);
  g_clear_pointer (&run->event, g_variant_unref);
  g_clear_pointer (&run->actions, g_ptr_array_unref);
  g_clear_pointer (&run->alerts, g_ptr_array_unref);
  g_clear_pointer (&run->scripts, st_script_set_unref);
}
