/* The Campaigns interface: List (the campaigns, when each fires next),
 * Run (a run now; its object is st-service-runs.c's) and Runs. */

#include "st-service-private.h"

#include <string.h>

#include "st-campaign-runs.h"
#include "st-campaign-schedule.h"
#include "st-campaign-work.h"
#include "st-error.h"
#include "st-record.h"

/* Runs without a limit given. */
#define ST_RUNS_DEFAULT_LIMIT 20

/* List ------------------------------------------------------------------- */

static void
add_string (GVariantBuilder *entry, const char *key, const char *value)
{
  if (value != NULL)
    g_variant_builder_add (entry, "{sv}", key, g_variant_new_string (value));
}

/* What people see of a campaign's audience and when it fires next; the
 * first problem found makes it broken. */
static void
describe_campaign (GVariantBuilder *entry, const StScript *script,
                   const char *const *zones, const char *default_tz,
                   GDateTime *now)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StCron) cron = st_cron_parse (script->schedule, &error);
  g_autoptr (GVariant) spec = NULL;
  g_autoptr (StAudience) audience = NULL;
  g_autoptr (GDateTime) next = NULL;
  g_autofree char *described = NULL;

  if (cron != NULL && script->audience_json != NULL)
    spec = st_record_from_json (script->audience_json, &error);
  if (spec != NULL)
    audience = st_audience_new (g_variant_ref_sink (spec), &error);
  if (audience != NULL)
    {
      described = st_audience_describe (audience);
      add_string (entry, "audience", described);
    }
  if (cron != NULL)
    next = st_campaign_next_fire (cron, script->local_time, zones, default_tz,
                                  now);
  if (next != NULL)
    {
      g_autoptr (GDateTime) utc = g_date_time_to_utc (next);
      g_variant_builder_add (entry, "{sv}", "next_fire",
                             g_variant_new_take_string (
                                 g_date_time_format (utc,
                                                     "%Y-%m-%dT%H:%M:%S.%fZ")));
    }
  add_string (entry, "state", script->error || error ? "broken" : "ok");
  add_string (entry, "error", script->error ? script->error
                              : error       ? error->message
                                            : NULL);
}

static GVariant *
campaign_entry (const StScript *script, const char *const *zones,
                const char *default_tz, GDateTime *now)
{
  GVariantBuilder entry;

  g_variant_builder_init (&entry, G_VARIANT_TYPE_VARDICT);
  add_string (&entry, "name", script->name);
  add_string (&entry, "description", script->description);
  add_string (&entry, "path", script->path);
  add_string (&entry, "schedule", script->schedule);
  g_variant_builder_add (&entry, "{sv}", "local_time",
                         g_variant_new_boolean (script->local_time));
  describe_campaign (&entry, script, zones, default_tz, now);
  return g_variant_builder_end (&entry);
}

/* The zones in use, when some campaign fires in local time. */
static GStrv
zones_for (StCall *call, GPtrArray *list, GError **error)
{
  const StConfig *config = st_engine_get_config (call->service->engine);
  StStore *store;
  GStrv zones;
  gboolean local = FALSE;

  for (guint i = 0; i < list->len; i++)
    local = local || ((const StScript *) g_ptr_array_index (list, i))
                         ->local_time;
  if (!local)
    return g_new0 (char *, 1);
  store = st_call_store (call, error);
  if (store == NULL || !st_store_begin (store, error))
    return NULL;
  zones = st_campaign_zones (store, config->default_tz, error);
  st_store_rollback (store);
  return zones;
}

GVariant *
st_service_campaign_list (StCall *call, GVariant *params, GError **error)
{
  g_autoptr (StScriptSet) scripts = st_engine_get_scripts (
      call->service->engine);
  g_autoptr (GPtrArray) list = st_script_set_list (scripts);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_auto (GStrv) zones = NULL;
  GVariantBuilder builder;

  (void) params;
  for (guint i = list->len; i-- > 0;)
    if (((const StScript *) g_ptr_array_index (list, i))->schedule == NULL)
      g_ptr_array_remove_index (list, i);
  zones = zones_for (call, list, error);
  if (zones == NULL)
    return NULL;
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < list->len; i++)
    g_variant_builder_add_value (
        &builder, campaign_entry (g_ptr_array_index (list, i),
                                  (const char *const *) zones,
                                  st_engine_get_config (call->service->engine)
                                      ->default_tz,
                                  now));
  return g_variant_new ("(aa{sv})", &builder);
}

/* Run -------------------------------------------------------------------- */

static gboolean
read_run_options (GVariant *options, StRunRequest *request,
                  GDateTime **occurrence, GError **error)
{
  static const char *const known[] = { "dry_run", "occurrence", "zone", NULL };
  g_autoptr (GVariant) dry_run = g_variant_lookup_value (options, "dry_run",
                                                         NULL);
  const char *at = NULL;

  if (!st_record_check_keys (options, known, "options", error)
      || !st_record_get_string (options, "occurrence", &at, error)
      || !st_record_get_string (options, "zone", &request->zone, error))
    return FALSE;
  if (dry_run != NULL)
    {
      if (!g_variant_is_of_type (dry_run, G_VARIANT_TYPE_BOOLEAN))
        {
          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "dry_run: must be a boolean (b)");
          return FALSE;
        }
      request->dry_run = g_variant_get_boolean (dry_run);
    }
  if (at != NULL)
    {
      g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
      *occurrence = g_date_time_new_from_iso8601 (at, utc);
      if (*occurrence == NULL)
        {
          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "occurrence: '%s' is not an ISO-8601 time; write it "
                       "like 2026-03-29T09:00:00+02:00", at);
          return FALSE;
        }
      request->occurrence = *occurrence;
    }
  if (request->zone != NULL)
    {
      g_autoptr (GTimeZone) tz = g_time_zone_new_identifier (request->zone);
      if (tz == NULL)
        {
          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "zone: '%s' is not a time zone; give an IANA zone "
                       "such as Europe/Paris", request->zone);
          return FALSE;
        }
    }
  return TRUE;
}

GVariant *
st_service_campaign_run (StCall *call, GVariant *params, GError **error)
{
  g_autoptr (GVariant) options = g_variant_get_child_value (params, 1);
  g_autoptr (GDateTime) occurrence = NULL;
  g_autofree char *actor = NULL, *path = NULL;
  StCampaignScript campaign = { 0 };
  StRunRequest request = { 0 };
  StStore *store;
  gboolean created = FALSE, usable;
  gint64 id;

  g_variant_get_child (params, 0, "&s", &request.campaign);
  usable = st_campaign_script_load (call->service->engine, request.campaign,
                                    &campaign, error);
  st_campaign_script_clear (&campaign);
  if (!usable || !read_run_options (options, &request, &occurrence, error))
    return NULL;
  store = st_call_store (call, error);
  if (store == NULL)
    return NULL;
  actor = st_call_actor (call);
  request.requested_by = actor;
  id = st_campaign_runs_create (store, &request, &created, error);
  if (id < 0)
    return NULL;
  if (!created)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_ALREADY_EXISTS,
                   "campaign %s already has a run for that occurrence "
                   "(run %" G_GINT64_FORMAT "); 'stewardctl campaign show %"
                   G_GINT64_FORMAT "' shows it", request.campaign, id, id);
      return NULL;
    }
  g_message ("campaign %s: run %" G_GINT64_FORMAT " asked for by %s%s",
             request.campaign, id, actor,
             request.dry_run ? " (dry run)" : "");
  path = st_run_path (id);
  st_run_watch_poke (call->service->watch);
  return g_variant_new ("(o)", path);
}

/* Runs -------------------------------------------------------------------- */

/* @record with its object path added. */
static GVariant *
with_path (GVariant *record)
{
  gint64 id = 0;

  g_variant_lookup (record, "id", "x", &id);
  return st_record_with (record, "path",
                         g_variant_new_take_string (st_run_path (id)));
}

GVariant *
st_service_campaign_runs (StCall *call, GVariant *params, GError **error)
{
  const char *name;
  guint limit;
  g_autoptr (GVariant) runs = NULL;
  GVariantBuilder builder;
  GVariantIter iter;
  GVariant *run;
  StStore *store = st_call_store (call, error);

  if (store == NULL)
    return NULL;
  g_variant_get (params, "(&su)", &name, &limit);
  runs = st_campaign_runs_list (store, name,
                                limit ? limit : ST_RUNS_DEFAULT_LIMIT, error);
  if (runs == NULL)
    return NULL;
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_iter_init (&iter, runs);
  while ((run = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr (GVariant) listed = with_path (run);

      g_variant_builder_add_value (&builder, listed);
      g_variant_unref (run);
    }
  return g_variant_new ("(aa{sv})", &builder);
}
