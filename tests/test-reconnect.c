/* Tests for the reconnect logic of core/st-store.c and core/st-engine.c, as
 * a user of the bus sees it: PostgreSQL stopped and started again under a
 * running stewardd.
 *
 * The shared test cluster must keep running for the other tests, so this
 * program makes its own with tools/pg in a temporary folder. Each case runs
 * in a subprocess (g_test_trap_subprocess): a failed assertion aborts only
 * that subprocess, and this process still stops the cluster and removes the
 * folder. The stewardd a case starts is killed with it (PR_SET_PDEATHSIG). */

#include "st-test-util.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "st-error.h"
#include "st-service.h"
#include "st-store.h"

#define PG_DIR_VAR "STEWARD_RECONNECT_PG_DIR"
/* Well within the 30 s a D-Bus call may take: a call never hangs. */
#define PROMPT_SECONDS 10
/* How long the daemon may take to serve again once PostgreSQL is back. */
#define HEAL_SECONDS 10

/* The private cluster ------------------------------------------------------ */

/* Run tools/pg COMMAND DIR [--fast]; the last line it printed, or NULL with
 * @error when it failed. */
static char *
pg_tool (const char *command, const char *dir, gboolean fast, GError **error)
{
  g_autofree char *tool = st_test_source_path ("tools/pg");
  const char *argv[] = { tool, command, dir, fast ? "--fast" : NULL, NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_auto (GStrv) lines = NULL;
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                     &out, &err, &status, error))
    return NULL;
  if (!g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "tools/pg %s %s: %s: ", command, dir, err);
      return NULL;
    }
  g_strstrip (out);
  lines = g_strsplit (out, "\n", -1);
  return g_strdup (lines[0] ? lines[g_strv_length (lines) - 1] : "");
}

/* In a case: the cluster must do as told, or the case fails. */
static void
pg_must (const char *command)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *last = pg_tool (command, g_getenv (PG_DIR_VAR), FALSE,
                                   &error);

  g_assert_no_error (error);
}

/* One case: its database, bus and daemon --------------------------------- */

typedef struct {
  char *conninfo; /* this case's database on the private cluster */
  char *dir;      /* config and log */
  char *config_path;
  char *log_path;
  GTestDBus *bus;
  GDBusConnection *connection;
  GSubprocess *process;
} Case;

static GSubprocess *
spawn_stewardd (Case *c, GSubprocessFlags flags)
{
  return st_test_spawn_stewardd (c->conninfo, c->bus, c->config_path,
                                 c->log_path, flags, st_test_die_with_parent);
}

static gboolean
daemon_alive (Case *c)
{
  /* The identifier is NULL once the process has ended. */
  return g_subprocess_get_identifier (c->process) != NULL;
}

static char *
read_log (Case *c)
{
  char *log = NULL;

  if (!g_file_get_contents (c->log_path, &log, NULL, NULL))
    return g_strdup ("(no log)");
  return log;
}

static void
case_setup (Case *c)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *base = pg_tool ("conninfo", g_getenv (PG_DIR_VAR), FALSE,
                                   &error);
  g_autofree char *dbname = g_strdup_printf ("st_reconnect_%d",
                                             (int) getpid ());
  g_autofree char *sql = g_strdup_printf ("CREATE DATABASE %s", dbname);
  PGconn *admin;
  PGresult *res;

  g_assert_no_error (error);
  admin = PQconnectdb (base);
  g_assert_cmpint (PQstatus (admin), ==, CONNECTION_OK);
  res = PQexec (admin, sql);
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_COMMAND_OK);
  PQclear (res);
  PQfinish (admin);
  /* In a conninfo string the last value of a keyword wins. */
  c->conninfo = g_strdup_printf ("%s dbname=%s", base, dbname);

  /* Inside the cluster's folder, so it goes with it even after a crash. */
  c->dir = g_build_filename (g_getenv (PG_DIR_VAR), "case-XXXXXX", NULL);
  g_assert_nonnull (g_mkdtemp (c->dir));
  c->config_path = g_build_filename (c->dir, "steward.yaml", NULL);
  c->log_path = g_build_filename (c->dir, "stewardd.log", NULL);
  g_file_set_contents (c->config_path, "bus: session\nworkers: 4\n", -1,
                       &error);
  g_assert_no_error (error);

  c->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (c->bus);
  c->connection = st_test_bus_connect (c->bus);

  c->process = spawn_stewardd (c, G_SUBPROCESS_FLAGS_NONE);
  st_test_wait_for_name (c->connection, c->process, c->log_path);
}

static void
case_teardown (Case *c)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *log = NULL;

  /* The daemon lived through it all and still stops cleanly. */
  g_assert_true (daemon_alive (c));
  g_subprocess_send_signal (c->process, SIGTERM);
  g_subprocess_wait (c->process, NULL, &error);
  g_assert_no_error (error);
  log = read_log (c);
  if (!g_subprocess_get_if_exited (c->process)
      || g_subprocess_get_exit_status (c->process) != 0
      || st_test_log_has_problem (log))
    g_error ("stewardd did not stop cleanly; its log:\n%s", log);

  g_clear_object (&c->process);
  g_clear_object (&c->connection);
  g_test_dbus_down (c->bus);
  g_clear_object (&c->bus);
  g_unlink (c->config_path);
  g_unlink (c->log_path);
  g_rmdir (c->dir);
  g_free (c->config_path);
  g_free (c->log_path);
  g_free (c->dir);
  g_free (c->conninfo);
}

/* Calls -------------------------------------------------------------------- */

static GVariant *
call (Case *c, const char *interface, const char *method, GVariant *params,
      GError **error)
{
  return st_test_bus_call (c->connection, interface, method, params, error);
}

/* The single value of a successful reply. */
static GVariant *
call_ok (Case *c, const char *interface, const char *method, GVariant *params)
{
  return st_test_bus_call_ok (c->connection, interface, method, params);
}

static void
assert_unavailable (const GError *error)
{
  g_autofree char *remote = NULL;
  g_autoptr (GError) plain = NULL;

  g_assert_nonnull (error);
  remote = g_dbus_error_get_remote_error (error);
  if (g_strcmp0 (remote, "org.steward.Steward1.Error.Unavailable") != 0)
    g_error ("expected org.steward.Steward1.Error.Unavailable, got %s: %s",
             remote, error->message);
  g_assert_error (error, ST_ERROR, ST_ERROR_UNAVAILABLE);
  plain = g_error_copy (error);
  g_dbus_error_strip_remote_error (plain);
  /* A message a person can act on. */
  if (strstr (plain->message, "database") == NULL)
    g_error ("the message does not say what is unavailable: %s",
             plain->message);
}

/* The call fails with Unavailable, and promptly. */
static void
call_unavailable (Case *c, const char *interface, const char *method,
                  GVariant *params)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed;

  reply = call (c, interface, method, params, &error);
  elapsed = g_get_monotonic_time () - start;
  g_test_message ("%s.%s: %.2f s: %s", interface, method,
                  elapsed / (double) G_TIME_SPAN_SECOND,
                  error ? error->message : "(succeeded)");
  g_assert_null (reply);
  assert_unavailable (error);
  g_assert_cmpint (elapsed, <, PROMPT_SECONDS * G_TIME_SPAN_SECOND);
}

/* Retry while the answer is Unavailable, for at most HEAL_SECONDS. */
static GVariant *
call_until_ok (Case *c, const char *interface, const char *method,
               GVariant *params)
{
  g_autoptr (GVariant) owned = params ? g_variant_ref_sink (params) : NULL;
  gint64 deadline = g_get_monotonic_time () + HEAL_SECONDS * G_TIME_SPAN_SECOND;
  guint attempts = 0;

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) reply = call (c, interface, method, owned, &error);

      attempts++;
      if (reply != NULL)
        {
          g_test_message ("%s.%s answered after %u attempt(s)", interface,
                          method, attempts);
          return g_variant_get_child_value (reply, 0);
        }
      assert_unavailable (error);
      if (g_get_monotonic_time () > deadline)
        g_error ("%s.%s still fails %d s after PostgreSQL came back (%u "
                 "attempts): %s", interface, method, HEAL_SECONDS, attempts,
                 error->message);
      g_usleep (200 * 1000);
    }
}

static char *
create_customer (Case *c, const char *name, const char *ref)
{
  GVariantBuilder fields;
  g_autoptr (GVariant) record = NULL;

  g_variant_builder_init (&fields, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&fields, "{sv}", "name", g_variant_new_string (name));
  if (ref != NULL)
    g_variant_builder_add (&fields, "{sv}", "ref", g_variant_new_string (ref));
  record = call_ok (c, "Customers", "Create",
                    g_variant_new ("(a{sv})", &fields));
  return g_strdup_printf ("%" G_GINT64_FORMAT,
                          st_test_rec_int64 (record, "id"));
}

static GVariant *
event_params (const char *customer, const char *kind, const char *key)
{
  GVariantBuilder data;

  g_variant_builder_init (&data, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&data, "{sv}", "amount", g_variant_new_double (5.0));
  if (key != NULL)
    g_variant_builder_add (&data, "{sv}", "key", g_variant_new_string (key));
  return g_variant_new ("(ssa{sv})", customer, kind, &data);
}

/* Many calls in flight at once, so the daemon uses all its connections. */
typedef struct {
  guint pending;
  guint failed;
  char *first_error;
} Burst;

static void
on_burst_reply (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Burst *burst = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (
      G_DBUS_CONNECTION (source), result, &error);

  if (reply == NULL && burst->failed++ == 0)
    burst->first_error = g_strdup (error->message);
  burst->pending--;
}

static void
burst_of_gets (Case *c, const char *customer, guint n)
{
  Burst burst = { n, 0, NULL };
  gint64 deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;

  for (guint i = 0; i < n; i++)
    g_dbus_connection_call (c->connection, ST_BUS_NAME, ST_OBJECT_PATH,
                            "org.steward.Steward1.Customers", "Get",
                            g_variant_new ("(s)", customer), NULL,
                            G_DBUS_CALL_FLAGS_NONE, 30000, NULL,
                            on_burst_reply, &burst);
  while (burst.pending > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (burst.pending, ==, 0);
  if (burst.failed > 0)
    g_error ("%u of %u concurrent Get calls failed, first: %s", burst.failed,
             n, burst.first_error);
}

/* The cases --------------------------------------------------------------- */

/* With PostgreSQL gone, every call that needs it says so at once; calls that
 * do not need it still work, and the daemon stays up. */
static void
test_fails_fast_while_down (Case *c)
{
  g_autofree char *id = create_customer (c, "Ada", "ada");
  g_autoptr (GVariant) version = NULL;

  g_variant_unref (call_ok (c, "Customers", "RecordEvent",
                            event_params (id, "login", NULL)));
  pg_must ("stop");

  call_unavailable (c, "Customers", "Get", g_variant_new ("(s)", id));
  call_unavailable (c, "Customers", "RecordEvent",
                    event_params (id, "purchase", "k1"));
  call_unavailable (c, "Customers", "Get", g_variant_new ("(s)", "ada"));
  call_unavailable (c, "Customers", "Create",
                    g_variant_new_parsed ("({'name': <'Grace'>},)"));
  call_unavailable (c, "Customers", "Update",
                    g_variant_new_parsed ("(%s, {'name': <'Ada K'>})", id));
  call_unavailable (c, "Customers", "Find",
                    g_variant_new_parsed ("(@a{sv} {},)"));
  call_unavailable (c, "Customers", "SetStage",
                    g_variant_new ("(sss)", id, "onboarding", ""));
  call_unavailable (c, "Customers", "Timeline",
                    g_variant_new_parsed ("(%s, @a{sv} {})", id));
  call_unavailable (c, "Customers", "RecordEvents",
                    g_variant_new_parsed ("([{'customer': <%s>, 'kind': "
                                          "<'login'>}],)", id));
  call_unavailable (c, "Manager", "SchemaVersion", NULL);
  /* Again: the second time round is no slower than the first. */
  call_unavailable (c, "Customers", "Get", g_variant_new ("(s)", id));

  version = call_ok (c, "Manager", "Version", NULL);
  g_assert_cmpstr (g_variant_get_string (version, NULL), !=, "");
  g_assert_true (daemon_alive (c));
  g_assert_true (st_test_name_has_owner (c->connection));
}

static void
test_status_while_down (Case *c)
{
  g_autofree char *id = create_customer (c, "Ada", NULL);
  g_autoptr (GVariant) up = NULL, down = NULL, back = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  const char *message = NULL;
  gint64 start;

  up = call_ok (c, "Manager", "Status", NULL);
  g_assert_cmpstr (st_test_rec_str (up, "database"), ==, "ok");
  pg_must ("stop");

  start = g_get_monotonic_time ();
  reply = call (c, "Manager", "Status", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - start, <,
                   PROMPT_SECONDS * G_TIME_SPAN_SECOND);
  down = g_variant_get_child_value (reply, 0);
  g_assert_cmpstr (st_test_rec_str (down, "database"), ==, "unavailable");
  g_assert_true (g_variant_lookup (down, "database_error", "&s", &message));
  g_assert_cmpuint (strlen (message), >, 0);
  /* What does not come from the database is still there. */
  g_assert_cmpstr (st_test_rec_str (down, "version"), ==,
                   st_test_rec_str (up, "version"));
  g_assert_cmpstr (st_test_rec_str (down, "started_at"), ==,
                   st_test_rec_str (up, "started_at"));
  g_assert_false (g_variant_lookup (down, "customers", "x", NULL));

  pg_must ("start");
  {
    gint64 deadline = g_get_monotonic_time ()
                      + HEAL_SECONDS * G_TIME_SPAN_SECOND;
    for (;;)
      {
        back = call_ok (c, "Manager", "Status", NULL);
        if (g_str_equal (st_test_rec_str (back, "database"), "ok"))
          break;
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_clear_pointer (&back, g_variant_unref);
        g_usleep (200 * 1000);
      }
  }
  g_assert_cmpint (st_test_rec_int64 (back, "customers"), ==, 1);
  /* Same process: it was never restarted. */
  g_assert_cmpstr (st_test_rec_str (back, "started_at"), ==,
                   st_test_rec_str (up, "started_at"));
}

/* Once PostgreSQL is back, the same daemon serves again, every one of its
 * connections, with the data as it was: twice over. */
static void
test_heals_when_back (Case *c)
{
  g_autofree char *id = create_customer (c, "Ada", "ada");
  g_autoptr (GVariant) before = NULL, first = NULL;

  first = call_ok (c, "Customers", "RecordEvent",
                   event_params (id, "purchase", "order-1"));
  /* Open all the daemon's connections before the outage. */
  burst_of_gets (c, id, 16);
  before = call_ok (c, "Customers", "Get", g_variant_new ("(s)", id));

  for (guint round = 0; round < 2; round++)
    {
      g_autoptr (GVariant) after = NULL, again = NULL, fresh = NULL;
      g_autofree char *key = g_strdup_printf ("after-%u", round);
      gboolean duplicate = FALSE;

      pg_must ("stop");
      call_unavailable (c, "Customers", "Get", g_variant_new ("(s)", id));
      call_unavailable (c, "Customers", "RecordEvent",
                        event_params (id, "purchase", key));
      pg_must ("start");

      after = call_until_ok (c, "Customers", "Get",
                             g_variant_new ("(s)", "ada"));
      if (round == 0)
        g_assert_true (g_variant_equal (after, before));
      /* Every connection of the pool heals, not only the first one. */
      burst_of_gets (c, id, 16);

      /* The idempotency key of the event from before the outage holds. */
      again = call_ok (c, "Customers", "RecordEvent",
                       event_params (id, "purchase", "order-1"));
      g_assert_true (g_variant_lookup (again, "duplicate", "b", &duplicate));
      g_assert_true (duplicate);
      g_assert_cmpint (st_test_rec_int64 (again, "id"), ==,
                       st_test_rec_int64 (first, "id"));
      /* The event refused during the outage was not half-recorded. */
      fresh = call_ok (c, "Customers", "RecordEvent",
                       event_params (id, "purchase", key));
      g_assert_true (g_variant_lookup (fresh, "duplicate", "b", &duplicate));
      g_assert_false (duplicate);
    }
  {
    g_autoptr (GVariant) customer = call_ok (c, "Customers", "Get",
                                             g_variant_new ("(s)", id));
    g_assert_cmpint (st_test_rec_int64 (customer, "event_count"), ==, 3);
    g_assert_cmpint (st_test_rec_int64 (customer, "purchase_count"), ==, 3);
  }
}

/* SchemaVersion too comes back, even when it is the first call made. */
static void
test_schema_version_when_back (Case *c)
{
  g_autoptr (GVariant) before = call_ok (c, "Manager", "SchemaVersion", NULL);
  g_autoptr (GVariant) after = NULL;

  g_assert_cmpint (g_variant_get_int32 (before), ==,
                   st_store_known_schema_version ());
  pg_must ("stop");
  call_unavailable (c, "Manager", "SchemaVersion", NULL);
  call_unavailable (c, "Manager", "SchemaVersion", NULL);
  pg_must ("start");
  after = call_until_ok (c, "Manager", "SchemaVersion", NULL);
  g_assert_cmpint (g_variant_get_int32 (after), ==,
                   g_variant_get_int32 (before));
}

/* A call in the middle of its transaction when the server goes away gets
 * an answer (not a hang), and is recorded once or not at all. */
static void
test_call_in_flight (Case *c)
{
  g_autofree char *id = create_customer (c, "Ada", NULL);
  g_autofree char *lock_sql = g_strdup_printf (
      "SELECT id FROM customers WHERE id = %s FOR UPDATE", id);
  PGconn *holder = PQconnectdb (c->conninfo);
  PGresult *res;
  StTestPending pending = { 0 };
  gint64 deadline;
  g_autoptr (GVariant) retried = NULL, customer = NULL;
  gboolean duplicate = TRUE, committed;

  g_assert_cmpint (PQstatus (holder), ==, CONNECTION_OK);
  res = PQexec (holder, "BEGIN");
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_COMMAND_OK);
  PQclear (res);
  res = PQexec (holder, lock_sql);
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_TUPLES_OK);
  PQclear (res);

  g_dbus_connection_call (c->connection, ST_BUS_NAME, ST_OBJECT_PATH,
                          "org.steward.Steward1.Customers", "RecordEvent",
                          event_params (id, "purchase", "in-flight"),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                          30000, NULL, st_test_pending_done, &pending);
  deadline = g_get_monotonic_time () + 15 * G_TIME_SPAN_SECOND;
  while (st_test_lock_waiters (c->conninfo) < 1)
    {
      g_main_context_iteration (NULL, FALSE);
      g_assert_false (pending.done);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }

  /* A fast shutdown ends every session, the waiting one too. */
  pg_must ("stop");
  PQfinish (holder);
  deadline = g_get_monotonic_time () + PROMPT_SECONDS * G_TIME_SPAN_SECOND;
  while (!pending.done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (10 * 1000);
  g_assert_true (pending.done);
  /* The shutdown ends the lock holder too, so the waiting call may get
   * its lock and commit just before its own session ends (its COMMIT
   * travels with the insert): then it answers, and the event is there.
   * Otherwise it fails as unavailable, and nothing of it was kept. Either
   * way the retry with the same key leaves exactly one event. */
  committed = pending.reply != NULL;
  if (!committed)
    assert_unavailable (pending.error);
  g_clear_error (&pending.error);
  g_clear_pointer (&pending.reply, g_variant_unref);

  pg_must ("start");
  retried = call_until_ok (c, "Customers", "RecordEvent",
                           event_params (id, "purchase", "in-flight"));
  g_assert_true (g_variant_lookup (retried, "duplicate", "b", &duplicate));
  g_assert_cmpint (duplicate, ==, committed);
  customer = call_ok (c, "Customers", "Get", g_variant_new ("(s)", id));
  g_assert_cmpint (st_test_rec_int64 (customer, "event_count"), ==, 1);
}

/* A daemon started while PostgreSQL is down says why and exits, promptly. */
static void
test_start_while_down (Case *c)
{
  g_autoptr (GSubprocess) second = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  gint64 start;

  pg_must ("stop");
  start = g_get_monotonic_time ();
  second = spawn_stewardd (c, G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                  | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_communicate_utf8 (second, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - start, <,
                   PROMPT_SECONDS * G_TIME_SPAN_SECOND);
  g_assert_true (g_subprocess_get_if_exited (second));
  g_assert_cmpint (g_subprocess_get_exit_status (second), ==, 1);
  if (strstr (err, "database is unavailable") == NULL)
    g_error ("expected the reason on stderr, got: %s", err);
  /* The one already running is not disturbed. */
  g_assert_true (daemon_alive (c));
  pg_must ("start");
}

/* Harness ------------------------------------------------------------------ */

typedef struct {
  void (*func) (Case *c);
} CaseFunc;

static void
remove_cluster (const char *dir)
{
  g_autoptr (GError) error = NULL;
  const char *argv[] = { "rm", "-rf", "--", dir, NULL };
  int status;

  g_free (pg_tool ("stop", dir, FALSE, NULL));
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                     NULL, NULL, NULL, &status, &error)
      || !g_spawn_check_wait_status (status, &error))
    g_printerr ("could not remove %s: %s\n", dir, error->message);
}

/* The private cluster, made on first use and after a failure. */
static char *cluster_dir;

static gboolean
ensure_cluster (GError **error)
{
  g_autofree char *conninfo = NULL;

  if (cluster_dir != NULL)
    return TRUE;
  /* Short: the socket path must fit in 107 bytes. */
  cluster_dir = g_dir_make_tmp ("st-pg-XXXXXX", error);
  if (cluster_dir == NULL)
    return FALSE;
  conninfo = pg_tool ("init", cluster_dir, TRUE, error);
  if (conninfo == NULL)
    {
      remove_cluster (cluster_dir);
      g_clear_pointer (&cluster_dir, g_free);
      return FALSE;
    }
  g_setenv (PG_DIR_VAR, cluster_dir, TRUE);
  return TRUE;
}

static void
drop_cluster (void)
{
  if (cluster_dir == NULL)
    return;
  remove_cluster (cluster_dir);
  g_clear_pointer (&cluster_dir, g_free);
}

/* In this process: start the cluster, run the case in a subprocess, stop the
 * cluster whatever happened there. A failure ends this program unless -k is
 * given, so the cluster is removed before it is reported. In the
 * subprocess: the case itself. */
static void
run_case (gconstpointer data)
{
  const CaseFunc *func = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *started = NULL, *stopped = NULL;
  gboolean passed;

  if (g_test_subprocess ())
    {
      Case c = { 0 };
      case_setup (&c);
      func->func (&c);
      case_teardown (&c);
      return;
    }
  if (!ensure_cluster (&error)
      || (started = pg_tool ("start", cluster_dir, FALSE, &error)) == NULL)
    {
      drop_cluster ();
      g_test_fail_printf ("could not start a private cluster: %s",
                          error->message);
      return;
    }
  g_test_trap_subprocess (NULL, 120 * G_USEC_PER_SEC,
                          G_TEST_SUBPROCESS_INHERIT_STDERR);
  passed = g_test_trap_has_passed ();
  stopped = pg_tool ("stop", cluster_dir, FALSE, &error);
  if (!passed || error != NULL)
    {
      drop_cluster ();
      if (error != NULL)
        g_test_fail_printf ("could not stop the private cluster: %s",
                            error->message);
      else
        g_test_fail_printf ("the case failed (its messages are on stderr)");
    }
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  (void) ST_ERROR;

  {
    static const struct {
      const char *path;
      CaseFunc func;
    } cases[] = {
      { "/reconnect/fails-fast-while-down", { test_fails_fast_while_down } },
      { "/reconnect/status-while-down", { test_status_while_down } },
      { "/reconnect/heals-when-back", { test_heals_when_back } },
      { "/reconnect/schema-version-when-back",
        { test_schema_version_when_back } },
      { "/reconnect/call-in-flight", { test_call_in_flight } },
      { "/reconnect/start-while-down", { test_start_while_down } },
    };
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      g_test_add_data_func (cases[i].path, &cases[i].func, run_case);
  }

  status = g_test_run ();
  drop_cluster ();
  return status;
}
