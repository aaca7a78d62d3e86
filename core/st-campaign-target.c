/* One campaign target: the script run for one customer of a batch, and
 * what the batch gathers from it. Messages are not inserted one by one:
 * they go into columns (array literals) that st_batch_write() inserts with
 * one statement, with the batch's run_targets rows. The other actions
 * (alert, tag, set_stage, follow_up, set_health) are applied at once under
 * a savepoint, so a customer whose actions fail keeps none of them. */

#include "st-campaign-batch-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "st-error.h"
#include "st-json.h"
#include "st-record.h"

/* What a batch keeps of its summary, and how long a sample's body is. */
#define SAMPLES_PER_BATCH 5
#define ERRORS_PER_BATCH 5
#define SAMPLE_BODY_CHARS 500
/* A target's error is kept this long (characters). */
#define TARGET_ERROR_CHARS 2000

/* As st_outbox_enqueue(), for a batch's messages at once, its customers
 * checked and locked as that does (messages have no foreign key: migration
 * 8); the NOTIFY wakes the delivery workers (ST_OUTBOX_CHANNEL). */
ST_STATEMENT_DEFINE (st_sql_batch_messages, 12,
  "WITH ins AS ("
  "  INSERT INTO messages (customer_id, key, channel, script, template,"
  "    locale, recipient, subject, body, data, due_at, html)"
  "  SELECT m.customer_id, m.key, m.channel, m.script, m.template, m.locale,"
  "    m.recipient, m.subject, COALESCE(m.body, ''), COALESCE(m.data, '{}'),"
  "    now() + m.delay * interval '1 second', m.html"
  "  FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[],"
  "              $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],"
  "              $10::jsonb[], $11::bigint[], $12::text[])"
  "    AS m(customer_id, key, channel, script, template, locale, recipient,"
  "         subject, body, data, delay, html)"
  "    JOIN customers c ON c.id = m.customer_id"
  "  FOR KEY SHARE OF c"
  "  ON CONFLICT (customer_id, key) DO NOTHING RETURNING 1)"
  "SELECT count(*), pg_notify('steward_outbox', '') FROM ins");

/* A customer deleted since the run started has no target row to keep.
 * The EXISTS is for the targets not sent: a sent target's customer was
 * read by this batch a moment ago, and the insert of its message has
 * usually locked it since (a customer deleted in between, by hand, can
 * leave its target row behind: harmless). No ON CONFLICT: the batches of a run hold
 * distinct customers and a batch commits once, so a duplicate would be a
 * bug, and the batch fails with it (the check cost a third of the
 * statement). When the batch's attempts are spent and its targets are
 * recorded failed, that one statement takes no risk
 * (st_sql_batch_targets_failed). */
#define BATCH_TARGETS_SQL                                                    \
  "INSERT INTO run_targets (customer_id, run_id, state, error)"              \
  " SELECT t.id, $1, t.state, t.error"                                       \
  "   FROM unnest($2::bigint[], $3::text[], $4::text[]) AS t(id, state, error)"\
  "  WHERE t.state = 'sent'"                                                 \
  "     OR EXISTS (SELECT 1 FROM customers c WHERE c.id = t.id)"
ST_STATEMENT_DEFINE (st_sql_batch_targets, 4, BATCH_TARGETS_SQL);
ST_STATEMENT_DEFINE (st_sql_batch_targets_failed, 4,
  BATCH_TARGETS_SQL " ON CONFLICT (customer_id, run_id) DO NOTHING");

/* @text cut to @chars characters (g_utf8_substring reads past the end of a
 * shorter text). */
static char *
truncated (const char *text, glong chars)
{
  if (text == NULL || g_utf8_strlen (text, -1) <= chars)
    return g_strdup (text);
  return g_utf8_substring (text, 0, chars);
}

/* Array literals ------------------------------------------------------- */

static void
pg_array_append (StPgArray *array, const char *value)
{
  GString *text = array->text;

  g_string_append_c (text, text->len == 0 ? '{' : ',');
  if (value == NULL)
    {
      g_string_append (text, "NULL");
      return;
    }
  g_string_append_c (text, '"');
  for (const char *p = value; *p != '\0';)
    {
      gsize run = strcspn (p, "\"\\");

      g_string_append_len (text, p, (gssize) run);
      p += run;
      if (*p != '\0')
        {
          g_string_append_c (text, '\\');
          g_string_append_c (text, *p++);
        }
    }
  g_string_append_c (text, '"');
}

static void
pg_array_append_int (StPgArray *array, gint64 value)
{
  char digits[24];

  g_snprintf (digits, sizeof digits, "%" G_GINT64_FORMAT, value);
  pg_array_append (array, digits);
}

/* The literal, closed: "{}" when empty. */
static const char *
pg_array_close (StPgArray *array)
{
  if (array->text->len == 0)
    g_string_append_c (array->text, '{');
  g_string_append_c (array->text, '}');
  return array->text->str;
}

/* Batch ------------------------------------------------------------------ */

/* Counts by name: the counter is counted in place, so the name is copied
 * once, not per target. */
static void
count (GHashTable *table, const char *name)
{
  guint *n = g_hash_table_lookup (table, name);

  if (n == NULL)
    {
      n = g_new0 (guint, 1);
      g_hash_table_insert (table, g_strdup (name), n);
    }
  (*n)++;
}

void
st_batch_init (StBatch *batch, StEngine *engine, StStore *store, StLua *lua)
{
  memset (batch, 0, sizeof *batch);
  batch->engine = engine;
  batch->store = store;
  batch->lua = lua;
  batch->ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  batch->templates = st_template_cache_new ();
  for (guint i = 0; i < ST_MSG_COLUMNS; i++)
    batch->messages[i].text = g_string_new (NULL);
  for (guint i = 0; i < ST_TARGET_COLUMNS; i++)
    batch->targets[i].text = g_string_new (NULL);
  batch->actions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          g_free);
  batch->channels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           g_free);
  batch->samples = g_ptr_array_new_with_free_func (
      (GDestroyNotify) json_node_unref);
  batch->errors = g_ptr_array_new_with_free_func (
      (GDestroyNotify) json_node_unref);
  batch->alerts = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_variant_unref);
}

void
st_batch_clear (StBatch *batch)
{
  st_campaign_script_clear (&batch->campaign);
  g_clear_pointer (&batch->run_text, g_free);
  g_clear_pointer (&batch->batch_text, g_free);
  g_clear_pointer (&batch->ids, g_array_unref);
  g_clear_pointer (&batch->zone, g_free);
  g_clear_pointer (&batch->last_error, g_free);
  g_clear_pointer (&batch->event, g_variant_unref);
  g_clear_pointer (&batch->event_names, g_strfreev);
  g_clear_pointer (&batch->event_values, g_strfreev);
  g_clear_pointer (&batch->event_kinds, g_free);
  g_clear_pointer (&batch->templates, st_template_cache_free);
  for (guint i = 0; i < ST_MSG_COLUMNS; i++)
    g_string_free (batch->messages[i].text, TRUE);
  for (guint i = 0; i < ST_TARGET_COLUMNS; i++)
    g_string_free (batch->targets[i].text, TRUE);
  g_clear_pointer (&batch->actions, g_hash_table_unref);
  g_clear_pointer (&batch->channels, g_hash_table_unref);
  g_clear_pointer (&batch->samples, g_ptr_array_unref);
  g_clear_pointer (&batch->errors, g_ptr_array_unref);
  g_clear_pointer (&batch->alerts, g_ptr_array_unref);
}

void
st_batch_add_target (StBatch *batch, gint64 customer_id, const char *state,
                     const char *error)
{
  g_autofree char *short_error = truncated (error, TARGET_ERROR_CHARS);

  pg_array_append_int (&batch->targets[ST_TARGET_ID], customer_id);
  pg_array_append (&batch->targets[ST_TARGET_STATE], state);
  pg_array_append (&batch->targets[ST_TARGET_ERROR], short_error);
  batch->n_targets++;
  if (g_str_equal (state, "sent"))
    batch->sent++;
  else if (g_str_equal (state, "acted"))
    batch->acted++;
  else if (g_str_equal (state, "skipped"))
    batch->skipped++;
  else
    batch->failed++;
}

/* Summary ---------------------------------------------------------------- */

static void
add_sample (StBatch *batch, gint64 customer_id, const StAction *action,
            const StScriptSend *send)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (batch->samples->len >= SAMPLES_PER_BATCH)
    return;
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "customer_id");
  json_builder_add_int_value (builder, customer_id);
  json_builder_set_member_name (builder, "action");
  json_builder_add_string_value (builder, action->name);
  if (send != NULL)
    {
      g_autofree char *body = truncated (send->message.body,
                                         SAMPLE_BODY_CHARS);
      const char *fields[][2] = {
        { "channel", send->message.channel },
        { "key", send->message.key },
        { "template", send->message.template_name },
        { "recipient", send->message.recipient },
        { "subject", send->message.subject },
        { "body", body },
      };
      for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
        if (fields[i][1] != NULL)
          {
            json_builder_set_member_name (builder, fields[i][0]);
            json_builder_add_string_value (builder, fields[i][1]);
          }
    }
  else
    {
      json_builder_set_member_name (builder, "args");
      json_builder_add_value (builder, st_json_from_variant (action->args));
    }
  json_builder_end_object (builder);
  g_ptr_array_add (batch->samples, json_builder_get_root (builder));
}

static void
add_error (StBatch *batch, gint64 customer_id, const char *message)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (batch->errors->len >= ERRORS_PER_BATCH)
    return;
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "customer_id");
  json_builder_add_int_value (builder, customer_id);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);
  g_ptr_array_add (batch->errors, json_builder_get_root (builder));
}

static void
add_counts (JsonBuilder *builder, const char *name, GHashTable *table)
{
  GHashTableIter iter;
  gpointer key, value;

  json_builder_set_member_name (builder, name);
  json_builder_begin_object (builder);
  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      json_builder_set_member_name (builder, key);
      json_builder_add_int_value (builder, *(const guint *) value);
    }
  json_builder_end_object (builder);
}

static void
add_nodes (JsonBuilder *builder, const char *name, GPtrArray *nodes)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_array (builder);
  for (guint i = 0; i < nodes->len; i++)
    json_builder_add_value (builder,
                            json_node_copy (g_ptr_array_index (nodes, i)));
  json_builder_end_array (builder);
}

char *
st_batch_summary_json (StBatch *batch)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  add_counts (builder, "actions", batch->actions);
  add_counts (builder, "channels", batch->channels);
  add_nodes (builder, "samples", batch->samples);
  add_nodes (builder, "errors", batch->errors);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return st_json_to_string (root, FALSE);
}

/* One target ------------------------------------------------------------ */

/* Render the script's sends; the messages stay in @sends. */
static gboolean
render_sends (StScriptRun *run, GArray *sends, GError **error)
{
  for (guint i = 0; i < run->actions->len; i++)
    {
      const StAction *action = g_ptr_array_index (run->actions, i);
      StScriptSend send;

      if (!g_str_equal (action->name, "send"))
        continue;
      if (!st_script_run_render_send (run, action, &send, error))
        return FALSE;
      g_array_append_val (sends, send);
      if (send.message.customer_id <= 0 || send.message.key == NULL
          || *send.message.key == '\0' || send.message.channel == NULL
          || *send.message.channel == '\0' || send.message.delay_seconds < 0)
        {
          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "a message needs a customer, a key and a channel, and "
                       "a delay of 0 or more seconds");
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
exec_plain (StStore *store, const char *sql, GError **error)
{
  g_autoptr (PGresult) res = st_store_exec_sql (store, sql, 0, NULL, error);

  return res != NULL;
}

/* Apply the actions other than sends, all or none. FALSE with @failure set
 * when they were refused (rolled back); FALSE with @error when the
 * transaction is lost. */
static gboolean
apply_others (StScriptRun *run, GError **failure, GError **error)
{
  gboolean any = FALSE;

  for (guint i = 0; i < run->actions->len && !any; i++)
    any = !g_str_equal (((StAction *) g_ptr_array_index (run->actions, i))
                            ->name, "send");
  if (!any)
    return TRUE;
  if (!exec_plain (run->store, "SAVEPOINT st_target", error))
    return FALSE;
  for (guint i = 0; i < run->actions->len; i++)
    {
      const StAction *action = g_ptr_array_index (run->actions, i);

      if (g_str_equal (action->name, "send")
          || st_script_run_apply_one (run, action, failure))
        continue;
      if (g_error_matches (*failure, ST_ERROR, ST_ERROR_UNAVAILABLE))
        {
          g_propagate_error (error, g_steal_pointer (failure));
          return FALSE;
        }
      exec_plain (run->store, "ROLLBACK TO SAVEPOINT st_target", error);
      return FALSE;
    }
  return exec_plain (run->store, "RELEASE SAVEPOINT st_target", error);
}

static void
gather_send (StBatch *batch, const StOutboxMessage *m)
{
  StPgArray *c = batch->messages;
  g_autofree char *delay = g_strdup_printf ("%" G_GINT64_FORMAT,
                                            m->delay_seconds);

  pg_array_append_int (&c[ST_MSG_CUSTOMER], m->customer_id);
  pg_array_append (&c[ST_MSG_KEY], m->key);
  pg_array_append (&c[ST_MSG_CHANNEL], m->channel);
  pg_array_append (&c[ST_MSG_SCRIPT], m->script);
  pg_array_append (&c[ST_MSG_TEMPLATE], m->template_name);
  pg_array_append (&c[ST_MSG_LOCALE], m->locale);
  pg_array_append (&c[ST_MSG_RECIPIENT], m->recipient);
  pg_array_append (&c[ST_MSG_SUBJECT], m->subject);
  pg_array_append (&c[ST_MSG_BODY], m->body);
  pg_array_append (&c[ST_MSG_DATA], m->data_json);
  pg_array_append (&c[ST_MSG_DELAY], delay);
  pg_array_append (&c[ST_MSG_HTML], m->html);
  batch->n_messages++;
}

/* Count the actions, gather the messages (not in a dry run) and keep the
 * first few as samples. */
static void
keep_actions (StBatch *batch, StScriptRun *run, GArray *sends)
{
  guint next_send = 0;

  for (guint i = 0; i < run->actions->len; i++)
    {
      const StAction *action = g_ptr_array_index (run->actions, i);
      const StScriptSend *send = NULL;

      count (batch->actions, action->name);
      if (g_str_equal (action->name, "send"))
        {
          send = &g_array_index (sends, StScriptSend, next_send++);
          count (batch->channels, send->message.channel);
          if (!batch->dry_run)
            gather_send (batch, &send->message);
        }
      add_sample (batch, run->customer_id, action, send);
    }
}

static void
clear_sends (GArray *sends)
{
  for (guint i = 0; i < sends->len; i++)
    st_script_send_clear (&g_array_index (sends, StScriptSend, i));
  g_array_set_size (sends, 0);
}

gboolean
st_batch_run_target (StBatch *batch, gint64 id, const StLuaRow *customer,
                     GError **error)
{
  g_autoptr (GError) failure = NULL;
  g_autoptr (GArray) sends = g_array_new (FALSE, TRUE, sizeof (StScriptSend));
  StScriptRun run;
  gboolean ok;

  st_script_run_init (&run, batch->engine, batch->store,
                      batch->campaign.scripts, batch->campaign.script, id);
  run.customer_row = customer;
  run.event = g_variant_ref (batch->event);
  run.event_row = &batch->event_row;
  run.templates = batch->templates;
  ok = st_script_run_call (&run, batch->lua, &failure)
       && render_sends (&run, sends, &failure)
       && (batch->dry_run || apply_others (&run, &failure, error));
  if (ok)
    {
      keep_actions (batch, &run, sends);
      st_batch_add_target (batch, id,
                           sends->len > 0          ? "sent"
                           : run.actions->len > 0  ? "acted"
                                                   : "skipped",
                           run.actions->len == 0 ? "no action" : NULL);
      while (run.alerts->len > 0)
        g_ptr_array_add (batch->alerts,
                         g_ptr_array_steal_index (run.alerts, 0));
    }
  else if (error == NULL || *error == NULL)
    {
      st_batch_add_target (batch, id, "failed", failure->message);
      add_error (batch, id, failure->message);
    }
  clear_sends (sends);
  st_script_run_clear (&run);
  return error == NULL || *error == NULL;
}

/* Writing ---------------------------------------------------------------- */

gboolean
st_batch_write (StBatch *batch, GError **error)
{
  const char *params[ST_MSG_COLUMNS + 1];

  if (batch->n_messages > 0)
    {
      g_autoptr (PGresult) res = NULL;

      for (guint i = 0; i < ST_MSG_COLUMNS; i++)
        params[i] = pg_array_close (&batch->messages[i]);
      res = st_store_exec (batch->store, &st_sql_batch_messages, params,
                           error);
      if (res == NULL)
        return FALSE;
    }
  if (batch->n_targets > 0)
    {
      g_autoptr (PGresult) res = NULL;

      params[0] = batch->run_text;
      for (guint i = 0; i < ST_TARGET_COLUMNS; i++)
        params[i + 1] = pg_array_close (&batch->targets[i]);
      res = st_store_exec (batch->store,
                           batch->attempts >= ST_CAMPAIGN_BATCH_ATTEMPTS
                               ? &st_sql_batch_targets_failed
                               : &st_sql_batch_targets,
                           params, error);
      if (res == NULL)
        return FALSE;
    }
  return TRUE;
}
