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

  gboolean sniffed;      /* the byte-order mark, if any, was looked for */
  GIConv converter;      /* to UTF-8, or (GIConv) -1 for UTF-8 input */
  char *encoding;        /* what the converter reads */
  char held[4];          /* the first bytes while sniffing, then the bytes
                          * of a character split between two pieces */
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
  csv->converter = (GIConv) -1;
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
  if (csv->converter != (GIConv) -1)
    g_iconv_close (csv->converter);
  g_free (csv->encoding);
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
      "field %u is not valid UTF-8 (byte 0x%02X %s%.*s%s): the file is "
      "read as UTF-8; if it is in another encoding, say which (Excel's "
      "plain CSV on Windows: give --encoding windows-1252), or save it from "
      "the spreadsheet as CSV UTF-8", field, (guchar) *end,
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
  if (c != csv->delimiter && c != '\n' && c != '\r')
    {
      set_problem (csv, "text follows a closing quote; inside a quoted "
                        "field write a quote as \"\"");
      csv->state = UNQUOTED;
    }
  /* The rest as after an unquoted field's text. */
  return step_unquoted (csv, c);
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

/* Another encoding to UTF-8, in blocks; a character split between two
 * pieces waits in csv->held for the rest of it. */
static gboolean
feed_converted (StCsv *csv, const char *data, gsize len, GError **error)
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
      gsize r = g_iconv (csv->converter, &in, &in_left, &o, &out_left);
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
                   "the file is read as %s, but line %" G_GUINT64_FORMAT
                   " has bytes that are not %s; nothing after them was read",
                   csv->encoding, csv->line, csv->encoding);
      return FALSE;
    }
  return TRUE;
}

static gboolean
use_encoding (StCsv *csv, const char *encoding, GError **error)
{
  GIConv converter = encoding != NULL ? g_iconv_open ("UTF-8", encoding)
                                      : (GIConv) -1;

  if (encoding != NULL && converter == (GIConv) -1)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "encoding: '%s' is not an encoding this system can read; "
                   "give e.g. windows-1252, latin1 or utf-16", encoding);
      return FALSE;
    }
  if (csv->converter != (GIConv) -1)
    g_iconv_close (csv->converter);
  g_free (csv->encoding);
  csv->converter = converter;
  csv->encoding = g_strdup (encoding);
  return TRUE;
}

gboolean
st_csv_set_encoding (StCsv *csv, const char *encoding, GError **error)
{
  if (encoding != NULL && (g_ascii_strcasecmp (encoding, "UTF-8") == 0
                           || g_ascii_strcasecmp (encoding, "UTF8") == 0))
    encoding = NULL;
  return use_encoding (csv, encoding, error);
}

/* A byte-order mark at the start says what the input is, whatever the
 * encoding the caller named (FF FE and FE FF cannot start UTF-8). FALSE
 * while the bytes so far may still be one. */
static gboolean
sniff (StCsv *csv, const char **data, gsize *len, gboolean last)
{
  static const struct {
    const char *bytes;
    guint len;
    const char *encoding;
  } marks[] = {
    { "\xEF\xBB\xBF", 3, NULL },
    { "\xFF\xFE", 2, "UTF-16LE" },
    { "\xFE\xFF", 2, "UTF-16BE" },
  };

  for (;;)
    {
      gboolean prefix = FALSE;

      for (guint i = 0; i < G_N_ELEMENTS (marks); i++)
        {
          guint n = MIN (csv->n_held, marks[i].len);

          if (memcmp (csv->held, marks[i].bytes, n) != 0)
            continue;
          if (csv->n_held == marks[i].len)
            {
              csv->sniffed = TRUE;
              return use_encoding (csv, marks[i].encoding, NULL);
            }
          prefix = TRUE;
        }
      if (!prefix)
        break;
      if (*len == 0)
        {
          if (!last)
            return FALSE; /* wait for more */
          break;
        }
      csv->held[csv->n_held++] = (*data)[0];
      (*data)++, (*len)--;
    }
  csv->sniffed = TRUE;
  return TRUE;
}

/* The held bytes (the start of the input, or of a character) and @data,
 * through the converter if there is one. */
static gboolean
feed_decided (StCsv *csv, const char *data, gsize len, GError **error)
{
  if (csv->converter != (GIConv) -1)
    return feed_converted (csv, data, len, error);
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
st_csv_feed (StCsv *csv, const char *data, gsize len, GError **error)
{
  if (!csv->sniffed && !sniff (csv, &data, &len, FALSE))
    return TRUE;
  return feed_decided (csv, data, len, error);
}

gboolean
st_csv_finish (StCsv *csv)
{
  if (!csv->sniffed)
    {
      const char *none = "";
      gsize len = 0;

      sniff (csv, &none, &len, TRUE);
      if (!feed_decided (csv, none, 0, NULL))
        return FALSE;
    }
  if (csv->n_held > 0)
    {
      start_record_if_needed (csv);
      set_problem (csv, "the file ends inside a character");
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
