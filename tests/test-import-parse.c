/* Tests for the pure parsing half of the bulk import: core/st-csv.c (the
 * CSV reader, fed in pieces of every size) and core/st-import-values.c
 * (times, amounts, refs, payload values, COPY text). No database. */

#include <string.h>

#include "st-csv.h"
#include "st-error.h"
#include "st-import-values.h"
#include "st-test-util.h"

/* The CSV reader ------------------------------------------------------------ */

/* Records as "LINE:field|field|..." or "LINE!problem", one per line. */
static gboolean
collect (char **fields, guint n, guint64 line, const char *problem,
         gpointer data)
{
  GString *out = data;

  g_string_append_printf (out, "%" G_GUINT64_FORMAT, line);
  if (problem != NULL)
    {
      g_string_append_printf (out, "!%s\n", problem);
      return TRUE;
    }
  g_string_append_c (out, ':');
  for (guint i = 0; i < n; i++)
    g_string_append_printf (out, "%s%s", i ? "|" : "", fields[i]);
  g_string_append_c (out, '\n');
  return TRUE;
}

/* Parse @input fed @piece bytes at a time. */
static char *
parse_in_pieces (const char *input, gsize len, gsize piece, char delimiter)
{
  GString *out = g_string_new (NULL);
  g_autoptr (StCsv) csv = st_csv_new (delimiter, collect, out);

  for (gsize at = 0; at < len; at += piece)
    g_assert_true (st_csv_feed (csv, input + at, MIN (piece, len - at), NULL));
  g_assert_true (st_csv_finish (csv));
  return g_string_free (out, FALSE);
}

/* @input in @encoding (st_csv_set_encoding), fed in pieces of every size:
 * each must give @expected. */
static void
assert_csv_encoded (const char *encoding, const char *input, gsize len,
                    const char *expected)
{
  for (gsize piece = 1; piece <= len + 1; piece++)
    {
      g_autoptr (GString) out = g_string_new (NULL);
      g_autoptr (StCsv) csv = st_csv_new (',', collect, out);

      g_assert_true (st_csv_set_encoding (csv, encoding, NULL));
      for (gsize at = 0; at < len; at += piece)
        g_assert_true (st_csv_feed (csv, input + at, MIN (piece, len - at),
                                    NULL));
      g_assert_true (st_csv_finish (csv));
      if (g_strcmp0 (out->str, expected) != 0)
        g_error ("%s in pieces of %" G_GSIZE_FORMAT ": got\n%s\nexpected\n%s",
                 encoding, piece, out->str, expected);
    }
}

/* Every piece size gives the same records: a record, a CRLF, a quote and
 * the byte-order mark may all be split between two reads. */
static void
assert_csv (const char *input, const char *expected)
{
  gsize len = strlen (input);

  for (gsize piece = 1; piece <= len + 1; piece++)
    {
      g_autofree char *got = parse_in_pieces (input, len, piece, ',');

      if (g_strcmp0 (got, expected) != 0)
        g_error ("pieces of %" G_GSIZE_FORMAT ": got\n%s\nexpected\n%s", piece,
                 got, expected);
    }
}

/* The same for input with NUL bytes. */
static void
assert_csv_len (const char *input, gsize len, const char *expected)
{
  for (gsize piece = 1; piece <= len + 1; piece++)
    {
      g_autofree char *got = parse_in_pieces (input, len, piece, ',');

      if (g_strcmp0 (got, expected) != 0)
        g_error ("pieces of %" G_GSIZE_FORMAT ": got\n%s\nexpected\n%s", piece,
                 got, expected);
    }
}

static void
test_csv_basics (void)
{
  assert_csv ("a,b,c\n1,2,3\n", "1:a|b|c\n2:1|2|3\n");
  /* No line break at the end, empty fields, an empty line skipped. */
  assert_csv ("a,b\n,\n\nx,\n,y", "1:a|b\n2:|\n4:x|\n5:|y\n");
  /* CRLF and a lone CR end records too. */
  assert_csv ("a,b\r\n1,2\r\n3,4\r5,6\r\n", "1:a|b\n2:1|2\n3:3|4\n4:5|6\n");
}

static void
test_csv_quotes (void)
{
  /* Quoted delimiters, doubled quotes, a quoted line break (the next
   * record starts on line 4), an empty quoted field. */
  assert_csv ("h1,h2\n\"a,b\",\"say \"\"hi\"\"\"\n\"two\nlines\",\"\"\nx,y\n",
              "1:h1|h2\n2:a,b|say \"hi\"\n3:two\nlines|\n5:x|y\n");
  /* A CRLF inside quotes is kept; a quote inside an unquoted field too. */
  assert_csv ("a\r\n\"1\r\n2\"\r\nab\"c\r\n", "1:a\n2:1\r\n2\n4:ab\"c\n");
}

/* People and some tools write a space after the delimiter, also before a
 * quoted field: the quotes still count, the spaces around them go. */
static void
test_csv_spaces_around_quotes (void)
{
  g_autofree char *after_quote = parse_in_pieces ("\"x\" y,1\n", 8, 8, ',');

  assert_csv ("a, b ,c\n1, \"x, y\" ,\t\"z\"\t\n  \"q\"  \n",
              "1:a| b |c\n2:1|x, y|z\n3:q\n");
  /* Spaces inside the quotes are the field's; an unquoted field keeps
   * its spaces (the import trims them). */
  assert_csv ("\" a \", b\"c\n", "1: a | b\"c\n");
  /* Text after the closing quote and its spaces is still a problem. */
  st_test_assert_contains (after_quote, "1!text follows a closing quote");
}

/* A line break inside quotes in a file whose lines end with CR alone
 * still counts for the line numbers; CRLF counts once. */
static void
test_csv_quoted_cr (void)
{
  assert_csv ("a,b\r1,\"x\ry\"\r2,z\r", "1:a|b\n2:1|x\ry\n4:2|z\n");
  assert_csv ("a,b\r\n1,\"x\r\ny\"\r\n2,z\r\n",
              "1:a|b\n2:1|x\r\ny\n4:2|z\n");
}

static void
test_csv_bom (void)
{
  assert_csv ("\xEF\xBB\xBFid,name\r\n1,x\r\n", "1:id|name\n2:1|x\n");
  /* Bytes that only start like a byte-order mark are text (U+FEFE). */
  assert_csv ("\xEF\xBB\xBE,y\n", "1:\xEF\xBB\xBE|y\n");
  /* A mark later in the file is no mark. */
  assert_csv ("a\n\xEF\xBB\xBF" "b\n", "1:a\n2:\xEF\xBB\xBF" "b\n");
}

/* UTF-16 with its byte-order mark (Excel's "Unicode Text", Windows tools)
 * is read as the UTF-8 it stands for, whatever the pieces it comes in: a
 * character, even a surrogate pair, may be split between two reads. */
static void
test_csv_utf16 (void)
{
  /* a,b CRLF 1,é😀 CRLF 2,"x,y" (no final line break) */
  static const char le[] =
      "\xFF\xFE" "a\0,\0b\0\r\0\n\0" "1\0,\0\xE9\0\x3D\xD8\x00\xDE\r\0\n\0"
      "2\0,\0\"\0x\0,\0y\0\"\0";
  static const char be[] =
      "\xFE\xFF" "\0a\0,\0b\0\r\0\n" "\0" "1\0,\0\xE9\xD8\x3D\xDE\x00\0\r\0\n"
      "\0" "2\0,\0\"\0x\0,\0y\0\"";
  const char *expected = "1:a|b\n2:1|\xC3\xA9\xF0\x9F\x98\x80\n3:2|x,y\n";
  g_autofree char *not_a_mark = parse_in_pieces ("\xFF,a\n", 4, 1, ',');

  assert_csv_len (le, sizeof le - 1, expected);
  assert_csv_len (be, sizeof be - 1, expected);
  /* One byte that only starts like a mark is no UTF-16. */
  st_test_assert_contains (not_a_mark, "1!field 1 is not valid UTF-8");
}

/* A file in another encoding than UTF-8, named by the caller (Excel's
 * plain "CSV" on Windows is Windows-1252); a byte-order mark still wins. */
static void
test_csv_encoding (void)
{
  g_autoptr (StCsv) csv = st_csv_new (',', collect, NULL);
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (StCsv) strict = st_csv_new (',', collect, out);
  g_autoptr (GError) unknown = NULL, undefined = NULL;
  static const char cp1252[] = "a,b\r\n1,\"Zo\xEB \x80\"\r\n2,x";
  static const char utf8[] = "\xEF\xBB\xBF" "a,b\n1,Zo\xC3\xAB\n";
  static const char utf16[] = "\xFF\xFE" "a\0,\0b\0\n\0";

  assert_csv_encoded ("WINDOWS-1252", cp1252, sizeof cp1252 - 1,
                      "1:a|b\n2:1|Zo\xC3\xAB \xE2\x82\xAC\n3:2|x\n");
  assert_csv_encoded ("latin1", utf8, sizeof utf8 - 1,
                      "1:a|b\n2:1|Zo\xC3\xAB\n");
  assert_csv_encoded ("WINDOWS-1252", utf16, sizeof utf16 - 1, "1:a|b\n");
  g_assert_false (st_csv_set_encoding (csv, "klingon", &unknown));
  g_assert_error (unknown, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  st_test_assert_contains (unknown->message, "'klingon'");
  /* 0x81 is no character of Windows-1252. */
  g_assert_true (st_csv_set_encoding (strict, "WINDOWS-1252", NULL));
  g_assert_false (st_csv_feed (strict, "a\nb\n\x81\n", 6, &undefined));
  g_assert_error (undefined, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  st_test_assert_contains (undefined->message, "line 3 has bytes that are "
                                               "not WINDOWS-1252");
}

/* Bytes that are no UTF-16 after the mark stop the reading with the
 * place where they are. */
static void
test_csv_utf16_invalid (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (StCsv) csv = st_csv_new (',', collect, out);
  g_autoptr (GError) error = NULL;
  /* a LF, then a lone low surrogate */
  static const char bad[] = "\xFF\xFE" "a\0\n\0\x00\xDC" "b\0";

  g_assert_false (st_csv_feed (csv, bad, sizeof bad - 1, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  st_test_assert_contains (error->message, "UTF-16");
  st_test_assert_contains (error->message, "line 2");
}

static void
test_csv_problems (void)
{
  g_autofree char *after_quote = parse_in_pieces ("a,b\n\"x\"y,2\n3,4\n", 16,
                                                  16, ',');
  g_autofree char *unterminated = parse_in_pieces ("a\n\"open\nmore\n", 13, 5,
                                                   ',');
  g_autofree char *invalid = parse_in_pieces ("a,b\n\xC3\x28,1\n", 9, 9, ',');
  g_autofree char *semicolons = parse_in_pieces ("a;b\n1,5;2\n", 10, 3, ';');

  st_test_assert_contains (after_quote, "2!text follows a closing quote");
  st_test_assert_contains (after_quote, "3:3|4");
  st_test_assert_contains (unterminated,
                           "2!the quoted field opened on line 2 is never closed");
  st_test_assert_contains (invalid, "2!field 1 is not valid UTF-8");
  g_assert_cmpstr (semicolons, ==, "1:a|b\n2:1,5|2\n");
}

/* Bytes that are not UTF-8 say which field, which byte, and what to do;
 * a NUL byte (UTF-16 without its mark, a binary file) says so. */
static void
test_csv_encoding_messages (void)
{
  g_autofree char *latin1 = parse_in_pieces ("a,b\nok,caf\xE9\n", 11, 4, ',');
  g_autofree char *nul = parse_in_pieces ("a,b\nx,y\0z\n", 10, 3, ',');
  g_autofree char *utf16 = parse_in_pieces ("a\0,\0b\0\n\0", 9, 9, ',');

  st_test_assert_contains (latin1, "2!field 2 is not valid UTF-8 (byte 0xE9 "
                                   "after 'caf'): the file is read as UTF-8");
  st_test_assert_contains (latin1, "give --encoding windows-1252");
  st_test_assert_contains (nul, "2!field 2 has a NUL byte");
  st_test_assert_contains (utf16, "1!field 1 has a NUL byte");
  st_test_assert_contains (utf16, "UTF-16 without a byte-order mark");
}

static gboolean
stop_at_second (char **fields, guint n, guint64 line, const char *problem,
                gpointer data)
{
  (void) fields, (void) n, (void) problem;
  (*(int *) data)++;
  return line < 2;
}

static void
test_csv_stop (void)
{
  int seen = 0;
  g_autoptr (StCsv) csv = st_csv_new (',', stop_at_second, &seen);

  g_assert_false (st_csv_feed (csv, "a\nb\nc\n", 6, NULL));
  g_assert_cmpint (seen, ==, 2);
}

/* Times --------------------------------------------------------------------- */

static char *
time_text (const char *pattern, const char *zone, const char *text,
           GError **error)
{
  g_autoptr (GTimeZone) tz = zone ? g_time_zone_new_identifier (zone) : NULL;
  g_autoptr (StImportTimeFormat) format = st_import_time_format_new (pattern, tz,
                                                                    error);
  g_autoptr (GString) out = g_string_new (NULL);
  gint64 usec;

  if (format == NULL || !st_import_parse_time (format, text, &usec, error))
    return NULL;
  st_import_append_time (out, usec);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
assert_time (const char *pattern, const char *zone, const char *text,
             const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *got = time_text (pattern, zone, text, &error);

  if (error != NULL)
    g_error ("%s with '%s': %s", text, pattern ? pattern : "ISO",
             error->message);
  g_assert_cmpstr (got, ==, expected);
}

static void
assert_bad_time (const char *pattern, const char *text, const char *message)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *got = time_text (pattern, NULL, text, &error);

  if (got != NULL)
    g_error ("%s with '%s' was read as %s", text, pattern ? pattern : "ISO",
             got);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  st_test_assert_contains (error->message, message);
}

static void
test_time_iso (void)
{
  assert_time (NULL, NULL, "2024-05-01", "2024-05-01 00:00:00+00");
  assert_time (NULL, NULL, "2024-05-01T14:30", "2024-05-01 14:30:00+00");
  assert_time (NULL, NULL, "2024-05-01 14:30:05.25Z",
               "2024-05-01 14:30:05.250000+00");
  assert_time (NULL, NULL, "2024-05-01T14:30:05+02:00", "2024-05-01 12:30:05+00");
  assert_time (NULL, NULL, "2024-05-01T00:30:00-0130", "2024-05-01 02:00:00+00");
  assert_time (NULL, NULL, "1969-12-31T23:59:59.5Z",
               "1969-12-31 23:59:59.500000+00");
  assert_time (NULL, NULL, "2024-02-29T12:00:00Z", "2024-02-29 12:00:00+00");
  /* Spreadsheets write the hour of yyyy-mm-dd h:mm with one digit. */
  assert_time (NULL, NULL, "2024-05-01 9:05", "2024-05-01 09:05:00+00");
  assert_time (NULL, NULL, "2024-05-01T9:05:01Z", "2024-05-01 09:05:01+00");
  /* Without an offset: in the zone given, summer and winter time. */
  assert_time (NULL, "Europe/Paris", "2024-07-01T12:00", "2024-07-01 10:00:00+00");
  assert_time (NULL, "Europe/Paris", "2024-01-15T12:00", "2024-01-15 11:00:00+00");
  assert_time (NULL, "Europe/Paris", "2024-07-01T12:00Z", "2024-07-01 12:00:00+00");
  assert_bad_time (NULL, "2023-02-29", "not a date and time of the calendar");
  assert_bad_time (NULL, "2024-05-01T24:00", "not a date and time");
  assert_bad_time (NULL, "2024-5-1", "not an ISO-8601 date");
  assert_bad_time (NULL, "yesterday", "not an ISO-8601 date");
  assert_bad_time (NULL, "2024-05-01T14:30 extra", "not an ISO-8601 date");
}

static void
test_time_formats (void)
{
  /* The two retail files. */
  assert_time ("%m/%d/%y %H:%M", NULL, "12/1/09 7:45", "2009-12-01 07:45:00+00");
  assert_time ("%m/%d/%y %H:%M", NULL, "12/9/11 12:50", "2011-12-09 12:50:00+00");
  assert_time ("%m/%d/%Y %H:%M", NULL, "12/1/2010 8:26", "2010-12-01 08:26:00+00");
  assert_time ("%d.%m.%Y", NULL, "24.11.2026", "2026-11-24 00:00:00+00");
  assert_time ("%d %b %Y %I:%M %p", NULL, "3 Mar 2024 1:05 PM",
               "2024-03-03 13:05:00+00");
  assert_time ("%d %B %Y %I:%M %p", NULL, "3 march 2024 12:05 am",
               "2024-03-03 00:05:00+00");
  assert_time ("%F %T.%f%z", NULL, "2024-05-01 10:00:00.5+0100",
               "2024-05-01 09:00:00.500000+00");
  assert_time ("%y-%m-%d", NULL, "69-01-01", "1969-01-01 00:00:00+00");
  assert_time ("%Y%m%d", NULL, "20240501", "2024-05-01 00:00:00+00");
  assert_bad_time ("%m/%d/%y %H:%M", "13/1/09 7:45", "not a date and time");
  assert_bad_time ("%m/%d/%y %H:%M", "12/1/2009 7:45", "does not match");
  assert_bad_time ("%m/%d/%y %H:%M", "12/1/09 7:45:10", "does not match");
  assert_bad_time ("%m/%d/%y", "2/30/24", "not a date and time");
}

/* A refused time says what to give: the usual mistakes are a day-first
 * date read month first (or the reverse) and a spreadsheet's local date
 * without --date-format. */
static void
test_time_hints (void)
{
  assert_bad_time ("%m/%d/%Y", "13/01/2024",
                   "'13/01/2024' is not a date and time of the calendar "
                   "(month 13: are days written first? then swap %d and %m "
                   "in --date-format)");
  assert_bad_time ("%d/%m/%Y %H:%M", "01/13/2024 10:00",
                   "(month 13: are months written first? then swap %d and "
                   "%m in --date-format)");
  assert_bad_time (NULL, "01/02/2024",
                   "give --date-format '%d/%m/%Y' (day first) or "
                   "'%m/%d/%Y' (month first)");
  assert_bad_time (NULL, "1.2.24 10:00",
                   "give --date-format '%d.%m.%y %H:%M' (day first) or "
                   "'%m.%d.%y %H:%M' (month first)");
  assert_bad_time (NULL, "5/1/2024 1:05:00 PM",
                   "'%m/%d/%Y %I:%M:%S %p' (month first)");
  assert_bad_time (NULL, "yesterday", "(give --date-format for another "
                                      "form)");
}

static void
test_time_bad_formats (void)
{
  const char *bad[] = { "%H:%M", "%Y-%m", "%Y-%m-%d %q", "%Y-%m-%d %I:%M", NULL };

  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (StImportTimeFormat) format = st_import_time_format_new (bad[i],
                                                                        NULL,
                                                                        &error);

      g_assert_null (format);
      g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
      st_test_assert_contains (error->message, "date format");
    }
}

/* Amounts, refs, payloads ----------------------------------------------------- */

static void
assert_amount (const char *text, char decimal, const char *expected)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  gboolean ok = st_import_parse_amount (text, decimal, out, &error);

  if (expected == NULL)
    {
      g_assert_false (ok);
      g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpstr (out->str, ==, expected);
}

static void
test_amounts (void)
{
  assert_amount ("12.50", '.', "12.50");
  assert_amount ("-3", '.', "-3");
  assert_amount ("+.5", '.', "0.5");
  assert_amount ("5.", '.', "5");
  assert_amount ("0007.25", '.', "7.25");
  assert_amount ("145.79999999999998", '.', "145.79999999999998");
  assert_amount ("12,50", ',', "12.50");
  assert_amount ("-1234,5", ',', "-1234.5");
  assert_amount ("999999999999.99", '.', "999999999999.99");
  assert_amount ("1000000000000", '.', NULL);
  assert_amount ("12,50", '.', NULL);
  assert_amount ("1e3", '.', NULL);
  assert_amount ("", '.', NULL);
  assert_amount (".", '.', NULL);
  assert_amount ("12 EURO", '.', NULL);
}

/* What spreadsheets write in a cell formatted as a currency or with
 * thousands separators (Excel, LibreOffice, Google Sheets, in English and
 * European locales). */
static void
test_amounts_formatted (void)
{
  /* Thousands separators: the other of '.' and ',', spaces (also the
   * no-break ones of French exports) and apostrophes (Swiss), in groups of
   * three. */
  assert_amount ("1,234.56", '.', "1234.56");
  assert_amount ("1,234,567", '.', "1234567");
  assert_amount ("-1,000", '.', "-1000");
  assert_amount ("1.234,56", ',', "1234.56");
  assert_amount ("12.345.678,9", ',', "12345678.9");
  assert_amount ("1 234,56", ',', "1234.56");
  assert_amount ("1\xC2\xA0" "234,56", ',', "1234.56");
  assert_amount ("1\xE2\x80\xAF" "234,56", ',', "1234.56");
  assert_amount ("1'234.50", '.', "1234.50");
  assert_amount ("1\xE2\x80\x99" "234.50", '.', "1234.50");
  /* Groups of three only, one separator throughout: anything else is a
   * mistake or another convention, not a guess. */
  assert_amount ("1,23.5", '.', NULL);
  assert_amount ("1,2345", '.', NULL);
  assert_amount ("1234,567", '.', NULL);
  assert_amount (",123", '.', NULL);
  assert_amount ("1,234 567", '.', NULL);
  assert_amount ("1.234.5", '.', NULL);
  assert_amount ("1.234", ',', "1234");
  assert_amount ("1,234.5,6", '.', NULL);
  assert_amount ("1.5", ',', NULL);
  /* Currency signs before or after, with or without a space. */
  assert_amount ("$12.50", '.', "12.50");
  assert_amount ("-$1,234.50", '.', "-1234.50");
  assert_amount ("$-3", '.', "-3");
  assert_amount ("\xE2\x82\xAC" "5", '.', "5");
  assert_amount ("12,50 \xE2\x82\xAC", ',', "12.50");
  assert_amount ("-12,50\xE2\x82\xAC", ',', "-12.50");
  assert_amount ("\xC2\xA3" " 7.00", '.', "7.00");
  assert_amount ("1.234,00 EUR", ',', "1234.00");
  /* French formats put a no-break space before the sign. */
  assert_amount ("12,50\xC2\xA0\xE2\x82\xAC", ',', "12.50");
  assert_amount ("1\xE2\x80\xAF" "234,56\xE2\x80\xAF\xE2\x82\xAC", ',',
                 "1234.56");
  assert_amount ("\xE2\x82\xAC\xC2\xA0" "5", '.', "5");
  assert_amount ("USD 99", '.', "99");
  assert_amount ("$12.50$", '.', NULL);
  assert_amount ("$", '.', NULL);
  /* Negative amounts in parentheses, as accounting formats write them. */
  assert_amount ("(12.50)", '.', "-12.50");
  assert_amount ("($1,234.50)", '.', "-1234.50");
  assert_amount ("$(5)", '.', "-5");
  assert_amount ("(3,5 \xE2\x82\xAC)", ',', "-3.5");
  /* The minus sign of Nordic number formats (U+2212). */
  assert_amount ("\xE2\x88\x92" "12,50", ',', "-12.50");
  assert_amount ("\xE2\x88\x92" "1\xC2\xA0" "234,00\xC2\xA0kr", ',', NULL);
  assert_amount ("\xE2\x88\x92" "1\xC2\xA0" "234,00\xC2\xA0SEK", ',', "-1234.00");
  assert_amount ("(-5)", '.', NULL);
  assert_amount ("(5", '.', NULL);
  assert_amount ("5)", '.', NULL);
  assert_amount ("()", '.', NULL);
}

/* A refused amount says how to fix it: a decimal comma without --decimal
 * is the usual mistake of European files. */
static void
test_amounts_messages (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) comma = NULL, other = NULL, point = NULL;

  g_assert_false (st_import_parse_amount ("12,50", '.', out, &comma));
  st_test_assert_contains (comma->message, "'12,50' is not an amount");
  st_test_assert_contains (comma->message, "--decimal ,");
  g_assert_false (st_import_parse_amount ("ten", '.', out, &other));
  st_test_assert_contains (other->message, "'ten' is not an amount; write "
                                           "digits with '.' as the decimal "
                                           "separator");
  g_assert_false (st_import_parse_amount ("1.5", ',', out, &point));
  st_test_assert_contains (point->message, "--decimal .");
}

static void
test_refs (void)
{
  g_autoptr (GString) scratch = g_string_new (NULL);

  g_assert_cmpstr (st_import_normalize_ref ("13085.0", scratch), ==, "13085");
  g_assert_cmpstr (st_import_normalize_ref ("007.000", scratch), ==, "007");
  g_assert_cmpstr (st_import_normalize_ref ("13085", scratch), ==, "13085");
  g_assert_cmpstr (st_import_normalize_ref ("13085.5", scratch), ==, "13085.5");
  g_assert_cmpstr (st_import_normalize_ref ("13085.", scratch), ==, "13085.");
  g_assert_cmpstr (st_import_normalize_ref ("A1.0", scratch), ==, "A1.0");
  g_assert_cmpstr (st_import_normalize_ref (".0", scratch), ==, ".0");
  /* What a spreadsheet shows of a long number it rounded: the ref is
   * lost, and would name another customer. */
  g_assert_true (st_import_ref_is_rounded ("1.23457E+11"));
  g_assert_true (st_import_ref_is_rounded ("4,5E+15"));
  g_assert_true (st_import_ref_is_rounded ("1e+20"));
  g_assert_true (st_import_ref_is_rounded ("9.87654E-05"));
  g_assert_false (st_import_ref_is_rounded ("12E4567"));
  g_assert_false (st_import_ref_is_rounded ("1E"));
  g_assert_false (st_import_ref_is_rounded ("E+11"));
  g_assert_false (st_import_ref_is_rounded ("13085"));
}

static void
test_json_and_copy (void)
{
  const char *cases[][2] = {
    { "42", "42" },       { "-7", "-7" },           { "12.50", "12.5" },
    { "1e3", "1000" },    { "true", "true" },       { "007", "\"007\"" },
    { "1e999", "\"1e999\"" },
    { "99999999999999999999", "\"99999999999999999999\"" },
    { "say \"hi\"\\\n", "\"say \\\"hi\\\"\\\\\\u000a\"" },
  };
  g_autoptr (GString) copy = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GString) out = g_string_new (NULL);

      st_import_append_json_value (out, cases[i][0]);
      g_assert_cmpstr (out->str, ==, cases[i][1]);
    }
  st_import_append_copy_text (copy, "a\tb\\c\nd\re");
  st_import_append_copy_text (copy, NULL);
  g_assert_cmpstr (copy->str, ==, "a\\tb\\\\c\\nd\\re\\N");
}

/* A record over the limit stops the reading: where would the next one
 * start? */
static void
test_csv_overflow (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (StCsv) csv = st_csv_new (',', collect, out);
  g_autofree char *block = g_malloc (64 * 1024);
  g_autoptr (GError) error = NULL;
  gboolean ok = TRUE;

  memset (block, 'x', 64 * 1024);
  g_assert_true (st_csv_feed (csv, "a\nb\n\"c", 7, NULL));
  for (int i = 0; i < 20 && ok; i++)
    ok = st_csv_feed (csv, block, 64 * 1024, &error);
  g_assert_false (ok);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  st_test_assert_contains (error->message, "the record starting on line 3 "
                                           "is longer than 1 MiB");
  g_assert_cmpstr (out->str, ==, "1:a\n2:b\n");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/import-parse/csv/basics", test_csv_basics);
  g_test_add_func ("/import-parse/csv/quotes", test_csv_quotes);
  g_test_add_func ("/import-parse/csv/spaces-around-quotes",
                   test_csv_spaces_around_quotes);
  g_test_add_func ("/import-parse/csv/quoted-cr", test_csv_quoted_cr);
  g_test_add_func ("/import-parse/csv/bom", test_csv_bom);
  g_test_add_func ("/import-parse/csv/encoding-messages",
                   test_csv_encoding_messages);
  g_test_add_func ("/import-parse/csv/utf16", test_csv_utf16);
  g_test_add_func ("/import-parse/csv/utf16-invalid", test_csv_utf16_invalid);
  g_test_add_func ("/import-parse/csv/encoding", test_csv_encoding);
  g_test_add_func ("/import-parse/csv/problems", test_csv_problems);
  g_test_add_func ("/import-parse/csv/stop", test_csv_stop);
  g_test_add_func ("/import-parse/csv/overflow", test_csv_overflow);
  g_test_add_func ("/import-parse/time/iso", test_time_iso);
  g_test_add_func ("/import-parse/time/formats", test_time_formats);
  g_test_add_func ("/import-parse/time/bad-formats", test_time_bad_formats);
  g_test_add_func ("/import-parse/time/hints", test_time_hints);
  g_test_add_func ("/import-parse/amounts", test_amounts);
  g_test_add_func ("/import-parse/amounts/formatted", test_amounts_formatted);
  g_test_add_func ("/import-parse/amounts/messages", test_amounts_messages);
  g_test_add_func ("/import-parse/refs", test_refs);
  g_test_add_func ("/import-parse/json-and-copy", test_json_and_copy);
  return g_test_run ();
}
