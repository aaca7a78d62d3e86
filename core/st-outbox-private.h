#pragma once

/* Private to the outbox (st-outbox.c: enqueueing, and what becomes of each
 * due message) and its delivery workers (st-delivery.c: the threads, their
 * waking, the StDelivery's life). */

#include <glib.h>

#include "st-outbox.h"
#include "st-plugins.h"
#include "st-rate.h"
#include "st-waker.h"

G_BEGIN_DECLS

#define ST_OUTBOX_CHANNEL "steward_outbox"
/* Idle workers look for due messages at least this often, notification or
 * not (a lost LISTEN connection, a retry coming due). */
#define ST_FALLBACK_POLL_MS 1000

/* One configured channel as delivery sees it: the plugin instance, the
 * channel's policy, and its rate limit in this daemon. */
typedef struct {
  StChannel *channel;
  StDeliveryPolicy policy;
  StRate *rate;          /* NULL: no rate limit */
  char *rate_text;       /* the rate as written, for held_reason */
} StRoute;

struct _StDelivery {
  char *conninfo;
  StAlertSink sink;
  gpointer sink_data;

  /* Copied from the configuration; read-only once built. */
  guint workers;
  gboolean quiet_hours;
  guint quiet_start, quiet_end;
  GStrv quiet_channels;
  GTimeZone *default_tz;
  GPtrArray *caps;      /* of StCapConfig* */
  StPlugins *plugins;
  GHashTable *routes; /* channel name ("*" included) → StRoute* */

  StStore *once_store; /* st_delivery_run_once's, in its caller's thread */

  StWaker *waker;     /* while started: NOTIFY → worker wake-ups */
  GPtrArray *threads; /* the workers, while started */

  GMutex lock; /* guards what follows */
  gint64 clock_usec;
};

typedef enum {
  ST_CLAIM_NONE,
  ST_CLAIM_HANDLED,
  ST_CLAIM_ERROR,
} StClaimResult;

/* Claim the oldest due message and, in its transaction, decide (quiet
 * hours, caps, rate limit) and deliver it and record the outcome; the
 * alerts raised go to the sink after the commit. When none is due
 * (ST_CLAIM_NONE), *@idle_ms (may be NULL) is how long an idle worker may
 * sleep: until the next message comes due, but no longer than the fallback
 * poll. After a message (ST_CLAIM_HANDLED) it is 0 when another may be
 * due now (ask again at once), else the same as for none. */
StClaimResult st_outbox_deliver_next (StDelivery *d, StStore *store,
                                      gint64 *idle_ms, GError **error);

G_END_DECLS
