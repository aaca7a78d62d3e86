-- Steward schema, migration 4: scheduled campaign runs (docs/campaigns.md).
-- A run is one execution of a campaign for one occurrence (and, for a
-- local-time campaign, one time zone). Its audience is split into batches
-- when it starts; workers of any daemon claim the batches (SKIP LOCKED) and
-- commit each batch's actions together with its run_targets rows.

CREATE TABLE campaign_runs (
  id            bigserial PRIMARY KEY,
  campaign      text NOT NULL,
  occurrence    timestamptz NOT NULL,    -- the scheduled instant, or the request time
  zone          text,                    -- local-time campaigns: the zone it covers
  dry_run       boolean NOT NULL DEFAULT false,
  state         text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'running', 'done', 'failed', 'cancelled')),
  requested_by  text NOT NULL,           -- "scheduler (...)" or the caller's Unix user
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  finished_at   timestamptz,
  batches       integer NOT NULL DEFAULT 0,
  batches_done  integer NOT NULL DEFAULT 0,
  total         bigint NOT NULL DEFAULT 0,
  done          bigint NOT NULL DEFAULT 0,
  sent          bigint NOT NULL DEFAULT 0,
  skipped       bigint NOT NULL DEFAULT 0,
  failed        bigint NOT NULL DEFAULT 0,
  summary       jsonb,                   -- dry runs: what would have been done
  last_error    text
);
-- One run per occurrence: two schedulers (a split brain) cannot both run it.
CREATE UNIQUE INDEX campaign_runs_occurrence_key
  ON campaign_runs (campaign, occurrence, COALESCE(zone, ''))
  WHERE NOT dry_run;
CREATE INDEX campaign_runs_campaign_idx ON campaign_runs (campaign, id DESC);
CREATE INDEX campaign_runs_active_idx ON campaign_runs (id)
  WHERE state IN ('pending', 'running');

-- The slices of a run's audience, fixed when the run starts: the ids, in
-- order. A batch is claimed, processed and marked done in one transaction.
-- Rows go when their run ends.
CREATE TABLE run_batches (
  run_id      bigint NOT NULL REFERENCES campaign_runs (id) ON DELETE CASCADE,
  batch_no    integer NOT NULL,
  first_id    bigint NOT NULL,
  last_id     bigint NOT NULL,
  ids         bigint[] NOT NULL,
  state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
  attempts    integer NOT NULL DEFAULT 0,
  last_error  text,
  summary     jsonb,                     -- dry runs: this batch's part
  finished_at timestamptz,
  PRIMARY KEY (run_id, batch_no)
);
CREATE INDEX run_batches_pending_idx ON run_batches (run_id, batch_no)
  WHERE state = 'pending';

-- What a run did for each customer it touched: one row per (customer, run),
-- written in the batch's transaction. state: sent (queued at least one
-- message), acted (other actions only), skipped (nothing to do, or left the
-- audience before its batch ran), failed (the script failed; error says
-- why, and nothing it decided was kept).
CREATE TABLE run_targets (
  customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  run_id      bigint NOT NULL REFERENCES campaign_runs (id) ON DELETE CASCADE,
  state       text NOT NULL CHECK (state IN ('sent', 'acted', 'skipped', 'failed')),
  error       text,
  done_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, run_id)
);
CREATE INDEX run_targets_run_idx ON run_targets (run_id, state);

-- The scheduler's memory: up to when each campaign's occurrences have been
-- considered. A campaign seen for the first time starts from that moment;
-- a changed schedule starts again from the change.
CREATE TABLE campaign_schedules (
  campaign      text PRIMARY KEY,
  schedule      text NOT NULL,
  local_time    boolean NOT NULL,
  checked_until timestamptz NOT NULL
);

-- Local-time campaigns fire zone by zone: the zones in use are read with a
-- skip scan of this index, and a zone's customers found with it.
CREATE INDEX customers_tz_idx ON customers (tz, id);
