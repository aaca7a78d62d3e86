#pragma once

#include <glib.h>

#include "st-config.h"
#include "st-store.h"

G_BEGIN_DECLS

/* The outbox: messages are written in the transaction that decided them
 * and delivered afterwards by delivery workers through channel plugins. */

typedef struct {
  gint64 customer_id;
  const char *key;           /* unique per customer: a replay writes nothing */
  const char *channel;
  const char *script;        /* may be NULL */
  const char *template_name; /* may be NULL */
  const char *locale;        /* may be NULL */
  const char *recipient;     /* may be NULL: the channel decides */
  const char *subject;       /* may be NULL */
  const char *body;
  const char *html;          /* may be NULL: no HTML rendering */
  const char *data_json;     /* may be NULL */
  gint64 delay_seconds;      /* due this long after now */
} StOutboxMessage;

/* Insert inside the caller's transaction (and NOTIFY the delivery workers at
 * commit). When the key was used before for this customer nothing is
 * written and *created is FALSE. */
gboolean st_outbox_enqueue (StStore *store, const StOutboxMessage *message,
                            gboolean *created, GError **error);

/* Told about each alert the delivery raised (a{sv}), after its commit.
 * Called on the delivery thread that raised it (or the caller of
 * st_delivery_run_once); the variant is borrowed. */
typedef void (*StAlertSink) (GVariant *alert, gpointer user_data);

/* Delivery workers: each claims due messages with FOR UPDATE SKIP LOCKED,
 * applies quiet hours, frequency caps and the channel's rate limit, hands
 * the message to its channel's plugin and records the outcome (sent; retry
 * at a backed-off time; dead with an alert after the channel's last
 * attempt or a permanent failure; deferred or suppressed with the reason).
 * Each channel has its own policy (st_config_channel_policy); its rate
 * limit is kept in memory, shared by the workers of one StDelivery: with
 * several daemons on one database, each allows the rate. */
typedef struct _StDelivery StDelivery;

/* Loads the plugins of config->channels from config->plugin_dir (else
 * st_plugins_default_dir(); see st-plugins.h for the file names) and opens
 * one instance per channel: a missing plugin, an ABI mismatch or settings
 * a plugin refuses fail here, with a message naming the channel. The
 * delivery policies, quiet hours and caps are copied: @config may be freed
 * afterwards. No database connection is made until work starts; each
 * worker thread then has its own (st_store_new (@conninfo)) and one more
 * thread LISTENs on steward_outbox to wake them. @alert_sink may be NULL. */
StDelivery *st_delivery_new (const char *conninfo, const StConfig *config,
                             StAlertSink alert_sink, gpointer sink_data,
                             GError **error);
/* Start config->delivery_workers threads. */
void st_delivery_start (StDelivery *delivery);
/* Stop the threads (waiting for a delivery in progress) and free. */
void st_delivery_free (StDelivery *delivery);

/* Deliver what is due now in the calling thread and return how many
 * messages were handled — sent, retried, dead, deferred or suppressed —
 * (for tests and tools). On a database error it stops there, with @error
 * set. Not to be called from two threads at once. */
guint st_delivery_run_once (StDelivery *delivery, GError **error);

/* For tests: make "now" @unix_usec (microseconds since the epoch) for every
 * decision — what is due, quiet hours, caps, backoff, sent_at — instead of
 * the database's clock; 0 goes back to the database's clock. */
void st_delivery_set_clock (StDelivery *delivery, gint64 unix_usec);

/* If @now_usec falls inside the daily window [@start_minute, @end_minute)
 * (minutes after local midnight; start > end spans midnight) in @tz,
 * return when that window ends (microseconds since the epoch, computed in
 * @tz so DST changes are honoured); else 0. */
gint64 st_quiet_hours_end (guint start_minute, guint end_minute,
                           GTimeZone *tz, gint64 now_usec);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StDelivery, st_delivery_free)

G_END_DECLS
