-- Steward schema, migration 10: cancelling a campaign run
-- (docs/campaigns.md#cancelling-a-run). cancelled_by records who asked, and
-- is the request itself: from its commit no worker claims the run's
-- batches, nor starts it; the canceller then waits for the batches in
-- progress, and ends the run as 'cancelled' with the summary of what was
-- done. A request whose daemon died before the end is ended by the
-- scheduler's leader.
ALTER TABLE campaign_runs ADD COLUMN cancelled_by text;
