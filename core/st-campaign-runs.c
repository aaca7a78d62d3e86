/* Campaign runs as rows: create, read, list, and the progress poll. */

#include "st-campaign-runs.h"

#include <string.h>

#include "st-error.h"
#include "st-record.h"

#define RUN_COLUMNS                                                         \
  "id, campaign, occurrence, zone, dry_run, state, requested_by,"          \
  " created_at, started_at, finished_at, total, done, sent, skipped,"      \
  " failed, summary, last_error, cancelled_by"

/* The occurrence's run may exist already: the partial unique index makes
 * a second scheduler, or a repeated request, write nothing. */
ST_STATEMENT_DEFINE (st_sql_run_insert, 5,
  "WITH ins AS ("
  "  INSERT INTO campaign_runs (campaign, occurrence, zone, dry_run,"
  "                             requested_by)"
  "  VALUES ($1, COALESCE($2::timestamptz, now()), $3, $4::boolean, $5)"
  "  ON CONFLICT (campaign, occurrence, COALESCE(zone, '')) WHERE NOT dry_run"
  "  DO NOTHING RETURNING id)"
  "SELECT id, pg_notify('" ST_CAMPAIGN_CHANNEL "', '') FROM ins");

ST_STATEMENT_DEFINE (st_sql_run_existing, 3,
  "SELECT id FROM campaign_runs WHERE campaign = $1"
  "   AND occurrence = $2::timestamptz AND COALESCE(zone, '') = COALESCE($3, '')"
  "   AND NOT dry_run");

ST_STATEMENT_DEFINE (st_sql_run_get, 1,
  "SELECT " RUN_COLUMNS " FROM campaign_runs WHERE id = $1");

ST_STATEMENT_DEFINE (st_sql_run_list, 2,
  "SELECT " RUN_COLUMNS " FROM campaign_runs"
  " WHERE $1::text IS NULL OR campaign = $1"
  " ORDER BY id DESC LIMIT $2");

/* Runs end with clock_timestamp(), close to their commit: a run committed
 * long after its end time would otherwise fall between two polls. */
ST_STATEMENT_DEFINE (st_sql_run_poll, 0,
  "SELECT id, state, total, done, sent, skipped, failed FROM campaign_runs"
  " WHERE state IN ('pending', 'running')"
  "    OR finished_at >= now() - interval '" ST_CAMPAIGN_POLL_WINDOW "'"
  " ORDER BY id");

const char *
st_campaign_run_state (GVariant *record)
{
  const char *state = "?";

  g_variant_lookup (record, "state", "&s", &state);
  return state;
}

gboolean
st_campaign_run_state_is_final (const char *state)
{
  return g_strcmp0 (state, "done") == 0 || g_strcmp0 (state, "failed") == 0
         || g_strcmp0 (state, "cancelled") == 0;
}

static void
request_params (const StRunRequest *request, char **occurrence,
                const char *params[5])
{
  *occurrence = request->occurrence != NULL
                    ? g_date_time_format_iso8601 (request->occurrence)
                    : NULL;
  params[0] = request->campaign;
  params[1] = *occurrence;
  params[2] = request->zone;
  params[3] = request->dry_run ? "true" : "false";
  params[4] = request->requested_by;
}

gboolean
st_campaign_runs_insert (StStore *store, const StRunRequest *request,
                         gboolean *created, GError **error)
{
  g_autofree char *occurrence = NULL;
  const char *params[5];
  g_autoptr (PGresult) res = NULL;

  request_params (request, &occurrence, params);
  res = st_store_exec (store, &st_sql_run_insert, params, error);
  if (res == NULL)
    return FALSE;
  *created = PQntuples (res) == 1;
  return TRUE;
}

gint64
st_campaign_runs_create (StStore *store, const StRunRequest *request,
                         gboolean *created, GError **error)
{
  g_autofree char *occurrence = NULL;
  const char *params[5];
  g_autoptr (PGresult) res = NULL;
  gint64 id = 0;

  request_params (request, &occurrence, params);
  if (!st_store_begin (store, error))
    return -1;
  res = st_store_exec (store, &st_sql_run_insert, params, error);
  if (res != NULL && PQntuples (res) == 0 && occurrence != NULL)
    {
      /* Only a run with an occurrence given can exist already; one made
       * "now" is new by construction. */
      PQclear (res);
      res = st_store_exec (store, &st_sql_run_existing,
                           (const char *[]){ request->campaign, occurrence,
                                             request->zone },
                           error);
      *created = FALSE;
    }
  else if (res != NULL)
    *created = TRUE;
  if (res != NULL && PQntuples (res) == 1)
    id = g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10);
  if (res == NULL || !st_store_commit (store, error))
    {
      st_store_rollback (store);
      return -1;
    }
  return id;
}

GVariant *
st_campaign_runs_get (StStore *store, gint64 id, GError **error)
{
  g_autofree char *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  g_autoptr (PGresult) res = NULL;

  if (!st_store_begin (store, error))
    return NULL;
  res = st_store_exec (store, &st_sql_run_get, (const char *[]){ id_text },
                       error);
  st_store_rollback (store);
  if (res == NULL)
    return NULL;
  if (PQntuples (res) == 0)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_NOT_FOUND,
                   "no campaign run with id %" G_GINT64_FORMAT "; "
                   "'stewardctl campaign runs' lists them", id);
      return NULL;
    }
  return g_variant_ref_sink (st_record_from_row (res, 0));
}

GVariant *
st_campaign_runs_list (StStore *store, const char *campaign, guint limit,
                       GError **error)
{
  g_autofree char *limit_text = NULL;
  g_autoptr (PGresult) res = NULL;

  if (limit == 0 || limit > 10000)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "limit: %u is out of range; give 1 to 10000", limit);
      return NULL;
    }
  limit_text = g_strdup_printf ("%u", limit);
  if (!st_store_begin (store, error))
    return NULL;
  res = st_store_exec (store, &st_sql_run_list,
                       (const char *[]){ campaign != NULL && *campaign
                                             ? campaign : NULL,
                                         limit_text },
                       error);
  st_store_rollback (store);
  if (res == NULL)
    return NULL;
  return g_variant_ref_sink (st_record_list_from_result (res));
}

static gint64
column_int (PGresult *res, int row, int col)
{
  return g_ascii_strtoll (PQgetvalue (res, row, col), NULL, 10);
}

GArray *
st_campaign_runs_poll (StStore *store, GError **error)
{
  g_autoptr (PGresult) res = NULL;
  GArray *runs;

  if (!st_store_begin (store, error))
    return NULL;
  res = st_store_exec (store, &st_sql_run_poll, NULL, error);
  st_store_rollback (store);
  if (res == NULL)
    return NULL;
  runs = g_array_new (FALSE, TRUE, sizeof (StRunProgress));
  for (int row = 0; row < PQntuples (res); row++)
    {
      StRunProgress progress = { 0 };

      progress.id = column_int (res, row, 0);
      g_strlcpy (progress.state, PQgetvalue (res, row, 1),
                 sizeof progress.state);
      progress.total = column_int (res, row, 2);
      progress.done = column_int (res, row, 3);
      progress.sent = column_int (res, row, 4);
      progress.skipped = column_int (res, row, 5);
      progress.failed = column_int (res, row, 6);
      g_array_append_val (runs, progress);
    }
  return runs;
}
