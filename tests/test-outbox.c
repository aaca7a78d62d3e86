/* Tests for core/st-outbox.c, st-delivery.c and st-plugins.c against a real
 * PostgreSQL and real plugins: the log plugin from plugins/log (plugin_dir
 * = $STEWARD_BUILDDIR/plugins, the build-tree layout) and the test fixture
 * plugins from tests/plugins (flaky, badabi, nosym). Decisions that depend
 * on the time use st_delivery_set_clock(). */

#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "st-config.h"
#include "st-error.h"
#include "st-outbox.h"
#include "st-plugins.h"
#include "st-test-util.h"

typedef struct {
  StTestDb *db;
  StStore *store;
  char *dir;       /* temporary: the log file, a mixed plugin folder */
  char *log_path;
  GMutex lock;
  GPtrArray *alerts; /* what the sink was told, a{sv} */
  StDelivery *delivery;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  (void) data;
  f->db = st_test_db_new ();
  f->store = st_test_db_store (f->db);
  f->dir = g_dir_make_tmp ("steward-outbox-XXXXXX", &error);
  g_assert_no_error (error);
  /* In a folder that does not exist yet: the plugin creates it. */
  f->log_path = g_build_filename (f->dir, "out", "messages.jsonl", NULL);
  g_mutex_init (&f->lock);
  f->alerts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  (void) data;
  g_clear_pointer (&f->delivery, st_delivery_free);
  g_clear_pointer (&f->store, st_store_free);
  g_clear_pointer (&f->db, st_test_db_free);
  st_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->log_path);
  g_ptr_array_unref (f->alerts);
  g_mutex_clear (&f->lock);
}

static void
alert_sink (GVariant *alert, gpointer user_data)
{
  Fixture *f = user_data;

  g_mutex_lock (&f->lock);
  g_ptr_array_add (f->alerts, g_variant_ref (alert));
  g_mutex_unlock (&f->lock);
}

static guint
alerts_len (Fixture *f)
{
  guint len;

  g_mutex_lock (&f->lock);
  len = f->alerts->len;
  g_mutex_unlock (&f->lock);
  return len;
}

/* Plugin folders */

static char *
log_plugin_dir (void)
{
  return st_test_build_path ("plugins");
}

static char *
fixture_plugin_dir (void)
{
  return st_test_build_path ("tests/plugins");
}

/* One folder with both the log and the flaky plugin, flat (the installed
 * layout). */
static char *
mixed_plugin_dir (Fixture *f)
{
  g_autofree char *log = st_test_build_path ("plugins/log/liblog.so");
  g_autofree char *flaky = st_test_build_path ("tests/plugins/libflaky.so");
  char *dir = g_build_filename (f->dir, "plugins", NULL);
  g_autofree char *log_link = g_build_filename (dir, "liblog.so", NULL);
  g_autofree char *flaky_link = g_build_filename (dir, "libflaky.so", NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_cmpint (symlink (log, log_link), ==, 0);
  g_assert_cmpint (symlink (flaky, flaky_link), ==, 0);
  return dir;
}

/* A configuration with @yaml after plugin_dir (which may be NULL). "@LOG@"
 * in @yaml stands for the log file's path. */
static StConfig *
make_config (Fixture *f, const char *plugin_dir, const char *yaml)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  StConfig *config;

  if (plugin_dir != NULL)
    g_string_append_printf (text, "plugin_dir: \"%s\"\n", plugin_dir);
  g_string_append (text, yaml);
  g_string_replace (text, "@LOG@", f->log_path, 0);
  config = st_config_load_from_data (text->str, -1, "test.yaml", &error);
  g_assert_no_error (error);
  return config;
}

static void
start (Fixture *f, const char *plugin_dir, const char *yaml)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) config = make_config (f, plugin_dir, yaml);

  f->delivery = st_delivery_new (f->db->conninfo, config, alert_sink, f,
                                 &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->delivery);
}

static void
start_log (Fixture *f, const char *yaml)
{
  g_autofree char *dir = log_plugin_dir ();
  start (f, dir, yaml);
}

static GError *
start_fails (Fixture *f, const char *plugin_dir, const char *yaml)
{
  GError *error = NULL;
  g_autoptr (StConfig) config = make_config (f, plugin_dir, yaml);
  StDelivery *delivery = st_delivery_new (f->db->conninfo, config, NULL, NULL,
                                          &error);

  g_assert_null (delivery);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  return error;
}

static guint
run_once (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  guint n = st_delivery_run_once (f->delivery, &error);

  g_assert_no_error (error);
  return n;
}

/* Times */

static gint64
utc_usec (int year, int month, int day, int hour, int minute)
{
  g_autoptr (GDateTime) t = g_date_time_new_utc (year, month, day, hour,
                                                 minute, 0);
  return g_date_time_to_unix (t) * G_USEC_PER_SEC;
}

#define HOUR_USEC G_GINT64_CONSTANT (3600000000)

/* The database */

static char *
query (Fixture *f, const char *format, ...) G_GNUC_PRINTF (2, 3);

static char *
query (Fixture *f, const char *format, ...)
{
  g_autofree char *sql = NULL;
  va_list args;

  va_start (args, format);
  sql = g_strdup_vprintf (format, args);
  va_end (args);
  return st_test_db_query (f->db, sql);
}

static void
exec_sql (Fixture *f, const char *sql, int n, const char *const *params)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PGresult) res = NULL;

  g_assert_true (st_store_begin (f->store, &error));
  res = st_store_exec_sql (f->store, sql, n, params, &error);
  g_assert_no_error (error);
  g_assert_true (st_store_commit (f->store, &error));
  g_assert_no_error (error);
}

static gint64
add_customer (Fixture *f, const char *name, const char *tz)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PGresult) res = NULL;
  g_autofree char *email = g_strdup_printf ("%s@example.com", name);
  gint64 id;

  g_assert_true (st_store_begin (f->store, &error));
  res = st_store_exec_sql (
      f->store, "INSERT INTO customers (name, email, tz, locale, stage)"
                " VALUES ($1, $2, $3, 'en', 'lead') RETURNING id",
      3, (const char *[]){ name, email, tz }, &error);
  g_assert_no_error (error);
  id = g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10);
  g_assert_true (st_store_commit (f->store, &error));
  return id;
}

static gboolean
enqueue_message (Fixture *f, const StOutboxMessage *message)
{
  g_autoptr (GError) error = NULL;
  gboolean created = FALSE;

  g_assert_true (st_store_begin (f->store, &error));
  g_assert_true (st_outbox_enqueue (f->store, message, &created, &error));
  g_assert_no_error (error);
  g_assert_true (st_store_commit (f->store, &error));
  g_assert_no_error (error);
  return created;
}

/* A message of @customer on @channel; the template picks the flaky
 * plugin's answer. Returns its id. */
static gint64
enqueue (Fixture *f, gint64 customer, const char *channel, const char *key,
         const char *template_name)
{
  StOutboxMessage message = {
    .customer_id = customer,
    .key = key,
    .channel = channel,
    .script = "test",
    .template_name = template_name,
    .subject = "Hello",
    .body = "Body",
  };
  g_autofree char *id = NULL;

  g_assert_true (enqueue_message (f, &message));
  id = query (f, "SELECT id FROM messages WHERE customer_id = %" G_GINT64_FORMAT
              " AND key = '%s'", customer, key);
  g_assert_nonnull (id);
  return g_ascii_strtoll (id, NULL, 10);
}

static char *
message_field (Fixture *f, gint64 id, const char *field)
{
  return query (f, "SELECT %s FROM messages WHERE id = %" G_GINT64_FORMAT,
                field, id);
}

static void
assert_state (Fixture *f, gint64 id, const char *state)
{
  g_autofree char *value = message_field (f, id, "state");
  g_assert_cmpstr (value, ==, state);
}

static gint64
message_time (Fixture *f, gint64 id, const char *field)
{
  g_autofree char *expr = g_strdup_printf (
      "(extract(epoch FROM %s) * 1000000)::bigint", field);
  g_autofree char *value = message_field (f, id, expr);

  g_assert_nonnull (value);
  return g_ascii_strtoll (value, NULL, 10);
}

/* The log file */

static GPtrArray *
read_lines (Fixture *f)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  GPtrArray *objects = g_ptr_array_new_with_free_func (
      (GDestroyNotify) json_object_unref);

  if (!g_file_get_contents (f->log_path, &text, NULL, NULL))
    return objects;
  g_assert_true (g_str_has_suffix (text, "\n"));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      g_autoptr (GError) error = NULL;

      json_parser_load_from_data (parser, lines[i], -1, &error);
      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
      g_ptr_array_add (objects, json_object_ref (json_node_get_object (
                                    json_parser_get_root (parser))));
    }
  return objects;
}

static const char *
alert_string (GVariant *alert, const char *key)
{
  const char *value = NULL;

  g_assert_true (g_variant_lookup (alert, key, "&s", &value));
  return value;
}

static const char log_yaml[] =
    "channels:\n"
    "  email: { plugin: log, path: \"@LOG@\" }\n";

/* Tests: enqueue and the log plugin */

static void
test_deliver_log (Fixture *f, gconstpointer data)
{
  gint64 customer = add_customer (f, "ada", "Europe/Paris");
  StOutboxMessage message = {
    .customer_id = customer,
    .key = "thanks:1",
    .channel = "email",
    .script = "thank_you",
    .template_name = "thank_you",
    .locale = "fr",
    .recipient = "ada@example.org",
    .subject = "Merci \"Ada\"",
    .body = "Line 1\nLine 2\t\u00e9\u2603 \\ \x01 end",
    .data_json = "{\"order\": 42}",
  };
  g_autoptr (GPtrArray) lines = NULL;
  g_autofree char *id = NULL, *state = NULL, *attempts = NULL;
  g_autofree char *sent_at = NULL;
  JsonObject *line, *customer_object;

  (void) data;
  start_log (f, log_yaml);
  g_assert_true (enqueue_message (f, &message));
  g_assert_cmpuint (run_once (f), ==, 1);
  g_assert_cmpuint (run_once (f), ==, 0);

  lines = read_lines (f);
  g_assert_cmpuint (lines->len, ==, 1);
  line = g_ptr_array_index (lines, 0);
  id = query (f, "SELECT id FROM messages");
  g_assert_cmpint (json_object_get_int_member (line, "message_id"), ==,
                   g_ascii_strtoll (id, NULL, 10));
  g_assert_cmpint (json_object_get_int_member (line, "customer_id"), ==,
                   customer);
  g_assert_cmpstr (json_object_get_string_member (line, "channel"), ==,
                   "email");
  g_assert_cmpstr (json_object_get_string_member (line, "script"), ==,
                   "thank_you");
  g_assert_cmpstr (json_object_get_string_member (line, "key"), ==,
                   "thanks:1");
  g_assert_cmpstr (json_object_get_string_member (line, "template"), ==,
                   "thank_you");
  g_assert_cmpstr (json_object_get_string_member (line, "locale"), ==, "fr");
  g_assert_cmpstr (json_object_get_string_member (line, "recipient"), ==,
                   "ada@example.org");
  g_assert_cmpstr (json_object_get_string_member (line, "subject"), ==,
                   message.subject);
  g_assert_cmpstr (json_object_get_string_member (line, "body"), ==,
                   message.body);
  g_assert_cmpint (json_object_get_int_member (
                       json_object_get_object_member (line, "data"), "order"),
                   ==, 42);
  g_assert_cmpint (json_object_get_int_member (line, "attempt"), ==, 1);
  g_assert_true (g_str_has_suffix (json_object_get_string_member (line, "at"),
                                   "Z"));
  customer_object = json_object_get_object_member (line, "customer");
  g_assert_cmpstr (json_object_get_string_member (customer_object, "name"),
                   ==, "ada");
  g_assert_cmpstr (json_object_get_string_member (customer_object, "email"),
                   ==, "ada@example.com");
  g_assert_cmpstr (json_object_get_string_member (customer_object, "tz"), ==,
                   "Europe/Paris");
  g_assert_true (json_object_get_null_member (customer_object, "phone"));

  state = query (f, "SELECT state FROM messages");
  attempts = query (f, "SELECT attempts FROM messages");
  sent_at = query (f, "SELECT sent_at IS NOT NULL FROM messages");
  g_assert_cmpstr (state, ==, "sent");
  g_assert_cmpstr (attempts, ==, "1");
  g_assert_cmpstr (sent_at, ==, "t");
  g_assert_cmpuint (f->alerts->len, ==, 0);
}

/* Fields left out are JSON nulls; the body is never null. */
static void
test_deliver_minimal (Fixture *f, gconstpointer data)
{
  gint64 customer = add_customer (f, "bob", NULL);
  StOutboxMessage message = { .customer_id = customer, .key = "k",
                              .channel = "email" };
  g_autoptr (GPtrArray) lines = NULL;
  JsonObject *line;

  (void) data;
  start_log (f, log_yaml);
  g_assert_true (enqueue_message (f, &message));
  g_assert_cmpuint (run_once (f), ==, 1);
  lines = read_lines (f);
  g_assert_cmpuint (lines->len, ==, 1);
  line = g_ptr_array_index (lines, 0);
  g_assert_true (json_object_get_null_member (line, "script"));
  g_assert_true (json_object_get_null_member (line, "template"));
  g_assert_true (json_object_get_null_member (line, "subject"));
  g_assert_true (json_object_get_null_member (line, "recipient"));
  g_assert_cmpstr (json_object_get_string_member (line, "body"), ==, "");
  g_assert_cmpuint (
      json_object_get_size (json_object_get_object_member (line, "data")), ==,
      0);
}

static void
test_enqueue_idempotent (Fixture *f, gconstpointer data)
{
  gint64 customer = add_customer (f, "cy", NULL);
  gint64 other = add_customer (f, "di", NULL);
  StOutboxMessage message = { .customer_id = customer, .key = "once",
                              .channel = "email", .body = "first" };
  g_autofree char *count = NULL, *body = NULL;
  g_autoptr (GPtrArray) lines = NULL;

  (void) data;
  start_log (f, log_yaml);
  g_assert_true (enqueue_message (f, &message));
  message.body = "second";
  g_assert_false (enqueue_message (f, &message));
  /* The key is per customer. */
  message.customer_id = other;
  g_assert_true (enqueue_message (f, &message));

  count = query (f, "SELECT count(*) FROM messages");
  body = query (f, "SELECT body FROM messages WHERE customer_id = %"
                G_GINT64_FORMAT, customer);
  g_assert_cmpstr (count, ==, "2");
  g_assert_cmpstr (body, ==, "first");
  g_assert_cmpuint (run_once (f), ==, 2);
  /* Delivered already: a replay of the same key writes nothing more. */
  message.customer_id = customer;
  g_assert_false (enqueue_message (f, &message));
  g_assert_cmpuint (run_once (f), ==, 0);
  lines = read_lines (f);
  g_assert_cmpuint (lines->len, ==, 2);
}

/* The message is part of the caller's transaction; a delay makes it due
 * later; bad arguments are refused. */
static void
test_enqueue_transaction (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 customer = add_customer (f, "eve", NULL);
  StOutboxMessage message = { .customer_id = customer, .key = "rolled",
                              .channel = "email" };
  StOutboxMessage later = { .customer_id = customer, .key = "later",
                            .channel = "email", .delay_seconds = 3600 };
  StOutboxMessage bad = { .customer_id = customer, .key = "",
                          .channel = "email" };
  StOutboxMessage bad_json = { .customer_id = customer, .key = "j",
                               .channel = "email", .data_json = "{nope" };
  g_autofree char *count = NULL, *delay = NULL;
  gboolean created = TRUE;

  (void) data;
  start_log (f, log_yaml);
  g_assert_true (st_store_begin (f->store, &error));
  g_assert_true (st_outbox_enqueue (f->store, &message, &created, &error));
  g_assert_true (created);
  st_store_rollback (f->store);
  count = query (f, "SELECT count(*) FROM messages");
  g_assert_cmpstr (count, ==, "0");

  g_assert_true (enqueue_message (f, &later));
  delay = query (f, "SELECT round(extract(epoch FROM due_at - created_at))"
                 " FROM messages");
  g_assert_cmpstr (delay, ==, "3600");
  g_assert_cmpuint (run_once (f), ==, 0);

  g_assert_true (st_store_begin (f->store, &error));
  g_assert_false (st_outbox_enqueue (f->store, &bad, NULL, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (st_outbox_enqueue (f->store, &bad_json, NULL, &error));
  g_assert_nonnull (error);
  st_store_rollback (f->store);
}

/* Messages have no foreign key (migration 8), so the enqueue itself
 * locks the customer: deleting the customer waits for the message's
 * transaction, and then deletes the message with it; a customer already
 * gone gets no message, and no error. */
static void
test_enqueue_customer_deleted (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 customer = add_customer (f, "gil", NULL);
  StOutboxMessage message = { .customer_id = customer, .key = "held",
                              .channel = "email" };
  StOutboxMessage late = { .customer_id = customer, .key = "late",
                           .channel = "email" };
  g_autofree char *delete = g_strdup_printf (
      "DELETE FROM customers WHERE id = %" G_GINT64_FORMAT, customer);
  g_autofree char *count = NULL;
  PGconn *other = PQconnectdb (f->db->conninfo);
  PGresult *res;
  gboolean created = FALSE;
  int waited = 0;

  (void) data;
  g_assert_cmpint (PQstatus (other), ==, CONNECTION_OK);
  g_assert_true (st_store_begin (f->store, &error));
  g_assert_true (st_outbox_enqueue (f->store, &message, &created, &error));
  g_assert_true (created);

  /* The delete waits for the enqueue's transaction... */
  g_assert_cmpint (PQsendQuery (other, delete), ==, 1);
  while (atoi (count = query (f, "SELECT count(*) FROM pg_stat_activity"
                                 " WHERE wait_event_type = 'Lock' AND"
                                 " query LIKE 'DELETE FROM customers%%'"))
         == 0)
    {
      g_clear_pointer (&count, g_free);
      g_assert_cmpint (++waited, <, 500);
      g_usleep (10000);
    }
  g_clear_pointer (&count, g_free);
  g_assert_true (st_store_commit (f->store, &error));

  /* ...then takes the message with the customer. */
  while ((res = PQgetResult (other)) != NULL)
    {
      g_assert_cmpint (PQresultStatus (res), ==, PGRES_COMMAND_OK);
      g_assert_cmpstr (PQcmdTuples (res), ==, "1");
      PQclear (res);
    }
  PQfinish (other);
  count = query (f, "SELECT count(*) FROM messages");
  g_assert_cmpstr (count, ==, "0");

  g_assert_true (st_store_begin (f->store, &error));
  g_assert_true (st_outbox_enqueue (f->store, &late, &created, &error));
  g_assert_false (created);
  g_assert_true (st_store_commit (f->store, &error));
  g_clear_pointer (&count, g_free);
  count = query (f, "SELECT count(*) FROM messages");
  g_assert_cmpstr (count, ==, "0");
}

/* A message locked by someone else (another worker mid-delivery) is
 * skipped, not waited for, and taken once the lock goes. */
static void
test_skip_locked (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StStore) other = st_store_new (f->db->conninfo, &error);
  g_autoptr (PGresult) res = NULL;
  gint64 customer = add_customer (f, "fay", NULL);
  gint64 id = enqueue (f, customer, "email", "locked", NULL);

  (void) data;
  start_log (f, log_yaml);
  g_assert_true (st_store_begin (other, &error));
  res = st_store_exec_sql (other, "SELECT id FROM messages FOR UPDATE", 0,
                           NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (run_once (f), ==, 0);
  assert_state (f, id, "pending");
  st_store_rollback (other);
  g_assert_cmpuint (run_once (f), ==, 1);
  assert_state (f, id, "sent");
}

/* Quiet hours */

static void
test_quiet_hours_end (void)
{
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr (GTimeZone) tokyo = g_time_zone_new_identifier ("Asia/Tokyo");
  g_autoptr (GTimeZone) paris = g_time_zone_new_identifier ("Europe/Paris");
  const guint q21 = 21 * 60, q8 = 8 * 60;

  /* A window spanning midnight, evening and morning sides. */
  g_assert_cmpint (st_quiet_hours_end (q21, q8, utc,
                                       utc_usec (2030, 1, 15, 22, 0)),
                   ==, utc_usec (2030, 1, 16, 8, 0));
  g_assert_cmpint (st_quiet_hours_end (q21, q8, utc,
                                       utc_usec (2030, 1, 16, 3, 0)),
                   ==, utc_usec (2030, 1, 16, 8, 0));
  /* Start inclusive, end exclusive. */
  g_assert_cmpint (st_quiet_hours_end (q21, q8, utc,
                                       utc_usec (2030, 1, 15, 21, 0)),
                   ==, utc_usec (2030, 1, 16, 8, 0));
  g_assert_cmpint (st_quiet_hours_end (q21, q8, utc,
                                       utc_usec (2030, 1, 16, 8, 0)), ==, 0);
  g_assert_cmpint (st_quiet_hours_end (q21, q8, utc,
                                       utc_usec (2030, 1, 15, 20, 59)), ==, 0);
  /* Across a month and a year end. */
  g_assert_cmpint (st_quiet_hours_end (q21, q8, utc,
                                       utc_usec (2030, 12, 31, 23, 0)),
                   ==, utc_usec (2031, 1, 1, 8, 0));
  /* A window within one day. */
  g_assert_cmpint (st_quiet_hours_end (12 * 60, 14 * 60, utc,
                                       utc_usec (2030, 1, 15, 13, 30)),
                   ==, utc_usec (2030, 1, 15, 14, 0));
  g_assert_cmpint (st_quiet_hours_end (12 * 60, 14 * 60, utc,
                                       utc_usec (2030, 1, 15, 11, 0)), ==, 0);
  /* In a zone: 23:00 in Tokyo is 14:00 UTC; 08:00 JST is 23:00 UTC. */
  g_assert_cmpint (st_quiet_hours_end (q21, q8, tokyo,
                                       utc_usec (2030, 1, 15, 14, 0)),
                   ==, utc_usec (2030, 1, 15, 23, 0));
  /* DST: Paris springs forward on 2030-03-31; the night starts in CET
   * (21:00 = 20:00 UTC) and ends in CEST (08:00 = 06:00 UTC). */
  g_assert_cmpint (st_quiet_hours_end (q21, q8, paris,
                                       utc_usec (2030, 3, 30, 21, 0)),
                   ==, utc_usec (2030, 3, 31, 6, 0));
  /* ... and falls back on 2030-10-27: 08:00 CET is 07:00 UTC. */
  g_assert_cmpint (st_quiet_hours_end (q21, q8, paris,
                                       utc_usec (2030, 10, 26, 20, 0)),
                   ==, utc_usec (2030, 10, 27, 7, 0));
}

static const char quiet_yaml[] =
    "channels:\n"
    "  \"*\": { plugin: log, path: \"@LOG@\" }\n"
    "quiet_hours: { start: \"21:00\", end: \"08:00\" }\n"
    "default_tz: Asia/Tokyo\n";

/* At 14:00 UTC it is 23:00 in Tokyo (quiet) and 09:00 in New York (not):
 * one waits until 08:00 JST, the other goes. A customer without a zone is
 * in default_tz. */
static void
test_quiet_hours_zones (Fixture *f, gconstpointer data)
{
  gint64 tokyo = add_customer (f, "tokyo", "Asia/Tokyo");
  gint64 york = add_customer (f, "york", "America/New_York");
  gint64 nowhere = add_customer (f, "nowhere", NULL);
  gint64 m_tokyo, m_york, m_nowhere;
  g_autofree char *reason = NULL, *held_state = NULL;
  g_autoptr (GPtrArray) lines = NULL;
  gint64 now = utc_usec (2030, 1, 15, 14, 0);

  (void) data;
  start_log (f, quiet_yaml);
  m_tokyo = enqueue (f, tokyo, "email", "t", NULL);
  m_york = enqueue (f, york, "email", "y", NULL);
  m_nowhere = enqueue (f, nowhere, "sms", "n", NULL);
  st_delivery_set_clock (f->delivery, now);
  g_assert_cmpuint (run_once (f), ==, 3);

  assert_state (f, m_york, "sent");
  assert_state (f, m_tokyo, "pending");
  assert_state (f, m_nowhere, "pending");
  g_assert_cmpint (message_time (f, m_tokyo, "due_at"), ==,
                   utc_usec (2030, 1, 15, 23, 0));
  g_assert_cmpint (message_time (f, m_nowhere, "due_at"), ==,
                   utc_usec (2030, 1, 15, 23, 0));
  reason = message_field (f, m_tokyo, "held_reason");
  g_assert_cmpstr (reason, ==, "quiet hours until 2030-01-16 08:00 Asia/Tokyo");
  held_state = message_field (f, m_tokyo, "attempts");
  g_assert_cmpstr (held_state, ==, "0");

  /* Not yet due a minute before, delivered at the end of the window. */
  st_delivery_set_clock (f->delivery, utc_usec (2030, 1, 15, 22, 59));
  g_assert_cmpuint (run_once (f), ==, 0);
  st_delivery_set_clock (f->delivery, utc_usec (2030, 1, 15, 23, 0));
  g_assert_cmpuint (run_once (f), ==, 2);
  assert_state (f, m_tokyo, "sent");
  assert_state (f, m_nowhere, "sent");
  lines = read_lines (f);
  g_assert_cmpuint (lines->len, ==, 3);
}

/* New York springs forward on 2030-03-10: held at 22:30 EST, the window
 * ends at 08:00 EDT, 12:00 UTC (not 13:00). */
static void
test_quiet_hours_dst (Fixture *f, gconstpointer data)
{
  gint64 york = add_customer (f, "york", "America/New_York");
  gint64 id;
  g_autofree char *reason = NULL;

  (void) data;
  start_log (f, quiet_yaml);
  id = enqueue (f, york, "email", "dst", NULL);
  st_delivery_set_clock (f->delivery, utc_usec (2030, 3, 10, 3, 30));
  g_assert_cmpuint (run_once (f), ==, 1);
  assert_state (f, id, "pending");
  g_assert_cmpint (message_time (f, id, "due_at"), ==,
                   utc_usec (2030, 3, 10, 12, 0));
  reason = message_field (f, id, "held_reason");
  g_assert_cmpstr (reason, ==,
                   "quiet hours until 2030-03-10 08:00 America/New_York");
}

/* quiet_hours.channels limits the channels held. */
static void
test_quiet_hours_channels (Fixture *f, gconstpointer data)
{
  gint64 customer = add_customer (f, "night", "UTC");
  gint64 email, sms;

  (void) data;
  start_log (f, "channels:\n"
                "  \"*\": { plugin: log, path: \"@LOG@\" }\n"
                "quiet_hours:\n"
                "  start: \"21:00\"\n"
                "  end: \"08:00\"\n"
                "  channels: [sms]\n");
  email = enqueue (f, customer, "email", "e", NULL);
  sms = enqueue (f, customer, "sms", "s", NULL);
  st_delivery_set_clock (f->delivery, utc_usec (2030, 1, 15, 23, 0));
  g_assert_cmpuint (run_once (f), ==, 2);
  assert_state (f, email, "sent");
  assert_state (f, sms, "pending");
}

/* Frequency caps */

static void
add_sent (Fixture *f, gint64 customer, const char *channel, const char *key,
          gint64 sent_usec)
{
  g_autofree char *customer_text = g_strdup_printf ("%" G_GINT64_FORMAT,
                                                    customer);
  g_autofree char *sent_text = g_strdup_printf ("%" G_GINT64_FORMAT,
                                                sent_usec);

  exec_sql (f,
            "INSERT INTO messages (customer_id, key, channel, state, attempts,"
            " sent_at) VALUES ($1, $2, $3, 'sent', 1, 'epoch'::timestamptz +"
            " $4::bigint * interval '1 microsecond')",
            4, (const char *[]){ customer_text, key, channel, sent_text });
}

/* Two per day on email: with two sent 20 h and 10 h ago, the next waits
 * until the older leaves the window (in 4 h). Other channels are apart. */
static void
test_caps_defer (Fixture *f, gconstpointer data)
{
  gint64 customer = add_customer (f, "capped", NULL);
  gint64 now = utc_usec (2030, 1, 15, 12, 0);
  gint64 email, sms;
  g_autofree char *reason = NULL;

  (void) data;
  start_log (f, "channels:\n"
                "  \"*\": { plugin: log, path: \"@LOG@\" }\n"
                "caps:\n"
                "  - { channel: email, max: 2, per: 1d }\n");
  add_sent (f, customer, "email", "old1", now - 20 * HOUR_USEC);
  add_sent (f, customer, "email", "old2", now - 10 * HOUR_USEC);
  add_sent (f, customer, "email", "ancient", now - 30 * HOUR_USEC);
  email = enqueue (f, customer, "email", "new", NULL);
  sms = enqueue (f, customer, "sms", "text", NULL);
  st_delivery_set_clock (f->delivery, now);
  g_assert_cmpuint (run_once (f), ==, 2);

  assert_state (f, sms, "sent");
  assert_state (f, email, "pending");
  g_assert_cmpint (message_time (f, email, "due_at"), ==, now + 4 * HOUR_USEC);
  reason = message_field (f, email, "held_reason");
  g_assert_cmpstr (reason, ==, "frequency cap 2 per 1d on email");

  st_delivery_set_clock (f->delivery, now + 4 * HOUR_USEC);
  g_assert_cmpuint (run_once (f), ==, 1);
  assert_state (f, email, "sent");
  g_assert_cmpint (message_time (f, email, "sent_at"), ==,
                   now + 4 * HOUR_USEC);
}

/* "*" caps each channel on its own; suppress ends the message. */
static void
test_caps_suppress (Fixture *f, gconstpointer data)
{
  gint64 customer = add_customer (f, "quiet", NULL);
  gint64 other = add_customer (f, "other", NULL);
  gint64 now = utc_usec (2030, 1, 15, 12, 0);
  gint64 email, sms, other_email;
  g_autofree char *reason = NULL;
  g_autoptr (GPtrArray) lines = NULL;

  (void) data;
  start_log (f, "channels:\n"
                "  \"*\": { plugin: log, path: \"@LOG@\" }\n"
                "caps:\n"
                "  - { channel: \"*\", max: 1, per: 7d, action: suppress }\n");
  add_sent (f, customer, "email", "last-week", now - 24 * HOUR_USEC);
  email = enqueue (f, customer, "email", "again", NULL);
  sms = enqueue (f, customer, "sms", "text", NULL);
  other_email = enqueue (f, other, "email", "again", NULL);
  st_delivery_set_clock (f->delivery, now);
  g_assert_cmpuint (run_once (f), ==, 3);

  assert_state (f, email, "suppressed");
  reason = message_field (f, email, "held_reason");
  g_assert_cmpstr (reason, ==, "frequency cap 1 per 7d on email");
  assert_state (f, sms, "sent");
  assert_state (f, other_email, "sent");
  lines = read_lines (f);
  g_assert_cmpuint (lines->len, ==, 2);
}

/* Retries, dead messages and alerts (the flaky fixture plugin) */

static const char flaky_yaml[] =
    "delivery: { max_attempts: 3, backoff: 10s, max_backoff: 15s }\n"
    "channels:\n"
    "  sms: { plugin: flaky }\n";

static void
test_retry_backoff (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = fixture_plugin_dir ();
  gint64 customer = add_customer (f, "flaky", NULL);
  gint64 now = utc_usec (2030, 1, 15, 12, 0);
  gint64 id, due;
  g_autofree char *attempts = NULL, *last_error = NULL, *alert_count = NULL;
  g_autofree char *attempts2 = NULL, *attempts3 = NULL, *last_error3 = NULL;
  GVariant *alert;

  (void) data;
  start (f, dir, flaky_yaml);
  id = enqueue (f, customer, "sms", "try", "retry");

  st_delivery_set_clock (f->delivery, now);
  g_assert_cmpuint (run_once (f), ==, 1);
  assert_state (f, id, "retry");
  attempts = message_field (f, id, "attempts");
  last_error = message_field (f, id, "last_error");
  g_assert_cmpstr (attempts, ==, "1");
  g_assert_cmpstr (last_error, ==, "flaky says retry");
  /* backoff 10 s ± 20 % */
  due = message_time (f, id, "due_at");
  g_assert_cmpint (due, >=, now + 8 * G_USEC_PER_SEC);
  g_assert_cmpint (due, <=, now + 12 * G_USEC_PER_SEC);
  g_assert_cmpuint (run_once (f), ==, 0); /* not due yet */

  /* Second attempt: 20 s, capped at max_backoff 15 s, ± 20 %. */
  now += HOUR_USEC;
  st_delivery_set_clock (f->delivery, now);
  g_assert_cmpuint (run_once (f), ==, 1);
  attempts2 = message_field (f, id, "attempts");
  g_assert_cmpstr (attempts2, ==, "2");
  due = message_time (f, id, "due_at");
  g_assert_cmpint (due, >=, now + 12 * G_USEC_PER_SEC);
  g_assert_cmpint (due, <=, now + 18 * G_USEC_PER_SEC);
  g_assert_cmpuint (f->alerts->len, ==, 0);

  /* Third and last attempt: dead, with an alert. */
  now += HOUR_USEC;
  st_delivery_set_clock (f->delivery, now);
  g_assert_cmpuint (run_once (f), ==, 1);
  assert_state (f, id, "dead");
  attempts3 = message_field (f, id, "attempts");
  last_error3 = message_field (f, id, "last_error");
  g_assert_cmpstr (attempts3, ==, "3");
  g_assert_cmpstr (last_error3, ==,
                   "flaky says retry (gave up after 3 attempts)");
  g_assert_cmpuint (f->alerts->len, ==, 1);
  alert = g_ptr_array_index (f->alerts, 0);
  g_assert_cmpstr (alert_string (alert, "kind"), ==, "delivery_failed");
  g_assert_cmpstr (alert_string (alert, "severity"), ==, "warning");
  g_assert_cmpstr (alert_string (alert, "source"), ==, "core");
  g_assert_cmpstr (alert_string (alert, "message"), ==,
                   "sms message try could not be delivered: flaky says retry "
                   "(gave up after 3 attempts)");
  alert_count = query (f, "SELECT count(*) FROM alerts WHERE kind ="
                       " 'delivery_failed' AND state = 'open' AND customer_id"
                       " = %" G_GINT64_FORMAT, customer);
  g_assert_cmpstr (alert_count, ==, "1");
  g_assert_cmpuint (run_once (f), ==, 0);
}

/* A permanent failure is dead at once; the alert carries the details. */
static void
test_failed_dead (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = fixture_plugin_dir ();
  gint64 customer = add_customer (f, "broken", NULL);
  gint64 id;
  g_autofree char *attempts = NULL, *last_error = NULL, *key = NULL;
  g_autofree char *expected_key = NULL;
  gint64 alert_customer = 0;
  GVariant *alert;

  (void) data;
  start (f, dir, "channels:\n"
                 "  sms: { plugin: flaky, detail: \"number 555 does not "
                 "exist\" }\n");
  id = enqueue (f, customer, "sms", "bad", "failed");
  g_assert_cmpuint (run_once (f), ==, 1);
  assert_state (f, id, "dead");
  attempts = message_field (f, id, "attempts");
  last_error = message_field (f, id, "last_error");
  g_assert_cmpstr (attempts, ==, "1");
  g_assert_cmpstr (last_error, ==, "number 555 does not exist");
  g_assert_cmpuint (f->alerts->len, ==, 1);
  alert = g_ptr_array_index (f->alerts, 0);
  g_assert_cmpstr (alert_string (alert, "message"), ==,
                   "sms message bad could not be delivered: number 555 does "
                   "not exist");
  g_assert_true (g_variant_lookup (alert, "customer_id", "x", &alert_customer));
  g_assert_cmpint (alert_customer, ==, customer);
  key = query (f, "SELECT data->>'key' || '/' || (data->>'message_id') FROM"
               " alerts");
  expected_key = g_strdup_printf ("bad/%" G_GINT64_FORMAT, id);
  g_assert_cmpstr (key, ==, expected_key);
}

/* A plugin answering something outside the enum: a temporary failure. */
static void
test_bogus_result (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = fixture_plugin_dir ();
  gint64 customer = add_customer (f, "bogus", NULL);
  gint64 id;
  g_autofree char *last_error = NULL;

  (void) data;
  start (f, dir, flaky_yaml);
  id = enqueue (f, customer, "sms", "odd", "bogus");
  g_assert_cmpuint (run_once (f), ==, 1);
  assert_state (f, id, "retry");
  last_error = message_field (f, id, "last_error");
  g_assert_nonnull (strstr (last_error, "returned 42"));
}

/* No entry for the channel and no "*": dead with an alert, at once. */
static void
test_unknown_channel (Fixture *f, gconstpointer data)
{
  gint64 customer = add_customer (f, "lost", NULL);
  gint64 id;
  g_autofree char *last_error = NULL, *attempts = NULL;
  GVariant *alert;

  (void) data;
  start_log (f, log_yaml);
  id = enqueue (f, customer, "sms", "nowhere", NULL);
  g_assert_cmpuint (run_once (f), ==, 1);
  assert_state (f, id, "dead");
  last_error = message_field (f, id, "last_error");
  attempts = message_field (f, id, "attempts");
  g_assert_true (g_str_has_prefix (last_error,
                                   "no channel sms is configured"));
  g_assert_cmpstr (attempts, ==, "0");
  g_assert_cmpuint (f->alerts->len, ==, 1);
  alert = g_ptr_array_index (f->alerts, 0);
  g_assert_true (g_str_has_prefix (alert_string (alert, "message"),
                                   "sms message nowhere could not be "
                                   "delivered: no channel sms is configured"));
}

/* Plugins: loading and opening */

static void
test_plugin_abi_mismatch (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = fixture_plugin_dir ();
  g_autoptr (GError) error = start_fails (
      f, dir, "channels:\n  sms: { plugin: badabi }\n");
  g_autofree char *expected = g_strdup_printf (
      "was built for channel ABI version %d, but this stewardd speaks "
      "version %d", ST_CHANNEL_ABI_VERSION + 1, ST_CHANNEL_ABI_VERSION);

  (void) data;
  g_assert_error (error, ST_ERROR, ST_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (error->message,
                                   "channel 'sms' (plugin badabi): "));
  g_assert_nonnull (strstr (error->message, expected));
}

static void
test_plugin_not_found (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = log_plugin_dir ();
  g_autoptr (GError) error = start_fails (
      f, dir, "channels:\n  email: { plugin: nope }\n");
  g_autofree char *flat = g_build_filename (dir, "libnope.so", NULL);
  g_autofree char *nested = g_build_filename (dir, "nope", "libnope.so",
                                              NULL);

  (void) data;
  g_assert_error (error, ST_ERROR, ST_ERROR_NOT_FOUND);
  g_assert_true (g_str_has_prefix (error->message,
                                   "channel 'email' (plugin nope): "
                                   "no channel plugin 'nope'"));
  g_assert_nonnull (strstr (error->message, flat));
  g_assert_nonnull (strstr (error->message, nested));
  g_assert_nonnull (strstr (error->message, "plugin_dir"));
}

static void
test_plugin_no_symbol (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = fixture_plugin_dir ();
  g_autoptr (GError) error = start_fails (
      f, dir, "channels:\n  sms: { plugin: nosym }\n");

  (void) data;
  g_assert_error (error, ST_ERROR, ST_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "libnosym.so is not a channel "
                                            "plugin"));
  g_assert_nonnull (strstr (error->message, "steward_channel_plugin"));
}

/* A plugin that refuses its settings stops the start, naming the channel. */
static void
test_plugin_open_fails (Fixture *f, gconstpointer data)
{
  g_autofree char *fixtures = fixture_plugin_dir ();
  g_autofree char *logs = log_plugin_dir ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) no_path = NULL;
  g_autoptr (GError) unknown = NULL;

  (void) data;
  error = start_fails (f, fixtures,
                       "channels:\n  sms: { plugin: flaky, open: fail }\n");
  g_assert_cmpstr (error->message, ==,
                   "channel 'sms' (plugin flaky): asked to fail");
  no_path = start_fails (f, logs, "channels:\n  email: { plugin: log }\n");
  g_assert_true (g_str_has_prefix (no_path->message,
                                   "channel 'email' (plugin log): the log "
                                   "plugin needs 'path'"));
  unknown = start_fails (f, logs, "channels:\n  email: { plugin: log, path: "
                                  "/tmp/x.jsonl, fsynk: true }\n");
  g_assert_nonnull (strstr (unknown->message, "unknown setting 'fsynk'"));
}

/* One module, two instances with their own settings. */
static void
test_plugin_two_channels (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = log_plugin_dir ();
  g_autofree char *other = g_build_filename (f->dir, "other.jsonl", NULL);
  g_autofree char *yaml = g_strdup_printf (
      "channels:\n"
      "  email: { plugin: log, path: \"@LOG@\" }\n"
      "  sms: { plugin: log, path: \"%s\", fsync: true }\n", other);
  gint64 customer = add_customer (f, "two", NULL);
  g_autofree char *text = NULL;

  (void) data;
  start (f, dir, yaml);
  enqueue (f, customer, "email", "a", NULL);
  enqueue (f, customer, "sms", "b", NULL);
  g_assert_cmpuint (run_once (f), ==, 2);
  g_assert_true (g_file_get_contents (other, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "\"key\":\"b\""));
  g_assert_null (strstr (text, "\"key\":\"a\""));
  g_clear_pointer (&text, g_free);
  g_assert_true (g_file_get_contents (f->log_path, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "\"key\":\"a\""));
}

static void
test_plugin_default_dir (void)
{
  g_autofree char *saved = g_strdup (g_getenv ("STEWARD_PLUGIN_DIR"));

  g_setenv ("STEWARD_PLUGIN_DIR", "/somewhere/plugins", TRUE);
  g_assert_cmpstr (st_plugins_default_dir (), ==, "/somewhere/plugins");
  g_setenv ("STEWARD_PLUGIN_DIR", "", TRUE);
  g_assert_true (g_str_has_suffix (st_plugins_default_dir (),
                                   "/steward/plugins"));
  g_assert_true (g_path_is_absolute (st_plugins_default_dir ()));
  if (saved != NULL)
    g_setenv ("STEWARD_PLUGIN_DIR", saved, TRUE);
  else
    g_unsetenv ("STEWARD_PLUGIN_DIR");
}

/* Threads */

static gboolean
wait_for_count (Fixture *f, const char *sql, const char *expected,
                gint64 timeout_ms)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      g_autofree char *value = st_test_db_query (f->db, sql);
      if (g_strcmp0 (value, expected) == 0)
        return TRUE;
      g_usleep (10 * 1000);
    }
  return FALSE;
}

/* 4 workers, 200 messages over two plugins (log: thread-safe; flaky:
 * serialised by the core, and asserting it): each delivered exactly once. */
static void
test_concurrent (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = mixed_plugin_dir (f);
  g_autofree char *count_path = g_build_filename (f->dir, "flaky.txt", NULL);
  g_autofree char *yaml = g_strdup_printf (
      "delivery: { workers: 4 }\n"
      "channels:\n"
      "  email: { plugin: log, path: \"@LOG@\" }\n"
      "  sms: { plugin: flaky, count: \"%s\" }\n", count_path);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash,
                                                       g_str_equal, g_free,
                                                       NULL);
  g_autoptr (GPtrArray) lines = NULL;
  g_autofree char *counted = NULL;
  g_auto (GStrv) flaky_lines = NULL;
  gint64 customers[10];

  (void) data;
  for (guint i = 0; i < G_N_ELEMENTS (customers); i++)
    {
      g_autofree char *name = g_strdup_printf ("c%u", i);
      customers[i] = add_customer (f, name, NULL);
    }
  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *key = g_strdup_printf ("k%u", i);
      enqueue (f, customers[i % 10], i < 150 ? "email" : "sms", key, NULL);
    }
  start (f, dir, yaml);
  st_delivery_start (f->delivery);
  g_assert_true (wait_for_count (f, "SELECT count(*) FROM messages WHERE"
                                    " state = 'sent'", "200", 60000));
  g_clear_pointer (&f->delivery, st_delivery_free);

  lines = read_lines (f);
  g_assert_cmpuint (lines->len, ==, 150);
  for (guint i = 0; i < lines->len; i++)
    {
      JsonObject *line = g_ptr_array_index (lines, i);
      g_autofree char *id = g_strdup_printf (
          "%" G_GINT64_FORMAT, json_object_get_int_member (line, "message_id"));
      g_assert_true (g_hash_table_add (seen, g_steal_pointer (&id)));
    }
  g_assert_true (g_file_get_contents (count_path, &counted, NULL, NULL));
  flaky_lines = g_strsplit (g_strchomp (counted), "\n", -1);
  g_assert_cmpuint (g_strv_length (flaky_lines), ==, 50);
  for (guint i = 0; flaky_lines[i] != NULL; i++)
    g_assert_true (g_hash_table_add (seen, g_strdup (flaky_lines[i])));
}

/* A retry that comes due is picked up by idle workers without a NOTIFY. */
static void
test_worker_retry_due (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = mixed_plugin_dir (f);
  gint64 customer = add_customer (f, "later", NULL);
  gint64 id;

  (void) data;
  start (f, dir, "delivery: { backoff: 200ms, max_attempts: 2 }\n"
                 "channels:\n  sms: { plugin: flaky }\n");
  id = enqueue (f, customer, "sms", "r", "retry");
  st_delivery_start (f->delivery);
  g_assert_true (wait_for_count (f, "SELECT state FROM messages", "dead",
                                 5000));
  /* The sink hears of the alert just after the commit that made it. */
  for (int i = 0; i < 500 && alerts_len (f) == 0; i++)
    g_usleep (10 * 1000);
  g_assert_cmpuint (alerts_len (f), ==, 1);
  assert_state (f, id, "dead");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) \
  g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

  ADD ("/outbox/deliver/log", test_deliver_log);
  ADD ("/outbox/deliver/minimal", test_deliver_minimal);
  ADD ("/outbox/enqueue/idempotent", test_enqueue_idempotent);
  ADD ("/outbox/enqueue/transaction", test_enqueue_transaction);
  ADD ("/outbox/enqueue/customer-deleted", test_enqueue_customer_deleted);
  ADD ("/outbox/deliver/skip-locked", test_skip_locked);
  g_test_add_func ("/outbox/quiet-hours/end", test_quiet_hours_end);
  ADD ("/outbox/quiet-hours/zones", test_quiet_hours_zones);
  ADD ("/outbox/quiet-hours/dst", test_quiet_hours_dst);
  ADD ("/outbox/quiet-hours/channels", test_quiet_hours_channels);
  ADD ("/outbox/caps/defer", test_caps_defer);
  ADD ("/outbox/caps/suppress", test_caps_suppress);
  ADD ("/outbox/retry/backoff", test_retry_backoff);
  ADD ("/outbox/retry/bogus-result", test_bogus_result);
  ADD ("/outbox/dead/failed", test_failed_dead);
  ADD ("/outbox/dead/unknown-channel", test_unknown_channel);
  ADD ("/outbox/plugins/abi-mismatch", test_plugin_abi_mismatch);
  ADD ("/outbox/plugins/not-found", test_plugin_not_found);
  ADD ("/outbox/plugins/no-symbol", test_plugin_no_symbol);
  ADD ("/outbox/plugins/open-fails", test_plugin_open_fails);
  ADD ("/outbox/plugins/two-channels", test_plugin_two_channels);
  g_test_add_func ("/outbox/plugins/default-dir", test_plugin_default_dir);
  ADD ("/outbox/workers/concurrent", test_concurrent);
  ADD ("/outbox/workers/retry-due", test_worker_retry_due);

  return g_test_run ();
}
