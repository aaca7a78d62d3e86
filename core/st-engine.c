#include "st-engine.h"

#include <json-glib/json-glib.h>

#include "st-alerts.h"
#include "st-care.h"
#include "st-error.h"
#include "st-triggers.h"

struct _StEngine {
  GMutex lock;
  GCond released;
  StConfig *config;
  GPtrArray *retired_configs; /* kept until the end: calls may hold them */
  char *conninfo;
  GPtrArray *idle_stores;
  guint n_stores;             /* idle and borrowed */
  guint max_stores;
  int schema_version;
  GDateTime *started_at;
  StScriptSet *scripts;
  StTriggers triggers;
  StEngineAlertFunc alert_func;
  gpointer alert_data;
};

static void raise_broken_alerts (StEngine *engine, StStore *store);

static gboolean
engine_fire (gpointer data, StStore *store, gint64 customer_id,
             const char *trigger, const char *source, gint64 source_id,
             GError **error)
{
  g_autoptr (StScriptSet) scripts = st_engine_get_scripts (data);

  return st_care_enqueue (store, scripts, customer_id, trigger, source,
                          source_id, error);
}

/* Each entry of @plan (st_care_plan()'s JSON array) gets "recent": the
 * window, in seconds, within which an event must have occurred for its
 * job to be queued (care.recent). The write paths compare it with the
 * event's time in SQL (st-import-store.c; st-events.c once it reads it). */
static char *
add_recent_window (char *plan, guint64 recent_ms)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonGenerator) generator = NULL;
  JsonNode *root;
  JsonArray *entries;

  if (plan == NULL || !json_parser_load_from_data (parser, plan, -1, NULL))
    return plan;
  root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_ARRAY (root))
    return plan;
  entries = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (entries); i++)
    {
      JsonNode *entry = json_array_get_element (entries, i);

      if (JSON_NODE_HOLDS_OBJECT (entry))
        json_object_set_int_member (json_node_get_object (entry), "recent",
                                    (gint64) (recent_ms / 1000));
    }
  generator = json_generator_new ();
  json_generator_set_root (generator, root);
  g_free (plan);
  return json_generator_to_data (generator, NULL);
}

static char *
engine_plan (gpointer data, const char *trigger)
{
  g_autoptr (StScriptSet) scripts = st_engine_get_scripts (data);

  /* Only events have a time; stage entries happen now. */
  if (g_str_has_prefix (trigger, "stage:"))
    return st_care_plan (scripts, trigger);
  return add_recent_window (st_care_plan (scripts, trigger),
                            st_engine_get_config (data)->care_recent_ms);
}

StLuaLimits
st_engine_lua_limits (StEngine *engine)
{
  const StConfig *config = st_engine_get_config (engine);
  StLuaLimits limits = { config->lua_instructions, config->lua_timeout_ms,
                         config->lua_memory };

  return limits;
}

static StScriptSet *
load_scripts (const StConfig *config)
{
  StLuaLimits limits = { config->lua_instructions, config->lua_timeout_ms,
                         config->lua_memory };
  StScriptSet *set = st_script_set_load (
      (const char *const *) config->scripts, &limits);
  g_autoptr (GPtrArray) list = st_script_set_list (set);

  for (guint i = 0; i < list->len; i++)
    {
      StScript *script = g_ptr_array_index (list, i);

      /* Not shared yet: the stages are the configuration's to check. */
      st_script_check_stages (script, config);
      if (script->error != NULL)
        g_warning ("script %s is broken and skipped: %s", script->path,
                   script->error);
    }
  return set;
}

StEngine *
st_engine_new (StConfig *config, GError **error)
{
  g_autoptr (StEngine) engine = g_new0 (StEngine, 1);
  g_autoptr (StStore) store = NULL;
  const char *env = g_getenv ("STEWARD_DATABASE");

  g_mutex_init (&engine->lock);
  g_cond_init (&engine->released);
  engine->config = config;
  engine->retired_configs = g_ptr_array_new_with_free_func (
      (GDestroyNotify) st_config_free);
  engine->idle_stores = g_ptr_array_new_with_free_func (
      (GDestroyNotify) st_store_free);
  engine->max_stores = MAX (config->workers, 1);
  engine->started_at = g_date_time_new_now_utc ();
  engine->triggers.fire = engine_fire;
  engine->triggers.plan = engine_plan;
  engine->triggers.data = engine;
  engine->scripts = load_scripts (config);
  engine->conninfo = g_strdup (config->database != NULL ? config->database
                               : env != NULL           ? env
                                                       : "");

  store = st_engine_new_store (engine, error);
  if (store == NULL)
    return NULL;
  engine->schema_version = st_store_migrate (store, error);
  if (engine->schema_version < 0)
    return NULL;
  raise_broken_alerts (engine, store);
  g_ptr_array_add (engine->idle_stores, g_steal_pointer (&store));
  engine->n_stores = 1;
  return g_steal_pointer (&engine);
}

void
st_engine_free (StEngine *engine)
{
  if (engine == NULL)
    return;
  g_ptr_array_unref (engine->idle_stores);
  g_ptr_array_unref (engine->retired_configs);
  st_config_free (engine->config);
  g_clear_pointer (&engine->scripts, st_script_set_unref);
  g_free (engine->conninfo);
  g_clear_pointer (&engine->started_at, g_date_time_unref);
  g_mutex_clear (&engine->lock);
  g_cond_clear (&engine->released);
  g_free (engine);
}

const StConfig *
st_engine_get_config (StEngine *engine)
{
  const StConfig *config;

  g_mutex_lock (&engine->lock);
  config = engine->config;
  g_mutex_unlock (&engine->lock);
  return config;
}

/* Swap in @fresh (taken) and the scripts of its folders. */
static void
st_engine_reload_scripts_with (StEngine *engine, StConfig *fresh)
{
  StScriptSet *scripts = load_scripts (fresh);
  StScriptSet *old;

  g_mutex_lock (&engine->lock);
  if (fresh != engine->config)
    {
      g_ptr_array_add (engine->retired_configs, engine->config);
      engine->config = fresh;
    }
  old = engine->scripts;
  engine->scripts = scripts;
  g_mutex_unlock (&engine->lock);
  st_script_set_unref (old);
}

void
st_engine_reload_scripts (StEngine *engine)
{
  g_autoptr (GError) error = NULL;
  StStore *store;

  st_engine_reload_scripts_with (engine, engine->config);
  store = st_engine_acquire_store (engine, &error);
  if (store == NULL)
    return;
  raise_broken_alerts (engine, store);
  st_engine_release_store (engine, store);
}

/* database, bus and workers take effect at the next start: @fresh keeps
 * the running values, so that Status says what is in force. */
static void
keep_start_keys (const StConfig *running, StConfig *fresh)
{
  if (fresh->bus != running->bus || fresh->workers != running->workers
      || g_strcmp0 (fresh->database, running->database) != 0)
    g_message ("%s: database, bus and workers keep their running values "
               "until the daemon restarts", fresh->path);
  fresh->bus = running->bus;
  fresh->workers = running->workers;
  g_free (fresh->database);
  fresh->database = g_strdup (running->database);
}

gboolean
st_engine_reload (StEngine *engine, GError **error)
{
  const char *path = st_engine_get_config (engine)->path;
  StConfig *fresh;

  if (path == NULL)
    return TRUE; /* running on defaults: nothing to re-read */
  fresh = st_config_load (path, error);
  if (fresh == NULL)
    return FALSE;
  keep_start_keys (st_engine_get_config (engine), fresh);
  st_engine_reload_scripts_with (engine, fresh);
  {
    g_autoptr (GError) store_error = NULL;
    StStore *store = st_engine_acquire_store (engine, &store_error);
    if (store != NULL)
      {
        raise_broken_alerts (engine, store);
        st_engine_release_store (engine, store);
      }
  }
  return TRUE;
}

StStore *
st_engine_acquire_store (StEngine *engine, GError **error)
{
  StStore *store = NULL;

  g_mutex_lock (&engine->lock);
  while (engine->idle_stores->len == 0 && engine->n_stores >= engine->max_stores)
    g_cond_wait (&engine->released, &engine->lock);
  if (engine->idle_stores->len > 0)
    store = g_ptr_array_steal_index_fast (engine->idle_stores,
                                          engine->idle_stores->len - 1);
  else
    engine->n_stores++;
  g_mutex_unlock (&engine->lock);

  if (store == NULL)
    {
      /* Connect outside the lock: a slow server must not block the others. */
      store = st_engine_new_store (engine, error);
      if (store == NULL)
        {
          g_mutex_lock (&engine->lock);
          engine->n_stores--;
          g_cond_signal (&engine->released);
          g_mutex_unlock (&engine->lock);
        }
    }
  return store;
}

void
st_engine_release_store (StEngine *engine, StStore *store)
{
  st_store_rollback (store);
  g_mutex_lock (&engine->lock);
  g_ptr_array_add (engine->idle_stores, store);
  g_cond_signal (&engine->released);
  g_mutex_unlock (&engine->lock);
}

int
st_engine_schema_version (StEngine *engine)
{
  return engine->schema_version;
}

GDateTime *
st_engine_started_at (StEngine *engine)
{
  return engine->started_at;
}

/* A broken script is an alert for a person, not just a log line: one open
 * alert per file, raised again (counted) at each load while it stays
 * broken. */
static void
raise_broken_alerts (StEngine *engine, StStore *store)
{
  g_autoptr (StScriptSet) scripts = st_engine_get_scripts (engine);
  g_autoptr (GPtrArray) list = st_script_set_list (scripts);
  g_autoptr (GPtrArray) raised = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_variant_unref);
  g_autoptr (GError) error = NULL;

  if (!st_store_begin (store, &error))
    return;
  for (guint i = 0; i < list->len; i++)
    {
      const StScript *script = g_ptr_array_index (list, i);
      g_autofree char *base = NULL, *kind = NULL, *message = NULL;
      GVariant *alert;

      if (script->error == NULL)
        continue;
      base = g_path_get_basename (script->path);
      kind = g_strdup_printf ("script_broken:%.48s", base);
      message = g_strdup_printf ("script %s is broken and skipped: %s",
                                 script->path, script->error);
      alert = st_alerts_raise (store, 0, kind, "critical", message, NULL,
                               "core", &error);
      if (alert == NULL)
        break;
      g_ptr_array_add (raised, alert);
    }
  if (error != NULL || !st_store_commit (store, &error))
    {
      g_warning ("cannot raise the broken-script alerts: %s", error->message);
      st_store_rollback (store);
      return;
    }
  for (guint i = 0; i < raised->len; i++)
    st_engine_alert_raised (engine, g_ptr_array_index (raised, i));
}

StStore *
st_engine_new_store (StEngine *engine, GError **error)
{
  StStore *store = st_store_new (engine->conninfo, error);

  if (store != NULL)
    st_store_set_triggers (store, &engine->triggers);
  return store;
}

StScriptSet *
st_engine_get_scripts (StEngine *engine)
{
  StScriptSet *scripts;

  g_mutex_lock (&engine->lock);
  scripts = st_script_set_ref (engine->scripts);
  g_mutex_unlock (&engine->lock);
  return scripts;
}

void
st_engine_set_alert_sink (StEngine *engine, StEngineAlertFunc func,
                          gpointer user_data)
{
  engine->alert_func = func;
  engine->alert_data = user_data;
}

void
st_engine_alert_raised (StEngine *engine, GVariant *alert)
{
  if (engine->alert_func != NULL)
    engine->alert_func (alert, engine->alert_data);
}

const char *
st_engine_conninfo (StEngine *engine)
{
  return engine->conninfo;
}
