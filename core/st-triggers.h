#pragma once

#include <glib.h>

#include "st-store.h"

G_BEGIN_DECLS

/* How the write path tells the care engine that something happened, inside
 * the transaction that recorded it: the engine inserts one job per script
 * whose `on` matches, so the job commits with the fact or not at all. The
 * store layer only calls this; it knows nothing of scripts. */
/* The NOTIFY channel that wakes the care workers when jobs are queued. */
#define ST_CARE_CHANNEL "steward_care"

typedef struct {
  /* @trigger: the event kind or "stage:<stage>"; @source: "event" or
   * "stage"; @source_id: the event's or the stage-history row's id. */
  gboolean (*fire) (gpointer data, StStore *store, gint64 customer_id,
                    const char *trigger, const char *source,
                    gint64 source_id, GError **error);
  /* The jobs an event of kind @trigger makes, for a write path that
   * inserts them in its own statement (st-events.c, st-import-store.c): a
   * JSON array of {"name": script, "delay": seconds, "recent": seconds},
   * or NULL when no script is on it. "recent" (care.recent; absent for
   * "stage:" triggers) is the window: an event that occurred before
   * now - recent queues no job. Freed with g_free(). */
  char *(*plan) (gpointer data, const char *trigger);
  gpointer data;
} StTriggers;

static inline gboolean
st_triggers_fire (const StTriggers *triggers, StStore *store,
                  gint64 customer_id, const char *trigger, const char *source,
                  gint64 source_id, GError **error)
{
  if (triggers == NULL || triggers->fire == NULL)
    return TRUE;
  return triggers->fire (triggers->data, store, customer_id, trigger, source,
                         source_id, error);
}

static inline char *
st_triggers_plan (const StTriggers *triggers, const char *trigger)
{
  if (triggers == NULL || triggers->plan == NULL)
    return NULL;
  return triggers->plan (triggers->data, trigger);
}

G_END_DECLS
