/* The delivery workers: threads that deliver what is due, one message at
 * a time (st_outbox_deliver_next, st-outbox.c), woken by NOTIFY
 * steward_outbox (st-waker.c); and the StDelivery they share. */

#include "st-outbox-private.h"

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
                                           NULL, error))
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

static gpointer
worker_main (gpointer data)
{
  StDelivery *d = data;
  g_autoptr (StStore) store = NULL;
  gboolean failing = FALSE;

  while (!st_waker_stopping (d->waker))
    {
      g_autoptr (GError) error = NULL;
      guint64 seen = st_waker_seq (d->waker);
      StClaimResult result = ST_CLAIM_ERROR;
      gint64 ms = ST_FALLBACK_POLL_MS;

      if (store == NULL)
        store = st_store_new (d->conninfo, &error);
      /* After a message, again at once only when another is due (ms 0);
       * else wait, for a notification or until the next one is due. */
      if (store != NULL)
        while ((result = st_outbox_deliver_next (d, store, &ms, &error))
                   == ST_CLAIM_HANDLED
               && ms == 0 && !st_waker_stopping (d->waker))
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
        }
      if (result != ST_CLAIM_HANDLED || ms > 0)
        st_waker_wait (d->waker, seen, ms);
    }
  return NULL;
}

void
st_delivery_start (StDelivery *delivery)
{
  g_autoptr (GError) error = NULL;

  g_return_if_fail (delivery != NULL && delivery->threads == NULL);

  delivery->waker = st_waker_new (delivery->conninfo, ST_OUTBOX_CHANNEL,
                                  "stewardd-outbox", &error);
  if (delivery->waker == NULL)
    {
      g_warning ("delivery: %s", error->message);
      return;
    }
  delivery->threads = g_ptr_array_new ();
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
  st_waker_stop (d->waker);
  for (guint i = 0; i < d->threads->len; i++)
    g_thread_join (g_ptr_array_index (d->threads, i));
  g_clear_pointer (&d->threads, g_ptr_array_unref);
  g_clear_pointer (&d->waker, st_waker_free);
}

void
st_delivery_free (StDelivery *delivery)
{
  if (delivery == NULL)
    return;
  st_delivery_stop (delivery);
  /* Instances before the modules that hold their code. */
  g_clear_pointer (&delivery->routes, g_hash_table_unref);
  g_clear_pointer (&delivery->plugins, st_plugins_free);
  g_clear_pointer (&delivery->once_store, st_store_free);
  g_clear_pointer (&delivery->caps, g_ptr_array_unref);
  g_clear_pointer (&delivery->default_tz, g_time_zone_unref);
  g_strfreev (delivery->quiet_channels);
  g_mutex_clear (&delivery->lock);
  g_free (delivery->conninfo);
  g_free (delivery);
}

static void
st_route_free (StRoute *route)
{
  st_channel_close (route->channel);
  st_rate_free (route->rate);
  g_free (route->rate_text);
  g_free (route);
}

/* The channel's plugin instance, policy and rate limit. */
static StRoute *
st_route_new (StPlugins *plugins, const StConfig *config,
              const StChannelConfig *entry, GError **error)
{
  StRoute *route;
  StChannel *channel = st_channel_open (plugins, entry, error);

  if (channel == NULL)
    return NULL;
  route = g_new0 (StRoute, 1);
  route->channel = channel;
  st_config_channel_policy (config, entry, &route->policy);
  if (route->policy.rate_limit > 0)
    {
      route->rate = st_rate_new (route->policy.rate_limit);
      route->rate_text = entry->rate_limit_text != NULL
                             ? g_strdup (entry->rate_limit_text)
                             : g_strdup_printf ("%g/s",
                                                route->policy.rate_limit);
    }
  return route;
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

  g_return_val_if_fail (config != NULL, NULL);

  g_mutex_init (&d->lock);
  d->conninfo = g_strdup (conninfo);
  d->sink = alert_sink;
  d->sink_data = sink_data;
  d->workers = MAX (config->delivery_workers, 1);
  d->quiet_hours = config->quiet_hours;
  d->quiet_start = config->quiet_start;
  d->quiet_end = config->quiet_end;
  d->quiet_channels = g_strdupv (config->quiet_channels);
  d->default_tz = g_time_zone_new_identifier (
      config->default_tz != NULL ? config->default_tz : "UTC");
  if (d->default_tz == NULL)
    d->default_tz = g_time_zone_new_utc ();
  d->caps = copy_caps (config->caps);
  d->routes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                     (GDestroyNotify) st_route_free);
  d->plugins = st_plugins_new (config->plugin_dir != NULL
                                   ? config->plugin_dir
                                   : st_plugins_default_dir ());
  for (guint i = 0; i < config->channels->len; i++)
    {
      const StChannelConfig *entry = g_ptr_array_index (config->channels, i);
      StRoute *route = st_route_new (d->plugins, config, entry, error);

      if (route == NULL)
        {
          st_config_prefix_channel_error (config, entry, error);
          return NULL;
        }
      g_hash_table_replace (d->routes, g_strdup (entry->name), route);
    }
  return g_steal_pointer (&d);
}
