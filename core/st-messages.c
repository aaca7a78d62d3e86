/* The outbox as people see it (stewardctl message list|show|retry): the
 * reads, and the one write people may make, a retry. What the delivery
 * workers do with a message is st-outbox.c. */

#include "st-messages.h"

#include "st-alerts.h"
#include "st-error.h"
#include "st-outbox-private.h"
#include "st-record.h"

#define MESSAGE_COLUMNS                                                     \
  "id, customer_id, channel, key, state, attempts, script, template, "     \
  "locale, recipient, subject, due_at, held_reason, last_error, "          \
  "created_at, sent_at"
#define MESSAGE_DETAIL_COLUMNS MESSAGE_COLUMNS ", body, html, data"

static const char *const st_message_states[] = { "pending", "retry", "sent",
                                                  "dead", "suppressed", NULL };

ST_STATEMENT_DEFINE (st_sql_message_list, 6,
  "SELECT " MESSAGE_COLUMNS " FROM messages"
  " WHERE ($1::bigint IS NULL OR customer_id = $1)"
  "   AND ($2::text IS NULL OR state = $2)"
  "   AND ($3::text IS NULL OR channel = $3)"
  "   AND ($6::text IS NULL OR customer_id IN"
  "        (SELECT id FROM customers WHERE owner = $6))"
  " ORDER BY id DESC LIMIT $4 OFFSET $5");

ST_STATEMENT_DEFINE (st_sql_message_owner, 1,
  "SELECT m.customer_id, c.owner"
  "  FROM messages m JOIN customers c ON c.id = m.customer_id"
  " WHERE m.id = $1");

ST_STATEMENT_DEFINE (st_sql_message_get, 1,
  "SELECT " MESSAGE_DETAIL_COLUMNS " FROM messages WHERE id = $1");

/* A message a worker holds is being delivered: it is not waited for. */
ST_STATEMENT_DEFINE (st_sql_message_lock, 1,
  "SELECT customer_id, state, sent_at FROM messages WHERE id = $1"
  " FOR UPDATE SKIP LOCKED");

ST_STATEMENT_DEFINE (st_sql_message_exists, 1,
  "SELECT 1 FROM messages WHERE id = $1");

ST_STATEMENT_DEFINE (st_sql_message_retry, 2,
  "UPDATE messages SET state = 'pending', attempts = 0, due_at = now(),"
  "  held_reason = NULL"
  " WHERE customer_id = $1 AND id = $2 RETURNING " MESSAGE_DETAIL_COLUMNS);

ST_STATEMENT_DEFINE (st_sql_message_wake, 0,
  "SELECT pg_notify('" ST_OUTBOX_CHANNEL "', '')");

static gboolean
not_found (gint64 id, GError **error)
{
  g_set_error (error, ST_ERROR, ST_ERROR_NOT_FOUND,
               "no message %" G_GINT64_FORMAT "; 'stewardctl message list' "
               "shows them", id);
  return FALSE;
}

GVariant *
st_messages_list (StStore *store, GVariant *filter, GError **error)
{
  static const char *const keys[] = { "customer_id", "state", "channel",
                                      "owner", "limit", "offset", NULL };
  g_autoptr (GVariant) customer = NULL;
  const char *state = NULL, *channel = NULL, *owner = NULL;
  guint limit = 100, offset = 0;
  g_autofree char *customer_text = NULL, *limit_text = NULL;
  g_autofree char *offset_text = NULL;
  g_autoptr (PGresult) res = NULL;

  if (!st_record_check_keys (filter, keys, "filter", error)
      || !st_record_get_string (filter, "state", &state, error)
      || !st_record_get_string (filter, "channel", &channel, error)
      || !st_record_get_string (filter, "owner", &owner, error)
      || !st_record_get_uint (filter, "limit", &limit, error)
      || !st_record_get_uint (filter, "offset", &offset, error))
    return NULL;
  customer = g_variant_lookup_value (filter, "customer_id", NULL);
  if (customer != NULL
      && !g_variant_is_of_type (customer, G_VARIANT_TYPE_INT64))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "customer_id: expected an int64 (x), not %s",
                   g_variant_get_type_string (customer));
      return NULL;
    }
  if (state != NULL && !g_strv_contains (st_message_states, state))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "state: '%s' is not a message state; use pending, retry, "
                   "sent, dead or suppressed", state);
      return NULL;
    }
  if (limit == 0 || limit > 10000)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "limit: %u is out of range; give 1 to 10000", limit);
      return NULL;
    }
  if (customer != NULL)
    customer_text = g_strdup_printf ("%" G_GINT64_FORMAT,
                                     g_variant_get_int64 (customer));
  limit_text = g_strdup_printf ("%u", limit);
  offset_text = g_strdup_printf ("%u", offset);
  if (!st_store_begin (store, error))
    return NULL;
  res = st_store_exec (store, &st_sql_message_list,
                       (const char *[]){ customer_text, state, channel,
                                         limit_text, offset_text, owner },
                       error);
  st_store_rollback (store);
  return res == NULL ? NULL
                     : g_variant_ref_sink (st_record_list_from_result (res));
}

gboolean
st_messages_owner (StStore *store, gint64 id, gint64 *customer_id,
                   char **owner, GError **error)
{
  g_autofree char *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  g_autoptr (PGresult) res = NULL;

  if (!st_store_begin (store, error))
    return FALSE;
  res = st_store_exec (store, &st_sql_message_owner,
                       (const char *[]){ id_text }, error);
  st_store_rollback (store);
  if (res == NULL)
    return FALSE;
  if (PQntuples (res) == 0)
    return not_found (id, error);
  *customer_id = g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10);
  *owner = PQgetisnull (res, 0, 1) ? NULL : g_strdup (PQgetvalue (res, 0, 1));
  return TRUE;
}

GVariant *
st_messages_get (StStore *store, gint64 id, GError **error)
{
  g_autofree char *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  g_autoptr (PGresult) res = NULL;

  if (!st_store_begin (store, error))
    return NULL;
  res = st_store_exec (store, &st_sql_message_get,
                       (const char *[]){ id_text }, error);
  st_store_rollback (store);
  if (res == NULL)
    return NULL;
  if (PQntuples (res) == 0)
    {
      not_found (id, error);
      return NULL;
    }
  return g_variant_ref_sink (st_record_from_row (res, 0));
}

/* Lock message @id for the retry: its customer and state, or an error
 * saying why it cannot be retried. */
static gboolean
lock_for_retry (StStore *store, gint64 id, const char *id_text,
                char **customer_text, char **state, GError **error)
{
  g_autoptr (PGresult) res = NULL, exists = NULL;
  g_autofree char *sent_at = NULL;

  res = st_store_exec (store, &st_sql_message_lock,
                       (const char *[]){ id_text }, error);
  if (res == NULL)
    return FALSE;
  if (PQntuples (res) == 0)
    {
      exists = st_store_exec (store, &st_sql_message_exists,
                              (const char *[]){ id_text }, error);
      if (exists == NULL)
        return FALSE;
      if (PQntuples (exists) == 0)
        return not_found (id, error);
      g_set_error (error, ST_ERROR, ST_ERROR_ILLEGAL_TRANSITION,
                   "message %" G_GINT64_FORMAT " is being delivered right "
                   "now; see how it went with 'stewardctl message show %"
                   G_GINT64_FORMAT "'", id, id);
      return FALSE;
    }
  if (g_str_equal (PQgetvalue (res, 0, 1), "sent"))
    {
      sent_at = st_record_time_from_pg (PQgetvalue (res, 0, 2));
      g_set_error (error, ST_ERROR, ST_ERROR_ILLEGAL_TRANSITION,
                   "message %" G_GINT64_FORMAT " was sent at %s; a sent "
                   "message is not retried, it would reach the customer "
                   "twice", id, sent_at);
      return FALSE;
    }
  *customer_text = g_strdup (PQgetvalue (res, 0, 0));
  *state = g_strdup (PQgetvalue (res, 0, 1));
  return TRUE;
}

static GVariant *
retry_locked (StStore *store, gint64 id, const char *id_text,
              const char *actor, GError **error)
{
  g_autofree char *customer_text = NULL, *state = NULL, *note = NULL;
  g_autoptr (PGresult) res = NULL, wake = NULL;
  g_autoptr (GVariant) record = NULL;
  gint64 alert = 0;
  g_autoptr (GVariant) reply = NULL;

  if (!lock_for_retry (store, id, id_text, &customer_text, &state, error))
    return NULL;
  res = st_store_exec (store, &st_sql_message_retry,
                       (const char *[]){ customer_text, id_text }, error);
  if (res == NULL)
    return NULL;
  note = g_strdup_printf ("message %" G_GINT64_FORMAT " retried", id);
  if (!st_alerts_resolve_delivery (store, g_ascii_strtoll (customer_text,
                                                           NULL, 10),
                                   actor, note, &alert, error))
    return NULL;
  wake = st_store_exec (store, &st_sql_message_wake, NULL, error);
  if (wake == NULL)
    return NULL;
  record = g_variant_ref_sink (st_record_from_row (res, 0));
  reply = st_record_with (record, "previous_state",
                          g_variant_new_string (state));
  if (alert == 0)
    return g_steal_pointer (&reply);
  return st_record_with (reply, "acknowledged_alert",
                         g_variant_new_int64 (alert));
}

GVariant *
st_messages_retry (StStore *store, gint64 id, const char *actor,
                   GError **error)
{
  g_autofree char *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  g_autoptr (GVariant) record = NULL;

  if (!st_store_begin (store, error))
    return NULL;
  record = retry_locked (store, id, id_text, actor, error);
  if (record == NULL || !st_store_commit (store, error))
    {
      st_store_rollback (store);
      return NULL;
    }
  g_message ("message %" G_GINT64_FORMAT " put back in the outbox by %s", id,
             actor);
  return g_steal_pointer (&record);
}
