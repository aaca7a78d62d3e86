-- Steward schema, migration 6: run_targets without foreign keys. A
-- campaign batch writes a thousand rows at once, and their two foreign
-- keys cost two lookups and a row lock per row: most of a batch's time in
-- the database (bench/NOTES.md). The batch itself only writes targets of
-- customers that exist (an EXISTS in its INSERT) and of its own run, which
-- it holds locked; deleting a customer or a run still deletes its targets,
-- by these triggers, in the deleting statement's transaction.
ALTER TABLE run_targets DROP CONSTRAINT run_targets_customer_id_fkey;
ALTER TABLE run_targets DROP CONSTRAINT run_targets_run_id_fkey;

CREATE FUNCTION st_run_targets_of_customers_gone () RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM run_targets t USING gone g WHERE t.customer_id = g.id;
  RETURN NULL;
END $$;

CREATE TRIGGER run_targets_cascade AFTER DELETE ON customers
  REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION st_run_targets_of_customers_gone ();

CREATE FUNCTION st_run_targets_of_runs_gone () RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM run_targets t USING gone g WHERE t.run_id = g.id;
  RETURN NULL;
END $$;

CREATE TRIGGER run_targets_cascade AFTER DELETE ON campaign_runs
  REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION st_run_targets_of_runs_gone ();
