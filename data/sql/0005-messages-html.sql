-- Steward schema, migration 5: a message's HTML rendering, from a
-- <template>.<locale>.html beside the text template (docs/care.md). NULL
-- when there is none; channels that can (email) send it beside the text.
ALTER TABLE messages ADD COLUMN html text;
