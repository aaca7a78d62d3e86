/* The email plugin's mail: RFC 5322 headers (RFC 2047 encoded words where
 * the text is not plain ASCII) and a MIME body in UTF-8 quoted-printable,
 * with CRLF line ends and no line over 78 characters. Nothing here knows
 * of SMTP or of the daemon. */

#include "email-message.h"

#include <string.h>

/* The longest line quoted-printable writes, soft break included. */
#define QP_LINE_MAX 76

/* What the plugin accepts as an address: ASCII, one '@', no spaces or
 * characters that would need quoting. Enough for real-world addresses. */
gboolean
email_address_valid (const char *address)
{
  const char *at = strchr (address, '@');

  if (at == NULL || at == address || at[1] == '\0' || strchr (at + 1, '@'))
    return FALSE;
  for (const char *p = address; *p != '\0'; p++)
    if ((guchar) *p <= ' ' || (guchar) *p >= 0x7f
        || strchr ("<>()[]\\,;:\"", *p) != NULL)
      return FALSE;
  return TRUE;
}

static gboolean
ascii_printable (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p < ' ' || (guchar) *p >= 0x7f)
      return FALSE;
  return TRUE;
}

/* Header text ------------------------------------------------------------ */

/* The column the text appended next to @out starts at. */
static gsize
current_column (GString *out)
{
  const char *nl = g_strrstr_len (out->str, out->len, "\n");

  return nl != NULL ? out->len - (nl + 1 - out->str) : out->len;
}

/* RFC 2047 encoded words ("=?UTF-8?B?...?="), never splitting a character,
 * separated by folding (CRLF SP) so that no line exceeds 78 characters. */
static void
append_encoded_words (GString *out, const char *text)
{
  const char *p = text;

  while (*p != '\0')
    {
      /* 12 characters of markers; 4 base64 characters per 3 bytes. At
       * the start of a folded line (column 1) 48 bytes fit: always one
       * character at least. */
      gsize col = current_column (out);
      gsize max_bytes = col + 12 < 78 ? (78 - 12 - col) / 4 * 3 : 0;
      const char *end = p;
      g_autofree char *b64 = NULL;

      while (*end != '\0')
        {
          const char *next = g_utf8_next_char (end);
          if ((gsize) (next - p) > max_bytes)
            break;
          end = next;
        }
      if (end == p) /* no room left on this line for a character */
        {
          g_string_append (out, "\r\n ");
          continue;
        }
      b64 = g_base64_encode ((const guchar *) p, end - p);
      g_string_append_printf (out, "=?UTF-8?B?%s?=", b64);
      p = end;
      if (*p != '\0')
        g_string_append (out, "\r\n ");
    }
}

/* Header text from user data: valid UTF-8, one line (control characters
 * become spaces, so nothing can inject a header). */
static char *
header_text (const char *text)
{
  char *clean = g_utf8_make_valid (text, -1);

  for (char *p = clean; *p != '\0'; p++)
    if ((guchar) *p < ' ' || (guchar) *p == 0x7f)
      *p = ' ';
  return clean;
}

/* An unstructured header (Subject): plain when it is short printable
 * ASCII, else encoded words. */
static void
append_unstructured (GString *out, const char *name, const char *value)
{
  g_autofree char *clean = header_text (value);

  g_string_append_printf (out, "%s: ", name);
  if (ascii_printable (clean) && strstr (clean, "=?") == NULL
      && strlen (name) + 2 + strlen (clean) <= 78)
    g_string_append (out, clean);
  else
    append_encoded_words (out, clean);
  g_string_append (out, "\r\n");
}

static gboolean
is_atext_phrase (const char *text)
{
  if (*text == '\0' || strstr (text, "=?") != NULL)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr (" !#$%&'*+-/=?^_`{|}~", *p) == NULL)
      return FALSE;
  return TRUE;
}

/* "Name: Display Name <address>\r\n", the display name as atoms, a quoted
 * string or encoded words, folded to keep lines within 78 characters. */
static void
append_mailbox (GString *out, const char *header, const EmailMailbox *mailbox)
{
  const char *address = mailbox->address;
  g_autofree char *clean = mailbox->display != NULL
                               ? header_text (mailbox->display)
                               : NULL;
  gsize start = out->len;

  if (clean != NULL)
    g_strstrip (clean);
  g_string_append_printf (out, "%s: ", header);
  if (clean == NULL || *clean == '\0')
    {
      g_string_append_printf (out, "%s\r\n", address);
      return;
    }
  if (is_atext_phrase (clean))
    g_string_append (out, clean);
  else if (ascii_printable (clean) && strstr (clean, "=?") == NULL)
    {
      g_string_append_c (out, '"');
      for (const char *p = clean; *p != '\0'; p++)
        {
          if (*p == '"' || *p == '\\')
            g_string_append_c (out, '\\');
          g_string_append_c (out, *p);
        }
      g_string_append_c (out, '"');
    }
  else
    append_encoded_words (out, clean);
  /* A long ASCII name is one line: encoded words fold where plain ones
   * cannot. */
  if (out->len - start > 78 && !strstr (out->str + start, "\r\n"))
    {
      g_string_truncate (out, start);
      g_string_append_printf (out, "%s: ", header);
      append_encoded_words (out, clean);
    }
  g_string_append (out, current_column (out) + 3 + strlen (address) > 78
                            ? "\r\n "
                            : " ");
  g_string_append_printf (out, "<%s>\r\n", address);
}

/* The body ---------------------------------------------------------------- */

/* Quoted-printable (RFC 2045) with CRLF line ends: every line of @text,
 * whatever its end (LF, CRLF, CR), becomes one or more lines of at most 76
 * characters; a character's bytes are never split across lines. */
static void
append_quoted_printable (GString *out, const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  const char *p = valid;

  while (*p != '\0')
    {
      gsize len = strcspn (p, "\r\n");
      const char *end = p + len;
      guint col = 0;

      for (const char *c = p; c < end; c = g_utf8_next_char (c))
        {
          const char *next = g_utf8_next_char (c);
          guchar b = (guchar) *c;
          gboolean last = next >= end;
          char token[32];
          gsize n = 0;

          if ((b >= 33 && b <= 126 && b != '=')
              || ((b == ' ' || b == '\t') && !last))
            token[n++] = (char) b;
          else
            for (const char *q = c; q < next; q++)
              n += g_snprintf (token + n, sizeof token - n, "=%02X",
                               (guchar) *q);
          /* "From " at a line's start is mangled by mbox stores. */
          if (col == 0 && g_str_has_prefix (c, "From "))
            n = g_snprintf (token, sizeof token, "=46");
          if (col + n > QP_LINE_MAX - 1)
            {
              g_string_append (out, "=\r\n");
              col = 0;
            }
          g_string_append_len (out, token, n);
          col += n;
        }
      g_string_append (out, "\r\n");
      p = end;
      if (*p == '\r' && p[1] == '\n')
        p += 2;
      else if (*p != '\0')
        p++;
    }
}

static void
append_date (GString *out)
{
  static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri",
                                      "Sat", "Sun" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
                                        "Jun", "Jul", "Aug", "Sep", "Oct",
                                        "Nov", "Dec" };
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();

  /* Written out by hand: g_date_time_format() follows the locale. */
  g_string_append_printf (out, "Date: %s, %02d %s %d %02d:%02d:%02d +0000\r\n",
                          days[g_date_time_get_day_of_week (now) - 1],
                          g_date_time_get_day_of_month (now),
                          months[g_date_time_get_month (now) - 1],
                          g_date_time_get_year (now),
                          g_date_time_get_hour (now),
                          g_date_time_get_minute (now),
                          g_date_time_get_second (now));
}

static void
append_part (GString *out, const char *type, const char *text)
{
  g_string_append_printf (out, "Content-Type: text/%s; charset=utf-8\r\n"
                          "Content-Transfer-Encoding: quoted-printable\r\n"
                          "\r\n", type);
  append_quoted_printable (out, text);
}

char *
email_message_build (const EmailMessage *m)
{
  GString *out = g_string_sized_new (1024 + strlen (m->text) * 3);

  append_date (out);
  append_mailbox (out, "From", m->from);
  if (m->reply_to != NULL && m->reply_to->address != NULL)
    append_mailbox (out, "Reply-To", m->reply_to);
  append_mailbox (out, "To", m->to);
  if (m->subject != NULL)
    append_unstructured (out, "Subject", m->subject);
  g_string_append_printf (out, "Message-ID: %s\r\n", m->message_id);
  g_string_append (out, "MIME-Version: 1.0\r\n"
                        "Auto-Submitted: auto-generated\r\n");
  if (m->html == NULL)
    {
      append_part (out, "plain", m->text);
      return g_string_free (out, FALSE);
    }
  /* "=_" cannot occur in quoted-printable text: a safe boundary. */
  g_string_append_printf (out, "Content-Type: multipart/alternative;\r\n"
                          " boundary=\"=_steward_%s\"\r\n\r\n"
                          "This is a message in MIME format.\r\n",
                          m->boundary);
  g_string_append_printf (out, "--=_steward_%s\r\n", m->boundary);
  append_part (out, "plain", m->text);
  g_string_append_printf (out, "--=_steward_%s\r\n", m->boundary);
  append_part (out, "html", m->html);
  g_string_append_printf (out, "--=_steward_%s--\r\n", m->boundary);
  return g_string_free (out, FALSE);
}
