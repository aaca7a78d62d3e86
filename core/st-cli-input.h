#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Pure helpers of stewardctl: how the values of its options are read
 * (times, amounts, counts, KEY=VALUE pairs) and put in the form the D-Bus
 * API takes. How replies are shown is st-cli-output.h. Nothing here touches
 * D-Bus, the environment or the clock, so all of it is unit-tested. Parse
 * errors are ST_ERROR_INVALID_ARGUMENT with a message that shows the value and
 * an example of a good one; the caller adds the option's name. */

/* Reads a time given on the command line:
 *   2024-05-01                      midnight in @local
 *   2024-05-01T14:30[:05[.123]]     wall-clock time in @local
 *   2024-05-01T14:30:05Z            UTC ('T' may also be 't' or ' ')
 *   2024-05-01T14:30:05+02:00       with an offset (+02, +0200 too)
 * Dates and times are checked (no 2024-02-30, 24:00 or :60). A local time
 * that the clock skips at a DST change moves forward to the change. */
GDateTime *st_cli_parse_time (const char *text, GTimeZone *local, GError **error);

/* "YYYY-MM-DDTHH:MM:SSZ" in UTC, with ".ffffff" when there are
 * microseconds: the form the D-Bus API takes. */
char *st_cli_format_utc (GDateTime *time);

/* Splits "KEY=VALUE" at the first '='. The key must not be empty; the value
 * may be (it is how --attr removes a key). */
gboolean st_cli_parse_kv (const char *text, char **key, char **value,
                          GError **error);

/* The typed value of a --data VALUE: a JSON-style integer ("42", "-7") that
 * fits in 64 bits → x; a JSON-style number with a fraction or exponent
 * ("12.50", "1e3") → d; "true"/"false" → b; anything else, including
 * numbers with leading zeros ("007", which are codes, not quantities) and
 * integers too large for 64 bits → s. Returns a floating reference. */
GVariant *st_cli_coerce_value (const char *text);

/* An amount: optional sign, digits, optional '.' and decimals ("12.50",
 * "-3", ".5"); finite. No exponent, hex, spaces or decimal comma. */
gboolean st_cli_parse_amount (const char *text, double *amount, GError **error);

/* A count such as --limit: a whole number from 1 to G_MAXUINT32. */
gboolean st_cli_parse_count (const char *text, guint32 *count, GError **error);

/* A record's id such as an alert's: a whole number from 1 to G_MAXINT64,
 * digits only. */
gboolean st_cli_parse_id (const char *text, gint64 *id, GError **error);

G_END_DECLS
