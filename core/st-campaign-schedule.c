/* When campaigns fire: the occurrences due since the scheduler last
 * looked, per campaign and, for local-time campaigns, per zone in use;
 * and the look itself, which the leader makes every check_interval. */

#include "st-campaign-schedule.h"

#include <string.h>

#include "st-campaign-runs.h"
#include "st-engine.h"
#include "st-error.h"

/* The zones in use, read down the (tz, id) index one zone at a time, and
 * default_tz when some customer has none. */
ST_STATEMENT_DEFINE (st_sql_schedule_zones, 1,
  "WITH RECURSIVE z(tz) AS ("
  "  (SELECT tz FROM customers WHERE tz IS NOT NULL ORDER BY tz LIMIT 1)"
  "  UNION ALL"
  "  SELECT (SELECT c.tz FROM customers c WHERE c.tz > z.tz"
  "           ORDER BY c.tz LIMIT 1) FROM z WHERE z.tz IS NOT NULL)"
  "SELECT tz FROM z WHERE tz IS NOT NULL"
  " UNION SELECT $1::text WHERE EXISTS (SELECT 1 FROM customers"
  "                                      WHERE tz IS NULL)"
  " ORDER BY 1");

ST_STATEMENT_DEFINE (st_sql_schedule_now, 0,
  "SELECT (extract(epoch FROM now()) * 1000000)::bigint");

ST_STATEMENT_DEFINE (st_sql_schedule_get, 1,
  "SELECT schedule, local_time,"
  "       (extract(epoch FROM checked_until) * 1000000)::bigint"
  "  FROM campaign_schedules WHERE campaign = $1 FOR UPDATE");

ST_STATEMENT_DEFINE (st_sql_schedule_put, 4,
  "INSERT INTO campaign_schedules (campaign, schedule, local_time,"
  "                                checked_until)"
  " VALUES ($1, $2, $3::boolean,"
  "         'epoch'::timestamptz + $4::bigint * interval '1 microsecond')"
  " ON CONFLICT (campaign) DO UPDATE SET schedule = EXCLUDED.schedule,"
  "   local_time = EXCLUDED.local_time,"
  "   checked_until = EXCLUDED.checked_until");

/* An occurrence more than this late is skipped under catch_up: none; the
 * scheduler's own period is added (twice), since a look may come that
 * late. */
#define ST_SCHEDULE_GRACE (60 * G_TIME_SPAN_SECOND)
/* Runs made for one campaign in one look under catch_up: all. */
#define ST_SCHEDULE_MAX_RUNS 100

/* Occurrences ----------------------------------------------------------- */

/* The occurrences in (@from, @now], oldest first, at most @max. */
static GPtrArray *
occurrences (const StCron *cron, GTimeZone *tz, GDateTime *from,
             GDateTime *now, guint max)
{
  GPtrArray *found = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_date_time_unref);
  g_autoptr (GDateTime) at = g_date_time_ref (from);

  while (found->len < max)
    {
      GDateTime *next = st_cron_next (cron, at, tz);

      if (next == NULL || g_date_time_compare (next, now) > 0)
        {
          g_clear_pointer (&next, g_date_time_unref);
          break;
        }
      g_ptr_array_add (found, next);
      g_date_time_unref (at);
      at = g_date_time_ref (next);
    }
  return found;
}

/* The latest occurrence in (@from, @now], or NULL. After a long downtime
 * the occurrences in between are many (a year of minutes): look back an
 * hour, then a day, then 24 days..., until one is found or @from is
 * reached. */
static GDateTime *
latest_occurrence (const StCron *cron, GTimeZone *tz, GDateTime *from,
                   GDateTime *now)
{
  GTimeSpan span = G_TIME_SPAN_HOUR;

  for (;;)
    {
      g_autoptr (GDateTime) back = g_date_time_add (now, -span);
      GDateTime *start = back != NULL && g_date_time_compare (back, from) > 0
                             ? back : from;
      GDateTime *latest = NULL;

      g_autoptr (GDateTime) at = g_date_time_ref (start);
      GDateTime *next;

      while ((next = st_cron_next (cron, at, tz)) != NULL
             && g_date_time_compare (next, now) <= 0)
        {
          g_date_time_unref (at);
          at = next;
          g_clear_pointer (&latest, g_date_time_unref);
          latest = g_date_time_ref (next);
        }
      g_clear_pointer (&next, g_date_time_unref);
      if (latest != NULL || start == from)
        return latest;
      span *= 24;
    }
}

GPtrArray *
st_campaign_due (const StCron *cron, GTimeZone *tz, GDateTime *from,
                 GDateTime *now, StCatchUp catch_up, GTimeSpan grace,
                 guint max)
{
  GPtrArray *due;
  GDateTime *latest;

  if (catch_up == ST_CATCH_UP_ALL)
    return occurrences (cron, tz, from, now, max);
  due = g_ptr_array_new_with_free_func ((GDestroyNotify) g_date_time_unref);
  latest = latest_occurrence (cron, tz, from, now);
  if (latest == NULL)
    return due;
  if (catch_up == ST_CATCH_UP_NONE
      && g_date_time_difference (now, latest) > grace)
    g_date_time_unref (latest);
  else
    g_ptr_array_add (due, latest);
  return due;
}

GStrv
st_campaign_zones (StStore *store, const char *default_tz, GError **error)
{
  g_autoptr (PGresult) res = st_store_exec (store, &st_sql_schedule_zones,
                                            (const char *[]){ default_tz },
                                            error);
  GStrvBuilder *builder;
  GStrv zones;

  if (res == NULL)
    return NULL;
  builder = g_strv_builder_new ();
  for (int row = 0; row < PQntuples (res); row++)
    g_strv_builder_add (builder, PQgetvalue (res, row, 0));
  zones = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return zones;
}

static GTimeZone *
zone_new (const char *name)
{
  GTimeZone *tz = g_time_zone_new_identifier (name);

  if (tz == NULL)
    g_warning ("time zone '%s' is not known here; its customers' local-time "
               "campaigns are skipped", name);
  return tz;
}

GDateTime *
st_campaign_next_fire (const StCron *cron, gboolean local_time,
                       const char *const *zones, const char *default_tz,
                       GDateTime *after)
{
  const char *const only_default[] = { default_tz, NULL };
  GDateTime *earliest = NULL;

  if (!local_time || zones == NULL || zones[0] == NULL)
    zones = only_default;
  for (guint i = 0; zones[i] != NULL; i++)
    {
      g_autoptr (GTimeZone) tz = zone_new (zones[i]);
      GDateTime *next = tz != NULL ? st_cron_next (cron, after, tz) : NULL;

      if (next != NULL
          && (earliest == NULL || g_date_time_compare (next, earliest) < 0))
        {
          g_clear_pointer (&earliest, g_date_time_unref);
          earliest = next;
        }
      else
        g_clear_pointer (&next, g_date_time_unref);
    }
  return earliest;
}

/* The leader's look ------------------------------------------------------ */

typedef struct {
  StEngine *engine;
  StStore *store;
  const StConfig *config;
  const char *who;
  GDateTime *now;
  GStrv zones;   /* read at the first local-time campaign */
} StTick;

static GDateTime *
usec_to_time (gint64 usec)
{
  g_autoptr (GDateTime) seconds = g_date_time_new_from_unix_utc (
      usec / G_USEC_PER_SEC);

  return g_date_time_add (seconds, usec % G_USEC_PER_SEC);
}

static gint64
time_to_usec (GDateTime *time)
{
  return g_date_time_to_unix (time) * G_USEC_PER_SEC
         + g_date_time_get_microsecond (time);
}

static gboolean
remember (StTick *tick, const StScript *script, GDateTime *until,
          GError **error)
{
  g_autofree char *usec = g_strdup_printf ("%" G_GINT64_FORMAT,
                                           time_to_usec (until));
  g_autoptr (PGresult) res = st_store_exec (
      tick->store, &st_sql_schedule_put,
      (const char *[]){ script->name, script->schedule,
                        script->local_time ? "true" : "false", usec },
      error);

  return res != NULL;
}

/* Insert the runs of @zone's due occurrences (zone NULL: not local time,
 * read in default_tz); *until moves back to the last one when they were
 * cut at the maximum. */
static gboolean
fire_zone (StTick *tick, const StScript *script, const StCron *cron,
           GDateTime *from, const char *zone, GDateTime **until,
           GError **error)
{
  g_autoptr (GTimeZone) tz = zone_new (zone ? zone : tick->config->default_tz);
  g_autoptr (GPtrArray) due = NULL;
  GTimeSpan grace = ST_SCHEDULE_GRACE
                    + 2 * (GTimeSpan) tick->config->campaign_check_ms * 1000;

  if (tz == NULL)
    return TRUE;
  due = st_campaign_due (cron, tz, from, tick->now,
                         tick->config->campaign_catch_up, grace,
                         ST_SCHEDULE_MAX_RUNS);
  for (guint i = 0; i < due->len; i++)
    {
      StRunRequest request = { script->name, g_ptr_array_index (due, i),
                               zone, FALSE, tick->who };
      gboolean created;

      if (!st_campaign_runs_insert (tick->store, &request, &created, error))
        return FALSE;
      if (created)
        {
          g_autofree char *at = g_date_time_format_iso8601 (
              request.occurrence);
          g_message ("campaign %s: run for %s%s%s created", script->name, at,
                     zone ? " in " : "", zone ? zone : "");
        }
    }
  if (due->len >= ST_SCHEDULE_MAX_RUNS
      && g_date_time_compare (g_ptr_array_index (due, due->len - 1), *until)
             < 0)
    {
      g_date_time_unref (*until);
      *until = g_date_time_ref (g_ptr_array_index (due, due->len - 1));
    }
  return TRUE;
}

static gboolean
fire_campaign (StTick *tick, const StScript *script, GError **error)
{
  g_autoptr (StCron) cron = st_cron_parse (script->schedule, NULL);
  g_autoptr (PGresult) row = NULL;
  g_autoptr (GDateTime) from = NULL, until = NULL;

  if (cron == NULL)
    return TRUE; /* the script loader reports a bad schedule */
  row = st_store_exec (tick->store, &st_sql_schedule_get,
                       (const char *[]){ script->name }, error);
  if (row == NULL)
    return FALSE;
  /* First seen, or rescheduled: from now on. */
  if (PQntuples (row) == 0
      || strcmp (PQgetvalue (row, 0, 0), script->schedule) != 0
      || (PQgetvalue (row, 0, 1)[0] == 't') != script->local_time)
    return remember (tick, script, tick->now, error);

  from = usec_to_time (g_ascii_strtoll (PQgetvalue (row, 0, 2), NULL, 10));
  until = g_date_time_ref (tick->now);
  if (!script->local_time)
    {
      if (!fire_zone (tick, script, cron, from, NULL, &until, error))
        return FALSE;
    }
  else
    {
      if (tick->zones == NULL)
        tick->zones = st_campaign_zones (tick->store,
                                         tick->config->default_tz, error);
      for (guint i = 0; tick->zones != NULL && tick->zones[i] != NULL; i++)
        if (!fire_zone (tick, script, cron, from, tick->zones[i], &until,
                        error))
          return FALSE;
      if (tick->zones == NULL)
        return FALSE;
    }
  return remember (tick, script, until, error);
}

static gboolean
tick_now (StTick *tick, GError **error)
{
  g_autoptr (PGresult) res = st_store_exec (tick->store, &st_sql_schedule_now,
                                            NULL, error);

  if (res == NULL)
    return FALSE;
  tick->now = usec_to_time (g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL,
                                             10));
  return TRUE;
}

gboolean
st_campaign_schedule_tick (StEngine *engine, StStore *store, const char *who,
                           GError **error)
{
  g_autoptr (StScriptSet) scripts = st_engine_get_scripts (engine);
  g_autoptr (GPtrArray) list = st_script_set_list (scripts);
  StTick tick = { engine, store, st_engine_get_config (engine), who, NULL,
                  NULL };
  gboolean ok;

  if (!st_store_begin (store, error))
    return FALSE;
  ok = tick_now (&tick, error);
  for (guint i = 0; ok && i < list->len; i++)
    {
      const StScript *script = g_ptr_array_index (list, i);

      if (script->error == NULL && script->schedule != NULL)
        ok = fire_campaign (&tick, script, error);
    }
  g_clear_pointer (&tick.now, g_date_time_unref);
  g_strfreev (tick.zones);
  if (!ok || !st_store_commit (store, error))
    {
      st_store_rollback (store);
      return FALSE;
    }
  return TRUE;
}
