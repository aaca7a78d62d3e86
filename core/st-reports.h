#pragma once

#include <glib.h>

#include "st-config.h"
#include "st-store.h"

G_BEGIN_DECLS

/* The account manager's reports: the funnel (how customers move through
 * the stages), health (how scores and risk levels are spread and what
 * drags the riskiest down) and NPS. Each reads one consistent snapshot
 * with a few set-based queries and writes nothing; the replies are
 * described in docs/dbus.md.
 *
 * @options is the a{sv} of the D-Bus call; an unknown key or a value of
 * the wrong type or range is ST_ERROR_INVALID_ARGUMENT naming the key.
 * Common keys: owner (s), tag (s) keep the customers of an account
 * manager or with a tag; since (s: ISO-8601, in UTC without an offset,
 * or a date at midnight UTC) or days (u) set the start of the period,
 * which ends now. Each takes the configuration, whether it reads it or
 * not, so the D-Bus side calls them all alike (StReportFunc). */

typedef GVariant *(*StReportFunc) (StStore *store, const StConfig *config,
                                   GVariant *options, GError **error);

/* Days a period covers when the caller gives neither since nor days. */
#define ST_REPORT_FUNNEL_DEFAULT_DAYS 30
#define ST_REPORT_NPS_DEFAULT_DAYS 90
#define ST_REPORT_HEALTH_DEFAULT_LIMIT 10

/* Per stage, in the configured order: customers in it now, entries into it
 * during the period, and where each entry went next. */
GVariant *st_report_funnel (StStore *store, const StConfig *config,
                            GVariant *options, GError **error);

/* Scores and risk levels now: their spread, the factors that weigh on the
 * customers of one risk level (default "high"), the lowest scores. */
GVariant *st_report_health (StStore *store, const StConfig *config,
                            GVariant *options, GError **error);

/* Net Promoter Score from the NPS surveys of the period. */
GVariant *st_report_nps (StStore *store, const StConfig *config,
                         GVariant *options, GError **error);

G_END_DECLS
