-- Steward schema, migration 8: messages without their foreign key. A
-- campaign batch writes a thousand messages in one statement, and the
-- foreign key checked each with a query of its own and a row lock: about
-- a sixth of the batch's time in the database (bench/NOTES.md). Every
-- INSERT INTO messages now joins customers itself, FOR KEY SHARE, which
-- checks and locks them all at once: a message is only written for a
-- customer that exists, and a customer cannot be deleted before the
-- transaction that wrote its message ends. Deleting a customer still
-- deletes its messages, by this trigger, in the deleting statement's
-- transaction (after that transaction has waited for those locks).
ALTER TABLE messages DROP CONSTRAINT messages_customer_id_fkey;

CREATE FUNCTION st_messages_of_customers_gone () RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM messages m USING gone g WHERE m.customer_id = g.id;
  RETURN NULL;
END $$;

CREATE TRIGGER messages_cascade AFTER DELETE ON customers
  REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION st_messages_of_customers_gone ();
