-- Steward schema, migration 9: events without their foreign key, and
-- without the index on id alone. Importing a year of history writes tens
-- of thousands of events in one statement, and the foreign key checked
-- each with a query of its own and a row lock: a quarter of the import's
-- time in the database (docs/import.md). Every INSERT INTO events now joins
-- customers itself, FOR KEY SHARE, as messages do (migration 8): an event
-- is only written for a customer that exists, and a customer cannot be
-- deleted before the transaction that recorded its event ends. Deleting a
-- customer still deletes its events, by this trigger, in the deleting
-- statement's transaction.
--
-- events_id_idx served one reader, the care workers fetching their jobs'
-- events by id; they now look them up by (customer_id, id), the primary
-- key, and every event recorded maintains one index fewer.
ALTER TABLE events DROP CONSTRAINT events_customer_id_fkey;
DROP INDEX events_id_idx;

CREATE FUNCTION st_events_of_customers_gone () RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM events e USING gone g WHERE e.customer_id = g.id;
  RETURN NULL;
END $$;

CREATE TRIGGER events_cascade AFTER DELETE ON customers
  REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION st_events_of_customers_gone ();
