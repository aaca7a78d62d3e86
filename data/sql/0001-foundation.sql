-- Steward schema, migration 1: customers, their stage history and events.
-- Every customer-owned table has customer_id leading its primary key so the
-- schema can be distributed by customer (Citus) later.

CREATE TABLE customers (
  id               bigserial PRIMARY KEY,
  ref              text,
  name             text NOT NULL,
  email            text,
  phone            text,
  locale           text,
  tz               text,
  owner            text,
  tags             text[] NOT NULL DEFAULT '{}',
  attrs            jsonb NOT NULL DEFAULT '{}',
  stage            text NOT NULL,
  stage_since      timestamptz NOT NULL DEFAULT now(),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  -- aggregates, kept in the same transaction as each event
  first_purchase_at timestamptz,
  last_purchase_at  timestamptz,
  purchase_count    bigint NOT NULL DEFAULT 0,
  revenue           numeric NOT NULL DEFAULT 0,
  last_contact_at   timestamptz,
  last_event_at     timestamptz,
  event_count       bigint NOT NULL DEFAULT 0,
  open_tickets      integer NOT NULL DEFAULT 0,
  last_nps          integer,
  last_nps_at       timestamptz,
  CONSTRAINT customers_name_not_blank CHECK (btrim(name) <> '')
);
CREATE UNIQUE INDEX customers_ref_key ON customers (ref) WHERE ref IS NOT NULL;
CREATE UNIQUE INDEX customers_email_key ON customers (lower(email)) WHERE email IS NOT NULL;
CREATE INDEX customers_stage_idx ON customers (stage, id);
CREATE INDEX customers_owner_idx ON customers (owner, id) WHERE owner IS NOT NULL;
CREATE INDEX customers_tags_idx ON customers USING gin (tags);

-- Last time and count of each kind of event per customer: "time since the
-- last X" is one index lookup.
CREATE TABLE customer_event_kinds (
  customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  kind        text NOT NULL,
  first_at    timestamptz NOT NULL,
  last_at     timestamptz NOT NULL,
  count       bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (customer_id, kind)
);
CREATE INDEX customer_event_kinds_kind_idx ON customer_event_kinds (kind, last_at);

CREATE TABLE stage_history (
  customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  id          bigserial,
  from_stage  text,
  to_stage    text NOT NULL,
  actor       text NOT NULL,
  reason      text,
  changed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, id)
);
CREATE INDEX stage_history_time_idx ON stage_history (customer_id, changed_at DESC);

CREATE TABLE events (
  customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  id          bigserial,
  kind        text NOT NULL,
  occurred_at timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  amount      numeric,
  data        jsonb NOT NULL DEFAULT '{}',
  idem_key    text,
  PRIMARY KEY (customer_id, id)
);
CREATE UNIQUE INDEX events_idem_key ON events (customer_id, idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX events_time_idx ON events (customer_id, occurred_at DESC, id DESC);
CREATE INDEX events_id_idx ON events (id);
