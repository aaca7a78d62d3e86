/* Amounts, refs, payload values and COPY text of imported rows (times
 * are st-import-time.c). */

#include "st-import-values.h"

#include <math.h>
#include <string.h>

#include "st-error.h"
#include "st-json.h"

void
st_import_append_uint (GString *out, guint64 value)
{
  char buf[24];
  int n = 0;

  do
    buf[n++] = (char) ('0' + value % 10);
  while ((value /= 10) > 0);
  while (n > 0)
    g_string_append_c (out, buf[--n]);
}

/* Amounts, refs, payloads ---------------------------------------------------- */

gboolean
st_import_parse_amount (const char *text, char decimal, GString *out,
                        GError **error)
{
  const char *p = text, *int_start, *frac_start = NULL;
  gsize int_len, frac_len = 0;
  gboolean negative = FALSE;

  if (*p == '+' || *p == '-')
    negative = *p++ == '-';
  int_start = p;
  while (g_ascii_isdigit (*p))
    p++;
  int_len = (gsize) (p - int_start);
  if (*p == decimal)
    {
      frac_start = ++p;
      while (g_ascii_isdigit (*p))
        p++;
      frac_len = (gsize) (p - frac_start);
    }
  if (*p != '\0' || int_len + frac_len == 0)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "'%s' is not an amount; write digits with '%c' as the "
                   "decimal separator, such as 12%c50 or -3", text, decimal,
                   decimal);
      return FALSE;
    }
  while (int_len > 1 && *int_start == '0')
    int_start++, int_len--;
  if (int_len > 12)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "'%s' is beyond what one event can carry (less than a "
                   "trillion either way); check the value", text);
      return FALSE;
    }
  if (negative)
    g_string_append_c (out, '-');
  if (int_len == 0)
    g_string_append_c (out, '0');
  g_string_append_len (out, int_start, (gssize) int_len);
  if (frac_len > 0)
    {
      g_string_append_c (out, '.');
      g_string_append_len (out, frac_start, (gssize) frac_len);
    }
  return TRUE;
}

const char *
st_import_normalize_ref (const char *text, GString *scratch)
{
  gsize digits = strspn (text, "0123456789");

  if (digits == 0 || text[digits] != '.' || text[digits + 1] == '\0'
      || strspn (text + digits + 1, "0") != strlen (text + digits + 1))
    return text;
  g_string_truncate (scratch, 0);
  g_string_append_len (scratch, text, (gssize) digits);
  return scratch->str;
}

/* JSON's number grammar; *is_integer when it has no fraction or exponent. */
static gboolean
is_json_number (const char *t, gboolean *is_integer)
{
  *is_integer = TRUE;
  if (*t == '-')
    t++;
  if (*t == '0')
    t++;
  else if (g_ascii_isdigit (*t))
    while (g_ascii_isdigit (*t))
      t++;
  else
    return FALSE;
  if (*t == '.')
    {
      *is_integer = FALSE;
      if (!g_ascii_isdigit (*++t))
        return FALSE;
      while (g_ascii_isdigit (*t))
        t++;
    }
  if (*t == 'e' || *t == 'E')
    {
      *is_integer = FALSE;
      t++;
      if (*t == '+' || *t == '-')
        t++;
      if (!g_ascii_isdigit (*t))
        return FALSE;
      while (g_ascii_isdigit (*t))
        t++;
    }
  return *t == '\0';
}

void
st_import_append_json_value (GString *out, const char *text)
{
  gboolean is_integer;

  if (g_str_equal (text, "true") || g_str_equal (text, "false"))
    {
      g_string_append (out, text);
      return;
    }
  if (is_json_number (text, &is_integer))
    {
      gint64 i;

      if (is_integer
          && g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &i,
                                       NULL))
        {
          g_string_append (out, text);
          return;
        }
      if (!is_integer)
        {
          double d = g_ascii_strtod (text, NULL);

          if (isfinite (d))
            {
              g_autofree char *shortest = st_json_format_double (d);

              g_string_append (out, shortest);
              return;
            }
        }
    }
  st_import_append_json_string (out, text);
}

void
st_import_append_json_string (GString *out, const char *text)
{
  g_string_append_c (out, '"');
  for (const char *p = text; *p != '\0'; p++)
    {
      unsigned char c = (unsigned char) *p;

      if (c == '"' || c == '\\')
        g_string_append_c (out, '\\'), g_string_append_c (out, (char) c);
      else if (c < 0x20)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char) c);
    }
  g_string_append_c (out, '"');
}

void
st_import_append_copy_text (GString *out, const char *text)
{
  if (text == NULL)
    {
      g_string_append (out, "\\N");
      return;
    }
  for (const char *p = text; *p != '\0';)
    {
      gsize plain = strcspn (p, "\\\t\n\r");

      g_string_append_len (out, p, (gssize) plain);
      p += plain;
      switch (*p)
        {
        case '\0': return;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '\n': g_string_append (out, "\\n"); break;
        default: g_string_append (out, "\\r"); break;
        }
      p++;
    }
}
