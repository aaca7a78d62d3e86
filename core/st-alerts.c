#include "st-alerts.h"

#include <string.h>

#include "st-error.h"
#include "st-record.h"

#define ALERT_COLUMNS                                                      \
  "id, NULLIF(customer_id, 0) AS customer_id, kind, severity, message, "   \
  "data, source, state, count, first_raised_at, last_raised_at, "          \
  "acknowledged_by, acknowledged_at, note"

/* The partial unique index makes "the open alert of this kind" the
 * conflict target, so a repeat is one upsert. */
ST_STATEMENT_DEFINE (st_sql_alert_raise, 6,
  "INSERT INTO alerts (customer_id, kind, severity, message, data, source)"
  " VALUES ($1, $2, $3, $4, COALESCE($5::jsonb, '{}'), $6)"
  " ON CONFLICT (customer_id, kind) WHERE state = 'open' DO UPDATE SET"
  "   severity = EXCLUDED.severity, message = EXCLUDED.message,"
  "   data = EXCLUDED.data, source = EXCLUDED.source,"
  "   count = alerts.count + 1, last_raised_at = now()"
  " RETURNING " ALERT_COLUMNS);

ST_STATEMENT_DEFINE (st_sql_alert_ack, 3,
  "UPDATE alerts SET state = 'acknowledged', acknowledged_by = $2,"
  "  acknowledged_at = now(), note = NULLIF($3, '')"
  " WHERE id = $1 AND state = 'open' RETURNING " ALERT_COLUMNS);

/* The alert stands for the customer's dead messages: it is over once
 * there is none left. */
ST_STATEMENT_DEFINE (st_sql_alert_resolve_delivery, 3,
  "UPDATE alerts SET state = 'acknowledged', acknowledged_by = $2,"
  "  acknowledged_at = now(), note = $3"
  " WHERE customer_id = $1 AND kind = 'delivery_failed' AND state = 'open'"
  "   AND NOT EXISTS (SELECT 1 FROM messages"
  "                    WHERE customer_id = $1 AND state = 'dead')"
  " RETURNING id");

ST_STATEMENT_DEFINE (st_sql_alert_state, 1,
  "SELECT state FROM alerts WHERE id = $1");

static const char st_sql_alert_list[] =
  "SELECT " ALERT_COLUMNS " FROM alerts"
  " WHERE ($1::bool IS NULL OR (state = 'open') = $1)"
  "   AND ($2::bigint IS NULL OR customer_id = $2)"
  "   AND ($3::text IS NULL OR kind = $3)"
  "   AND ($6::text IS NULL OR customer_id IN"
  "        (SELECT id FROM customers WHERE owner = $6))"
  " ORDER BY last_raised_at DESC, id DESC LIMIT $4 OFFSET $5";

/* The alert's customer (0: a system alert) and its owner: no row, no
 * alert; NULL, no owner (or a system alert). */
static const char st_sql_alert_owner[] =
  "SELECT a.customer_id, c.owner"
  "  FROM alerts a LEFT JOIN customers c ON c.id = a.customer_id"
  " WHERE a.id = $1";

static gboolean
check_severity (const char *severity, GError **error)
{
  if (g_strcmp0 (severity, "info") == 0 || g_strcmp0 (severity, "warning") == 0
      || g_strcmp0 (severity, "critical") == 0)
    return TRUE;
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
               "severity: '%s' is not a severity; use info, warning or "
               "critical", severity ? severity : "");
  return FALSE;
}

GVariant *
st_alerts_raise (StStore *store, gint64 customer_id, const char *kind,
                 const char *severity, const char *message,
                 const char *data_json, const char *source, GError **error)
{
  g_autofree char *customer = g_strdup_printf ("%" G_GINT64_FORMAT,
                                               customer_id);
  g_autoptr (PGresult) res = NULL;

  if (!check_severity (severity, error))
    return NULL;
  if (kind == NULL || kind[0] == '\0' || strlen (kind) > 64)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "kind: an alert kind has 1 to 64 characters");
      return NULL;
    }
  res = st_store_exec (store, &st_sql_alert_raise,
                       (const char *[]){ customer, kind, severity,
                                         message ? message : "", data_json,
                                         source },
                       error);
  if (res == NULL)
    return NULL;
  return g_variant_ref_sink (st_record_from_row (res, 0));
}

GVariant *
st_alerts_list (StStore *store, GVariant *filter, GError **error)
{
  static const char *const keys[] = { "open", "customer_id", "kind", "owner",
                                      "limit", "offset", NULL };
  g_autoptr (GVariant) open = g_variant_lookup_value (filter, "open",
                                                      G_VARIANT_TYPE_BOOLEAN);
  g_autoptr (GVariant) customer = g_variant_lookup_value (
      filter, "customer_id", G_VARIANT_TYPE_INT64);
  const char *kind = NULL, *owner = NULL;
  guint limit = 100, offset = 0;
  g_autofree char *customer_text = NULL, *limit_text = NULL,
                  *offset_text = NULL;
  g_autoptr (PGresult) res = NULL;

  if (!st_record_check_keys (filter, keys, "filter", error)
      || !st_record_get_string (filter, "kind", &kind, error)
      || !st_record_get_string (filter, "owner", &owner, error)
      || !st_record_get_uint (filter, "limit", &limit, error)
      || !st_record_get_uint (filter, "offset", &offset, error))
    return NULL;
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
  res = st_store_exec_sql (
      store, st_sql_alert_list, 6,
      (const char *[]){ open == NULL ? NULL
                        : g_variant_get_boolean (open) ? "true" : "false",
                        customer_text, kind, limit_text, offset_text, owner },
      error);
  st_store_rollback (store);
  return res == NULL ? NULL
                     : g_variant_ref_sink (st_record_list_from_result (res));
}

gboolean
st_alerts_owner (StStore *store, gint64 id, gint64 *customer_id,
                 char **owner, GError **error)
{
  g_autofree char *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  g_autoptr (PGresult) res = NULL;

  if (!st_store_begin (store, error))
    return FALSE;
  res = st_store_exec_sql (store, st_sql_alert_owner, 1,
                           (const char *[]){ id_text }, error);
  st_store_rollback (store);
  if (res == NULL)
    return FALSE;
  if (PQntuples (res) == 0)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_NOT_FOUND, "no alert %s; "
                   "'stewardctl alert list' shows them", id_text);
      return FALSE;
    }
  *customer_id = g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10);
  *owner = PQgetisnull (res, 0, 1) ? NULL : g_strdup (PQgetvalue (res, 0, 1));
  return TRUE;
}

gboolean
st_alerts_resolve_delivery (StStore *store, gint64 customer_id,
                            const char *actor, const char *note, gint64 *id,
                            GError **error)
{
  g_autofree char *customer = g_strdup_printf ("%" G_GINT64_FORMAT,
                                               customer_id);
  g_autoptr (PGresult) res = st_store_exec (
      store, &st_sql_alert_resolve_delivery,
      (const char *[]){ customer, actor, note }, error);

  if (res == NULL)
    return FALSE;
  *id = PQntuples (res) == 1 ? g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL,
                                                10)
                             : 0;
  return TRUE;
}

GVariant *
st_alerts_acknowledge (StStore *store, gint64 id, const char *note,
                       const char *actor, GError **error)
{
  g_autofree char *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  g_autoptr (PGresult) res = NULL, state = NULL;
  g_autoptr (GVariant) record = NULL;

  if (note != NULL && strlen (note) > 2000)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "note: at most 2000 characters");
      return NULL;
    }
  if (!st_store_begin (store, error))
    return NULL;
  res = st_store_exec (store, &st_sql_alert_ack,
                       (const char *[]){ id_text, actor, note ? note : "" },
                       error);
  if (res != NULL && PQntuples (res) == 1)
    record = g_variant_ref_sink (st_record_from_row (res, 0));
  else if (res != NULL)
    {
      state = st_store_exec (store, &st_sql_alert_state,
                             (const char *[]){ id_text }, error);
      if (state != NULL && PQntuples (state) == 0)
        g_set_error (error, ST_ERROR, ST_ERROR_NOT_FOUND,
                     "no alert %" G_GINT64_FORMAT "; 'stewardctl alert list' "
                     "shows them", id);
      else if (state != NULL)
        g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                     "alert %" G_GINT64_FORMAT " is already acknowledged", id);
    }
  if (record == NULL || !st_store_commit (store, error))
    {
      st_store_rollback (store);
      return NULL;
    }
  return g_steal_pointer (&record);
}
