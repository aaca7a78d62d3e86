-- Steward schema, migration 2: the care engine. Trigger jobs, the outbox,
-- alerts and health. Every side effect has a key and a unique constraint, so
-- a replayed job writes nothing twice.

-- Work for the scripts: one row per (script, thing that triggered it).
-- key is unique per customer: "event:<event id>:<script>",
-- "stage:<history id>:<script>", "follow:<script>:<script's key>".
CREATE TABLE care_jobs (
  customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  id          bigserial,
  key         text NOT NULL,
  script      text NOT NULL,
  trigger     text NOT NULL,           -- the event kind, "stage:<name>" or "follow_up"
  event_id    bigint,                  -- the triggering event, if any
  payload     jsonb NOT NULL DEFAULT '{}',  -- follow_up data
  due_at      timestamptz NOT NULL DEFAULT now(),
  state       text NOT NULL DEFAULT 'pending'
              CHECK (state IN ('pending', 'done', 'failed', 'skipped')),
  attempts    integer NOT NULL DEFAULT 0,
  last_error  text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  PRIMARY KEY (customer_id, id),
  UNIQUE (customer_id, key)
);
CREATE INDEX care_jobs_due_idx ON care_jobs (due_at) WHERE state = 'pending';

-- The outbox. A message is written in the transaction that decided it; key
-- is the script's key (e.g. "thanks:<event id>"), unique per customer.
CREATE TABLE messages (
  customer_id  bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  id           bigserial,
  key          text NOT NULL,
  channel      text NOT NULL,
  script       text,
  template     text,
  locale       text,
  recipient    text,
  subject      text,
  body         text NOT NULL DEFAULT '',
  data         jsonb NOT NULL DEFAULT '{}',
  state        text NOT NULL DEFAULT 'pending'
               CHECK (state IN ('pending', 'retry', 'sent', 'dead', 'suppressed')),
  attempts     integer NOT NULL DEFAULT 0,
  due_at       timestamptz NOT NULL DEFAULT now(),
  held_reason  text,                   -- why it was deferred or suppressed
  last_error   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  sent_at      timestamptz,
  PRIMARY KEY (customer_id, id),
  UNIQUE (customer_id, key)
);
CREATE INDEX messages_due_idx ON messages (due_at) WHERE state IN ('pending', 'retry');
CREATE INDEX messages_sent_idx ON messages (customer_id, channel, sent_at) WHERE state = 'sent';
CREATE INDEX messages_id_idx ON messages (id);

-- Alerts: one open alert per (customer, kind); a repeat updates it. System
-- alerts (a broken script) use customer_id 0.
CREATE TABLE alerts (
  customer_id     bigint NOT NULL DEFAULT 0,
  id              bigserial,
  kind            text NOT NULL,
  severity        text NOT NULL DEFAULT 'warning'
                  CHECK (severity IN ('info', 'warning', 'critical')),
  message         text NOT NULL,
  data            jsonb NOT NULL DEFAULT '{}',
  source          text NOT NULL,       -- "script:<name>" or "core"
  state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged')),
  count           integer NOT NULL DEFAULT 1,
  first_raised_at timestamptz NOT NULL DEFAULT now(),
  last_raised_at  timestamptz NOT NULL DEFAULT now(),
  acknowledged_by text,
  acknowledged_at timestamptz,
  note            text,
  PRIMARY KEY (customer_id, id)
);
CREATE UNIQUE INDEX alerts_open_key ON alerts (customer_id, kind) WHERE state = 'open';
CREATE INDEX alerts_id_idx ON alerts (id);
CREATE INDEX alerts_open_idx ON alerts (last_raised_at DESC) WHERE state = 'open';

-- Health: the score the health script computes, with its factors.
ALTER TABLE customers
  ADD COLUMN health_score integer CHECK (health_score BETWEEN 0 AND 100),
  ADD COLUMN health_factors jsonb,
  ADD COLUMN risk_level text,
  ADD COLUMN health_updated_at timestamptz;
CREATE INDEX customers_health_idx ON customers (health_score) WHERE health_score IS NOT NULL;

CREATE TABLE health_history (
  customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  id          bigserial,
  score       integer NOT NULL,
  factors     jsonb NOT NULL DEFAULT '{}',
  risk_level  text,
  event_id    bigint,
  computed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, id)
);
