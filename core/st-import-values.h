#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How the bulk import reads the values of a CSV file: times in a chosen
 * format, amounts with either decimal separator, refs written as numbers,
 * payload values; and how it writes them for PostgreSQL's COPY (text
 * format): st-import-time.c and st-import-values.c. Pure functions:
 * nothing here touches the database, the clock or the environment. Errors
 * are ST_ERROR_INVALID_ARGUMENT with a message that shows the value; the
 * caller adds the field's name. */

/* A time format: NULL for ISO-8601, else a strptime-like pattern:
 *   %Y year (4 digits)   %y year (2 digits: 69-99 → 19xx, 00-68 → 20xx)
 *   %m month (1-2)       %d, %e day (1-2)     %b, %B month name (English)
 *   %H hour (1-2)        %I hour 1-12 with %p (AM/PM)
 *   %M minute (1-2)      %S second (1-2)      %f fraction of a second
 *   %z offset (Z, +02, +0200, +02:00)         %T = %H:%M:%S  %F = %Y-%m-%d
 *   %% a percent sign; a space matches one or more spaces; any other
 *   character matches itself.
 * ISO-8601 is 2024-05-01, 2024-05-01T14:30[:05[.123456]] with 'T' or a
 * space (the hour may have one digit), then optionally Z or an offset. Times without an offset are in
 * @tz (UTC when NULL). */
typedef struct _StImportTimeFormat StImportTimeFormat;

/* NULL with an error when @pattern has an unknown directive or misses a
 * year, month or day. */
StImportTimeFormat *st_import_time_format_new (const char *pattern,
                                               GTimeZone *tz, GError **error);
void st_import_time_format_free (StImportTimeFormat *format);

/* @text as microseconds since the Unix epoch. Checks the calendar (no
 * February 30, no 24:00) and years 1 to 9999. */
gboolean st_import_parse_time (const StImportTimeFormat *format,
                               const char *text, gint64 *usec,
                               GError **error);

/* "2024-05-01 14:30:05.123456+00", the form COPY reads; no fraction when
 * it is zero. */
void st_import_append_time (GString *out, gint64 usec);

/* @value in decimal digits. */
void st_import_append_uint (GString *out, guint64 value);

/* An amount: optional sign, digits, optionally @decimal ('.' or ',') and
 * more digits; less than a trillion either way. As spreadsheets format
 * them, also thousands separators in groups of three (the other of '.'
 * and ',', spaces, no-break spaces, apostrophes), a currency sign or ISO
 * code before or after, a negative in parentheses. Appended to @out with
 * '.' as it is written (no rounding: 145.79999999999998 stays). */
gboolean st_import_parse_amount (const char *text, char decimal, GString *out,
                                 GError **error);

/* Spreadsheets write whole numbers as "13085.0": a ref made of digits, a
 * '.' and only zeros loses the fraction. Returns @text itself or a
 * pointer into @scratch. */
const char *st_import_normalize_ref (const char *text, GString *scratch);

/* Whether a ref is what a spreadsheet shows of a long number it rounded
 * to scientific notation (1.23457E+11): one digit, optionally a fraction,
 * E and a signed exponent. The ref as it was is lost. */
gboolean st_import_ref_is_rounded (const char *text);

/* A payload value as JSON, appended to @out as --data reads it: a
 * JSON-style integer that fits 64 bits or decimal number stays a number,
 * true and false are booleans, anything else (007, 1e999, text) a
 * string. */
void st_import_append_json_value (GString *out, const char *text);

/* @text as a JSON string, quoted and escaped. */
void st_import_append_json_string (GString *out, const char *text);

/* @text escaped for COPY's text format (backslash, tab, newline, carriage
 * return); NULL becomes \N. */
void st_import_append_copy_text (GString *out, const char *text);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StImportTimeFormat, st_import_time_format_free)

G_END_DECLS
