#include "st-cli-input.h"

#include <math.h>
#include <string.h>

#include "st-error.h"

/* ---- times ---- */

static gboolean
read_digits (const char **p, guint n, gint *out)
{
  gint v = 0;

  for (guint i = 0; i < n; i++)
    {
      if (!g_ascii_isdigit ((*p)[i]))
        return FALSE;
      v = v * 10 + ((*p)[i] - '0');
    }
  *p += n;
  *out = v;
  return TRUE;
}

static GDateTime *
bad_time (const char *text, GError **error)
{
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
               "'%s' is not an ISO-8601 date or time; write it like "
               "2024-05-01, 2024-05-01T14:30 or 2024-05-01T14:30:00+02:00",
               text);
  return NULL;
}

GDateTime *
st_cli_parse_time (const char *text, GTimeZone *local, GError **error)
{
  const char *p = text;
  gint year, month, day, hour = 0, minute = 0, second = 0, usec = 0;
  g_autoptr (GTimeZone) zone = NULL;
  g_autoptr (GDateTime) time = NULL;

  if (!read_digits (&p, 4, &year) || *p++ != '-' || !read_digits (&p, 2, &month) ||
      *p++ != '-' || !read_digits (&p, 2, &day))
    return bad_time (text, error);

  if (*p == 'T' || *p == 't' || *p == ' ')
    {
      p++;
      if (!read_digits (&p, 2, &hour) || *p++ != ':' || !read_digits (&p, 2, &minute))
        return bad_time (text, error);
      if (*p == ':')
        {
          p++;
          if (!read_digits (&p, 2, &second))
            return bad_time (text, error);
          if (*p == '.' || *p == ',')
            {
              gint scale = 100000;

              p++;
              if (!g_ascii_isdigit (*p))
                return bad_time (text, error);
              for (; g_ascii_isdigit (*p); p++, scale /= 10)
                usec += (*p - '0') * scale;
            }
        }
      if (*p == 'Z' || *p == 'z')
        {
          zone = g_time_zone_new_utc ();
          p++;
        }
      else if (*p == '+' || *p == '-')
        {
          gint sign = *p == '-' ? -1 : 1;
          gint oh, om = 0;

          p++;
          if (!read_digits (&p, 2, &oh))
            return bad_time (text, error);
          if (*p == ':')
            p++;
          if (g_ascii_isdigit (*p) && !read_digits (&p, 2, &om))
            return bad_time (text, error);
          if (oh > 23 || om > 59)
            return bad_time (text, error);
          zone = g_time_zone_new_offset (sign * (oh * 3600 + om * 60));
        }
    }
  if (*p != '\0')
    return bad_time (text, error);

  if (hour <= 23 && minute <= 59 && second <= 59)
    time = g_date_time_new (zone != NULL ? zone : local, year, month, day, hour, minute, second);
  if (time == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "'%s' is not a valid date or time; check the month, day, "
                   "hours, minutes and offset",
                   text);
      return NULL;
    }
  if (usec > 0)
    return g_date_time_add (time, usec);
  return g_steal_pointer (&time);
}

char *
st_cli_format_utc (GDateTime *time)
{
  g_autoptr (GDateTime) utc = g_date_time_to_utc (time);
  /* %Y would write the year 999 with three digits. */
  g_autofree char *rest = g_date_time_format (utc, "-%m-%dT%H:%M:%S");
  gint usec = g_date_time_get_microsecond (utc);

  if (usec != 0)
    return g_strdup_printf ("%04d%s.%06dZ", g_date_time_get_year (utc), rest,
                            usec);
  return g_strdup_printf ("%04d%sZ", g_date_time_get_year (utc), rest);
}

/* ---- command-line values ---- */

gboolean
st_cli_parse_kv (const char *text, char **key, char **value, GError **error)
{
  const char *eq = strchr (text, '=');

  if (eq == NULL || eq == text)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "'%s' %s; write KEY=VALUE, e.g. plan=pro", text,
                   eq == NULL ? "has no '='" : "has no key before '='");
      return FALSE;
    }
  *key = g_strndup (text, eq - text);
  *value = g_strdup (eq + 1);
  return TRUE;
}

/* JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static gboolean
is_json_number (const char *p, gboolean *is_integer)
{
  *is_integer = TRUE;
  if (*p == '-')
    p++;
  if (*p == '0')
    p++;
  else if (*p >= '1' && *p <= '9')
    while (g_ascii_isdigit (*p))
      p++;
  else
    return FALSE;
  if (*p == '.')
    {
      p++;
      if (!g_ascii_isdigit (*p))
        return FALSE;
      while (g_ascii_isdigit (*p))
        p++;
      *is_integer = FALSE;
    }
  if (*p == 'e' || *p == 'E')
    {
      p++;
      if (*p == '+' || *p == '-')
        p++;
      if (!g_ascii_isdigit (*p))
        return FALSE;
      while (g_ascii_isdigit (*p))
        p++;
      *is_integer = FALSE;
    }
  return *p == '\0';
}

GVariant *
st_cli_coerce_value (const char *text)
{
  gboolean is_integer;

  if (g_str_equal (text, "true") || g_str_equal (text, "false"))
    return g_variant_new_boolean (g_str_equal (text, "true"));

  if (is_json_number (text, &is_integer))
    {
      if (is_integer)
        {
          gint64 i;

          if (g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &i, NULL))
            return g_variant_new_int64 (i);
        }
      else
        {
          double d = g_ascii_strtod (text, NULL);

          if (isfinite (d))
            return g_variant_new_double (d);
        }
    }
  return g_variant_new_string (text);
}

gboolean
st_cli_parse_amount (const char *text, double *amount, GError **error)
{
  const char *p = text;
  gboolean digits = FALSE;
  double d;

  if (*p == '+' || *p == '-')
    p++;
  for (; g_ascii_isdigit (*p); p++)
    digits = TRUE;
  if (*p == '.')
    for (p++; g_ascii_isdigit (*p); p++)
      digits = TRUE;

  if (!digits || *p != '\0' || !isfinite (d = g_ascii_strtod (text, NULL)))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "'%s' is not a number; write it like 12.50 or -3 "
                   "(digits, with a dot for decimals)",
                   text);
      return FALSE;
    }
  *amount = d;
  return TRUE;
}

gboolean
st_cli_parse_count (const char *text, guint32 *count, GError **error)
{
  guint64 n;

  if (!g_ascii_isdigit (*text) ||
      !g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT32, &n, NULL))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "'%s' is not a whole number from 1 to %u", text, G_MAXUINT32);
      return FALSE;
    }
  *count = (guint32) n;
  return TRUE;
}

gboolean
st_cli_parse_id (const char *text, gint64 *id, GError **error)
{
  guint64 n;

  if (!g_ascii_isdigit (*text) ||
      !g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT64, &n, NULL))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "'%s' is not an id (a whole number from 1 up)", text);
      return FALSE;
    }
  *id = (gint64) n;
  return TRUE;
}
