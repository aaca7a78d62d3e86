/* Times of imported rows. They are converted by hand (days from the
 * civil calendar, digits without printf) rather than through GDateTime: an
 * import reads hundreds of thousands of them, and only a time without an
 * offset in a zone other than UTC needs the zone database. */

#include "st-import-values.h"

#include <string.h>

#include "st-error.h"

struct _StImportTimeFormat {
  char *pattern; /* NULL: ISO-8601 */
  GTimeZone *tz; /* NULL: UTC */
};

/* The parts of a time as written. */
typedef struct {
  int year, month, day, hour, minute, second, usec;
  int pm;             /* -1 none, 0 AM, 1 PM */
  gboolean has_offset;
  int offset;         /* seconds east of UTC */
} Parts;

static const char *const month_names[] = {
  "january", "february", "march", "april", "may", "june", "july", "august",
  "september", "october", "november", "december",
};

static gboolean
invalid (GError **error, const char *text, const char *what)
{
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT, "'%s' %s", text,
               what);
  return FALSE;
}

/* Formats ----------------------------------------------------------------- */

static gboolean
check_pattern (const char *pattern, GError **error)
{
  gboolean year = FALSE, month = FALSE, day = FALSE, h12 = FALSE, ampm = FALSE;

  for (const char *p = pattern; *p != '\0'; p++)
    {
      if (*p != '%')
        continue;
      switch (*++p)
        {
        case 'Y': case 'y': year = TRUE; break;
        case 'm': case 'b': case 'B': month = TRUE; break;
        case 'd': case 'e': day = TRUE; break;
        case 'F': year = month = day = TRUE; break;
        case 'I': h12 = TRUE; break;
        case 'p': ampm = TRUE; break;
        case 'H': case 'M': case 'S': case 'f': case 'z': case 'T': case '%':
          break;
        default:
          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "date format '%s': %%%c is not a directive it knows; "
                       "use %%Y %%y %%m %%d %%e %%b %%H %%I %%p %%M %%S %%f "
                       "%%z %%T %%F or %%%%", pattern, *p ? *p : ' ');
          return FALSE;
        }
      if (*p == '\0')
        break;
    }
  if (!year || !month || !day || h12 != ampm)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "date format '%s' needs a year, a month and a day (and "
                   "%%I goes with %%p), e.g. '%%m/%%d/%%Y %%H:%%M'", pattern);
      return FALSE;
    }
  return TRUE;
}

StImportTimeFormat *
st_import_time_format_new (const char *pattern, GTimeZone *tz, GError **error)
{
  StImportTimeFormat *format;

  if (pattern != NULL && !check_pattern (pattern, error))
    return NULL;
  format = g_new0 (StImportTimeFormat, 1);
  format->pattern = g_strdup (pattern);
  if (tz != NULL && g_time_zone_get_offset (tz, 0) == 0
      && g_str_equal (g_time_zone_get_identifier (tz), "UTC"))
    tz = NULL;
  format->tz = tz != NULL ? g_time_zone_ref (tz) : NULL;
  return format;
}

void
st_import_time_format_free (StImportTimeFormat *format)
{
  if (format == NULL)
    return;
  g_free (format->pattern);
  g_clear_pointer (&format->tz, g_time_zone_unref);
  g_free (format);
}

/* Reading ------------------------------------------------------------------- */

static gboolean
read_number (const char **t, int min_digits, int max_digits, int *out)
{
  int n = 0, value = 0;

  while (n < max_digits && g_ascii_isdigit ((*t)[n]))
    value = value * 10 + ((*t)[n++] - '0');
  if (n < min_digits)
    return FALSE;
  *t += n;
  *out = value;
  return TRUE;
}

static gboolean
read_fraction (const char **t, int *usec)
{
  int n = 0, value = 0;

  for (; g_ascii_isdigit (**t); (*t)++, n++)
    if (n < 6)
      value = value * 10 + (**t - '0');
  for (int i = n; i < 6; i++)
    value *= 10;
  *usec = value;
  return n > 0;
}

static gboolean
read_offset (const char **t, Parts *parts)
{
  int sign, hours, minutes = 0;

  if (**t == 'Z' || **t == 'z')
    {
      (*t)++;
      parts->has_offset = TRUE;
      parts->offset = 0;
      return TRUE;
    }
  if (**t != '+' && **t != '-')
    return FALSE;
  sign = **t == '-' ? -1 : 1;
  (*t)++;
  if (!read_number (t, 2, 2, &hours) || hours > 23)
    return FALSE;
  if (**t == ':')
    (*t)++;
  if (g_ascii_isdigit (**t) && (!read_number (t, 2, 2, &minutes) || minutes > 59))
    return FALSE;
  parts->has_offset = TRUE;
  parts->offset = sign * (hours * 3600 + minutes * 60);
  return TRUE;
}

static gboolean
read_month_name (const char **t, int *month)
{
  for (int i = 0; i < 12; i++)
    {
      gsize full = strlen (month_names[i]);

      if (g_ascii_strncasecmp (*t, month_names[i], full) == 0)
        {
          *t += full;
          *month = i + 1;
          return TRUE;
        }
      if (g_ascii_strncasecmp (*t, month_names[i], 3) == 0)
        {
          *t += 3;
          *month = i + 1;
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
read_ampm (const char **t, int *pm)
{
  if ((g_ascii_toupper ((*t)[0]) != 'A' && g_ascii_toupper ((*t)[0]) != 'P')
      || g_ascii_toupper ((*t)[1]) != 'M')
    return FALSE;
  *pm = g_ascii_toupper ((*t)[0]) == 'P';
  *t += 2;
  return TRUE;
}

static gboolean read_pattern (const char *pattern, const char **t,
                              Parts *parts);

static gboolean
read_directive (char d, const char **t, Parts *parts)
{
  int two_digit;

  switch (d)
    {
    case 'Y': return read_number (t, 4, 4, &parts->year);
    case 'y':
      if (!read_number (t, 2, 2, &two_digit))
        return FALSE;
      parts->year = two_digit + (two_digit >= 69 ? 1900 : 2000);
      return TRUE;
    case 'm': return read_number (t, 1, 2, &parts->month);
    case 'd': case 'e':
      if (d == 'e' && **t == ' ')
        (*t)++;
      return read_number (t, 1, 2, &parts->day);
    case 'b': case 'B': return read_month_name (t, &parts->month);
    case 'H': case 'I': return read_number (t, 1, 2, &parts->hour);
    case 'M': return read_number (t, 1, 2, &parts->minute);
    case 'S': return read_number (t, 1, 2, &parts->second);
    case 'f': return read_fraction (t, &parts->usec);
    case 'p': return read_ampm (t, &parts->pm);
    case 'z': return read_offset (t, parts);
    case 'T': return read_pattern ("%H:%M:%S", t, parts);
    case 'F': return read_pattern ("%Y-%m-%d", t, parts);
    case '%':
      if (**t != '%')
        return FALSE;
      (*t)++;
      return TRUE;
    default: return FALSE;
    }
}

static gboolean
read_pattern (const char *pattern, const char **t, Parts *parts)
{
  for (const char *p = pattern; *p != '\0'; p++)
    {
      if (*p == '%')
        {
          if (!read_directive (*++p, t, parts))
            return FALSE;
        }
      else if (*p == ' ')
        {
          if (**t != ' ')
            return FALSE;
          while (**t == ' ')
            (*t)++;
        }
      else if (**t == *p)
        (*t)++;
      else
        return FALSE;
    }
  return TRUE;
}

static gboolean
read_iso (const char **t, Parts *parts)
{
  if (!read_number (t, 4, 4, &parts->year) || *(*t)++ != '-'
      || !read_number (t, 2, 2, &parts->month) || *(*t)++ != '-'
      || !read_number (t, 2, 2, &parts->day))
    return FALSE;
  if (**t == '\0')
    return TRUE;
  if (**t != 'T' && **t != 't' && **t != ' ')
    return FALSE;
  (*t)++;
  /* one digit too: spreadsheets write yyyy-mm-dd h:mm */
  if (!read_number (t, 1, 2, &parts->hour) || *(*t)++ != ':'
      || !read_number (t, 2, 2, &parts->minute))
    return FALSE;
  if (**t == ':')
    {
      (*t)++;
      if (!read_number (t, 2, 2, &parts->second))
        return FALSE;
      if ((**t == '.' || **t == ',') && ((*t)++, !read_fraction (t, &parts->usec)))
        return FALSE;
    }
  if (**t != '\0' && !read_offset (t, parts))
    return FALSE;
  return TRUE;
}

/* Converting ---------------------------------------------------------------- */

/* Days from 1970-01-01 to a date of the proleptic Gregorian calendar
 * (H. Hinnant's algorithm). */
static gint64
days_from_civil (int y, int m, int d)
{
  gint64 era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void
civil_from_days (gint64 z, int *y, int *m, int *d)
{
  gint64 era, doe, yoe, doy, mp;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (int) (doy - (153 * mp + 2) / 5 + 1);
  *m = (int) (mp < 10 ? mp + 3 : mp - 9);
  *y = (int) (yoe + era * 400 + (*m <= 2));
}

static gboolean
check_parts (Parts *parts)
{
  static const int month_days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
                                    30, 31 };
  int y = parts->year;
  gboolean leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

  if (parts->pm >= 0)
    {
      if (parts->hour < 1 || parts->hour > 12)
        return FALSE;
      parts->hour = parts->hour % 12 + (parts->pm ? 12 : 0);
    }
  return y >= 1 && y <= 9999 && parts->month >= 1 && parts->month <= 12
         && parts->day >= 1 && parts->day <= month_days[parts->month - 1]
         && (parts->month != 2 || parts->day <= 28 || leap)
         && parts->hour <= 23 && parts->minute <= 59 && parts->second <= 59;
}

static gboolean
local_to_usec (GTimeZone *tz, const Parts *parts, gint64 *usec)
{
  g_autoptr (GDateTime) dt = g_date_time_new (tz, parts->year, parts->month,
                                              parts->day, parts->hour,
                                              parts->minute, parts->second);

  if (dt == NULL)
    return FALSE;
  *usec = g_date_time_to_unix (dt) * G_USEC_PER_SEC + parts->usec;
  return TRUE;
}

/* Hints ------------------------------------------------------------------- */

/* For a local date such as 01/02/2024 [10:00[:05] [PM]], the two formats
 * it may be in; NULL for anything else. */
static char *
local_date_hint (const char *text)
{
  const char *t = text;
  int a, b, year, hour, minute, second;
  char sep;
  const char *year_form, *time_form = "";
  gsize year_digits;

  if (!read_number (&t, 1, 2, &a) || strchr ("/.-", *t) == NULL)
    return NULL;
  sep = *t++;
  if (!read_number (&t, 1, 2, &b) || *t++ != sep)
    return NULL;
  year_digits = strspn (t, "0123456789");
  if ((year_digits != 2 && year_digits != 4) || !read_number (&t, 2, 4, &year))
    return NULL;
  year_form = year_digits == 4 ? "%Y" : "%y";
  if (*t == ' ' || *t == 'T')
    {
      char space = *t++;
      gboolean seconds;
      int pm = -1;

      if (!read_number (&t, 1, 2, &hour) || *t++ != ':'
          || !read_number (&t, 2, 2, &minute))
        return NULL;
      seconds = *t == ':' && (t++, read_number (&t, 2, 2, &second));
      if (*t == ' ' && (t++, !read_ampm (&t, &pm)))
        return NULL;
      time_form = pm >= 0 ? (seconds ? " %I:%M:%S %p" : " %I:%M %p")
                          : (seconds ? " %H:%M:%S" : " %H:%M");
      if (space == 'T')
        time_form = seconds ? "T%H:%M:%S" : "T%H:%M";
    }
  if (*t != '\0')
    return NULL;
  return g_strdup_printf ("give --date-format '%%d%c%%m%c%s%s' (day first) or "
                          "'%%m%c%%d%c%s%s' (month first)", sep, sep,
                          year_form, time_form, sep, sep, year_form,
                          time_form);
}

/* A month past 12 that would be a day: the format has them swapped. */
static gboolean
swapped_hint (const StImportTimeFormat *format, const Parts *parts,
              const char *text, GError **error)
{
  const char *m = strstr (format->pattern, "%m");
  const char *d = strstr (format->pattern, "%d");

  if (d == NULL)
    d = strstr (format->pattern, "%e");
  if (m == NULL || d == NULL || parts->month <= 12 || parts->month > 31)
    return FALSE;
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
               "'%s' is not a date and time of the calendar (month %d: are "
               "%s written first? then swap %%d and %%m in --date-format)",
               text, parts->month, m < d ? "days" : "months");
  return TRUE;
}

/* Parsing ----------------------------------------------------------------- */

gboolean
st_import_parse_time (const StImportTimeFormat *format, const char *text,
                      gint64 *usec, GError **error)
{
  Parts parts = { 0, 1, 1, 0, 0, 0, 0, -1, FALSE, 0 };
  const char *t = text;
  gboolean read = format->pattern != NULL
                      ? read_pattern (format->pattern, &t, &parts)
                      : read_iso (&t, &parts);

  if (!read || *t != '\0')
    {
      g_autofree char *hint = format->pattern == NULL ? local_date_hint (text)
                                                      : NULL;

      if (hint != NULL)
        {
          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "'%s' is not an ISO-8601 date and time such as "
                       "2024-05-01T14:30:00Z; %s", text, hint);
          return FALSE;
        }
      return invalid (error, text,
                      format->pattern != NULL
                          ? "does not match the date format"
                          : "is not an ISO-8601 date and time such as "
                            "2024-05-01T14:30:00Z (give --date-format for "
                            "another form)");
    }
  if (!check_parts (&parts))
    {
      if (format->pattern != NULL && swapped_hint (format, &parts, text, error))
        return FALSE;
      return invalid (error, text, "is not a date and time of the calendar");
    }
  if (!parts.has_offset && format->tz != NULL)
    {
      if (!local_to_usec (format->tz, &parts, usec))
        return invalid (error, text, "is out of range");
      return TRUE;
    }
  *usec = ((days_from_civil (parts.year, parts.month, parts.day) * 86400
            + parts.hour * 3600 + parts.minute * 60 + parts.second
            - parts.offset)
           * G_USEC_PER_SEC)
          + parts.usec;
  return TRUE;
}

/* Digits by hand: printf costs more than the rest of a row's conversion. */
static void
append_digits (GString *out, gint64 value, int width)
{
  char buf[24];
  int n = 0;

  do
    buf[n++] = (char) ('0' + value % 10);
  while ((value /= 10) > 0 && n < (int) sizeof buf);
  while (n < width)
    buf[n++] = '0';
  while (n > 0)
    g_string_append_c (out, buf[--n]);
}

void
st_import_append_time (GString *out, gint64 usec)
{
  gint64 secs = usec >= 0 ? usec / G_USEC_PER_SEC
                          : -((-usec + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
  gint64 frac = usec - secs * G_USEC_PER_SEC;
  gint64 days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  gint64 rest = secs - days * 86400;
  int y, m, d;

  civil_from_days (days, &y, &m, &d);
  append_digits (out, y, 4);
  g_string_append_c (out, '-');
  append_digits (out, m, 2);
  g_string_append_c (out, '-');
  append_digits (out, d, 2);
  g_string_append_c (out, ' ');
  append_digits (out, rest / 3600, 2);
  g_string_append_c (out, ':');
  append_digits (out, rest / 60 % 60, 2);
  g_string_append_c (out, ':');
  append_digits (out, rest % 60, 2);
  if (frac != 0)
    {
      g_string_append_c (out, '.');
      append_digits (out, frac, 6);
    }
  g_string_append (out, "+00");
}
