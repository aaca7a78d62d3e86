/* Tests for what the outbox does per channel and what people see of it:
 * each channel's delivery policy (core/st-outbox.c, st-delivery.c), its
 * rate limit (st-rate.c), HTML renderings (st-template.c, carried by the
 * outbox to the plugin), and stewardctl message list|show|retry
 * (st-messages.c, st-service-messages.c, st-cli-message.c) through the
 * real stewardctl, bus and daemon. The policy's configuration is in
 * test-config.c. Decisions that depend on the time use
 * st_delivery_set_clock(); the rate limit's real-time case reads the
 * spread of sent_at in the database rather than timing anything itself. */

#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "st-config.h"
#include "st-error.h"
#include "st-outbox.h"
#include "st-rate.h"
#include "st-template.h"
#include "st-test-util.h"

#define SECOND G_USEC_PER_SEC
#define MINUTE (G_GINT64_CONSTANT (60) * SECOND)
#define HOUR (G_GINT64_CONSTANT (3600) * SECOND)
/* Never shown anywhere: a channel setting the tests look for. */
#define SECRET "Tok-S3cret-Never-Shown"
#define TOM "<b>Tom & \"Jerry\"</b>"
#define TOM_ESCAPED "&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;"

static void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *folder = g_path_get_dirname (path);
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (folder, 0755), ==, 0);
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static char *
read_text (const char *path)
{
  char *text = NULL;

  g_file_get_contents (path, &text, NULL, NULL);
  return text;
}

/* The lines the flaky plugin's `record` file holds: KEY, ATTEMPT, HTML
 * (C-escaped, "-" for none), one GStrv per call. */
static GPtrArray *
read_record (const char *path)
{
  g_autofree char *text = read_text (path);
  g_auto (GStrv) lines = NULL;
  GPtrArray *calls =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);

  if (text == NULL)
    return calls;
  lines = g_strsplit (g_strchomp (text), "\n", -1);
  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      char **fields = g_strsplit (lines[i], "\t", 3);
      g_assert_cmpuint (g_strv_length (fields), ==, 3);
      g_ptr_array_add (calls, fields);
    }
  return calls;
}

/* In-process delivery ----------------------------------------------------- */

typedef struct {
  StTestDb *db;
  StStore *store;
  char *dir;
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
  f->dir = g_dir_make_tmp ("steward-messages-XXXXXX", &error);
  g_assert_no_error (error);
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

/* A folder with the log plugin and the flaky fixture, flat. */
static char *
plugin_dir (Fixture *f)
{
  g_autofree char *log = st_test_build_path ("plugins/log/liblog.so");
  g_autofree char *flaky = st_test_build_path ("tests/plugins/libflaky.so");
  char *dir = g_build_filename (f->dir, "plugins", NULL);
  g_autofree char *log_link = g_build_filename (dir, "liblog.so", NULL);
  g_autofree char *flaky_link = g_build_filename (dir, "libflaky.so", NULL);

  if (g_file_test (dir, G_FILE_TEST_IS_DIR))
    return dir;
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_cmpint (symlink (log, log_link), ==, 0);
  g_assert_cmpint (symlink (flaky, flaky_link), ==, 0);
  return dir;
}

/* "@DIR@" in @yaml stands for the fixture's folder. */
static StConfig *
make_config (Fixture *f, const char *yaml)
{
  g_autofree char *plugins = plugin_dir (f);
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  StConfig *config;

  g_string_append_printf (text, "plugin_dir: \"%s\"\n%s", plugins, yaml);
  g_string_replace (text, "@DIR@", f->dir, 0);
  config = st_config_load_from_data (text->str, -1, "test.yaml", &error);
  g_assert_no_error (error);
  return config;
}

static void
start (Fixture *f, const char *yaml)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) config = make_config (f, yaml);

  f->delivery = st_delivery_new (f->db->conninfo, config, alert_sink, f,
                                 &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->delivery);
}

static guint
run_once (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  guint n = st_delivery_run_once (f->delivery, &error);

  g_assert_no_error (error);
  return n;
}

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

static gint64
add_customer (Fixture *f, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PGresult) res = NULL;
  gint64 id;

  g_assert_true (st_store_begin (f->store, &error));
  res = st_store_exec_sql (f->store, "INSERT INTO customers (name, stage)"
                                     " VALUES ($1, 'lead') RETURNING id",
                           1, (const char *[]){ name }, &error);
  g_assert_no_error (error);
  id = g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10);
  g_assert_true (st_store_commit (f->store, &error));
  return id;
}

/* Enqueue @message; returns its id. */
static gint64
enqueue_message (Fixture *f, const StOutboxMessage *message)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  gboolean created = FALSE;

  g_assert_true (st_store_begin (f->store, &error));
  g_assert_true (st_outbox_enqueue (f->store, message, &created, &error));
  g_assert_no_error (error);
  g_assert_true (st_store_commit (f->store, &error));
  g_assert_true (created);
  id = query (f, "SELECT id FROM messages WHERE customer_id = %"
              G_GINT64_FORMAT " AND key = '%s'", message->customer_id,
              message->key);
  return g_ascii_strtoll (id, NULL, 10);
}

/* A message whose template picks the flaky plugin's answer. */
static gint64
enqueue (Fixture *f, gint64 customer, const char *channel, const char *key,
         const char *template_name)
{
  StOutboxMessage message = { .customer_id = customer,
                              .key = key,
                              .channel = channel,
                              .template_name = template_name,
                              .subject = "Hello",
                              .body = "Body" };

  return enqueue_message (f, &message);
}

static char *
field (Fixture *f, gint64 id, const char *column)
{
  return query (f, "SELECT %s FROM messages WHERE id = %" G_GINT64_FORMAT,
                column, id);
}

static void
assert_field (Fixture *f, gint64 id, const char *column, const char *expected)
{
  g_autofree char *value = field (f, id, column);

  g_assert_cmpstr (value, ==, expected);
}

static gint64
usec_field (Fixture *f, gint64 id, const char *column)
{
  g_autofree char *expr = g_strdup_printf (
      "(extract(epoch FROM %s) * 1000000)::bigint", column);
  g_autofree char *value = field (f, id, expr);

  g_assert_nonnull (value);
  return g_ascii_strtoll (value, NULL, 10);
}

/* A whole second ahead of the database's clock, so what was just enqueued
 * is due. */
static gint64
clock_now (void)
{
  return (g_get_real_time () / SECOND + 2) * SECOND;
}

static void
assert_due_within (Fixture *f, gint64 id, gint64 from, gint64 to)
{
  gint64 due = usec_field (f, id, "due_at");

  if (due < from || due > to)
    g_error ("message %" G_GINT64_FORMAT " is due %.3f s after now, not "
             "within %.3f to %.3f s", id, (due - from) / 1e6, 0.0,
             (to - from) / 1e6);
}

/* Policy ------------------------------------------------------------------- */

/* Each channel retries on its own schedule and gives up after its own
 * attempts; what a channel does not say comes from `delivery`. */
static void
test_policy_per_channel (Fixture *f, gconstpointer data)
{
  gint64 now = clock_now ();
  gint64 sms, push, fax;
  g_autofree char *sms_error = NULL;

  (void) data;
  start (f, "delivery: { max_attempts: 5, backoff: 10s, max_backoff: 1h }\n"
            "channels:\n"
            "  sms: { plugin: flaky, max_attempts: 2, backoff: 1m,"
            " max_backoff: 90s }\n"
            "  push: { plugin: flaky, max_backoff: 4s }\n"
            "  \"*\": { plugin: flaky }\n");
  sms = enqueue (f, add_customer (f, "sms"), "sms", "a", "retry");
  push = enqueue (f, add_customer (f, "push"), "push", "b", "retry");
  fax = enqueue (f, add_customer (f, "fax"), "fax", "c", "retry");

  /* First failure: the channel's backoff, ± 20 %. */
  st_delivery_set_clock (f->delivery, now);
  g_assert_cmpuint (run_once (f), ==, 3);
  assert_field (f, sms, "state", "retry");
  assert_due_within (f, sms, now + 48 * SECOND, now + 72 * SECOND);
  /* push: backoff 10s from delivery, cut to its own max_backoff 4s. */
  assert_due_within (f, push, now + 3200000, now + 4800000);
  assert_due_within (f, fax, now + 8 * SECOND, now + 12 * SECOND);

  /* Second: sms has had its 2 attempts; the others back off further. */
  now += HOUR;
  st_delivery_set_clock (f->delivery, now);
  g_assert_cmpuint (run_once (f), ==, 3);
  assert_field (f, sms, "state", "dead");
  assert_field (f, sms, "attempts", "2");
  sms_error = field (f, sms, "last_error");
  g_assert_cmpstr (sms_error, ==,
                   "flaky says retry (gave up after 2 attempts)");
  g_assert_cmpuint (f->alerts->len, ==, 1);
  assert_field (f, push, "state", "retry");
  assert_due_within (f, push, now + 3200000, now + 4800000);
  assert_field (f, fax, "state", "retry");
  assert_due_within (f, fax, now + 16 * SECOND, now + 24 * SECOND);

  /* push and fax go on to delivery's max_attempts, 5. */
  for (guint round = 3; round <= 5; round++)
    {
      now += HOUR;
      st_delivery_set_clock (f->delivery, now);
      g_assert_cmpuint (run_once (f), ==, 2);
    }
  assert_field (f, push, "state", "dead");
  assert_field (f, push, "attempts", "5");
  assert_field (f, fax, "state", "dead");
  assert_field (f, fax, "attempts", "5");
  g_assert_cmpuint (f->alerts->len, ==, 3);
  now += HOUR;
  st_delivery_set_clock (f->delivery, now);
  g_assert_cmpuint (run_once (f), ==, 0);
}

/* max_attempts, backoff, max_backoff and rate_limit are the daemon's: the
 * plugins, which refuse settings they do not know, never see them. */
static void
test_policy_reserved_keys (Fixture *f, gconstpointer data)
{
  g_autoptr (StConfig) refused = NULL;
  g_autoptr (GError) error = NULL;
  gint64 customer = add_customer (f, "keys");
  gint64 a, b;
  StDelivery *delivery;

  (void) data;
  /* The fixture is strict, like the real plugins. */
  refused = make_config (f, "channels:\n  sms: { plugin: flaky, bogus: 1 }\n");
  delivery = st_delivery_new (f->db->conninfo, refused, NULL, NULL, &error);
  g_assert_null (delivery);
  g_assert_nonnull (error);
  st_test_assert_contains (error->message, "unknown setting 'bogus'");

  start (f, "channels:\n"
            "  email: { plugin: log, path: \"@DIR@/log.jsonl\","
            " max_attempts: 3, backoff: 1s, max_backoff: 1m,"
            " rate_limit: 100/s }\n"
            "  sms: { plugin: flaky, max_attempts: 3, backoff: 1s,"
            " max_backoff: 1m, rate_limit: 100/s }\n");
  a = enqueue (f, customer, "email", "a", NULL);
  b = enqueue (f, customer, "sms", "b", NULL);
  st_delivery_set_clock (f->delivery, clock_now ());
  g_assert_cmpuint (run_once (f), ==, 2);
  assert_field (f, a, "state", "sent");
  assert_field (f, b, "state", "sent");
}

/* Rate limit -------------------------------------------------------------- */

static void
test_rate_slots (void)
{
  g_autoptr (StRate) rate = st_rate_new (5);
  gint64 t = 1000 * SECOND, until = 0;

  /* Idle: the first goes at once; the next ones get the following slots. */
  g_assert_true (st_rate_admit (rate, 1, t, &until));
  g_assert_cmpint (until, ==, t);
  g_assert_false (st_rate_admit (rate, 2, t, &until));
  g_assert_cmpint (until, ==, t + 200000);
  g_assert_false (st_rate_admit (rate, 3, t + 10000, &until));
  g_assert_cmpint (until, ==, t + 400000);
  /* Back too early (a retry asked for it): it keeps its slot. */
  g_assert_false (st_rate_admit (rate, 3, t + 300000, &until));
  g_assert_cmpint (until, ==, t + 400000);
  /* Back at its slot: it goes, without taking another. */
  g_assert_true (st_rate_admit (rate, 2, t + 200000, &until));
  g_assert_true (st_rate_admit (rate, 3, t + 400500, &until));
  g_assert_false (st_rate_admit (rate, 4, t + 400500, &until));
  g_assert_cmpint (until, ==, t + 600000);
  /* After a quiet while, one goes at once again (no burst saved up). */
  g_assert_true (st_rate_admit (rate, 5, t + 10 * SECOND, &until));
  g_assert_false (st_rate_admit (rate, 6, t + 10 * SECOND, &until));
  g_assert_cmpint (until, ==, t + 10 * SECOND + 200000);

  /* A kept slot nobody claims is forgotten after ST_RATE_FORGET_USEC: the
   * message then queues again like a new one. */
  t += HOUR;
  g_assert_true (st_rate_admit (rate, 7, t, &until));
  g_assert_false (st_rate_admit (rate, 8, t, &until));
  g_assert_cmpint (until, ==, t + 200000);
  t += ST_RATE_FORGET_USEC + MINUTE;
  g_assert_true (st_rate_admit (rate, 9, t, &until));
  g_assert_false (st_rate_admit (rate, 8, t, &until));
  g_assert_cmpint (until, ==, t + 200000);
}

/* Held by the rate limit, a message waits for its slot: not a failure, no
 * attempt counted, the reason recorded. */
static void
test_rate_hold (Fixture *f, gconstpointer data)
{
  g_autofree char *record = g_build_filename (f->dir, "record.txt", NULL);
  g_autofree char *yaml = g_strdup_printf (
      "channels:\n"
      "  email: { plugin: flaky, record: \"%s\", rate_limit: 1/m }\n",
      record);
  gint64 customer = add_customer (f, "slow");
  gint64 now = clock_now ();
  gint64 k1, k2, k3;
  g_autoptr (GPtrArray) calls = NULL;

  (void) data;
  start (f, yaml);
  k1 = enqueue (f, customer, "email", "k1", NULL);
  k2 = enqueue (f, customer, "email", "k2", NULL);
  k3 = enqueue (f, customer, "email", "k3", NULL);

  st_delivery_set_clock (f->delivery, now);
  g_assert_cmpuint (run_once (f), ==, 3);
  assert_field (f, k1, "state", "sent");
  for (guint i = 0; i < 2; i++)
    {
      gint64 id = i == 0 ? k2 : k3;
      assert_field (f, id, "state", "pending");
      assert_field (f, id, "attempts", "0");
      assert_field (f, id, "held_reason", "rate limit 1/m on email");
      assert_field (f, id, "last_error", NULL);
      g_assert_cmpint (usec_field (f, id, "due_at"), ==,
                       now + (i + 1) * MINUTE);
    }
  g_assert_cmpuint (run_once (f), ==, 0);

  st_delivery_set_clock (f->delivery, now + MINUTE);
  g_assert_cmpuint (run_once (f), ==, 1);
  assert_field (f, k2, "state", "sent");
  st_delivery_set_clock (f->delivery, now + 2 * MINUTE - 1);
  g_assert_cmpuint (run_once (f), ==, 0);
  st_delivery_set_clock (f->delivery, now + 2 * MINUTE);
  g_assert_cmpuint (run_once (f), ==, 1);
  assert_field (f, k3, "state", "sent");
  g_assert_cmpint (usec_field (f, k3, "sent_at"), ==, now + 2 * MINUTE);
  g_assert_cmpuint (f->alerts->len, ==, 0);

  /* Each handed over once, on its first attempt. */
  calls = read_record (record);
  g_assert_cmpuint (calls->len, ==, 3);
  for (guint i = 0; i < calls->len; i++)
    g_assert_cmpstr (((char **) g_ptr_array_index (calls, i))[1], ==, "1");
}

static GArray *
sent_times (Fixture *f, const char *channel)
{
  g_autofree char *text = query (
      f, "SELECT string_agg((extract(epoch FROM sent_at) * 1000000)::bigint"
         "::text, ',' ORDER BY sent_at) FROM messages WHERE channel = '%s'",
      channel);
  g_auto (GStrv) parts = g_strsplit (text != NULL ? text : "", ",", -1);
  GArray *times = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; parts[i] != NULL && parts[i][0] != '\0'; i++)
    {
      gint64 t = g_ascii_strtoll (parts[i], NULL, 10);
      g_array_append_val (times, t);
    }
  return times;
}

/* 3 workers, 20 messages due on a channel limited to 5/s and 5 on one
 * without a limit: the 20 leave over about 3.8 s (one every 200 ms, however
 * many threads), none failed, none dead, each on its first attempt; the
 * other channel is not held back. */
static void
test_rate_workers (Fixture *f, gconstpointer data)
{
  gint64 customer = add_customer (f, "many");
  g_autoptr (GArray) email = NULL, sms = NULL;
  g_autofree char *states = NULL, *held = NULL, *attempts = NULL;
  gint64 end, spread;

  (void) data;
  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *key = g_strdup_printf ("e%02u", i);
      enqueue (f, customer, "email", key, NULL);
    }
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *key = g_strdup_printf ("s%u", i);
      enqueue (f, customer, "sms", key, NULL);
    }
  start (f, "delivery: { workers: 3 }\n"
            "channels:\n"
            "  email: { plugin: log, path: \"@DIR@/email.jsonl\","
            " rate_limit: 5/s }\n"
            "  sms: { plugin: log, path: \"@DIR@/sms.jsonl\" }\n");
  st_delivery_start (f->delivery);
  end = g_get_monotonic_time () + 60 * SECOND;
  for (;;)
    {
      g_autofree char *sent = query (f, "SELECT count(*) FROM messages WHERE"
                                        " state = 'sent'");
      if (g_strcmp0 (sent, "25") == 0)
        break;
      if (g_get_monotonic_time () > end)
        g_error ("only %s of 25 messages sent after 60 s", sent);
      g_usleep (50 * 1000);
    }
  g_clear_pointer (&f->delivery, st_delivery_free);

  states = query (f, "SELECT string_agg(DISTINCT state, ',') FROM messages");
  g_assert_cmpstr (states, ==, "sent");
  attempts = query (f, "SELECT string_agg(DISTINCT attempts::text, ',')"
                       " FROM messages");
  g_assert_cmpstr (attempts, ==, "1");
  g_assert_cmpuint (f->alerts->len, ==, 0);
  held = query (f, "SELECT count(*) FROM messages WHERE held_reason ="
                   " 'rate limit 5/s on email'");
  g_test_message ("%s of 20 held by the rate limit", held);
  g_assert_cmpint (g_ascii_strtoll (held, NULL, 10), >=, 15);

  email = sent_times (f, "email");
  sms = sent_times (f, "sms");
  g_assert_cmpuint (email->len, ==, 20);
  g_assert_cmpuint (sms->len, ==, 5);
  spread = g_array_index (email, gint64, 19) - g_array_index (email, gint64, 0);
  g_test_message ("20 messages at 5/s sent over %.3f s", spread / 1e6);
  g_assert_cmpint (spread, >=, 3 * SECOND);
  /* In any stretch, never faster than the rate: the k-th message after
   * the first is at least k slots later, less the first one's delay in
   * reaching the database (generous for sanitizer builds). */
  for (guint i = 1; i < email->len; i++)
    g_assert_cmpint (g_array_index (email, gint64, i)
                         - g_array_index (email, gint64, 0),
                     >=, (gint64) i * 200000 - 150000);
  /* The channel without a limit went out at once. */
  g_assert_cmpint (g_array_index (sms, gint64, 4)
                       - g_array_index (email, gint64, 0),
                   <, 2 * SECOND);
}

/* HTML -------------------------------------------------------------------- */

static GVariant *
template_vars (const char *name)
{
  return st_test_parsed ("{'customer': <{'name': <%s>}>, 'event': <@a{sv} {}>,"
                         " 'data': <{'amount': <49.9>}>}", name);
}

/* The HTML beside the chosen text template, every value escaped; the
 * subject from the text. */
static void
test_html_render (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("steward-templates-XXXXXX", &error);
  const char *folders[] = { dir, NULL };
  g_autoptr (GVariant) vars = template_vars (TOM);
  g_autofree char *subject = NULL, *body = NULL, *html = NULL, *locale = NULL;

  g_assert_no_error (error);
  write_file (dir, "templates/note.en.txt",
              "Subject: For {{customer.name}}\n\nHello {{customer.name}}, "
              "{{data.amount}}\n");
  write_file (dir, "templates/note.en.html",
              "<p title=\"{{customer.name}}\">Hello {{customer.name}}, "
              "<b>{{data.amount}}</b></p>\n");
  write_file (dir, "templates/note.fr.txt", "Bonjour {{customer.name}}\n");
  write_file (dir, "templates/plain.en.txt", "Just text\n");
  write_file (dir, "templates/broken.en.txt", "Fine {{customer.name}}\n");
  write_file (dir, "templates/broken.en.html",
              "<p>{{customer.nickname}}</p>\n");
  write_file (dir, "templates/latin.en.txt", "Fine\n");
  write_file (dir, "templates/latin.en.html", "<p>caf\xe9</p>\n");

  g_assert_true (st_template_render (folders, "note", "en-GB", vars, &subject,
                                     &body, &html, &locale, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (locale, ==, "en");
  g_assert_cmpstr (subject, ==, "For " TOM);
  g_assert_cmpstr (body, ==, "Hello " TOM ", 49.90\n");
  g_assert_cmpstr (html, ==, "<p title=\"" TOM_ESCAPED "\">Hello " TOM_ESCAPED
                             ", <b>49.90</b></p>\n");
  g_clear_pointer (&subject, g_free);
  g_clear_pointer (&body, g_free);
  g_clear_pointer (&html, g_free);
  g_clear_pointer (&locale, g_free);

  /* French text, no French HTML: no HTML (not the English one, which
   * would say something else). */
  g_assert_true (st_template_render (folders, "note", "fr-CA", vars, &subject,
                                     &body, &html, &locale, &error));
  g_assert_cmpstr (locale, ==, "fr");
  g_assert_cmpstr (body, ==, "Bonjour " TOM "\n");
  g_assert_null (html);
  g_clear_pointer (&subject, g_free);
  g_clear_pointer (&body, g_free);
  g_clear_pointer (&locale, g_free);

  /* Locale tags are case-insensitive: FR and FR-ca are French. */
  g_assert_true (st_template_render (folders, "note", "FR", vars, &subject,
                                     &body, NULL, &locale, &error));
  g_assert_cmpstr (locale, ==, "fr");
  g_clear_pointer (&subject, g_free);
  g_clear_pointer (&body, g_free);
  g_clear_pointer (&locale, g_free);
  g_assert_true (st_template_render (folders, "note", "FR-ca", vars, &subject,
                                     &body, NULL, &locale, &error));
  g_assert_cmpstr (locale, ==, "fr");
  g_clear_pointer (&subject, g_free);
  g_clear_pointer (&body, g_free);
  g_clear_pointer (&locale, g_free);

  /* No HTML wanted, or none there. */
  g_assert_true (st_template_render (folders, "note", "en", vars, &subject,
                                     &body, NULL, &locale, &error));
  g_clear_pointer (&subject, g_free);
  g_clear_pointer (&body, g_free);
  g_clear_pointer (&locale, g_free);
  g_assert_true (st_template_render (folders, "plain", "en", vars, &subject,
                                     &body, &html, &locale, &error));
  g_assert_null (html);
  g_clear_pointer (&subject, g_free);
  g_clear_pointer (&body, g_free);
  g_clear_pointer (&locale, g_free);

  /* A bad HTML file fails the rendering, naming it. */
  g_assert_false (st_template_render (folders, "broken", "en", vars, &subject,
                                      &body, &html, &locale, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  st_test_assert_contains (error->message, "broken.en.html:1: no value for "
                                           "{{customer.nickname}}");
  g_assert_null (html);
  g_clear_error (&error);
  g_assert_false (st_template_render (folders, "latin", "en", vars, &subject,
                                      &body, &html, &locale, &error));
  st_test_assert_contains (error->message, "latin.en.html: not valid UTF-8");
  g_clear_error (&error);
  st_test_remove_tree (dir);
}

/* The outbox keeps the HTML and the claim hands it to the plugin. */
static void
test_html_claim (Fixture *f, gconstpointer data)
{
  g_autofree char *record = g_build_filename (f->dir, "record.txt", NULL);
  g_autofree char *yaml = g_strdup_printf (
      "channels:\n  email: { plugin: flaky, record: \"%s\" }\n", record);
  gint64 customer = add_customer (f, TOM);
  const char *markup = "<p>Hello " TOM_ESCAPED ",\n\xe2\x82\xac 49.90</p>\n";
  StOutboxMessage with = { .customer_id = customer, .key = "with",
                           .channel = "email", .body = "Hello",
                           .html = markup };
  StOutboxMessage without = { .customer_id = customer, .key = "without",
                              .channel = "email", .body = "Hello" };
  g_autoptr (GPtrArray) calls = NULL;
  g_autofree char *stored = NULL, *html = NULL;
  gint64 id;

  (void) data;
  start (f, yaml);
  id = enqueue_message (f, &with);
  enqueue_message (f, &without);
  stored = field (f, id, "html");
  g_assert_cmpstr (stored, ==, markup);
  st_delivery_set_clock (f->delivery, clock_now ());
  g_assert_cmpuint (run_once (f), ==, 2);
  calls = read_record (record);
  g_assert_cmpuint (calls->len, ==, 2);
  g_assert_cmpstr (((char **) g_ptr_array_index (calls, 0))[0], ==, "with");
  html = g_strcompress (((char **) g_ptr_array_index (calls, 0))[2]);
  g_assert_cmpstr (html, ==, markup);
  g_assert_cmpstr (((char **) g_ptr_array_index (calls, 1))[2], ==, "-");
}

/* Through the daemon and stewardctl ---------------------------------------- */

static const char note_script[] =
    "return {\n"
    "  name = 'note', on = { 'purchase' },\n"
    "  run = function(customer, event)\n"
    "    steward.send{ customer = customer, channel = 'email',\n"
    "                  template = 'note', key = 'note:' .. event.id,\n"
    "                  data = { amount = event.amount } }\n"
    "  end,\n"
    "}\n";

typedef struct {
  char *dir; /* scripts, templates, the plugin's files */
  char *result;
  char *record;
  StTestDaemon *daemon;
} Daemon;

static Daemon *
daemon_start (const char *first_result)
{
  Daemon *d = g_new0 (Daemon, 1);
  g_autoptr (GError) error = NULL;
  g_autofree char *plugins = st_test_build_path ("tests/plugins");
  g_autofree char *yaml = NULL;

  d->dir = g_dir_make_tmp ("steward-msgd-XXXXXX", &error);
  g_assert_no_error (error);
  write_file (d->dir, "note.lua", note_script);
  write_file (d->dir, "templates/note.en.txt",
              "Subject: Thanks {{customer.name}}\n\nHello {{customer.name}}, "
              "thank you for {{data.amount}}.\n");
  write_file (d->dir, "templates/note.en.html",
              "<p>Hello {{customer.name}}, thank you for "
              "<b>{{data.amount}}</b>.</p>\n");
  write_file (d->dir, "result", first_result);
  d->result = g_build_filename (d->dir, "result", NULL);
  d->record = g_build_filename (d->dir, "record.txt", NULL);
  yaml = g_strdup_printf (
      "scripts: [%s]\n"
      "plugin_dir: %s\n"
      "delivery: { workers: 1, max_attempts: 8 }\n"
      "channels:\n"
      "  email: { plugin: flaky, result_file: \"%s\", record: \"%s\",\n"
      "           secret: \"" SECRET "\", max_attempts: 2, backoff: 100ms,\n"
      "           max_backoff: 200ms, rate_limit: 50/s }\n",
      d->dir, plugins, d->result, d->record);
  d->daemon = st_test_daemon_start (yaml);
  return d;
}

static void
daemon_free (Daemon *d)
{
  g_autofree char *log = NULL;

  st_test_daemon_stop_process (d->daemon);
  log = read_text (d->daemon->log_path);
  g_assert_false (st_test_log_has_problem (log != NULL ? log : ""));
  /* A channel's settings are never logged. */
  g_assert_null (strstr (log != NULL ? log : "", SECRET));
  st_test_daemon_free (d->daemon);
  st_test_remove_tree (d->dir);
  g_free (d->dir);
  g_free (d->result);
  g_free (d->record);
  g_free (d);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Daemon, daemon_free)

static GVariant *
call (Daemon *d, const char *interface, const char *method, GVariant *params)
{
  g_autoptr (GError) error = NULL;
  GVariant *reply = st_test_daemon_call (d->daemon, interface, method, params,
                                         &error);

  g_assert_no_error (error);
  return reply;
}

static gint64
create_customer (Daemon *d, const char *name)
{
  g_autoptr (GVariant) reply = NULL, record = NULL;
  GVariantDict fields;

  g_variant_dict_init (&fields, NULL);
  g_variant_dict_insert (&fields, "name", "s", name);
  g_variant_dict_insert (&fields, "locale", "s", "en");
  reply = call (d, "Customers", "Create",
                g_variant_new ("(@a{sv})", g_variant_dict_end (&fields)));
  record = g_variant_get_child_value (reply, 0);
  return st_test_rec_int64 (record, "id");
}

static gint64
record_purchase (Daemon *d, gint64 customer)
{
  g_autofree char *address = g_strdup_printf ("id:%" G_GINT64_FORMAT, customer);
  g_autoptr (GVariant) reply = NULL, record = NULL;
  GVariantDict data;

  g_variant_dict_init (&data, NULL);
  g_variant_dict_insert (&data, "amount", "d", 49.9);
  reply = call (d, "Customers", "RecordEvent",
                g_variant_new ("(ss@a{sv})", address, "purchase",
                               g_variant_dict_end (&data)));
  record = g_variant_get_child_value (reply, 0);
  return st_test_rec_int64 (record, "id");
}

/* Waits until the message of @customer with @key is in @state; returns its
 * id. */
static gint64
wait_state (Daemon *d, gint64 customer, const char *key, const char *state)
{
  g_autofree char *sql = g_strdup_printf (
      "SELECT id || '|' || state FROM messages WHERE customer_id = %"
      G_GINT64_FORMAT " AND key = '%s'", customer, key);
  g_autofree char *suffix = g_strdup_printf ("|%s", state);
  gint64 deadline = g_get_monotonic_time () + 60 * SECOND;

  for (;;)
    {
      g_autofree char *row = st_test_db_query (d->daemon->db, sql);
      if (row != NULL && g_str_has_suffix (row, suffix))
        return g_ascii_strtoll (row, NULL, 10);
      if (g_get_monotonic_time () > deadline)
        g_error ("message %s is not %s after 60 s: %s", key, state,
                 row != NULL ? row : "(none)");
      g_usleep (50 * 1000);
    }
}

static JsonNode *
parse_json (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

/* stewardctl with @args; the exit status must be @status. Returns stdout;
 * *err gets stderr (may be NULL). */
static char *
ctl (Daemon *d, int status, char **err, ...) G_GNUC_NULL_TERMINATED;

static char *
ctl (Daemon *d, int status, char **err, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL, *stderr_text = NULL;
  va_list ap;
  int got;

  va_start (ap, err);
  for (const char *arg = va_arg (ap, const char *); arg != NULL;
       arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  got = st_test_ctlv (d->daemon, &out, &stderr_text,
                      (const char *const *) argv->pdata);
  if (got != status)
    g_error ("stewardctl exited %d, not %d\nstdout: %s\nstderr: %s", got,
             status, out, stderr_text);
  g_assert_null (strstr (out, SECRET));
  g_assert_null (strstr (stderr_text, SECRET));
  if (err != NULL)
    *err = g_steal_pointer (&stderr_text);
  return g_steal_pointer (&out);
}

/* A customer named with markup: the message keeps the text as it is and
 * the HTML escaped, and the plugin gets that HTML. */
static void
test_daemon_html (void)
{
  g_autoptr (Daemon) d = daemon_start ("sent");
  gint64 customer = create_customer (d, TOM);
  gint64 event = record_purchase (d, customer);
  g_autofree char *key = g_strdup_printf ("note:%" G_GINT64_FORMAT, event);
  gint64 id = wait_state (d, customer, key, "sent");
  g_autofree char *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  g_autofree char *out = NULL, *html = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GPtrArray) calls = NULL;
  const char *expected = "<p>Hello " TOM_ESCAPED ", thank you for "
                         "<b>49.90</b>.</p>\n";
  JsonObject *message;

  out = ctl (d, 0, NULL, "message", "show", id_text, "--json", NULL);
  root = parse_json (out);
  message = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member (message, "subject"), ==,
                   "Thanks " TOM);
  g_assert_cmpstr (json_object_get_string_member (message, "body"), ==,
                   "Hello " TOM ", thank you for 49.90.\n");
  g_assert_cmpstr (json_object_get_string_member (message, "html"), ==,
                   expected);
  calls = read_record (d->record);
  g_assert_cmpuint (calls->len, ==, 1);
  html = g_strcompress (((char **) g_ptr_array_index (calls, 0))[2]);
  g_assert_cmpstr (html, ==, expected);
}

static JsonObject *
alert_of (Daemon *d, gint64 customer)
{
  g_autofree char *customer_text = g_strdup_printf ("%" G_GINT64_FORMAT,
                                                    customer);
  g_autofree char *out = ctl (d, 0, NULL, "alert", "list", "--customer",
                              customer_text, "--kind", "delivery_failed",
                              "--json", NULL);
  g_autoptr (JsonNode) root = parse_json (out);
  JsonArray *alerts = json_node_get_array (root);

  g_assert_cmpuint (json_array_get_length (alerts), ==, 1);
  return json_object_ref (json_array_get_object_element (alerts, 0));
}

/* A dead message, listed and shown; retried, it is delivered and its
 * alert acknowledged; a sent one cannot be retried. */
static void
test_daemon_cli (void)
{
  g_autoptr (Daemon) d = daemon_start ("failed");
  gint64 customer = create_customer (d, "Ada Lovelace");
  gint64 event = record_purchase (d, customer);
  g_autofree char *key = g_strdup_printf ("note:%" G_GINT64_FORMAT, event);
  gint64 id = wait_state (d, customer, key, "dead");
  g_autofree char *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  g_autofree char *customer_text = g_strdup_printf ("%" G_GINT64_FORMAT,
                                                    customer);
  g_autofree char *out = NULL, *err = NULL, *expected = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonObject) alert = NULL, acked = NULL;
  g_autoptr (GPtrArray) calls = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  JsonArray *list;
  JsonObject *message;

  /* list --json: the dead message with what went wrong. */
  out = ctl (d, 0, NULL, "message", "list", "--json", NULL);
  root = parse_json (out);
  list = json_node_get_array (root);
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  message = json_array_get_object_element (list, 0);
  g_assert_cmpint (json_object_get_int_member (message, "id"), ==, id);
  g_assert_cmpint (json_object_get_int_member (message, "customer_id"), ==,
                   customer);
  g_assert_cmpstr (json_object_get_string_member (message, "state"), ==,
                   "dead");
  g_assert_cmpint (json_object_get_int_member (message, "attempts"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (message, "last_error"), ==,
                   "flaky says failed");
  g_assert_cmpstr (json_object_get_string_member (message, "key"), ==, key);
  g_assert_cmpstr (json_object_get_string_member (message, "channel"), ==,
                   "email");
  g_assert_cmpstr (json_object_get_string_member (message, "subject"), ==,
                   "Thanks Ada Lovelace");
  g_assert_false (json_object_has_member (message, "body"));
  g_clear_pointer (&root, json_node_unref);
  g_clear_pointer (&out, g_free);

  /* The table, and the filters. */
  out = ctl (d, 0, NULL, "message", "list", "--state", "dead", "--customer",
             customer_text, "--channel", "email", NULL);
  g_test_message ("%s", out);
  g_assert_true (g_str_has_prefix (out, "ID "));
  st_test_assert_contains (out, "CUSTOMER  CHANNEL  KEY");
  st_test_assert_contains (out, key);
  st_test_assert_contains (out, "dead");
  st_test_assert_contains (out, "flaky says failed");
  g_clear_pointer (&out, g_free);
  out = ctl (d, 0, NULL, "message", "list", "--state", "sent", NULL);
  g_assert_cmpstr (out, ==, "No messages match.\n");
  g_clear_pointer (&out, g_free);

  /* show: a block, the HTML as its size. */
  out = ctl (d, 0, NULL, "message", "show", id_text, NULL);
  g_test_message ("%s", out);
  st_test_assert_contains (out, "State:");
  st_test_assert_contains (out, "Last error:");
  st_test_assert_contains (out, "flaky says failed");
  st_test_assert_contains (out, "bytes (--json shows it)");
  st_test_assert_contains (out, "Hello Ada Lovelace, thank you for 49.90.");
  g_clear_pointer (&out, g_free);

  alert = alert_of (d, customer);
  g_assert_cmpstr (json_object_get_string_member (alert, "state"), ==, "open");

  /* retry: delivered this time, on a fresh first attempt. */
  write_file (d->dir, "result", "sent");
  out = ctl (d, 0, NULL, "message", "retry", id_text, NULL);
  g_test_message ("%s", out);
  expected = g_strdup_printf ("Message %s is due again now (it was dead); "
                              "quiet hours, frequency caps and rate limits "
                              "still apply\nAcknowledged alert %" G_GINT64_FORMAT,
                              id_text,
                              json_object_get_int_member (alert, "id"));
  g_assert_true (g_str_has_prefix (out, expected));
  g_clear_pointer (&out, g_free);
  wait_state (d, customer, key, "sent");
  calls = read_record (d->record);
  g_assert_cmpuint (calls->len, ==, 2);
  g_assert_cmpstr (((char **) g_ptr_array_index (calls, 1))[1], ==, "1");
  acked = alert_of (d, customer);
  g_assert_cmpstr (json_object_get_string_member (acked, "state"), ==,
                   "acknowledged");
  g_assert_cmpstr (json_object_get_string_member (acked, "acknowledged_by"),
                   ==, g_get_user_name ());
  g_clear_pointer (&expected, g_free);
  expected = g_strdup_printf ("message %s retried", id_text);
  g_assert_cmpstr (json_object_get_string_member (acked, "note"), ==, expected);

  /* A sent message is not retried: exit 1, the daemon's reason. */
  out = ctl (d, 1, &err, "message", "retry", id_text, NULL);
  g_assert_cmpstr (out, ==, "");
  g_test_message ("%s", err);
  g_clear_pointer (&expected, g_free);
  expected = g_strdup_printf ("stewardctl: message %s was sent at ", id_text);
  g_assert_true (g_str_has_prefix (err, expected));
  st_test_assert_contains (err, "a sent message is not retried, it would "
                                "reach the customer twice");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  reply = st_test_daemon_call (d->daemon, "Messages", "Retry",
                               g_variant_new ("(x)", id), &error);
  g_assert_null (reply);
  g_assert_error (error, ST_ERROR, ST_ERROR_ILLEGAL_TRANSITION);
  g_clear_error (&error);

  /* Not there; not a message state; not an id. */
  out = ctl (d, 1, &err, "message", "show", "999999", NULL);
  g_assert_cmpstr (err, ==, "stewardctl: no message 999999; 'stewardctl "
                            "message list' shows them\n");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  out = ctl (d, 1, &err, "message", "retry", "999999", NULL);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  out = ctl (d, 2, &err, "message", "list", "--state", "lost", NULL);
  st_test_assert_contains (err, "'lost' is not a message state");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  out = ctl (d, 2, &err, "message", "retry", "abc", NULL);
  st_test_assert_contains (err, "message retry: ID:");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  out = ctl (d, 1, &err, "message", "list", "--customer", "nobody-here", NULL);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* Over the bus, a state that is no state is refused by the daemon. */
  reply = st_test_daemon_call (
      d->daemon, "Messages", "List",
      g_variant_new_parsed ("({'state': <'lost'>},)"), &error);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) \
  g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

  ADD ("/messages/policy/per-channel", test_policy_per_channel);
  ADD ("/messages/policy/reserved-keys", test_policy_reserved_keys);
  g_test_add_func ("/messages/rate/slots", test_rate_slots);
  ADD ("/messages/rate/hold", test_rate_hold);
  ADD ("/messages/rate/workers", test_rate_workers);
  g_test_add_func ("/messages/html/render", test_html_render);
  ADD ("/messages/html/claim", test_html_claim);
  g_test_add_func ("/messages/daemon/html", test_daemon_html);
  g_test_add_func ("/messages/daemon/cli", test_daemon_cli);

  return g_test_run ();
}
