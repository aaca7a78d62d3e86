-- Steward schema, migration 3: what campaign audiences need (docs/audience.md).
--
-- An audience is one query on customers, paged by id. Its conditions lean
-- on indexes that already exist:
--   stage          customers_stage_idx (stage, id): a page is a range scan
--   owner          customers_owner_idx (owner, id)
--   tags, tags_any customers_tags_idx (GIN): tags @> / && $n::text[]
--   events         customer_event_kinds_pkey (customer_id, kind) to check
--                  one customer, customer_event_kinds_kind_idx (kind,
--                  last_at) to find the customers whose last event of a
--                  kind falls in a window
--   health_score   customers_health_idx
-- and on the one below.

-- attrs = { plan = "pro" } is containment (attrs @> '{"plan":"pro"}'),
-- which a GIN index with jsonb_path_ops answers: smaller and faster than the
-- default jsonb_ops, and containment is the only operator audiences use.
-- attrs change when a person edits a customer, not on events, so the index
-- costs nothing on the write path that matters.
CREATE INDEX customers_attrs_idx ON customers USING gin (attrs jsonb_path_ops);

-- Deliberately no index on the other aggregates (purchase_count, revenue,
-- event_count, open_tickets, last_nps, last_event_at): every recorded event
-- rewrites some of them, and an index on a column an UPDATE changes turns a
-- HOT update (no index touched) into one that writes an entry in every
-- index of customers. Their thresholds are rarely selective on their own
-- ("revenue >= 100"); audiences combine them with stage, owner or tags,
-- and they are checked on the rows those indexes find.
