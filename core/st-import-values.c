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

/* A currency sign (any of Unicode's: $ € £ ¥ ₹ …) or an ISO 4217 code
 * (EUR), as spreadsheets write one before or after an amount: its length
 * in bytes, or 0. @text is valid UTF-8. */
static gsize
currency_len (const char *text)
{
  gunichar c = g_utf8_get_char (text);

  if (*text != '\0' && g_unichar_type (c) == G_UNICODE_CURRENCY_SYMBOL)
    return (gsize) (g_utf8_next_char (text) - text);
  if (g_ascii_isupper (text[0]) && g_ascii_isupper (text[1])
      && g_ascii_isupper (text[2]) && !g_ascii_isalpha (text[3]))
    return 3;
  return 0;
}

/* A thousands separator: the other of '.' and ',', a space, a no-break
 * space (U+00A0, U+202F: French exports), an apostrophe (' or ’: Swiss).
 * Its length in bytes, or 0. */
static gsize
group_separator_len (const char *text, char decimal)
{
  if (*text == (decimal == '.' ? ',' : '.') || *text == ' ' || *text == '\'')
    return 1;
  if (g_str_has_prefix (text, "\xC2\xA0"))
    return 2;
  if (g_str_has_prefix (text, "\xE2\x80\xAF")
      || g_str_has_prefix (text, "\xE2\x80\x99"))
    return 3;
  return 0;
}

/* Spaces between an amount and its currency: ' ', and the no-break ones
 * (U+00A0, U+202F) of French formats. */
static const char *
skip_spaces (const char *p)
{
  for (;;)
    if (*p == ' ')
      p++;
    else if (g_str_has_prefix (p, "\xC2\xA0"))
      p += 2;
    else if (g_str_has_prefix (p, "\xE2\x80\xAF"))
      p += 3;
    else
      return p;
}

static const char *
skip_currency (const char *p, gboolean *seen)
{
  gsize len = *seen ? 0 : currency_len (p);

  if (len == 0)
    return p;
  *seen = TRUE;
  return skip_spaces (p + len);
}

/* The integer part, thousands separators in groups of three (one kind of
 * separator throughout), its digits appended to @out. */
static const char *
read_grouped (const char *p, char decimal, GString *out)
{
  const char *sep = NULL;
  gsize sep_len = 0, first = strspn (p, "0123456789");

  g_string_append_len (out, p, (gssize) first);
  p += first;
  for (;;)
    {
      gsize len = group_separator_len (p, decimal);

      if (len == 0 || first == 0 || first > 3
          || (sep != NULL && (len != sep_len || strncmp (p, sep, len) != 0))
          || strspn (p + len, "0123456789") != 3)
        return p;
      sep = p;
      sep_len = len;
      g_string_append_len (out, p + len, 3);
      p += len + 3;
    }
}

typedef enum { AMOUNT_OK, AMOUNT_INVALID, AMOUNT_TOO_BIG } AmountOutcome;

/* @text as an amount appended to @out ("-1234.50"), or @out as it was.
 * Around the number: a sign, a currency before or after, or parentheses
 * for a negative (accounting formats); nothing is guessed: a separator
 * that is not in groups of three makes it no amount. */
static AmountOutcome
read_amount (const char *text, char decimal, GString *out)
{
  const char *p = text, *frac = NULL;
  gboolean parens = FALSE, currency = FALSE, sign = FALSE, negative = FALSE;
  gsize start = out->len, digits, zeros, frac_len = 0;

  if (*p == '(')
    parens = TRUE, p++;
  p = skip_currency (p, &currency);
  if (*p == '+' || *p == '-')
    sign = TRUE, negative = *p++ == '-';
  else if (g_str_has_prefix (p, "\xE2\x88\x92")) /* U+2212, Nordic formats */
    sign = negative = TRUE, p += 3;
  p = skip_currency (p, &currency);
  if (!parens && !sign && *p == '(')
    parens = TRUE, p++;
  if (negative || parens)
    g_string_append_c (out, '-');
  digits = out->len;
  p = read_grouped (p, decimal, out);
  if (*p == decimal)
    {
      frac = ++p;
      p += strspn (p, "0123456789");
      frac_len = (gsize) (p - frac);
    }
  if (!currency)
    {
      const char *after = skip_spaces (p);
      const char *end = skip_currency (after, &currency);

      if (end != after)
        p = end;
    }
  if ((parens && (sign || *p++ != ')')) || *p != '\0'
      || out->len - digits + frac_len == 0)
    {
      g_string_truncate (out, start);
      return AMOUNT_INVALID;
    }
  for (zeros = 0; digits + zeros < out->len && out->str[digits + zeros] == '0';
       zeros++)
    ;
  if (out->len - digits - zeros > 12)
    {
      g_string_truncate (out, start);
      return AMOUNT_TOO_BIG;
    }
  if (zeros > 0 && digits + zeros == out->len)
    zeros--; /* 000 is 0 */
  g_string_erase (out, (gssize) digits, (gssize) zeros);
  if (out->len == digits)
    g_string_append_c (out, '0'); /* .5 */
  if (frac_len > 0)
    {
      g_string_append_c (out, '.');
      g_string_append_len (out, frac, (gssize) frac_len);
    }
  return AMOUNT_OK;
}

gboolean
st_import_parse_amount (const char *text, char decimal, GString *out,
                        GError **error)
{
  char other = decimal == '.' ? ',' : '.';
  g_autoptr (GString) scratch = NULL;

  switch (read_amount (text, decimal, out))
    {
    case AMOUNT_OK:
      return TRUE;
    case AMOUNT_TOO_BIG:
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "'%s' is beyond what one event can carry (less than a "
                   "trillion either way); check the value", text);
      return FALSE;
    case AMOUNT_INVALID:
      break;
    }
  scratch = g_string_new (NULL);
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
               "'%s' is not an amount; write digits with '%c' as the decimal "
               "separator, such as 12%c50, -3, 1%c234%c50, $12 or (12%c50)%s",
               text, decimal, decimal, other, decimal, decimal,
               read_amount (text, other, scratch) != AMOUNT_INVALID
                   ? (other == ',' ? "; for decimal commas give --decimal ,"
                                   : "; for decimal points give --decimal .")
                   : "");
  return FALSE;
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

gboolean
st_import_ref_is_rounded (const char *text)
{
  const char *p = text;

  if (!g_ascii_isdigit (*p++))
    return FALSE;
  if ((*p == '.' || *p == ',') && g_ascii_isdigit (p[1]))
    p += 1 + strspn (p + 1, "0123456789");
  if ((*p != 'E' && *p != 'e') || (p[1] != '+' && p[1] != '-'))
    return FALSE;
  p += 2;
  return g_ascii_isdigit (*p) && p[strspn (p, "0123456789")] == '\0';
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
