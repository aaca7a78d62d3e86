#pragma once

#include <glib.h>

#include "st-config.h"
#include "st-lua.h"
#include "st-store.h"

G_BEGIN_DECLS

/* The engine: the configuration in force and a pool of database
 * connections, one per worker. Everything else is in PostgreSQL. */
typedef struct _StEngine StEngine;

/* Takes @config. Connects once and applies the schema migrations; fails with
 * ST_ERROR_UNAVAILABLE when the database cannot be reached and
 * ST_ERROR_SCHEMA_TOO_NEW when the database is newer than this binary. The
 * database is config->database, else $STEWARD_DATABASE, else libpq's PG*
 * variables. */
StEngine *st_engine_new (StConfig *config, GError **error);
void st_engine_free (StEngine *engine);

/* The configuration in force. A reload swaps it; the old one stays valid
 * until the engine is freed, so a call in flight keeps a consistent view. */
const StConfig *st_engine_get_config (StEngine *engine);

/* Re-read the configuration file. A bad file is refused and the running
 * configuration kept. Database, bus and workers apply at the next start. */
gboolean st_engine_reload (StEngine *engine, GError **error);

/* Re-read the script folders of the configuration in force. */
void st_engine_reload_scripts (StEngine *engine);

/* Borrow a connection (waiting when all are busy) and give it back. */
StStore *st_engine_acquire_store (StEngine *engine, GError **error);
void st_engine_release_store (StEngine *engine, StStore *store);

/* A new connection of the engine's own (for worker threads), with the
 * care triggers set. */
StStore *st_engine_new_store (StEngine *engine, GError **error);

/* The scripts in force (a new reference), reloaded with the config. */
StScriptSet *st_engine_get_scripts (StEngine *engine);
StLuaLimits st_engine_lua_limits (StEngine *engine);

/* Alerts raised by the engine's workers, announced after their commit (the
 * D-Bus service turns them into AlertRaised signals). */
typedef void (*StEngineAlertFunc) (GVariant *alert, gpointer user_data);
void st_engine_set_alert_sink (StEngine *engine, StEngineAlertFunc func,
                               gpointer user_data);
void st_engine_alert_raised (StEngine *engine, GVariant *alert);

const char *st_engine_conninfo (StEngine *engine);
int st_engine_schema_version (StEngine *engine);
GDateTime *st_engine_started_at (StEngine *engine);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StEngine, st_engine_free)

G_END_DECLS
