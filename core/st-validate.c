/* Checks on customer fields.
 *
 * Every refusal is an ST_ERROR_INVALID_ARGUMENT whose message reads
 * "<field>: '<value>' <what is wrong>; <what to do>". The value is quoted
 * escaped and truncated, so a message stays one readable line of valid UTF-8
 * (it travels over D-Bus) whatever bytes the caller sent.
 */

#include "st-validate.h"

#include "st-error.h"
#include "st-punycode.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

/* Longest part of a value quoted in a message, in characters. */
#define ST_QUOTE_MAX_CHARS 64

/* RFC 5321 §4.5.3.1: local part 64 octets, a label 63, a domain 253 in
 * its ASCII (A-label) form, and a path of 256 octets including "<" ">",
 * which leaves 254 for the address. */
#define ST_EMAIL_LOCAL_MAX  64
#define ST_EMAIL_LABEL_MAX  63
#define ST_EMAIL_DOMAIN_MAX 253
#define ST_EMAIL_TOTAL_MAX  254

#define ST_EMAIL_HINT "give an address like name@example.com"
#define ST_TZ_HINT "give an IANA zone such as Europe/Paris or UTC"
#define ST_LOCALE_HINT "give a tag such as fr, en-GB, pt_BR or zh-Hant-TW"
#define ST_PHONE_HINT "give a number such as +33 1 23 45 67 89"

/* ---- messages ---------------------------------------------------------- */

static void
st_quote_append (GString *out, const char *value)
{
  const char *p = value;
  const char *end = value + strlen (value);
  guint n_chars = 0;

  g_string_append_c (out, '\'');
  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);

      if (n_chars++ == ST_QUOTE_MAX_CHARS)
        {
          g_string_append (out, "...");
          break;
        }
      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", (guchar) *p);
          p++;
          continue;
        }
      p = g_utf8_next_char (p);
      switch (c)
        {
        case '\\': g_string_append (out, "\\\\"); break;
        case '\'': g_string_append (out, "\\'"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        default:
          switch (g_unichar_type (c))
            {
            case G_UNICODE_CONTROL:
            case G_UNICODE_FORMAT:
            case G_UNICODE_LINE_SEPARATOR:
            case G_UNICODE_PARAGRAPH_SEPARATOR:
            case G_UNICODE_SURROGATE:
            case G_UNICODE_UNASSIGNED:
            case G_UNICODE_PRIVATE_USE:
              g_string_append_printf (out, "\\u%04X", c);
              break;
            default:
              g_string_append_unichar (out, c);
            }
        }
    }
  g_string_append_c (out, '\'');
  if (p < end)
    g_string_append_printf (out, " (%zu bytes)", strlen (value));
}

/* @len bytes of @s, quoted and escaped for a message. */
static char *
st_quote (const char *s, gsize len)
{
  g_autofree char *copy = g_strndup (s, len);
  GString *out = g_string_new (NULL);

  st_quote_append (out, copy);
  return g_string_free (out, FALSE);
}

/* Sets "<field>: '<value>' <problem>" and returns FALSE, so a check can
 * end with `return st_refuse (...)`. */
static gboolean G_GNUC_PRINTF (4, 5)
st_refuse (GError **error,
           const char *field,
           const char *value,
           const char *format,
           ...)
{
  g_autoptr(GString) msg = g_string_new (NULL);
  g_autofree char *problem = NULL;
  va_list args;

  va_start (args, format);
  problem = g_strdup_vprintf (format, args);
  va_end (args);

  g_string_append_printf (msg, "%s: ", field);
  if (value != NULL)
    {
      st_quote_append (msg, value);
      g_string_append_c (msg, ' ');
    }
  g_string_append (msg, problem);
  g_set_error_literal (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT, msg->str);
  return FALSE;
}

/* A character named on its own for a message: 'x', U+0007, "a space". */
static char *
st_describe_char (gunichar c)
{
  g_autoptr(GString) s = g_string_new (NULL);
  char buf[8] = { 0 };

  if (g_unichar_isspace (c))
    return c == ' ' ? g_strdup ("a space") : g_strdup_printf ("white space U+%04X", c);
  if (c < 0x20 || c == 0x7f || !g_unichar_isgraph (c))
    return g_strdup_printf ("U+%04X", c);
  g_unichar_to_utf8 (c, buf);
  st_quote_append (s, buf);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* Checks that @value is present, valid UTF-8 and @min..@max characters;
 * @hint says what to give instead of nothing. */
static gboolean
st_check_text (const char *field,
               const char *value,
               guint min,
               guint max,
               const char *hint,
               GError **error)
{
  glong n_chars;

  if (value == NULL)
    return st_refuse (error, field, NULL, "is missing; %s", hint);
  if (!g_utf8_validate (value, -1, NULL))
    return st_refuse (error, field, value,
                      "is not valid UTF-8; send the text encoded as UTF-8");
  n_chars = g_utf8_strlen (value, -1);
  if (n_chars < (glong) min)
    return st_refuse (error, field, value, "is empty; %s", hint);
  if (n_chars > (glong) max)
    return st_refuse (error, field, value,
                      "is %ld characters long; shorten it to at most %u",
                      n_chars, max);
  return TRUE;
}

/* ---- e-mail ------------------------------------------------------------ */

/* A character outside ASCII that may appear in an address (RFC 6532
 * UTF8-non-ascii), minus what no one can see or type: controls, format
 * characters other than the joiners some scripts need, separators,
 * private-use code points and noncharacters. Unassigned code points pass:
 * refusing them would make the verdict depend on the Unicode version of
 * the host's GLib. */
static gboolean
st_email_unichar_ok (gunichar c)
{
  if ((c & 0xFFFE) == 0xFFFE || (c >= 0xFDD0 && c <= 0xFDEF))
    return FALSE;
  switch (g_unichar_type (c))
    {
    case G_UNICODE_CONTROL:
    case G_UNICODE_SURROGATE:
    case G_UNICODE_PRIVATE_USE:
    case G_UNICODE_SPACE_SEPARATOR:
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
      return FALSE;
    case G_UNICODE_FORMAT:
      return c == 0x200C || c == 0x200D;
    default:
      return TRUE;
    }
}

/* Punctuation proper; g_unichar_ispunct() also counts symbols, and the
 * vectors accept symbols (emoji) in domain names. */
static gboolean
st_is_punctuation (gunichar c)
{
  switch (g_unichar_type (c))
    {
    case G_UNICODE_CONNECT_PUNCTUATION:
    case G_UNICODE_DASH_PUNCTUATION:
    case G_UNICODE_CLOSE_PUNCTUATION:
    case G_UNICODE_FINAL_PUNCTUATION:
    case G_UNICODE_INITIAL_PUNCTUATION:
    case G_UNICODE_OTHER_PUNCTUATION:
    case G_UNICODE_OPEN_PUNCTUATION:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
st_is_atext (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static gboolean
st_email_check_local (const char *value, const char *local, gsize len, GError **error)
{
  if (len == 0)
    return st_refuse (error, "email", value,
                      "has nothing before the '@'; " ST_EMAIL_HINT);
  if (local[0] == '.' || local[len - 1] == '.')
    return st_refuse (error, "email", value,
                      "has a dot at the %s of the part before the '@'; remove it",
                      local[0] == '.' ? "start" : "end");

  for (const char *p = local; p < local + len; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      g_autofree char *what = NULL;

      if (c == '.' && p[1] == '.')
        return st_refuse (error, "email", value,
                          "has two dots in a row before the '@'; remove one");
      if (c == '.' || (c < 0x80 && st_is_atext ((char) c))
          || (c >= 0x80 && st_email_unichar_ok (c)))
        continue;
      what = st_describe_char (c);
      if (c == '(' || c == ')')
        return st_refuse (error, "email", value,
                          "contains a comment in parentheses; remove the comment");
      if (c == '"' || c == '\\')
        return st_refuse (error, "email", value,
                          "has quoting (%s) in the part before the '@'; "
                          "use an address without quotes", what);
      return st_refuse (error, "email", value,
                        "has %s, which is not allowed before the '@'; "
                        "use letters, digits and !#$%%&'*+-/=?^_`{|}~ only", what);
    }

  if (len > ST_EMAIL_LOCAL_MAX)
    return st_refuse (error, "email", value,
                      "has %zu bytes before the '@', more than the %d allowed; "
                      "give a shorter address", len, ST_EMAIL_LOCAL_MAX);
  return TRUE;
}

/* An A-label must be the canonical Punycode of a lower-case, NFC label that
 * has at least one non-ASCII character (RFC 5891 §5.4). */
static gboolean
st_email_alabel_ok (const char *label, gsize len)
{
  g_autoptr(GArray) u = st_punycode_decode (label + 4, len - 4);
  g_autoptr(GString) again = NULL;
  g_autofree char *utf8 = NULL;
  g_autofree char *nfc = NULL;
  gboolean has_non_ascii = FALSE;

  if (u == NULL || u->len == 0)
    return FALSE;
  for (guint i = 0; i < u->len; i++)
    {
      gunichar c = g_array_index (u, gunichar, i);

      if (c >= 0x80)
        {
          has_non_ascii = TRUE;
          if (!st_email_unichar_ok (c) || g_unichar_isupper (c)
              || g_unichar_istitle (c) || st_is_punctuation (c))
            return FALSE;
        }
      else if (!g_ascii_islower (c) && !g_ascii_isdigit (c) && c != '-')
        return FALSE;
    }
  if (!has_non_ascii)
    return FALSE;

  utf8 = g_ucs4_to_utf8 ((gunichar *) u->data, u->len, NULL, NULL, NULL);
  nfc = utf8 != NULL ? g_utf8_normalize (utf8, -1, G_NORMALIZE_NFC) : NULL;
  if (nfc == NULL || strcmp (nfc, utf8) != 0)
    return FALSE;

  again = g_string_new ("xn--");
  return st_punycode_encode ((gunichar *) u->data, u->len, again)
         && again->len == len
         && g_ascii_strncasecmp (again->str, label, len) == 0;
}

/* Checks one label of the domain and returns its length in ASCII form
 * (what DNS limits), or 0 after setting @error. */
static gsize
st_email_check_label (const char *value,
                      const char *label,
                      gsize len,
                      gboolean is_tld,
                      GError **error)
{
  g_autofree char *quoted_label = st_quote (label, len);
  gboolean ascii = TRUE, letters_only = TRUE;
  gsize ascii_len = len;

  if (len == 0)
    return st_refuse (error, "email", value,
                      "has an empty label (two dots in a row, or a dot at an "
                      "end) in its domain; " ST_EMAIL_HINT);
  if (label[0] == '-' || label[len - 1] == '-')
    return st_refuse (error, "email", value,
                      "has a domain label %s that %s with a hyphen; "
                      "check the domain name", quoted_label,
                      label[0] == '-' ? "starts" : "ends");

  for (const char *p = label; p < label + len; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      g_autofree char *what = NULL;

      if (c < 0x80 && (g_ascii_isalnum (c) || c == '-'))
        {
          letters_only = letters_only && g_ascii_isalpha (c);
          continue;
        }
      ascii = FALSE;
      if (c >= 0x80 && st_email_unichar_ok (c) && !st_is_punctuation (c))
        {
          letters_only = letters_only && (g_unichar_isalpha (c) || g_unichar_ismark (c));
          continue;
        }
      what = st_describe_char (c);
      if (c == '[' || c == ']')
        return st_refuse (error, "email", value,
                          "has an address literal in brackets as its domain; "
                          "give a domain name, like name@example.com");
      if (c == '(' || c == ')')
        return st_refuse (error, "email", value,
                          "contains a comment in parentheses; remove the comment");
      return st_refuse (error, "email", value,
                        "has %s in its domain, where only letters, digits, "
                        "hyphens and dots are allowed; check the domain name", what);
    }

  if (ascii && len >= 4 && label[2] == '-' && label[3] == '-')
    {
      if (g_ascii_strncasecmp (label, "xn", 2) != 0)
        return st_refuse (error, "email", value,
                          "has a domain label %s with '--' in the third and "
                          "fourth places, which is reserved; check the domain name",
                          quoted_label);
      if (!st_email_alabel_ok (label, len))
        return st_refuse (error, "email", value,
                          "has a domain label %s that is not a valid "
                          "internationalized (xn--) name; check the domain name",
                          quoted_label);
      letters_only = TRUE;
    }

  if (!ascii)
    {
      g_autofree char *nfc = g_utf8_normalize (label, len, G_NORMALIZE_NFC);
      g_autofree gunichar *u = NULL;
      glong n_u = 0;
      g_autoptr(GString) alabel = g_string_new ("xn--");

      u = g_utf8_to_ucs4_fast (nfc, -1, &n_u);
      for (glong i = 0; i < n_u; i++)
        u[i] = g_unichar_tolower (u[i]);
      if (!st_punycode_encode (u, n_u, alabel))
        alabel->len = G_MAXSIZE;
      ascii_len = alabel->len;
    }
  if (ascii_len > ST_EMAIL_LABEL_MAX)
    return st_refuse (error, "email", value,
                      "has a domain label of %zu bytes%s, more than the %d "
                      "allowed; check the domain name", ascii_len,
                      ascii ? "" : " once encoded for DNS", ST_EMAIL_LABEL_MAX);

  /* Top-level domains are letters only, or IDNs; an all-digit or
   * digit-led last label means a mistyped IP address (RFC 3696 §2). */
  if (is_tld && g_ascii_isdigit (label[0]))
    return st_refuse (error, "email", value,
                      "has a domain ending in %s, which is a number, not a "
                      "top-level domain; " ST_EMAIL_HINT, quoted_label);
  if (is_tld && !letters_only)
    return st_refuse (error, "email", value,
                      "has a domain ending in %s; top-level domains are "
                      "letters only, check the domain name", quoted_label);
  if (is_tld && g_utf8_strlen (label, len) < 2)
    return st_refuse (error, "email", value,
                      "has a domain ending in %s; top-level domains are at "
                      "least two letters, check the domain name", quoted_label);
  return ascii_len;
}

/* Returns the domain's length in ASCII form, or 0 after setting @error. */
static gsize
st_email_check_domain (const char *value, const char *domain, GError **error)
{
  const char *label = domain;
  gsize total = 0;

  if (*domain == '\0')
    return st_refuse (error, "email", value,
                      "has nothing after the '@'; " ST_EMAIL_HINT);
  if (*domain == '[')
    return st_refuse (error, "email", value,
                      "has an address literal in brackets as its domain; "
                      "give a domain name, like name@example.com");
  if (strchr (domain, '.') == NULL)
    return st_refuse (error, "email", value,
                      "has no dot in its domain; " ST_EMAIL_HINT);

  for (;;)
    {
      const char *dot = strchr (label, '.');
      gsize len = dot != NULL ? (gsize) (dot - label) : strlen (label);
      gsize ascii_len = st_email_check_label (value, label, len, dot == NULL, error);

      if (ascii_len == 0)
        return 0;
      total += ascii_len;
      if (dot == NULL)
        break;
      total++;
      label = dot + 1;
    }

  if (total > ST_EMAIL_DOMAIN_MAX)
    return st_refuse (error, "email", value,
                      "has a domain of %zu bytes, more than the %d allowed; "
                      "check the domain name", total, ST_EMAIL_DOMAIN_MAX);
  return total;
}

gboolean
st_validate_email (const char *value, GError **error)
{
  const char *at;
  gsize domain_len;

  if (value == NULL)
    return st_refuse (error, "email", NULL, "is missing; " ST_EMAIL_HINT);
  if (*value == '\0')
    return st_refuse (error, "email", value, "is empty; " ST_EMAIL_HINT);
  if (!g_utf8_validate (value, -1, NULL))
    return st_refuse (error, "email", value,
                      "is not valid UTF-8; send the address encoded as UTF-8");

  /* Whitespace and control characters first: they are never part of an
   * address a CRM should store (no folding white space, no CFWS). */
  for (const char *p = value; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_isspace (c))
        return st_refuse (error, "email", value,
                          "contains white space; remove the spaces");
      if (c < 0x20 || c == 0x7f || g_unichar_iscntrl (c))
        return st_refuse (error, "email", value,
                          "contains the control character U+%04X; remove it", c);
    }

  if (value[0] == '"')
    return st_refuse (error, "email", value,
                      "has a quoted local part, which many mail systems mishandle; "
                      "use an address without quotes");
  at = strrchr (value, '@');
  if (at == NULL)
    return st_refuse (error, "email", value, "has no '@'; " ST_EMAIL_HINT);
  if (strchr (value, '@') != at)
    {
      const char *first = strchr (value, '@');

      if (!st_email_check_local (value, value, first - value, error))
        return FALSE;
      return st_refuse (error, "email", value,
                        "has more than one '@'; " ST_EMAIL_HINT);
    }

  if (!st_email_check_local (value, value, at - value, error))
    return FALSE;
  domain_len = st_email_check_domain (value, at + 1, error);
  if (domain_len == 0)
    return FALSE;
  if ((gsize) (at - value) + 1 + domain_len > ST_EMAIL_TOTAL_MAX)
    return st_refuse (error, "email", value,
                      "is %zu bytes long with its domain encoded for DNS, more "
                      "than the %d allowed; give a shorter address",
                      (gsize) (at - value) + 1 + domain_len, ST_EMAIL_TOTAL_MAX);
  return TRUE;
}

/* ---- time zone --------------------------------------------------------- */

/* "UTC+5", "EST5EDT,M3.2.0,M11.1.0", "<+03>-3": POSIX TZ rules, which
 * carry no history and are easy to get backwards. */
static gboolean
st_tz_looks_posix (const char *value)
{
  const char *p = value;

  if (*p == '<' || strchr (value, ',') != NULL)
    return TRUE;
  while (g_ascii_isalpha (*p))
    p++;
  return p - value >= 3 && (*p == '+' || *p == '-' || g_ascii_isdigit (*p));
}

static const char *
st_tz_dir (void)
{
  const char *dir = g_getenv ("TZDIR");

  return dir != NULL && *dir != '\0' ? dir : "/usr/share/zoneinfo";
}

gboolean
st_validate_tz (const char *value, GError **error)
{
  static const char *const not_zones[] = { "local", "localtime", "posixrules", "Factory" };
  g_autofree char *path = NULL;
  g_auto(GStrv) parts = NULL;
  char magic[4] = { 0 };
  struct stat st;
  gboolean is_dir = FALSE;
  int fd;
  gssize n = 0;

  if (!st_check_text ("tz", value, 1, 255, ST_TZ_HINT, error))
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (not_zones); i++)
    if (g_ascii_strcasecmp (value, not_zones[i]) == 0)
      return st_refuse (error, "tz", value,
                        "names no zone, it depends on the host; " ST_TZ_HINT);
  if (value[0] == '/' || value[0] == ':')
    return st_refuse (error, "tz", value,
                      "is a path or a POSIX TZ value, not a zone name; " ST_TZ_HINT);
  for (const char *p = value; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("/_-+.", *p) == NULL)
      {
        if (st_tz_looks_posix (value))
          return st_refuse (error, "tz", value,
                            "is a POSIX TZ rule, not a zone name; " ST_TZ_HINT);
        return st_refuse (error, "tz", value,
                          "contains a character zone names never have; " ST_TZ_HINT);
      }

  parts = g_strsplit (value, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (parts[i][0] == '\0' || parts[i][0] == '.')
      return st_refuse (error, "tz", value,
                        "is not a zone name (empty, '.' or '..' part); " ST_TZ_HINT);
  if (g_str_has_prefix (value, "posix/") || g_str_has_prefix (value, "right/"))
    return st_refuse (error, "tz", value,
                      "names a variant directory of the tz database; "
                      "drop the '%.*s' prefix", 6, value);

  path = g_build_filename (st_tz_dir (), value, NULL);
  /* O_NONBLOCK so that a FIFO planted in the tz directory cannot hang us. */
  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
  if (fd >= 0)
    {
      gboolean have_stat = fstat (fd, &st) == 0;

      if (have_stat && S_ISREG (st.st_mode))
        {
          do
            n = read (fd, magic, sizeof magic);
          while (n < 0 && errno == EINTR);
        }
      is_dir = have_stat && S_ISDIR (st.st_mode);
      g_close (fd, NULL);
    }
  if (n == (gssize) sizeof magic && memcmp (magic, "TZif", 4) == 0)
    return TRUE;

  if (is_dir)
    return st_refuse (error, "tz", value,
                      "is a region of the tz database, not a zone; give a zone "
                      "in it, such as Europe/Paris");
  if (st_tz_looks_posix (value))
    return st_refuse (error, "tz", value,
                      "looks like a POSIX TZ rule, not a zone name; "
                      "give an IANA zone such as America/New_York or Etc/GMT-5");
  return st_refuse (error, "tz", value,
                    "is not a zone in the tz database (%s); " ST_TZ_HINT,
                    st_tz_dir ());
}

/* ---- locale ------------------------------------------------------------ */

static gboolean
st_all (const char *s, gsize len, gboolean (*pred) (gchar c))
{
  for (gsize i = 0; i < len; i++)
    if (!pred (s[i]))
      return FALSE;
  return TRUE;
}

static gboolean st_isalpha (gchar c) { return g_ascii_isalpha (c); }
static gboolean st_isdigit (gchar c) { return g_ascii_isdigit (c); }

gboolean
st_validate_locale (const char *value, GError **error)
{
  const char *p;
  gsize len;
  gboolean seen_script = FALSE, seen_region = FALSE;

  if (!st_check_text ("locale", value, 1, 35, ST_LOCALE_HINT, error))
    return FALSE;
  if (strpbrk (value, ".@") != NULL)
    return st_refuse (error, "locale", value,
                      "has a POSIX encoding or modifier suffix; drop it and "
                      ST_LOCALE_HINT);

  len = strcspn (value, "-_");
  if (len < 2 || len > 3 || !st_all (value, len, st_isalpha))
    return st_refuse (error, "locale", value,
                      "does not start with a 2- or 3-letter language code; "
                      ST_LOCALE_HINT);

  for (p = value + len; *p != '\0'; p += len)
    {
      p++;
      len = strcspn (p, "-_");
      if (len == 4 && st_all (p, len, st_isalpha) && !seen_script && !seen_region)
        seen_script = TRUE;
      else if (((len == 2 && st_all (p, len, st_isalpha))
                || (len == 3 && st_all (p, len, st_isdigit)))
               && !seen_region)
        seen_region = TRUE;
      else if (len == 0)
        return st_refuse (error, "locale", value,
                          "has an empty subtag; " ST_LOCALE_HINT);
      else
        {
          g_autofree char *subtag = st_quote (p, len);

          return st_refuse (error, "locale", value,
                            "has a subtag %s that is neither a script (4 letters) "
                            "nor a region (2 letters or 3 digits) in that place; "
                            ST_LOCALE_HINT, subtag);
        }
    }
  return TRUE;
}

/* ---- name, ref, phone, tag --------------------------------------------- */

gboolean
st_validate_name (const char *value, GError **error)
{
  gboolean blank = TRUE;

  if (!st_check_text ("name", value, 1, 200, "give the customer's name", error))
    return FALSE;
  for (const char *p = value; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      GUnicodeType type = g_unichar_type (c);

      if (type == G_UNICODE_CONTROL || type == G_UNICODE_LINE_SEPARATOR
          || type == G_UNICODE_PARAGRAPH_SEPARATOR)
        return st_refuse (error, "name", value,
                          "contains the control character U+%04X; remove it", c);
      if (!g_unichar_isspace (c) && type != G_UNICODE_FORMAT)
        blank = FALSE;
    }
  if (blank)
    return st_refuse (error, "name", value, "is blank; give the customer's name");
  return TRUE;
}

gboolean
st_validate_ref (const char *value, GError **error)
{
  gunichar first, last;

  if (!st_check_text ("ref", value, 1, 100,
                      "give the customer's reference in your system", error))
    return FALSE;
  for (const char *p = value; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (!g_unichar_isprint (c) || (c != ' ' && g_unichar_isspace (c)))
        return st_refuse (error, "ref", value,
                          "contains the non-printable character U+%04X; remove it", c);
    }
  first = g_utf8_get_char (value);
  last = g_utf8_get_char (g_utf8_prev_char (value + strlen (value)));
  if (g_unichar_isspace (first) || g_unichar_isspace (last))
    return st_refuse (error, "ref", value,
                      "has spaces at an end; remove them");
  if (g_ascii_strncasecmp (value, "id:", 3) == 0)
    return st_refuse (error, "ref", value,
                      "starts with 'id:', which is reserved for addressing "
                      "customers by id; choose another reference");
  return TRUE;
}

gboolean
st_validate_owner (const char *value, GError **error)
{
  gunichar first, last;

  if (!st_check_text ("owner", value, 1, 100,
                      "give the account manager's user name", error))
    return FALSE;
  for (const char *p = value; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (!g_unichar_isprint (c) || (c != ' ' && g_unichar_isspace (c)))
        return st_refuse (error, "owner", value,
                          "contains the non-printable character U+%04X; "
                          "remove it", c);
    }
  first = g_utf8_get_char (value);
  last = g_utf8_get_char (g_utf8_prev_char (value + strlen (value)));
  if (g_unichar_isspace (first) || g_unichar_isspace (last))
    return st_refuse (error, "owner", value,
                      "has spaces at an end; remove them");
  return TRUE;
}

gboolean
st_validate_phone (const char *value, GError **error)
{
  guint n_digits = 0;
  int depth = 0;

  if (!st_check_text ("phone", value, 1, 64, ST_PHONE_HINT, error))
    return FALSE;
  for (const char *p = value; *p != '\0'; p++)
    {
      if (g_ascii_isdigit (*p))
        n_digits++;
      else if (*p == '+' && p != value)
        return st_refuse (error, "phone", value,
                          "has a '+' after the start; put it only in front, "
                          "like +33 1 23 45 67 89");
      else if (*p == '(' && ++depth > 1)
        return st_refuse (error, "phone", value,
                          "has nested parentheses; write it like +1 (555) 123-4567");
      else if (*p == ')' && --depth < 0)
        return st_refuse (error, "phone", value,
                          "has a ')' without '('; write it like +1 (555) 123-4567");
      else if (*p != '+' && *p != ' ' && *p != '.' && *p != '-'
               && *p != '(' && *p != ')')
        {
          gunichar c = g_utf8_get_char (p);
          g_autofree char *what = st_describe_char (c);

          return st_refuse (error, "phone", value,
                            "has %s; use digits, a leading '+', spaces, dots, "
                            "dashes and parentheses only", what);
        }
    }
  if (depth != 0)
    return st_refuse (error, "phone", value,
                      "has a '(' without ')'; write it like +1 (555) 123-4567");
  if (n_digits < 4 || n_digits > 20)
    return st_refuse (error, "phone", value,
                      "has %u digits; a phone number has 4 to 20", n_digits);
  return TRUE;
}

gboolean
st_validate_tag (const char *value, GError **error)
{
  if (!st_check_text ("tag", value, 1, 64, "give a tag such as vip or churn-risk:high",
                      error))
    return FALSE;
  for (const char *p = value; *p != '\0'; p = g_utf8_next_char (p))
    if (!g_ascii_isalnum (*p) && strchr ("-_:.", *p) == NULL)
      {
        g_autofree char *what = st_describe_char (g_utf8_get_char (p));

        return st_refuse (error, "tag", value,
                          "has %s; use ASCII letters, digits, '-', '_', ':' and '.' only",
                          what);
      }
  return TRUE;
}
