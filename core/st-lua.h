#pragma once

#include <glib.h>

#include "st-config.h"

G_BEGIN_DECLS

/* Lua care scripts: loading, the sandbox and the limits. The Lua layer
 * knows nothing of PostgreSQL: what a script does goes through the host
 * callbacks below, which the care engine implements (buffering actions and
 * committing them with the job). */

/* Limits for one call into a script. */
typedef struct {
  guint64 instructions; /* VM instructions per call (0: the default, 10M) */
  guint timeout_ms;     /* wall clock per call, C calls included (0: 2000) */
  gsize memory;         /* bytes per Lua state (0: the default, 32 MiB) */
} StLuaLimits;

/* A script file as loaded: immutable once loaded, shared by all workers. */
typedef struct {
  char *name;          /* unique; [a-z0-9_-]{1,64} */
  char *description;   /* may be NULL */
  char *path;          /* absolute path of the file */
  char *source;        /* the file's text, compiled anew in each worker */
  GStrv on;            /* triggers: event kinds and "stage:<stage>" */
  gint64 delay;        /* seconds from the trigger to the run; 0: at once */
  /* Campaign fields (scheduled scripts), checked at load: the schedule
   * parses (st-cron.h), the audience compiles (st-audience.h). */
  char *schedule;      /* cron text, or NULL */
  char *audience_json; /* the audience table as JSON, or NULL */
  gboolean local_time;
  /* NULL when usable; else why not, as "PATH:LINE: message" or
   * "PATH: field: message". A broken script is listed and skipped. */
  char *error;
} StScript;

void st_script_free (StScript *script);

/* Load and check one file in a throwaway sandboxed state. Returns the
 * script even when it is broken (error set) unless the file cannot be
 * read; @error is set only then. */
StScript *st_script_load_file (const char *path, const StLuaLimits *limits,
                               GError **error);

/* Break @script, freshly loaded and not yet shared (its error set), when
 * its `on` or its audience names a stage that @config's lifecycle does not
 * have: the file alone cannot tell, the daemon that loads it can. Does
 * nothing to a script already broken. */
void st_script_check_stages (StScript *script, const StConfig *config);

/* The scripts of some folders (every *.lua file directly inside; files in
 * sub-folders are modules for require()). Names must be unique: a second
 * script of the same name is listed as broken. Immutable; reference
 * counted so a reload can swap it while calls still hold the old one. */
typedef struct _StScriptSet StScriptSet;

StScriptSet *st_script_set_load (const char *const *folders,
                                 const StLuaLimits *limits);
StScriptSet *st_script_set_ref (StScriptSet *set);
void st_script_set_unref (StScriptSet *set);
/* All scripts, broken ones included, sorted by name (of StScript*). */
GPtrArray *st_script_set_list (StScriptSet *set);
const StScript *st_script_set_find (StScriptSet *set, const char *name);
/* The usable scripts whose `on` holds @trigger, sorted by name. */
GPtrArray *st_script_set_for_trigger (StScriptSet *set, const char *trigger);
/* The folders it was loaded from (for require and templates). */
const char *const *st_script_set_folders (StScriptSet *set);

/* What the `steward` module does, provided by the caller of st_lua_run. */
typedef struct {
  /* An action: "send", "alert", "set_stage", "tag", "untag", "follow_up",
   * "set_health", with its arguments already checked and converted to
   * a{sv} (see docs/lua.md for each one's keys; customer is always
   * customer_id (x)). @args is not floating and is released when the
   * steward function returns: take a reference to keep it. Returning FALSE
   * fails the call with @error. The callbacks run on the thread of
   * st_lua_run, inside a critical section: the time limit never interrupts
   * them (the call is stopped after they return), and they must not call
   * st_lua_run themselves. */
  gboolean (*action) (gpointer data, const char *name, GVariant *args,
                      GError **error);
  /* steward.customer(id): the record (a{sv}, a new or floating reference,
   * which the caller takes), or NULL with no error when there is no such
   * customer. */
  GVariant *(*customer) (gpointer data, gint64 id, GError **error);
  /* steward.events(id, {kind=, since=, limit=}): aa{sv}, newest first
   * (new or floating reference). @filter is always an a{sv}, empty when
   * the script gave none: kind (s), since (x, epoch seconds), limit (x). */
  GVariant *(*events) (gpointer data, gint64 id, GVariant *filter,
                       GError **error);
  /* steward.now(): seconds since the epoch (a cut-off in backtests). */
  double (*now) (gpointer data);
  /* steward.log(level, message); level is debug, info, warning or error. */
  void (*log) (gpointer data, const char *level, const char *message);
} StLuaHost;

/* One Lua state with the sandbox, for one thread at a time. */
typedef struct _StLua StLua;

StLua *st_lua_new (const StLuaLimits *limits);
void st_lua_free (StLua *lua);

/* Run @script's `run(customer, event)` with fresh globals: nothing a
 * previous run did is visible. @customer and @event (may be NULL) are a{sv}
 * records, seen by the script as tables. A script error or a limit
 * (instructions, time, memory) fails with ST_ERROR_FAILED and a message
 * saying which ("thank-you: instruction limit of 10000000 reached"); the
 * state stays usable. */
gboolean st_lua_run (StLua *lua, const StScript *script,
                     const char *const *module_folders, GVariant *customer,
                     GVariant *event, const StLuaHost *host,
                     gpointer host_data, GError **error);

/* A record given as typed text columns: a result row, without the cost of
 * building it as a GVariant first. @kinds are StColumnKind values
 * (st-record.h); a NULL value is left out. The script sees the table
 * st_record_from_row() would have given it. */
typedef struct {
  guint n;
  const char *const *names;
  const int *kinds;
  const char *const *values;
} StLuaRow;

/* st_lua_run() with the customer as a row, and the event too when
 * @event_row is not NULL (@event is then not read). */
gboolean st_lua_run_row (StLua *lua, const StScript *script,
                         const char *const *module_folders,
                         const StLuaRow *customer, const StLuaRow *event_row,
                         GVariant *event, const StLuaHost *host,
                         gpointer host_data, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StScript, st_script_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StScriptSet, st_script_set_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StLua, st_lua_free)

G_END_DECLS
