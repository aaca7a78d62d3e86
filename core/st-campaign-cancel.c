/* Cancelling a campaign run, in two steps, each a transaction of its own:
 *
 * 1. the request: cancelled_by is set. From its commit no worker claims
 *    a batch of the run, or starts it when it is still pending (a claim
 *    already under way goes on with its batch, which step 2 waits for);
 * 2. the end: the batches still pending are deleted, which waits for
 *    those in progress (their workers hold them locked until they commit,
 *    and what they need next, the run's row, this step has not locked
 *    yet); then the run ends as cancelled, its summary made from the
 *    batches that were done, which are dropped.
 *
 * Every batch locks its batch, then its run; step 2 takes them in the same
 * order, so the two never wait on each other crosswise. The canceller
 * holds an advisory lock on the run (CANCEL_LOCK, on its session) from
 * before step 1 to after step 2: a daemon that dies between the steps
 * leaves the request, and the lock goes with its connection; the
 * scheduler's leader ends such requests (st_campaign_run_cancel_left)
 * when it gets that lock, never waiting behind a batch (lock_timeout: it
 * tries again at its next look). A batch
 * in progress may end the run itself, as done, when it was the last one:
 * the cancel then answers that state. */

#include "st-campaign-work.h"

#include "st-campaign-runs.h"
#include "st-error.h"

ST_STATEMENT_DEFINE (st_sql_run_cancel_request, 2,
  "UPDATE campaign_runs SET cancelled_by = COALESCE(cancelled_by, $2)"
  " WHERE id = $1 AND state IN ('pending', 'running')"
  " RETURNING id");

/* The canceller's lock on the run: the canceller holds it on its session
 * through both steps; the leader only tries it, for its transaction, and
 * does not wait for a batch either. */
#define CANCEL_LOCK "73911858, ($1::bigint % 2147483647)::int"

ST_STATEMENT_DEFINE (st_sql_run_cancel_lock, 1,
  "SELECT pg_advisory_lock(" CANCEL_LOCK ")");

ST_STATEMENT_DEFINE (st_sql_run_cancel_unlock, 1,
  "SELECT pg_advisory_unlock(" CANCEL_LOCK ")");

ST_STATEMENT_DEFINE (st_sql_run_cancel_try_lock, 1,
  "SELECT pg_try_advisory_xact_lock(" CANCEL_LOCK "),"
  "       set_config('lock_timeout', '100ms', true)");

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

/* The canceller's session lock, taken (@take) or given back, each in a
 * transaction of its own. */
static gboolean
session_lock (StStore *store, const char *run_id, gboolean take,
              GError **error)
{
  g_autoptr (PGresult) res = NULL;

  if (!st_store_begin (store, error))
    return FALSE;
  res = st_store_exec (store, take ? &st_sql_run_cancel_lock
                                   : &st_sql_run_cancel_unlock,
                       (const char *[]){ run_id }, error);
  if (res == NULL || !st_store_commit (store, error))
    {
      st_store_rollback (store);
      return FALSE;
    }
  return TRUE;
}

/* Step 2, by the canceller (@leader FALSE) or the scheduler's leader.
 * FALSE with no error when the leader left the run to another (it holds
 * the lock, or a batch in progress holds a row). */
static gboolean
end (StStore *store, const char *run_id, gboolean leader, GError **error)
{
  g_autoptr (PGresult) locked = NULL, deleted = NULL, ended = NULL;
  g_autoptr (GError) failure = NULL;
  gboolean ok;

  if (!st_store_begin (store, error))
    return FALSE;
  if (leader)
    {
      locked = st_store_exec (store, &st_sql_run_cancel_try_lock,
                              (const char *[]){ run_id }, &failure);
      if (locked != NULL && PQgetvalue (locked, 0, 0)[0] != 't')
        {
          st_store_rollback (store);
          return FALSE;
        }
    }
  deleted = leader && locked == NULL
                ? NULL
                : st_store_exec (store, &st_sql_run_cancel_batches,
                                 (const char *[]){ run_id }, &failure);
  ended = deleted == NULL ? NULL
                          : st_store_exec (store, &st_sql_run_cancel_end,
                                           (const char *[]){ run_id },
                                           &failure);
  ok = ended != NULL
       && (PQntuples (ended) == 0
           || st_campaign_run_summarize (store, run_id, &failure))
       && st_store_commit (store, &failure);
  if (ok)
    {
      if (PQntuples (ended) == 1)
        g_message ("campaign run %s cancelled", run_id);
      return TRUE;
    }
  st_store_rollback (store);
  if (leader && st_store_error_is (failure, "55P03"))
    return FALSE;
  if (!leader && st_store_error_is (failure, "57014"))
    g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                 "campaign run %s: no batch starts any more, but those in "
                 "progress have taken longer than a minute; the run ends as "
                 "cancelled when they are done ('stewardctl campaign show "
                 "%s' follows it)", run_id, run_id);
  else
    g_propagate_error (error, g_steal_pointer (&failure));
  return FALSE;
}

GVariant *
st_campaign_run_cancel (StStore *store, gint64 id, const char *who,
                        GError **error)
{
  g_autofree char *run_id = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  g_autoptr (GVariant) before = st_campaign_runs_get (store, id, error);
  g_autoptr (GError) failure = NULL;

  if (before == NULL)
    return NULL;
  if (st_campaign_run_state_is_final (st_campaign_run_state (before)))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_ILLEGAL_TRANSITION,
                   "campaign run %" G_GINT64_FORMAT " has already ended (%s); "
                   "there is nothing to cancel", id, st_campaign_run_state (before));
      return NULL;
    }
  if (!session_lock (store, run_id, TRUE, error))
    return NULL;
  /* When the request finds the run no longer pending or running (and no
   * error), its last batch ended it since it was read above. */
  if (request (store, run_id, who, &failure))
    end (store, run_id, FALSE, &failure);
  if (!session_lock (store, run_id, FALSE, NULL))
    g_debug ("campaign run %s: the cancel lock goes with the connection",
             run_id);
  if (failure != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&failure));
      return NULL;
    }
  return st_campaign_runs_get (store, id, error);
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
    {
      g_autoptr (GError) failure = NULL;

      if (!end (store, PQgetvalue (left, i, 0), TRUE, &failure)
          && failure != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&failure));
          return FALSE;
        }
    }
  return TRUE;
}
