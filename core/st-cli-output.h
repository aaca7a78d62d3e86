#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "st-json.h"

G_BEGIN_DECLS

/* Pure helpers of stewardctl: how records look to people (tables, key: value
 * blocks, local times) and to programs (JSON). How command-line values are
 * read is st-cli-input.h. Nothing here touches D-Bus, the environment or the
 * clock, so all of it is unit-tested. */

/* Columns a terminal gives @text: wide (East Asian) characters count two,
 * combining marks none. Invalid UTF-8 counts one per byte. */
gsize st_cli_display_width (const char *text);

/* An aligned table: a heading row, then one row per add. Columns are
 * separated by two spaces; the last column is not padded. A NULL or empty
 * cell shows as "-", so every row has the same number of words; control
 * characters (newlines, tabs) show as spaces. */
typedef struct _StCliTable StCliTable;

/* @headings: NULL-terminated, at least one. */
StCliTable *st_cli_table_new (const char *const *headings);
void st_cli_table_free (StCliTable *table);
guint st_cli_table_get_n_rows (StCliTable *table);
/* @cells: exactly as many as there are headings. */
void st_cli_table_add_row (StCliTable *table, const char *const *cells);
/* Every line ends with "\n". */
char *st_cli_table_render (StCliTable *table);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StCliTable, st_cli_table_free)

/* A block of "Key:  value" lines with the values aligned. Lines whose value is
 * NULL are left out; a value spanning several lines continues under the value
 * column. */
typedef struct _StCliBlock StCliBlock;

StCliBlock *st_cli_block_new (void);
void st_cli_block_free (StCliBlock *block);
void st_cli_block_add (StCliBlock *block, const char *key, const char *value);
void st_cli_block_take (StCliBlock *block, const char *key, char *value);
char *st_cli_block_render (StCliBlock *block);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StCliBlock, st_cli_block_free)

/* @text on one line: each line break, with the white space around it,
 * becomes one space; white space at both ends is dropped. For messages such
 * as libpq's, which end in a newline and indent their second line. */
char *st_cli_one_line (const char *text);

/* @text broken into lines of at most @width columns where it can be: the
 * first line continues what is already on the line up to @column, the others
 * start with @indent spaces. Breaks only at spaces outside [brackets], so a
 * usage line keeps "[--tz Europe/Paris]" whole. No trailing newline. */
char *st_cli_wrap (const char *text, gsize width, gsize column, gsize indent);





/* An amount of money as people read it: two decimals when that is exact
 * ("12.50", "-3.00"), otherwise the shortest exact text ("0.125"). */
char *st_cli_format_amount (double value);

/* A value as people read it: strings as they are, numbers in the C locale,
 * booleans "yes"/"no", string arrays comma-joined ("vip, beta"),
 * dictionaries as "k=v" pairs sorted by key and joined by ", ", anything else
 * in GVariant text form. */
char *st_cli_variant_to_text (GVariant *value);

/* An ISO-8601 time from the daemon as people read it in @local:
 * "2026-11-24 22:13:19 CET". Text that does not parse is returned as is. */
char *st_cli_format_local (const char *iso, GTimeZone *local);

/* How long ago @then was, seen from @now: "just now", "1 minute ago",
 * "5 hours ago", "12 days ago"; "in 3 days" for a time in the future. */
char *st_cli_format_age (GDateTime *then, GDateTime *now);

/* A duration for people: "45s", "12m 5s", "3h 12m", "2d 3h". */
char *st_cli_format_duration (gint64 seconds);

/* A configured delay, exact, in whole units with the zero ones left out:
 * "14d", "1h 30m", "2d 5s"; "0s" for none (or a negative one). */
char *st_cli_format_delay (gint64 seconds);

/* @text cut to at most @width columns (as st_cli_display_width() counts
 * them, @width at least 4), ending in "..." when it was cut (spaces before
 * it dropped); never in the middle of a character. Invalid UTF-8 is
 * replaced first. */
char *st_cli_truncate (const char *text, gsize width);

/* Health factors (an a{sv} of numbers) as people read them, the largest
 * contribution first (ties by name), one decimal: "recency 30.2, frequency
 * 12.1, nps 7.5". Values that are not numbers come last, as text. "" when
 * there are none. */
char *st_cli_format_factors (GVariant *factors);

G_END_DECLS
