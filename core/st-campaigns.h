#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Scheduled campaigns in a daemon (docs/campaigns.md): the campaign
 * workers, which start pending runs and process their batches (any
 * daemon's workers share them), and the scheduler, which only the leader
 * runs: the daemon holding a PostgreSQL advisory lock on a connection of
 * its own. When the leader dies its connection closes, the lock goes
 * with it, and another daemon takes it at its next look. */

typedef struct _StEngine StEngine;
typedef struct _StCampaigns StCampaigns;

StCampaigns *st_campaigns_new (StEngine *engine);
/* Start config->campaign_workers workers and the scheduler thread, each
 * with its own connection. */
void st_campaigns_start (StCampaigns *campaigns);
/* Stop: a batch in progress is rolled back (another worker or daemon
 * takes it again), the leadership is given up; then free. */
void st_campaigns_free (StCampaigns *campaigns);

/* Whether this daemon is the scheduler's leader right now. */
gboolean st_campaigns_is_leader (StCampaigns *campaigns);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StCampaigns, st_campaigns_free)

G_END_DECLS
