-- Steward schema, migration 7: stage_history by time alone. The funnel
-- report (Reports.Funnel) reads every stage change since the start of its
-- period, of all customers; stage_history_time_idx leads with customer_id,
-- so without this the report reads the whole history, however short the
-- period.
CREATE INDEX stage_history_changed_at_idx ON stage_history (changed_at);
