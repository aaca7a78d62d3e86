#pragma once

#include <glib.h>

#include "st-store.h"

G_BEGIN_DECLS

/* How the write path tells the care engine that something happened, inside
 * the transaction that recorded it: the engine inserts one job per script
 * whose `on` matches, so the job commits with the fact or not at all. The
 * store layer only calls this; it knows nothing of scripts. */
typedef struct {
  /* @trigger: the event kind or "stage:<stage>"; @source: "event" or
   * "stage"; @source_id: the event's or the stage-history row's id. */
  gboolean (*fire) (gpointer data, StStore *store, gint64 customer_id,
                    const char *trigger, const char *source,
                    gint64 source_id, GError **error);
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

G_END_DECLS
