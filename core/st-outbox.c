/* The outbox: messages enqueued in the transaction that decided them, and
 * what becomes of each one when it comes due. The delivery workers that
 * call st_outbox_deliver_next are in st-delivery.c.
 *
 * One message is one transaction: claim the oldest due row (FOR UPDATE SKIP
 * LOCKED, so workers and daemons never take the same one), decide (quiet
 * hours, caps, the channel's rate limit), call the channel's plugin with
 * the row still locked, record the outcome (by the channel's policy),
 * commit. A crash before the commit leaves the row as it was:
 * it is delivered again with the same key (at least once to the wire). */

#include "st-outbox-private.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "st-alerts.h"
#include "st-error.h"

/* Times travel as microseconds since the epoch, converted in SQL, so no
 * time zone or format ever gets in the way. */
#define ST_TS(n) "('epoch'::timestamptz + $" #n "::bigint * interval '1 microsecond')"
#define ST_USEC(expr) "(extract(epoch FROM " expr ") * 1000000)::bigint"
#define ST_NOW(n) "COALESCE(" ST_TS (n) ", now())"

/* Messages have no foreign key (migration 8): the customer is checked and
 * locked FOR KEY SHARE here, so it cannot be deleted before the message's
 * transaction ends; a customer that is gone gets no message. */
ST_STATEMENT_DEFINE (st_sql_outbox_enqueue, 12,
  "WITH ins AS ("
  "  INSERT INTO messages (customer_id, key, channel, script, template,"
  "    locale, recipient, subject, body, data, due_at, html)"
  "  SELECT c.id, $2, $3, $4, $5, $6, $7, $8, COALESCE($9, ''),"
  "    COALESCE($10::jsonb, '{}'), now() + $11::bigint * interval '1 second',"
  "    $12"
  "  FROM customers c WHERE c.id = $1::bigint FOR KEY SHARE"
  "  ON CONFLICT (customer_id, key) DO NOTHING RETURNING id)"
  " SELECT id, pg_notify('" ST_OUTBOX_CHANNEL "', '') FROM ins");

/* $1: the test clock or NULL. The customer travels along as JSON for the
 * plugin, and its zone for quiet hours. When nothing is due, one row of
 * NULLs but the last column: the milliseconds until the next message is
 * due (NULL: none waiting), so an idle worker knows how long it may sleep
 * without asking again. Messages due now but locked are being delivered
 * (or just arrived, and notified): they are not counted. The claimed row's
 * last column says the same for after it: 0 when another message is due
 * now, so a worker asks again only then (an empty claim after each
 * message was a third of the delivery path's statements). */
#define ST_OUTBOX_NEXT_MS                                                   \
  "(SELECT " ST_USEC ("min(due_at) - " ST_NOW (1)) " / 1000 FROM messages"  \
  "  WHERE state IN ('pending', 'retry') AND due_at > " ST_NOW (1) ")"
ST_STATEMENT_DEFINE (st_sql_outbox_claim, 1,
  "WITH claimed AS ("
  "  SELECT m.customer_id, m.id, m.key, m.channel, m.script, m.template,"
  "    m.locale, m.recipient, m.subject, m.body, m.html, m.data::text,"
  "    m.attempts,"
  "    json_build_object('id', c.id, 'name', c.name, 'email', c.email,"
  "      'phone', c.phone, 'locale', c.locale, 'tz', c.tz)::text, c.tz,"
  "    " ST_USEC (ST_NOW (1))
  "   FROM messages m JOIN customers c ON c.id = m.customer_id"
  "  WHERE m.state IN ('pending', 'retry') AND m.due_at <= " ST_NOW (1)
  "  ORDER BY m.due_at LIMIT 1 FOR UPDATE OF m SKIP LOCKED)"
  " SELECT *, CASE WHEN EXISTS (SELECT 1 FROM messages o"
  "                    WHERE o.state IN ('pending', 'retry')"
  "                      AND o.due_at <= " ST_NOW (1)
  "                      AND o.id <> claimed.id)"
  "              THEN 0 ELSE " ST_OUTBOX_NEXT_MS " END"
  "  FROM claimed"
  " UNION ALL"
  " SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
  "   NULL, NULL, NULL, NULL, NULL, " ST_OUTBOX_NEXT_MS
  " WHERE NOT EXISTS (SELECT 1 FROM claimed)");

enum {
  COL_CUSTOMER, COL_ID, COL_KEY, COL_CHANNEL, COL_SCRIPT, COL_TEMPLATE,
  COL_LOCALE, COL_RECIPIENT, COL_SUBJECT, COL_BODY, COL_HTML, COL_DATA,
  COL_ATTEMPTS,
  COL_CUSTOMER_JSON, COL_TZ, COL_NOW, COL_IDLE_MS,
};

/* One delivery at a time per customer and channel while a cap is counted,
 * so two workers cannot both take the last place. */
ST_STATEMENT_DEFINE (st_sql_outbox_cap_lock, 2,
  "SELECT pg_advisory_xact_lock(hashtextextended("
  "  'steward-cap:' || $1 || '/' || $2, 0))");

/* The @max-th newest message sent within the window: the cap is reached
 * when it exists, and lifts when it leaves the window. */
ST_STATEMENT_DEFINE (st_sql_outbox_cap_count, 5,
  "SELECT " ST_USEC ("sent_at") " FROM messages"
  " WHERE customer_id = $1 AND channel = $2 AND state = 'sent'"
  "   AND sent_at > " ST_TS (3) " - $4::bigint * interval '1 second'"
  "   AND sent_at <= " ST_TS (3)
  " ORDER BY sent_at DESC OFFSET $5::bigint - 1 LIMIT 1");

ST_STATEMENT_DEFINE (st_sql_outbox_hold, 4,
  "UPDATE messages SET due_at = " ST_TS (3) ", held_reason = $4"
  " WHERE customer_id = $1 AND id = $2");

ST_STATEMENT_DEFINE (st_sql_outbox_suppress, 3,
  "UPDATE messages SET state = 'suppressed', held_reason = $3"
  " WHERE customer_id = $1 AND id = $2");

/* sent_at is when the plugin returned (the test clock if set). */
ST_STATEMENT_DEFINE (st_sql_outbox_sent, 4,
  "UPDATE messages SET state = 'sent', attempts = $3,"
  "  sent_at = COALESCE(" ST_TS (4) ", clock_timestamp())"
  " WHERE customer_id = $1 AND id = $2");

ST_STATEMENT_DEFINE (st_sql_outbox_retry, 5,
  "UPDATE messages SET state = 'retry', attempts = $3, due_at = " ST_TS (4)
  ", last_error = $5 WHERE customer_id = $1 AND id = $2");

ST_STATEMENT_DEFINE (st_sql_outbox_dead, 4,
  "UPDATE messages SET state = 'dead', attempts = $3, last_error = $4"
  " WHERE customer_id = $1 AND id = $2");

/* Enqueue */

gboolean
st_outbox_enqueue (StStore *store, const StOutboxMessage *message,
                   gboolean *created, GError **error)
{
  g_autofree char *customer = NULL, *delay = NULL;
  g_autoptr (PGresult) res = NULL;

  g_return_val_if_fail (store != NULL && message != NULL, FALSE);

  if (message->customer_id <= 0 || message->key == NULL
      || *message->key == '\0' || message->channel == NULL
      || *message->channel == '\0' || message->delay_seconds < 0)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "a message needs a customer, a key and a channel, and a "
                   "delay of 0 or more seconds");
      return FALSE;
    }
  customer = g_strdup_printf ("%" G_GINT64_FORMAT, message->customer_id);
  delay = g_strdup_printf ("%" G_GINT64_FORMAT, message->delay_seconds);
  res = st_store_exec (store, &st_sql_outbox_enqueue,
                       (const char *[]){ customer, message->key,
                                         message->channel, message->script,
                                         message->template_name,
                                         message->locale, message->recipient,
                                         message->subject, message->body,
                                         message->data_json, delay,
                                         message->html },
                       error);
  if (res == NULL)
    return FALSE;
  if (created != NULL)
    *created = PQntuples (res) == 1;
  return TRUE;
}

/* Quiet hours */

static GDateTime *
date_time_from_usec (gint64 usec, GTimeZone *tz)
{
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (
      usec / G_USEC_PER_SEC);

  return g_date_time_to_timezone (utc, tz);
}

gint64
st_quiet_hours_end (guint start_minute, guint end_minute, GTimeZone *tz,
                    gint64 now_usec)
{
  g_autoptr (GDateTime) local = date_time_from_usec (now_usec, tz);
  g_autoptr (GDateTime) end = NULL;
  guint minute = g_date_time_get_hour (local) * 60
                 + g_date_time_get_minute (local);
  gboolean inside = start_minute < end_minute
                        ? minute >= start_minute && minute < end_minute
                        : minute >= start_minute || minute < end_minute;
  GDate date;
  gint64 end_usec;

  if (!inside || start_minute == end_minute)
    return 0;
  /* The end is today, or tomorrow when the window spans midnight and we are
   * before it: calendar days, then the wall-clock time in the zone. */
  g_date_clear (&date, 1);
  g_date_set_dmy (&date, g_date_time_get_day_of_month (local),
                  g_date_time_get_month (local), g_date_time_get_year (local));
  if (minute >= end_minute)
    g_date_add_days (&date, 1);
  end = g_date_time_new (tz, g_date_get_year (&date), g_date_get_month (&date),
                         g_date_get_day (&date), end_minute / 60,
                         end_minute % 60, 0);
  end_usec = g_date_time_to_unix (end) * G_USEC_PER_SEC;
  /* A wall-clock time repeated by a DST change may resolve to its first
   * occurrence, already past: the window is then over. */
  return end_usec > now_usec ? end_usec : 0;
}

/* One message */

/* One claimed row; the strings point into its PGresult. */
typedef struct {
  PGresult *res;
  gint64 customer_id, id, now;
  const char *customer_text, *id_text;
  StChannelMessage message;
  guint attempts;
  const char *tz;
} StClaimed;

static const char *
column (PGresult *res, int col)
{
  return PQgetisnull (res, 0, col) ? NULL : PQgetvalue (res, 0, col);
}

static void
claimed_init (StClaimed *c, PGresult *res)
{
  c->res = res;
  c->customer_text = PQgetvalue (res, 0, COL_CUSTOMER);
  c->id_text = PQgetvalue (res, 0, COL_ID);
  c->customer_id = g_ascii_strtoll (c->customer_text, NULL, 10);
  c->id = g_ascii_strtoll (c->id_text, NULL, 10);
  c->attempts = (guint) g_ascii_strtoull (column (res, COL_ATTEMPTS), NULL, 10);
  c->now = g_ascii_strtoll (column (res, COL_NOW), NULL, 10);
  c->tz = column (res, COL_TZ);
  c->message = (StChannelMessage){
    .id = c->id,
    .customer_id = c->customer_id,
    .key = column (res, COL_KEY),
    .channel = column (res, COL_CHANNEL),
    .script = column (res, COL_SCRIPT),
    .template_name = column (res, COL_TEMPLATE),
    .locale = column (res, COL_LOCALE),
    .recipient = column (res, COL_RECIPIENT),
    .subject = column (res, COL_SUBJECT),
    .body = column (res, COL_BODY),
    .data_json = column (res, COL_DATA),
    .attempt = c->attempts + 1,
    .customer_json = column (res, COL_CUSTOMER_JSON),
    .html = column (res, COL_HTML),
  };
}

static char *
usec_text (gint64 usec)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, usec);
}

static char *
clock_param (StDelivery *d)
{
  gint64 clock;

  g_mutex_lock (&d->lock);
  clock = d->clock_usec;
  g_mutex_unlock (&d->lock);
  return clock != 0 ? usec_text (clock) : NULL;
}

static gboolean
exec_update (StStore *store, const StStatement *stmt,
             const char *const *params, GError **error)
{
  g_autoptr (PGresult) res = st_store_exec (store, stmt, params, error);
  return res != NULL;
}

static StRoute *
find_route (StDelivery *d, const char *name)
{
  StRoute *route = g_hash_table_lookup (d->routes, name);

  return route != NULL ? route : g_hash_table_lookup (d->routes, "*");
}

static gboolean
hold (StStore *store, const StClaimed *c, gint64 until, const char *reason,
      GError **error)
{
  g_autofree char *until_text = usec_text (until);

  g_debug ("message %" G_GINT64_FORMAT " held: %s", c->id, reason);
  return exec_update (store, &st_sql_outbox_hold,
                      (const char *[]){ c->customer_text, c->id_text,
                                        until_text, reason },
                      error);
}

/* TRUE with *held when quiet hours deferred the message. */
static gboolean
apply_quiet_hours (StDelivery *d, StStore *store, const StClaimed *c,
                   gboolean *held, GError **error)
{
  g_autoptr (GTimeZone) customer_tz = NULL;
  g_autoptr (GDateTime) local_end = NULL;
  g_autofree char *when = NULL, *reason = NULL;
  GTimeZone *tz = d->default_tz;
  gint64 end;

  *held = FALSE;
  if (!d->quiet_hours
      || (d->quiet_channels != NULL
          && !g_strv_contains ((const char *const *) d->quiet_channels,
                               c->message.channel)))
    return TRUE;
  /* A zone the tz database does not know (older data) falls back. */
  if (c->tz != NULL && *c->tz != '\0')
    customer_tz = g_time_zone_new_identifier (c->tz);
  if (customer_tz != NULL)
    tz = customer_tz;
  end = st_quiet_hours_end (d->quiet_start, d->quiet_end, tz, c->now);
  if (end == 0)
    return TRUE;
  local_end = date_time_from_usec (end, tz);
  when = g_date_time_format (local_end, "%Y-%m-%d %H:%M");
  reason = g_strdup_printf ("quiet hours until %s %s", when,
                            g_time_zone_get_identifier (tz));
  *held = TRUE;
  return hold (store, c, end, reason, error);
}

/* TRUE with *held when a cap deferred or suppressed the message. */
static gboolean
apply_caps (StDelivery *d, StStore *store, const StClaimed *c, gboolean *held,
            GError **error)
{
  const StCapConfig *hit = NULL;
  gboolean locked = FALSE, suppress = FALSE;
  gint64 release = 0;
  g_autofree char *now_text = usec_text (c->now), *reason = NULL;

  *held = FALSE;
  for (guint i = 0; i < d->caps->len && !suppress; i++)
    {
      const StCapConfig *cap = g_ptr_array_index (d->caps, i);
      g_autofree char *per_text = NULL, *max_text = NULL;
      g_autoptr (PGresult) res = NULL;
      gint64 until;

      if (!g_str_equal (cap->channel, "*")
          && !g_str_equal (cap->channel, c->message.channel))
        continue;
      if (!locked)
        {
          g_autoptr (PGresult) lock = st_store_exec (
              store, &st_sql_outbox_cap_lock,
              (const char *[]){ c->customer_text, c->message.channel }, error);
          if (lock == NULL)
            return FALSE;
          locked = TRUE;
        }
      per_text = g_strdup_printf ("%" G_GINT64_FORMAT, cap->per_seconds);
      max_text = g_strdup_printf ("%u", cap->max);
      res = st_store_exec (store, &st_sql_outbox_cap_count,
                           (const char *[]){ c->customer_text,
                                             c->message.channel, now_text,
                                             per_text, max_text },
                           error);
      if (res == NULL)
        return FALSE;
      if (PQntuples (res) == 0)
        continue;
      until = g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10)
              + cap->per_seconds * G_USEC_PER_SEC;
      if (cap->suppress)
        suppress = TRUE, hit = cap;
      else if (until > release)
        release = until, hit = cap;
    }
  if (hit == NULL)
    return TRUE;
  *held = TRUE;
  reason = g_strdup_printf ("frequency cap %u per %s on %s", hit->max,
                            hit->per, c->message.channel);
  if (!suppress)
    return hold (store, c, release, reason, error);
  g_debug ("message %" G_GINT64_FORMAT " suppressed: %s", c->id, reason);
  return exec_update (store, &st_sql_outbox_suppress,
                      (const char *[]){ c->customer_text, c->id_text, reason },
                      error);
}

static char *
alert_data (const StClaimed *c, guint attempts, const char *detail)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "message_id");
  json_builder_add_int_value (builder, c->id);
  json_builder_set_member_name (builder, "key");
  json_builder_add_string_value (builder, c->message.key);
  json_builder_set_member_name (builder, "channel");
  json_builder_add_string_value (builder, c->message.channel);
  json_builder_set_member_name (builder, "attempts");
  json_builder_add_int_value (builder, attempts);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, detail);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

static gboolean
mark_dead (StStore *store, const StClaimed *c, guint attempts,
           const char *detail, GPtrArray *alerts, GError **error)
{
  g_autofree char *attempts_text = g_strdup_printf ("%u", attempts);
  g_autofree char *message = NULL, *data = NULL;
  GVariant *alert;

  g_message ("%s message %s of customer %" G_GINT64_FORMAT " is dead: %s",
             c->message.channel, c->message.key, c->customer_id, detail);
  if (!exec_update (store, &st_sql_outbox_dead,
                    (const char *[]){ c->customer_text, c->id_text,
                                      attempts_text, detail },
                    error))
    return FALSE;
  message = g_strdup_printf ("%s message %s could not be delivered: %s",
                             c->message.channel, c->message.key, detail);
  data = alert_data (c, attempts, detail);
  alert = st_alerts_raise (store, c->customer_id, "delivery_failed",
                           "warning", message, data, "core", error);
  if (alert == NULL)
    return FALSE;
  g_ptr_array_add (alerts, alert);
  return TRUE;
}

/* min(max_backoff, backoff · 2^(attempts-1)), ± 20 % so that messages that
 * failed together do not all come back together. */
static gint64
backoff_usec (const StDeliveryPolicy *policy, guint attempts)
{
  guint64 ms = policy->backoff_ms;

  for (guint i = 1; i < attempts && ms < policy->max_backoff_ms; i++)
    ms *= 2;
  ms = MIN (ms, policy->max_backoff_ms);
  return (gint64) ((double) ms * 1000.0 * g_random_double_range (0.8, 1.2));
}

/* *@again is set when the message was given a later due time (a retry):
 * the claim's idea of the next due message no longer holds. */
static gboolean
deliver (StDelivery *d, StStore *store, const StRoute *route,
         const StClaimed *c, GPtrArray *alerts, gboolean *again,
         GError **error)
{
  StChannel *channel = route->channel;
  g_autofree char *detail = NULL, *attempts_text = NULL, *when = NULL;
  g_autofree char *last = NULL, *clock = NULL;
  guint attempts = c->attempts + 1;
  StDeliveryResult result;

  result = st_channel_deliver (channel, &c->message, &detail);
  attempts_text = g_strdup_printf ("%u", attempts);
  if (result == ST_DELIVERY_SENT)
    {
      clock = clock_param (d);
      return exec_update (store, &st_sql_outbox_sent,
                          (const char *[]){ c->customer_text, c->id_text,
                                            attempts_text, clock },
                          error);
    }
  if (detail == NULL || *detail == '\0')
    {
      g_free (detail);
      detail = g_strdup_printf ("plugin %s gave no reason",
                                st_channel_get_plugin_name (channel));
    }
  if (result == ST_DELIVERY_FAILED)
    return mark_dead (store, c, attempts, detail, alerts, error);
  if (attempts >= route->policy.max_attempts)
    {
      last = g_strdup_printf ("%s (gave up after %u attempts)", detail,
                              attempts);
      return mark_dead (store, c, attempts, last, alerts, error);
    }
  when = usec_text (c->now + backoff_usec (&route->policy, attempts));
  *again = TRUE;
  return exec_update (store, &st_sql_outbox_retry,
                      (const char *[]){ c->customer_text, c->id_text,
                                        attempts_text, when, detail },
                      error);
}

/* TRUE with *held when the channel's rate limit makes the message wait for
 * its slot: a hold, not a failure (no attempt is counted). */
static gboolean
apply_rate_limit (const StRoute *route, StStore *store, const StClaimed *c,
                  gboolean *held, GError **error)
{
  g_autofree char *reason = NULL;
  gint64 until;

  *held = FALSE;
  if (route->rate == NULL
      || st_rate_admit (route->rate, c->id, c->now, &until))
    return TRUE;
  *held = TRUE;
  reason = g_strdup_printf ("rate limit %s on %s", route->rate_text,
                            c->message.channel);
  return hold (store, c, until, reason, error);
}

/* Everything about one claimed message, inside its transaction. *@again
 * is set when it was held or retried: it is due again later. */
static gboolean
handle (StDelivery *d, StStore *store, const StClaimed *c, GPtrArray *alerts,
        gboolean *again, GError **error)
{
  StRoute *route = find_route (d, c->message.channel);
  gboolean held = FALSE;

  *again = FALSE;
  if (route == NULL)
    {
      g_autofree char *detail = g_strdup_printf (
          "no channel %s is configured; add it (or \"*\") under channels in "
          "the configuration, then retry the message", c->message.channel);
      return mark_dead (store, c, c->attempts, detail, alerts, error);
    }
  if (!apply_quiet_hours (d, store, c, &held, error))
    return FALSE;
  if (!held && !apply_caps (d, store, c, &held, error))
    return FALSE;
  /* Last: a slot is spent only on a message that is otherwise free to go. */
  if (!held && !apply_rate_limit (route, store, c, &held, error))
    return FALSE;
  if (held)
    {
      *again = TRUE;
      return TRUE;
    }
  return deliver (d, store, route, c, alerts, again, error);
}

/* How long an idle worker may sleep, from a claim that found nothing. */
static gint64
idle_ms_from_claim (PGresult *res)
{
  if (PQntuples (res) == 0 || PQgetisnull (res, 0, COL_IDLE_MS))
    return ST_FALLBACK_POLL_MS;
  return CLAMP (g_ascii_strtoll (PQgetvalue (res, 0, COL_IDLE_MS), NULL, 10),
                1, ST_FALLBACK_POLL_MS);
}

StClaimResult
st_outbox_deliver_next (StDelivery *d, StStore *store, gint64 *idle_ms,
                        GError **error)
{
  g_autofree char *clock = clock_param (d);
  g_autoptr (PGresult) res = NULL;
  g_autoptr (GPtrArray) alerts =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  gboolean again = FALSE;
  StClaimed claimed;

  if (!st_store_begin (store, error))
    return ST_CLAIM_ERROR;
  res = st_store_exec (store, &st_sql_outbox_claim,
                       (const char *[]){ clock }, error);
  if (res == NULL || PQntuples (res) == 0 || PQgetisnull (res, 0, COL_ID))
    {
      st_store_rollback (store);
      if (res == NULL)
        return ST_CLAIM_ERROR;
      if (idle_ms != NULL)
        *idle_ms = idle_ms_from_claim (res);
      return ST_CLAIM_NONE;
    }
  claimed_init (&claimed, res);
  if (!handle (d, store, &claimed, alerts, &again, error))
    {
      st_store_rollback (store);
      return ST_CLAIM_ERROR;
    }
  if (!st_store_commit (store, error))
    {
      g_prefix_error (error, "the outcome of %s message %s was not recorded "
                      "(it will be delivered again): ",
                      claimed.message.channel, claimed.message.key);
      return ST_CLAIM_ERROR;
    }
  for (guint i = 0; d->sink != NULL && i < alerts->len; i++)
    d->sink (g_ptr_array_index (alerts, i), d->sink_data);
  /* 0 (ask again at once) unless the claim saw nothing else due and this
   * message is not due again later. */
  if (idle_ms != NULL)
    *idle_ms = again || g_strcmp0 (PQgetvalue (res, 0, COL_IDLE_MS), "0") == 0
                   ? 0 : idle_ms_from_claim (res);
  return ST_CLAIM_HANDLED;
}

/* How long an idle worker may sleep: until the next message comes due,
 * but no longer than the fallback poll. */
