#pragma once

#include <glib.h>

#include "st-lua.h"
#include "st-store.h"

G_BEGIN_DECLS

/* The care engine: trigger jobs and the workers that run the scripts.
 *
 * Recording a fact inserts one job per matching script in the fact's own
 * transaction (st_care_enqueue). A worker claims a due job with FOR UPDATE
 * SKIP LOCKED, runs the script, and commits the script's buffered actions
 * (messages, alerts, stage moves, tags, follow-ups, health) together with
 * the job's completion. A crash before that commit leaves the job pending:
 * it is replayed, and the unique keys of messages and jobs make the replay
 * write nothing twice. */

typedef struct _StEngine StEngine;

/* Insert the jobs for @trigger inside the caller's transaction; see
 * st-triggers.h. */
gboolean st_care_enqueue (StStore *store, StScriptSet *scripts,
                          gint64 customer_id, const char *trigger,
                          const char *source, gint64 source_id,
                          GError **error);

/* The same jobs as a JSON array of {"name", "delay"} for a write path
 * that inserts them in its own statement (st-events.c, which must insert
 * them as st_care_enqueue does), or NULL when no script is on @trigger. */
char *st_care_plan (StScriptSet *scripts, const char *trigger);

typedef struct _StCare StCare;

StCare *st_care_new (StEngine *engine);
/* Start config->care_workers threads, each with its own connection and
 * Lua state. */
void st_care_start (StCare *care);
/* Stop the threads (a job in progress finishes first) and free. */
void st_care_free (StCare *care);

/* Run the jobs due now in the calling thread; returns how many ran. */
guint st_care_run_once (StCare *care, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StCare, st_care_free)

G_END_DECLS
