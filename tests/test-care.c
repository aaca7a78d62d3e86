/* The care engine end to end: the real stewardd with the shipped scripts,
 * the real log channel plugin, a real bus and database. What a user sees:
 * lines in the messages file, stages, alerts, health. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

#include "st-test-util.h"

typedef struct {
  StTestDaemon *daemon;
  char *dir;           /* messages file and test scripts */
  char *messages;
} Fixture;

static char *
daemon_yaml (const char *dir, const char *scripts)
{
  g_autofree char *plugins = st_test_build_path ("plugins");

  return g_strdup_printf (
      "scripts: [%s]\n"
      "plugin_dir: %s\n"
      "care: { workers: 2 }\n"
      "delivery: { workers: 2 }\n"
      "lua: { timeout: 30s, instructions: 100000000000 }\n"
      "channels:\n"
      "  \"*\": { plugin: log, path: %s/messages.jsonl }\n",
      scripts, plugins, dir);
}

static void
fixture_start (Fixture *fx, const char *scripts)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *yaml = NULL;

  fx->dir = g_dir_make_tmp ("steward-care-XXXXXX", &error);
  g_assert_no_error (error);
  fx->messages = g_build_filename (fx->dir, "messages.jsonl", NULL);
  yaml = daemon_yaml (fx->dir, scripts);
  fx->daemon = st_test_daemon_start (yaml);
}

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  g_autofree char *scripts = st_test_source_path ("scripts");

  (void) data;
  fixture_start (fx, scripts);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  (void) data;
  st_test_daemon_free (fx->daemon);
  st_test_remove_tree (fx->dir);
  g_free (fx->dir);
  g_free (fx->messages);
}

/* Helpers ---------------------------------------------------------------- */

static GVariant *
call (Fixture *fx, const char *interface, const char *method, GVariant *params)
{
  g_autoptr (GError) error = NULL;
  GVariant *reply = st_test_daemon_call (fx->daemon, interface, method,
                                         params, &error);
  g_assert_no_error (error);
  return reply;
}

static gint64
create_customer (Fixture *fx, const char *name, const char *locale)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) record = NULL;
  GVariantDict fields;
  g_autofree char *email = g_strdup_printf ("%s-%u@example.com", name,
                                            g_random_int ());

  g_variant_dict_init (&fields, NULL);
  g_variant_dict_insert (&fields, "name", "s", name);
  g_variant_dict_insert (&fields, "email", "s", email);
  if (locale != NULL)
    g_variant_dict_insert (&fields, "locale", "s", locale);
  reply = call (fx, "Customers", "Create",
                g_variant_new ("(@a{sv})", g_variant_dict_end (&fields)));
  record = g_variant_get_child_value (reply, 0);
  return st_test_rec_int64 (record, "id");
}

static gint64
record_event (Fixture *fx, gint64 customer, const char *kind,
              const char *data_text)
{
  g_autofree char *address = g_strdup_printf ("id:%" G_GINT64_FORMAT,
                                              customer);
  g_autoptr (GVariant) data = g_variant_parse (G_VARIANT_TYPE_VARDICT,
                                               data_text ? data_text : "{}",
                                               NULL, NULL, NULL);
  g_autoptr (GVariant) reply = NULL, record = NULL;

  g_assert_nonnull (data);
  reply = call (fx, "Customers", "RecordEvent",
                g_variant_new ("(ss@a{sv})", address, kind, data));
  record = g_variant_get_child_value (reply, 0);
  return st_test_rec_int64 (record, "id");
}

static void
set_stage (Fixture *fx, gint64 customer, const char *stage)
{
  g_autofree char *address = g_strdup_printf ("id:%" G_GINT64_FORMAT,
                                              customer);
  g_autoptr (GVariant) reply = call (fx, "Customers", "SetStage",
                                     g_variant_new ("(sss)", address, stage,
                                                    "test"));
}

static GVariant *
get_customer (Fixture *fx, gint64 customer)
{
  g_autofree char *address = g_strdup_printf ("id:%" G_GINT64_FORMAT,
                                              customer);
  g_autoptr (GVariant) reply = call (fx, "Customers", "Get",
                                     g_variant_new ("(s)", address));
  return g_variant_get_child_value (reply, 0);
}

/* The message lines for @customer written by @script, parsed. */
static GPtrArray *
message_lines (Fixture *fx, gint64 customer, const char *script)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func (
      (GDestroyNotify) json_object_unref);
  g_autofree char *text = NULL;
  g_auto (GStrv) split = NULL;

  if (!g_file_get_contents (fx->messages, &text, NULL, NULL))
    return lines;
  split = g_strsplit (text, "\n", -1);
  for (guint i = 0; split[i] != NULL; i++)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonObject *object;
      if (split[i][0] == '\0')
        continue;
      g_assert_true (json_parser_load_from_data (parser, split[i], -1, NULL));
      object = json_node_get_object (json_parser_get_root (parser));
      if (json_object_get_int_member (object, "customer_id") != customer)
        continue;
      if (script != NULL
          && g_strcmp0 (json_object_get_string_member_with_default (
                            object, "script", ""),
                        script) != 0)
        continue;
      g_ptr_array_add (lines, json_object_ref (object));
    }
  return lines;
}

/* Wait (generously: this is "it happens", not "it happens fast") until
 * @customer has @count lines from @script. */
static GPtrArray *
wait_lines (Fixture *fx, gint64 customer, const char *script, guint count)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;

  for (;;)
    {
      GPtrArray *lines = message_lines (fx, customer, script);
      if (lines->len >= count || g_get_monotonic_time () > deadline)
        return lines;
      g_ptr_array_unref (lines);
      g_usleep (50 * 1000);
    }
}

/* Wait until no job is pending or running for @customer that is due. */
static void
wait_jobs_settled (Fixture *fx, gint64 customer)
{
  g_autofree char *sql = g_strdup_printf (
      "SELECT count(*) FROM care_jobs WHERE customer_id = %" G_GINT64_FORMAT
      " AND state = 'pending' AND due_at <= now()", customer);
  gint64 deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;

  while (st_test_db_query_int (fx->daemon->db, sql) > 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }
}

/* Bring follow-ups and delayed jobs of @customer due now: time travel. */
static void
make_due (Fixture *fx, gint64 customer)
{
  g_autofree char *sql = g_strdup_printf (
      "WITH u AS (UPDATE care_jobs SET due_at = now() WHERE customer_id = %"
      G_GINT64_FORMAT " AND state = 'pending' RETURNING 1),"
      " n AS (SELECT pg_notify('steward_care', '')) "
      "SELECT (SELECT count(*) FROM u) + 0 * (SELECT count(*) FROM n)",
      customer);
  g_assert_cmpint (st_test_db_query_int (fx->daemon->db, sql), >, 0);
}

static gint64
count_sql (Fixture *fx, const char *format, gint64 customer)
{
  g_autofree char *sql = g_strdup_printf (format, customer);
  return st_test_db_query_int (fx->daemon->db, sql);
}

/* Tests ------------------------------------------------------------------ */

static void
test_thank_you_french_once (Fixture *fx, gconstpointer data)
{
  gint64 customer = create_customer (fx, "Amélie", "fr");
  gint64 event = record_event (fx, customer, "purchase",
                               "{'amount': <49.9>, 'key': <'order-1'>}");
  g_autoptr (GPtrArray) lines = wait_lines (fx, customer, "thank-you", 1);
  g_autofree char *key = g_strdup_printf ("thanks:%" G_GINT64_FORMAT, event);
  JsonObject *line;

  (void) data;
  g_assert_cmpuint (lines->len, ==, 1);
  line = g_ptr_array_index (lines, 0);
  g_assert_cmpstr (json_object_get_string_member (line, "subject"), ==,
                   "Merci pour votre commande");
  st_test_assert_contains (json_object_get_string_member (line, "body"),
                           "Bonjour Amélie");
  st_test_assert_contains (json_object_get_string_member (line, "body"),
                           "49.90");
  g_assert_cmpstr (json_object_get_string_member (line, "channel"), ==,
                   "email");
  g_assert_cmpstr (json_object_get_string_member (line, "key"), ==, key);

  /* The same purchase again (a client retry) and time for any duplicate
   * to show: still one message. */
  record_event (fx, customer, "purchase",
                "{'amount': <49.9>, 'key': <'order-1'>}");
  wait_jobs_settled (fx, customer);
  g_usleep (1500 * 1000);
  g_ptr_array_unref (g_steal_pointer (&lines));
  lines = message_lines (fx, customer, "thank-you");
  g_assert_cmpuint (lines->len, ==, 1);
  g_assert_cmpint (count_sql (fx, "SELECT count(*) FROM messages WHERE "
                                  "customer_id = %" G_GINT64_FORMAT
                                  " AND state = 'sent'", customer),
                   >=, 1);
}

static void
test_thank_you_english_fallback (Fixture *fx, gconstpointer data)
{
  gint64 customer = create_customer (fx, "Bob", "de");
  g_autoptr (GPtrArray) lines = NULL;

  (void) data;
  record_event (fx, customer, "purchase", "{'amount': <10.0>}");
  lines = wait_lines (fx, customer, "thank-you", 1);
  g_assert_cmpuint (lines->len, ==, 1);
  g_assert_cmpstr (json_object_get_string_member (
                       g_ptr_array_index (lines, 0), "subject"),
                   ==, "Thank you for your order");
}

static void
test_welcome_on_onboarding (Fixture *fx, gconstpointer data)
{
  gint64 customer = create_customer (fx, "Chloé", "fr");
  g_autoptr (GPtrArray) lines = NULL;

  (void) data;
  set_stage (fx, customer, "onboarding");
  lines = wait_lines (fx, customer, "welcome", 1);
  g_assert_cmpuint (lines->len, ==, 1);
  g_assert_cmpstr (json_object_get_string_member (
                       g_ptr_array_index (lines, 0), "subject"),
                   ==, "Bienvenue, Chloé");
}

static void
test_satisfaction_follow_up (Fixture *fx, gconstpointer data)
{
  gint64 customer = create_customer (fx, "Dana", "en");
  g_autoptr (GPtrArray) lines = NULL;

  (void) data;
  record_event (fx, customer, "purchase", "{'amount': <20.0>}");
  wait_jobs_settled (fx, customer);
  /* A week later, not before. */
  g_assert_cmpint (count_sql (fx, "SELECT count(*) FROM care_jobs WHERE "
                                  "customer_id = %" G_GINT64_FORMAT
                                  " AND script = 'satisfaction' AND trigger"
                                  " = 'follow_up' AND due_at > now() + "
                                  "interval '6 days'", customer),
                   ==, 1);
  lines = message_lines (fx, customer, "satisfaction");
  g_assert_cmpuint (lines->len, ==, 0);
  g_ptr_array_unref (g_steal_pointer (&lines));

  make_due (fx, customer);
  lines = wait_lines (fx, customer, "satisfaction", 1);
  g_assert_cmpuint (lines->len, ==, 1);
  g_assert_cmpstr (json_object_get_string_member (
                       g_ptr_array_index (lines, 0), "subject"),
                   ==, "How did it go?");
}

static void
test_satisfaction_skipped_after_ticket (Fixture *fx, gconstpointer data)
{
  gint64 customer = create_customer (fx, "Eve", "en");
  g_autoptr (GPtrArray) lines = NULL;

  (void) data;
  record_event (fx, customer, "purchase", "{'amount': <20.0>}");
  wait_jobs_settled (fx, customer);
  record_event (fx, customer, "ticket_opened", NULL);
  wait_jobs_settled (fx, customer);
  make_due (fx, customer);
  wait_jobs_settled (fx, customer);
  g_usleep (1000 * 1000);
  lines = message_lines (fx, customer, "satisfaction");
  g_assert_cmpuint (lines->len, ==, 0);
  /* The follow-up ran and decided, rather than failing. */
  g_assert_cmpint (count_sql (fx, "SELECT count(*) FROM care_jobs WHERE "
                                  "customer_id = %" G_GINT64_FORMAT
                                  " AND script = 'satisfaction' AND trigger"
                                  " = 'follow_up' AND state = 'done'",
                              customer),
                   ==, 1);
}

/* A health factor: JSON gives whole numbers back as integers. */
static double
factor_value (GVariant *factors, const char *name)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (factors, name, NULL);

  g_assert_nonnull (value);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    return (double) g_variant_get_int64 (value);
  return g_variant_get_double (value);
}

static void
test_health_scored (Fixture *fx, gconstpointer data)
{
  gint64 customer = create_customer (fx, "Farid", NULL);
  g_autoptr (GVariant) record = NULL, factors = NULL;
  gint32 score;

  (void) data;
  record_event (fx, customer, "purchase", "{'amount': <80.0>}");
  record_event (fx, customer, "survey", "{'data': <{'score': <10>}>}");
  wait_jobs_settled (fx, customer);
  record = get_customer (fx, customer);
  g_assert_true (g_variant_lookup (record, "health_score", "i", &score));
  g_assert_cmpint (score, >=, 0);
  g_assert_cmpint (score, <=, 100);
  /* A fresh purchase and a promoter's score: not at risk. One small
   * first order is not yet a healthy customer either: the model
   * (lib/health_model.lua) scores the odds of buying again within 90
   * days, and one order says little about them. */
  g_assert_cmpint (score, >=, 35);
  factors = g_variant_lookup_value (record, "health_factors",
                                    G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (factors);
  for (const char *const *f = (const char *const[]){ "recency", "frequency",
                                                     "spend", "season",
                                                     "open_tickets", "nps",
                                                     NULL };
       *f != NULL; f++)
    {
      g_autoptr (GVariant) factor = g_variant_lookup_value (factors, *f,
                                                            NULL);
      g_assert_nonnull (factor);
    }
  /* Just bought: silence costs nothing yet; the promoter adds. */
  g_assert_cmpfloat (factor_value (factors, "recency"), >, -1);
  g_assert_cmpfloat (factor_value (factors, "nps"), >, 0);
  g_assert_cmpint (count_sql (fx, "SELECT count(*) FROM health_history "
                                  "WHERE customer_id = %" G_GINT64_FORMAT,
                              customer),
                   ==, 2);
}

static void
test_churn_risk_and_recovery (Fixture *fx, gconstpointer data)
{
  gint64 customer = create_customer (fx, "Gaston", "fr");
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) long_ago = g_date_time_add_days (now, -300);
  g_autofree char *at = g_date_time_format_iso8601 (long_ago);
  g_autofree char *old_purchase = g_strdup_printf (
      "{'amount': <30.0>, 'at': <'%s'>}", at);
  g_autoptr (GVariant) record = NULL, alerts = NULL;
  g_autofree char *filter = NULL, *address = NULL;
  const char *stage;

  (void) data;
  set_stage (fx, customer, "onboarding");
  set_stage (fx, customer, "active");
  record_event (fx, customer, "purchase", old_purchase);
  record_event (fx, customer, "ticket_opened", NULL);
  record_event (fx, customer, "ticket_opened", NULL);
  record_event (fx, customer, "survey", "{'data': <{'score': <2>}>}");
  wait_jobs_settled (fx, customer);

  record = get_customer (fx, customer);
  g_assert_true (g_variant_lookup (record, "stage", "&s", &stage));
  g_assert_cmpstr (stage, ==, "at_risk");
  address = g_strdup_printf ("id:%" G_GINT64_FORMAT, customer);
  alerts = call (fx, "Alerts", "List",
                 g_variant_new_parsed ("({'open': <true>, 'customer': <%s>},)",
                                       address));
  filter = st_test_print_value (alerts);
  st_test_assert_contains (filter, "churn_risk");
  g_clear_pointer (&record, g_variant_unref);

  /* Buying again, tickets closed, a happy survey: back to active. */
  record_event (fx, customer, "ticket_closed", NULL);
  record_event (fx, customer, "ticket_closed", NULL);
  for (int i = 0; i < 4; i++)
    record_event (fx, customer, "purchase", "{'amount': <60.0>}");
  record_event (fx, customer, "survey", "{'data': <{'score': <10>}>}");
  wait_jobs_settled (fx, customer);
  record = get_customer (fx, customer);
  g_assert_true (g_variant_lookup (record, "stage", "&s", &stage));
  g_assert_cmpstr (stage, ==, "active");
}

static void
test_win_back_after_churn (Fixture *fx, gconstpointer data)
{
  gint64 customer = create_customer (fx, "Hana", "en");
  g_autoptr (GPtrArray) lines = NULL;

  (void) data;
  set_stage (fx, customer, "onboarding");
  set_stage (fx, customer, "active");
  set_stage (fx, customer, "at_risk");
  set_stage (fx, customer, "churned");
  wait_jobs_settled (fx, customer);
  /* Fourteen days later, not now. */
  g_assert_cmpint (count_sql (fx, "SELECT count(*) FROM care_jobs WHERE "
                                  "customer_id = %" G_GINT64_FORMAT
                                  " AND script = 'win-back' AND due_at > "
                                  "now() + interval '13 days'", customer),
                   ==, 1);
  make_due (fx, customer);
  lines = wait_lines (fx, customer, "win-back", 1);
  g_assert_cmpuint (lines->len, ==, 1);
  st_test_assert_contains (json_object_get_string_member (
                               g_ptr_array_index (lines, 0), "body"),
                           "COMEBACK20");
}

static void
test_scripts_listed (Fixture *fx, gconstpointer data)
{
  g_autoptr (GVariant) reply = call (fx, "Scripts", "List", NULL);
  g_autofree char *text = st_test_print_value (reply);

  (void) data;
  for (const char *const *name = (const char *const[]){
           "health", "welcome", "thank-you", "satisfaction", "churn-risk",
           "win-back", NULL };
       *name != NULL; name++)
    st_test_assert_contains (text, *name);
  g_assert_null (strstr (text, "broken"));
}

/* Scripts written by the test ------------------------------------------- */

static char *
write_scripts (const char *const *names_and_sources)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("steward-scripts-XXXXXX", &error);

  g_assert_no_error (error);
  for (guint i = 0; names_and_sources[i] != NULL; i += 2)
    {
      g_autofree char *path = g_build_filename (dir, names_and_sources[i],
                                                NULL);
      g_file_set_contents (path, names_and_sources[i + 1], -1, &error);
      g_assert_no_error (error);
    }
  return dir;
}

static const char slow_script[] =
  "return {\n"
  "  name = 'slow', on = { 'slow' },\n"
  "  run = function(customer, event)\n"
  "    steward.send{ customer = customer, channel = 'email',\n"
  "                  key = 'slow:' .. event.id, subject = 'Slow',\n"
  "                  body = 'once' }\n"
  "    steward.log('warning', 'spinning before commit')\n"
  /* Wall-clock seconds (os.time), not CPU time: on a loaded machine the
   * worker may get little CPU, and the point is only to be mid-run. */
  "    local t = os.time()\n"
  "    while os.time() - t < 2 do end\n"
  "  end,\n"
  "}\n";

static void
test_kill_before_commit_sends_once (void)
{
  g_autofree char *scripts = write_scripts (
      (const char *const[]){ "slow.lua", slow_script, NULL });
  Fixture fx = { 0 };
  gint64 customer;
  g_autoptr (GPtrArray) lines = NULL;
  gint64 deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;

  fixture_start (&fx, scripts);
  customer = create_customer (&fx, "Iris", NULL);
  record_event (&fx, customer, "slow", NULL);

  /* The script has run its send and is spinning before the commit. */
  for (;;)
    {
      g_autofree char *log = NULL;
      g_file_get_contents (fx.daemon->log_path, &log, NULL, NULL);
      if (log != NULL && strstr (log, "spinning before commit") != NULL)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }
  g_subprocess_send_signal (fx.daemon->process, SIGKILL);
  st_test_daemon_restart (fx.daemon);

  lines = wait_lines (&fx, customer, "slow", 1);
  g_assert_cmpuint (lines->len, ==, 1);
  wait_jobs_settled (&fx, customer);
  g_usleep (1500 * 1000);
  g_ptr_array_unref (g_steal_pointer (&lines));
  lines = message_lines (&fx, customer, "slow");
  g_assert_cmpuint (lines->len, ==, 1);
  g_assert_cmpint (count_sql (&fx, "SELECT count(*) FROM care_jobs WHERE "
                                   "customer_id = %" G_GINT64_FORMAT
                                   " AND state = 'done' AND attempts = 1",
                               customer),
                   ==, 1);
  fixture_teardown (&fx, NULL);
  st_test_remove_tree (scripts);
}

static const char failing_script[] =
  "return {\n"
  "  name = 'failing', on = { 'boom' },\n"
  "  run = function(customer, event)\n"
  "    steward.send{ customer = customer, channel = 'email',\n"
  "                  key = 'never', body = 'never' }\n"
  "    error('deliberate failure')\n"
  "  end,\n"
  "}\n";

static const char broken_script[] = "return { name = 'broken', on = {\n";

static void
on_alert_raised (GDBusConnection *connection, const char *sender,
                 const char *path, const char *interface, const char *signal,
                 GVariant *params, gpointer user_data)
{
  GPtrArray *kinds = user_data;
  g_autoptr (GVariant) alert = g_variant_get_child_value (params, 0);
  const char *kind = NULL;

  (void) connection, (void) sender, (void) path, (void) interface;
  (void) signal;
  if (g_variant_lookup (alert, "kind", "&s", &kind))
    g_ptr_array_add (kinds, g_strdup (kind));
}

static void
test_failing_and_broken_scripts (void)
{
  g_autofree char *scripts = write_scripts ((const char *const[]){
      "failing.lua", failing_script, "broken.lua", broken_script, NULL });
  Fixture fx = { 0 };
  gint64 customer;
  g_autoptr (GVariant) list = NULL, alerts = NULL;
  g_autofree char *text = NULL, *alert_text = NULL;
  g_autoptr (GPtrArray) kinds = NULL;
  guint subscription;
  gint64 deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;

  fixture_start (&fx, scripts);
  /* The broken script is listed as broken; the daemon runs anyway. */
  list = call (&fx, "Scripts", "List", NULL);
  text = st_test_print_value (list);
  st_test_assert_contains (text, "broken.lua:");
  st_test_assert_contains (text, "'state': <'broken'>");

  kinds = g_ptr_array_new_with_free_func (g_free);
  subscription = g_dbus_connection_signal_subscribe (
      fx.daemon->connection, NULL, "org.steward.Steward1.Alerts",
      "AlertRaised", "/org/steward/Steward1", NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_alert_raised, kinds, NULL);
  customer = create_customer (&fx, "Jules", NULL);
  record_event (&fx, customer, "boom", NULL);
  wait_jobs_settled (&fx, customer);
  /* Clients hear of the alert: AlertRaised is emitted after the commit. */
  while (kinds->len == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000);
    }
  g_assert_cmpstr (g_ptr_array_index (kinds, 0), ==, "script_failed");
  g_dbus_connection_signal_unsubscribe (fx.daemon->connection, subscription);
  g_assert_cmpint (count_sql (&fx, "SELECT count(*) FROM care_jobs WHERE "
                                   "customer_id = %" G_GINT64_FORMAT
                                   " AND state = 'failed' AND last_error "
                                   "LIKE '%%deliberate failure%%'",
                               customer),
                   ==, 1);
  /* Nothing the failed run decided was kept. */
  g_assert_cmpint (count_sql (&fx, "SELECT count(*) FROM messages WHERE "
                                   "customer_id = %" G_GINT64_FORMAT,
                               customer),
                   ==, 0);
  alerts = call (&fx, "Alerts", "List",
                 g_variant_new_parsed ("({'open': <true>},)"));
  alert_text = st_test_print_value (alerts);
  st_test_assert_contains (alert_text, "script_failed");
  st_test_assert_contains (alert_text, "deliberate failure");
  fixture_teardown (&fx, NULL);
  st_test_remove_tree (scripts);
}

/* A call that asks for more actions than one transaction should hold fails
 * at the action over the limit, before anything is written: tens of
 * thousands of tags would otherwise hold the customer's row for minutes. */
static const char greedy_script[] =
  "return {\n"
  "  name = 'greedy', on = { 'greed' },\n"
  "  run = function(customer, event)\n"
  "    for i = 1, 1001 do steward.tag(customer, 't' .. i) end\n"
  "  end,\n"
  "}\n";

static void
test_too_many_actions (void)
{
  g_autofree char *scripts = write_scripts ((const char *const[]){
      "greedy.lua", greedy_script, NULL });
  Fixture fx = { 0 };
  gint64 customer;

  fixture_start (&fx, scripts);
  customer = create_customer (&fx, "Midas", NULL);
  record_event (&fx, customer, "greed", NULL);
  wait_jobs_settled (&fx, customer);
  g_assert_cmpint (count_sql (&fx, "SELECT count(*) FROM care_jobs WHERE "
                                   "customer_id = %" G_GINT64_FORMAT
                                   " AND state = 'failed' AND last_error "
                                   "LIKE '%%greedy.lua:4: steward.tag: more "
                                   "than 1000 actions in one call%%'",
                               customer),
                   ==, 1);
  g_assert_cmpint (count_sql (&fx, "SELECT count(*) FROM customers WHERE "
                                   "id = %" G_GINT64_FORMAT
                                   " AND cardinality(tags) > 0", customer),
                   ==, 0);
  fixture_teardown (&fx, NULL);
  st_test_remove_tree (scripts);
}

/* steward.log("info", ...) is in the daemon's log as it runs, like the
 * daemon's own messages: GLib's INFO level is dropped unless
 * G_MESSAGES_DEBUG is set, and docs/lua.md shows info as the usual level. */
static const char chatty_script[] =
  "return {\n"
  "  name = 'chatty', on = { 'chat' },\n"
  "  run = function(customer, event)\n"
  "    steward.log('info', 'hello from chatty')\n"
  "    steward.log('warning', 'careful from chatty')\n"
  "  end,\n"
  "}\n";

static void
test_log_levels (void)
{
  g_autofree char *scripts = write_scripts ((const char *const[]){
      "chatty.lua", chatty_script, NULL });
  Fixture fx = { 0 };
  gint64 customer;
  g_autofree char *log = NULL;

  g_unsetenv ("G_MESSAGES_DEBUG");
  fixture_start (&fx, scripts);
  customer = create_customer (&fx, "Talker", NULL);
  record_event (&fx, customer, "chat", NULL);
  wait_jobs_settled (&fx, customer);
  g_assert_true (g_file_get_contents (fx.daemon->log_path, &log, NULL, NULL));
  st_test_assert_contains (log, "script chatty (customer ");
  st_test_assert_contains (log, "hello from chatty");
  st_test_assert_contains (log, "careful from chatty");
  fixture_teardown (&fx, NULL);
  st_test_remove_tree (scripts);
}

/* Sends with a template that does not exist for customers named Bad: the
 * script runs, and writing its message fails. */
static const char picky_script[] =
  "return {\n"
  "  name = 'picky', on = { 'pick' },\n"
  "  run = function(customer, event)\n"
  "    local message = { customer = customer, channel = 'email',\n"
  "                      key = 'pick:' .. event.id }\n"
  "    if customer.name == 'Bad' then\n"
  "      message.template = 'no_such_template'\n"
  "    else\n"
  "      message.subject = 'Picked'\n"
  "      message.body = 'You were picked'\n"
  "    end\n"
  "    steward.send(message)\n"
  "  end,\n"
  "}\n";

/* Jobs committed together are run together (one transaction per batch);
 * one job whose actions cannot be written must not cost the others their
 * messages, nor send any of them twice. */
static void
test_batch_with_one_bad_write (void)
{
  g_autofree char *scripts = write_scripts (
      (const char *const[]){ "picky.lua", picky_script, NULL });
  const char *names[] = { "Ann", "Bad", "Cy", "Dee" };
  gint64 ids[G_N_ELEMENTS (names)];
  GVariantBuilder events;
  Fixture fx = { 0 };

  fixture_start (&fx, scripts);
  g_variant_builder_init (&events, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *address = NULL;

      ids[i] = create_customer (&fx, names[i], NULL);
      address = g_strdup_printf ("id:%" G_GINT64_FORMAT, ids[i]);
      g_variant_builder_add_parsed (&events, "{'customer': <%s>, "
                                    "'kind': <'pick'>}", address);
    }
  g_variant_unref (call (&fx, "Customers", "RecordEvents",
                         g_variant_new ("(aa{sv})", &events)));

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    wait_jobs_settled (&fx, ids[i]);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      gboolean bad = g_str_equal (names[i], "Bad");
      g_autoptr (GPtrArray) lines = wait_lines (&fx, ids[i], "picky",
                                                bad ? 0 : 1);

      g_assert_cmpuint (lines->len, ==, bad ? 0 : 1);
      g_assert_cmpint (count_sql (&fx, "SELECT count(*) FROM messages WHERE "
                                       "customer_id = %" G_GINT64_FORMAT,
                                  ids[i]),
                       ==, bad ? 0 : 1);
      g_assert_cmpint (count_sql (&fx, bad
                                  ? "SELECT count(*) FROM care_jobs WHERE "
                                    "customer_id = %" G_GINT64_FORMAT " AND "
                                    "state = 'failed' AND last_error LIKE "
                                    "'%%no_such_template%%'"
                                  : "SELECT count(*) FROM care_jobs WHERE "
                                    "customer_id = %" G_GINT64_FORMAT " AND "
                                    "state = 'done' AND attempts = 1",
                                  ids[i]),
                       ==, 1);
      g_assert_cmpint (count_sql (&fx, "SELECT count(*) FROM alerts WHERE "
                                       "customer_id = %" G_GINT64_FORMAT
                                       " AND kind = 'script_failed'",
                                  ids[i]),
                       ==, bad ? 1 : 0);
    }
  fixture_teardown (&fx, NULL);
  st_test_remove_tree (scripts);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/care/thank-you/french-once", Fixture, NULL, fixture_setup,
              test_thank_you_french_once, fixture_teardown);
  g_test_add ("/care/thank-you/english-fallback", Fixture, NULL,
              fixture_setup, test_thank_you_english_fallback,
              fixture_teardown);
  g_test_add ("/care/welcome/on-onboarding", Fixture, NULL, fixture_setup,
              test_welcome_on_onboarding, fixture_teardown);
  g_test_add ("/care/satisfaction/follow-up", Fixture, NULL, fixture_setup,
              test_satisfaction_follow_up, fixture_teardown);
  g_test_add ("/care/satisfaction/skipped-after-ticket", Fixture, NULL,
              fixture_setup, test_satisfaction_skipped_after_ticket,
              fixture_teardown);
  g_test_add ("/care/health/scored", Fixture, NULL, fixture_setup,
              test_health_scored, fixture_teardown);
  g_test_add ("/care/churn-risk/and-recovery", Fixture, NULL, fixture_setup,
              test_churn_risk_and_recovery, fixture_teardown);
  g_test_add ("/care/win-back/after-churn", Fixture, NULL, fixture_setup,
              test_win_back_after_churn, fixture_teardown);
  g_test_add ("/care/scripts/listed", Fixture, NULL, fixture_setup,
              test_scripts_listed, fixture_teardown);
  g_test_add_func ("/care/kill-before-commit/sends-once",
                   test_kill_before_commit_sends_once);
  g_test_add_func ("/care/batch/one-bad-write",
                   test_batch_with_one_bad_write);
  g_test_add_func ("/care/too-many-actions", test_too_many_actions);
  g_test_add_func ("/care/log-levels", test_log_levels);
  g_test_add_func ("/care/failing-and-broken-scripts",
                   test_failing_and_broken_scripts);
  return g_test_run ();
}
