/* Steward channel plugin ABI — the only C interface third parties see.
 *
 * A channel plugin delivers outgoing messages (e-mail, SMS, webhook, a log
 * file…). It is a shared module that exports one symbol,
 * `steward_channel_plugin`, a StChannelPlugin describing it:
 *
 *   #include <steward/channel.h>
 *
 *   static gpointer my_open (GHashTable *settings, GError **error);
 *   static StDeliveryResult my_deliver (gpointer instance,
 *                                       const StChannelMessage *message,
 *                                       char **detail);
 *   static void my_close (gpointer instance);
 *
 *   ST_CHANNEL_PLUGIN_EXPORT const StChannelPlugin steward_channel_plugin = {
 *     .abi_version = ST_CHANNEL_ABI_VERSION,
 *     .flags = ST_CHANNEL_PLUGIN_THREAD_SAFE,
 *     .name = "my",
 *     .open = my_open,
 *     .deliver = my_deliver,
 *     .close = my_close,
 *   };
 *
 * Build it against this header and GLib only (it needs nothing of the
 * daemon), as lib<name>.so, and install it into the daemon's plugin folder
 * (`plugin_dir` in steward.yaml). A channel in the configuration names the
 * plugin and gives it settings:
 *
 *   channels:
 *     email: { plugin: my, host: smtp.example.com }
 *
 * Life cycle: the daemon loads the module once, checks abi_version, calls
 * open() once per configured channel that uses the plugin (so one plugin may
 * serve several channels with different settings), calls deliver() for each
 * message of that channel, and close() on each instance before unloading.
 *
 * Delivery is at least once: the daemon records the outcome only after
 * deliver() returns, in the transaction that holds the message, so a crash
 * in between delivers the same message again. message->key is stable across
 * such repeats (and retries); a plugin whose receiver supports idempotency
 * keys should pass "<customer_id>:<key>" (or message->id) along.
 *
 * Threads: deliver() runs on the daemon's delivery threads. A plugin that
 * sets ST_CHANNEL_PLUGIN_THREAD_SAFE may be called on one instance from
 * several threads at once; without the flag the daemon serialises the calls
 * on each instance (instances of the same plugin still run in parallel, so
 * state shared between instances needs its own lock). open() and close()
 * are never called concurrently with deliver() on the same instance.
 *
 * Memory: strings the plugin returns (*detail) are allocated with g_malloc()
 * (g_strdup(), g_strdup_printf()…) and freed by the daemon with g_free().
 * The message and its strings belong to the daemon and are valid only during
 * the call.
 *
 * Compatibility: ST_CHANNEL_ABI_VERSION changes whenever this header changes
 * in a way that breaks built plugins; the daemon refuses a plugin built for
 * another version, naming both. Fields are only ever added at the end of
 * StChannelMessage within one version, and StChannelPlugin keeps reserved
 * slots that must be left zero.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The version of this interface; a plugin stores it in abi_version. */
#define ST_CHANNEL_ABI_VERSION 1

/* The name of the symbol the daemon looks up. */
#define ST_CHANNEL_PLUGIN_SYMBOL "steward_channel_plugin"

/* Marks the plugin symbol as exported even when the module is built with
 * hidden visibility. */
#if defined(__GNUC__) || defined(__clang__)
#define ST_CHANNEL_PLUGIN_EXPORT __attribute__ ((visibility ("default")))
#else
#define ST_CHANNEL_PLUGIN_EXPORT
#endif

/* One message to deliver. Every string is UTF-8; those marked "may be
 * NULL" are NULL when the script did not give them. */
typedef struct {
  gint64 id;                 /* the message's id in the outbox */
  gint64 customer_id;
  const char *key;           /* unique per customer, stable across retries */
  const char *channel;       /* the channel name, e.g. "email" */
  const char *script;        /* the script that sent it; may be NULL */
  const char *template_name; /* may be NULL */
  const char *locale;        /* may be NULL */
  const char *recipient;     /* may be NULL: the plugin picks one from the
                              * customer (e.g. its email or phone) */
  const char *subject;       /* may be NULL */
  const char *body;          /* never NULL; may be empty */
  const char *data_json;     /* the script's data: a JSON object, never NULL */
  guint attempt;             /* 1 for the first try, 2 for the first retry… */
  /* The customer's record as a JSON object: "id", "name", "email",
   * "phone", "locale", "tz" (null when unknown). Never NULL. */
  const char *customer_json;
  /* An HTML rendering of the body (from a <template>.<locale>.html file
   * beside the text one), or NULL when there is none. */
  const char *html;
} StChannelMessage;

/* What deliver() reports. */
typedef enum {
  ST_DELIVERY_SENT = 0,   /* handed over: done */
  ST_DELIVERY_RETRY = 1,  /* a temporary failure: try again later (with
                           * backoff, up to the configured attempts) */
  ST_DELIVERY_FAILED = 2, /* a permanent failure: never retried; the
                           * message is dead and an alert is raised */
} StDeliveryResult;

/* Flags of StChannelPlugin. */
typedef enum {
  ST_CHANNEL_PLUGIN_NONE = 0,
  /* deliver() may run on one instance from several threads at once. */
  ST_CHANNEL_PLUGIN_THREAD_SAFE = 1 << 0,
} StChannelPluginFlags;

typedef struct {
  /* ST_CHANNEL_ABI_VERSION when the plugin was built; checked before any
   * other field is read. */
  guint32 abi_version;
  guint32 flags; /* StChannelPluginFlags */
  /* The plugin's name, as configured ("log", "email"); for messages. */
  const char *name;

  /* Start an instance for one channel. @settings maps each key of the
   * channel's entry in the configuration to its text value, except
   * `plugin` and the daemon's delivery policy (max_attempts, backoff,
   * max_backoff, rate_limit), which never reach a plugin; it belongs to
   * the daemon and lives until close(), so the instance may keep pointers
   * into it. Return the instance (any non-NULL pointer), or NULL with
   * @error set when the settings are wrong or a resource cannot be had;
   * the message should name the setting and say what to do. */
  gpointer (*open) (GHashTable *settings, GError **error);

  /* Deliver one message. On anything but SENT, set *detail to a short
   * human explanation (recorded as the message's last error and shown in
   * alerts); on SENT, *detail may describe the hand-over (e.g. a provider's
   * id) or stay NULL. Must not block forever: use timeouts. */
  StDeliveryResult (*deliver) (gpointer instance,
                               const StChannelMessage *message,
                               char **detail);

  /* Free an instance. May be NULL when there is nothing to free. */
  void (*close) (gpointer instance);

  /* For later versions; leave zero. */
  gpointer reserved[8];
} StChannelPlugin;

G_END_DECLS
