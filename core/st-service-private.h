#pragma once

/* Private to the D-Bus service: st-service.c (the object, the dispatch of
 * calls to worker threads, Manager, Customers, Alerts, Scripts),
 * st-service-campaigns.c (Campaigns), st-service-runs.c (the run objects
 * and their signals),
 * st-service-messages.c (Messages), st-service-import.c (Import),
 * st-service-reports.c (Reports) and st-service-access.c (who may call
 * what, checked before each call runs). */

#include "st-access.h"
#include "st-campaigns.h"
#include "st-service.h"

G_BEGIN_DECLS

typedef struct _StRunWatch StRunWatch;
typedef struct _StCallers StCallers;

struct _StService {
  StEngine *engine;
  StCampaigns *campaigns; /* for Status; may be NULL */
  GThreadPool *workers;
  GDBusConnection *connection;
  guint registrations[8];
  guint runs_subtree;
  StRunWatch *watch;
  StCallers *callers; /* who is behind each bus name (st-service-access.c) */
};

/* What a method reaches, for the managers restricted to the customers
 * they own (access.manager_scope: own); it does not matter to anyone
 * else. */
typedef enum {
  ST_SCOPE_NONE,     /* no customer in particular: the role suffices */
  ST_SCOPE_CUSTOMER, /* parameter 0 names a customer */
  ST_SCOPE_CREATE,   /* parameter 0 holds a new customer's fields */
  ST_SCOPE_UPDATE,   /* parameter 0 names a customer, 1 its new fields */
  ST_SCOPE_EVENTS,   /* parameter 0 lists events, each naming a customer */
  ST_SCOPE_FILTER,   /* parameter 0 filters a list: only own customers */
  ST_SCOPE_ALERT,    /* parameter 0 is an alert's id */
  ST_SCOPE_MESSAGE,  /* parameter 0 is a message's id */
  ST_SCOPE_EVERYONE, /* acts on every owner's customers: refused */
} StScope;

typedef struct _StCall StCall;
typedef GVariant *(*StHandler) (StCall *call, GVariant *params,
                                GError **error);

/* One row of the dispatch table (st-service.c): every method of every
 * interface, the role it needs and what it reaches. */
typedef struct {
  const char *interface;
  const char *method;
  StRole role;
  StScope scope;
  StHandler handler;
} StMethod;

/* One method call on its way through a worker thread. */
struct _StCall {
  StService *service;
  GDBusMethodInvocation *invocation;
  StStore *store;         /* borrowed on first use */
  const StMethod *method; /* NULL: not in the table */
  GVariant *params;       /* the parameters, as the access check left them */
};

/* The call's connection, borrowed from the engine at first use. */
StStore *st_call_store (StCall *call, GError **error);
/* The caller's Unix user name, as the bus daemon vouches for it. */
char *st_call_actor (StCall *call);
/* A list as the reply tuple "(aa{sv})" (taking @list), or NULL. */
GVariant *st_reply_list (GVariant *list);
/* A list filter as the stores want it: its "customer" (s: an id or a ref,
 * as clients name customers everywhere) replaced by "customer_id" (x).
 * INVALID_ARGUMENT when it is not a string, NOT_FOUND when no customer has
 * it. A new reference. */
GVariant *st_call_filter_by_id (StStore *store, GVariant *filter,
                                GError **error);

/* Hands a method call to the worker threads: the vtable's method_call,
 * for the run objects too. */
void st_service_method_call (GDBusConnection *connection, const char *sender,
                             const char *object_path,
                             const char *interface_name,
                             const char *method_name, GVariant *parameters,
                             GDBusMethodInvocation *invocation,
                             gpointer user_data);

/* st-service-access.c */

StCallers *st_callers_new (void);
void st_callers_free (StCallers *callers);
/* Forget the callers that leave the bus (NameOwnerChanged); undo. */
void st_callers_watch (StCallers *callers, GDBusConnection *connection);
void st_callers_unwatch (StCallers *callers, GDBusConnection *connection);

/* May the caller run call->method, on what it names? FALSE with
 * PERMISSION_DENIED (or the error of a lookup, such as NOT_FOUND) when
 * not. May replace call->params: a restricted manager's lists are
 * filtered to their own customers, and what they create is theirs. */
gboolean st_call_authorize (StCall *call, GError **error);

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
GVariant *st_service_run_cancel (StCall *call, GVariant *params,
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
