#include "st-engine.h"

#include "st-error.h"

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
};

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
  engine->conninfo = g_strdup (config->database != NULL ? config->database
                               : env != NULL           ? env
                                                       : "");

  store = st_store_new (engine->conninfo, error);
  if (store == NULL)
    return NULL;
  engine->schema_version = st_store_migrate (store, error);
  if (engine->schema_version < 0)
    return NULL;
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
  g_mutex_lock (&engine->lock);
  g_ptr_array_add (engine->retired_configs, engine->config);
  engine->config = fresh;
  g_mutex_unlock (&engine->lock);
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
      store = st_store_new (engine->conninfo, error);
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
