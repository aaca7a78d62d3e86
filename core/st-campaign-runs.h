#pragma once

#include <glib.h>

#include "st-store.h"

G_BEGIN_DECLS

/* Campaign runs as rows (campaign_runs, data/sql/0004-campaigns.sql):
 * creating one, reading one or a list as records, and the poll that
 * progress signals are made from. Starting a run and processing its
 * batches is st-campaign-batch.c; deciding when to create one is
 * st-campaign-schedule.c. */

/* NOTIFY channel: a run was created or split, batches wait. */
#define ST_CAMPAIGN_CHANNEL "steward_campaigns"

typedef struct {
  const char *campaign;
  GDateTime *occurrence;    /* NULL: now */
  const char *zone;         /* local-time runs: the zone covered; else NULL */
  gboolean dry_run;
  const char *requested_by; /* "scheduler (...)" or the caller's user */
} StRunRequest;

/* Insert a pending run in its own transaction and wake the workers. When
 * the occurrence already has its run (a second scheduler, a repeated
 * request) nothing is written: *created is FALSE and the id is the
 * existing run's (0 when it is not committed yet). -1 on error. */
gint64 st_campaign_runs_create (StStore *store, const StRunRequest *request,
                                gboolean *created, GError **error);

/* The same inside the caller's transaction, without reading back an
 * existing run: TRUE with *created set. */
gboolean st_campaign_runs_insert (StStore *store, const StRunRequest *request,
                                  gboolean *created, GError **error);

/* A run as a record (a{sv}): id, campaign, occurrence, zone, dry_run,
 * state, requested_by, created_at, started_at, finished_at, total, done,
 * sent, skipped, failed, summary (a{sv}), last_error, cancelled_by (who
 * asked to cancel it; absent when nobody did). NOT_FOUND when
 * there is no such run. Own transaction. */
GVariant *st_campaign_runs_get (StStore *store, gint64 id, GError **error);

/* The newest runs (of @campaign, or of all when NULL or ""), newest first,
 * at most @limit (1..10000). aa{sv}. Own transaction. */
GVariant *st_campaign_runs_list (StStore *store, const char *campaign,
                                 guint limit, GError **error);

/* The counters of a run as the progress poll reads them. */
typedef struct {
  gint64 id;
  char state[16];
  gint64 total, done, sent, skipped, failed;
} StRunProgress;

/* The runs that are pending or running, and those that ended within the
 * last ST_CAMPAIGN_POLL_WINDOW, as StRunProgress, by id. */
#define ST_CAMPAIGN_POLL_WINDOW "5 minutes"
GArray *st_campaign_runs_poll (StStore *store, GError **error);

/* The state of a run record ("?" when it has none). */
const char *st_campaign_run_state (GVariant *record);

/* Whether @state is one a run ends in. */
gboolean st_campaign_run_state_is_final (const char *state);

G_END_DECLS
