/* Starting a campaign run: the audience as it is now, split into batches
 * of ids in one statement, so that no daemon ever holds the whole audience
 * in memory and every batch is claimable by any worker. */

#include "st-campaign-work.h"

#include "st-campaign-runs.h"
#include "st-engine.h"
#include "st-error.h"
#include "st-record.h"

ST_STATEMENT_DEFINE (st_sql_run_claim_pending, 0,
  "SELECT id, campaign, zone FROM campaign_runs WHERE state = 'pending'"
  "   AND cancelled_by IS NULL"
  " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED");

ST_STATEMENT_DEFINE (st_sql_run_fail, 2,
  "UPDATE campaign_runs SET state = 'failed', last_error = $2,"
  "  finished_at = clock_timestamp()"
  " WHERE id = $1 AND state IN ('pending', 'running')");

gboolean
st_campaign_script_load (StEngine *engine, const char *name,
                         StCampaignScript *campaign, GError **error)
{
  g_autoptr (GVariant) spec = NULL;

  campaign->scripts = st_engine_get_scripts (engine);
  campaign->script = st_script_set_find (campaign->scripts, name);
  campaign->audience = NULL;
  if (campaign->script == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_NOT_FOUND,
                   "no campaign named '%s' is loaded (removed or renamed?); "
                   "'stewardctl campaign list' shows them", name);
      return FALSE;
    }
  if (campaign->script->error != NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                   "campaign %s is broken: %s", name, campaign->script->error);
      return FALSE;
    }
  if (campaign->script->schedule == NULL
      || campaign->script->audience_json == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "script %s is not a campaign: it has no schedule and "
                   "audience", name);
      return FALSE;
    }
  spec = st_record_from_json (campaign->script->audience_json, error);
  if (spec == NULL)
    return FALSE;
  g_variant_ref_sink (spec);
  campaign->audience = st_audience_new (spec, error);
  if (campaign->audience == NULL
      || !st_audience_check_stages (campaign->audience,
                                    st_engine_get_config (engine), error))
    {
      g_prefix_error (error, "campaign %s: ", name);
      return FALSE;
    }
  return TRUE;
}

void
st_campaign_script_clear (StCampaignScript *campaign)
{
  g_clear_pointer (&campaign->audience, st_audience_free);
  g_clear_pointer (&campaign->scripts, st_script_set_unref);
  campaign->script = NULL;
}

/* The split: the audience's ids (in a zone, for a local-time run),
 * numbered in order and grouped by batch_size, inserted as batches; the
 * run gets its total and starts (or is done at once when empty). */
static char *
split_sql (const StAudience *audience, GPtrArray *params, gboolean zoned)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *ids = NULL, *in_zone = NULL;
  guint run, size;

  g_ptr_array_add (params, g_strdup ("0"));  /* after id */
  g_ptr_array_add (params, NULL);            /* no limit */
  g_ptr_array_add (params, g_date_time_format_iso8601 (now));
  ids = st_audience_sql (audience, params);
  run = params->len + 1;
  size = params->len + 2;
  /* A customer without a zone is in default_tz's. */
  if (zoned)
    in_zone = g_strdup_printf (" JOIN customers c ON c.id = a.id"
                               " WHERE COALESCE(c.tz, $%u) = $%u",
                               params->len + 4, params->len + 3);
  return g_strdup_printf (
      "WITH a AS (%s),"
      " n AS (SELECT a.id, (row_number() OVER (ORDER BY a.id) - 1)"
      "              / $%u::bigint AS g FROM a%s),"
      " b AS (INSERT INTO run_batches (run_id, batch_no, first_id, last_id,"
      "                                ids)"
      "       SELECT $%u::bigint, g::integer, min(id), max(id),"
      "              array_agg(id ORDER BY id) FROM n GROUP BY g"
      "       RETURNING cardinality(ids) AS size),"
      " t AS (SELECT count(*) AS batches, COALESCE(sum(size), 0) AS total"
      "       FROM b)"
      " UPDATE campaign_runs r SET total = t.total, batches = t.batches,"
      "   state = CASE WHEN t.batches = 0 THEN 'done' ELSE 'running' END,"
      "   started_at = clock_timestamp(),"
      "   finished_at = CASE WHEN t.batches = 0 THEN clock_timestamp() END"
      " FROM t WHERE r.id = $%u::bigint"
      " RETURNING r.total, pg_notify('" ST_CAMPAIGN_CHANNEL "', '')",
      ids, size, zoned ? in_zone : "", run, run);
}

static gboolean
split_run (StEngine *engine, StStore *store, const char *run_id,
           const StAudience *audience, const char *zone, GError **error)
{
  const StConfig *config = st_engine_get_config (engine);
  g_autoptr (GPtrArray) params = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *sql = split_sql (audience, params, zone != NULL);
  g_autoptr (PGresult) res = NULL;

  g_ptr_array_add (params, g_strdup (run_id));
  g_ptr_array_add (params, g_strdup_printf ("%u", config->campaign_batch_size));
  if (zone != NULL)
    {
      g_ptr_array_add (params, g_strdup (zone));
      g_ptr_array_add (params, g_strdup (config->default_tz));
    }
  res = st_store_exec_sql (store, sql, (int) params->len,
                           (const char *const *) params->pdata, error);
  if (res == NULL)
    return FALSE;
  g_debug ("campaign run %s started: %s targets", run_id,
           PQntuples (res) ? PQgetvalue (res, 0, 0) : "?");
  return TRUE;
}

static gboolean
fail_run (StStore *store, const char *run_id, const char *why,
          GError **error)
{
  g_autoptr (PGresult) res = st_store_exec (
      store, &st_sql_run_fail, (const char *[]){ run_id, why }, error);

  return res != NULL;
}

gboolean
st_campaign_start_next (StEngine *engine, StStore *store, GError **error)
{
  g_autoptr (PGresult) claim = NULL;
  g_autoptr (GError) why = NULL;
  StCampaignScript campaign = { 0 };
  const char *run_id, *zone;
  gboolean ok;

  if (!st_store_begin (store, error))
    return FALSE;
  claim = st_store_exec (store, &st_sql_run_claim_pending, NULL, error);
  if (claim == NULL || PQntuples (claim) == 0)
    {
      st_store_rollback (store);
      return FALSE;
    }
  run_id = PQgetvalue (claim, 0, 0);
  zone = PQgetisnull (claim, 0, 2) ? NULL : PQgetvalue (claim, 0, 2);
  if (st_campaign_script_load (engine, PQgetvalue (claim, 0, 1), &campaign,
                               &why))
    ok = split_run (engine, store, run_id, campaign.audience, zone, error);
  else
    {
      g_warning ("campaign run %s cannot start: %s", run_id, why->message);
      ok = fail_run (store, run_id, why->message, error);
    }
  st_campaign_script_clear (&campaign);
  if (!ok || !st_store_commit (store, error))
    {
      st_store_rollback (store);
      return FALSE;
    }
  return TRUE;
}
