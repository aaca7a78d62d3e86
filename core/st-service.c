#include "st-service-private.h"

#include <string.h>
#include <unistd.h>

#include "st-build-config.h"
#include "st-alerts.h"
#include "st-customers.h"
#include "st-dbus-generated.h"
#include "st-error.h"
#include "st-events.h"
#include "st-record.h"

StStore *
st_call_store (StCall *call, GError **error)
{
  if (call->store == NULL)
    call->store = st_engine_acquire_store (call->service->engine, error);
  return call->store;
}

static const StConfig *
call_config (StCall *call)
{
  return st_engine_get_config (call->service->engine);
}

/* A record as the reply tuple "(a{sv})", or NULL on error. */
static GVariant *
reply_record (GVariant *record)
{
  GVariant *reply;

  if (record == NULL)
    return NULL;
  reply = g_variant_new ("(@a{sv})", record);
  g_variant_unref (record);
  return reply;
}

GVariant *
st_reply_list (GVariant *list)
{
  GVariant *reply;

  if (list == NULL)
    return NULL;
  reply = g_variant_new ("(@aa{sv})", list);
  g_variant_unref (list);
  return reply;
}

/* Manager ------------------------------------------------------------- */

static GVariant *
handle_version (StCall *call, GVariant *params, GError **error)
{
  (void) call, (void) params, (void) error;
  return g_variant_new ("(s)", ST_VERSION);
}

static GVariant *
handle_schema_version (StCall *call, GVariant *params, GError **error)
{
  StStore *store = st_call_store (call, error);
  int version;

  (void) params;
  /* Through begin, like every other call: it reconnects a connection the
   * server dropped, so SchemaVersion heals when PostgreSQL comes back. */
  if (store == NULL || !st_store_begin (store, error))
    return NULL;
  version = st_store_schema_version (store, error);
  st_store_rollback (store);
  return version < 0 ? NULL : g_variant_new ("(i)", version);
}

ST_STATEMENT_DEFINE (st_sql_status_counts, 0,
  "SELECT (SELECT count(*) FROM (SELECT 1 FROM customers LIMIT 1000001) c),"
  "       (SELECT count(*) FROM (SELECT 1 FROM events LIMIT 1000001) e)");

static GVariant *
handle_status (StCall *call, GVariant *params, GError **error)
{
  StEngine *engine = call->service->engine;
  const StConfig *config = call_config (call);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GError) db_error = NULL;
  g_autoptr (PGresult) counts = NULL;
  GVariantBuilder status;
  StStore *store;

  (void) params, (void) error;
  g_variant_builder_init (&status, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&status, "{sv}", "version",
                         g_variant_new_string (ST_VERSION));
  g_variant_builder_add (&status, "{sv}", "schema_version",
                         g_variant_new_int32 (
                             st_engine_schema_version (engine)));
  g_variant_builder_add (&status, "{sv}", "bus", g_variant_new_string (
                             config->bus == ST_BUS_SYSTEM ? "system"
                                                          : "session"));
  g_variant_builder_add (&status, "{sv}", "workers",
                         g_variant_new_uint32 (config->workers));
  g_variant_builder_add (&status, "{sv}", "config", g_variant_new_string (
                             config->path ? config->path : "(defaults)"));
  g_variant_builder_add (&status, "{sv}", "scheduler", g_variant_new_string (
                             st_campaigns_is_leader (call->service->campaigns)
                                 ? "leader" : "standby"));
  g_variant_builder_add (&status, "{sv}", "started_at",
                         g_variant_new_take_string (g_date_time_format_iso8601 (
                             st_engine_started_at (engine))));
  g_variant_builder_add (&status, "{sv}", "uptime_seconds",
                         g_variant_new_int64 (g_date_time_difference (
                             now, st_engine_started_at (engine))
                                              / G_TIME_SPAN_SECOND));

  /* Status answers even when the database does not: it says so. */
  store = st_call_store (call, &db_error);
  if (store != NULL && st_store_begin (store, &db_error))
    {
      counts = st_store_exec (store, &st_sql_status_counts, NULL, &db_error);
      st_store_rollback (store);
    }
  if (counts != NULL)
    {
      g_variant_builder_add (&status, "{sv}", "database",
                             g_variant_new_string ("ok"));
      g_variant_builder_add (&status, "{sv}", "customers", g_variant_new_int64 (
                                 g_ascii_strtoll (PQgetvalue (counts, 0, 0),
                                                  NULL, 10)));
      g_variant_builder_add (&status, "{sv}", "events", g_variant_new_int64 (
                                 g_ascii_strtoll (PQgetvalue (counts, 0, 1),
                                                  NULL, 10)));
    }
  else
    {
      g_variant_builder_add (&status, "{sv}", "database",
                             g_variant_new_string ("unavailable"));
      g_variant_builder_add (&status, "{sv}", "database_error",
                             g_variant_new_string (db_error->message));
    }
  return g_variant_new ("(a{sv})", &status);
}

static GVariant *
handle_reload (StCall *call, GVariant *params, GError **error)
{
  (void) params;
  if (!st_engine_reload (call->service->engine, error))
    return NULL;
  g_message ("configuration reloaded");
  return g_variant_new ("()");
}

/* Customers ------------------------------------------------------------ */

static GVariant *
handle_create (StCall *call, GVariant *params, GError **error)
{
  g_autoptr (GVariant) fields = g_variant_get_child_value (params, 0);
  g_autofree char *actor = st_call_actor (call);
  StStore *store = st_call_store (call, error);

  if (store == NULL)
    return NULL;
  return reply_record (st_customers_create (store, call_config (call), fields,
                                            actor, error));
}

static GVariant *
handle_get (StCall *call, GVariant *params, GError **error)
{
  const char *customer;
  StStore *store = st_call_store (call, error);

  if (store == NULL)
    return NULL;
  g_variant_get (params, "(&s)", &customer);
  return reply_record (st_customers_get (store, customer, error));
}

static GVariant *
handle_update (StCall *call, GVariant *params, GError **error)
{
  const char *customer;
  g_autoptr (GVariant) fields = NULL;
  StStore *store = st_call_store (call, error);

  if (store == NULL)
    return NULL;
  g_variant_get (params, "(&s@a{sv})", &customer, &fields);
  return reply_record (st_customers_update (store, customer, fields, error));
}

static GVariant *
handle_find (StCall *call, GVariant *params, GError **error)
{
  g_autoptr (GVariant) filter = g_variant_get_child_value (params, 0);
  StStore *store = st_call_store (call, error);

  if (store == NULL)
    return NULL;
  return st_reply_list (st_customers_find (store, call_config (call), filter,
                                        error));
}

static GVariant *
handle_set_stage (StCall *call, GVariant *params, GError **error)
{
  const char *customer, *stage, *reason;
  g_autofree char *actor = st_call_actor (call);
  StStore *store = st_call_store (call, error);

  if (store == NULL)
    return NULL;
  g_variant_get (params, "(&s&s&s)", &customer, &stage, &reason);
  return reply_record (st_customers_set_stage (store, call_config (call),
                                               customer, stage, reason, actor,
                                               error));
}

static GVariant *
handle_timeline (StCall *call, GVariant *params, GError **error)
{
  const char *customer;
  g_autoptr (GVariant) options = NULL;
  StStore *store = st_call_store (call, error);

  if (store == NULL)
    return NULL;
  g_variant_get (params, "(&s@a{sv})", &customer, &options);
  return st_reply_list (st_customers_timeline (store, customer, options,
                                               error));
}

static GVariant *
handle_record_event (StCall *call, GVariant *params, GError **error)
{
  const char *customer, *kind;
  g_autoptr (GVariant) data = NULL;
  StStore *store = st_call_store (call, error);

  if (store == NULL)
    return NULL;
  g_variant_get (params, "(&s&s@a{sv})", &customer, &kind, &data);
  return reply_record (st_events_record (store, customer, kind, data, error));
}

static GVariant *
handle_record_events (StCall *call, GVariant *params, GError **error)
{
  g_autoptr (GVariant) events = g_variant_get_child_value (params, 0);
  StStore *store = st_call_store (call, error);

  if (store == NULL)
    return NULL;
  return st_reply_list (st_events_record_many (store, events, error));
}

/* Alerts ----------------------------------------------------------------- */

GVariant *
st_call_filter_by_id (StStore *store, GVariant *filter, GError **error)
{
  g_autoptr (GVariant) customer = g_variant_lookup_value (filter, "customer",
                                                          NULL);
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (filter);
  gint64 id;
  gboolean found;

  if (customer == NULL)
    return g_variant_ref (filter);
  if (!g_variant_is_of_type (customer, G_VARIANT_TYPE_STRING))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "customer: expected a string (an id or a ref), not %s",
                   g_variant_get_type_string (customer));
      return NULL;
    }
  if (!st_store_begin (store, error))
    return NULL;
  found = st_customers_resolve (store, g_variant_get_string (customer, NULL),
                                FALSE, &id, error);
  st_store_rollback (store);
  if (!found)
    return NULL;
  g_variant_dict_remove (&dict, "customer");
  g_variant_dict_insert (&dict, "customer_id", "x", id);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static GVariant *
handle_alert_list (StCall *call, GVariant *params, GError **error)
{
  g_autoptr (GVariant) filter = g_variant_get_child_value (params, 0);
  StStore *store = st_call_store (call, error);
  g_autoptr (GVariant) resolved = NULL;

  if (store == NULL)
    return NULL;
  resolved = st_call_filter_by_id (store, filter, error);
  if (resolved == NULL)
    return NULL;
  return st_reply_list (st_alerts_list (store, resolved, error));
}

static GVariant *
handle_alert_acknowledge (StCall *call, GVariant *params, GError **error)
{
  gint64 id;
  const char *note;
  g_autofree char *actor = st_call_actor (call);
  StStore *store = st_call_store (call, error);

  if (store == NULL)
    return NULL;
  g_variant_get (params, "(x&s)", &id, &note);
  return reply_record (st_alerts_acknowledge (store, id, note, actor, error));
}

static void
emit_alert_raised (GVariant *alert, gpointer user_data)
{
  StService *service = user_data;

  if (service->connection == NULL)
    return;
  g_dbus_connection_emit_signal (service->connection, NULL, ST_OBJECT_PATH,
                                 "org.steward.Steward1.Alerts", "AlertRaised",
                                 g_variant_new ("(@a{sv})", alert), NULL);
}

/* Scripts ---------------------------------------------------------------- */

/* Built in a fixed order, so clients (and --json) see the same order. */
static GVariant *
script_entry (const StScript *script)
{
  GVariantBuilder entry;

  g_variant_builder_init (&entry, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&entry, "{sv}", "name", g_variant_new_string (
                             script->name ? script->name : ""));
  if (script->description != NULL)
    g_variant_builder_add (&entry, "{sv}", "description",
                           g_variant_new_string (script->description));
  g_variant_builder_add (&entry, "{sv}", "path",
                         g_variant_new_string (script->path));
  g_variant_builder_add (&entry, "{sv}", "on", g_variant_new_strv (
                             (const char *const *) script->on,
                             script->on ? -1 : 0));
  g_variant_builder_add (&entry, "{sv}", "delay",
                         g_variant_new_int64 (script->delay));
  if (script->schedule != NULL)
    g_variant_builder_add (&entry, "{sv}", "schedule",
                           g_variant_new_string (script->schedule));
  g_variant_builder_add (&entry, "{sv}", "state", g_variant_new_string (
                             script->error ? "broken" : "ok"));
  if (script->error != NULL)
    g_variant_builder_add (&entry, "{sv}", "error",
                           g_variant_new_string (script->error));
  return g_variant_builder_end (&entry);
}

static GVariant *
script_list_reply (StScriptSet *scripts)
{
  g_autoptr (GPtrArray) list = st_script_set_list (scripts);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < list->len; i++)
    g_variant_builder_add_value (&builder,
                                 script_entry (g_ptr_array_index (list, i)));
  return g_variant_new ("(aa{sv})", &builder);
}

static GVariant *
handle_script_list (StCall *call, GVariant *params, GError **error)
{
  g_autoptr (StScriptSet) scripts = st_engine_get_scripts (
      call->service->engine);

  (void) params, (void) error;
  return script_list_reply (scripts);
}

static GVariant *
handle_script_check (StCall *call, GVariant *params, GError **error)
{
  const char *path;
  StLuaLimits limits = st_engine_lua_limits (call->service->engine);
  g_autoptr (StScript) script = NULL;

  g_variant_get (params, "(&s)", &path);
  if (!g_path_is_absolute (path))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "path: '%s' is relative; the daemon needs an absolute "
                   "path", path);
      return NULL;
    }
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_NOT_FOUND,
                   "no script file at %s (the daemon reads the path itself)",
                   path);
      return NULL;
    }
  script = st_script_load_file (path, &limits, error);
  if (script != NULL)
    st_script_check_stages (script,
                            st_engine_get_config (call->service->engine));
  return script == NULL ? NULL
                        : g_variant_new ("(@a{sv})", script_entry (script));
}

static GVariant *
handle_script_reload (StCall *call, GVariant *params, GError **error)
{
  g_autoptr (StScriptSet) scripts = NULL;

  (void) params, (void) error;
  st_engine_reload_scripts (call->service->engine);
  scripts = st_engine_get_scripts (call->service->engine);
  g_message ("scripts reloaded");
  return script_list_reply (scripts);
}

/* Dispatch --------------------------------------------------------------- */

/* Every method of every interface, the role it needs (viewer: reads;
 * manager: writes; admin: operator actions) and what it reaches, for the
 * managers restricted to their own customers. A method missing here, or
 * here without a role, is refused to everyone (st_call_authorize), and
 * tests/test-access.c checks that each method of the introspection XML has
 * its row. */
#define MANAGER_IFACE "org.steward.Steward1.Manager"
#define CUSTOMERS_IFACE "org.steward.Steward1.Customers"
#define ALERTS_IFACE "org.steward.Steward1.Alerts"
#define SCRIPTS_IFACE "org.steward.Steward1.Scripts"
#define CAMPAIGNS_IFACE "org.steward.Steward1.Campaigns"
#define RUN_IFACE "org.steward.Steward1.Run"
#define MESSAGES_IFACE "org.steward.Steward1.Messages"
#define IMPORT_IFACE "org.steward.Steward1.Import"
#define REPORTS_IFACE "org.steward.Steward1.Reports"
#define PROPERTIES_IFACE "org.freedesktop.DBus.Properties"

static const StMethod st_methods[] = {
  { MANAGER_IFACE, "Version", ST_ROLE_VIEWER, ST_SCOPE_NONE, handle_version },
  { MANAGER_IFACE, "SchemaVersion", ST_ROLE_VIEWER, ST_SCOPE_NONE,
    handle_schema_version },
  { MANAGER_IFACE, "Status", ST_ROLE_VIEWER, ST_SCOPE_NONE, handle_status },
  { MANAGER_IFACE, "Reload", ST_ROLE_ADMIN, ST_SCOPE_NONE, handle_reload },
  { CUSTOMERS_IFACE, "Create", ST_ROLE_MANAGER, ST_SCOPE_CREATE,
    handle_create },
  { CUSTOMERS_IFACE, "Get", ST_ROLE_VIEWER, ST_SCOPE_CUSTOMER, handle_get },
  { CUSTOMERS_IFACE, "Update", ST_ROLE_MANAGER, ST_SCOPE_UPDATE,
    handle_update },
  { CUSTOMERS_IFACE, "Find", ST_ROLE_VIEWER, ST_SCOPE_FILTER, handle_find },
  { CUSTOMERS_IFACE, "SetStage", ST_ROLE_MANAGER, ST_SCOPE_CUSTOMER,
    handle_set_stage },
  { CUSTOMERS_IFACE, "Timeline", ST_ROLE_VIEWER, ST_SCOPE_CUSTOMER,
    handle_timeline },
  { CUSTOMERS_IFACE, "RecordEvent", ST_ROLE_MANAGER, ST_SCOPE_CUSTOMER,
    handle_record_event },
  { CUSTOMERS_IFACE, "RecordEvents", ST_ROLE_MANAGER, ST_SCOPE_EVENTS,
    handle_record_events },
  { ALERTS_IFACE, "List", ST_ROLE_VIEWER, ST_SCOPE_FILTER, handle_alert_list },
  { ALERTS_IFACE, "Acknowledge", ST_ROLE_MANAGER, ST_SCOPE_ALERT,
    handle_alert_acknowledge },
  { SCRIPTS_IFACE, "List", ST_ROLE_VIEWER, ST_SCOPE_NONE, handle_script_list },
  /* The daemon opens a path of the caller's choosing. */
  { SCRIPTS_IFACE, "Check", ST_ROLE_ADMIN, ST_SCOPE_NONE,
    handle_script_check },
  { SCRIPTS_IFACE, "Reload", ST_ROLE_ADMIN, ST_SCOPE_NONE,
    handle_script_reload },
  { CAMPAIGNS_IFACE, "List", ST_ROLE_VIEWER, ST_SCOPE_NONE,
    st_service_campaign_list },
  { CAMPAIGNS_IFACE, "Run", ST_ROLE_MANAGER, ST_SCOPE_EVERYONE,
    st_service_campaign_run },
  { CAMPAIGNS_IFACE, "Runs", ST_ROLE_VIEWER, ST_SCOPE_NONE,
    st_service_campaign_runs },
  { MESSAGES_IFACE, "List", ST_ROLE_VIEWER, ST_SCOPE_FILTER,
    st_service_message_list },
  { MESSAGES_IFACE, "Get", ST_ROLE_VIEWER, ST_SCOPE_MESSAGE,
    st_service_message_get },
  { MESSAGES_IFACE, "Retry", ST_ROLE_MANAGER, ST_SCOPE_MESSAGE,
    st_service_message_retry },
  { IMPORT_IFACE, "Customers", ST_ROLE_MANAGER, ST_SCOPE_EVERYONE,
    st_service_import_customers },
  { IMPORT_IFACE, "Events", ST_ROLE_MANAGER, ST_SCOPE_EVERYONE,
    st_service_import_events },
  /* Runs the health script over every customer (it can hold workers for
   * minutes) and its reply can name one (first_failure): an unrestricted
   * manager's. */
  { REPORTS_IFACE, "Backtest", ST_ROLE_MANAGER, ST_SCOPE_EVERYONE,
    st_service_report_backtest },
  /* These name customers (the lowest scores) and take an owner filter: a
   * restricted manager's are kept to their own customers. */
  { REPORTS_IFACE, "Funnel", ST_ROLE_VIEWER, ST_SCOPE_FILTER,
    st_service_report_funnel },
  { REPORTS_IFACE, "Health", ST_ROLE_VIEWER, ST_SCOPE_FILTER,
    st_service_report_health },
  { REPORTS_IFACE, "Nps", ST_ROLE_VIEWER, ST_SCOPE_FILTER,
    st_service_report_nps },
  /* Stops sending to every owner's customers. */
  { RUN_IFACE, "Cancel", ST_ROLE_MANAGER, ST_SCOPE_EVERYONE,
    st_service_run_cancel },
  /* Only the run objects have properties. */
  { PROPERTIES_IFACE, "Get", ST_ROLE_VIEWER, ST_SCOPE_NONE,
    st_service_run_get },
  { PROPERTIES_IFACE, "GetAll", ST_ROLE_VIEWER, ST_SCOPE_NONE,
    st_service_run_get_all },
};

static const StMethod *
find_method (const char *interface, const char *method)
{
  for (guint i = 0; i < G_N_ELEMENTS (st_methods); i++)
    if (g_str_equal (st_methods[i].interface, interface)
        && g_str_equal (st_methods[i].method, method))
      return &st_methods[i];
  return NULL;
}

StRole
st_service_method_role (const char *interface, const char *method)
{
  const StMethod *row = find_method (interface, method);

  return row != NULL ? row->role : ST_ROLE_NONE;
}

static void
run_call (gpointer data, gpointer user_data)
{
  GDBusMethodInvocation *invocation = data;
  StCall call = { user_data, invocation, NULL, NULL, NULL };
  g_autoptr (GError) error = NULL;
  GVariant *reply = NULL;

  call.method = find_method (
      g_dbus_method_invocation_get_interface_name (invocation),
      g_dbus_method_invocation_get_method_name (invocation));
  call.params = g_variant_ref (g_dbus_method_invocation_get_parameters (
      invocation));
  /* The one place where access is decided, before any work is done. */
  if (st_call_authorize (&call, &error))
    reply = call.method->handler (&call, call.params, &error);
  g_variant_unref (call.params);
  if (call.store != NULL)
    st_engine_release_store (call.service->engine, call.store);

  if (reply != NULL)
    g_dbus_method_invocation_return_value (invocation, reply);
  else
    {
      if (error == NULL)
        g_set_error (&error, ST_ERROR, ST_ERROR_FAILED, "internal error");
      if (error->domain != ST_ERROR)
        {
          /* Keep the message, but give clients one error domain. */
          g_autoptr (GError) wrapped = g_error_new_literal (
              ST_ERROR, ST_ERROR_FAILED, error->message);
          g_clear_error (&error);
          error = g_steal_pointer (&wrapped);
        }
      if (error->code == ST_ERROR_UNAVAILABLE || error->code == ST_ERROR_FAILED)
        g_warning ("%s.%s: %s",
                   g_dbus_method_invocation_get_interface_name (invocation),
                   g_dbus_method_invocation_get_method_name (invocation),
                   error->message);
      g_dbus_method_invocation_return_gerror (invocation, error);
    }
  g_object_unref (invocation);
}

void
st_service_method_call (GDBusConnection *connection, const char *sender,
                        const char *object_path, const char *interface_name,
                        const char *method_name, GVariant *parameters,
                        GDBusMethodInvocation *invocation, gpointer user_data)
{
  StService *service = user_data;

  (void) connection, (void) sender, (void) object_path;
  (void) interface_name, (void) method_name, (void) parameters;
  /* The main loop only hands the call over; a worker answers it. */
  g_thread_pool_push (service->workers, g_object_ref (invocation), NULL);
}

static const GDBusInterfaceVTable st_vtable = { st_service_method_call, NULL,
                                                NULL, { 0 } };

StService *
st_service_new (StEngine *engine)
{
  StService *service = g_new0 (StService, 1);

  service->engine = engine;
  service->callers = st_callers_new ();
  st_engine_set_alert_sink (engine, emit_alert_raised, service);
  service->workers = g_thread_pool_new (
      run_call, service, (int) MAX (st_engine_get_config (engine)->workers, 1),
      FALSE, NULL);
  return service;
}

void
st_service_free (StService *service)
{
  if (service == NULL)
    return;
  /* Let the calls already accepted finish before the engine goes away. */
  g_thread_pool_free (service->workers, FALSE, TRUE);
  st_engine_set_alert_sink (service->engine, NULL, NULL);
  st_service_runs_unregister (service);
  if (service->connection != NULL)
    {
      st_callers_unwatch (service->callers, service->connection);
      for (guint i = 0; i < G_N_ELEMENTS (service->registrations); i++)
        if (service->registrations[i] != 0)
          g_dbus_connection_unregister_object (service->connection,
                                               service->registrations[i]);
      g_object_unref (service->connection);
    }
  st_callers_free (service->callers);
  g_free (service);
}

gboolean
st_service_register (StService *service, GDBusConnection *connection,
                     GError **error)
{
  GDBusInterfaceInfo *interfaces[] = { st_dbus_manager_interface_info (),
                                       st_dbus_customers_interface_info (),
                                       st_dbus_alerts_interface_info (),
                                       st_dbus_scripts_interface_info (),
                                       st_dbus_campaigns_interface_info (),
                                       st_dbus_messages_interface_info (),
                                       st_dbus_import_interface_info (),
                                       st_dbus_reports_interface_info () };

  /* Make sure the error domain is registered before the first reply. */
  (void) ST_ERROR;
  g_assert (G_N_ELEMENTS (interfaces) <= G_N_ELEMENTS (service->registrations));
  service->connection = g_object_ref (connection);
  st_callers_watch (service->callers, connection);
  for (guint i = 0; i < G_N_ELEMENTS (interfaces); i++)
    {
      service->registrations[i] = g_dbus_connection_register_object (
          connection, ST_OBJECT_PATH, interfaces[i], &st_vtable, service, NULL,
          error);
      if (service->registrations[i] == 0)
        return FALSE;
    }
  return st_service_runs_register (service, error);
}

void
st_service_set_campaigns (StService *service, StCampaigns *campaigns)
{
  service->campaigns = campaigns;
}
