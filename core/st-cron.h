#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Cron schedules: when a campaign fires. Five fields (minute hour
 * day-of-month month day-of-week) or a descriptor (@daily...), with names,
 * ranges, steps and lists; day-of-month and day-of-week combine as in
 * classic cron (either matches when both are restricted). Times are
 * wall-clock times in a time zone; how a time that the clock skips or
 * repeats at a DST change fires is described in docs/schedules.md, with
 * the whole syntax. Pure computation: no clock, no I/O. */

typedef struct _StCron StCron;

/* Parses @expr. Errors are ST_ERROR_INVALID_ARGUMENT with a message that
 * names the field and says what it takes: "day-of-month: 32 is out of range
 * 1-31". */
StCron *st_cron_parse (const char *expr, GError **error);

void st_cron_free (StCron *cron);

/* Whether no date ever matches @cron's day and month fields ("0 0 30 2 *"),
 * so it never fires. Known at parse time; costs nothing. */
gboolean st_cron_never (const StCron *cron);

/* The first time @cron fires strictly after @after, its fields read as the
 * wall clock of @tz; returned in @tz. NULL when it never fires (or not
 * before the year 9999). A few microseconds: the fields are walked, never
 * the minutes one by one. */
GDateTime *st_cron_next (const StCron *cron, GDateTime *after, GTimeZone *tz);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StCron, st_cron_free)

G_END_DECLS
