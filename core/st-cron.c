/* Cron schedules: the five fields parsed into bit sets, and the next fire
 * time found by walking the fields of a wall-clock date (month, then day,
 * hour, minute), so a schedule that fires once a year costs no more than one
 * that fires every minute. The wall clock is then mapped to an instant of
 * the time zone, which is where DST is dealt with (docs/schedules.md). */

#include "st-cron.h"

#include <string.h>

#include "st-error.h"

/* GDateTime goes no further. */
#define ST_CRON_MAX_YEAR 9999

/* nth[] bits of a weekday: bit n (1..5) is its n-th occurrence in the
 * month (mon#2), this one its last (monL). */
#define ST_CRON_NTH_LAST (1u << 6)

/* No zone's offset is 16 hours or more from UTC, and no zone changes twice
 * within 32 hours; so the instants that show a given wall-clock time lie
 * within 16 hours of it, at one of the offsets in force 16 hours either
 * side. (Were a zone to break this, a time would at worst be stepped over,
 * see local_to_instant.) */
#define ST_CRON_WINDOW (16 * 3600)

typedef enum
{
  FIELD_MINUTE,
  FIELD_HOUR,
  FIELD_DOM,
  FIELD_MONTH,
  FIELD_DOW,
  N_FIELDS
} Field;

typedef struct
{
  const char *name;
  int min;
  int max;                   /* highest value written (7 = Sunday in day-of-week) */
  int top;                   /* where "*" and "a/n" end (6 = Saturday) */
  const char *const *names;  /* 3-letter names, the first for @name_base */
  int name_base;
  const char *takes;         /* what a value is, for messages */
  const char *range_example; /* a range, for messages */
} FieldInfo;

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const day_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static const FieldInfo fields[N_FIELDS] = {
  { "minute", 0, 59, 59, NULL, 0, "a number from 0 to 59", "0-29" },
  { "hour", 0, 23, 23, NULL, 0, "a number from 0 to 23", "9-17" },
  { "day-of-month", 1, 31, 31, NULL, 0, "a number from 1 to 31, or L for the last day",
    "1-15" },
  { "month", 1, 12, 12, month_names, 1, "a number from 1 to 12 or a name from jan to dec",
    "jan-mar" },
  { "day-of-week", 0, 7, 6, day_names, 0,
    "a number from 0 to 7 (0 and 7 are Sunday) or a name from sun to sat", "mon-fri" },
};

static const struct
{
  const char *name;
  const char *fields;
} descriptors[] = {
  { "@yearly", "0 0 1 1 *" },  { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
  { "@weekly", "0 0 * * 0" },  { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
  { "@hourly", "0 * * * *" },
};

struct _StCron
{
  guint64 minutes;   /* bit m: minute m */
  guint32 hours;     /* bit h: hour h */
  guint32 days;      /* bit d: day d of the month */
  guint32 months;    /* bit m: month m, 1 = January */
  guint32 weekdays;  /* bit w: weekday w, 0 = Sunday */
  guint8 nth[7];     /* per weekday: the n-th (mon#2) or last (monL) of the month */
  gboolean has_nth;
  gboolean last_day; /* L in day-of-month */
  gboolean dom_star; /* day-of-month is * or ?: it does not restrict */
  gboolean dow_star;
  gboolean hour_star; /* the hour field starts with '*' (see next_fire) */
  gboolean never;
};

/* What the items of one field add up to. */
typedef struct
{
  Field field;
  guint64 bits;
  gboolean star;  /* an item "*" (or "*\/1") */
  gboolean plain; /* an item other than "*" that is not an nth weekday */
  gboolean last_day;
  gboolean has_nth;
  guint8 nth[7];
} FieldSet;

/* ---- parsing ---- */

static gboolean G_GNUC_PRINTF (3, 4)
field_error (Field field, GError **error, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT, "%s: %s", fields[field].name,
               message);
  return FALSE;
}

static gboolean
all_digits (const char *text)
{
  if (*text == '\0')
    return FALSE;
  for (; *text != '\0'; text++)
    if (!g_ascii_isdigit (*text))
      return FALSE;
  return TRUE;
}

/* A number or a name of @field, checked against its range. */
static gboolean
parse_value (Field field, const char *text, int *value, GError **error)
{
  const FieldInfo *info = &fields[field];

  if (all_digits (text))
    {
      /* leading zeros are fine ("08"); very long numbers are out of range anyway */
      guint64 number = 0;

      for (const char *p = text; *p != '\0' && number <= G_MAXINT; p++)
        number = number * 10 + (guint64) (*p - '0');
      if (number < (guint64) info->min || number > (guint64) info->max)
        return field_error (field, error, "%s is out of range %d-%d", text, info->min,
                            info->max);
      *value = (int) number;
      return TRUE;
    }
  for (int i = 0; info->names != NULL && info->names[i] != NULL; i++)
    if (g_ascii_strcasecmp (text, info->names[i]) == 0)
      {
        *value = info->name_base + i;
        return TRUE;
      }
  if (*text == '\0')
    return field_error (field, error, "a value is missing; it takes %s", info->takes);
  return field_error (field, error, "'%s' is not %s", text, info->takes);
}

static gboolean
parse_step (Field field, const char *text, int *step, GError **error)
{
  const FieldInfo *info = &fields[field];
  int span = info->top - info->min + 1;
  guint64 number = 0;

  if (all_digits (text))
    for (const char *p = text; *p != '\0' && number <= G_MAXINT; p++)
      number = number * 10 + (guint64) (*p - '0');
  if (number < 1 || number > (guint64) span)
    return field_error (field, error, "step '%s' must be a whole number from 1 to %d", text,
                        span);
  *step = (int) number;
  return TRUE;
}

static void
add_steps (guint64 *bits, int from, int to, int step)
{
  for (int v = from; v <= to; v += step)
    *bits |= G_GUINT64_CONSTANT (1) << v;
}

/* A range whose start is after its end wraps around the field's end
 * (fri-mon, 22-2, nov-feb); a step then starts again at the field's start:
 * apr-mar/3 is apr, jul, oct, jan. */
static void
add_range (guint64 *bits, Field field, int from, int to, int step)
{
  if (from <= to)
    add_steps (bits, from, to, step);
  else
    {
      add_steps (bits, from, fields[field].top, step);
      add_steps (bits, fields[field].min, to, step);
    }
}

/* "a" or "a-b" of @field into @from and @to (equal for "a"). In
 * day-of-week, 7 starts a range as Sunday and 0 ends one as Sunday, so that
 * sun-sat, 7-wed, fri-sun and sat-0 read the way they are meant. */
static gboolean
parse_range (Field field, const char *text, int *from, int *to, gboolean *is_range,
             GError **error)
{
  const char *dash = strchr (text, '-');
  g_autofree char *first = NULL;

  *is_range = dash != NULL;
  if (dash == NULL)
    {
      if (!parse_value (field, text, from, error))
        return FALSE;
      if (field == FIELD_DOW && *from == 7)
        *from = 0;
      *to = *from;
      return TRUE;
    }

  first = g_strndup (text, (gsize) (dash - text));
  if (*first == '\0' || dash[1] == '\0' || strchr (dash + 1, '-') != NULL)
    return field_error (field, error, "'%s' is not a range; write it as a-b, as in %s", text,
                        fields[field].range_example);
  if (field == FIELD_DOM && g_ascii_strcasecmp (first, "l") == 0)
    return field_error (field, error, "L (the last day) can only end a range, as in 25-L");
  if (!parse_value (field, first, from, error))
    return FALSE;
  if (field == FIELD_DOM && g_ascii_strcasecmp (dash + 1, "l") == 0)
    *to = fields[field].max;
  else if (!parse_value (field, dash + 1, to, error))
    return FALSE;
  if (field == FIELD_DOW)
    {
      if (*from == 7)
        *from = 0;
      if (*to == 0)
        *to = 7;
    }
  return TRUE;
}

/* Day-of-week items naming days of the month: mon#2 (the second Monday),
 * mon-fri#1 (the first Monday, the first Tuesday...), friL or 5L (the last
 * Friday). */
static gboolean
parse_nth_item (FieldSet *set, const char *item, GError **error)
{
  const char *hash = strchr (item, '#');
  gsize len = strlen (item);
  g_autofree char *days = NULL;
  guint8 bit;
  guint64 weekdays = 0;
  int from, to;
  gboolean is_range;

  if (strchr (item, '/') != NULL)
    return field_error (FIELD_DOW, error, "'%s': a step cannot be used with # or L", item);
  if (hash != NULL)
    {
      if (hash[1] < '1' || hash[1] > '5' || hash[2] != '\0')
        return field_error (FIELD_DOW, error,
                            "'%s': # takes the week of the month, 1 to 5, as in mon#2", item);
      bit = (guint8) (1u << (hash[1] - '0'));
      days = g_strndup (item, (gsize) (hash - item));
    }
  else
    {
      bit = ST_CRON_NTH_LAST;
      days = g_strndup (item, len - 1);
      if (*days == '\0')
        return field_error (FIELD_DOW, error,
                            "L needs a day before it: friL or 5L is the last Friday");
    }
  if (!parse_range (FIELD_DOW, days, &from, &to, &is_range, error))
    return FALSE;
  add_range (&weekdays, FIELD_DOW, from, to, 1);
  for (int w = 0; w <= 7; w++)
    if (weekdays & (G_GUINT64_CONSTANT (1) << w))
      set->nth[w % 7] |= bit;
  set->has_nth = TRUE;
  return TRUE;
}

static gboolean
parse_item (FieldSet *set, const char *item, GError **error)
{
  Field field = set->field;
  const FieldInfo *info = &fields[field];
  const char *slash = strchr (item, '/');
  g_autofree char *base = slash != NULL ? g_strndup (item, (gsize) (slash - item))
                                        : g_strdup (item);
  int step = 1, from, to;
  gboolean is_range;
  gsize len = strlen (item);

  if (*item == '\0')
    return field_error (field, error, "an item of the list is empty");
  if (g_str_equal (item, "?"))
    return field_error (field, error,
                        field == FIELD_DOM || field == FIELD_DOW
                          ? "'?' must be the whole field"
                          : "'?' is only for day-of-month and day-of-week; use *");
  if (field == FIELD_DOW &&
      (strchr (item, '#') != NULL || (len > 1 && g_ascii_tolower (item[len - 1]) == 'l')))
    return parse_nth_item (set, item, error);
  if (slash != NULL && !parse_step (field, slash + 1, &step, error))
    return FALSE;

  if (g_str_equal (base, "*"))
    {
      add_range (&set->bits, field, info->min, info->top, step);
      if (step == 1)
        set->star = TRUE;
      else
        set->plain = TRUE;
      return TRUE;
    }
  set->plain = TRUE;
  if (field == FIELD_DOM && g_ascii_strcasecmp (base, "l") == 0)
    {
      if (slash != NULL)
        return field_error (field, error, "L (the last day) cannot take a step");
      set->last_day = TRUE;
      return TRUE;
    }
  if (field == FIELD_DOW && g_ascii_strcasecmp (base, "l") == 0)
    return field_error (field, error,
                        "L needs a day before it: friL or 5L is the last Friday");
  if (!parse_range (field, base, &from, &to, &is_range, error))
    return FALSE;
  if (slash != NULL && !is_range)
    to = info->top; /* a/n: from a to the end */
  add_range (&set->bits, field, from, to, step);
  return TRUE;
}

static gboolean
parse_field (StCron *cron, Field field, const char *text, GError **error)
{
  FieldSet set = { .field = field };
  g_auto (GStrv) items = NULL;

  if ((field == FIELD_DOM || field == FIELD_DOW) && g_str_equal (text, "?"))
    text = "*";
  items = g_strsplit (text, ",", -1);
  for (guint i = 0; items[i] != NULL; i++)
    if (!parse_item (&set, items[i], error))
      return FALSE;

  switch (field)
    {
    case FIELD_MINUTE:
      cron->minutes = set.bits;
      break;
    case FIELD_HOUR:
      cron->hours = (guint32) set.bits;
      cron->hour_star = text[0] == '*';
      break;
    case FIELD_DOM:
      cron->days = (guint32) set.bits;
      cron->last_day = set.last_day;
      cron->dom_star = set.star;
      break;
    case FIELD_MONTH:
      cron->months = (guint32) set.bits;
      break;
    case FIELD_DOW:
      if (set.has_nth && set.plain)
        return field_error (field, error,
                            "'%s' mixes days of the week with days of the month (# or L); "
                            "use one kind, or two schedules",
                            text);
      /* A "*" beside nth days adds nothing: *,sat#3 is sat#3, as in croniter. */
      cron->has_nth = set.has_nth;
      cron->dow_star = set.star && !set.has_nth;
      if (!set.has_nth)
        cron->weekdays = (guint32) ((set.bits | (set.bits >> 7)) & 0x7f);
      memcpy (cron->nth, set.nth, sizeof cron->nth);
      break;
    case N_FIELDS:
    default:
      g_assert_not_reached ();
    }
  return TRUE;
}

/* ---- the calendar ---- */

static gboolean
is_leap (int year)
{
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int
days_in_month (int year, int month)
{
  static const int days[] = { 0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

  return month == 2 && is_leap (year) ? 29 : days[month];
}

static gint64
floor_div (gint64 a, gint64 b)
{
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (the
 * algorithms of Howard Hinnant's "chrono-Compatible Low-Level Date
 * Algorithms"). */
static gint64
days_from_civil (gint64 year, int month, int day)
{
  gint64 era, yoe, doy, doe;

  year -= month <= 2;
  era = floor_div (year, 400);
  yoe = year - era * 400;
  doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void
civil_from_days (gint64 days, int *year, int *month, int *day)
{
  gint64 z = days + 719468;
  gint64 era = floor_div (z, 146097);
  gint64 doe = z - era * 146097;
  gint64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  gint64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  gint64 mp = (5 * doy + 2) / 153;

  *day = (int) (doy - (153 * mp + 2) / 5 + 1);
  *month = (int) (mp < 10 ? mp + 3 : mp - 9);
  *year = (int) (yoe + era * 400 + (*month <= 2));
}

static int
weekday (int year, int month, int day)
{
  /* 1970-01-01 was a Thursday */
  gint64 days = days_from_civil (year, month, day) + 4;

  return (int) (days - floor_div (days, 7) * 7);
}

/* Classic cron: when both day fields restrict, a day matching either fires;
 * when one is * (or ?), the other decides. Days of the month named through
 * the week (mon#1, friL) must match together with day-of-month, as in
 * croniter: "1-7 * mon-fri#1" is the first working days. */
static gboolean
day_matches (const StCron *cron, int day, int month_days, int wday)
{
  gboolean dom = (cron->days & (1u << day)) != 0 || (cron->last_day && day == month_days);
  guint nth = cron->nth[wday];
  gboolean dow = (cron->weekdays & (1u << wday)) != 0 ||
                 (nth & (1u << ((day - 1) / 7 + 1))) != 0 ||
                 ((nth & ST_CRON_NTH_LAST) != 0 && day + 7 > month_days);

  if (cron->dom_star)
    return dow;
  if (cron->dow_star)
    return dom;
  if (cron->has_nth)
    return dom && dow;
  return dom || dow;
}

/* Whether no date matches the day and month fields. A day's match depends
 * only on its month, the month's length and the weekday its month starts
 * on, and every combination of those occurs in the Gregorian calendar; so
 * trying them all is exact. */
static gboolean
compute_never (const StCron *cron)
{
  for (int month = 1; month <= 12; month++)
    {
      if ((cron->months & (1u << month)) == 0)
        continue;
      for (int leap = 0; leap <= (month == 2); leap++)
        {
          int length = days_in_month (leap ? 2000 : 2001, month);

          for (int first = 0; first < 7; first++)
            for (int day = 1; day <= length; day++)
              if (day_matches (cron, day, length, (first + day - 1) % 7))
                return FALSE;
        }
    }
  return TRUE;
}

StCron *
st_cron_parse (const char *expr, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr (GPtrArray) words = g_ptr_array_new ();
  g_auto (GStrv) split = NULL;
  g_autoptr (StCron) cron = NULL;

  g_return_val_if_fail (expr != NULL, NULL);

  if (!g_utf8_validate (expr, -1, NULL))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "the schedule is not valid UTF-8");
      return NULL;
    }
  text = g_strstrip (g_strdup (expr));
  if (text[0] == '@')
    {
      const char *fields_text = NULL;

      for (gsize i = 0; i < G_N_ELEMENTS (descriptors); i++)
        if (g_ascii_strcasecmp (text, descriptors[i].name) == 0)
          fields_text = descriptors[i].fields;
      if (fields_text == NULL)
        {
          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "unknown schedule '%s'; the names are @yearly, @annually, "
                       "@monthly, @weekly, @daily, @midnight and @hourly",
                       text);
          return NULL;
        }
      g_free (text);
      text = g_strdup (fields_text);
    }

  split = g_strsplit_set (text, " \t\n\r\f\v", -1);
  for (guint i = 0; split[i] != NULL; i++)
    if (split[i][0] != '\0')
      g_ptr_array_add (words, split[i]);
  if (words->len != N_FIELDS)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "a schedule has 5 fields (minute hour day-of-month month day-of-week) "
                   "or is a name such as @daily; '%s' has %u%s",
                   text, words->len,
                   words->len == 6 ? " (seconds are not supported)" : "");
      return NULL;
    }

  cron = g_new0 (StCron, 1);
  for (int field = 0; field < N_FIELDS; field++)
    if (!parse_field (cron, (Field) field, g_ptr_array_index (words, field), error))
      return NULL;
  cron->never = compute_never (cron);
  return g_steal_pointer (&cron);
}

void
st_cron_free (StCron *cron)
{
  g_free (cron);
}

gboolean
st_cron_never (const StCron *cron)
{
  g_return_val_if_fail (cron != NULL, TRUE);

  return cron->never;
}

/* ---- the next fire ---- */

/* The lowest bit of @bits at @from or above, or -1. */
static int
next_bit (guint64 bits, int from)
{
  if (from >= 64)
    return -1;
  bits &= G_MAXUINT64 << from;
  return bits == 0 ? -1 : __builtin_ctzll (bits);
}

typedef struct
{
  int year, month, day, hour, minute;
} Wall;

static gint64
wall_to_seconds (const Wall *wall)
{
  return days_from_civil (wall->year, wall->month, wall->day) * 86400 + wall->hour * 3600 +
         wall->minute * 60;
}

static void
wall_from_seconds (gint64 seconds, Wall *wall)
{
  gint64 days = floor_div (seconds, 86400);
  gint64 rest = seconds - days * 86400;

  civil_from_days (days, &wall->year, &wall->month, &wall->day);
  wall->hour = (int) (rest / 3600);
  wall->minute = (int) (rest % 3600 / 60);
}

static void
next_month (Wall *wall)
{
  if (++wall->month > 12)
    {
      wall->month = 1;
      wall->year++;
    }
  wall->day = 1;
  wall->hour = 0;
  wall->minute = 0;
}

static void
next_day (Wall *wall)
{
  wall->day++;
  wall->hour = 0;
  wall->minute = 0;
}

/* Moves @wall to the first wall-clock minute at or after it that matches
 * every field, field by field. FALSE past ST_CRON_MAX_YEAR. */
static gboolean
find_wall (const StCron *cron, Wall *wall)
{
  while (wall->year <= ST_CRON_MAX_YEAR)
    {
      int length, hour, minute;

      if ((cron->months & (1u << wall->month)) == 0)
        {
          int month = next_bit (cron->months, wall->month + 1);

          if (month < 0)
            {
              wall->year++;
              month = next_bit (cron->months, 1);
            }
          wall->month = month;
          wall->day = 1;
          wall->hour = 0;
          wall->minute = 0;
          continue;
        }
      length = days_in_month (wall->year, wall->month);
      if (wall->day > length)
        {
          next_month (wall);
          continue;
        }
      if (!day_matches (cron, wall->day, length, weekday (wall->year, wall->month, wall->day)))
        {
          next_day (wall);
          continue;
        }
      hour = next_bit (cron->hours, wall->hour);
      if (hour < 0)
        {
          next_day (wall);
          continue;
        }
      if (hour != wall->hour)
        {
          wall->hour = hour;
          wall->minute = 0;
        }
      minute = next_bit (cron->minutes, wall->minute);
      if (minute < 0)
        {
          wall->hour++;
          wall->minute = 0;
          continue;
        }
      wall->minute = minute;
      return TRUE;
    }
  return FALSE;
}

static gint32
offset_at (GTimeZone *tz, gint64 instant)
{
  return g_time_zone_get_offset (tz,
                                 g_time_zone_find_interval (tz, G_TIME_TYPE_UNIVERSAL, instant));
}

/* The instant at which @tz's clock first shows @local (seconds of a wall
 * clock counted like Unix time). FALSE when the clock skips it: then
 * @resume is the first whole wall-clock minute after the gap and
 * @resume_instant when the clock shows it. */
static gboolean
local_to_instant (GTimeZone *tz, gint64 local, gint64 *instant, gint64 *resume,
                  gint64 *resume_instant)
{
  gint32 before = offset_at (tz, local - ST_CRON_WINDOW);
  gint32 after = offset_at (tz, local + ST_CRON_WINDOW);
  gboolean found = FALSE;
  gint64 lo, hi;

  /* In a repeated hour both offsets show @local; the larger one is the
   * first occurrence. */
  if (offset_at (tz, local - before) == before)
    {
      *instant = local - before;
      found = TRUE;
    }
  if (offset_at (tz, local - after) == after && (!found || local - after < *instant))
    {
      *instant = local - after;
      found = TRUE;
    }
  if (found)
    return TRUE;

  if (after <= before)
    {
      /* not a plain gap (two changes close together): step over the minute */
      *resume = local + 60;
      *resume_instant = local + 60 - after;
      return FALSE;
    }
  /* The clock jumps from @before to @after at an instant between these two. */
  lo = local - after;
  hi = local - before;
  while (hi - lo > 1)
    {
      gint64 mid = lo + (hi - lo) / 2;

      if (offset_at (tz, mid) == before)
        lo = mid;
      else
        hi = mid;
    }
  *resume = MAX (floor_div (hi + after + 59, 60) * 60, local + 60);
  *resume_instant = *resume - after;
  return FALSE;
}

GDateTime *
st_cron_next (const StCron *cron, GDateTime *after, GTimeZone *tz)
{
  gint64 after_seconds, local;

  g_return_val_if_fail (cron != NULL, NULL);
  g_return_val_if_fail (after != NULL, NULL);
  g_return_val_if_fail (tz != NULL, NULL);

  if (cron->never)
    return NULL;
  /* Fires fall on whole seconds, so "after" them is after @after's second. */
  after_seconds = g_date_time_to_unix (after);
  local = after_seconds + offset_at (tz, after_seconds);
  local = floor_div (local, 60) * 60 + 60;

  /* Wall-clock times map to instants in the same order (a repeated time
   * maps to its first occurrence, a skipped one to the end of the gap), so
   * the first matching wall-clock time whose instant is after @after is the
   * answer. Only in a repeated hour does a match come before @after. */
  for (;;)
    {
      Wall wall;
      gint64 instant, resume, resume_instant;
      g_autoptr (GDateTime) utc = NULL;

      wall_from_seconds (local, &wall);
      if (!find_wall (cron, &wall))
        return NULL;
      local = wall_to_seconds (&wall);
      if (local_to_instant (tz, local, &instant, &resume, &resume_instant))
        {
          local += 60;
        }
      else
        {
          /* Skipped by the clock: a job at a fixed hour fires when the clock
           * resumes; one whose hour is * or *\/n just misses the times that do
           * not exist. */
          local = resume;
          if (cron->hour_star)
            continue;
          instant = resume_instant;
        }
      if (instant <= after_seconds)
        continue;
      utc = g_date_time_new_from_unix_utc (instant);
      return utc != NULL ? g_date_time_to_timezone (utc, tz) : NULL;
    }
}
