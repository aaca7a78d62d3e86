#include "st-test-util.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "st-service.h"

static char *
env_path (const char *var, const char *relative)
{
  const char *root = g_getenv (var);

  if (root == NULL)
    g_error ("%s is not set: run the tests with 'meson test' or tools/test",
             var);
  return g_build_filename (root, relative, NULL);
}

char *
st_test_build_path (const char *relative)
{
  return env_path ("STEWARD_BUILDDIR", relative);
}

char *
st_test_source_path (const char *relative)
{
  return env_path ("STEWARD_SRCDIR", relative);
}

static PGconn *
admin_connect (void)
{
  const char *conninfo = g_getenv ("STEWARD_TEST_CONNINFO");
  PGconn *conn;

  if (conninfo == NULL)
    g_error ("STEWARD_TEST_CONNINFO is not set: tools/test starts a "
             "PostgreSQL cluster for the tests and sets it");
  conn = PQconnectdb (conninfo);
  if (PQstatus (conn) != CONNECTION_OK)
    g_error ("cannot connect to the test cluster (%s): %s", conninfo,
             PQerrorMessage (conn));
  return conn;
}

static void
admin_exec (const char *sql)
{
  PGconn *conn = admin_connect ();
  PGresult *res = PQexec (conn, sql);

  if (PQresultStatus (res) != PGRES_COMMAND_OK)
    g_error ("%s: %s", sql, PQerrorMessage (conn));
  PQclear (res);
  PQfinish (conn);
}

StTestDb *
st_test_db_new (void)
{
  static gint counter = 0;
  StTestDb *db = g_new0 (StTestDb, 1);
  g_autofree char *sql = NULL;

  db->name = g_strdup_printf ("st_test_%d_%d_%u", (int) getpid (),
                              g_atomic_int_add (&counter, 1),
                              g_random_int_range (0, 1000000));
  sql = g_strdup_printf ("CREATE DATABASE %s", db->name);
  admin_exec (sql);
  /* In a conninfo string the last value of a keyword wins. */
  db->conninfo = g_strdup_printf ("%s dbname=%s",
                                  g_getenv ("STEWARD_TEST_CONNINFO"),
                                  db->name);
  return db;
}

void
st_test_db_free (StTestDb *db)
{
  g_autofree char *sql = NULL;

  if (db == NULL)
    return;
  sql = g_strdup_printf ("DROP DATABASE IF EXISTS %s WITH (FORCE)", db->name);
  admin_exec (sql);
  g_free (db->name);
  g_free (db->conninfo);
  g_free (db);
}

StStore *
st_test_db_store (StTestDb *db)
{
  g_autoptr (GError) error = NULL;
  StStore *store = st_store_new (db->conninfo, &error);

  g_assert_no_error (error);
  g_assert_cmpint (st_store_migrate (store, &error), >, 0);
  g_assert_no_error (error);
  return store;
}

static char *
conninfo_query (const char *conninfo, const char *sql)
{
  PGconn *conn = PQconnectdb (conninfo);
  PGresult *res;
  char *value = NULL;

  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  res = PQexec (conn, sql);
  if (PQresultStatus (res) != PGRES_TUPLES_OK)
    g_error ("%s: %s", sql, PQerrorMessage (conn));
  if (PQntuples (res) > 0 && !PQgetisnull (res, 0, 0))
    value = g_strdup (PQgetvalue (res, 0, 0));
  PQclear (res);
  PQfinish (conn);
  return value;
}

char *
st_test_db_query (StTestDb *db, const char *sql)
{
  return conninfo_query (db->conninfo, sql);
}

gint64
st_test_db_query_int (StTestDb *db, const char *sql)
{
  g_autofree char *value = st_test_db_query (db, sql);

  g_assert_nonnull (value);
  return g_ascii_strtoll (value, NULL, 10);
}

int
st_test_lock_waiters (const char *conninfo)
{
  g_autofree char *n = conninfo_query (
      conninfo,
      "SELECT count(*) FROM pg_stat_activity WHERE datname = "
      "current_database() AND application_name = 'stewardd' AND "
      "wait_event_type = 'Lock'");

  return atoi (n);
}

StTestStore *
st_test_store_new (void)
{
  StTestStore *fx = g_new0 (StTestStore, 1);

  fx->db = st_test_db_new ();
  fx->store = st_test_db_store (fx->db);
  fx->config = st_config_new_default ();
  return fx;
}

void
st_test_store_free (StTestStore *fx)
{
  st_config_free (fx->config);
  st_store_free (fx->store);
  st_test_db_free (fx->db);
  g_free (fx);
}

/* Values and records ------------------------------------------------------ */

GVariant *
st_test_parsed (const char *format, ...)
{
  va_list ap;
  GVariant *value;

  va_start (ap, format);
  value = g_variant_new_parsed_va (format, &ap);
  va_end (ap);
  return g_variant_ref_sink (value);
}

char *
st_test_print_value (GVariant *value)
{
  return value ? g_variant_print (value, TRUE) : g_strdup ("(null)");
}

const char *
st_test_lookup_str (GVariant *record, const char *key)
{
  const char *value = NULL;

  if (!g_variant_lookup (record, key, "&s", &value))
    return NULL;
  return value;
}

GVariant *
st_test_rec_lookup (GVariant *record, const char *key, const char *type)
{
  GVariant *value = g_variant_lookup_value (record, key, NULL);

  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE (type)))
    {
      g_autofree char *text = st_test_print_value (record);
      g_error ("expected '%s' of type %s in %s", key, type, text);
    }
  return value;
}

const char *
st_test_rec_str (GVariant *record, const char *key)
{
  g_autoptr (GVariant) value = st_test_rec_lookup (record, key, "s");

  /* The string lives in @record, which keeps the child. */
  return g_variant_get_string (value, NULL);
}

gint64
st_test_rec_int64 (GVariant *record, const char *key)
{
  g_autoptr (GVariant) value = st_test_rec_lookup (record, key, "x");

  return g_variant_get_int64 (value);
}

double
st_test_rec_double (GVariant *record, const char *key)
{
  g_autoptr (GVariant) value = st_test_rec_lookup (record, key, "d");

  return g_variant_get_double (value);
}

gboolean
st_test_rec_bool (GVariant *record, const char *key)
{
  g_autoptr (GVariant) value = st_test_rec_lookup (record, key, "b");

  return g_variant_get_boolean (value);
}

void
st_test_assert_time (const char *where, const char *got, const char *expected)
{
  g_autoptr (GDateTime) a = NULL, b = NULL;

  if (got == NULL)
    g_error ("%s: no time, expected %s", where, expected);
  a = g_date_time_new_from_iso8601 (got, NULL);
  b = g_date_time_new_from_iso8601 (expected, NULL);
  g_assert_nonnull (b);
  if (a == NULL || !g_str_has_suffix (got, "Z") || strchr (got, 'T') == NULL
      || !g_date_time_equal (a, b))
    g_error ("%s: got time '%s', expected '%s'", where, got, expected);
}

void
st_test_assert_contains (const char *haystack, const char *needle)
{
  if (haystack == NULL || strstr (haystack, needle) == NULL)
    g_error ("expected '%s' in: %s", needle, haystack ? haystack : "(null)");
}

/* Buses and daemons -------------------------------------------------------- */

GDBusConnection *
st_test_bus_connect (GTestDBus *bus)
{
  g_autoptr (GError) error = NULL;
  GDBusConnection *connection = g_dbus_connection_new_for_address_sync (
      g_test_dbus_get_bus_address (bus),
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
          | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);

  g_assert_no_error (error);
  return connection;
}

gboolean
st_test_name_has_owner (GDBusConnection *connection)
{
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
      connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
      "org.freedesktop.DBus", "NameHasOwner",
      g_variant_new ("(s)", ST_BUS_NAME), G_VARIANT_TYPE ("(b)"),
      G_DBUS_CALL_FLAGS_NONE, 2000, NULL, NULL);
  gboolean owned = FALSE;

  if (reply != NULL)
    g_variant_get (reply, "(b)", &owned);
  return owned;
}

GVariant *
st_test_bus_call (GDBusConnection *connection, const char *interface,
                  const char *method, GVariant *params, GError **error)
{
  g_autofree char *name = g_strconcat ("org.steward.Steward1.", interface,
                                       NULL);

  return g_dbus_connection_call_sync (connection, ST_BUS_NAME,
                                      ST_OBJECT_PATH, name, method, params,
                                      NULL, G_DBUS_CALL_FLAGS_NONE, 30000,
                                      NULL, error);
}

GVariant *
st_test_bus_call_ok (GDBusConnection *connection, const char *interface,
                     const char *method, GVariant *params)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = st_test_bus_call (connection, interface,
                                                 method, params, &error);

  g_assert_no_error (error);
  g_assert_nonnull (reply);
  if (g_variant_n_children (reply) == 0)
    return NULL;
  return g_variant_get_child_value (reply, 0);
}

void
st_test_pending_done (GObject *source, GAsyncResult *result,
                      gpointer user_data)
{
  StTestPending *pending = user_data;

  pending->reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source),
                                                  result, &pending->error);
  pending->done = TRUE;
}

void
st_test_die_with_parent (gpointer data)
{
  (void) data;
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

GSubprocess *
st_test_spawn_stewardd (const char *conninfo, GTestDBus *bus,
                        const char *config_path, const char *log_path,
                        GSubprocessFlags flags,
                        GSpawnChildSetupFunc child_setup)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autofree char *stewardd = st_test_build_path ("core/stewardd");
  g_autoptr (GError) error = NULL;
  GSubprocess *process;

  g_subprocess_launcher_setenv (launcher, "STEWARD_DATABASE", conninfo, TRUE);
  g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS",
                                g_test_dbus_get_bus_address (bus), TRUE);
  if (!(flags & G_SUBPROCESS_FLAGS_STDERR_PIPE))
    {
      g_subprocess_launcher_set_stderr_file_path (launcher, log_path);
      g_subprocess_launcher_set_stdout_file_path (launcher, "/dev/null");
    }
  if (child_setup != NULL)
    g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  process = g_subprocess_launcher_spawn (launcher, &error, stewardd,
                                         "--config", config_path, NULL);
  g_assert_no_error (error);
  return process;
}

void
st_test_wait_for_name (GDBusConnection *connection, GSubprocess *process,
                       const char *log_path)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;

  while (!st_test_name_has_owner (connection))
    {
      /* The identifier is NULL once the process is gone; get_if_exited()
       * must not be asked before that (a critical). */
      if (g_subprocess_get_identifier (process) == NULL
          || g_get_monotonic_time () > deadline)
        {
          g_autofree char *log = NULL;
          g_file_get_contents (log_path, &log, NULL, NULL);
          g_error ("stewardd did not come up on the test bus; its log:\n%s",
                   log ? log : "(none)");
        }
      g_usleep (20 * 1000);
    }
}

gboolean
st_test_log_has_problem (const char *log)
{
  return strstr (log, "Sanitizer") != NULL
         || strstr (log, "runtime error:") != NULL
         || strstr (log, "CRITICAL") != NULL;
}

/* The daemon ----------------------------------------------------------- */

static void
spawn_daemon (StTestDaemon *daemon)
{
  daemon->process = st_test_spawn_stewardd (
      daemon->db->conninfo, daemon->bus, daemon->config_path,
      daemon->log_path, G_SUBPROCESS_FLAGS_NONE, NULL);
  st_test_wait_for_name (daemon->connection, daemon->process,
                         daemon->log_path);
}

StTestDaemon *
st_test_daemon_start (const char *extra_yaml)
{
  StTestDaemon *daemon = g_new0 (StTestDaemon, 1);
  g_autoptr (GError) error = NULL;
  g_autofree char *yaml = NULL;

  daemon->dir = g_dir_make_tmp ("steward-test-XXXXXX", &error);
  g_assert_no_error (error);
  daemon->config_path = g_build_filename (daemon->dir, "steward.yaml", NULL);
  daemon->log_path = g_build_filename (daemon->dir, "stewardd.log", NULL);
  yaml = g_strdup_printf ("bus: session\nworkers: 4\n%s",
                          extra_yaml ? extra_yaml : "");
  g_file_set_contents (daemon->config_path, yaml, -1, &error);
  g_assert_no_error (error);

  daemon->db = st_test_db_new ();
  daemon->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (daemon->bus);
  daemon->connection = st_test_bus_connect (daemon->bus);
  spawn_daemon (daemon);
  return daemon;
}

void
st_test_daemon_stop_process (StTestDaemon *daemon)
{
  g_autoptr (GError) error = NULL;

  if (daemon->process == NULL)
    return;
  /* send_signal() does nothing once the process is gone. */
  g_subprocess_send_signal (daemon->process, SIGTERM);
  g_subprocess_wait (daemon->process, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&daemon->process);
}

void
st_test_daemon_restart (StTestDaemon *daemon)
{
  st_test_daemon_stop_process (daemon);
  /* The bus forgets the old owner asynchronously. */
  while (st_test_name_has_owner (daemon->connection))
    g_usleep (20 * 1000);
  spawn_daemon (daemon);
}

void
st_test_daemon_free (StTestDaemon *daemon)
{
  if (daemon == NULL)
    return;
  st_test_daemon_stop_process (daemon);
  g_clear_object (&daemon->connection);
  g_test_dbus_down (daemon->bus);
  g_clear_object (&daemon->bus);
  st_test_db_free (daemon->db);
  unlink (daemon->config_path);
  unlink (daemon->log_path);
  rmdir (daemon->dir);
  g_free (daemon->config_path);
  g_free (daemon->log_path);
  g_free (daemon->dir);
  g_free (daemon);
}

GVariant *
st_test_daemon_call (StTestDaemon *daemon, const char *interface,
                     const char *method, GVariant *params, GError **error)
{
  return st_test_bus_call (daemon->connection, interface, method, params,
                           error);
}

int
st_test_ctlv (StTestDaemon *daemon, char **out, char **err,
              const char *const *argv)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *stdout_text = NULL, *stderr_text = NULL;

  g_ptr_array_add (args, st_test_build_path ("core/stewardctl"));
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, g_strdup (argv[i]));
  g_ptr_array_add (args, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                        | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  if (daemon != NULL)
    g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS",
                                  g_test_dbus_get_bus_address (daemon->bus),
                                  TRUE);
  g_subprocess_launcher_setenv (launcher, "TZ", "UTC", FALSE);
  process = g_subprocess_launcher_spawnv (
      launcher, (const char *const *) args->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &stdout_text,
                                 &stderr_text, &error);
  g_assert_no_error (error);
  if (out != NULL)
    *out = g_steal_pointer (&stdout_text);
  if (err != NULL)
    *err = g_steal_pointer (&stderr_text);
  g_assert_true (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

int
st_test_ctl (StTestDaemon *daemon, char **out, char **err,
             const char *first_arg, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  va_list ap;

  va_start (ap, first_arg);
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  return st_test_ctlv (daemon, out, err, (const char *const *) argv->pdata);
}

void
st_test_remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR)
          && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        st_test_remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}
