#pragma once

#include <gio/gio.h>

#include "st-campaigns.h"
#include "st-engine.h"

G_BEGIN_DECLS

#define ST_BUS_NAME "org.steward.Steward1"
#define ST_OBJECT_PATH "/org/steward/Steward1"

/* The D-Bus face of the engine. Method calls are answered by worker threads
 * (as many as the configured workers, each borrowing its own database
 * connection), so a slow call never stalls the main loop or other callers. */
typedef struct _StService StService;

StService *st_service_new (StEngine *engine);
void st_service_free (StService *service);

/* Export the object on @connection. */
gboolean st_service_register (StService *service, GDBusConnection *connection,
                              GError **error);

/* The daemon's campaign threads, for Status (whether it leads the
 * scheduler); may stay unset. */
void st_service_set_campaigns (StService *service, StCampaigns *campaigns);

/* The role method @method of @interface needs (st-service.c's table);
 * ST_ROLE_NONE for a method the table does not have, which everyone is
 * refused. */
StRole st_service_method_role (const char *interface, const char *method);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StService, st_service_free)

G_END_DECLS
