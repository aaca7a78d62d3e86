/* The run objects at /org/steward/Steward1/runs/ID: a subtree, so that
 * any run, old ones included, answers for its properties, read from the
 * database at each call. A watcher thread polls the active runs and turns
 * their counters into Progress and Finished signals, so the clients of
 * this daemon follow a run whichever daemon processes its batches. */

#include "st-service-private.h"

#include <string.h>

#include "st-campaign-runs.h"
#include "st-campaign-work.h"
#include "st-dbus-generated.h"
#include "st-error.h"

#define ST_RUN_IFACE "org.steward.Steward1.Run"
/* The watcher's period while some run is active, and while none is. */
#define ST_WATCH_ACTIVE_MS 200
#define ST_WATCH_IDLE_MS 1000

char *
st_run_path (gint64 id)
{
  return g_strdup_printf (ST_RUNS_PATH "/%" G_GINT64_FORMAT, id);
}

/* Run objects ------------------------------------------------------------- */

/* The run id of a run object's path, or 0. */
static gint64
path_run_id (const char *path)
{
  const char *tail;
  char *end;
  gint64 id;

  if (!g_str_has_prefix (path, ST_RUNS_PATH "/"))
    return 0;
  tail = path + strlen (ST_RUNS_PATH "/");
  id = g_ascii_strtoll (tail, &end, 10);
  return *tail != '\0' && *end == '\0' && id > 0 ? id : 0;
}

static GVariant *
lookup_or (GVariant *record, const char *key, const GVariantType *type,
           GVariant *fallback)
{
  GVariant *value = g_variant_lookup_value (record, key, type);

  if (value == NULL)
    return g_variant_ref_sink (fallback);
  g_variant_unref (g_variant_ref_sink (fallback));
  return value;
}

/* The run's properties, by their D-Bus names. */
static GVariant *
run_properties (GVariant *record)
{
  static const struct {
    const char *property, *key, *type;
  } map[] = {
    { "Id", "id", "x" },
    { "Campaign", "campaign", "s" },
    { "Occurrence", "occurrence", "s" },
    { "Zone", "zone", "s" },
    { "DryRun", "dry_run", "b" },
    { "State", "state", "s" },
    { "RequestedBy", "requested_by", "s" },
    { "CreatedAt", "created_at", "s" },
    { "StartedAt", "started_at", "s" },
    { "FinishedAt", "finished_at", "s" },
    { "Total", "total", "x" },
    { "Done", "done", "x" },
    { "Sent", "sent", "x" },
    { "Skipped", "skipped", "x" },
    { "Failed", "failed", "x" },
    { "Summary", "summary", "a{sv}" },
    { "LastError", "last_error", "s" },
    { "CancelledBy", "cancelled_by", "s" },
  };
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    {
      const GVariantType *type = G_VARIANT_TYPE (map[i].type);
      GVariant *fallback
          = g_variant_type_equal (type, G_VARIANT_TYPE_STRING)
                ? g_variant_new_string ("")
            : g_variant_type_equal (type, G_VARIANT_TYPE_BOOLEAN)
                ? g_variant_new_boolean (FALSE)
            : g_variant_type_equal (type, G_VARIANT_TYPE_INT64)
                ? g_variant_new_int64 (0)
                : g_variant_new ("a{sv}", NULL);
      g_autoptr (GVariant) value = lookup_or (record, map[i].key, type,
                                              fallback);

      g_variant_builder_add (&builder, "{sv}", map[i].property, value);
    }
  return g_variant_builder_end (&builder);
}

/* The id of the run object called, 0 (with NOT_FOUND) for a path that
 * is none. */
static gint64
run_id_of_call (StCall *call, GError **error)
{
  const char *path = g_dbus_method_invocation_get_object_path (
      call->invocation);
  gint64 id = path_run_id (path);

  if (id == 0)
    g_set_error (error, ST_ERROR, ST_ERROR_NOT_FOUND,
                 "%s is no campaign run's path", path);
  return id;
}

static GVariant *
run_properties_of_call (StCall *call, GError **error)
{
  gint64 id = run_id_of_call (call, error);
  g_autoptr (GVariant) record = NULL;
  StStore *store;

  if (id == 0)
    return NULL;
  store = st_call_store (call, error);
  if (store == NULL)
    return NULL;
  record = st_campaign_runs_get (store, id, error);
  return record == NULL ? NULL : run_properties (record);
}

GVariant *
st_service_run_cancel (StCall *call, GVariant *params, GError **error)
{
  gint64 id = run_id_of_call (call, error);
  g_autofree char *actor = NULL;
  g_autoptr (GVariant) record = NULL;
  const char *state = "";
  StStore *store;

  (void) params;
  if (id == 0)
    return NULL;
  store = st_call_store (call, error);
  if (store == NULL)
    return NULL;
  actor = st_call_actor (call);
  g_message ("campaign run %" G_GINT64_FORMAT ": cancel asked for by %s", id,
             actor);
  record = st_campaign_run_cancel (store, id, actor, error);
  if (record == NULL)
    return NULL;
  g_variant_lookup (record, "state", "&s", &state);
  st_run_watch_poke (call->service->watch);
  return g_variant_new ("(s)", state);
}

GVariant *
st_service_run_get (StCall *call, GVariant *params, GError **error)
{
  const char *name;
  g_autoptr (GVariant) properties = NULL;
  g_autoptr (GVariant) value = NULL;

  g_variant_get (params, "(&s&s)", NULL, &name);
  properties = run_properties_of_call (call, error);
  if (properties == NULL)
    return NULL;
  value = g_variant_lookup_value (properties, name, NULL);
  if (value == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "a run has no property %s", name);
      return NULL;
    }
  return g_variant_new ("(v)", value);
}

GVariant *
st_service_run_get_all (StCall *call, GVariant *params, GError **error)
{
  const char *interface;
  GVariant *properties;

  /* The other objects' interfaces have no properties. */
  g_variant_get (params, "(&s)", &interface);
  if (g_strcmp0 (interface, ST_RUN_IFACE) != 0)
    return g_variant_new ("(@a{sv})", g_variant_new ("a{sv}", NULL));
  properties = run_properties_of_call (call, error);
  return properties == NULL ? NULL : g_variant_new ("(@a{sv})", properties);
}

/* The subtree: any numeric node is a run; what it holds is checked when
 * it is read. Nodes are not enumerated: there may be millions. */

static char **
subtree_enumerate (GDBusConnection *connection, const char *sender,
                   const char *object_path, gpointer user_data)
{
  (void) connection, (void) sender, (void) object_path, (void) user_data;
  return g_new0 (char *, 1);
}

static GDBusInterfaceInfo **
subtree_introspect (GDBusConnection *connection, const char *sender,
                    const char *object_path, const char *node,
                    gpointer user_data)
{
  GDBusInterfaceInfo **interfaces;

  (void) connection, (void) sender, (void) object_path, (void) user_data;
  if (node == NULL)
    return NULL;
  interfaces = g_new0 (GDBusInterfaceInfo *, 2);
  interfaces[0] = g_dbus_interface_info_ref (st_dbus_run_interface_info ());
  return interfaces;
}

/* Properties are read in a worker thread, through method_call. */
static const GDBusInterfaceVTable st_run_vtable = {
  st_service_method_call, NULL, NULL, { 0 }
};

static const GDBusInterfaceVTable *
subtree_dispatch (GDBusConnection *connection, const char *sender,
                  const char *object_path, const char *interface_name,
                  const char *node, gpointer *out_user_data,
                  gpointer user_data)
{
  (void) connection, (void) sender, (void) object_path;
  if (node == NULL || g_strcmp0 (interface_name, ST_RUN_IFACE) != 0)
    return NULL;
  *out_user_data = user_data;
  return &st_run_vtable;
}

static const GDBusSubtreeVTable st_runs_vtable = {
  subtree_enumerate, subtree_introspect, subtree_dispatch, { 0 }
};

/* The watcher -------------------------------------------------------------- */

struct _StRunWatch {
  StService *service;
  GThread *thread;
  GMutex lock;
  GCond wake;
  gboolean stopping;
};

static void
emit (StService *service, gint64 id, const char *signal, GVariant *args)
{
  g_autofree char *path = st_run_path (id);

  g_dbus_connection_emit_signal (service->connection, NULL, path,
                                 ST_RUN_IFACE, signal, args, NULL);
}

static gboolean
same_progress (const StRunProgress *a, const StRunProgress *b)
{
  return g_str_equal (a->state, b->state) && a->total == b->total
         && a->done == b->done && a->sent == b->sent
         && a->skipped == b->skipped && a->failed == b->failed;
}

/* Signals for what changed since the last poll; @known (id → progress)
 * and @finished (ids whose Finished was sent, or that had ended before
 * the first poll) are the watcher's memory. */
static void
announce (StService *service, GArray *runs, GHashTable *known,
          GHashTable *finished, gboolean first)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_int64_hash,
                                                  g_int64_equal);

  for (guint i = 0; i < runs->len; i++)
    {
      StRunProgress *run = &g_array_index (runs, StRunProgress, i);
      StRunProgress *before = g_hash_table_lookup (known, &run->id);
      gboolean final = st_campaign_run_state_is_final (run->state);

      g_hash_table_add (seen, &run->id);
      if (g_hash_table_contains (finished, &run->id))
        continue;
      if (!first && (before == NULL || !same_progress (before, run)))
        emit (service, run->id, "Progress",
              g_variant_new ("(sxxxxx)", run->state, run->total, run->done,
                             run->sent, run->skipped, run->failed));
      if (final && !first)
        emit (service, run->id, "Finished", g_variant_new ("(s)", run->state));
      if (final)
        {
          g_hash_table_add (finished, g_memdup2 (&run->id, sizeof run->id));
          g_hash_table_remove (known, &run->id);
        }
      else
        g_hash_table_replace (known, g_memdup2 (&run->id, sizeof run->id),
                              g_memdup2 (run, sizeof *run));
    }
  /* What the poll no longer returns is over and old: forget it. */
  {
    GHashTableIter iter;
    gpointer id;

    g_hash_table_iter_init (&iter, finished);
    while (g_hash_table_iter_next (&iter, &id, NULL))
      if (!g_hash_table_contains (seen, id))
        g_hash_table_iter_remove (&iter);
    g_hash_table_iter_init (&iter, known);
    while (g_hash_table_iter_next (&iter, &id, NULL))
      if (!g_hash_table_contains (seen, id))
        g_hash_table_iter_remove (&iter);
  }
}

void
st_run_watch_poke (StRunWatch *watch)
{
  if (watch == NULL)
    return;
  g_mutex_lock (&watch->lock);
  g_cond_signal (&watch->wake);
  g_mutex_unlock (&watch->lock);
}

static gboolean
watch_sleep (StRunWatch *watch, guint ms)
{
  gint64 until = g_get_monotonic_time () + (gint64) ms * 1000;
  gboolean stopping;

  g_mutex_lock (&watch->lock);
  if (!watch->stopping)
    g_cond_wait_until (&watch->wake, &watch->lock, until);
  stopping = watch->stopping;
  g_mutex_unlock (&watch->lock);
  return !stopping;
}

static gpointer
watch_main (gpointer data)
{
  StRunWatch *watch = data;
  g_autoptr (StStore) store = NULL;
  g_autoptr (GHashTable) known = g_hash_table_new_full (
      g_int64_hash, g_int64_equal, g_free, g_free);
  g_autoptr (GHashTable) finished = g_hash_table_new_full (
      g_int64_hash, g_int64_equal, g_free, NULL);
  gboolean first = TRUE;
  guint ms = ST_WATCH_IDLE_MS;

  do
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GArray) runs = NULL;

      if (store == NULL)
        store = st_engine_new_store (watch->service->engine, &error);
      if (store != NULL)
        runs = st_campaign_runs_poll (store, &error);
      if (runs != NULL)
        {
          announce (watch->service, runs, known, finished, first);
          first = FALSE;
        }
      else
        g_debug ("run watcher: %s", error ? error->message : "?");
      ms = g_hash_table_size (known) > 0 ? ST_WATCH_ACTIVE_MS
                                         : ST_WATCH_IDLE_MS;
    }
  while (watch_sleep (watch, ms));
  return NULL;
}

gboolean
st_service_runs_register (StService *service, GError **error)
{
  StRunWatch *watch;

  service->runs_subtree = g_dbus_connection_register_subtree (
      service->connection, ST_RUNS_PATH, &st_runs_vtable,
      G_DBUS_SUBTREE_FLAGS_DISPATCH_TO_UNENUMERATED_NODES, service, NULL,
      error);
  if (service->runs_subtree == 0)
    return FALSE;
  watch = g_new0 (StRunWatch, 1);
  watch->service = service;
  g_mutex_init (&watch->lock);
  g_cond_init (&watch->wake);
  watch->thread = g_thread_new ("st-run-watch", watch_main, watch);
  service->watch = watch;
  return TRUE;
}

void
st_service_runs_unregister (StService *service)
{
  StRunWatch *watch = service->watch;

  if (watch != NULL)
    {
      g_mutex_lock (&watch->lock);
      watch->stopping = TRUE;
      g_cond_signal (&watch->wake);
      g_mutex_unlock (&watch->lock);
      g_thread_join (watch->thread);
      g_mutex_clear (&watch->lock);
      g_cond_clear (&watch->wake);
      g_free (watch);
      service->watch = NULL;
    }
  if (service->runs_subtree != 0)
    g_dbus_connection_unregister_subtree (service->connection,
                                          service->runs_subtree);
  service->runs_subtree = 0;
}
