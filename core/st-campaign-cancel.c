/* Cancelling a campaign run, in two steps, each a transaction of its own:
 *
 * 1. the request: cancelled_by is set. From its commit no worker claims
 *    the run's batches, or starts it when it is still pending;
 * 2. the end: the batches still pending are deleted, which waits for
 *    those in progress (their workers hold them locked until they commit,
 *    and what they need next, the run's row, this step has not locked
 *    yet); then the run ends as cancelled, its summary made from the
 *    batches that were done, which are dropped.
 *
 * Every batch locks its batch, then its run; step 2 takes them in the same
 * order, so the two never wait on each other crosswise. A daemon that dies
 * between the steps leaves the request: the scheduler's leader ends it
 * (st_campaign_run_cancel_left). A batch in progress may end the run
 * itself, as done, when it was the last one: the cancel then finds it
 * ended. */

#include "st-campaign-work.h"

#include "st-campaign-runs.h"
#include "st-error.h"

ST_STATEMENT_DEFINE (st_sql_run_cancel_request, 2,
  "UPDATE campaign_runs SET cancelled_by = COALESCE(cancelled_by, $2)"
  " WHERE id = $1 AND state IN ('pending', 'running')"
  " RETURNING id");

ST_STATEMENT_DEFINE (st_sql_run_cancel_batches, 1,
  "DELETE FROM run_batches WHERE run_id = $1 AND state = 'pending'");

ST_STATEMENT_DEFINE (st_sql_run_cancel_end, 1,
  "UPDATE campaign_runs SET state = 'cancelled',"
  "  finished_at = clock_timestamp()"
  " WHERE id = $1 AND state IN ('pending', 'running')"
  "   AND cancelled_by IS NOT NULL"
  " RETURNING id");

ST_STATEMENT_DEFINE (st_sql_run_cancel_left, 0,
  "SELECT id FROM campaign_runs WHERE state IN ('pending', 'running')"
  "   AND cancelled_by IS NOT NULL ORDER BY id");

/* Step 1; FALSE with no error when the run is not pending or running. */
static gboolean
request (StStore *store, const char *run_id, const char *who,
         GError **error)
{
  g_autoptr (PGresult) res = NULL;

  if (!st_store_begin (store, error))
    return FALSE;
  res = st_store_exec (store, &st_sql_run_cancel_request,
                       (const char *[]){ run_id, who }, error);
  if (res == NULL || !st_store_commit (store, error))
    {
      st_store_rollback (store);
      return FALSE;
    }
  return PQntuples (res) == 1;
}

/* Step 2. */
static gboolean
end (StStore *store, const char *run_id, GError **error)
{
  g_autoptr (PGresult) deleted = NULL, ended = NULL;
  gboolean ok;

  if (!st_store_begin (store, error))
    return FALSE;
  deleted = st_store_exec (store, &st_sql_run_cancel_batches,
                           (const char *[]){ run_id }, error);
  ended = deleted == NULL ? NULL
                          : st_store_exec (store, &st_sql_run_cancel_end,
                                           (const char *[]){ run_id }, error);
  ok = ended != NULL
       && (PQntuples (ended) == 0
           || st_campaign_run_summarize (store, run_id, error))
       && st_store_commit (store, error);
  if (!ok)
    st_store_rollback (store);
  else if (PQntuples (ended) == 1)
    g_message ("campaign run %s cancelled", run_id);
  return ok;
}

GVariant *
st_campaign_run_cancel (StStore *store, gint64 id, const char *who,
                        GError **error)
{
  g_autofree char *run_id = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  g_autoptr (GError) failure = NULL;
  g_autoptr (GVariant) run = NULL;
  const char *state = NULL;

  if (request (store, run_id, who, &failure))
    return end (store, run_id, error) ? st_campaign_runs_get (store, id, error)
                                      : NULL;
  if (failure != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&failure));
      return NULL;
    }
  run = st_campaign_runs_get (store, id, error);
  if (run == NULL)
    return NULL;
  g_variant_lookup (run, "state", "&s", &state);
  g_set_error (error, ST_ERROR, ST_ERROR_ILLEGAL_TRANSITION,
               "campaign run %" G_GINT64_FORMAT " has already ended (%s); "
               "there is nothing to cancel", id, state ? state : "?");
  return NULL;
}

gboolean
st_campaign_run_cancel_left (StStore *store, GError **error)
{
  g_autoptr (PGresult) left = NULL;

  if (!st_store_begin (store, error))
    return FALSE;
  left = st_store_exec (store, &st_sql_run_cancel_left, NULL, error);
  st_store_rollback (store);
  if (left == NULL)
    return FALSE;
  for (int i = 0; i < PQntuples (left); i++)
    if (!end (store, PQgetvalue (left, i, 0), error))
      return FALSE;
  return TRUE;
}
