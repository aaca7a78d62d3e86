#pragma once

/* Private to the D-Bus service: st-service.c (the object, the dispatch of
 * calls to worker threads, Manager, Customers, Alerts, Scripts),
 * st-service-campaigns.c (Campaigns), st-service-runs.c (the run objects
 * and their signals),
 * st-service-messages.c (Messages), st-service-import.c (Import) and
 * st-service-reports.c (Reports). */

#include "st-campaigns.h"
#include "st-service.h"

G_BEGIN_DECLS

typedef struct _StRunWatch StRunWatch;

struct _StService {
  StEngine *engine;
  StCampaigns *campaigns; /* for Status; may be NULL */
  GThreadPool *workers;
  GDBusConnection *connection;
  guint registrations[8];
  guint runs_subtree;
  StRunWatch *watch;
};

/* One method call on its way through a worker thread. */
typedef struct {
  StService *service;
  GDBusMethodInvocation *invocation;
  StStore *store; /* borrowed on first use */
} StCall;

typedef GVariant *(*StHandler) (StCall *call, GVariant *params,
                                GError **error);

/* The call's connection, borrowed from the engine at first use. */
StStore *st_call_store (StCall *call, GError **error);
/* The caller's Unix user name, as the bus daemon vouches for it. */
char *st_call_actor (StCall *call);
/* A list as the reply tuple "(aa{sv})" (taking @list), or NULL. */
GVariant *st_reply_list (GVariant *list);

/* Hands a method call to the worker threads: the vtable's method_call,
 * for the run objects too. */
void st_service_method_call (GDBusConnection *connection, const char *sender,
                             const char *object_path,
                             const char *interface_name,
                             const char *method_name, GVariant *parameters,
                             GDBusMethodInvocation *invocation,
                             gpointer user_data);

/* st-service-messages.c */

GVariant *st_service_message_list (StCall *call, GVariant *params,
                                   GError **error);
GVariant *st_service_message_get (StCall *call, GVariant *params,
                                  GError **error);
GVariant *st_service_message_retry (StCall *call, GVariant *params,
                                    GError **error);

/* st-service-reports.c: Reports.Backtest, Funnel, Health and Nps */

GVariant *st_service_report_backtest (StCall *call, GVariant *params,
                                      GError **error);
GVariant *st_service_report_funnel (StCall *call, GVariant *params,
                                    GError **error);
GVariant *st_service_report_health (StCall *call, GVariant *params,
                                    GError **error);
GVariant *st_service_report_nps (StCall *call, GVariant *params,
                                 GError **error);

/* st-service-import.c: Import.Customers and Import.Events */

GVariant *st_service_import_customers (StCall *call, GVariant *params,
                                       GError **error);
GVariant *st_service_import_events (StCall *call, GVariant *params,
                                    GError **error);

/* st-service-campaigns.c */

GVariant *st_service_campaign_list (StCall *call, GVariant *params,
                                    GError **error);
GVariant *st_service_campaign_run (StCall *call, GVariant *params,
                                   GError **error);
GVariant *st_service_campaign_runs (StCall *call, GVariant *params,
                                    GError **error);

/* st-service-runs.c */

#define ST_RUNS_PATH ST_OBJECT_PATH "/runs"

/* org.freedesktop.DBus.Properties.Get and GetAll of a run object. */
GVariant *st_service_run_get (StCall *call, GVariant *params,
                              GError **error);
GVariant *st_service_run_get_all (StCall *call, GVariant *params,
                                  GError **error);

/* The object path of run @id. */
char *st_run_path (gint64 id);
/* Have the watcher look now: a run was just asked for here. */
void st_run_watch_poke (StRunWatch *watch);

/* Export the run objects (a subtree) and start the thread that turns the
 * runs' progress into signals; undo both. */
gboolean st_service_runs_register (StService *service, GError **error);
void st_service_runs_unregister (StService *service);

G_END_DECLS
