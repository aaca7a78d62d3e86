#pragma once

#include <glib.h>

#include "st-lua.h"
#include "st-outbox.h"
#include "st-store.h"
#include "st-template.h"
#include "st-triggers.h"

G_BEGIN_DECLS

/* One run of a script for one customer: the host the `steward` module
 * talks to, the actions the script asks for (buffered while it runs), and
 * applying them in the caller's transaction. Trigger jobs (st-care.c) and
 * campaign targets (st-campaigns.c) both run scripts this way; a dry run
 * reads the buffered actions instead of applying them. */

typedef struct _StEngine StEngine;

/* An action as the script asked for it: name ("send", "alert", "set_stage",
 * "tag", "untag", "follow_up", "set_health") and checked arguments (see
 * StLuaHost.action). */
typedef struct {
  char *name;
  GVariant *args;
} StAction;

typedef struct {
  StEngine *engine;
  StStore *store;         /* reads and writes; the caller's transaction */
  StScriptSet *scripts;   /* a reference, for templates and require */
  const StScript *script; /* belongs to @scripts */
  gint64 customer_id;
  gint64 event_id;        /* 0 when the run did not come from an event */
  GVariant *customer;     /* a{sv}: what the script gets as `customer` */
  const StLuaRow *customer_row; /* or this row (the caller's, outliving
                                 * the run), made a record only when
                                 * something asks for the whole of it */
  GVariant *event;        /* a{sv}: what the script gets as `event` */
  const StLuaRow *event_row; /* the same as a row, for Lua (may be NULL;
                              * the caller's, outliving the run) */
  double now;             /* steward.now(); 0: the real clock */
  double until;           /* backtests: steward.events() sees only events
                           * before this time (epoch seconds), and
                           * steward.customer() of the run's own customer
                           * gives @customer; 0: no limit */
  StTemplateCache *templates; /* the caller's, for its runs' sends;
                               * NULL: the files are read at each send */
  GPtrArray *actions;     /* of StAction*, in the order asked */
  GPtrArray *alerts;      /* alert records raised by apply, to announce */
} StScriptRun;

/* @scripts is referenced; customer and event are left for the caller. */
void st_script_run_init (StScriptRun *run, StEngine *engine, StStore *store,
                         StScriptSet *scripts, const StScript *script,
                         gint64 customer_id);
void st_script_run_clear (StScriptRun *run);

/* The host callbacks; their data is the StScriptRun. */
extern const StLuaHost st_script_run_host;

/* Run the script's run(customer, event) on @lua, buffering its actions. */
gboolean st_script_run_call (StScriptRun *run, StLua *lua, GError **error);

/* Apply one buffered action, or all of them in order, in the store's
 * current transaction. */
gboolean st_script_run_apply_one (StScriptRun *run, const StAction *action,
                                  GError **error);
gboolean st_script_run_apply (StScriptRun *run, GError **error);

/* A send action made into the message it would enqueue (template
 * rendered, recipient chosen) without writing it: campaign batches write
 * their messages together, and dry runs only show them. @message points
 * into the strings and records the StScriptSend holds. */
typedef struct {
  StOutboxMessage message;
  char *subject, *body, *html, *locale, *data_json;
  GVariant *customer; /* the record the recipient came from (NULL: the
                       * run's customer_row) */
  GVariant *args;     /* the action's arguments (key, channel...) */
} StScriptSend;

gboolean st_script_run_render_send (StScriptRun *run, const StAction *action,
                                    StScriptSend *send, GError **error);
void st_script_send_clear (StScriptSend *send);

/* After the commit: tell the engine (and so D-Bus clients) about the
 * alerts the run raised. */
void st_script_run_announce (StScriptRun *run);

G_END_DECLS
