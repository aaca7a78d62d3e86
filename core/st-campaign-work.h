#pragma once

#include <glib.h>

#include "st-audience.h"
#include "st-lua.h"
#include "st-store.h"

G_BEGIN_DECLS

/* What a campaign worker does, each step one transaction of its own
 * (docs/campaigns.md):
 *
 * - start a pending run: split its audience, as it is at that moment, into
 *   batches of ids (st-campaign-start.c);
 * - process a batch: re-check the audience for its ids, run the script for
 *   each customer still in it, and commit the actions with the batch's
 *   run_targets rows and the run's counters (st-campaign-batch.c);
 * - and, asked to, cancel a run (st-campaign-cancel.c).
 *
 * Workers of every daemon do both, claiming rows with FOR UPDATE SKIP
 * LOCKED; a crash rolls the step back and another worker does it again. */

typedef struct _StEngine StEngine;

/* A campaign as a worker needs it: the script (in a reference to its set)
 * and its audience. */
typedef struct {
  StScriptSet *scripts;
  const StScript *script;
  StAudience *audience;
} StCampaignScript;

/* Look up campaign @name in the engine's scripts: NOT_FOUND when no such
 * script is loaded, INVALID_ARGUMENT when it is no campaign, FAILED when
 * it is broken or its audience is not usable. */
gboolean st_campaign_script_load (StEngine *engine, const char *name,
                                  StCampaignScript *campaign, GError **error);
void st_campaign_script_clear (StCampaignScript *campaign);

/* Start the oldest pending run. FALSE with no error when there was none. */
gboolean st_campaign_start_next (StEngine *engine, StStore *store,
                                 GError **error);

/* Claim and process one batch of a running run with @lua. FALSE with no
 * error when there was none. Alerts raised are announced to the engine
 * after the commit. When *@stopping becomes non-zero the batch is given
 * up (rolled back, for another worker) with ST_ERROR_UNAVAILABLE. */
gboolean st_campaign_batch_next (StEngine *engine, StStore *store,
                                 StLua *lua, const gint *stopping,
                                 GError **error);

/* The end of a run, in the caller's transaction: the summaries of its
 * batches made the run's one, and the batches dropped. */
gboolean st_campaign_run_summarize (StStore *store, const char *run_id,
                                    GError **error);

/* Cancel run @id for @who (docs/campaigns.md#cancelling-a-run), in
 * transactions of its own: from the first one's commit no worker claims
 * the run's batches; the second waits for the batches in progress and
 * ends the run as cancelled. The run as a record (a{sv}) afterwards: its
 * state is that of the end it had before the cancel took, when the last
 * batch in progress ended it. NOT_FOUND for no such run,
 * ILLEGAL_TRANSITION for one that had already ended. */
GVariant *st_campaign_run_cancel (StStore *store, gint64 id, const char *who,
                                  GError **error);

/* End the cancellations whose daemon died between the two steps. */
gboolean st_campaign_run_cancel_left (StStore *store, GError **error);

/* A batch whose transaction failed this many times (not for a lost
 * connection) is given up: its targets are recorded as failed. */
#define ST_CAMPAIGN_BATCH_ATTEMPTS 3

G_END_DECLS
