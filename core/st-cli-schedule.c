/* stewardctl schedule next: the next times a cron schedule fires, worked
 * out here rather than by the daemon, so that a person can check a
 * campaign's schedule before trusting it, with no daemon or bus at all. */

#include "st-cli-schedule.h"

#include "st-cli-input.h"
#include "st-cron.h"

#define ST_SCHEDULE_DEFAULT_COUNT 5
#define ST_SCHEDULE_MAX_COUNT 1000

/* "2024-05-06T09:00:00+02:00": the offset always in digits, so that the
 * text and the JSON read the same. The year has four digits (%Y alone
 * writes 999), and an offset of local mean time its seconds (Paris was
 * +00:09:21), so that the text names the very instant. */
static char *
format_time (GDateTime *time)
{
  g_autofree char *rest = g_date_time_format (time, "-%m-%dT%H:%M:%S");
  GTimeSpan offset = g_date_time_get_utc_offset (time) / G_TIME_SPAN_SECOND;
  gint64 span = ABS (offset);
  g_autofree char *seconds = span % 60 != 0
                                 ? g_strdup_printf (":%02d", (int) (span % 60))
                                 : g_strdup ("");

  return g_strdup_printf ("%04d%s%c%02d:%02d%s", g_date_time_get_year (time),
                          rest, offset < 0 ? '-' : '+', (int) (span / 3600),
                          (int) (span / 60 % 60), seconds);
}

static void
print_times (StCtl *ctl, const char *expr, GPtrArray *times, GDateTime *from, GTimeZone *tz)
{
  if (ctl->json)
    {
      g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("as"));
      g_autoptr (GVariant) array = NULL;

      for (guint i = 0; i < times->len; i++)
        {
          g_autofree char *text = format_time (g_ptr_array_index (times, i));

          g_variant_builder_add (&builder, "s", text);
        }
      array = g_variant_ref_sink (g_variant_builder_end (&builder));
      st_cli_print_json (array);
      return;
    }

  if (times->len == 0)
    {
      g_autoptr (GDateTime) local = g_date_time_to_timezone (from, tz);
      g_autofree char *shown = format_time (local);

      printf ("'%s' does not fire after %s\n", expr, shown);
      return;
    }
  for (guint i = 0; i < times->len; i++)
    {
      GDateTime *time = g_ptr_array_index (times, i);
      g_autofree char *text = format_time (time);
      g_autofree char *day = g_date_time_format (time, "%a");

      printf ("%s  %s\n", text, day);
    }
}

int
st_cli_schedule_next (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autofree char *zone = NULL, *from_text = NULL, *count_text = NULL;
  const GOptionEntry entries[] = {
    { "tz", 0, 0, G_OPTION_ARG_FILENAME, &zone,
      "The schedule's time zone (default: the local one)", "ZONE" },
    { "from", 0, 0, G_OPTION_ARG_FILENAME, &from_text,
      "Fire times after this (default: now); no offset: in --tz", "ISO-8601" },
    { "count", 0, 0, G_OPTION_ARG_FILENAME, &count_text,
      "How many fire times (default 5, at most 1000)", "N" },
    { NULL },
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GTimeZone) tz = NULL;
  g_autoptr (GDateTime) from = NULL;
  g_autoptr (GDateTime) after = NULL;
  g_autoptr (StCron) cron = NULL;
  g_autoptr (GPtrArray) times = g_ptr_array_new_with_free_func ((GDestroyNotify) g_date_time_unref);
  const char *expr;
  guint64 count = ST_SCHEDULE_DEFAULT_COUNT;
  int status;

  status = st_cli_parse_command_line (ctl, command, entries, args, "EXPR");
  if (status >= 0)
    return status;
  expr = (*args)[1];

  if (zone != NULL)
    {
      tz = *zone != '\0' ? g_time_zone_new_identifier (zone) : NULL;
      if (tz == NULL)
        return st_cli_usage_error (command,
                                   "--tz: unknown time zone '%s'; give a name from the tz "
                                   "database such as Europe/Paris, UTC, or an offset such as "
                                   "+02:00",
                                   zone);
    }
  else
    tz = g_time_zone_ref (ctl->local);

  if (count_text != NULL &&
      (!g_ascii_isdigit (*count_text) ||
       !g_ascii_string_to_unsigned (count_text, 10, 1, ST_SCHEDULE_MAX_COUNT, &count, NULL)))
    return st_cli_usage_error (command, "--count: '%s' is not a whole number from 1 to %d",
                               count_text, ST_SCHEDULE_MAX_COUNT);

  if (from_text != NULL)
    {
      from = st_cli_parse_time (from_text, tz, &error);
      if (from == NULL)
        return st_cli_usage_error (command, "--from: %s", error->message);
    }
  else
    from = g_date_time_ref (ctl->now);

  cron = st_cron_parse (expr, &error);
  if (cron == NULL)
    return st_cli_usage_error (command, "EXPR: %s", error->message);

  if (st_cron_never (cron))
    {
      if (ctl->json)
        print_times (ctl, expr, times, from, tz);
      else
        printf ("'%s' never fires: no date matches its day-of-month, month and "
                "day-of-week fields\n",
                expr);
      return ST_CLI_EXIT_OK;
    }

  after = g_date_time_ref (from);
  while (times->len < count)
    {
      GDateTime *next = st_cron_next (cron, after, tz);

      if (next == NULL)
        break;
      g_ptr_array_add (times, next);
      g_date_time_unref (after);
      after = g_date_time_ref (next);
    }
  print_times (ctl, expr, times, from, tz);
  return ST_CLI_EXIT_OK;
}
