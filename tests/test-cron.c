/* Tests for core/st-cron.c (cron schedules) and the `schedule next` command
 * of stewardctl (core/st-cli-schedule.c).
 *
 * The recorded vectors of ../shared/data/cron_vectors.tsv run one test case
 * per row (/cron/vectors/<line>), each in the row's time zone. Then the
 * DST rule in Europe/Paris and America/New_York, the syntax (names, steps,
 * ranges, 7 = Sunday, L and #), the day-of-month OR day-of-week rule,
 * schedules that never fire, and parse errors naming their field. Last, the
 * real stewardctl binary, with no daemon and a bus address that leads
 * nowhere: `schedule next` is pure computation. */

#include "st-test-util.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "st-cron.h"
#include "st-error.h"

/* Helpers ------------------------------------------------------------------- */

static GDateTime *
parse_iso (const char *text)
{
  GDateTime *time = g_date_time_new_from_iso8601 (text, NULL);

  if (time == NULL)
    g_error ("bad ISO-8601 time in the test: %s", text);
  return time;
}

static GTimeZone *
zone (const char *name)
{
  GTimeZone *tz = g_time_zone_new_identifier (name);

  if (tz == NULL)
    g_error ("the tz database has no zone %s", name);
  return tz;
}

static StCron *
parse_ok (const char *expr)
{
  g_autoptr (GError) error = NULL;
  StCron *cron = st_cron_parse (expr, &error);

  if (cron == NULL)
    g_error ("'%s' does not parse: %s", expr, error->message);
  return cron;
}

/* "2024-03-31T03:00:00+02:00", or "NONE" for NULL */
static char *
show (GDateTime *time)
{
  if (time == NULL)
    return g_strdup ("NONE");
  return g_date_time_format (time, "%Y-%m-%dT%H:%M:%S%:z");
}

/* The fire times of @expr in @tz_name strictly after @from, one after the
 * other, each as show() writes it, must be the NULL-terminated list. */
G_GNUC_NULL_TERMINATED
static void
assert_fires (const char *expr, const char *tz_name, const char *from, ...)
{
  g_autoptr (StCron) cron = parse_ok (expr);
  g_autoptr (GTimeZone) tz = zone (tz_name);
  g_autoptr (GDateTime) after = parse_iso (from);
  const char *expected;
  va_list ap;

  va_start (ap, from);
  while ((expected = va_arg (ap, const char *)) != NULL)
    {
      g_autoptr (GDateTime) next = st_cron_next (cron, after, tz);
      g_autofree char *got = show (next);

      if (!g_str_equal (got, expected))
        {
          g_autofree char *shown_after = show (after);

          g_error ("'%s' in %s after %s: got %s, expected %s", expr, tz_name, shown_after,
                   got, expected);
        }
      if (next == NULL)
        break;
      g_date_time_unref (after);
      after = g_date_time_ref (next);
    }
  va_end (ap);
}

/* How many times @expr fires in @tz_name in [@from, @to). */
static guint
count_fires (const char *expr, const char *tz_name, const char *from, const char *to)
{
  g_autoptr (StCron) cron = parse_ok (expr);
  g_autoptr (GTimeZone) tz = zone (tz_name);
  g_autoptr (GDateTime) start = parse_iso (from);
  g_autoptr (GDateTime) end = parse_iso (to);
  g_autoptr (GDateTime) after = g_date_time_add_seconds (start, -1);
  guint n = 0;

  for (;;)
    {
      g_autoptr (GDateTime) next = st_cron_next (cron, after, tz);

      if (next == NULL || g_date_time_compare (next, end) >= 0)
        return n;
      n++;
      g_date_time_unref (after);
      after = g_steal_pointer (&next);
    }
}

/* The vectors --------------------------------------------------------------- */

typedef struct
{
  guint line;
  char **cols;
} Vector;

static char **vector_header;

static void
vector_free (gpointer data)
{
  Vector *vector = data;

  g_strfreev (vector->cols);
  g_free (vector);
}

static const char *
column (const Vector *vector, const char *name)
{
  for (guint i = 0; vector_header[i] != NULL; i++)
    if (g_str_equal (vector_header[i], name))
      return vector->cols[i];
  g_error ("cron_vectors.tsv has no column '%s'", name);
}

/* The tz column: "UTC(naive)" and "UTC(naive local)" are UTC; "fixed
 * +05:30 (offset of start)" a fixed offset; anything else a tz database
 * name. */
static GTimeZone *
vector_zone (const char *text)
{
  if (g_str_has_prefix (text, "UTC"))
    return g_time_zone_new_utc ();
  if (g_str_has_prefix (text, "fixed "))
    {
      g_auto (GStrv) words = g_strsplit (text, " ", -1);

      return zone (words[1]);
    }
  return zone (text);
}

/* The options croniter ran the row with, from the notes column
 * ("...; options {""day_or"": ""True""}"), or NULL. */
static JsonObject *
vector_options (const char *notes)
{
  g_autoptr (GString) text = g_string_new (notes);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  const char *start, *end;

  if (text->len >= 2 && text->str[0] == '"' && text->str[text->len - 1] == '"')
    {
      g_string_truncate (text, text->len - 1);
      g_string_erase (text, 0, 1);
      g_string_replace (text, "\"\"", "\"", 0);
    }
  start = strstr (text->str, "options {");
  if (start == NULL)
    return NULL;
  start += strlen ("options ");
  end = strchr (start, '}');
  g_assert_nonnull (end);
  if (!json_parser_load_from_data (parser, start, end + 1 - start, &error))
    g_error ("bad options in the notes: %s", error->message);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* croniter's expand_from_start_time anchors a "*\/n" step at the start
 * time's own value instead of the field's first: "*\/5" in day-of-month
 * from the 12th is "12/5". */
static char *
expand_from_start (const char *expr, GDateTime *start)
{
  g_auto (GStrv) fields = g_strsplit (expr, " ", -1);
  int values[5] = {
    g_date_time_get_minute (start),       g_date_time_get_hour (start),
    g_date_time_get_day_of_month (start), g_date_time_get_month (start),
    g_date_time_get_day_of_week (start) % 7,
  };

  g_assert_cmpuint (g_strv_length (fields), ==, 5);
  for (guint i = 0; i < 5; i++)
    if (g_str_has_prefix (fields[i], "*/"))
      {
        char *anchored = g_strdup_printf ("%d%s", values[i], fields[i] + 1);

        g_free (fields[i]);
        fields[i] = anchored;
      }
  return g_strjoinv (" ", fields);
}

/* @expr with day-of-month (@field 2) or day-of-week (4) made "*". */
static char *
without_day_field (const char *expr, guint field)
{
  g_auto (GStrv) fields = g_strsplit (expr, " ", -1);

  g_free (fields[field]);
  fields[field] = g_strdup ("*");
  return g_strjoinv (" ", fields);
}

/* Where both day fields must match (croniter's day_or=False, or its
 * implement_cron_bug: Vixie cron's reading of a day field that starts with
 * "*"): the first time both the day-of-month schedule and the
 * day-of-week schedule fire. */
static GDateTime *
next_both (const char *expr, GDateTime *after, GTimeZone *tz)
{
  g_autofree char *dom_expr = without_day_field (expr, 4);
  g_autofree char *dow_expr = without_day_field (expr, 2);
  g_autoptr (StCron) dom = parse_ok (dom_expr);
  g_autoptr (StCron) dow = parse_ok (dow_expr);
  g_autoptr (GDateTime) t = g_date_time_ref (after);

  for (guint i = 0; i < 100000; i++)
    {
      g_autoptr (GDateTime) a = st_cron_next (dom, t, tz);
      g_autoptr (GDateTime) b = st_cron_next (dow, t, tz);
      int order;

      if (a == NULL || b == NULL)
        return NULL;
      order = g_date_time_compare (a, b);
      if (order == 0)
        return g_steal_pointer (&a);
      g_date_time_unref (t);
      t = g_date_time_add_seconds (order < 0 ? b : a, -1);
    }
  g_error ("'%s': no common fire time found", expr);
}

static gboolean
same_instant (GDateTime *a, GDateTime *b)
{
  return a != NULL && b != NULL && g_date_time_compare (a, b) == 0;
}

static void
test_vector (gconstpointer data)
{
  const Vector *vector = data;
  const char *expression = column (vector, "expression");
  const char *start_local = column (vector, "start_local");
  const char *check = column (vector, "check");
  const char *next1_local = column (vector, "next1_local");
  g_autoptr (GTimeZone) tz = vector_zone (column (vector, "tz"));
  g_autoptr (JsonObject) options = vector_options (column (vector, "notes"));
  g_autoptr (GDateTime) start = parse_iso (*start_local != '\0' ? start_local
                                                               : column (vector, "start_utc"));
  g_autoptr (GDateTime) start_in_tz = g_date_time_to_timezone (start, tz);
  g_autoptr (GDateTime) after = NULL;
  g_autofree char *expr = g_strdup (expression);
  gboolean both = FALSE;
  const char *expected_columns[] = { "expected_next1_utc", "expected_next2_utc",
                                     "expected_next3_utc" };

  g_test_message ("line %u: '%s' from %s in %s, %s", vector->line, expression,
                  column (vector, "start_utc"), column (vector, "tz"), check);

  /* The options croniter recorded the row with. */
  if (options != NULL)
    {
      g_autoptr (GList) names = json_object_get_members (options);

      for (GList *l = names; l != NULL; l = l->next)
        {
          const char *name = l->data;
          const char *value = json_object_get_string_member (options, name);

          if (g_str_equal (name, "max_years_between_matches"))
            continue; /* our search is bounded exactly (st_cron_never) */
          if (g_str_equal (name, "second_at_beginning") && g_str_equal (value, "False"))
            continue;
          if (g_str_equal (name, "day_or"))
            both = both || g_str_equal (value, "False");
          else if (g_str_equal (name, "expand_from_start_time"))
            {
              if (g_str_equal (value, "True"))
                {
                  g_free (expr);
                  expr = expand_from_start (expression, start_in_tz);
                }
            }
          else if (g_str_equal (name, "implement_cron_bug"))
            {
              g_auto (GStrv) fields = g_strsplit (expression, " ", -1);

              if (g_str_equal (value, "True") &&
                  (g_str_has_prefix (fields[2], "*/") || g_str_has_prefix (fields[4], "*/")))
                both = TRUE;
            }
          else
            {
              g_test_fail_printf ("line %u: unknown option %s", vector->line, name);
              return;
            }
        }
    }
  if (!g_str_equal (column (vector, "inclusive"), "false"))
    after = g_date_time_add (start, -1); /* the start itself may be the answer */
  else
    after = g_date_time_ref (start);

  for (guint i = 0; i < G_N_ELEMENTS (expected_columns); i++)
    {
      const char *expected_text = column (vector, expected_columns[i]);
      g_autoptr (StCron) cron = parse_ok (expr);
      g_autoptr (GDateTime) next = both ? next_both (expr, after, tz)
                                        : st_cron_next (cron, after, tz);
      g_autoptr (GDateTime) expected = NULL;
      g_autofree char *got = show (next);

      if (*expected_text == '\0')
        break;
      if (g_str_equal (expected_text, "NONE"))
        {
          if (next != NULL)
            g_test_fail_printf ("line %u: '%s' must never fire, got %s", vector->line, expr,
                                got);
          g_assert_true (st_cron_never (cron));
          return;
        }
      expected = parse_iso (expected_text);
      if (g_str_equal (check, "not_next"))
        {
          if (same_instant (next, expected))
            g_test_fail_printf ("line %u: '%s' must not fire next at %s", vector->line, expr,
                                expected_text);
          return;
        }
      g_assert_cmpstr (check, ==, "next");
      if (!same_instant (next, expected))
        {
          g_autofree char *shown_after = show (after);

          g_test_fail_printf ("line %u: '%s' after %s: got %s, expected %s", vector->line,
                              expr, shown_after, got, expected_text);
          return;
        }
      /* returned in the zone: the offset of the recorded local time */
      if (i == 0 && *next1_local != '\0')
        {
          g_autoptr (GDateTime) local = parse_iso (next1_local);

          g_assert_cmpint (g_date_time_get_utc_offset (next), ==,
                           g_date_time_get_utc_offset (local));
        }
      g_date_time_unref (after);
      after = g_steal_pointer (&next);
    }
}

static char *
vectors_path (void)
{
  return st_test_source_path ("../shared/data/cron_vectors.tsv");
}

/* One test case per row, named after its line in the file. */
static guint
add_vector_tests (void)
{
  g_autofree char *path = vectors_path ();
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) lines = NULL;
  guint n = 0;

  if (!g_file_get_contents (path, &contents, NULL, &error))
    g_error ("cannot read the cron vectors: %s", error->message);
  lines = g_strsplit (contents, "\n", -1);
  vector_header = g_strsplit (lines[0], "\t", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      Vector *vector;
      g_autofree char *name = NULL;

      if (lines[i][0] == '\0')
        continue;
      vector = g_new0 (Vector, 1);
      vector->line = i + 1;
      vector->cols = g_strsplit (lines[i], "\t", -1);
      g_assert_cmpuint (g_strv_length (vector->cols), ==, g_strv_length (vector_header));
      name = g_strdup_printf ("/cron/vectors/%u", vector->line);
      g_test_add_data_func_full (name, vector, test_vector, vector_free);
      n++;
    }
  return n;
}

static void
test_vectors_count (gconstpointer data)
{
  /* the file's README promises 198 rows; all of them are run */
  g_assert_cmpuint (GPOINTER_TO_UINT (data), ==, 198);
}

/* DST ----------------------------------------------------------------------- */

/* Europe/Paris: on 2024-03-31 the clock goes from 02:00 CET to 03:00 CEST;
 * on 2024-10-27 from 03:00 CEST back to 02:00 CET. */
static void
test_dst_paris_spring (void)
{
  /* a time in the gap, at a fixed hour, fires when the clock resumes */
  assert_fires ("30 2 * * *", "Europe/Paris", "2024-03-30T00:00:00+01:00",
                "2024-03-30T02:30:00+01:00", "2024-03-31T03:00:00+02:00",
                "2024-04-01T02:30:00+02:00", NULL);
  assert_fires ("0 2 * * *", "Europe/Paris", "2024-03-31T00:00:00+01:00",
                "2024-03-31T03:00:00+02:00", "2024-04-01T02:00:00+02:00", NULL);
  /* ... once, however many of its times the gap swallows */
  assert_fires ("* 2 * * *", "Europe/Paris", "2024-03-31T01:59:00+01:00",
                "2024-03-31T03:00:00+02:00", "2024-04-01T02:00:00+02:00", NULL);
  /* when the hour is * or *\/n, the times that do not exist are skipped */
  assert_fires ("0 * * * *", "Europe/Paris", "2024-03-31T00:30:00+01:00",
                "2024-03-31T01:00:00+01:00", "2024-03-31T03:00:00+02:00",
                "2024-03-31T04:00:00+02:00", NULL);
  assert_fires ("*/15 * * * *", "Europe/Paris", "2024-03-31T01:30:00+01:00",
                "2024-03-31T01:45:00+01:00", "2024-03-31T03:00:00+02:00",
                "2024-03-31T03:15:00+02:00", NULL);
  assert_fires ("0 */2 * * *", "Europe/Paris", "2024-03-31T01:30:00+01:00",
                "2024-03-31T04:00:00+02:00", "2024-03-31T06:00:00+02:00", NULL);
  /* the 23-hour day: 23 hourly fires, 92 quarter-hourly */
  g_assert_cmpuint (count_fires ("0 * * * *", "Europe/Paris", "2024-03-31T00:00:00+01:00",
                                 "2024-04-01T00:00:00+02:00"),
                    ==, 23);
  g_assert_cmpuint (count_fires ("*/15 * * * *", "Europe/Paris", "2024-03-31T00:00:00+01:00",
                                 "2024-04-01T00:00:00+02:00"),
                    ==, 92);
  g_assert_cmpuint (count_fires ("30 2 * * *", "Europe/Paris", "2024-03-31T00:00:00+01:00",
                                 "2024-04-01T00:00:00+02:00"),
                    ==, 1);
}

static void
test_dst_paris_autumn (void)
{
  /* a repeated time fires once, at its first occurrence */
  assert_fires ("30 2 * * *", "Europe/Paris", "2024-10-26T12:00:00+02:00",
                "2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00", NULL);
  assert_fires ("0 * * * *", "Europe/Paris", "2024-10-27T00:30:00+02:00",
                "2024-10-27T01:00:00+02:00", "2024-10-27T02:00:00+02:00",
                "2024-10-27T03:00:00+01:00", "2024-10-27T04:00:00+01:00", NULL);
  assert_fires ("*/15 * * * *", "Europe/Paris", "2024-10-27T02:30:00+02:00",
                "2024-10-27T02:45:00+02:00", "2024-10-27T03:00:00+01:00",
                "2024-10-27T03:15:00+01:00", NULL);
  /* from inside the second occurrence: its times have fired already */
  assert_fires ("*/15 * * * *", "Europe/Paris", "2024-10-27T02:20:00+01:00",
                "2024-10-27T03:00:00+01:00", NULL);
  assert_fires ("30 2 * * *", "Europe/Paris", "2024-10-27T02:10:00+01:00",
                "2024-10-28T02:30:00+01:00", NULL);
  /* the 25-hour day: still one fire per wall-clock time */
  g_assert_cmpuint (count_fires ("0 * * * *", "Europe/Paris", "2024-10-27T00:00:00+02:00",
                                 "2024-10-28T00:00:00+01:00"),
                    ==, 24);
  g_assert_cmpuint (count_fires ("*/15 * * * *", "Europe/Paris", "2024-10-27T00:00:00+02:00",
                                 "2024-10-28T00:00:00+01:00"),
                    ==, 96);
  g_assert_cmpuint (count_fires ("30 2 * * *", "Europe/Paris", "2024-10-27T00:00:00+02:00",
                                 "2024-10-28T00:00:00+01:00"),
                    ==, 1);
}

/* America/New_York: on 2024-03-10 from 02:00 EST to 03:00 EDT; on
 * 2024-11-03 from 02:00 EDT back to 01:00 EST. */
static void
test_dst_new_york_spring (void)
{
  assert_fires ("30 2 * * *", "America/New_York", "2024-03-09T12:00:00-05:00",
                "2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00", NULL);
  assert_fires ("0 * * * *", "America/New_York", "2024-03-10T00:30:00-05:00",
                "2024-03-10T01:00:00-05:00", "2024-03-10T03:00:00-04:00",
                "2024-03-10T04:00:00-04:00", NULL);
  assert_fires ("*/15 * * * *", "America/New_York", "2024-03-10T01:40:00-05:00",
                "2024-03-10T01:45:00-05:00", "2024-03-10T03:00:00-04:00", NULL);
  /* fired at the end of the gap already: the next is the next day's */
  assert_fires ("30 2 * * *", "America/New_York", "2024-03-10T03:00:00-04:00",
                "2024-03-11T02:30:00-04:00", NULL);
  g_assert_cmpuint (count_fires ("*/15 * * * *", "America/New_York",
                                 "2024-03-10T00:00:00-05:00", "2024-03-11T00:00:00-04:00"),
                    ==, 92);
}

static void
test_dst_new_york_autumn (void)
{
  /* the 01:30 job fires once on the day 01:30 happens twice */
  assert_fires ("30 1 * * *", "America/New_York", "2024-11-02T12:00:00-04:00",
                "2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00", NULL);
  assert_fires ("30 1 * * *", "America/New_York", "2024-11-03T01:30:00-04:00",
                "2024-11-04T01:30:00-05:00", NULL);
  g_assert_cmpuint (count_fires ("30 1 * * *", "America/New_York",
                                 "2024-11-03T00:00:00-04:00", "2024-11-04T00:00:00-05:00"),
                    ==, 1);
  assert_fires ("0 * * * *", "America/New_York", "2024-11-03T00:30:00-04:00",
                "2024-11-03T01:00:00-04:00", "2024-11-03T02:00:00-05:00",
                "2024-11-03T03:00:00-05:00", NULL);
  assert_fires ("*/15 * * * *", "America/New_York", "2024-11-03T01:30:00-04:00",
                "2024-11-03T01:45:00-04:00", "2024-11-03T02:00:00-05:00",
                "2024-11-03T02:15:00-05:00", NULL);
  assert_fires ("@daily", "America/New_York", "2024-11-02T12:00:00-04:00",
                "2024-11-03T00:00:00-04:00", "2024-11-04T00:00:00-05:00", NULL);
  g_assert_cmpuint (count_fires ("*/15 * * * *", "America/New_York",
                                 "2024-11-03T00:00:00-04:00", "2024-11-04T00:00:00-05:00"),
                    ==, 96);
}

/* Syntax and semantics -------------------------------------------------------- */

static void
test_names (void)
{
  /* case-insensitive, in ranges and lists */
  assert_fires ("0 9 * JAN-mar Mon", "UTC", "2024-03-20T00:00:00Z", "2024-03-25T09:00:00+00:00",
                "2025-01-06T09:00:00+00:00", NULL);
  assert_fires ("0 0 1 dec,FEB *", "UTC", "2024-01-15T00:00:00Z", "2024-02-01T00:00:00+00:00",
                "2024-12-01T00:00:00+00:00", NULL);
  assert_fires ("0 12 * * sat,SUN", "UTC", "2024-05-01T00:00:00Z", "2024-05-04T12:00:00+00:00",
                "2024-05-05T12:00:00+00:00", "2024-05-11T12:00:00+00:00", NULL);
}

static void
test_descriptors (void)
{
  assert_fires ("@yearly", "UTC", "2024-05-01T00:00:00Z", "2025-01-01T00:00:00+00:00", NULL);
  assert_fires ("@annually", "UTC", "2024-05-01T00:00:00Z", "2025-01-01T00:00:00+00:00", NULL);
  assert_fires ("@monthly", "UTC", "2024-05-01T00:00:00Z", "2024-06-01T00:00:00+00:00", NULL);
  assert_fires ("@weekly", "UTC", "2024-05-01T00:00:00Z", "2024-05-05T00:00:00+00:00", NULL);
  assert_fires ("@DAILY", "UTC", "2024-05-01T00:00:00Z", "2024-05-02T00:00:00+00:00", NULL);
  assert_fires ("@midnight", "UTC", "2024-05-01T00:00:00Z", "2024-05-02T00:00:00+00:00", NULL);
  assert_fires ("  @hourly ", "UTC", "2024-05-01T00:00:00Z", "2024-05-01T01:00:00+00:00", NULL);
}

static void
test_steps_and_ranges (void)
{
  assert_fires ("10-30/10 * * * *", "UTC", "2024-05-01T00:00:00Z", "2024-05-01T00:10:00+00:00",
                "2024-05-01T00:20:00+00:00", "2024-05-01T00:30:00+00:00",
                "2024-05-01T01:10:00+00:00", NULL);
  /* a/n runs to the end of the field */
  assert_fires ("5/20 * * * *", "UTC", "2024-05-01T00:00:00Z", "2024-05-01T00:05:00+00:00",
                "2024-05-01T00:25:00+00:00", "2024-05-01T00:45:00+00:00",
                "2024-05-01T01:05:00+00:00", NULL);
  assert_fires ("0 9-17/4 * * *", "UTC", "2024-05-01T10:00:00Z", "2024-05-01T13:00:00+00:00",
                "2024-05-01T17:00:00+00:00", "2024-05-02T09:00:00+00:00", NULL);
  /* a range that wraps: 22-2 is 22, 23, 0, 1, 2 */
  assert_fires ("0 22-2 * * *", "UTC", "2024-05-01T21:00:00Z", "2024-05-01T22:00:00+00:00",
                "2024-05-01T23:00:00+00:00", "2024-05-02T00:00:00+00:00",
                "2024-05-02T01:00:00+00:00", "2024-05-02T02:00:00+00:00",
                "2024-05-02T22:00:00+00:00", NULL);
  /* lists of everything, and leading zeros */
  assert_fires ("00,30 08 1,15-16 * *", "UTC", "2024-05-01T08:15:00Z",
                "2024-05-01T08:30:00+00:00", "2024-05-15T08:00:00+00:00",
                "2024-05-15T08:30:00+00:00", "2024-05-16T08:00:00+00:00", NULL);
  /* a whole second or a fraction of one after a fire is after it */
  assert_fires ("0 10 * * *", "UTC", "2024-05-01T10:00:00.5Z", "2024-05-02T10:00:00+00:00",
                NULL);
  assert_fires ("0 10 * * *", "UTC", "2024-05-01T09:59:59.999Z", "2024-05-01T10:00:00+00:00",
                NULL);
}

static void
test_sunday (void)
{
  /* 7 is Sunday, like 0 */
  assert_fires ("0 0 * * 7", "UTC", "2024-05-01T00:00:00Z", "2024-05-05T00:00:00+00:00",
                "2024-05-12T00:00:00+00:00", NULL);
  assert_fires ("0 0 * * 0", "UTC", "2024-05-01T00:00:00Z", "2024-05-05T00:00:00+00:00", NULL);
  assert_fires ("0 0 * * 5-7", "UTC", "2024-05-01T00:00:00Z", "2024-05-03T00:00:00+00:00",
                "2024-05-04T00:00:00+00:00", "2024-05-05T00:00:00+00:00",
                "2024-05-10T00:00:00+00:00", NULL);
  assert_fires ("0 0 * * fri-sun", "UTC", "2024-05-01T00:00:00Z", "2024-05-03T00:00:00+00:00",
                "2024-05-04T00:00:00+00:00", "2024-05-05T00:00:00+00:00", NULL);
}

static void
test_dom_or_dow (void)
{
  /* both restricted: either one */
  assert_fires ("0 0 13 * fri", "UTC", "2024-09-01T00:00:00Z", "2024-09-06T00:00:00+00:00",
                "2024-09-13T00:00:00+00:00", "2024-09-20T00:00:00+00:00",
                "2024-09-27T00:00:00+00:00", "2024-10-04T00:00:00+00:00",
                "2024-10-11T00:00:00+00:00", "2024-10-13T00:00:00+00:00", NULL);
  /* one of them * or ?: the other alone */
  assert_fires ("0 0 13 * *", "UTC", "2024-09-01T00:00:00Z", "2024-09-13T00:00:00+00:00",
                "2024-10-13T00:00:00+00:00", NULL);
  assert_fires ("0 0 ? * fri", "UTC", "2024-09-01T00:00:00Z", "2024-09-06T00:00:00+00:00",
                "2024-09-13T00:00:00+00:00", NULL);
  assert_fires ("0 0 13 * ?", "UTC", "2024-09-01T00:00:00Z", "2024-09-13T00:00:00+00:00",
                "2024-10-13T00:00:00+00:00", NULL);
  /* a step restricts: */
  assert_fires ("0 0 */10 * mon", "UTC", "2024-09-01T00:00:00Z", "2024-09-02T00:00:00+00:00",
                "2024-09-09T00:00:00+00:00", "2024-09-11T00:00:00+00:00", NULL);
}

static void
test_last_and_nth (void)
{
  assert_fires ("0 0 L * *", "UTC", "2024-02-01T00:00:00Z", "2024-02-29T00:00:00+00:00",
                "2024-03-31T00:00:00+00:00", "2024-04-30T00:00:00+00:00", NULL);
  assert_fires ("0 0 l 2 *", "UTC", "2023-01-01T00:00:00Z", "2023-02-28T00:00:00+00:00",
                "2024-02-29T00:00:00+00:00", NULL);
  assert_fires ("0 0 15-L/5 * *", "UTC", "2024-04-01T00:00:00Z", "2024-04-15T00:00:00+00:00",
                "2024-04-20T00:00:00+00:00", "2024-04-25T00:00:00+00:00",
                "2024-04-30T00:00:00+00:00", "2024-05-15T00:00:00+00:00", NULL);
  /* the first Monday; the last Friday */
  assert_fires ("0 9 * * mon#1", "UTC", "2024-09-01T00:00:00Z", "2024-09-02T09:00:00+00:00",
                "2024-10-07T09:00:00+00:00", NULL);
  assert_fires ("0 9 * * friL", "UTC", "2024-09-01T00:00:00Z", "2024-09-27T09:00:00+00:00",
                "2024-10-25T09:00:00+00:00", NULL);
  assert_fires ("0 9 * * 5L", "UTC", "2024-09-01T00:00:00Z", "2024-09-27T09:00:00+00:00", NULL);
  /* a fifth Monday of February needs Feb 29 on a Monday: 40 years apart */
  assert_fires ("0 0 * 2 mon#5", "UTC", "2072-03-01T00:00:00Z", "2112-02-29T00:00:00+00:00",
                NULL);
  assert_fires ("0 0 29 2 *", "UTC", "2097-01-01T00:00:00Z", "2104-02-29T00:00:00+00:00",
                NULL);
}

static void
test_never (void)
{
  const char *never[] = { "0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6,9,11 *",
                          "0 0 30-31 feb *", "0 0 30 2 mon#5" };
  const char *sometimes[] = { "0 0 29 2 *", "0 0 31 4 mon", "0 0 * 2 mon#5", "0 0 L 2 *",
                              "0 0 * * *" };
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr (GDateTime) now = parse_iso ("2024-05-01T00:00:00Z");
  g_autoptr (GDateTime) late = parse_iso ("9999-12-31T00:00:00Z");

  for (gsize i = 0; i < G_N_ELEMENTS (never); i++)
    {
      g_autoptr (StCron) cron = parse_ok (never[i]);
      g_autoptr (GDateTime) next = st_cron_next (cron, now, utc);

      g_assert_true (st_cron_never (cron));
      g_assert_null (next);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (sometimes); i++)
    {
      g_autoptr (StCron) cron = parse_ok (sometimes[i]);
      g_autoptr (GDateTime) next = st_cron_next (cron, now, utc);

      g_assert_false (st_cron_never (cron));
      g_assert_nonnull (next);
    }
  /* "0 0 31 4 mon" is April's Mondays: day 31 never comes, the Mondays do */
  assert_fires ("0 0 31 4 mon", "UTC", "2024-05-01T00:00:00Z", "2025-04-07T00:00:00+00:00",
                NULL);
  /* nothing after the year 9999 */
  {
    g_autoptr (StCron) cron = parse_ok ("0 0 1 1 *");
    g_autoptr (GDateTime) next = st_cron_next (cron, late, utc);

    g_assert_null (next);
  }
}

static void
test_zones (void)
{
  /* the fields are read in the zone, and the time comes back in it */
  assert_fires ("14 14 * * *", "+05:30", "2016-01-03T07:39:03Z", "2016-01-03T14:14:00+05:30",
                NULL);
  assert_fires ("0 9 * * *", "Asia/Tokyo", "2024-05-01T00:00:00Z", "2024-05-02T09:00:00+09:00",
                NULL);
  assert_fires ("0 9 * * *", "UTC", "2024-05-01T00:00:00+09:00", "2024-05-01T09:00:00+00:00",
                NULL);
}

typedef struct
{
  const char *expr;
  const char *message;
} BadCase;

static void
test_parse_errors (void)
{
  const BadCase cases[] = {
    { "0 0 32 * *", "day-of-month: 32 is out of range 1-31" },
    { "0 0 0 * *", "day-of-month: 0 is out of range 1-31" },
    { "60 * * * *", "minute: 60 is out of range 0-59" },
    { "0 24 * * *", "hour: 24 is out of range 0-23" },
    { "0 0 * 13 *", "month: 13 is out of range 1-12" },
    { "0 0 * * 8", "day-of-week: 8 is out of range 0-7" },
    { "0 0 * foo *", "month: 'foo' is not a number from 1 to 12 or a name from jan to dec" },
    { "0 0 * * funday", "day-of-week: 'funday' is not a number from 0 to 7" },
    { "x * * * *", "minute: 'x' is not a number from 0 to 59" },
    { "*/0 * * * *", "minute: step '0' must be a whole number from 1 to 60" },
    { "0 */x * * *", "hour: step 'x' must be a whole number from 1 to 24" },
    { "1,,2 * * * *", "minute: an item of the list is empty" },
    { "-5 * * * *", "minute: '-5' is not a range; write it as a-b, as in 0-29" },
    { "0 1-2-3 * * *", "hour: '1-2-3' is not a range" },
    { "0 ? * * *", "hour: '?' is only for day-of-month and day-of-week; use *" },
    { "0 0 1,? * *", "day-of-month: '?' must be the whole field" },
    { "0 0 L-5 * *", "day-of-month: L (the last day) can only end a range, as in 25-L" },
    { "0 0 L/2 * *", "day-of-month: L (the last day) cannot take a step" },
    { "0 0 * * mon#6", "day-of-week: 'mon#6': # takes the week of the month, 1 to 5" },
    { "0 0 * * L", "day-of-week: L needs a day before it" },
    { "0 0 * * mon,fri#1", "day-of-week: 'mon,fri#1' mixes days of the week" },
    { "0 0 * * mon#1/2", "day-of-week: 'mon#1/2': a step cannot be used with # or L" },
    { "0 0 * jan-x *", "month: 'x' is not" },
    { "0 0 * * *  *", "has 6 (seconds are not supported)" },
    { "0 0 * *", "a schedule has 5 fields (minute hour day-of-month month day-of-week)" },
    { "", "has 0" },
    { "@often", "unknown schedule '@often'; the names are @yearly" },
    { "@reboot", "unknown schedule '@reboot'" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (StCron) cron = st_cron_parse (cases[i].expr, &error);

      if (cron != NULL)
        g_error ("'%s' parsed; it must not", cases[i].expr);
      g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
      if (strstr (error->message, cases[i].message) == NULL)
        g_error ("'%s': the message '%s' does not say '%s'", cases[i].expr, error->message,
                 cases[i].message);
    }
}

/* Fast enough for a scheduler that asks once per occurrence and per
 * customer time zone. */
static void
test_speed (void)
{
  g_autoptr (StCron) cron = parse_ok ("*/5 9-17 * * mon-fri");
  g_autoptr (GTimeZone) tz = zone ("America/New_York");
  g_autoptr (GDateTime) after = parse_iso ("2024-01-01T00:00:00Z");
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed;

  for (guint i = 0; i < 20000; i++)
    {
      GDateTime *next = st_cron_next (cron, after, tz);

      g_assert_nonnull (next);
      g_date_time_unref (after);
      after = next;
    }
  elapsed = g_get_monotonic_time () - start;
  g_test_message ("20000 fire times in %" G_GINT64_FORMAT " µs", elapsed);
  /* generous: sanitizer builds on a busy machine */
  g_assert_cmpint (elapsed, <, 20 * G_TIME_SPAN_SECOND);
}

/* stewardctl schedule next ------------------------------------------------------ */

typedef struct
{
  int status;
  char *out;
  char *err;
} Ctl;

static void
ctl_free (Ctl *ctl)
{
  g_free (ctl->out);
  g_free (ctl->err);
  g_free (ctl);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Ctl, ctl_free)

/* Runs stewardctl with TZ=@tz_name and bus addresses that lead nowhere, so
 * any use of a bus would fail. */
static Ctl *
ctl_tz_va (const char *tz_name, const char *first, va_list ap)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  Ctl *result = g_new0 (Ctl, 1);

  g_ptr_array_add (argv, st_test_build_path ("core/stewardctl"));
  for (const char *arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, g_strdup (arg));
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "TZ", tz_name, TRUE);
  g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS",
                                "unix:path=/nonexistent/steward-no-bus", TRUE);
  g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS",
                                "unix:path=/nonexistent/steward-no-bus", TRUE);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &result->out, &result->err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  result->status = g_subprocess_get_exit_status (process);
  if (st_test_log_has_problem (result->err))
    g_error ("stewardctl reported a problem:\n%s", result->err);
  return result;
}

/* stewardctl ARGS... (NULL-terminated) with TZ=@tz_name */
G_GNUC_NULL_TERMINATED
static Ctl *
ctl_tz (const char *tz_name, const char *first, ...)
{
  va_list ap;
  Ctl *result;

  va_start (ap, first);
  result = ctl_tz_va (tz_name, first, ap);
  va_end (ap);
  return result;
}

/* stewardctl ARGS... (NULL-terminated) with TZ=UTC */
G_GNUC_NULL_TERMINATED
static Ctl *
ctl (const char *first, ...)
{
  va_list ap;
  Ctl *result;

  va_start (ap, first);
  result = ctl_tz_va ("UTC", first, ap);
  va_end (ap);
  return result;
}

static void
assert_ok (Ctl *result)
{
  if (result->status != 0)
    g_error ("expected status 0, got %d; stderr:\n%s", result->status, result->err);
  g_assert_cmpstr (result->err, ==, "");
}

static void
assert_usage (Ctl *result, const char *needle)
{
  if (result->status != 2)
    g_error ("expected status 2, got %d; stdout:\n%s\nstderr:\n%s", result->status,
             result->out, result->err);
  g_assert_cmpstr (result->out, ==, "");
  g_assert_true (g_str_has_prefix (result->err, "stewardctl: schedule next: "));
  st_test_assert_contains (result->err, "Usage: stewardctl schedule next EXPR");
  st_test_assert_contains (result->err, needle);
}

/* stdout, which must be one JSON array of strings, joined by "," */
static char *
json_strings (const char *out)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) strv = NULL;
  JsonArray *array;

  g_assert_true (g_str_has_suffix (out, "\n"));
  if (!json_parser_load_from_data (parser, out, -1, &error))
    g_error ("stdout is not JSON (%s):\n%s", error->message, out);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)));
  array = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (array); i++)
    g_strv_builder_add (builder, json_array_get_string_element (array, i));
  strv = g_strv_builder_end (builder);
  return g_strjoinv (",", strv);
}

static void
test_cli_text (void)
{
  g_autoptr (Ctl) result = ctl ("schedule", "next", "0 9 * * mon", "--tz", "Europe/Paris",
                                "--from", "2024-03-20T00:00:00Z", "--count", "3", NULL);

  assert_ok (result);
  g_assert_cmpstr (result->out, ==,
                   "2024-03-25T09:00:00+01:00  Mon\n"
                   "2024-04-01T09:00:00+02:00  Mon\n"
                   "2024-04-08T09:00:00+02:00  Mon\n");
}

static void
test_cli_json (void)
{
  g_autoptr (Ctl) result = ctl ("--json", "schedule", "next", "30 2 * * *", "--tz",
                                "Europe/Paris", "--from", "2024-03-30T00:00:00+01:00",
                                "--count=3", NULL);
  g_autofree char *times = NULL;

  assert_ok (result);
  times = json_strings (result->out);
  g_assert_cmpstr (times, ==,
                   "2024-03-30T02:30:00+01:00,2024-03-31T03:00:00+02:00,"
                   "2024-04-01T02:30:00+02:00");
}

/* ISO-8601 to the letter: a four-digit year before 1000, and an offset
 * that is not whole minutes (local mean time) with its seconds, so that
 * the text names the very instant. */
static void
test_cli_iso_edges (void)
{
  g_autoptr (Ctl) early = ctl ("--json", "schedule", "next", "0 9 * * *", "--tz", "UTC",
                               "--from", "0999-06-01T00:00:00Z", "--count=1", NULL);
  g_autoptr (Ctl) lmt = ctl ("schedule", "next", "0 9 * * *", "--tz", "Europe/Paris",
                             "--from", "1900-01-01T00:00:00Z", "--count=1", NULL);
  g_autofree char *times = NULL;

  assert_ok (early);
  times = json_strings (early->out);
  g_assert_cmpstr (times, ==, "0999-06-01T09:00:00+00:00");
  assert_ok (lmt);
  g_assert_cmpstr (lmt->out, ==, "1900-01-01T09:00:00+00:09:21  Mon\n");
}

static void
test_cli_defaults (void)
{
  g_autoptr (Ctl) local = NULL;
  g_autoptr (Ctl) now = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GDateTime) first = NULL;
  g_autoptr (GDateTime) current = g_date_time_new_now_utc ();
  GTimeSpan ahead;

  /* the local zone (TZ) reads the schedule and --from; 5 times by default */
  local = ctl_tz ("America/New_York", "schedule", "next", "@daily", "--from",
                  "2024-11-02T12:00", NULL);
  assert_ok (local);
  g_assert_cmpstr (local->out, ==,
                   "2024-11-03T00:00:00-04:00  Sun\n"
                   "2024-11-04T00:00:00-05:00  Mon\n"
                   "2024-11-05T00:00:00-05:00  Tue\n"
                   "2024-11-06T00:00:00-05:00  Wed\n"
                   "2024-11-07T00:00:00-05:00  Thu\n");

  /* from now by default */
  now = ctl ("schedule", "next", "* * * * *", "--count", "1", "--tz", "UTC", NULL);
  assert_ok (now);
  lines = g_strsplit (now->out, "  ", 2);
  first = parse_iso (lines[0]);
  ahead = g_date_time_difference (first, current);
  g_assert_cmpint (ahead, >, 0);
  g_assert_cmpint (ahead, <=, 61 * G_TIME_SPAN_SECOND);
}

static void
test_cli_count (void)
{
  g_autoptr (Ctl) result = ctl ("schedule", "next", "* * * * *", "--count", "1000", "--from",
                                "2024-01-01T00:00:00Z", NULL);
  g_auto (GStrv) lines = NULL;

  assert_ok (result);
  lines = g_strsplit (result->out, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 1001); /* and "" after the last newline */
  g_assert_cmpstr (lines[999], ==, "2024-01-01T16:40:00+00:00  Mon");
}

static void
test_cli_never (void)
{
  g_autoptr (Ctl) text = ctl ("schedule", "next", "0 0 30 2 *", NULL);
  g_autoptr (Ctl) json = ctl ("schedule", "next", "0 0 31 4 *", "--json", NULL);
  g_autofree char *times = NULL;

  assert_ok (text);
  g_assert_cmpstr (text->out, ==,
                   "'0 0 30 2 *' never fires: no date matches its day-of-month, month and "
                   "day-of-week fields\n");
  assert_ok (json);
  times = json_strings (json->out);
  g_assert_cmpstr (times, ==, "");
}

static void
test_cli_errors (void)
{
  g_autoptr (Ctl) bad_expr = ctl ("schedule", "next", "0 0 32 * *", NULL);
  g_autoptr (Ctl) bad_fields = ctl ("schedule", "next", "0", "9", "*", "*", "*", NULL);
  g_autoptr (Ctl) bad_zone = ctl ("schedule", "next", "@daily", "--tz", "Mars/Olympus", NULL);
  g_autoptr (Ctl) bad_from = ctl ("schedule", "next", "@daily", "--from", "yesterday", NULL);
  g_autoptr (Ctl) zero = ctl ("schedule", "next", "@daily", "--count", "0", NULL);
  g_autoptr (Ctl) too_many = ctl ("schedule", "next", "@daily", "--count", "1001", NULL);
  g_autoptr (Ctl) missing = ctl ("schedule", "next", NULL);
  g_autoptr (Ctl) help = ctl ("schedule", "next", "--help", NULL);

  assert_usage (bad_expr, "EXPR: day-of-month: 32 is out of range 1-31");
  assert_usage (bad_fields, "unexpected argument '9'");
  assert_usage (bad_zone, "--tz: unknown time zone 'Mars/Olympus'");
  assert_usage (bad_from, "--from: 'yesterday' is not an ISO-8601 date or time");
  assert_usage (zero, "--count: '0' is not a whole number from 1 to 1000");
  assert_usage (too_many, "--count: '1001' is not a whole number from 1 to 1000");
  assert_usage (missing, "missing EXPR");
  assert_ok (help);
  st_test_assert_contains (help->out, "--tz ZONE");
  st_test_assert_contains (help->out, "--count N");
}

int
main (int argc, char **argv)
{
  guint n_vectors;

  g_test_init (&argc, &argv, NULL);

  n_vectors = add_vector_tests ();
  g_test_add_data_func ("/cron/vectors/all-rows", GUINT_TO_POINTER (n_vectors),
                        test_vectors_count);
  g_test_add_func ("/cron/dst/paris-spring", test_dst_paris_spring);
  g_test_add_func ("/cron/dst/paris-autumn", test_dst_paris_autumn);
  g_test_add_func ("/cron/dst/new-york-spring", test_dst_new_york_spring);
  g_test_add_func ("/cron/dst/new-york-autumn", test_dst_new_york_autumn);
  g_test_add_func ("/cron/names", test_names);
  g_test_add_func ("/cron/descriptors", test_descriptors);
  g_test_add_func ("/cron/steps-and-ranges", test_steps_and_ranges);
  g_test_add_func ("/cron/sunday", test_sunday);
  g_test_add_func ("/cron/dom-or-dow", test_dom_or_dow);
  g_test_add_func ("/cron/last-and-nth", test_last_and_nth);
  g_test_add_func ("/cron/never", test_never);
  g_test_add_func ("/cron/zones", test_zones);
  g_test_add_func ("/cron/parse-errors", test_parse_errors);
  g_test_add_func ("/cron/speed", test_speed);
  g_test_add_func ("/cron/cli/text", test_cli_text);
  g_test_add_func ("/cron/cli/json", test_cli_json);
  g_test_add_func ("/cron/cli/iso-edges", test_cli_iso_edges);
  g_test_add_func ("/cron/cli/defaults", test_cli_defaults);
  g_test_add_func ("/cron/cli/count", test_cli_count);
  g_test_add_func ("/cron/cli/never", test_cli_never);
  g_test_add_func ("/cron/cli/errors", test_cli_errors);

  return g_test_run ();
}
