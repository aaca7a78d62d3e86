/* The CSV reader: a byte-at-a-time state machine, so records may span the
 * pieces the input arrives in (a quoted line break, a CRLF, even the
 * byte-order mark split across two reads). UTF-16 input, known by its
 * byte-order mark, is converted to UTF-8 on the way in. */

#include "st-csv.h"

#include <errno.h>
#include <string.h>

#include "st-error.h"

typedef enum {
  FIELD_START, /* nothing of the field yet */
  UNQUOTED,
  QUOTED,
  QUOTE_IN_QUOTED, /* a quote inside quotes: "" or the closing one */
  AFTER_CR,        /* a record ended with CR: swallow an LF after it */
  LEADING_BLANKS,  /* only spaces so far: a quote may still open the field */
  AFTER_QUOTED,    /* spaces after the closing quote */
} State;

static const char bom[] = "\xEF\xBB\xBF";

struct _StCsv {
  char delimiter;
  StCsvRecordFunc func;
  gpointer user_data;
  State state;
  guint bom_seen;        /* bytes of the BOM matched; 3 once decided */
  guint64 line;          /* the physical line being read */
  guint64 record_line;   /* where the current record started */
  guint64 quote_line;    /* where the open quote started */
  GString *buf;          /* the record's fields, each ended by a NUL */
  GArray *starts;        /* offset of each field in buf */
  gsize field_start;
  gboolean field_quoted; /* the first field was quoted (not an empty line) */
  gboolean in_record;
  const char *problem;
  char *problem_text;
  gboolean overflow;     /* a record outgrew ST_CSV_MAX_RECORD */
  GPtrArray *fields;     /* pointers into buf, rebuilt per record */

  gboolean sniffed;      /* the first two bytes were looked at */
  GIConv utf16;          /* (GIConv) -1 unless the input is UTF-16 */
  char held[4];          /* bytes of a character split between pieces */
  guint n_held;
};

StCsv *
st_csv_new (char delimiter, StCsvRecordFunc func, gpointer user_data)
{
  StCsv *csv = g_new0 (StCsv, 1);

  csv->delimiter = delimiter;
  csv->func = func;
  csv->user_data = user_data;
  csv->line = 1;
  csv->record_line = 1;
  csv->buf = g_string_sized_new (4096);
  csv->starts = g_array_new (FALSE, FALSE, sizeof (gsize));
  csv->fields = g_ptr_array_new ();
  csv->utf16 = (GIConv) -1;
  return csv;
}

void
st_csv_set_delimiter (StCsv *csv, char delimiter)
{
  csv->delimiter = delimiter;
}

void
st_csv_free (StCsv *csv)
{
  if (csv == NULL)
    return;
  g_string_free (csv->buf, TRUE);
  g_array_unref (csv->starts);
  g_ptr_array_unref (csv->fields);
  g_free (csv->problem_text);
  if (csv->utf16 != (GIConv) -1)
    g_iconv_close (csv->utf16);
  g_free (csv);
}

static void
set_problem (StCsv *csv, const char *problem)
{
  if (csv->problem == NULL)
    csv->problem = problem;
}

/* A problem whose text is made for this record. */
static void
set_problem_text (StCsv *csv, char *text)
{
  if (csv->problem != NULL)
    {
      g_free (text);
      return;
    }
  g_free (csv->problem_text);
  csv->problem = csv->problem_text = text;
}

/* Why the field from @start (@len bytes) is not UTF-8, and what to do. */
static char *
explain_invalid (const char *start, gsize len, guint field)
{
  const char *end, *from;

  g_utf8_validate_len (start, len, &end);
  if (*end == '\0')
    return g_strdup_printf ("field %u has a NUL byte: is the file UTF-16 "
                            "without a byte-order mark, or not a text file? "
                            "Save it as CSV UTF-8", field);
  from = end - MIN ((gsize) (end - start), 20);
  while (from < end && ((guchar) *from & 0xC0) == 0x80)
    from++;
  return g_strdup_printf (
      "field %u is not valid UTF-8 (byte 0x%02X %s%.*s%s): the file must be "
      "UTF-8; if it is Latin-1 or Windows-1252, convert it first (iconv -f "
      "WINDOWS-1252 -t UTF-8 FILE.csv > FILE-utf8.csv) or save it from the "
      "spreadsheet as CSV UTF-8", field, (guchar) *end,
      end > start ? "after '" : "at its start", (int) (end - from), from,
      end > start ? "'" : "");
}

static void
append (StCsv *csv, char c)
{
  if (csv->buf->len >= ST_CSV_MAX_RECORD)
    {
      csv->overflow = TRUE;
      return;
    }
  g_string_append_c (csv->buf, c);
}

static void
begin_field (StCsv *csv)
{
  csv->field_start = csv->buf->len;
}

static void
end_field (StCsv *csv)
{
  gsize len = csv->buf->len - csv->field_start;

  if (!g_utf8_validate_len (csv->buf->str + csv->field_start, len, NULL)
      && csv->problem == NULL)
    set_problem_text (csv, explain_invalid (csv->buf->str + csv->field_start,
                                            len, csv->starts->len + 1));
  g_array_append_val (csv->starts, csv->field_start);
  g_string_append_c (csv->buf, '\0');
  begin_field (csv);
}

static void
reset_record (StCsv *csv)
{
  g_string_truncate (csv->buf, 0);
  g_array_set_size (csv->starts, 0);
  csv->field_start = 0;
  csv->field_quoted = FALSE;
  csv->in_record = FALSE;
  csv->problem = NULL;
}

/* The record is complete: hand it over, unless it is an empty line. */
static gboolean
emit (StCsv *csv)
{
  gboolean go_on = TRUE;

  end_field (csv);
  if (csv->starts->len > 1 || csv->buf->len > 1 || csv->field_quoted
      || csv->problem != NULL)
    {
      g_ptr_array_set_size (csv->fields, 0);
      for (guint i = 0; i < csv->starts->len; i++)
        g_ptr_array_add (csv->fields,
                         csv->buf->str + g_array_index (csv->starts, gsize, i));
      go_on = csv->func ((char **) csv->fields->pdata,
                         csv->fields->len, csv->record_line, csv->problem,
                         csv->user_data);
    }
  reset_record (csv);
  return go_on;
}

static void
start_record_if_needed (StCsv *csv)
{
  if (!csv->in_record)
    {
      csv->in_record = TRUE;
      csv->record_line = csv->line;
    }
}

/* A line break outside quotes ends the record. */
static gboolean
end_of_line (StCsv *csv, char c)
{
  gboolean go_on = TRUE;

  if (csv->in_record || csv->buf->len > 0)
    go_on = emit (csv);
  else
    reset_record (csv);
  csv->line++;
  csv->state = c == '\r' ? AFTER_CR : FIELD_START;
  return go_on;
}

static gboolean
step_unquoted (StCsv *csv, char c)
{
  if (c == csv->delimiter)
    {
      end_field (csv);
      csv->state = FIELD_START;
    }
  else if (c == '\n' || c == '\r')
    return end_of_line (csv, c);
  else
    append (csv, c); /* a quote inside an unquoted field is kept */
  return TRUE;
}

static gboolean
is_blank (const StCsv *csv, char c)
{
  return (c == ' ' || c == '\t') && c != csv->delimiter;
}

static void
open_quote (StCsv *csv)
{
  if (csv->starts->len == 0)
    csv->field_quoted = TRUE;
  csv->quote_line = csv->line;
  csv->state = QUOTED;
}

static gboolean
field_start (StCsv *csv, char c)
{
  start_record_if_needed (csv);
  if (c == '"')
    open_quote (csv);
  else if (c == csv->delimiter)
    end_field (csv);
  else if (c == '\n' || c == '\r')
    return end_of_line (csv, c);
  else
    {
      append (csv, c);
      csv->state = is_blank (csv, c) ? LEADING_BLANKS : UNQUOTED;
    }
  return TRUE;
}

/* Spaces before a quote belong to no field: ' "a, b"' is a quoted field. */
static gboolean
leading_blanks (StCsv *csv, char c)
{
  if (c == '"')
    {
      g_string_truncate (csv->buf, csv->field_start);
      open_quote (csv);
      return TRUE;
    }
  if (!is_blank (csv, c))
    csv->state = UNQUOTED;
  return step_unquoted (csv, c);
}

/* Spaces after a closing quote are dropped; anything else is text after
 * the quote, a problem. */
static gboolean
after_quoted (StCsv *csv, char c)
{
  if (is_blank (csv, c))
    return TRUE;
  if (c == csv->delimiter)
    {
      end_field (csv);
      csv->state = FIELD_START;
    }
  else if (c == '\n' || c == '\r')
    return end_of_line (csv, c);
  else
    {
      set_problem (csv, "text follows a closing quote; inside a quoted "
                        "field write a quote as \"\"");
      append (csv, c);
      csv->state = UNQUOTED;
    }
  return TRUE;
}

static gboolean
step (StCsv *csv, char c)
{
  switch (csv->state)
    {
    case AFTER_CR:
      csv->state = FIELD_START;
      if (c == '\n')
        return TRUE;
      /* fall through */
    case FIELD_START:
      return field_start (csv, c);
    case UNQUOTED:
      return step_unquoted (csv, c);
    case LEADING_BLANKS:
      return leading_blanks (csv, c);
    case AFTER_QUOTED:
      return after_quoted (csv, c);
    case QUOTED:
      if (c == '"')
        csv->state = QUOTE_IN_QUOTED;
      else
        {
          /* CR, LF and CRLF are each one line break */
          if (c == '\r'
              || (c == '\n'
                  && (csv->buf->len == csv->field_start
                      || csv->buf->str[csv->buf->len - 1] != '\r')))
            csv->line++;
          append (csv, c);
        }
      return TRUE;
    case QUOTE_IN_QUOTED:
      if (c == '"')
        {
          append (csv, '"');
          csv->state = QUOTED;
        }
      else if (c == csv->delimiter)
        {
          end_field (csv);
          csv->state = FIELD_START;
        }
      else
        {
          csv->state = AFTER_QUOTED;
          return after_quoted (csv, c);
        }
      return TRUE;
    }
  return TRUE;
}

/* The byte-order mark is only one at the very start; bytes that merely
 * began like one are parsed after all. */
static gboolean
take_bom (StCsv *csv, char c, gboolean *consumed)
{
  *consumed = FALSE;
  if (csv->bom_seen >= 3)
    return TRUE;
  if (c == bom[csv->bom_seen])
    {
      csv->bom_seen++;
      *consumed = TRUE;
      return TRUE;
    }
  {
    guint seen = csv->bom_seen;

    csv->bom_seen = 3;
    for (guint i = 0; i < seen; i++)
      if (!step (csv, bom[i]))
        return FALSE;
  }
  return TRUE;
}

/* Inside a field, the bytes up to the next one that matters are copied in
 * one go: most of a file is plain text. Returns how many were taken. */
static gsize
take_run (StCsv *csv, const char *data, gsize len)
{
  gsize n = 0;

  if (csv->state == UNQUOTED)
    while (n < len && data[n] != csv->delimiter && data[n] != '\n'
           && data[n] != '\r')
      n++;
  else if (csv->state == QUOTED)
    while (n < len && data[n] != '"' && data[n] != '\n' && data[n] != '\r')
      n++;
  if (n == 0)
    return 0;
  if (csv->buf->len + n > ST_CSV_MAX_RECORD)
    csv->overflow = TRUE;
  else
    g_string_append_len (csv->buf, data, (gssize) n);
  return n;
}

static gboolean
refuse_overflow (StCsv *csv, GError **error)
{
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
               "the record starting on line %" G_GUINT64_FORMAT " is longer "
               "than 1 MiB: a quote that is never closed, or not a CSV file; "
               "nothing after it was read", csv->record_line);
  return FALSE;
}

static gboolean
feed_utf8 (StCsv *csv, const char *data, gsize len, GError **error)
{
  for (gsize i = 0; i < len; i++)
    {
      gboolean consumed;

      if (csv->bom_seen >= 3 && (i += take_run (csv, data + i, len - i)) >= len)
        break;
      if (csv->bom_seen < 3)
        {
          if (!take_bom (csv, data[i], &consumed))
            return FALSE;
          if (consumed)
            continue;
        }
      if (!step (csv, data[i]))
        return FALSE;
      if (csv->overflow)
        return refuse_overflow (csv, error);
    }
  return !csv->overflow || refuse_overflow (csv, error);
}

/* UTF-16 to UTF-8, in blocks; a character split between two pieces waits
 * in csv->held for the rest of it. */
static gboolean
feed_utf16 (StCsv *csv, const char *data, gsize len, GError **error)
{
  g_autofree char *joined = NULL;
  char out[16384];
  gchar *in = (gchar *) data;
  gsize in_left = len;

  if (csv->n_held > 0)
    {
      joined = g_malloc (csv->n_held + len);
      memcpy (joined, csv->held, csv->n_held);
      memcpy (joined + csv->n_held, data, len);
      in = joined;
      in_left = csv->n_held + len;
      csv->n_held = 0;
    }
  while (in_left > 0)
    {
      gchar *o = out;
      gsize out_left = sizeof out;
      gsize r = g_iconv (csv->utf16, &in, &in_left, &o, &out_left);
      int saved = errno;

      if (!feed_utf8 (csv, out, (gsize) (o - out), error))
        return FALSE;
      if (r != (gsize) -1 || saved == E2BIG)
        continue;
      if (saved == EINVAL && in_left < sizeof csv->held)
        {
          memcpy (csv->held, in, in_left);
          csv->n_held = (guint) in_left;
          return TRUE;
        }
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "the file is UTF-16 (it starts with the byte-order mark "
                   "of UTF-16) but line %" G_GUINT64_FORMAT " has bytes that "
                   "are not UTF-16; nothing after them was read",
                   csv->line);
      return FALSE;
    }
  return TRUE;
}

/* The first two bytes say whether the input is UTF-16 (FF FE or FE FF,
 * which cannot start UTF-8). */
static gboolean
sniff (StCsv *csv, const char **data, gsize *len)
{
  const char *encoding = NULL;

  if (csv->n_held == 0 && *len > 0 && (guchar) (*data)[0] != 0xFF
      && (guchar) (*data)[0] != 0xFE)
    {
      csv->sniffed = TRUE;
      return TRUE;
    }
  while (csv->n_held < 2 && *len > 0)
    {
      csv->held[csv->n_held++] = (*data)[0];
      (*data)++, (*len)--;
    }
  if (csv->n_held < 2)
    return FALSE; /* wait for the second byte */
  csv->sniffed = TRUE;
  if ((guchar) csv->held[0] == 0xFF && (guchar) csv->held[1] == 0xFE)
    encoding = "UTF-16LE";
  else if ((guchar) csv->held[0] == 0xFE && (guchar) csv->held[1] == 0xFF)
    encoding = "UTF-16BE";
  if (encoding != NULL)
    csv->utf16 = g_iconv_open ("UTF-8", encoding);
  return TRUE;
}

gboolean
st_csv_feed (StCsv *csv, const char *data, gsize len, GError **error)
{
  if (!csv->sniffed && !sniff (csv, &data, &len))
    return TRUE;
  if (csv->utf16 != (GIConv) -1)
    return feed_utf16 (csv, data, len, error);
  if (csv->n_held > 0)
    {
      guint n = csv->n_held;

      csv->n_held = 0;
      if (!feed_utf8 (csv, csv->held, n, error))
        return FALSE;
    }
  return feed_utf8 (csv, data, len, error);
}

gboolean
st_csv_finish (StCsv *csv)
{
  if (csv->n_held > 0 && csv->utf16 == (GIConv) -1)
    {
      guint n = csv->n_held;

      csv->n_held = 0;
      if (!feed_utf8 (csv, csv->held, n, NULL))
        return FALSE;
    }
  if (csv->n_held > 0)
    {
      start_record_if_needed (csv);
      set_problem (csv, "the file ends inside a UTF-16 character");
    }
  if (csv->bom_seen < 3)
    {
      guint seen = csv->bom_seen;

      csv->bom_seen = 3;
      for (guint i = 0; i < seen; i++)
        if (!step (csv, bom[i]))
          return FALSE;
    }
  if (csv->state == QUOTED)
    {
      g_free (csv->problem_text);
      csv->problem_text = g_strdup_printf (
          "the quoted field opened on line %" G_GUINT64_FORMAT " is never "
          "closed", csv->quote_line);
      csv->problem = csv->problem_text;
    }
  if (csv->in_record || csv->buf->len > 0)
    return emit (csv);
  return TRUE;
}
