/* Scheduled campaigns end to end: the real stewardd (one, or two on the
 * same database), campaign scripts written by the test, customers made
 * with SQL, runs followed through D-Bus signals and checked in the
 * database: every target exactly once, none outside the audience, dry runs
 * writing nothing, kill -9 in the middle of a run, the scheduler's leader
 * and catch-up, local time zone by zone. And the schedule's pure parts:
 * which occurrences are due, across DST. */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "st-campaign-schedule.h"
#include "st-config.h"
#include "st-error.h"
#include "st-service.h"
#include "st-test-util.h"

#define RUN_IFACE "org.steward.Steward1.Run"

/* A second daemon on the same database, on a bus of its own (one bus has
 * one owner of the name). */
typedef struct {
  GTestDBus *bus;
  GDBusConnection *connection;
  GSubprocess *process;
  char *log_path;
} Peer;

typedef struct {
  StTestDaemon *daemon;
  char *dir;          /* scripts/ and the messages file */
  char *scripts;
  Peer *peer;
  GHashTable *finished; /* run path → final state, from Finished signals */
  GHashTable *progress; /* run path → number of Progress signals */
  guint subscription;
} Fixture;

/* Scripts ------------------------------------------------------------------ */

static const char newsletter_script[] =
  "return {\n"
  "  name = 'newsletter',\n"
  "  description = 'News for active VIPs',\n"
  "  schedule = '0 9 1 * *',\n"
  "  audience = { stage = 'active', tags = { 'vip' } },\n"
  "  run = function(customer, event)\n"
  "    if customer.name == 'bad' then error('boom for ' .. customer.id) end\n"
  "    if customer.attrs and customer.attrs.spin then\n"
  "      for i = 1, tonumber(customer.attrs.spin) do end\n"
  "    end\n"
  "    if customer.attrs and customer.attrs.say then\n"
  "      steward.log('warning', 'target ' .. customer.id)\n"
  "    end\n"
  "    steward.send{ customer = customer, channel = 'email',\n"
  "                  key = event.key, subject = 'News',\n"
  "                  body = 'Hello ' .. customer.name }\n"
  "    if customer.attrs and customer.attrs.tag then\n"
  "      steward.tag(customer, 'newsletter-sent')\n"
  "    end\n"
  "  end,\n"
  "}\n";

static const char morning_script[] =
  "return {\n"
  "  name = 'morning',\n"
  "  schedule = '0 9 * * *',\n"
  "  local_time = true,\n"
  "  audience = { all = true },\n"
  "  run = function(customer, event)\n"
  "    steward.send{ customer = customer, channel = 'sms', key = event.key,\n"
  "                  body = 'Good morning from ' .. (event.zone or '?') }\n"
  "  end,\n"
  "}\n";

static const char daily_script[] =
  "return {\n"
  "  name = 'daily',\n"
  "  schedule = '30 4 * * *',\n"
  "  audience = { stage = 'active' },\n"
  "  run = function(customer, event)\n"
  "    steward.send{ customer = customer, channel = 'email', key = event.key,\n"
  "                  body = 'daily' }\n"
  "  end,\n"
  "}\n";

/* The customer table a script gets, written out whole (keys sorted, each
 * value with its Lua type), and a template reading several of its
 * columns: a campaign gets its customer from a result row, a trigger from
 * a record, and both must see the same. */
#define DUMP_LUA                                                             \
  "local function dump(v)\n"                                                 \
  "  if type(v) == 'number' then return math.type(v) .. ':' .. v end\n"      \
  "  if type(v) ~= 'table' then return type(v) .. ':' .. tostring(v) end\n"  \
  "  local keys, out = {}, {}\n"                                             \
  "  for k in pairs(v) do keys[#keys + 1] = k end\n"                         \
  "  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)\n"\
  "  for _, k in ipairs(keys) do\n"                                          \
  "    out[#out + 1] = tostring(k) .. '=' .. dump(v[k])\n"                   \
  "  end\n"                                                                  \
  "  return '{' .. table.concat(out, ',') .. '}'\n"                          \
  "end\n"

#define DUMP_SEND(key)                                                       \
  "    steward.send{ customer = customer, channel = 'email',\n"              \
  "                  key = '" key "', template = 'dump',\n"                  \
  "                  data = { dump = dump(customer),\n"                    \
  "                           event = dump(event) } }\n"

static const char dump_campaign_script[] =
  DUMP_LUA
  "return {\n"
  "  name = 'dump_campaign',\n"
  "  schedule = '0 9 1 * *',\n"
  "  audience = { tags = { 'dump' } },\n"
  "  run = function(customer, event)\n"
  DUMP_SEND ("dump:campaign")
  "  end,\n"
  "}\n";

static const char dump_trigger_script[] =
  DUMP_LUA
  "return {\n"
  "  name = 'dump_trigger',\n"
  "  on = { 'ping' },\n"
  "  run = function(customer, event)\n"
  DUMP_SEND ("dump:trigger")
  "  end,\n"
  "}\n";

static const char dump_template[] =
  "Subject: For {{customer.name}}\n"
  "\n"
  "{{data.dump}}\n"
  "{{customer.name}}|{{customer.email}}|{{customer.tags}}|"
  "{{customer.attrs.plan}}|{{customer.attrs.nested.n}}|"
  "{{customer.revenue}}|{{customer.purchase_count}}|"
  "{{customer.created_at}}|{{customer.health_factors.recency}}\n";

/* Fixture ------------------------------------------------------------------ */

static void
on_run_signal (GDBusConnection *connection, const char *sender,
               const char *path, const char *interface, const char *signal,
               GVariant *params, gpointer user_data)
{
  Fixture *fx = user_data;

  (void) connection, (void) sender, (void) interface;
  if (g_str_equal (signal, "Finished"))
    {
      const char *state;
      g_variant_get (params, "(&s)", &state);
      g_hash_table_replace (fx->finished, g_strdup (path), g_strdup (state));
    }
  else if (g_str_equal (signal, "Progress"))
    {
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (fx->progress, path));
      g_hash_table_replace (fx->progress, g_strdup (path),
                            GUINT_TO_POINTER (n + 1));
    }
}

static char *
daemon_yaml (Fixture *fx, const char *campaigns)
{
  g_autofree char *plugins = st_test_build_path ("plugins");

  return g_strdup_printf (
      "scripts: [%s]\n"
      "plugin_dir: %s\n"
      "care: { workers: 1 }\n"
      "delivery: { workers: 1 }\n"
      "lua: { timeout: 60s, instructions: 100000000000 }\n"
      "campaigns: { %s }\n"
      "channels:\n"
      "  \"*\": { plugin: log, path: %s/messages.jsonl }\n",
      fx->scripts, plugins, campaigns ? campaigns : "check_interval: 200ms",
      fx->dir);
}

static void
write_script (Fixture *fx, const char *name, const char *source)
{
  g_autofree char *file = g_strdup_printf ("%s/%s.lua", fx->scripts, name);
  g_autoptr (GError) error = NULL;

  g_file_set_contents (file, source, -1, &error);
  g_assert_no_error (error);
}

/* @scripts: name, source, name, source..., NULL. */
static void
fixture_start (Fixture *fx, const char *campaigns, ...)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *yaml = NULL;
  va_list ap;

  memset (fx, 0, sizeof *fx);
  fx->dir = g_dir_make_tmp ("steward-campaigns-XXXXXX", &error);
  g_assert_no_error (error);
  fx->scripts = g_build_filename (fx->dir, "scripts", NULL);
  g_assert_cmpint (g_mkdir (fx->scripts, 0700), ==, 0);
  va_start (ap, campaigns);
  for (const char *name = va_arg (ap, const char *); name != NULL;
       name = va_arg (ap, const char *))
    write_script (fx, name, va_arg (ap, const char *));
  va_end (ap);
  yaml = daemon_yaml (fx, campaigns);
  fx->daemon = st_test_daemon_start (yaml);
  fx->finished = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        g_free);
  fx->progress = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        NULL);
  fx->subscription = g_dbus_connection_signal_subscribe (
      fx->daemon->connection, NULL, RUN_IFACE, NULL, NULL, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_run_signal, fx, NULL);
}

static void
assert_log_clean (const char *log_path)
{
  g_autofree char *log = NULL;

  if (g_file_get_contents (log_path, &log, NULL, NULL)
      && st_test_log_has_problem (log))
    g_test_fail_printf ("stewardd reported a problem in its log:\n%s", log);
}

static void
peer_free (Peer *peer)
{
  if (peer == NULL)
    return;
  if (peer->process != NULL)
    {
      g_subprocess_send_signal (peer->process, SIGTERM);
      g_subprocess_wait (peer->process, NULL, NULL);
      g_clear_object (&peer->process);
    }
  assert_log_clean (peer->log_path);
  g_clear_object (&peer->connection);
  g_test_dbus_down (peer->bus);
  g_clear_object (&peer->bus);
  g_unlink (peer->log_path);
  g_free (peer->log_path);
  g_free (peer);
}

static void
fixture_stop (Fixture *fx)
{
  peer_free (g_steal_pointer (&fx->peer));
  g_dbus_connection_signal_unsubscribe (fx->daemon->connection,
                                        fx->subscription);
  if (fx->daemon->process != NULL)
    {
      g_autoptr (GSubprocess) process = g_object_ref (fx->daemon->process);

      st_test_daemon_stop_process (fx->daemon);
      assert_log_clean (fx->daemon->log_path);
      g_assert_true (g_subprocess_get_if_exited (process));
      g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
    }
  else
    assert_log_clean (fx->daemon->log_path);
  st_test_daemon_free (fx->daemon);
  st_test_remove_tree (fx->dir);
  g_free (fx->dir);
  g_free (fx->scripts);
  g_hash_table_unref (fx->finished);
  g_hash_table_unref (fx->progress);
}

/* A second stewardd on the fixture's database and scripts. */
static Peer *
peer_start (Fixture *fx)
{
  Peer *peer = g_new0 (Peer, 1);

  peer->log_path = g_build_filename (fx->dir, "peer.log", NULL);
  peer->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (peer->bus);
  peer->connection = st_test_bus_connect (peer->bus);
  peer->process = st_test_spawn_stewardd (
      fx->daemon->db->conninfo, peer->bus, fx->daemon->config_path,
      peer->log_path, G_SUBPROCESS_FLAGS_NONE, st_test_die_with_parent);
  st_test_wait_for_name (peer->connection, peer->process, peer->log_path);
  return peer;
}

/* Helpers -------------------------------------------------------------------- */

static void
db_exec (Fixture *fx, const char *sql)
{
  PGconn *conn = PQconnectdb (fx->daemon->db->conninfo);
  PGresult *res;

  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  res = PQexec (conn, sql);
  if (PQresultStatus (res) != PGRES_COMMAND_OK
      && PQresultStatus (res) != PGRES_TUPLES_OK)
    g_error ("%s: %s", sql, PQerrorMessage (conn));
  PQclear (res);
  PQfinish (conn);
}

static gint64
db_int (Fixture *fx, const char *format, ...)
{
  g_autofree char *sql = NULL;
  va_list ap;

  va_start (ap, format);
  sql = g_strdup_vprintf (format, ap);
  va_end (ap);
  return st_test_db_query_int (fx->daemon->db, sql);
}

/* @n customers named PREFIX1..n in @stage with @tags (SQL array text),
 * zone @tz (NULL: none) and attrs (JSON). */
static void
add_customers (Fixture *fx, const char *prefix, guint n, const char *stage,
               const char *tags, const char *tz, const char *attrs)
{
  g_autofree char *zone = tz ? g_strdup_printf ("'%s'", tz)
                             : g_strdup ("NULL");
  g_autofree char *sql = g_strdup_printf (
      "INSERT INTO customers (name, email, stage, tags, tz, attrs)"
      " SELECT '%s' || g, '%s' || g || '@example.com', '%s', '%s', %s, '%s'"
      " FROM generate_series(1, %u) g",
      prefix, prefix, stage, tags, zone, attrs ? attrs : "{}", n);

  db_exec (fx, sql);
}

static GVariant *
call (Fixture *fx, const char *method, GVariant *params, GError **error)
{
  return st_test_daemon_call (fx->daemon, "Campaigns", method, params, error);
}

static char *
run_campaign (Fixture *fx, const char *name, const char *options)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) opts = g_variant_parse (G_VARIANT_TYPE_VARDICT,
                                               options ? options : "{}",
                                               NULL, NULL, NULL);
  g_autoptr (GVariant) reply = NULL;
  char *path;

  g_assert_nonnull (opts);
  reply = call (fx, "Run", g_variant_new ("(s@a{sv})", name, opts), &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(o)", &path);
  return path;
}

static GVariant *
run_properties (GDBusConnection *connection, const char *path,
                GError **error)
{
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
      connection, ST_BUS_NAME, path, "org.freedesktop.DBus.Properties",
      "GetAll", g_variant_new ("(s)", RUN_IFACE), G_VARIANT_TYPE ("(a{sv})"),
      G_DBUS_CALL_FLAGS_NONE, 30000, NULL, error);

  return reply ? g_variant_get_child_value (reply, 0) : NULL;
}

static GVariant *
run_props (Fixture *fx, const char *path)
{
  g_autoptr (GError) error = NULL;
  GVariant *props = run_properties (fx->daemon->connection, path, &error);

  g_assert_no_error (error);
  return props;
}

static gint64
prop_int (GVariant *props, const char *name)
{
  return st_test_rec_int64 (props, name);
}

/* Wait for the run's Finished signal (60 s at most); its state. */
static const char *
wait_finished (Fixture *fx, const char *path)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;

  while (!g_hash_table_contains (fx->finished, path))
    {
      if (g_get_monotonic_time () > deadline)
        {
          g_autofree char *log = NULL;
          g_file_get_contents (fx->daemon->log_path, &log, NULL, NULL);
          g_error ("no Finished signal for %s; the daemon's log:\n%s", path,
                   log ? log : "");
        }
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000);
    }
  return g_hash_table_lookup (fx->finished, path);
}

static gint64
path_id (const char *path)
{
  return g_ascii_strtoll (strrchr (path, '/') + 1, NULL, 10);
}

/* Wait until the SQL query gives a non-zero count. */
static void
wait_for (Fixture *fx, const char *what, const char *sql)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;

  while (st_test_db_query_int (fx->daemon->db, sql) == 0)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out waiting for %s (%s)", what, sql);
      g_usleep (50 * 1000);
    }
}

/* Every customer of the audience has exactly one message and one
 * run_target of run @run; no one else has any. */
static void
assert_exactly_once (Fixture *fx, gint64 run, const char *audience_sql,
                     gint64 expected)
{
  g_assert_cmpint (db_int (fx, "SELECT count(*) FROM run_targets WHERE "
                               "run_id = %" G_GINT64_FORMAT, run),
                   ==, expected);
  g_assert_cmpint (db_int (fx, "SELECT count(DISTINCT customer_id) FROM "
                               "run_targets WHERE run_id = %" G_GINT64_FORMAT
                               " AND customer_id IN (%s)", run, audience_sql),
                   ==, expected);
  g_assert_cmpint (db_int (fx, "SELECT count(*) FROM messages WHERE key = "
                               "(SELECT 'campaign:' || campaign || ':' || "
                               "to_char(occurrence AT TIME ZONE 'UTC', "
                               "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM "
                               "campaign_runs WHERE id = %" G_GINT64_FORMAT
                               ")", run),
                   ==, expected);
  g_assert_cmpint (db_int (fx, "SELECT count(*) FROM (SELECT customer_id FROM "
                               "messages GROUP BY customer_id, key HAVING "
                               "count(*) > 1) d"),
                   ==, 0);
  g_assert_cmpint (db_int (fx, "SELECT count(*) FROM (%s) a WHERE NOT EXISTS "
                               "(SELECT 1 FROM messages m WHERE "
                               "m.customer_id = a.id)", audience_sql),
                   ==, 0);
}

#define VIP_ACTIVE "SELECT id FROM customers WHERE stage = 'active' AND " \
                   "tags @> '{vip}'"

/* Runs ------------------------------------------------------------------------ */

static void
test_run (void)
{
  Fixture fx;
  g_autofree char *path = NULL;
  g_autoptr (GVariant) props = NULL, runs = NULL, run = NULL;
  g_autoptr (GError) error = NULL;
  gint64 id;

  fixture_start (&fx, NULL, "newsletter", newsletter_script, NULL);
  add_customers (&fx, "vip", 20, "active", "{vip}", NULL, NULL);
  add_customers (&fx, "plain", 5, "active", "{}", NULL, NULL);
  add_customers (&fx, "lead", 5, "lead", "{vip}", NULL, NULL);

  path = run_campaign (&fx, "newsletter", NULL);
  id = path_id (path);
  g_assert_true (g_str_has_prefix (path, "/org/steward/Steward1/runs/"));
  g_assert_cmpstr (wait_finished (&fx, path), ==, "done");
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (fx.progress, path)),
                    >=, 1);

  props = run_props (&fx, path);
  g_assert_cmpint (prop_int (props, "Id"), ==, id);
  g_assert_cmpstr (st_test_rec_str (props, "Campaign"), ==, "newsletter");
  g_assert_cmpstr (st_test_rec_str (props, "State"), ==, "done");
  g_assert_false (st_test_rec_bool (props, "DryRun"));
  g_assert_cmpint (prop_int (props, "Total"), ==, 20);
  g_assert_cmpint (prop_int (props, "Done"), ==, 20);
  g_assert_cmpint (prop_int (props, "Sent"), ==, 20);
  g_assert_cmpint (prop_int (props, "Skipped"), ==, 0);
  g_assert_cmpint (prop_int (props, "Failed"), ==, 0);
  assert_exactly_once (&fx, id, VIP_ACTIVE, 20);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM run_targets WHERE "
                                "state = 'sent'"), ==, 20);
  /* The batches go with the run. */
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM run_batches"), ==, 0);

  /* Runs lists it with its path; an unknown run is NotFound. */
  runs = st_test_bus_call_ok (fx.daemon->connection, "Campaigns", "Runs",
                              g_variant_new ("(su)", "newsletter", 0));
  g_assert_cmpuint (g_variant_n_children (runs), ==, 1);
  run = g_variant_get_child_value (runs, 0);
  g_assert_cmpstr (st_test_rec_str (run, "path"), ==, path);
  g_assert_cmpstr (st_test_rec_str (run, "state"), ==, "done");
  /* In the columns' order, id first and the path last. */
  {
    g_autoptr (GVariant) first = g_variant_get_child_value (run, 0);
    g_autoptr (GVariant) last = g_variant_get_child_value (
        run, g_variant_n_children (run) - 1);
    const char *key;

    g_variant_get_child (first, 0, "&s", &key);
    g_assert_cmpstr (key, ==, "id");
    g_variant_get_child (last, 0, "&s", &key);
    g_assert_cmpstr (key, ==, "path");
  }
  g_assert_null (run_properties (fx.daemon->connection,
                                 "/org/steward/Steward1/runs/999999", &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Unknown campaigns and options are refused. */
  g_assert_null (call (&fx, "Run", g_variant_new_parsed ("('nope', @a{sv} {})"),
                       &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (call (&fx, "Run",
                       g_variant_new_parsed ("('newsletter', {'dry': <true>})"),
                       &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);

  /* run_targets and messages have no foreign keys: deleting a customer,
   * then the run, deletes their targets and messages all the same
   * (migrations 6 and 8's triggers). */
  db_exec (&fx, "DELETE FROM customers WHERE id = (SELECT min(id) FROM "
                "customers WHERE tags @> '{vip}' AND stage = 'active')");
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM run_targets"), ==, 19);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages"), ==, 19);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages m WHERE "
                                "NOT EXISTS (SELECT 1 FROM customers c "
                                "WHERE c.id = m.customer_id)"), ==, 0);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM run_targets t WHERE "
                                "NOT EXISTS (SELECT 1 FROM customers c "
                                "WHERE c.id = t.customer_id)"), ==, 0);
  db_exec (&fx, "DELETE FROM campaign_runs");
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM run_targets"), ==, 0);
  fixture_stop (&fx);
}

static void
test_dry_run (void)
{
  Fixture fx;
  g_autofree char *path = NULL;
  g_autoptr (GVariant) props = NULL, summary = NULL, actions = NULL;
  g_autoptr (GVariant) channels = NULL, samples = NULL, sample = NULL;
  g_autoptr (GVariant) first = NULL;
  gint64 messages, targets, alerts, tagged;

  fixture_start (&fx, NULL, "newsletter", newsletter_script, NULL);
  add_customers (&fx, "vip", 12, "active", "{vip}", NULL, "{\"tag\": true}");
  add_customers (&fx, "plain", 3, "active", "{}", NULL, NULL);
  messages = db_int (&fx, "SELECT count(*) FROM messages");
  targets = db_int (&fx, "SELECT count(*) FROM run_targets");
  alerts = db_int (&fx, "SELECT count(*) FROM alerts");
  tagged = db_int (&fx, "SELECT count(*) FROM customers WHERE "
                        "tags @> '{newsletter-sent}'");

  path = run_campaign (&fx, "newsletter", "{'dry_run': <true>}");
  g_assert_cmpstr (wait_finished (&fx, path), ==, "done");
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages"), ==, messages);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM run_targets"), ==,
                   targets);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM alerts"), ==, alerts);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM customers WHERE "
                                "tags @> '{newsletter-sent}'"), ==, tagged);

  props = run_props (&fx, path);
  g_assert_true (st_test_rec_bool (props, "DryRun"));
  g_assert_cmpint (prop_int (props, "Total"), ==, 12);
  g_assert_cmpint (prop_int (props, "Sent"), ==, 12);
  summary = st_test_rec_lookup (props, "Summary", "a{sv}");
  actions = st_test_rec_lookup (summary, "actions", "a{sv}");
  g_assert_cmpint (st_test_rec_int64 (actions, "send"), ==, 12);
  g_assert_cmpint (st_test_rec_int64 (actions, "tag"), ==, 12);
  channels = st_test_rec_lookup (summary, "channels", "a{sv}");
  g_assert_cmpint (st_test_rec_int64 (channels, "email"), ==, 12);
  samples = st_test_rec_lookup (summary, "samples", "av");
  g_assert_cmpuint (g_variant_n_children (samples), ==, 5);
  first = g_variant_get_child_value (samples, 0);
  sample = g_variant_get_variant (first);
  g_assert_cmpstr (st_test_rec_str (sample, "action"), ==, "send");
  g_assert_cmpstr (st_test_rec_str (sample, "subject"), ==, "News");
  st_test_assert_contains (st_test_rec_str (sample, "body"), "Hello vip");

  /* A dry run does not take the occurrence of a real one. */
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM campaign_runs WHERE "
                                "dry_run"), ==, 1);
  fixture_stop (&fx);
}

static void
test_failing_target (void)
{
  Fixture fx;
  g_autofree char *path = NULL, *error_text = NULL;
  g_autoptr (GVariant) props = NULL;

  fixture_start (&fx, NULL, "newsletter", newsletter_script, NULL);
  add_customers (&fx, "vip", 9, "active", "{vip}", NULL, NULL);
  db_exec (&fx, "INSERT INTO customers (name, stage, tags)"
                " VALUES ('bad', 'active', '{vip}')");

  path = run_campaign (&fx, "newsletter", NULL);
  g_assert_cmpstr (wait_finished (&fx, path), ==, "done");
  props = run_props (&fx, path);
  g_assert_cmpint (prop_int (props, "Total"), ==, 10);
  g_assert_cmpint (prop_int (props, "Sent"), ==, 9);
  g_assert_cmpint (prop_int (props, "Failed"), ==, 1);
  error_text = st_test_db_query (fx.daemon->db,
                                 "SELECT t.error FROM run_targets t JOIN "
                                 "customers c ON c.id = t.customer_id "
                                 "WHERE c.name = 'bad' AND t.state = 'failed'");
  st_test_assert_contains (error_text, "boom for");
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages m JOIN "
                                "customers c ON c.id = m.customer_id "
                                "WHERE c.name = 'bad'"), ==, 0);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages"), ==, 9);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM alerts WHERE kind = "
                                "'campaign_failed:newsletter' AND state = "
                                "'open'"), ==, 1);
  fixture_stop (&fx);
}

/* A batch that loses its transaction to a concurrent one (a deadlock
 * victim) runs again without counting an attempt: here the first four
 * tries fail so, one more than a batch's attempts, and still every
 * target is sent and none failed. */
static void
test_conflict_retried (void)
{
  Fixture fx;
  g_autofree char *path = NULL;
  g_autoptr (GVariant) props = NULL;

  fixture_start (&fx, NULL, "newsletter", newsletter_script, NULL);
  add_customers (&fx, "vip", 10, "active", "{vip}", NULL, NULL);
  db_exec (&fx, "CREATE SEQUENCE test_conflicts;"
                "CREATE FUNCTION test_conflict () RETURNS trigger"
                " LANGUAGE plpgsql AS $$ BEGIN"
                "  IF nextval('test_conflicts') <= 4 THEN"
                "    RAISE EXCEPTION 'deadlock detected (test)'"
                "      USING ERRCODE = '40P01';"
                "  END IF; RETURN NULL; END $$;"
                "CREATE TRIGGER test_conflict AFTER INSERT ON run_targets"
                " FOR EACH STATEMENT EXECUTE FUNCTION test_conflict ()");

  path = run_campaign (&fx, "newsletter", NULL);
  g_assert_cmpstr (wait_finished (&fx, path), ==, "done");
  props = run_props (&fx, path);
  g_assert_cmpint (prop_int (props, "Sent"), ==, 10);
  g_assert_cmpint (prop_int (props, "Failed"), ==, 0);
  g_assert_cmpint (db_int (&fx, "SELECT last_value FROM test_conflicts"),
                   ==, 5);
  assert_exactly_once (&fx, path_id (path), VIP_ACTIVE, 10);
  fixture_stop (&fx);
}

/* A batch whose transaction fails every time (here: its messages are
 * refused) is tried three times; then its targets are recorded failed,
 * with the error, and the run still ends, with an alert. */
static void
test_batch_gives_up (void)
{
  Fixture fx;
  g_autofree char *path = NULL, *error_text = NULL;
  g_autoptr (GVariant) props = NULL;

  fixture_start (&fx, NULL, "newsletter", newsletter_script, NULL);
  add_customers (&fx, "vip", 10, "active", "{vip}", NULL, NULL);
  db_exec (&fx, "CREATE FUNCTION test_refuse () RETURNS trigger"
                " LANGUAGE plpgsql AS $$ BEGIN"
                "  RAISE EXCEPTION 'messages refused (test)'; END $$;"
                "CREATE TRIGGER test_refuse BEFORE INSERT ON messages"
                " FOR EACH STATEMENT EXECUTE FUNCTION test_refuse ()");

  path = run_campaign (&fx, "newsletter", NULL);
  g_assert_cmpstr (wait_finished (&fx, path), ==, "done");
  props = run_props (&fx, path);
  g_assert_cmpint (prop_int (props, "Sent"), ==, 0);
  g_assert_cmpint (prop_int (props, "Failed"), ==, 10);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM run_targets WHERE "
                                "state = 'failed'"), ==, 10);
  error_text = st_test_db_query (fx.daemon->db,
                                 "SELECT min(error) FROM run_targets");
  st_test_assert_contains (error_text, "the batch failed 3 times");
  st_test_assert_contains (error_text, "messages refused (test)");
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages"), ==, 0);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM alerts WHERE kind = "
                                "'campaign_failed:newsletter'"), ==, 1);
  fixture_stop (&fx);
}

/* A batch checks its own customers again when it runs: whoever left the
 * audience since the run started is skipped, with the reason. Here the
 * first batch's transaction takes two customers of the second batch out
 * of the audience (one worker, batches of 5, in id order). */
static void
test_left_audience (void)
{
  Fixture fx;
  g_autofree char *path = NULL, *reason = NULL;
  g_autoptr (GVariant) props = NULL;

  fixture_start (&fx, "check_interval: 200ms, batch_size: 5, workers: 1",
                 "newsletter", newsletter_script, NULL);
  add_customers (&fx, "vip", 10, "active", "{vip}", NULL, NULL);
  db_exec (&fx, "CREATE FUNCTION test_leave () RETURNS trigger"
                " LANGUAGE plpgsql AS $$ BEGIN"
                "  UPDATE customers SET stage = 'churned'"
                "   WHERE name IN ('vip9', 'vip10');"
                "  RETURN NULL; END $$;"
                "CREATE TRIGGER test_leave AFTER INSERT ON run_targets"
                " FOR EACH STATEMENT EXECUTE FUNCTION test_leave ()");

  path = run_campaign (&fx, "newsletter", NULL);
  g_assert_cmpstr (wait_finished (&fx, path), ==, "done");
  props = run_props (&fx, path);
  g_assert_cmpint (prop_int (props, "Total"), ==, 10);
  g_assert_cmpint (prop_int (props, "Sent"), ==, 8);
  g_assert_cmpint (prop_int (props, "Skipped"), ==, 2);
  reason = st_test_db_query (fx.daemon->db,
                             "SELECT string_agg(DISTINCT t.error, ',')"
                             "  FROM run_targets t JOIN customers c"
                             "    ON c.id = t.customer_id"
                             " WHERE c.name IN ('vip9', 'vip10')"
                             "   AND t.state = 'skipped'");
  g_assert_cmpstr (reason, ==, "left the audience before its batch ran");
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages m JOIN "
                                "customers c ON c.id = m.customer_id "
                                "WHERE c.name IN ('vip9', 'vip10')"), ==, 0);
  fixture_stop (&fx);
}

static char *
wait_message_body (Fixture *fx, const char *key)
{
  g_autofree char *sql = g_strdup_printf (
      "SELECT subject || E'\\n' || body FROM messages WHERE key = '%s'", key);
  gint64 deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;

  while (db_int (fx, "SELECT count(*) FROM messages WHERE key = '%s'", key)
         == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20000);
    }
  return st_test_db_query (fx->daemon->db, sql);
}

static void
test_row_as_record (void)
{
  Fixture fx;
  g_autofree char *path = NULL, *templates = NULL, *file = NULL;
  g_autofree char *trigger = NULL, *campaign = NULL, *id = NULL;
  g_autofree char *event_dump = NULL, *expected = NULL, *occurrence = NULL;
  g_autoptr (GVariant) event = NULL;
  g_autoptr (GError) error = NULL;

  fixture_start (&fx, NULL, "dump_campaign", dump_campaign_script,
                 "dump_trigger", dump_trigger_script, NULL);
  templates = g_build_filename (fx.scripts, "templates", NULL);
  g_assert_cmpint (g_mkdir (templates, 0700), ==, 0);
  file = g_build_filename (templates, "dump.en.txt", NULL);
  g_file_set_contents (file, dump_template, -1, &error);
  g_assert_no_error (error);
  db_exec (&fx,
           "INSERT INTO customers (name, email, locale, stage, tags, attrs,"
           "  revenue, purchase_count, health_factors, health_score)"
           " VALUES ('Zoë \"Q\" Dump', 'zoe@example.com', 'en', 'active',"
           "  ARRAY['dump', 'a\"b', 'vip', E'c\\x01d'],"
           "  '{\"plan\": \"gold\", \"none\": null, \"nested\": "
           "{\"n\": 1.5, \"list\": [1, \"x\", true, 2.25]},"
           "  \"esc\": \"x\\ny\\t\\\"z\\\" \\u00e9\"}',"
           "  12.5, 3, '{\"recency\": -12.5, \"tickets\": 0}', 41)");
  db_exec (&fx, "SELECT pg_sleep(0.3)"); /* the scripts are loaded */
  id = st_test_db_query (fx.daemon->db,
                         "SELECT id FROM customers WHERE tags @> '{dump}'");

  /* The trigger first: its event changes the aggregates the campaign
   * then sees as well. */
  event = st_test_bus_call_ok (
      fx.daemon->connection, "Customers", "RecordEvent",
      g_variant_new_parsed ("(%s, 'ping', @a{sv} {})", id));
  trigger = wait_message_body (&fx, "dump:trigger");
  path = run_campaign (&fx, "dump_campaign", NULL);
  g_assert_cmpstr (wait_finished (&fx, path), ==, "done");
  campaign = wait_message_body (&fx, "dump:campaign");
  occurrence = st_test_db_query (
      fx.daemon->db, "SELECT to_char(occurrence AT TIME ZONE 'UTC',"
                     " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM campaign_runs");

  g_assert_cmpstr (campaign, ==, trigger);
  /* And what they both saw is the customer. */
  st_test_assert_contains (campaign, "For Zoë \"Q\" Dump\n");
  /* to_json() escapes the control character: the JSON path with
   * escapes, not the plain one. */
  st_test_assert_contains (campaign, "tags={1=string:dump,2=string:a\"b,"
                                     "3=string:vip,4=string:c\001d}");
  st_test_assert_contains (campaign, "nested={list={1=integer:1,2=string:x,"
                                     "3=boolean:true,4=float:2.25},"
                                     "n=float:1.5}");
  st_test_assert_contains (campaign, "purchase_count=integer:3,");
  st_test_assert_contains (campaign, "revenue=float:12.5,");
  st_test_assert_contains (campaign, "health_score=integer:41,");
  st_test_assert_contains (campaign, "event_count=integer:1,");
  g_assert_null (strstr (campaign, "none="));
  st_test_assert_contains (campaign, "esc=string:x\ny\t\"z\" é,");
  st_test_assert_contains (campaign, "\nZoë \"Q\" Dump|zoe@example.com|dump, "
                                     "a\"b, vip, c\001d|gold|1.50|12.50|3|");
  st_test_assert_contains (campaign, "Z|-12.50\n");
  /* The campaign's event, as its batch hands it to Lua. */
  event_dump = st_test_db_query (fx.daemon->db,
                                 "SELECT data->>'event' FROM messages"
                                 " WHERE key = 'dump:campaign'");
  expected = g_strdup_printf (
      "{campaign=string:dump_campaign,dry_run=boolean:false,key=string:"
      "campaign:dump_campaign:%s,kind=string:campaign,occurrence=string:%s,"
      "run_id=integer:%" G_GINT64_FORMAT "}",
      occurrence, occurrence, path_id (path));
  g_assert_cmpstr (event_dump, ==, expected);
  fixture_stop (&fx);
}

/* Two daemons, one run in small batches: each target once, and both
 * daemons' workers took some (each target logs a line in the log of the
 * daemon that ran it). */
static guint
count_in_file (const char *path, const char *needle)
{
  g_autofree char *text = NULL;
  guint n = 0;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  for (const char *p = strstr (text, needle); p; p = strstr (p + 1, needle))
    n++;
  return n;
}

static void
test_two_daemons (void)
{
  Fixture fx;
  g_autofree char *path = NULL;
  guint here, there;

  fixture_start (&fx, "check_interval: 200ms, batch_size: 5, workers: 2",
                 "newsletter", newsletter_script, NULL);
  add_customers (&fx, "vip", 200, "active", "{vip}", NULL,
                 "{\"spin\": 300000, \"say\": true}");
  add_customers (&fx, "plain", 50, "lead", "{vip}", NULL, NULL);
  fx.peer = peer_start (&fx);

  path = run_campaign (&fx, "newsletter", NULL);
  g_assert_cmpstr (wait_finished (&fx, path), ==, "done");
  assert_exactly_once (&fx, path_id (path), VIP_ACTIVE, 200);
  here = count_in_file (fx.daemon->log_path, ": target ");
  there = count_in_file (fx.peer->log_path, ": target ");
  g_test_message ("targets run by the daemon asked: %u, by the other: %u",
                  here, there);
  g_assert_cmpuint (here + there, ==, 200);
  g_assert_cmpuint (here, >, 0);
  g_assert_cmpuint (there, >, 0);
  fixture_stop (&fx);
}

/* kill -9 in the middle of a run; after the restart it resumes: no target
 * twice, none missing. */
static void
test_kill_resume (void)
{
  Fixture fx;
  g_autofree char *path = NULL, *state = NULL;
  g_autofree char *sql = NULL;
  gint64 id;
  g_autoptr (GVariant) props = NULL;

  fixture_start (&fx, "check_interval: 200ms, batch_size: 5, workers: 2",
                 "newsletter", newsletter_script, NULL);
  add_customers (&fx, "vip", 120, "active", "{vip}", NULL,
                 "{\"spin\": 2000000}");
  path = run_campaign (&fx, "newsletter", NULL);
  id = path_id (path);
  sql = g_strdup_printf ("SELECT count(*) FROM campaign_runs WHERE id = %"
                         G_GINT64_FORMAT " AND done >= 20", id);
  wait_for (&fx, "the run to be under way", sql);
  g_subprocess_send_signal (fx.daemon->process, SIGKILL);
  g_subprocess_wait (fx.daemon->process, NULL, NULL);
  g_clear_object (&fx.daemon->process);
  state = st_test_db_query (fx.daemon->db,
                            "SELECT state || ' ' || (done < total)::text "
                            "FROM campaign_runs");
  g_assert_cmpstr (state, ==, "running true");

  st_test_daemon_restart (fx.daemon);
  g_free (sql);
  sql = g_strdup_printf ("SELECT count(*) FROM campaign_runs WHERE id = %"
                         G_GINT64_FORMAT " AND state = 'done'", id);
  wait_for (&fx, "the run to finish after the restart", sql);
  props = run_props (&fx, path);
  g_assert_cmpint (prop_int (props, "Total"), ==, 120);
  g_assert_cmpint (prop_int (props, "Done"), ==, 120);
  g_assert_cmpint (prop_int (props, "Sent"), ==, 120);
  assert_exactly_once (&fx, id, VIP_ACTIVE, 120);
  fixture_stop (&fx);
}

/* The scheduler -------------------------------------------------------------- */

static int
leader_index (Fixture *fx)
{
  GDBusConnection *connections[] = { fx->daemon->connection,
                                     fx->peer->connection };
  int leader = -1;

  for (int i = 0; i < 2; i++)
    {
      g_autoptr (GVariant) status = NULL;

      if (i == 0 && fx->daemon->process == NULL)
        continue;
      if (i == 1 && fx->peer->process == NULL)
        continue;
      status = st_test_bus_call_ok (connections[i], "Manager", "Status",
                                    NULL);
      if (g_str_equal (st_test_rec_str (status, "scheduler"), "leader"))
        {
          g_assert_cmpint (leader, ==, -1);
          leader = i;
        }
    }
  return leader;
}

static int
wait_leader (Fixture *fx)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  int leader;

  while ((leader = leader_index (fx)) < 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }
  return leader;
}

static void
test_leader_failover (void)
{
  Fixture fx;
  const char *pid;
  g_autofree char *sql = NULL;
  GSubprocess *survivor;
  int leader;

  fixture_start (&fx, NULL, "daily", daily_script, NULL);
  add_customers (&fx, "a", 3, "active", "{}", NULL, NULL);
  fx.peer = peer_start (&fx);
  leader = wait_leader (&fx);
  wait_for (&fx, "the leader to see the campaign",
            "SELECT count(*) FROM campaign_schedules WHERE campaign = 'daily'");

  /* The leader dies without a word; the other takes over. */
  if (leader == 0)
    {
      g_subprocess_send_signal (fx.daemon->process, SIGKILL);
      g_subprocess_wait (fx.daemon->process, NULL, NULL);
      g_clear_object (&fx.daemon->process);
      survivor = fx.peer->process;
    }
  else
    {
      g_subprocess_send_signal (fx.peer->process, SIGKILL);
      g_subprocess_wait (fx.peer->process, NULL, NULL);
      g_clear_object (&fx.peer->process);
      survivor = fx.daemon->process;
    }
  g_assert_cmpint (wait_leader (&fx), ==, 1 - leader);

  /* It schedules: a missed occurrence is run by it. */
  db_exec (&fx, "UPDATE campaign_schedules SET checked_until = "
                "now() - interval '3 days'");
  pid = g_subprocess_get_identifier (survivor);
  sql = g_strdup_printf ("SELECT count(*) FROM campaign_runs WHERE "
                         "requested_by LIKE 'scheduler (pid %s %%' "
                         "AND state = 'done'", pid);
  wait_for (&fx, "the survivor's run", sql);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM campaign_runs"), ==, 1);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages"), ==, 3);
  if (leader == 0)
    {
      /* fixture_stop expects the first daemon up. */
      st_test_daemon_restart (fx.daemon);
    }
  fixture_stop (&fx);
}

/* After a downtime only the latest missed occurrence runs. */
static void
test_catch_up_latest (void)
{
  Fixture fx;
  g_autofree char *expected = NULL, *got = NULL;

  fixture_start (&fx, NULL, "daily", daily_script, NULL);
  add_customers (&fx, "a", 4, "active", "{}", NULL, NULL);
  wait_for (&fx, "the scheduler to see the campaign",
            "SELECT count(*) FROM campaign_schedules WHERE campaign = 'daily'");
  st_test_daemon_stop_process (fx.daemon);
  db_exec (&fx, "UPDATE campaign_schedules SET checked_until = "
                "now() - interval '5 days'");
  st_test_daemon_restart (fx.daemon);
  wait_for (&fx, "the catch-up run",
            "SELECT count(*) FROM campaign_runs WHERE state = 'done'");
  g_usleep (1000 * 1000); /* several more looks: still one run */
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM campaign_runs"), ==, 1);
  expected = st_test_db_query (
      fx.daemon->db,
      "SELECT CASE WHEN now() >= date_trunc('day', now()) + interval '4h30m'"
      " THEN date_trunc('day', now()) + interval '4h30m'"
      " ELSE date_trunc('day', now()) - interval '19h30m' END");
  got = st_test_db_query (fx.daemon->db,
                          "SELECT occurrence FROM campaign_runs");
  g_assert_cmpstr (got, ==, expected);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages"), ==, 4);
  g_assert_cmpint (db_int (&fx, "SELECT (checked_until > now() - interval "
                                "'1 minute')::int FROM campaign_schedules"), ==, 1);
  fixture_stop (&fx);
}

/* The latest 09:00 in @zone at or before @before (ISO-8601). */
static char *
latest_nine (const char *zone, const char *before)
{
  g_autoptr (GTimeZone) tz = g_time_zone_new_identifier (zone);
  g_autoptr (GDateTime) limit = g_date_time_new_from_iso8601 (before, NULL);
  g_autoptr (GDateTime) local = g_date_time_to_timezone (limit, tz);
  g_autoptr (GDateTime) nine = g_date_time_new (
      tz, g_date_time_get_year (local), g_date_time_get_month (local),
      g_date_time_get_day_of_month (local), 9, 0, 0);
  g_autoptr (GDateTime) utc = NULL;

  if (g_date_time_compare (nine, limit) > 0)
    {
      g_autoptr (GDateTime) day_before = g_date_time_add_days (local, -1);
      g_date_time_unref (nine);
      nine = g_date_time_new (tz, g_date_time_get_year (day_before),
                              g_date_time_get_month (day_before),
                              g_date_time_get_day_of_month (day_before), 9, 0,
                              0);
    }
  utc = g_date_time_to_utc (nine);
  return g_date_time_format (utc, "%Y-%m-%d %H:%M:%S+00");
}

/* A local-time campaign fires zone by zone, each at 09:00 local, for that
 * zone's customers only. */
static void
test_local_time (void)
{
  static const char *const zones[] = { "Europe/Paris", "America/New_York",
                                       "Asia/Tokyo", NULL };
  Fixture fx;
  g_autofree char *tokyo = NULL;
  g_autoptr (GVariant) props = NULL;

  fixture_start (&fx, NULL, "morning", morning_script, NULL);
  for (guint i = 0; zones[i] != NULL; i++)
    add_customers (&fx, zones[i], 3, "active", "{}", zones[i], NULL);
  add_customers (&fx, "nozone", 2, "lead", "{}", NULL, NULL);
  wait_for (&fx, "the scheduler to see the campaign",
            "SELECT count(*) FROM campaign_schedules");
  db_exec (&fx, "UPDATE campaign_schedules SET checked_until = "
                "now() - interval '2 days'");
  wait_for (&fx, "four runs, done",
            "SELECT (count(*) = 4)::int FROM campaign_runs WHERE state = "
            "'done'");

  for (guint i = 0; i < 4; i++)
    {
      const char *zone = zones[i] ? zones[i] : "UTC";
      g_autofree char *sql = g_strdup_printf (
          "SELECT to_char(created_at AT TIME ZONE 'UTC', "
          "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM campaign_runs"
          " WHERE zone = '%s'", zone);
      g_autofree char *created = st_test_db_query (fx.daemon->db, sql);
      g_autofree char *expected = NULL, *got = NULL, *check = NULL;

      g_assert_nonnull (created);
      expected = latest_nine (zone, created);
      g_free (sql);
      sql = g_strdup_printf ("SELECT occurrence FROM campaign_runs WHERE "
                             "zone = '%s'", zone);
      got = st_test_db_query (fx.daemon->db, sql);
      g_assert_cmpstr (got, ==, expected);
      /* Exactly that zone's customers, one message each. */
      g_free (sql);
      sql = g_strdup_printf (
          "SELECT count(*) FROM run_targets t JOIN campaign_runs r ON"
          " r.id = t.run_id JOIN customers c ON c.id = t.customer_id"
          " WHERE r.zone = '%s' AND COALESCE(c.tz, 'UTC') = '%s'"
          " AND t.state = 'sent'", zone, zone);
      g_assert_cmpint (st_test_db_query_int (fx.daemon->db, sql), ==,
                       zones[i] ? 3 : 2);
      g_free (sql);
      sql = g_strdup_printf ("SELECT total FROM campaign_runs WHERE zone = "
                             "'%s'", zone);
      g_assert_cmpint (st_test_db_query_int (fx.daemon->db, sql), ==,
                       zones[i] ? 3 : 2);
    }
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages"), ==, 11);

  /* By hand, one zone: its customers only. */
  tokyo = run_campaign (&fx, "morning", "{'zone': <'Asia/Tokyo'>}");
  g_assert_cmpstr (wait_finished (&fx, tokyo), ==, "done");
  props = run_props (&fx, tokyo);
  g_assert_cmpint (prop_int (props, "Total"), ==, 3);
  g_assert_cmpstr (st_test_rec_str (props, "Zone"), ==, "Asia/Tokyo");
  fixture_stop (&fx);
}

/* An explicit occurrence runs once: asking again is AlreadyExists. */
static void
test_occurrence_once (void)
{
  Fixture fx;
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) props = NULL;

  fixture_start (&fx, NULL, "newsletter", newsletter_script, NULL);
  add_customers (&fx, "vip", 3, "active", "{vip}", NULL, NULL);
  path = run_campaign (&fx, "newsletter",
                       "{'occurrence': <'2026-03-01T09:00:00+01:00'>}");
  g_assert_cmpstr (wait_finished (&fx, path), ==, "done");
  props = run_props (&fx, path);
  g_assert_cmpstr (st_test_rec_str (props, "Occurrence"), ==,
                   "2026-03-01T08:00:00.000000Z");
  g_assert_null (call (&fx, "Run",
                       g_variant_new_parsed (
                           "('newsletter', {'occurrence': "
                           "<'2026-03-01T08:00:00Z'>})"),
                       &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_ALREADY_EXISTS);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages"), ==, 3);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages WHERE key = "
                                "'campaign:newsletter:"
                                "2026-03-01T08:00:00.000000Z'"), ==, 3);
  fixture_stop (&fx);
}

/* List ------------------------------------------------------------------------ */

static void
test_list (void)
{
  Fixture fx;
  g_autoptr (GVariant) reply = NULL, list = NULL, first = NULL, second = NULL;
  g_autoptr (GDateTime) next = NULL;

  fixture_start (&fx, NULL, "newsletter", newsletter_script, "morning",
                 morning_script, NULL);
  add_customers (&fx, "p", 1, "active", "{}", "Asia/Tokyo", NULL);
  reply = call (&fx, "List", NULL, NULL);
  list = g_variant_get_child_value (reply, 0);
  g_assert_cmpuint (g_variant_n_children (list), ==, 2);
  first = g_variant_get_child_value (list, 0);
  g_assert_cmpstr (st_test_rec_str (first, "name"), ==, "morning");
  g_assert_true (st_test_rec_bool (first, "local_time"));
  g_assert_cmpstr (st_test_rec_str (first, "audience"), ==, "everyone");
  g_assert_cmpstr (st_test_rec_str (first, "state"), ==, "ok");
  /* Next 09:00 in Tokyo is 00:00 UTC. */
  next = g_date_time_new_from_iso8601 (st_test_rec_str (first, "next_fire"),
                                       NULL);
  g_assert_nonnull (next);
  g_assert_cmpint (g_date_time_get_hour (next), ==, 0);
  g_assert_cmpint (g_date_time_get_minute (next), ==, 0);
  second = g_variant_get_child_value (list, 1);
  g_assert_cmpstr (st_test_rec_str (second, "name"), ==, "newsletter");
  g_assert_cmpstr (st_test_rec_str (second, "schedule"), ==, "0 9 1 * *");
  st_test_assert_contains (st_test_rec_str (second, "audience"), "vip");
  fixture_stop (&fx);
}

/* The CLI ----------------------------------------------------------------------- */

/* Cancelling a run: its first batch is done, the others are slow. */
static GVariant *
cancel_run (Fixture *fx, const char *path, GError **error)
{
  return g_dbus_connection_call_sync (
      fx->daemon->connection, ST_BUS_NAME, path, RUN_IFACE, "Cancel", NULL,
      G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, 60000, NULL, error);
}

/* The run ended as cancelled, part done: nothing runs for it any more,
 * and its counters, targets and messages agree. */
static void
assert_cancelled (Fixture *fx, const char *path, const char *by)
{
  g_autoptr (GVariant) props = run_props (fx, path);
  gint64 id = path_id (path), done = prop_int (props, "Done");
  gint64 messages;

  g_assert_cmpstr (st_test_rec_str (props, "State"), ==, "cancelled");
  if (by != NULL)
    g_assert_cmpstr (st_test_rec_str (props, "CancelledBy"), ==, by);
  else
    g_assert_cmpstr (st_test_rec_str (props, "CancelledBy"), !=, "");
  g_assert_cmpstr (st_test_rec_str (props, "FinishedAt"), !=, "");
  g_assert_cmpint (done, >, 0);
  g_assert_cmpint (done, <, prop_int (props, "Total"));
  g_assert_cmpint (done % 5, ==, 0); /* whole batches only */
  g_assert_cmpint (db_int (fx, "SELECT count(*) FROM run_targets WHERE "
                               "run_id = %" G_GINT64_FORMAT, id), ==, done);
  g_assert_cmpint (db_int (fx, "SELECT count(*) FROM run_batches WHERE "
                               "run_id = %" G_GINT64_FORMAT, id), ==, 0);
  g_assert_cmpint (db_int (fx, "SELECT (summary->'channels'->>'email')::int"
                               " FROM campaign_runs WHERE id = %"
                               G_GINT64_FORMAT, id), ==, done);
  messages = db_int (fx, "SELECT count(*) FROM messages");
  g_usleep (500 * 1000);
  g_assert_cmpint (db_int (fx, "SELECT count(*) FROM messages"), ==, messages);
  g_assert_cmpint (db_int (fx, "SELECT count(*) FROM run_targets WHERE "
                               "run_id = %" G_GINT64_FORMAT, id), ==, done);
}

static void
test_cancel (void)
{
  Fixture fx;
  g_autofree char *path = NULL, *second = NULL, *third = NULL;
  g_autofree char *out = NULL, *err = NULL, *id_text = NULL;
  g_autofree char *wait_sql = NULL, *crash_sql = NULL;
  g_autoptr (GVariant) reply = NULL, props = NULL;
  g_autoptr (GError) error = NULL;
  const char *state;
  gint64 done;
  int status;

  fixture_start (&fx, "check_interval: 1s, batch_size: 5, workers: 1",
                 "newsletter", newsletter_script, NULL);
  add_customers (&fx, "vip", 40, "active", "{vip}", NULL,
                 "{\"spin\": 3000000}");

  /* Cancelled over D-Bus once its first batch is done: the batch in
   * progress is waited for, no other starts, Finished says so. */
  path = run_campaign (&fx, "newsletter", NULL);
  wait_sql = g_strdup_printf ("SELECT count(*) FROM campaign_runs WHERE "
                              "done > 0 AND id = %" G_GINT64_FORMAT,
                              path_id (path));
  wait_for (&fx, "the first batch", wait_sql);
  reply = cancel_run (&fx, path, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(&s)", &state);
  g_assert_cmpstr (state, ==, "cancelled");
  g_assert_cmpstr (wait_finished (&fx, path), ==, "cancelled");
  assert_cancelled (&fx, path, NULL);

  /* A run that has ended cannot be cancelled. */
  g_clear_pointer (&reply, g_variant_unref);
  reply = cancel_run (&fx, path, &error);
  g_assert_null (reply);
  g_assert_error (error, ST_ERROR, ST_ERROR_ILLEGAL_TRANSITION);
  g_clear_error (&error);
  id_text = g_strdup_printf ("%" G_GINT64_FORMAT, path_id (path));
  status = st_test_ctl (fx.daemon, &out, &err, "campaign", "cancel", id_text,
                        NULL);
  g_assert_cmpint (status, ==, 1);
  st_test_assert_contains (err, "has already ended (cancelled)");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* With stewardctl, at once: still pending or barely started. */
  second = run_campaign (&fx, "newsletter", NULL);
  g_free (id_text);
  id_text = g_strdup_printf ("%" G_GINT64_FORMAT, path_id (second));
  status = st_test_ctl (fx.daemon, &out, &err, "campaign", "cancel", id_text,
                        NULL);
  g_assert_cmpstr (err, ==, "");
  g_assert_cmpint (status, ==, 0);
  st_test_assert_contains (out, "cancelled");
  g_assert_cmpstr (wait_finished (&fx, second), ==, "cancelled");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* A daemon that died between the request and the end: the leader ends
   * the cancellation. */
  third = run_campaign (&fx, "newsletter", NULL);
  g_free (wait_sql);
  wait_sql = g_strdup_printf ("SELECT count(*) FROM campaign_runs WHERE "
                              "done > 0 AND id = %" G_GINT64_FORMAT,
                              path_id (third));
  wait_for (&fx, "the first batch", wait_sql);
  crash_sql = g_strdup_printf ("UPDATE campaign_runs SET cancelled_by = "
                               "'test' WHERE id = %" G_GINT64_FORMAT
                               " RETURNING done", path_id (third));
  done = db_int (&fx, "%s", crash_sql);
  g_assert_cmpstr (wait_finished (&fx, third), ==, "cancelled");
  assert_cancelled (&fx, third, "test");
  /* From the request on, only the batch in progress went on (one worker,
   * batches of 5), though the leader looks only every second. */
  props = run_props (&fx, third);
  g_assert_cmpint (prop_int (props, "Done"), <=, done + 5);
  fixture_stop (&fx);
}

/* The leader ends the cancellations their daemon left half done; a
 * cancellation whose daemon is alive and waiting for a batch in progress
 * is not one of them. Here one batch takes seconds: the live Cancel waits
 * for it, and the scheduler's leader must not wait behind it too (its
 * thread is the one that schedules every campaign, and a batch may take
 * up to statement_timeout). */
typedef struct {
  GVariant *reply;
  GError *error;
  gboolean done;
} CancelCall;

static void
cancel_done (GObject *source, GAsyncResult *result, gpointer data)
{
  CancelCall *c = data;

  c->reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source),
                                            result, &c->error);
  c->done = TRUE;
}

/* Backends waiting for a row lock while holding the scheduler's lead. */
#define LEADER_WAITING_SQL                                                   \
  "SELECT count(*) FROM pg_stat_activity a"                                  \
  " WHERE a.wait_event_type = 'Lock'"                                        \
  "   AND a.query LIKE 'DELETE FROM run_batches%%' AND a.pid IN ("            \
  "   SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"      \
  "      AND classid = 73911857 AND objid = 1 AND objsubid = 2)"

static void
test_cancel_live_not_left (void)
{
  Fixture fx;
  g_autofree char *path = NULL, *running_sql = NULL;
  CancelCall c = { NULL, NULL, FALSE };
  gint64 deadline;
  gint64 leader_waited = 0;
  const char *state;

  fixture_start (&fx, "check_interval: 200ms, batch_size: 5, workers: 1",
                 "newsletter", newsletter_script, NULL);
  add_customers (&fx, "vip", 20, "active", "{vip}", NULL,
                 "{\"spin\": 60000000}");
  path = run_campaign (&fx, "newsletter", NULL);
  /* A batch in progress: its worker holds it (and run_batches) locked. */
  running_sql = g_strdup_printf (
      "SELECT count(*) FROM campaign_runs r WHERE r.id = %" G_GINT64_FORMAT
      " AND r.state = 'running' AND EXISTS (SELECT 1 FROM pg_locks l"
      "   JOIN pg_class k ON k.oid = l.relation"
      "  WHERE k.relname = 'run_batches' AND l.mode = 'RowShareLock')",
      path_id (path));
  wait_for (&fx, "a batch in progress", running_sql);

  g_dbus_connection_call (fx.daemon->connection, ST_BUS_NAME, path,
                          RUN_IFACE, "Cancel", NULL, G_VARIANT_TYPE ("(s)"),
                          G_DBUS_CALL_FLAGS_NONE, 120000, NULL, cancel_done,
                          &c);
  deadline = g_get_monotonic_time () + 120 * G_TIME_SPAN_SECOND;
  while (!c.done)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      leader_waited += db_int (&fx, LEADER_WAITING_SQL);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (20 * 1000);
    }
  g_assert_no_error (c.error);
  g_variant_get (c.reply, "(&s)", &state);
  g_assert_cmpstr (state, ==, "cancelled");
  g_clear_pointer (&c.reply, g_variant_unref);
  /* The live cancel waited for the batch; the leader should not have. */
  if (leader_waited > 0)
    g_test_message ("the scheduler's leader was seen waiting on a lock %"
                    G_GINT64_FORMAT " times during a live Cancel",
                    leader_waited);
  g_assert_cmpint (leader_waited, ==, 0);
  fixture_stop (&fx);
}

/* stewardctl campaign cancel waits for the batches in progress, as the
 * daemon does (docs/cli.md: when the command returns, nothing more is
 * written for the run), also past D-Bus's default 25 s call timeout. The
 * batch in progress is held here by a lock on one of its customers (its
 * messages' insert locks them FOR KEY SHARE), for 27 s, without using
 * the CPU. */
typedef struct {
  StTestDaemon *daemon;
  const char *run;
  char *out, *err;
  int status;
} CtlCancel;

static gpointer
ctl_cancel_thread (gpointer data)
{
  CtlCancel *job = data;

  job->status = st_test_ctl (job->daemon, &job->out, &job->err, "campaign",
                             "cancel", job->run, NULL);
  return NULL;
}

static void
test_cancel_cli_slow_batch (void)
{
  Fixture fx;
  g_autofree char *path = NULL, *id_text = NULL;
  CtlCancel job = { 0 };
  GThread *thread;
  PGconn *other;
  PGresult *res;
  gint64 deadline;

  fixture_start (&fx, "check_interval: 200ms, batch_size: 5, workers: 1",
                 "newsletter", newsletter_script, NULL);
  add_customers (&fx, "vip", 10, "active", "{vip}", NULL, NULL);
  other = PQconnectdb (fx.daemon->db->conninfo);
  g_assert_cmpint (PQstatus (other), ==, CONNECTION_OK);
  res = PQexec (other, "BEGIN; SELECT id FROM customers ORDER BY id LIMIT 1"
                       " FOR UPDATE");
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_TUPLES_OK);
  PQclear (res);

  path = run_campaign (&fx, "newsletter", NULL);
  deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  while (st_test_lock_waiters (fx.daemon->db->conninfo) < 1)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }

  id_text = g_strdup_printf ("%" G_GINT64_FORMAT, path_id (path));
  job.daemon = fx.daemon;
  job.run = id_text;
  thread = g_thread_new ("ctl-cancel", ctl_cancel_thread, &job);
  while (st_test_lock_waiters (fx.daemon->db->conninfo) < 2)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }
  g_usleep (27 * G_USEC_PER_SEC);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages"), ==, 0);
  res = PQexec (other, "COMMIT");
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_COMMAND_OK);
  PQclear (res);
  PQfinish (other);
  g_thread_join (thread);

  g_test_message ("stewardctl campaign cancel: status %d, out '%s', err '%s'",
                  job.status, job.out, job.err);
  g_assert_cmpstr (job.err, ==, "");
  g_assert_cmpint (job.status, ==, 0);
  /* The batch in progress went through, the other never started. */
  st_test_assert_contains (job.out, "cancelled: 5 of 10 targets done");
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages"), ==, 5);
  g_assert_cmpstr (wait_finished (&fx, path), ==, "cancelled");
  g_free (job.out);
  g_free (job.err);
  fixture_stop (&fx);
}

/* Run.Cancel answers "done" when the run's last batch, already in
 * progress, ended it first (docs/dbus.md, docs/campaigns.md). Here the
 * last batch has set the run done and is still in its transaction (held
 * at its end by a reader of the first batch's row) when Cancel comes. */
static void
test_cancel_last_batch (void)
{
  Fixture fx;
  g_autofree char *path = NULL, *first_sql = NULL, *lock_sql = NULL;
  CancelCall c = { NULL, NULL, FALSE };
  PGconn *other;
  PGresult *res;
  gint64 deadline;
  const char *state;

  fixture_start (&fx, "check_interval: 200ms, batch_size: 5, workers: 1",
                 "newsletter", newsletter_script, NULL);
  add_customers (&fx, "fast", 5, "active", "{vip}", NULL, NULL);
  add_customers (&fx, "slow", 5, "active", "{vip}", NULL,
                 "{\"spin\": 100000000}");
  path = run_campaign (&fx, "newsletter", NULL);
  first_sql = g_strdup_printf ("SELECT count(*) FROM run_batches WHERE "
                               "run_id = %" G_GINT64_FORMAT " AND batch_no = 0"
                               " AND state = 'done'", path_id (path));
  wait_for (&fx, "the first batch", first_sql);

  /* The last batch's close_run drops every batch of the run: a reader of
   * the first one keeps it waiting after it has set the run done. */
  other = PQconnectdb (fx.daemon->db->conninfo);
  g_assert_cmpint (PQstatus (other), ==, CONNECTION_OK);
  lock_sql = g_strdup_printf ("BEGIN; SELECT 1 FROM run_batches WHERE run_id"
                              " = %" G_GINT64_FORMAT " AND batch_no = 0 FOR "
                              "UPDATE", path_id (path));
  res = PQexec (other, lock_sql);
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_TUPLES_OK);
  PQclear (res);
  deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  while (st_test_lock_waiters (fx.daemon->db->conninfo) < 1)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM campaign_runs WHERE "
                                "id = %" G_GINT64_FORMAT " AND state = "
                                "'running'", path_id (path)), ==, 1);

  /* Cancel now: the run is still running for everyone else. */
  g_dbus_connection_call (fx.daemon->connection, ST_BUS_NAME, path,
                          RUN_IFACE, "Cancel", NULL, G_VARIANT_TYPE ("(s)"),
                          G_DBUS_CALL_FLAGS_NONE, 60000, NULL, cancel_done,
                          &c);
  while (st_test_lock_waiters (fx.daemon->db->conninfo) < 2)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (20 * 1000);
    }
  res = PQexec (other, "COMMIT");
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_COMMAND_OK);
  PQclear (res);
  PQfinish (other);
  while (!c.done)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (20 * 1000);
    }
  g_assert_cmpstr (wait_finished (&fx, path), ==, "done");
  if (c.error != NULL)
    g_test_message ("Cancel: %s", c.error->message);
  g_assert_no_error (c.error);
  g_variant_get (c.reply, "(&s)", &state);
  g_assert_cmpstr (state, ==, "done");
  g_clear_pointer (&c.reply, g_variant_unref);
  fixture_stop (&fx);
}

static void
test_cli (void)
{
  Fixture fx;
  g_autofree char *out = NULL, *err = NULL;
  int status;

  fixture_start (&fx, NULL, "newsletter", newsletter_script, NULL);
  add_customers (&fx, "vip", 7, "active", "{vip}", NULL, NULL);

  status = st_test_ctl (fx.daemon, &out, &err, "campaign", "list", NULL);
  g_assert_cmpint (status, ==, 0);
  st_test_assert_contains (out, "newsletter");
  st_test_assert_contains (out, "0 9 1 * *");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  status = st_test_ctl (fx.daemon, &out, &err, "campaign", "list", "--json",
                        NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_true (g_str_has_prefix (out, "["));
  st_test_assert_contains (out, "\"next_fire\"");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  status = st_test_ctl (fx.daemon, &out, &err, "campaign", "run",
                        "newsletter", "--wait", NULL);
  g_assert_cmpstr (err, ==, "");
  g_assert_cmpint (status, ==, 0);
  st_test_assert_contains (out, "done");
  st_test_assert_contains (out, "7/7");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages"), ==, 7);

  status = st_test_ctl (fx.daemon, &out, &err, "campaign", "run",
                        "newsletter", "--dry-run", "--wait", "--json", NULL);
  g_assert_cmpint (status, ==, 0);
  st_test_assert_contains (out, "\"dry_run\": true");
  st_test_assert_contains (out, "\"summary\"");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (db_int (&fx, "SELECT count(*) FROM messages"), ==, 7);

  status = st_test_ctl (fx.daemon, &out, &err, "campaign", "run",
                        "newsletter", NULL);
  g_assert_cmpint (status, ==, 0);
  st_test_assert_contains (out, "/org/steward/Steward1/runs/3");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* As docs/cli.md shows it: the id, then the path. */
  status = st_test_ctl (fx.daemon, &out, &err, "campaign", "run",
                        "newsletter", "--dry-run", "--json", NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpstr (out, ==, "{\n  \"id\": 4,\n  \"path\": "
                            "\"/org/steward/Steward1/runs/4\"\n}\n");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  status = st_test_ctl (fx.daemon, &out, &err, "campaign", "runs", NULL);
  g_assert_cmpint (status, ==, 0);
  st_test_assert_contains (out, "newsletter");
  st_test_assert_contains (out, "STATE");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  status = st_test_ctl (fx.daemon, &out, &err, "campaign", "show", "2", NULL);
  g_assert_cmpint (status, ==, 0);
  st_test_assert_contains (out, "Dry run");
  st_test_assert_contains (out, "email 7");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  status = st_test_ctl (fx.daemon, &out, &err, "campaign", "show", "1",
                        "--json", NULL);
  g_assert_cmpint (status, ==, 0);
  st_test_assert_contains (out, "\"state\": \"done\"");
  st_test_assert_contains (out, "\"sent\": 7");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  status = st_test_ctl (fx.daemon, &out, &err, "campaign", "show", "99", NULL);
  g_assert_cmpint (status, ==, 1);
  st_test_assert_contains (err, "no campaign run with id 99");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  status = st_test_ctl (fx.daemon, &out, &err, "campaign", "run", "nope",
                        NULL);
  g_assert_cmpint (status, ==, 1);
  st_test_assert_contains (err, "nope");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  status = st_test_ctl (fx.daemon, &out, &err, "campaign", "runs", "--limit",
                        "zero", NULL);
  g_assert_cmpint (status, ==, 2);
  fixture_stop (&fx);
}

/* Pure parts ----------------------------------------------------------------- */

static GDateTime *
utc (const char *iso)
{
  GDateTime *time = g_date_time_new_from_iso8601 (iso, NULL);

  g_assert_nonnull (time);
  return time;
}

static void
assert_due (const char *expr, const char *zone, const char *from,
            const char *now, StCatchUp catch_up, const char *const *expected)
{
  g_autoptr (StCron) cron = st_cron_parse (expr, NULL);
  g_autoptr (GTimeZone) tz = g_time_zone_new_identifier (zone);
  g_autoptr (GDateTime) a = utc (from), b = utc (now);
  g_autoptr (GPtrArray) due = st_campaign_due (cron, tz, a, b, catch_up,
                                               60 * G_TIME_SPAN_SECOND, 100);
  guint n = g_strv_length ((char **) expected);

  g_assert_cmpuint (due->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GDateTime) want = utc (expected[i]);
      if (!g_date_time_equal (g_ptr_array_index (due, i), want))
        {
          g_autofree char *got = g_date_time_format_iso8601 (
              g_ptr_array_index (due, i));
          g_error ("%s in %s: occurrence %u is %s, expected %s", expr, zone,
                   i, got, expected[i]);
        }
    }
}

static void
test_due_catch_up (void)
{
  const char *all[] = { "2026-05-01T10:00:00Z", "2026-05-01T11:00:00Z",
                        "2026-05-01T12:00:00Z", NULL };
  const char *latest[] = { "2026-05-01T12:00:00Z", NULL };
  const char *none[] = { NULL };

  assert_due ("0 * * * *", "UTC", "2026-05-01T09:30:00Z",
              "2026-05-01T12:30:00Z", ST_CATCH_UP_ALL, all);
  assert_due ("0 * * * *", "UTC", "2026-05-01T09:30:00Z",
              "2026-05-01T12:30:00Z", ST_CATCH_UP_LATEST, latest);
  /* none: 30 minutes late is too late; 30 seconds is on time. */
  assert_due ("0 * * * *", "UTC", "2026-05-01T09:30:00Z",
              "2026-05-01T12:30:00Z", ST_CATCH_UP_NONE, none);
  assert_due ("0 * * * *", "UTC", "2026-05-01T11:59:00Z",
              "2026-05-01T12:00:30Z", ST_CATCH_UP_NONE, latest);
  /* Strictly after from, up to now included. */
  assert_due ("0 * * * *", "UTC", "2026-05-01T12:00:00Z",
              "2026-05-01T12:59:59Z", ST_CATCH_UP_LATEST, none);
  /* A year of minutes missed: only the last one, found quickly. */
  {
    const char *minute[] = { "2026-05-01T12:30:00Z", NULL };
    const char *yearly[] = { "2026-01-01T00:00:00Z", NULL };
    assert_due ("* * * * *", "UTC", "2025-05-01T00:00:00Z",
                "2026-05-01T12:30:10Z", ST_CATCH_UP_LATEST, minute);
    assert_due ("0 0 1 1 *", "UTC", "2024-05-01T00:00:00Z",
                "2026-05-01T12:30:10Z", ST_CATCH_UP_LATEST, yearly);
  }
}

/* 09:00 local stays 09:00 local across the DST changes: the instants
 * move by an hour. */
static void
test_due_dst (void)
{
  const char *paris[] = { "2026-03-27T08:00:00Z", "2026-03-28T08:00:00Z",
                          "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z",
                          NULL };
  const char *new_york[] = { "2026-10-31T13:00:00Z", "2026-11-01T14:00:00Z",
                             NULL };
  /* 02:30 does not exist in Paris on 2026-03-29: the day's run comes at
   * 03:00, once (docs/schedules.md); and 01:30 New York, seen twice on
   * 2026-11-01, runs once. */
  const char *gap[] = { "2026-03-29T01:00:00Z", NULL };
  const char *twice[] = { "2026-11-01T05:30:00Z", NULL };

  assert_due ("0 9 * * *", "Europe/Paris", "2026-03-26T12:00:00Z",
              "2026-03-30T12:00:00Z", ST_CATCH_UP_ALL, paris);
  assert_due ("0 9 * * *", "America/New_York", "2026-10-31T00:00:00Z",
              "2026-11-01T20:00:00Z", ST_CATCH_UP_ALL, new_york);
  assert_due ("30 2 * * *", "Europe/Paris", "2026-03-28T12:00:00Z",
              "2026-03-29T12:00:00Z", ST_CATCH_UP_ALL, gap);
  assert_due ("30 1 * * *", "America/New_York", "2026-11-01T00:00:00Z",
              "2026-11-01T12:00:00Z", ST_CATCH_UP_ALL, twice);
}

static void
test_config (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) config = st_config_load_from_data (
      "campaigns:\n  workers: 3\n  batch_size: 250\n  catch_up: all\n"
      "  check_interval: 500ms\n", -1, "t.yaml", &error);
  g_autoptr (StConfig) defaults = st_config_new_default ();
  g_autoptr (StConfig) bad = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (config->campaign_workers, ==, 3);
  g_assert_cmpuint (config->campaign_batch_size, ==, 250);
  g_assert_cmpint (config->campaign_catch_up, ==, ST_CATCH_UP_ALL);
  g_assert_cmpuint (config->campaign_check_ms, ==, 500);
  g_assert_cmpuint (defaults->campaign_workers, ==, 2);
  g_assert_cmpuint (defaults->campaign_batch_size, ==, 1000);
  g_assert_cmpint (defaults->campaign_catch_up, ==, ST_CATCH_UP_LATEST);
  g_assert_cmpuint (defaults->campaign_check_ms, ==, 5000);

  bad = st_config_load_from_data ("campaigns:\n  catch_up: some\n", -1,
                                  "t.yaml", &error);
  g_assert_null (bad);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  st_test_assert_contains (error->message, "t.yaml:2:13: ");
  st_test_assert_contains (error->message, "latest, all or none");
  g_clear_error (&error);
  bad = st_config_load_from_data ("campaigns: { batchsize: 5 }\n", -1,
                                  "t.yaml", &error);
  g_assert_null (bad);
  st_test_assert_contains (error->message, "batch_size");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  (void) ST_ERROR;

  g_test_add_func ("/campaigns/due/catch-up", test_due_catch_up);
  g_test_add_func ("/campaigns/due/dst", test_due_dst);
  g_test_add_func ("/campaigns/config", test_config);
  g_test_add_func ("/campaigns/list", test_list);
  g_test_add_func ("/campaigns/run", test_run);
  g_test_add_func ("/campaigns/dry-run", test_dry_run);
  g_test_add_func ("/campaigns/failing-target", test_failing_target);
  g_test_add_func ("/campaigns/conflict-retried", test_conflict_retried);
  g_test_add_func ("/campaigns/batch-gives-up", test_batch_gives_up);
  g_test_add_func ("/campaigns/left-audience", test_left_audience);
  g_test_add_func ("/campaigns/row-as-record", test_row_as_record);
  g_test_add_func ("/campaigns/occurrence-once", test_occurrence_once);
  g_test_add_func ("/campaigns/two-daemons", test_two_daemons);
  g_test_add_func ("/campaigns/kill-resume", test_kill_resume);
  g_test_add_func ("/campaigns/leader-failover", test_leader_failover);
  g_test_add_func ("/campaigns/catch-up-latest", test_catch_up_latest);
  g_test_add_func ("/campaigns/local-time", test_local_time);
  g_test_add_func ("/campaigns/cancel", test_cancel);
  g_test_add_func ("/campaigns/cancel-live-not-left",
                   test_cancel_live_not_left);
  g_test_add_func ("/campaigns/cancel-cli-slow-batch",
                   test_cancel_cli_slow_batch);
  g_test_add_func ("/campaigns/cancel-last-batch", test_cancel_last_batch);
  g_test_add_func ("/campaigns/cli", test_cli);
  return g_test_run ();
}
