/* The campaign threads of a daemon: workers that start runs and process
 * batches, and the scheduler, led by whichever daemon holds the advisory
 * lock. */

#include "st-campaigns.h"

#include <unistd.h>

#include "st-campaign-runs.h"
#include "st-campaign-schedule.h"
#include "st-campaign-work.h"
#include "st-engine.h"
#include "st-error.h"
#include "st-waker.h"

/* Idle workers look again this often even without a notification (a
 * lost LISTEN, a run another daemon's leader made while we restarted). */
#define CAMPAIGN_POLL_MS 1000

/* The scheduler's lock: session-level, on the scheduler's own connection,
 * so it lives exactly as long as that connection. Asked again at each look
 * (without stacking): after a reconnect it may belong to another daemon. */
ST_STATEMENT_DEFINE (st_sql_campaign_lead, 0,
  "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks"
  "                          WHERE locktype = 'advisory'"
  "                            AND pid = pg_backend_pid() AND granted"
  "                            AND classid = 73911857 AND objid = 1"
  "                            AND objsubid = 2)"
  "            THEN true"
  "            ELSE pg_try_advisory_lock(73911857, 1) END");

struct _StCampaigns {
  StEngine *engine;
  StWaker *waker;     /* while started: NOTIFY → worker wake-ups */
  GPtrArray *threads;
  gint stopping;
  gint leader;
  char *who;          /* requested_by of the runs this daemon schedules */
  GMutex lock;        /* guards the scheduler's sleep */
  GCond stop;
};

/* Workers ---------------------------------------------------------------- */

/* Start a run or process a batch; TRUE when there was one. */
static gboolean
work_once (StCampaigns *campaigns, StStore *store, StLua *lua,
           GError **error)
{
  return st_campaign_start_next (campaigns->engine, store, error)
         || (*error == NULL
             && st_campaign_batch_next (campaigns->engine, store, lua,
                                        &campaigns->stopping, error));
}

static gpointer
campaign_worker (gpointer data)
{
  StCampaigns *campaigns = data;
  StLuaLimits limits = st_engine_lua_limits (campaigns->engine);
  g_autoptr (StLua) lua = st_lua_new (&limits);
  g_autoptr (StStore) store = NULL;

  while (!g_atomic_int_get (&campaigns->stopping))
    {
      g_autoptr (GError) error = NULL;
      guint64 seen = st_waker_seq (campaigns->waker);

      if (store == NULL)
        store = st_engine_new_store (campaigns->engine, &error);
      if (store != NULL && work_once (campaigns, store, lua, &error))
        {
          /* One notification wakes one worker, but a run is many
           * batches: the others come too. */
          st_waker_wake (campaigns->waker, G_MAXUINT);
          continue;
        }
      if (error != NULL)
        g_debug ("campaign worker: %s", error->message);
      st_waker_wait (campaigns->waker, seen, CAMPAIGN_POLL_MS);
    }
  return NULL;
}

/* Scheduler -------------------------------------------------------------- */

static gboolean
take_lead (StStore *store, GError **error)
{
  g_autoptr (PGresult) res = NULL;
  gboolean leader;

  if (!st_store_begin (store, error))
    return FALSE;
  res = st_store_exec (store, &st_sql_campaign_lead, NULL, error);
  leader = res != NULL && PQgetvalue (res, 0, 0)[0] == 't';
  if (res == NULL || !st_store_commit (store, error))
    {
      st_store_rollback (store);
      return FALSE;
    }
  return leader;
}

/* @why: why this daemon does not lead, when it does not. */
static void
set_leader (StCampaigns *campaigns, gboolean leader, const char *why)
{
  if (g_atomic_int_exchange (&campaigns->leader, leader) != leader)
    g_message ("campaign scheduler: %s", leader ? "this daemon leads" : why);
}

/* Sleep one check interval, or until stopped. */
static void
scheduler_sleep (StCampaigns *campaigns)
{
  guint ms = st_engine_get_config (campaigns->engine)->campaign_check_ms;
  gint64 until = g_get_monotonic_time () + (gint64) ms * 1000;

  g_mutex_lock (&campaigns->lock);
  while (!g_atomic_int_get (&campaigns->stopping)
         && g_cond_wait_until (&campaigns->stop, &campaigns->lock, until))
    ;
  g_mutex_unlock (&campaigns->lock);
}

static gpointer
campaign_scheduler (gpointer data)
{
  StCampaigns *campaigns = data;
  g_autoptr (StStore) store = NULL;

  while (!g_atomic_int_get (&campaigns->stopping))
    {
      g_autoptr (GError) error = NULL;

      if (store == NULL)
        store = st_engine_new_store (campaigns->engine, &error);
      if (store != NULL)
        {
          gboolean leader = take_lead (store, &error);

          /* A lost connection took the lock with it; the lead is asked
           * for again once the database is back. */
          set_leader (campaigns, leader,
                      error != NULL ? "the database is unavailable; this "
                                      "daemon leads again once it is back"
                                    : "another daemon leads");
          if (error == NULL && g_atomic_int_get (&campaigns->leader))
            {
              g_autoptr (GError) left = NULL;

              if (!st_campaign_schedule_tick (campaigns->engine, store,
                                              campaigns->who, &error))
                g_warning ("campaign scheduler: %s", error->message);
              /* The leader also ends the cancellations that their daemon
               * left half done, whatever the tick did. */
              if (!st_campaign_run_cancel_left (store, &left))
                g_warning ("campaign scheduler: cancelled runs: %s",
                           left->message);
            }
        }
      if (error != NULL)
        g_debug ("campaign scheduler: %s", error->message);
      scheduler_sleep (campaigns);
    }
  /* Closing the connection gives the lead up at once. */
  set_leader (campaigns, FALSE, "stopped");
  return NULL;
}

/* Life ------------------------------------------------------------------- */

StCampaigns *
st_campaigns_new (StEngine *engine)
{
  StCampaigns *campaigns = g_new0 (StCampaigns, 1);

  campaigns->engine = engine;
  campaigns->threads = g_ptr_array_new ();
  campaigns->who = g_strdup_printf ("scheduler (pid %d on %s)", (int) getpid (),
                                    g_get_host_name ());
  g_mutex_init (&campaigns->lock);
  g_cond_init (&campaigns->stop);
  return campaigns;
}

void
st_campaigns_start (StCampaigns *campaigns)
{
  guint n = MAX (st_engine_get_config (campaigns->engine)->campaign_workers, 1);
  g_autoptr (GError) error = NULL;

  campaigns->waker = st_waker_new (st_engine_conninfo (campaigns->engine),
                                   ST_CAMPAIGN_CHANNEL, "stewardd-campaigns",
                                   &error);
  if (campaigns->waker == NULL)
    {
      g_warning ("campaigns: %s; no campaign runs in this daemon",
                 error->message);
      return;
    }
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (campaigns->threads,
                     g_thread_new ("st-campaign", campaign_worker, campaigns));
  g_ptr_array_add (campaigns->threads,
                   g_thread_new ("st-scheduler", campaign_scheduler,
                                 campaigns));
}

void
st_campaigns_free (StCampaigns *campaigns)
{
  if (campaigns == NULL)
    return;
  g_mutex_lock (&campaigns->lock);
  g_atomic_int_set (&campaigns->stopping, 1);
  g_cond_broadcast (&campaigns->stop);
  g_mutex_unlock (&campaigns->lock);
  if (campaigns->waker != NULL)
    st_waker_stop (campaigns->waker);
  for (guint i = 0; i < campaigns->threads->len; i++)
    g_thread_join (g_ptr_array_index (campaigns->threads, i));
  g_clear_pointer (&campaigns->waker, st_waker_free);
  g_ptr_array_unref (campaigns->threads);
  g_mutex_clear (&campaigns->lock);
  g_cond_clear (&campaigns->stop);
  g_free (campaigns->who);
  g_free (campaigns);
}

gboolean
st_campaigns_is_leader (StCampaigns *campaigns)
{
  return campaigns != NULL && g_atomic_int_get (&campaigns->leader);
}
