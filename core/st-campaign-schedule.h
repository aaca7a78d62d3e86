#pragma once

#include <glib.h>

#include "st-config.h"
#include "st-cron.h"
#include "st-store.h"

G_BEGIN_DECLS

/* When campaigns fire (docs/campaigns.md). A campaign's cron schedule is
 * read in default_tz, or, with local_time, in each customer's own zone:
 * then every zone in use fires at its own instant, and each (occurrence,
 * zone) is a run of its own whose audience is that zone's customers.
 *
 * The scheduler remembers, per campaign, up to when occurrences have been
 * considered (campaign_schedules.checked_until); a campaign seen for the
 * first time, or whose schedule changed, starts from that moment. */

typedef struct _StEngine StEngine;

/* The occurrences of @cron in @tz within (@from, @now] to run, oldest
 * first (GDateTime*, in @tz), under @catch_up: every one (at most @max,
 * the oldest), the latest only, or the latest only if it is at most
 * @grace old (none). Pure. */
GPtrArray *st_campaign_due (const StCron *cron, GTimeZone *tz,
                            GDateTime *from, GDateTime *now,
                            StCatchUp catch_up, GTimeSpan grace, guint max);

/* The zones customers are in (their tz, else @default_tz), sorted; one
 * index skip scan. Inside the caller's transaction. */
GStrv st_campaign_zones (StStore *store, const char *default_tz,
                         GError **error);

/* The next time @cron fires after @after: in @default_tz, or with
 * @local_time the earliest across @zones. NULL when it never does. */
GDateTime *st_campaign_next_fire (const StCron *cron, gboolean local_time,
                                  const char *const *zones,
                                  const char *default_tz, GDateTime *after);

/* One look by the leader, in a transaction of its own: for each usable
 * campaign, insert the runs of the occurrences due since the last look
 * (the runs' unique index makes a second leader harmless) and move
 * checked_until on. @who is written as the runs' requested_by. */
gboolean st_campaign_schedule_tick (StEngine *engine, StStore *store,
                                    const char *who, GError **error);

G_END_DECLS
