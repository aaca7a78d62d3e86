/* The delivery workers: threads that deliver what is due, one message at
 * a time (st_outbox_deliver_next, st-outbox.c), and a listener turning
 * NOTIFY steward_outbox into wake-ups; and the StDelivery they share. */

#include "st-outbox-private.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <glib-unix.h>

#include "st-error.h"

guint
st_delivery_run_once (StDelivery *delivery, GError **error)
{
  guint handled = 0;
  StClaimResult result;

  g_return_val_if_fail (delivery != NULL, 0);

  if (delivery->once_store == NULL)
    {
      delivery->once_store = st_store_new (delivery->conninfo, error);
      if (delivery->once_store == NULL)
        return 0;
    }
  while ((result = st_outbox_deliver_next (delivery, delivery->once_store,
                                           error))
         == ST_CLAIM_HANDLED)
    handled++;
  return handled;
}

void
st_delivery_set_clock (StDelivery *delivery, gint64 unix_usec)
{
  g_mutex_lock (&delivery->lock);
  delivery->clock_usec = unix_usec;
  g_mutex_unlock (&delivery->lock);
}

/* Threads */

static gboolean
stopping (StDelivery *d)
{
  gboolean stop;

  g_mutex_lock (&d->lock);
  stop = d->stopping;
  g_mutex_unlock (&d->lock);
  return stop;
}

static guint64
wake_seq (StDelivery *d)
{
  guint64 seq;

  g_mutex_lock (&d->lock);
  seq = d->wake_seq;
  g_mutex_unlock (&d->lock);
  return seq;
}

static void
wake_workers (StDelivery *d)
{
  g_mutex_lock (&d->lock);
  d->wake_seq++;
  g_cond_broadcast (&d->wake);
  g_mutex_unlock (&d->lock);
}

/* Sleep until woken after @seen, @ms pass, or stop. */
static void
wait_for_work (StDelivery *d, guint64 seen, gint64 ms)
{
  gint64 end = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;

  g_mutex_lock (&d->lock);
  while (!d->stopping && d->wake_seq == seen)
    if (!g_cond_wait_until (&d->wake, &d->lock, end))
      break;
  g_mutex_unlock (&d->lock);
}

static gpointer
worker_main (gpointer data)
{
  StDelivery *d = data;
  g_autoptr (StStore) store = NULL;
  gboolean failing = FALSE;

  while (!stopping (d))
    {
      g_autoptr (GError) error = NULL;
      guint64 seen = wake_seq (d);
      StClaimResult result = ST_CLAIM_ERROR;
      gint64 ms = ST_FALLBACK_POLL_MS;

      if (store == NULL)
        store = st_store_new (d->conninfo, &error);
      if (store != NULL)
        while ((result = st_outbox_deliver_next (d, store, &error))
                   == ST_CLAIM_HANDLED
               && !stopping (d))
          ;
      if (result == ST_CLAIM_ERROR && error != NULL)
        {
          /* Once per outage, not once per second. */
          if (!failing)
            g_warning ("delivery: %s", error->message);
          failing = TRUE;
        }
      else if (result == ST_CLAIM_NONE)
        {
          if (failing)
            g_message ("delivery: working again");
          failing = FALSE;
          ms = st_outbox_idle_ms (d, store);
        }
      if (result != ST_CLAIM_HANDLED)
        wait_for_work (d, seen, ms);
    }
  return NULL;
}

static PGconn *
listen_connect (StDelivery *d)
{
  const char *keys[] = { "dbname", "connect_timeout", "application_name",
                         "keepalives_idle", NULL };
  const char *values[] = { d->conninfo, "5", "stewardd-outbox", "30", NULL };
  gboolean expand = d->conninfo != NULL && d->conninfo[0] != '\0';
  PGconn *conn = PQconnectdbParams (expand ? keys : keys + 1,
                                    expand ? values : values + 1, expand);
  PGresult *res;

  if (PQstatus (conn) == CONNECTION_OK)
    {
      res = PQexec (conn, "LISTEN " ST_OUTBOX_CHANNEL);
      if (PQresultStatus (res) == PGRES_COMMAND_OK)
        {
          PQclear (res);
          return conn;
        }
      PQclear (res);
    }
  PQfinish (conn);
  return NULL;
}

/* Turns NOTIFY steward_outbox into a wake-up of the workers. Without a
 * connection the workers still poll every second. */
static gpointer
listener_main (gpointer data)
{
  StDelivery *d = data;
  PGconn *conn = NULL;

  while (!stopping (d))
    {
      struct pollfd fds[2] = { { .fd = d->stop_pipe[0], .events = POLLIN },
                               { .fd = -1, .events = POLLIN } };
      gboolean notified = FALSE;
      PGnotify *notify;

      if (conn == NULL && (conn = listen_connect (d)) != NULL)
        wake_workers (d); /* what was notified while away */
      if (conn != NULL)
        fds[1].fd = PQsocket (conn);
      if (poll (fds, 2, conn != NULL ? 10000 : ST_FALLBACK_POLL_MS) < 0
          && errno != EINTR)
        g_usleep (G_USEC_PER_SEC / 10);
      if (fds[0].revents != 0 || conn == NULL || fds[1].revents == 0)
        continue;
      if (!PQconsumeInput (conn) || PQstatus (conn) != CONNECTION_OK)
        {
          g_debug ("delivery: the LISTEN connection was lost: %s",
                   PQerrorMessage (conn));
          g_clear_pointer (&conn, PQfinish);
          continue;
        }
      while ((notify = PQnotifies (conn)) != NULL)
        {
          notified = TRUE;
          PQfreemem (notify);
        }
      if (notified)
        wake_workers (d);
    }
  g_clear_pointer (&conn, PQfinish);
  return NULL;
}

void
st_delivery_start (StDelivery *delivery)
{
  g_return_if_fail (delivery != NULL && delivery->threads == NULL);

  delivery->threads = g_ptr_array_new ();
  g_ptr_array_add (delivery->threads,
                   g_thread_new ("st-outbox-listen", listener_main, delivery));
  for (guint i = 0; i < delivery->workers; i++)
    {
      g_autofree char *name = g_strdup_printf ("st-deliver-%u", i);
      g_ptr_array_add (delivery->threads,
                       g_thread_new (name, worker_main, delivery));
    }
}

static void
st_delivery_stop (StDelivery *d)
{
  if (d->threads == NULL)
    return;
  g_mutex_lock (&d->lock);
  d->stopping = TRUE;
  g_cond_broadcast (&d->wake);
  g_mutex_unlock (&d->lock);
  if (write (d->stop_pipe[1], "x", 1) < 0)
    g_debug ("delivery: cannot wake the listener: %s", g_strerror (errno));
  for (guint i = 0; i < d->threads->len; i++)
    g_thread_join (g_ptr_array_index (d->threads, i));
  g_clear_pointer (&d->threads, g_ptr_array_unref);
}

void
st_delivery_free (StDelivery *delivery)
{
  if (delivery == NULL)
    return;
  st_delivery_stop (delivery);
  /* Instances before the modules that hold their code. */
  g_clear_pointer (&delivery->channels, g_hash_table_unref);
  g_clear_pointer (&delivery->plugins, st_plugins_free);
  g_clear_pointer (&delivery->once_store, st_store_free);
  g_clear_pointer (&delivery->caps, g_ptr_array_unref);
  g_clear_pointer (&delivery->default_tz, g_time_zone_unref);
  g_strfreev (delivery->quiet_channels);
  for (guint i = 0; i < 2; i++)
    if (delivery->stop_pipe[i] >= 0)
      close (delivery->stop_pipe[i]);
  g_mutex_clear (&delivery->lock);
  g_cond_clear (&delivery->wake);
  g_free (delivery->conninfo);
  g_free (delivery);
}

static GPtrArray *
copy_caps (GPtrArray *caps)
{
  GPtrArray *copy =
      g_ptr_array_new_with_free_func ((GDestroyNotify) st_cap_config_free);

  for (guint i = 0; i < caps->len; i++)
    {
      const StCapConfig *cap = g_ptr_array_index (caps, i);
      StCapConfig *dup = g_new0 (StCapConfig, 1);

      *dup = *cap;
      dup->channel = g_strdup (cap->channel);
      dup->per = cap->per != NULL
                     ? g_strdup (cap->per)
                     : st_config_format_duration ((guint64) cap->per_seconds
                                                  * 1000);
      g_ptr_array_add (copy, dup);
    }
  return copy;
}

StDelivery *
st_delivery_new (const char *conninfo, const StConfig *config,
                 StAlertSink alert_sink, gpointer sink_data, GError **error)
{
  g_autoptr (StDelivery) d = g_new0 (StDelivery, 1);
  g_autoptr (GError) local = NULL;

  g_return_val_if_fail (config != NULL, NULL);

  g_mutex_init (&d->lock);
  g_cond_init (&d->wake);
  d->stop_pipe[0] = d->stop_pipe[1] = -1;
  d->conninfo = g_strdup (conninfo);
  d->sink = alert_sink;
  d->sink_data = sink_data;
  d->workers = MAX (config->delivery_workers, 1);
  d->max_attempts = MAX (config->delivery_max_attempts, 1);
  d->backoff_ms = MAX (config->delivery_backoff_ms, 1);
  d->max_backoff_ms = MAX (config->delivery_max_backoff_ms, d->backoff_ms);
  d->quiet_hours = config->quiet_hours;
  d->quiet_start = config->quiet_start;
  d->quiet_end = config->quiet_end;
  d->quiet_channels = g_strdupv (config->quiet_channels);
  d->default_tz = g_time_zone_new_identifier (
      config->default_tz != NULL ? config->default_tz : "UTC");
  if (d->default_tz == NULL)
    d->default_tz = g_time_zone_new_utc ();
  d->caps = copy_caps (config->caps);
  d->channels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) st_channel_close);
  d->plugins = st_plugins_new (config->plugin_dir != NULL
                                   ? config->plugin_dir
                                   : st_plugins_default_dir ());
  for (guint i = 0; i < config->channels->len; i++)
    {
      const StChannelConfig *entry = g_ptr_array_index (config->channels, i);
      StChannel *channel = st_channel_open (d->plugins, entry, error);

      if (channel == NULL)
        return NULL;
      g_hash_table_replace (d->channels, g_strdup (entry->name), channel);
    }
  if (!g_unix_open_pipe (d->stop_pipe, FD_CLOEXEC, &local))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                   "cannot start the delivery: %s", local->message);
      return NULL;
    }
  return g_steal_pointer (&d);
}
