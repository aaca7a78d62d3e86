/* Tests for core/st-service.c and core/stewardd.c: the real stewardd on a
 * private bus, spoken to the way any D-Bus client would. */

#include "st-test-util.h"

#include <glib/gstdio.h>
#include <string.h>

#include "st-build-config.h"
#include "st-error.h"
#include "st-service.h"
#include "st-store.h"

#define MANAGER "Manager"
#define CUSTOMERS "Customers"

/* Fixture: one daemon per case ------------------------------------------ */

typedef struct {
  StTestDaemon *daemon;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer extra_yaml)
{
  f->daemon = st_test_daemon_start (extra_yaml);
}

/* The daemon's own errors (and, in the sanitizer build, its sanitizer
 * reports) only reach its log, which the harness deletes: look first. */
static void
assert_log_clean (const char *log_path)
{
  g_autofree char *log = NULL;

  if (!g_file_get_contents (log_path, &log, NULL, NULL))
    return;
  if (st_test_log_has_problem (log))
    g_test_fail_printf ("stewardd reported a problem in its log:\n%s", log);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  StTestDaemon *daemon = f->daemon;

  (void) data;
  if (daemon->process != NULL)
    {
      g_autoptr (GSubprocess) process = g_object_ref (daemon->process);

      /* SIGTERM is how systemd stops it: a clean exit, status 0. */
      st_test_daemon_stop_process (daemon);
      g_assert_true (g_subprocess_get_if_exited (process));
      g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
    }
  assert_log_clean (daemon->log_path);
  st_test_daemon_free (daemon);
}

#define ADD(path, func, yaml) \
  g_test_add (path, Fixture, yaml, fixture_setup, func, fixture_teardown)

/* Calls and records ------------------------------------------------------- */

/* The single value of a successful reply: a record, a list or a scalar. */
static GVariant *
call_ok (Fixture *f, const char *interface, const char *method,
         GVariant *params)
{
  return st_test_bus_call_ok (f->daemon->connection, interface, method,
                              params);
}

/* A method with no return value. */
static void
call_void (Fixture *f, const char *interface, const char *method,
           GVariant *params)
{
  g_autoptr (GVariant) value = call_ok (f, interface, method, params);

  g_assert_null (value);
}

/* @error is the remote error org.steward.Steward1.Error.@name, maps back to
 * @code of ST_ERROR, and its message (without the GDBus prefix) starts with
 * @prefix and contains @needle (either may be NULL). */
static void
assert_remote_error (const GError *error, const char *name, StError code,
                     const char *prefix, const char *needle)
{
  g_autofree char *expected = g_strconcat ("org.steward.Steward1.Error.",
                                           name, NULL);
  g_autofree char *remote = NULL;
  g_autoptr (GError) plain = NULL;

  g_assert_nonnull (error);
  remote = g_dbus_error_get_remote_error (error);
  if (g_strcmp0 (remote, expected) != 0)
    g_error ("expected %s, got %s: %s", expected, remote, error->message);
  g_assert_error (error, ST_ERROR, (gint) code);
  plain = g_error_copy (error);
  g_dbus_error_strip_remote_error (plain);
  g_assert_true (g_utf8_validate (plain->message, -1, NULL));
  g_assert_cmpuint (strlen (plain->message), >, 10);
  if (prefix != NULL && !g_str_has_prefix (plain->message, prefix))
    g_error ("expected a message starting with '%s', got: %s", prefix,
             plain->message);
  if (needle != NULL)
    st_test_assert_contains (plain->message, needle);
}

static void
call_fails (Fixture *f, const char *interface, const char *method,
            GVariant *params, const char *name, StError code,
            const char *prefix, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autofree char *text = NULL;

  if (params != NULL)
    g_variant_ref_sink (params);
  text = st_test_print_value (params);
  reply = st_test_daemon_call (f->daemon, interface, method, params, &error);
  if (reply != NULL)
    {
      g_autofree char *got = st_test_print_value (reply);
      g_error ("%s%s succeeded, expected %s: %s", method, text, name, got);
    }
  assert_remote_error (error, name, code, prefix, needle);
  g_clear_pointer (&params, g_variant_unref);
}

static gboolean
rec_has (GVariant *record, const char *key)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (record, key, NULL);

  return value != NULL;
}

/* An ISO-8601 time in UTC as the API promises ("...Z"). */
static GDateTime *
rec_time (GVariant *record, const char *key)
{
  const char *text = st_test_rec_str (record, key);
  GDateTime *time = g_date_time_new_from_iso8601 (text, NULL);

  if (time == NULL
      || !g_regex_match_simple ("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
                                "[0-9]{2}\\.[0-9]{6}Z$", text, 0, 0))
    g_error ("%s: '%s' is not an ISO-8601 time in UTC with microseconds",
             key, text);
  return time;
}

static char *
id_text (gint64 id)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, id);
}

/* GVariant text as a floating value, to hand straight to g_variant_new()
 * or a call (g_variant_parse() itself returns a full reference). */
static GVariant *
parse_floating (const GVariantType *type, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) value = g_variant_parse (type, text, NULL, NULL,
                                                &error);
  g_autoptr (GBytes) bytes = NULL;

  g_assert_no_error (error);
  bytes = g_variant_get_data_as_bytes (value);
  return g_variant_new_from_bytes (g_variant_get_type (value), bytes,
                                   g_variant_is_normal_form (value));
}

static GVariant *
parse_dict (const char *text)
{
  return parse_floating (G_VARIANT_TYPE_VARDICT, text);
}

/* Create a customer from a{sv} text and return its record. */
static GVariant *
create (Fixture *f, const char *fields)
{
  return call_ok (f, CUSTOMERS, "Create",
                  g_variant_new ("(@a{sv})", parse_dict (fields)));
}

static gint64
create_id (Fixture *f, const char *fields)
{
  g_autoptr (GVariant) record = create (f, fields);

  return st_test_rec_int64 (record, "id");
}

static GVariant *
get (Fixture *f, const char *address)
{
  return call_ok (f, CUSTOMERS, "Get", g_variant_new ("(s)", address));
}

static GVariant *
get_id (Fixture *f, gint64 id)
{
  g_autofree char *address = id_text (id);

  return get (f, address);
}

static GVariant *
record_event (Fixture *f, gint64 id, const char *kind, const char *data)
{
  g_autofree char *address = id_text (id);

  return call_ok (f, CUSTOMERS, "RecordEvent",
                  g_variant_new ("(ss@a{sv})", address, kind,
                                 parse_dict (data ? data : "@a{sv} {}")));
}

static GVariant *
status (Fixture *f)
{
  return call_ok (f, MANAGER, "Status", NULL);
}

/* Running stewardd by hand ------------------------------------------------ */

typedef struct {
  gboolean done;
  char *out;
  char *err;
  GError *error;
} Communication;

static void
on_communicated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Communication *c = user_data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result,
                                        &c->out, &c->err, &c->error);
  c->done = TRUE;
}

static gboolean
on_deadline (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Run stewardd with @argv (NULL-terminated, after the program), against
 * @daemon's bus and database when given; return its exit status. It must
 * end within 30 s: one that comes up instead is a failure, not a hang. */
static int
run_stewardd (StTestDaemon *daemon, char **out, char **err,
              const char *const *argv)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  Communication c = { 0 };
  gboolean timed_out = FALSE;
  guint timer;

  g_ptr_array_add (args, st_test_build_path ("core/stewardd"));
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, g_strdup (argv[i]));
  g_ptr_array_add (args, NULL);
  g_subprocess_launcher_unsetenv (launcher, "STEWARD_DATABASE");
  if (daemon != NULL)
    {
      g_subprocess_launcher_setenv (launcher, "STEWARD_DATABASE",
                                    daemon->db->conninfo, TRUE);
      g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS",
                                    g_test_dbus_get_bus_address (daemon->bus),
                                    TRUE);
    }
  g_subprocess_launcher_set_child_setup (launcher, st_test_die_with_parent,
                                         NULL, NULL);
  process = g_subprocess_launcher_spawnv (
      launcher, (const char *const *) args->pdata, &error);
  g_assert_no_error (error);

  g_subprocess_communicate_utf8_async (process, NULL, NULL, on_communicated,
                                       &c);
  timer = g_timeout_add_seconds (30, on_deadline, &timed_out);
  while (!c.done && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!c.done)
    {
      g_subprocess_force_exit (process);
      while (!c.done)
        g_main_context_iteration (NULL, TRUE);
      g_error ("stewardd did not exit within 30 s; it said: %s", c.err);
    }
  g_source_remove (timer);
  g_assert_no_error (c.error);
  g_subprocess_wait (process, NULL, NULL);
  g_assert_true (g_subprocess_get_if_exited (process));
  if (out != NULL)
    *out = g_steal_pointer (&c.out);
  if (err != NULL)
    *err = g_steal_pointer (&c.err);
  g_free (c.out);
  g_free (c.err);
  return g_subprocess_get_exit_status (process);
}

/* Manager -------------------------------------------------------------- */

static char *
signature_of (GDBusArgInfo **args)
{
  GString *sig = g_string_new (NULL);

  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_string_append (sig, args[i]->signature);
  return g_string_free (sig, FALSE);
}

/* Every method of the contract (data/org.steward.Steward1.xml) is exported
 * with the same arguments: what a client generated from the XML expects. */
static void
test_introspection (Fixture *f, gconstpointer data)
{
  g_autofree char *contract_path = st_test_source_path (
      "data/org.steward.Steward1.xml");
  g_autofree char *contract_xml = NULL;
  g_autoptr (GDBusNodeInfo) contract = NULL, exported = NULL;
  g_autoptr (GDBusNodeInfo) run_object = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  const char *xml;
  guint n_methods = 0;

  (void) data;
  g_file_get_contents (contract_path, &contract_xml, NULL, &error);
  g_assert_no_error (error);
  contract = g_dbus_node_info_new_for_xml (contract_xml, &error);
  g_assert_no_error (error);

  reply = g_dbus_connection_call_sync (
      f->daemon->connection, ST_BUS_NAME, ST_OBJECT_PATH,
      "org.freedesktop.DBus.Introspectable", "Introspect", NULL,
      G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(&s)", &xml);
  exported = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);

  g_assert_nonnull (g_dbus_node_info_lookup_interface (
      exported, "org.steward.Steward1.Manager"));
  g_assert_nonnull (g_dbus_node_info_lookup_interface (
      exported, "org.steward.Steward1.Customers"));
  /* A campaign run is an object of its own, below the main one. */
  g_clear_pointer (&reply, g_variant_unref);
  reply = g_dbus_connection_call_sync (
      f->daemon->connection, ST_BUS_NAME, ST_OBJECT_PATH "/runs/1",
      "org.freedesktop.DBus.Introspectable", "Introspect", NULL,
      G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(&s)", &xml);
  run_object = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);
  for (guint i = 0; contract->interfaces[i] != NULL; i++)
    {
      GDBusInterfaceInfo *want = contract->interfaces[i];
      GDBusInterfaceInfo *have = g_dbus_node_info_lookup_interface (
          g_str_equal (want->name, "org.steward.Steward1.Run") ? run_object
                                                                : exported,
          want->name);

      if (have == NULL)
        g_error ("interface %s is not exported", want->name);
      for (guint j = 0; want->methods[j] != NULL; j++)
        {
          GDBusMethodInfo *m = want->methods[j];
          GDBusMethodInfo *e = g_dbus_interface_info_lookup_method (have,
                                                                    m->name);
          g_autofree char *in_want = signature_of (m->in_args);
          g_autofree char *out_want = signature_of (m->out_args);
          g_autofree char *in_have = NULL, *out_have = NULL;

          if (e == NULL)
            g_error ("%s.%s is not exported", want->name, m->name);
          in_have = signature_of (e->in_args);
          out_have = signature_of (e->out_args);
          g_assert_cmpstr (in_have, ==, in_want);
          g_assert_cmpstr (out_have, ==, out_want);
          n_methods++;
        }
    }
  /* Manager: 4, Customers: 8. */
  g_assert_cmpuint (n_methods, >=, 12);
}

static void
test_manager_version (Fixture *f, gconstpointer data)
{
  g_autoptr (GVariant) version = call_ok (f, MANAGER, "Version", NULL);
  g_autoptr (GVariant) schema = call_ok (f, MANAGER, "SchemaVersion", NULL);
  g_autofree char *applied = st_test_db_query (
      f->daemon->db, "SELECT max(version) FROM st_schema_migrations");
  g_autofree char *reported = NULL;

  (void) data;
  g_assert_cmpstr (g_variant_get_string (version, NULL), ==, ST_VERSION);
  /* A fresh database is migrated to everything the binary knows. */
  g_assert_cmpint (st_store_known_schema_version (), >, 0);
  g_assert_cmpint (g_variant_get_int32 (schema), ==,
                   st_store_known_schema_version ());
  reported = g_strdup_printf ("%d", g_variant_get_int32 (schema));
  g_assert_cmpstr (applied, ==, reported);
}

static void
test_manager_status (Fixture *f, gconstpointer data)
{
  g_autoptr (GVariant) before = status (f);
  g_autoptr (GVariant) after = NULL, workers = NULL;
  g_autoptr (GDateTime) started = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  gint64 a, b;

  (void) data;
  g_assert_cmpstr (st_test_rec_str (before, "database"), ==, "ok");
  g_assert_false (rec_has (before, "database_error"));
  g_assert_cmpstr (st_test_rec_str (before, "version"), ==, ST_VERSION);
  g_assert_cmpstr (st_test_rec_str (before, "bus"), ==, "session");
  g_assert_cmpstr (st_test_rec_str (before, "config"), ==,
                   f->daemon->config_path);
  workers = st_test_rec_lookup (before, "workers", "u");
  g_assert_cmpuint (g_variant_get_uint32 (workers), ==, 4);
  {
    g_autoptr (GVariant) schema =
        st_test_rec_lookup (before, "schema_version", "i");
    g_assert_cmpint (g_variant_get_int32 (schema), ==,
                     st_store_known_schema_version ());
  }
  started = rec_time (before, "started_at");
  g_assert_cmpint (g_date_time_compare (started, now), <=, 0);
  g_assert_cmpint (g_date_time_difference (now, started), <,
                   60 * G_TIME_SPAN_SECOND);
  g_assert_cmpint (st_test_rec_int64 (before, "uptime_seconds"), >=, 0);
  g_assert_cmpint (st_test_rec_int64 (before, "customers"), ==, 0);
  g_assert_cmpint (st_test_rec_int64 (before, "events"), ==, 0);

  a = create_id (f, "{'name': <'Ada'>}");
  b = create_id (f, "{'name': <'Grace'>}");
  g_variant_unref (record_event (f, a, "login", NULL));
  g_variant_unref (record_event (f, a, "login", NULL));
  g_variant_unref (record_event (f, b, "purchase", "{'amount': <5.0>}"));

  after = status (f);
  g_assert_cmpint (st_test_rec_int64 (after, "customers"), ==, 2);
  g_assert_cmpint (st_test_rec_int64 (after, "events"), ==, 3);
  /* The start time is the daemon's, not the call's. */
  g_assert_cmpstr (st_test_rec_str (after, "started_at"), ==,
                   st_test_rec_str (before, "started_at"));
}

/* Customers: round trip --------------------------------------------------- */

static void
test_create_get (Fixture *f, gconstpointer data)
{
  g_autoptr (GVariant) created = NULL, minimal = NULL, tags = NULL,
                       attrs = NULL;
  g_autoptr (GDateTime) created_at = NULL, updated_at = NULL,
                        stage_since = NULL;
  g_autofree char *by_id = NULL, *explicit_id = NULL;
  gint64 id;

  (void) data;
  created = create (f, "{'name': <'  Ada Lovelace  '>,"
                       " 'email': <'ada@example.org'>,"
                       " 'phone': <'+44 20 7946 0958'>,"
                       " 'ref': <'CRM-17'>, 'owner': <'alice'>,"
                       " 'locale': <'en-GB'>, 'tz': <'Europe/London'>,"
                       " 'tags': <['vip', 'beta', 'vip']>,"
                       " 'attrs': <{'plan': <'pro'>, 'seats': <int64 12>}>}");
  id = st_test_rec_int64 (created, "id");
  g_assert_cmpint (id, >, 0);
  /* Names are trimmed; the other fields come back as given. */
  g_assert_cmpstr (st_test_rec_str (created, "name"), ==, "Ada Lovelace");
  g_assert_cmpstr (st_test_rec_str (created, "email"), ==, "ada@example.org");
  g_assert_cmpstr (st_test_rec_str (created, "phone"), ==, "+44 20 7946 0958");
  g_assert_cmpstr (st_test_rec_str (created, "ref"), ==, "CRM-17");
  g_assert_cmpstr (st_test_rec_str (created, "owner"), ==, "alice");
  g_assert_cmpstr (st_test_rec_str (created, "locale"), ==, "en-GB");
  g_assert_cmpstr (st_test_rec_str (created, "tz"), ==, "Europe/London");
  /* The first stage of the lifecycle is the default. */
  g_assert_cmpstr (st_test_rec_str (created, "stage"), ==, "lead");
  /* Tags are a set. */
  tags = st_test_rec_lookup (created, "tags", "as");
  g_assert_cmpuint (g_variant_n_children (tags), ==, 2);
  {
    g_autofree const char **strv = g_variant_get_strv (tags, NULL);
    g_assert_true (g_strv_contains (strv, "vip"));
    g_assert_true (g_strv_contains (strv, "beta"));
  }
  attrs = st_test_rec_lookup (created, "attrs", "a{sv}");
  {
    g_autoptr (GVariant) plan = st_test_rec_lookup (attrs, "plan", "s");
    g_autoptr (GVariant) seats = st_test_rec_lookup (attrs, "seats", "x");
    g_assert_cmpstr (g_variant_get_string (plan, NULL), ==, "pro");
    g_assert_cmpint (g_variant_get_int64 (seats), ==, 12);
  }
  created_at = rec_time (created, "created_at");
  updated_at = rec_time (created, "updated_at");
  g_assert_cmpint (g_date_time_compare (created_at, updated_at), <=, 0);
  stage_since = rec_time (created, "stage_since");
  g_assert_cmpint (g_date_time_compare (created_at, stage_since), ==, 0);
  g_assert_cmpint (st_test_rec_int64 (created, "event_count"), ==, 0);
  g_assert_cmpint (st_test_rec_int64 (created, "purchase_count"), ==, 0);
  g_assert_cmpfloat (st_test_rec_double (created, "revenue"), ==, 0.0);

  /* Get answers the same record by id, "id:N", ref and "ref:R". */
  by_id = id_text (id);
  explicit_id = g_strdup_printf ("id:%" G_GINT64_FORMAT, id);
  {
    const char *all[] = { by_id, explicit_id, "CRM-17", "ref:CRM-17" };
    for (guint i = 0; i < G_N_ELEMENTS (all); i++)
      {
        g_autoptr (GVariant) got = get (f, all[i]);
        if (!g_variant_equal (got, created))
          {
            g_autofree char *a = st_test_print_value (got),
                            *b = st_test_print_value (created);
            g_error ("Get %s: %s\ndiffers from Create's %s", all[i], a, b);
          }
      }
  }

  /* Absent values are left out rather than sent empty. */
  minimal = create (f, "{'name': <'Grace'>}");
  g_assert_cmpint (st_test_rec_int64 (minimal, "id"), !=, id);
  for (guint i = 0; i < 6; i++)
    {
      const char *optional[] = { "email", "phone", "ref", "owner", "locale",
                                 "tz" };
      if (rec_has (minimal, optional[i]))
        g_error ("'%s' was not given but is in the record", optional[i]);
    }
  {
    g_autoptr (GVariant) empty_tags =
        st_test_rec_lookup (minimal, "tags", "as");
    g_autoptr (GVariant) empty_attrs =
        st_test_rec_lookup (minimal, "attrs", "a{sv}");
    g_assert_cmpuint (g_variant_n_children (empty_tags), ==, 0);
    g_assert_cmpuint (g_variant_n_children (empty_attrs), ==, 0);
  }
}

static void
test_create_in_stage (Fixture *f, gconstpointer data)
{
  g_autoptr (GVariant) created = create (f, "{'name': <'Bo'>, 'stage': <'active'>}");
  g_autoptr (GVariant) found = NULL;

  (void) data;
  g_assert_cmpstr (st_test_rec_str (created, "stage"), ==, "active");
  found = call_ok (f, CUSTOMERS, "Find",
                   g_variant_new_parsed ("({'stage': <'active'>},)"));
  g_assert_cmpuint (g_variant_n_children (found), ==, 1);
}

static void
test_update (Fixture *f, gconstpointer data)
{
  gint64 id = create_id (f, "{'name': <'Ada'>, 'email': <'ada@example.org'>,"
                            " 'phone': <'+33 1 23 45 67 89'>,"
                            " 'tags': <['a', 'b']>,"
                            " 'attrs': <{'plan': <'pro'>, 'seats': <int64 5>}>}");
  g_autofree char *address = id_text (id);
  g_autoptr (GVariant) updated = NULL, again = NULL, stored = NULL;
  g_autoptr (GVariant) tags = NULL, attrs = NULL;

  (void) data;
  updated = call_ok (f, CUSTOMERS, "Update", g_variant_new (
      "(s@a{sv})", address,
      parse_dict ("{'name': <'Ada King'>, 'email': <''>,"
                  " 'owner': <'bob'>, 'add_tags': <['c']>,"
                  " 'remove_tags': <['a']>,"
                  " 'attrs': <{'plan': <''>, 'region': <'eu'>}>}")));
  g_assert_cmpint (st_test_rec_int64 (updated, "id"), ==, id);
  g_assert_cmpstr (st_test_rec_str (updated, "name"), ==, "Ada King");
  /* "" clears an optional field; fields not named are kept. */
  g_assert_false (rec_has (updated, "email"));
  g_assert_cmpstr (st_test_rec_str (updated, "phone"), ==, "+33 1 23 45 67 89");
  g_assert_cmpstr (st_test_rec_str (updated, "owner"), ==, "bob");
  tags = st_test_rec_lookup (updated, "tags", "as");
  {
    g_autofree const char **strv = g_variant_get_strv (tags, NULL);
    g_assert_cmpuint (g_strv_length ((char **) strv), ==, 2);
    g_assert_true (g_strv_contains (strv, "b"));
    g_assert_true (g_strv_contains (strv, "c"));
  }
  /* attrs are merged; a key set to "" is removed. */
  attrs = st_test_rec_lookup (updated, "attrs", "a{sv}");
  g_assert_false (rec_has (attrs, "plan"));
  g_assert_cmpstr (st_test_rec_str (attrs, "region"), ==, "eu");
  g_assert_cmpint (st_test_rec_int64 (attrs, "seats"), ==, 5);

  /* tags replaces the whole set. */
  again = call_ok (f, CUSTOMERS, "Update", g_variant_new (
      "(s@a{sv})", address, parse_dict ("{'tags': <['z']>}")));
  {
    g_autoptr (GVariant) t = st_test_rec_lookup (again, "tags", "as");
    g_assert_cmpuint (g_variant_n_children (t), ==, 1);
  }
  /* And it is stored, not just echoed. */
  stored = get_id (f, id);
  g_assert_true (g_variant_equal (stored, again));
}

static void
test_find (Fixture *f, gconstpointer data)
{
  gint64 a = create_id (f, "{'name': <'A'>, 'owner': <'alice'>,"
                           " 'tags': <['vip']>}");
  gint64 b = create_id (f, "{'name': <'B'>, 'owner': <'bob'>,"
                           " 'tags': <['vip', 'beta']>}");
  gint64 c = create_id (f, "{'name': <'C'>, 'owner': <'alice'>,"
                           " 'stage': <'active'>}");
  g_autoptr (GVariant) all = NULL, alice = NULL, vip = NULL, active = NULL,
                       page = NULL, none = NULL;
  g_autoptr (GVariant) first = NULL, second = NULL;

  (void) data;
  all = call_ok (f, CUSTOMERS, "Find", g_variant_new_parsed ("(@a{sv} {},)"));
  g_assert_cmpuint (g_variant_n_children (all), ==, 3);
  first = g_variant_get_child_value (all, 0);
  /* Whole records, in id order. */
  g_assert_cmpint (st_test_rec_int64 (first, "id"), ==, a);
  g_assert_cmpstr (st_test_rec_str (first, "name"), ==, "A");
  g_assert_cmpstr (st_test_rec_str (first, "stage"), ==, "lead");

  alice = call_ok (f, CUSTOMERS, "Find",
                   g_variant_new_parsed ("({'owner': <'alice'>},)"));
  g_assert_cmpuint (g_variant_n_children (alice), ==, 2);
  second = g_variant_get_child_value (alice, 1);
  g_assert_cmpint (st_test_rec_int64 (second, "id"), ==, c);

  vip = call_ok (f, CUSTOMERS, "Find",
                 g_variant_new_parsed ("({'tag': <'beta'>},)"));
  g_assert_cmpuint (g_variant_n_children (vip), ==, 1);
  {
    g_autoptr (GVariant) only = g_variant_get_child_value (vip, 0);
    g_assert_cmpint (st_test_rec_int64 (only, "id"), ==, b);
  }

  active = call_ok (f, CUSTOMERS, "Find", g_variant_new_parsed (
                        "({'stage': <'active'>, 'owner': <'alice'>},)"));
  g_assert_cmpuint (g_variant_n_children (active), ==, 1);

  page = call_ok (f, CUSTOMERS, "Find", g_variant_new_parsed (
                      "({'limit': <uint32 1>, 'offset': <uint32 1>},)"));
  g_assert_cmpuint (g_variant_n_children (page), ==, 1);
  {
    g_autoptr (GVariant) only = g_variant_get_child_value (page, 0);
    g_assert_cmpint (st_test_rec_int64 (only, "id"), ==, b);
  }

  none = call_ok (f, CUSTOMERS, "Find",
                  g_variant_new_parsed ("({'owner': <'nobody'>},)"));
  g_assert_cmpuint (g_variant_n_children (none), ==, 0);
}

static GVariant *
timeline (Fixture *f, gint64 id, const char *options)
{
  g_autofree char *address = id_text (id);

  return call_ok (f, CUSTOMERS, "Timeline",
                  g_variant_new ("(s@a{sv})", address,
                                 parse_dict (options ? options : "@a{sv} {}")));
}

static void
test_set_stage (Fixture *f, gconstpointer data)
{
  g_autoptr (GVariant) created = create (f, "{'name': <'Ada'>}");
  gint64 id = st_test_rec_int64 (created, "id");
  g_autofree char *address = id_text (id);
  g_autoptr (GVariant) moved = NULL, entries = NULL, latest = NULL,
                       creation = NULL, again = NULL;
  g_autoptr (GDateTime) before = NULL, after = NULL;

  (void) data;
  moved = call_ok (f, CUSTOMERS, "SetStage",
                   g_variant_new ("(sss)", address, "onboarding",
                                  "signed the contract"));
  g_assert_cmpint (st_test_rec_int64 (moved, "id"), ==, id);
  g_assert_cmpstr (st_test_rec_str (moved, "stage"), ==, "onboarding");
  before = rec_time (created, "stage_since");
  after = rec_time (moved, "stage_since");
  g_assert_cmpint (g_date_time_compare (after, before), >, 0);

  /* The move is recorded with who made it: the caller's Unix user. */
  entries = timeline (f, id, NULL);
  g_assert_cmpuint (g_variant_n_children (entries), ==, 2);
  latest = g_variant_get_child_value (entries, 0);
  g_assert_cmpstr (st_test_rec_str (latest, "type"), ==, "stage");
  g_assert_cmpstr (st_test_rec_str (latest, "from"), ==, "lead");
  g_assert_cmpstr (st_test_rec_str (latest, "to"), ==, "onboarding");
  g_assert_cmpstr (st_test_rec_str (latest, "reason"), ==,
                   "signed the contract");
  g_assert_cmpstr (st_test_rec_str (latest, "actor"), ==, g_get_user_name ());
  creation = g_variant_get_child_value (entries, 1);
  g_assert_cmpstr (st_test_rec_str (creation, "to"), ==, "lead");
  g_assert_false (rec_has (creation, "from"));
  g_assert_cmpstr (st_test_rec_str (creation, "actor"), ==, g_get_user_name ());

  /* An empty reason is no reason; the way on is open. */
  again = call_ok (f, CUSTOMERS, "SetStage",
                   g_variant_new ("(sss)", address, "active", ""));
  g_assert_cmpstr (st_test_rec_str (again, "stage"), ==, "active");
  {
    g_autoptr (GVariant) list = timeline (f, id, "{'limit': <uint32 1>}");
    g_autoptr (GVariant) top = g_variant_get_child_value (list, 0);
    g_assert_cmpstr (st_test_rec_str (top, "to"), ==, "active");
    g_assert_false (rec_has (top, "reason"));
  }
}

static void
test_timeline (Fixture *f, gconstpointer data)
{
  gint64 id = create_id (f, "{'name': <'Ada'>}");
  g_autofree char *address = id_text (id);
  g_autoptr (GVariant) entries = NULL, page = NULL, first = NULL,
                       second = NULL, third = NULL, fourth = NULL;

  (void) data;
  g_variant_unref (record_event (f, id, "purchase",
                                 "{'at': <'2026-01-02T10:00:00Z'>,"
                                 " 'amount': <12.5>}"));
  g_variant_unref (record_event (f, id, "login",
                                 "{'at': <'2026-03-04T10:00:00Z'>}"));
  g_variant_unref (call_ok (f, CUSTOMERS, "SetStage",
                            g_variant_new ("(sss)", address, "onboarding",
                                           "")));

  /* Newest first: the stage move (now), the creation, then the events by
   * the time they happened, not the time they were recorded. */
  entries = timeline (f, id, NULL);
  g_assert_cmpuint (g_variant_n_children (entries), ==, 4);
  first = g_variant_get_child_value (entries, 0);
  second = g_variant_get_child_value (entries, 1);
  third = g_variant_get_child_value (entries, 2);
  fourth = g_variant_get_child_value (entries, 3);
  g_assert_cmpstr (st_test_rec_str (first, "type"), ==, "stage");
  g_assert_cmpstr (st_test_rec_str (first, "to"), ==, "onboarding");
  g_assert_cmpstr (st_test_rec_str (second, "type"), ==, "stage");
  g_assert_cmpstr (st_test_rec_str (second, "to"), ==, "lead");
  g_assert_cmpstr (st_test_rec_str (third, "type"), ==, "event");
  g_assert_cmpstr (st_test_rec_str (third, "kind"), ==, "login");
  g_assert_cmpstr (st_test_rec_str (third, "at"), ==,
                   "2026-03-04T10:00:00.000000Z");
  g_assert_cmpstr (st_test_rec_str (fourth, "kind"), ==, "purchase");
  g_assert_cmpstr (st_test_rec_str (fourth, "at"), ==,
                   "2026-01-02T10:00:00.000000Z");
  g_assert_cmpfloat (st_test_rec_double (fourth, "amount"), ==, 12.5);
  for (guint i = 0; i < 4; i++)
    {
      g_autoptr (GVariant) entry = g_variant_get_child_value (entries, i);
      g_autoptr (GDateTime) at = rec_time (entry, "at");
      (void) at;
    }

  page = timeline (f, id, "{'limit': <uint32 2>, 'offset': <uint32 2>}");
  g_assert_cmpuint (g_variant_n_children (page), ==, 2);
  {
    g_autoptr (GVariant) p0 = g_variant_get_child_value (page, 0);
    g_assert_true (g_variant_equal (p0, third));
  }
}

static void
test_record_event (Fixture *f, gconstpointer data)
{
  gint64 id = create_id (f, "{'name': <'Ada'>, 'ref': <'R-1'>}");
  g_autoptr (GVariant) event = NULL, plain = NULL, customer = NULL,
                       payload = NULL, survey = NULL;
  g_autoptr (GDateTime) recorded = NULL;

  (void) data;
  event = call_ok (f, CUSTOMERS, "RecordEvent", g_variant_new (
      "(ss@a{sv})", "ref:R-1", "purchase",
      parse_dict ("{'at': <'2026-01-02T11:30:00+01:00'>,"
                  " 'amount': <19.99>,"
                  " 'data': <{'sku': <'B-42'>, 'qty': <int64 2>}>}")));
  g_assert_cmpint (st_test_rec_int64 (event, "id"), >, 0);
  g_assert_cmpint (st_test_rec_int64 (event, "customer_id"), ==, id);
  g_assert_cmpstr (st_test_rec_str (event, "kind"), ==, "purchase");
  /* Times come back in UTC. */
  g_assert_cmpstr (st_test_rec_str (event, "occurred_at"), ==,
                   "2026-01-02T10:30:00.000000Z");
  recorded = rec_time (event, "recorded_at");
  g_assert_cmpfloat_with_epsilon (st_test_rec_double (event, "amount"), 19.99,
                                  1e-9);
  payload = st_test_rec_lookup (event, "data", "a{sv}");
  g_assert_cmpstr (st_test_rec_str (payload, "sku"), ==, "B-42");
  g_assert_cmpint (st_test_rec_int64 (payload, "qty"), ==, 2);
  g_assert_false (st_test_rec_bool (event, "duplicate"));
  g_assert_false (rec_has (event, "key"));

  /* No "at": now. */
  plain = record_event (f, id, "ticket_opened", NULL);
  {
    g_autoptr (GDateTime) at = rec_time (plain, "occurred_at");
    g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
    g_assert_cmpint (ABS (g_date_time_difference (now, at)), <,
                     60 * G_TIME_SPAN_SECOND);
  }
  g_assert_false (rec_has (plain, "amount"));
  survey = record_event (f, id, "survey",
                         "{'data': <{'score': <int64 9>}>,"
                         " 'at': <'2026-02-01T00:00:00Z'>}");

  /* The customer's aggregates moved in the same transaction. */
  customer = get_id (f, id);
  g_assert_cmpint (st_test_rec_int64 (customer, "event_count"), ==, 3);
  g_assert_cmpint (st_test_rec_int64 (customer, "purchase_count"), ==, 1);
  g_assert_cmpfloat_with_epsilon (st_test_rec_double (customer, "revenue"),
                                  19.99, 1e-9);
  g_assert_cmpstr (st_test_rec_str (customer, "last_purchase_at"), ==,
                   "2026-01-02T10:30:00.000000Z");
  g_assert_cmpstr (st_test_rec_str (customer, "first_purchase_at"), ==,
                   "2026-01-02T10:30:00.000000Z");
  {
    g_autoptr (GVariant) open =
        st_test_rec_lookup (customer, "open_tickets", "i");
    g_assert_cmpint (g_variant_get_int32 (open), ==, 1);
  }
  {
    g_autoptr (GVariant) nps = st_test_rec_lookup (customer, "last_nps", "i");
    g_assert_cmpint (g_variant_get_int32 (nps), ==, 9);
  }
}

static void
test_record_event_idempotent (Fixture *f, gconstpointer data)
{
  gint64 a = create_id (f, "{'name': <'A'>}");
  gint64 b = create_id (f, "{'name': <'B'>}");
  g_autoptr (GVariant) first = NULL, second = NULL, other = NULL,
                       customer = NULL;

  (void) data;
  first = record_event (f, a, "purchase",
                        "{'key': <'order-981'>, 'amount': <30.0>}");
  g_assert_false (st_test_rec_bool (first, "duplicate"));
  g_assert_cmpstr (st_test_rec_str (first, "key"), ==, "order-981");
  /* A retry (even with other values) answers the recorded event. */
  second = record_event (f, a, "purchase",
                         "{'key': <'order-981'>, 'amount': <99.0>}");
  g_assert_true (st_test_rec_bool (second, "duplicate"));
  g_assert_cmpint (st_test_rec_int64 (second, "id"), ==,
                   st_test_rec_int64 (first, "id"));
  g_assert_cmpfloat (st_test_rec_double (second, "amount"), ==, 30.0);

  customer = get_id (f, a);
  g_assert_cmpint (st_test_rec_int64 (customer, "event_count"), ==, 1);
  g_assert_cmpint (st_test_rec_int64 (customer, "purchase_count"), ==, 1);
  g_assert_cmpfloat (st_test_rec_double (customer, "revenue"), ==, 30.0);

  /* Keys are unique per customer. */
  other = record_event (f, b, "purchase", "{'key': <'order-981'>}");
  g_assert_false (st_test_rec_bool (other, "duplicate"));
  g_assert_cmpint (st_test_rec_int64 (other, "id"), !=,
                   st_test_rec_int64 (first, "id"));
}

static void
test_record_events (Fixture *f, gconstpointer data)
{
  gint64 a = create_id (f, "{'name': <'A'>, 'ref': <'acme'>}");
  gint64 b = create_id (f, "{'name': <'B'>}");
  g_autofree char *b_text = id_text (b);
  g_autofree char *batch = g_strdup_printf (
      "[{'customer': <'acme'>, 'kind': <'login'>},"
      " {'customer': <'%s'>, 'kind': <'purchase'>, 'amount': <10.0>,"
      "  'key': <'k1'>},"
      " {'customer': <'ref:acme'>, 'kind': <'purchase'>, 'amount': <2.5>}]",
      b_text);
  g_autoptr (GVariant) events = NULL, results = NULL, ca = NULL, cb = NULL;
  g_autoptr (GError) error = NULL;

  (void) data;
  events = g_variant_parse (G_VARIANT_TYPE ("aa{sv}"), batch, NULL, NULL,
                            &error);
  g_assert_no_error (error);
  results = call_ok (f, CUSTOMERS, "RecordEvents",
                     g_variant_new ("(@aa{sv})", events));
  g_assert_cmpuint (g_variant_n_children (results), ==, 3);
  /* One result per event, in order. */
  {
    g_autoptr (GVariant) r0 = g_variant_get_child_value (results, 0);
    g_autoptr (GVariant) r1 = g_variant_get_child_value (results, 1);
    g_autoptr (GVariant) r2 = g_variant_get_child_value (results, 2);
    g_assert_cmpint (st_test_rec_int64 (r0, "customer_id"), ==, a);
    g_assert_cmpstr (st_test_rec_str (r0, "kind"), ==, "login");
    g_assert_cmpint (st_test_rec_int64 (r1, "customer_id"), ==, b);
    g_assert_cmpstr (st_test_rec_str (r1, "key"), ==, "k1");
    g_assert_false (st_test_rec_bool (r1, "duplicate"));
    g_assert_cmpint (st_test_rec_int64 (r2, "customer_id"), ==, a);
    g_assert_cmpfloat (st_test_rec_double (r2, "amount"), ==, 2.5);
  }
  ca = get_id (f, a);
  cb = get_id (f, b);
  g_assert_cmpint (st_test_rec_int64 (ca, "event_count"), ==, 2);
  g_assert_cmpfloat (st_test_rec_double (ca, "revenue"), ==, 2.5);
  g_assert_cmpint (st_test_rec_int64 (cb, "event_count"), ==, 1);
}

/* All or nothing: one bad event and none is recorded. */
static void
test_record_events_atomic (Fixture *f, gconstpointer data)
{
  gint64 a = create_id (f, "{'name': <'A'>, 'ref': <'acme'>}");
  g_autoptr (GVariant) customer = NULL, status_after = NULL, retry = NULL;

  (void) data;
  call_fails (f, CUSTOMERS, "RecordEvents",
              g_variant_new_parsed (
                  "([{'customer': <'acme'>, 'kind': <'purchase'>,"
                  "   'amount': <10.0>, 'key': <'order-1'>},"
                  "  {'customer': <'acme'>, 'kind': <'login'>},"
                  "  {'customer': <'nobody'>, 'kind': <'login'>}],)"),
              "NotFound", ST_ERROR_NOT_FOUND, "event 3: ", "nobody");
  call_fails (f, CUSTOMERS, "RecordEvents",
              g_variant_new_parsed (
                  "([{'customer': <'acme'>, 'kind': <'login'>},"
                  "  {'customer': <'acme'>, 'kind': <'Log In'>}],)"),
              "InvalidArgument", ST_ERROR_INVALID_ARGUMENT, "event 2: kind:",
              NULL);
  call_fails (f, CUSTOMERS, "RecordEvents",
              g_variant_new_parsed ("(@aa{sv} [],)"), "InvalidArgument",
              ST_ERROR_INVALID_ARGUMENT, "events:", NULL);

  customer = get_id (f, a);
  g_assert_cmpint (st_test_rec_int64 (customer, "event_count"), ==, 0);
  g_assert_cmpfloat (st_test_rec_double (customer, "revenue"), ==, 0.0);
  status_after = status (f);
  g_assert_cmpint (st_test_rec_int64 (status_after, "events"), ==, 0);
  /* The key of the rolled-back event is free: it was never recorded. */
  retry = record_event (f, a, "purchase", "{'key': <'order-1'>}");
  g_assert_false (st_test_rec_bool (retry, "duplicate"));
}

/* Errors ---------------------------------------------------------------- */

static void
test_error_not_found (Fixture *f, gconstpointer data)
{
  (void) data;
  call_fails (f, CUSTOMERS, "Get", g_variant_new ("(s)", "424242"),
              "NotFound", ST_ERROR_NOT_FOUND, NULL, "'424242'");
  call_fails (f, CUSTOMERS, "Get", g_variant_new ("(s)", "ref:CRM-404"),
              "NotFound", ST_ERROR_NOT_FOUND, NULL, "CRM-404");
  call_fails (f, CUSTOMERS, "Update",
              g_variant_new_parsed ("('424242', {'name': <'X'>})"),
              "NotFound", ST_ERROR_NOT_FOUND, NULL, "424242");
  call_fails (f, CUSTOMERS, "SetStage",
              g_variant_new ("(sss)", "424242", "onboarding", ""),
              "NotFound", ST_ERROR_NOT_FOUND, NULL, "424242");
  call_fails (f, CUSTOMERS, "Timeline",
              g_variant_new_parsed ("('424242', @a{sv} {})"),
              "NotFound", ST_ERROR_NOT_FOUND, NULL, "424242");
  call_fails (f, CUSTOMERS, "RecordEvent",
              g_variant_new_parsed ("('424242', 'login', @a{sv} {})"),
              "NotFound", ST_ERROR_NOT_FOUND, NULL, "424242");
}

static void
test_error_invalid_argument (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *method;
    const char *params; /* GVariant text */
    const char *prefix; /* the message names the field first */
  } cases[] = {
    { "Create", "(@a{sv} {},)", "name:" },
    { "Create", "({'name': <'   '>},)", "name:" },
    { "Create", "({'name': <int32 5>},)", "name:" },
    { "Create", "({'name': <'A'>, 'email': <'not-an-address'>},)", "email:" },
    { "Create", "({'name': <'A'>, 'tz': <'Mars/Olympus'>},)", "tz:" },
    { "Create", "({'name': <'A'>, 'colour': <'red'>},)", "customer:" },
    { "Create", "({'name': <'A'>, 'stage': <'vip'>},)", "stage:" },
    { "Create", "({'name': <'A'>, 'tags': <'vip'>},)", "tags:" },
    { "Update", "('1', {'stage': <'active'>})", "stage:" },
    { "Find", "({'stage': <'vip'>},)", "stage:" },
    { "Find", "({'limit': <uint32 0>},)", "limit:" },
    { "Find", "({'colour': <'red'>},)", "filter:" },
    { "Get", "('',)", "customer:" },
    { "Get", "('id:abc',)", "customer:" },
    { "SetStage", "('1', 'vip', '')", "stage:" },
    { "Timeline", "('1', {'limit': <uint32 5000>})", "limit:" },
    { "RecordEvent", "('1', 'Big Purchase', @a{sv} {})", "kind:" },
    { "RecordEvent", "('1', 'login', {'at': <'yesterday'>})", "at:" },
    { "RecordEvent", "('1', 'login', {'at': <'2999-01-01T00:00:00Z'>})", "at:" },
    { "RecordEvent", "('1', 'purchase', {'amount': <'ten'>})", "amount:" },
    { "RecordEvent", "('1', 'login', {'key': <''>})", "key:" },
    { "RecordEvent", "('1', 'survey', @a{sv} {})", "data" },
    { "RecordEvent", "('1', 'survey', {'data': <{'score': <int64 11>}>})",
      "data.score:" },
  };
  g_autoptr (GVariant) customer = NULL;

  (void) data;
  g_assert_cmpint (create_id (f, "{'name': <'A'>}"), ==, 1);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GVariant *params = parse_floating (NULL, cases[i].params);

      g_test_message ("%s%s", cases[i].method, cases[i].params);
      call_fails (f, CUSTOMERS, cases[i].method, params, "InvalidArgument",
                  ST_ERROR_INVALID_ARGUMENT, cases[i].prefix, NULL);
    }
  /* Nothing of it reached the database. */
  customer = get (f, "1");
  g_assert_cmpint (st_test_rec_int64 (customer, "event_count"), ==, 0);
  g_assert_cmpstr (st_test_rec_str (customer, "stage"), ==, "lead");
  g_assert_cmpstr (st_test_rec_str (customer, "name"), ==, "A");
}

static void
test_error_illegal_transition (Fixture *f, gconstpointer data)
{
  gint64 id = create_id (f, "{'name': <'Ada'>}");
  g_autofree char *address = id_text (id);
  g_autoptr (GVariant) after = NULL, entries = NULL;

  (void) data;
  /* The message says where the customer may go instead. */
  call_fails (f, CUSTOMERS, "SetStage",
              g_variant_new ("(sss)", address, "churned", ""),
              "IllegalTransition", ST_ERROR_ILLEGAL_TRANSITION, NULL,
              "from lead to churned");
  call_fails (f, CUSTOMERS, "SetStage",
              g_variant_new ("(sss)", address, "churned", ""),
              "IllegalTransition", ST_ERROR_ILLEGAL_TRANSITION, NULL,
              "onboarding");
  call_fails (f, CUSTOMERS, "SetStage",
              g_variant_new ("(sss)", address, "lead", ""),
              "IllegalTransition", ST_ERROR_ILLEGAL_TRANSITION, NULL,
              "already in stage lead");
  after = get_id (f, id);
  g_assert_cmpstr (st_test_rec_str (after, "stage"), ==, "lead");
  entries = timeline (f, id, NULL);
  g_assert_cmpuint (g_variant_n_children (entries), ==, 1);
}

static void
test_error_already_exists (Fixture *f, gconstpointer data)
{
  gint64 first = create_id (f, "{'name': <'A'>, 'ref': <'CRM-1'>,"
                               " 'email': <'ada@example.org'>}");
  gint64 second = create_id (f, "{'name': <'B'>}");
  g_autofree char *owner = g_strdup_printf ("customer %" G_GINT64_FORMAT,
                                            first);
  g_autofree char *second_text = id_text (second);
  g_autoptr (GVariant) counts = NULL, unchanged = NULL;

  (void) data;
  /* The message names the field and who holds the value. */
  call_fails (f, CUSTOMERS, "Create",
              g_variant_new_parsed ("({'name': <'C'>, 'ref': <'CRM-1'>},)"),
              "AlreadyExists", ST_ERROR_ALREADY_EXISTS, "ref:", owner);
  call_fails (f, CUSTOMERS, "Create",
              g_variant_new_parsed ("({'name': <'C'>,"
                                    "  'email': <'ADA@Example.org'>},)"),
              "AlreadyExists", ST_ERROR_ALREADY_EXISTS, "email:", owner);
  call_fails (f, CUSTOMERS, "Update",
              g_variant_new ("(s@a{sv})", second_text,
                             parse_dict ("{'ref': <'CRM-1'>}")),
              "AlreadyExists", ST_ERROR_ALREADY_EXISTS, "ref:", owner);

  counts = status (f);
  g_assert_cmpint (st_test_rec_int64 (counts, "customers"), ==, 2);
  unchanged = get_id (f, second);
  g_assert_false (rec_has (unchanged, "ref"));
}

/* A ref that looks like another customer's id is ambiguous: the daemon asks
 * rather than guesses. */
static void
test_ambiguous_address (Fixture *f, gconstpointer data)
{
  gint64 first = create_id (f, "{'name': <'A'>}");
  g_autofree char *first_text = id_text (first);
  g_autofree char *fields = g_strdup_printf ("{'name': <'B'>, 'ref': <'%s'>}",
                                             first_text);
  gint64 second = create_id (f, fields);
  g_autofree char *by_id = g_strdup_printf ("id:%s", first_text);
  g_autofree char *by_ref = g_strdup_printf ("ref:%s", first_text);
  g_autoptr (GVariant) a = NULL, b = NULL;

  (void) data;
  call_fails (f, CUSTOMERS, "Get", g_variant_new ("(s)", first_text),
              "InvalidArgument", ST_ERROR_INVALID_ARGUMENT, "customer:",
              by_id);
  a = get (f, by_id);
  b = get (f, by_ref);
  g_assert_cmpint (st_test_rec_int64 (a, "id"), ==, first);
  g_assert_cmpint (st_test_rec_int64 (b, "id"), ==, second);
}

/* Concurrency ------------------------------------------------------------- */

#define N_THREADS 16
#define N_CALLS 20
#define N_TARGETS 4

typedef struct {
  const char *address; /* the bus */
  guint index;
  gint64 *targets;
  GMutex *lock;
  GHashTable *event_ids;
  guint failures;
  char *first_failure;
} Caller;

static gpointer
caller_thread (gpointer data)
{
  Caller *caller = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) connection = g_dbus_connection_new_for_address_sync (
      caller->address,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
          | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);

  if (connection == NULL)
    {
      caller->failures = N_CALLS;
      caller->first_failure = g_strdup (error->message);
      return NULL;
    }
  for (guint i = 0; i < N_CALLS; i++)
    {
      g_autofree char *address = id_text (
          caller->targets[caller->index % N_TARGETS]);
      g_autofree char *key = g_strdup_printf ("t%u-c%u", caller->index, i);
      GVariantBuilder data;
      g_autoptr (GVariant) reply = NULL;
      g_autoptr (GError) call_error = NULL;

      g_variant_builder_init (&data, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&data, "{sv}", "amount",
                             g_variant_new_double (1.25));
      /* Every other call carries an idempotency key. */
      if (i % 2 == 0)
        g_variant_builder_add (&data, "{sv}", "key",
                               g_variant_new_string (key));
      reply = g_dbus_connection_call_sync (
          connection, ST_BUS_NAME, ST_OBJECT_PATH,
          "org.steward.Steward1.Customers", "RecordEvent",
          g_variant_new ("(ss@a{sv})", address, "purchase",
                         g_variant_builder_end (&data)),
          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, 30000, NULL,
          &call_error);
      if (reply == NULL)
        {
          if (caller->failures++ == 0)
            caller->first_failure = g_strdup (call_error->message);
          continue;
        }
      {
        g_autoptr (GVariant) event = g_variant_get_child_value (reply, 0);
        gint64 id = st_test_rec_int64 (event, "id");
        g_mutex_lock (caller->lock);
        g_hash_table_add (caller->event_ids, g_memdup2 (&id, sizeof id));
        g_mutex_unlock (caller->lock);
      }
    }
  return NULL;
}

static void
test_concurrent_callers (Fixture *f, gconstpointer data)
{
  gint64 targets[N_TARGETS];
  Caller callers[N_THREADS];
  GThread *threads[N_THREADS];
  GMutex lock;
  g_autoptr (GHashTable) event_ids = g_hash_table_new_full (
      g_int64_hash, g_int64_equal, g_free, NULL);
  g_autoptr (GVariant) counts = NULL;

  (void) data;
  g_mutex_init (&lock);
  for (guint i = 0; i < N_TARGETS; i++)
    targets[i] = create_id (f, "{'name': <'Target'>}");
  for (guint i = 0; i < N_THREADS; i++)
    {
      callers[i] = (Caller){ g_test_dbus_get_bus_address (f->daemon->bus), i,
                             targets, &lock, event_ids, 0, NULL };
      threads[i] = g_thread_new ("caller", caller_thread, &callers[i]);
    }
  for (guint i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);
  for (guint i = 0; i < N_THREADS; i++)
    {
      if (callers[i].failures > 0)
        g_error ("caller %u: %u of %u calls failed, first: %s", i,
                 callers[i].failures, N_CALLS, callers[i].first_failure);
    }
  g_mutex_clear (&lock);

  /* Every call got its own event, and the aggregates lost no update. */
  g_assert_cmpuint (g_hash_table_size (event_ids), ==, N_THREADS * N_CALLS);
  for (guint i = 0; i < N_TARGETS; i++)
    {
      g_autoptr (GVariant) customer = get_id (f, targets[i]);
      guint per_target = N_THREADS / N_TARGETS * N_CALLS;
      g_assert_cmpint (st_test_rec_int64 (customer, "event_count"), ==,
                       per_target);
      g_assert_cmpint (st_test_rec_int64 (customer, "purchase_count"), ==,
                       per_target);
      g_assert_cmpfloat (st_test_rec_double (customer, "revenue"), ==,
                         1.25 * per_target);
    }
  counts = status (f);
  g_assert_cmpint (st_test_rec_int64 (counts, "events"), ==,
                   N_THREADS * N_CALLS);
}

static PGconn *
connect_db (StTestDaemon *daemon)
{
  PGconn *conn = PQconnectdb (daemon->db->conninfo);

  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  return conn;
}

static void
exec_ok (PGconn *conn, const char *sql)
{
  PGresult *res = PQexec (conn, sql);
  ExecStatusType status = PQresultStatus (res);

  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    g_error ("%s: %s", sql, PQerrorMessage (conn));
  PQclear (res);
}

static GVariant *
call_within (Fixture *f, const char *method, GVariant *params, int timeout_ms,
             GError **error)
{
  return g_dbus_connection_call_sync (
      f->daemon->connection, ST_BUS_NAME, ST_OBJECT_PATH,
      "org.steward.Steward1.Customers", method, params, NULL,
      G_DBUS_CALL_FLAGS_NONE, timeout_ms, NULL, error);
}

/* A call stuck on a row lock occupies one worker; the others keep
 * answering everybody else. */
static void
test_slow_call_does_not_stall (Fixture *f, gconstpointer data)
{
  gint64 stuck = create_id (f, "{'name': <'Stuck'>}");
  gint64 other = create_id (f, "{'name': <'Other'>}");
  g_autofree char *stuck_text = id_text (stuck);
  g_autofree char *other_text = id_text (other);
  g_autofree char *lock_sql = g_strdup_printf (
      "SELECT id FROM customers WHERE id = %s FOR UPDATE", stuck_text);
  PGconn *holder = connect_db (f->daemon);
  StTestPending pending = { 0 };
  gint64 deadline;
  g_autoptr (GVariant) stuck_after = NULL;

  (void) data;
  exec_ok (holder, "BEGIN");
  exec_ok (holder, lock_sql);

  g_dbus_connection_call (f->daemon->connection, ST_BUS_NAME, ST_OBJECT_PATH,
                          "org.steward.Steward1.Customers", "RecordEvent",
                          g_variant_new_parsed ("(%s, 'purchase', "
                                                "{'amount': <7.0>})",
                                                stuck_text),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                          60000, NULL, st_test_pending_done, &pending);
  /* Wait until the daemon really waits on the lock. */
  deadline = g_get_monotonic_time () + 15 * G_TIME_SPAN_SECOND;
  while (st_test_lock_waiters (f->daemon->db->conninfo) < 1)
    {
      g_main_context_iteration (NULL, FALSE);
      g_assert_false (pending.done);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }

  /* Meanwhile, other callers get answers, promptly. */
  for (guint i = 0; i < 10; i++)
    {
      g_autoptr (GError) error = NULL;
      gint64 start = g_get_monotonic_time ();
      g_autoptr (GVariant) reply = call_within (
          f, "Get", g_variant_new ("(s)", other_text), 5000, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_get_monotonic_time () - start, <,
                       5 * G_TIME_SPAN_SECOND);
    }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) reply = call_within (
        f, "RecordEvent",
        g_variant_new_parsed ("(%s, 'login', @a{sv} {})", other_text), 5000,
        &error);
    g_assert_no_error (error);
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
        f->daemon->connection, ST_BUS_NAME, ST_OBJECT_PATH,
        "org.steward.Steward1.Manager", "Status", NULL, NULL,
        G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
    g_assert_no_error (error);
  }
  /* ...while the first is still waiting. */
  for (guint i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_false (pending.done);
  g_assert_cmpint (st_test_lock_waiters (f->daemon->db->conninfo), ==, 1);

  /* Let it go: the blocked call completes. */
  exec_ok (holder, "COMMIT");
  deadline = g_get_monotonic_time () + 15 * G_TIME_SPAN_SECOND;
  while (!pending.done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (10 * 1000);
  g_assert_true (pending.done);
  g_assert_no_error (pending.error);
  {
    g_autoptr (GVariant) event = g_variant_get_child_value (pending.reply, 0);
    g_assert_cmpint (st_test_rec_int64 (event, "customer_id"), ==, stuck);
  }
  g_variant_unref (pending.reply);
  PQfinish (holder);

  stuck_after = get_id (f, stuck);
  g_assert_cmpint (st_test_rec_int64 (stuck_after, "event_count"), ==, 1);
  g_assert_cmpfloat (st_test_rec_double (stuck_after, "revenue"), ==, 7.0);
}

/* Reload ---------------------------------------------------------------- */

#define TRIAL_STAGES "stages:\n  trial: [paid]\n  paid: []\n"

static void
write_config (Fixture *f, const char *text)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (f->daemon->config_path, text, -1, &error);
  g_assert_no_error (error);
}

static void
test_reload_good (Fixture *f, gconstpointer data)
{
  gint64 id = create_id (f, "{'name': <'Ada'>}");
  g_autofree char *address = id_text (id);
  g_autoptr (GVariant) moved = NULL, created = NULL, after = NULL;
  g_autoptr (GVariant) workers = NULL;

  (void) data;
  /* Under the running lifecycle, "vip" is no stage. */
  call_fails (f, CUSTOMERS, "SetStage",
              g_variant_new ("(sss)", address, "vip", ""), "InvalidArgument",
              ST_ERROR_INVALID_ARGUMENT, "stage:", "vip");
  write_config (f, "bus: system\nworkers: 9\n"
                   "stages:\n"
                   "  lead: [onboarding, vip]\n"
                   "  onboarding: [active]\n"
                   "  active: []\n"
                   "  vip: []\n");
  call_void (f, MANAGER, "Reload", NULL);

  moved = call_ok (f, CUSTOMERS, "SetStage",
                   g_variant_new ("(sss)", address, "vip", "reload"));
  g_assert_cmpstr (st_test_rec_str (moved, "stage"), ==, "vip");
  created = create (f, "{'name': <'Grace'>, 'stage': <'vip'>}");
  g_assert_cmpstr (st_test_rec_str (created, "stage"), ==, "vip");
  after = status (f);
  g_assert_cmpstr (st_test_rec_str (after, "database"), ==, "ok");
  g_assert_cmpstr (st_test_rec_str (after, "config"), ==,
                   f->daemon->config_path);
  /* bus and workers wait for the next start: status says what is in
   * force, not what the file now says. */
  g_assert_cmpstr (st_test_rec_str (after, "bus"), ==, "session");
  workers = st_test_rec_lookup (after, "workers", "u");
  g_assert_cmpuint (g_variant_get_uint32 (workers), ==, 4);
}

static void
test_reload_bad (Fixture *f, gconstpointer data)
{
  g_autofree char *where = g_strdup_printf ("%s:3:", f->daemon->config_path);
  g_autoptr (GVariant) created = NULL, moved = NULL, after = NULL;
  g_autofree char *created_id = NULL;

  (void) data;
  write_config (f, "bus: session\nworkers: 4\nwrokers: 8\n" TRIAL_STAGES);
  /* The error names the file, line and column. */
  call_fails (f, MANAGER, "Reload", NULL, "InvalidArgument",
              ST_ERROR_INVALID_ARGUMENT, where, "wrokers");

  write_config (f, "bus: session\nworkers: 4\nstages:\n  trial: [nowhere]\n");
  call_fails (f, MANAGER, "Reload", NULL, "InvalidArgument",
              ST_ERROR_INVALID_ARGUMENT, f->daemon->config_path, "nowhere");

  g_assert_cmpint (g_unlink (f->daemon->config_path), ==, 0);
  call_fails (f, MANAGER, "Reload", NULL, "NotFound", ST_ERROR_NOT_FOUND,
              f->daemon->config_path, NULL);

  /* The running lifecycle (trial → paid) is still the one in force. */
  created = create (f, "{'name': <'Ada'>}");
  g_assert_cmpstr (st_test_rec_str (created, "stage"), ==, "trial");
  created_id = id_text (st_test_rec_int64 (created, "id"));
  moved = call_ok (f, CUSTOMERS, "SetStage",
                   g_variant_new ("(sss)", created_id, "paid", ""));
  g_assert_cmpstr (st_test_rec_str (moved, "stage"), ==, "paid");
  after = status (f);
  g_assert_cmpstr (st_test_rec_str (after, "database"), ==, "ok");
  /* Put a file back so that nothing else trips on its absence. */
  write_config (f, "bus: session\nworkers: 4\n" TRIAL_STAGES);
}

/* The daemon's command line ------------------------------------------------ */

static char *
write_temp (const char *name, const char *text, char **dir_out)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("steward-dbus-XXXXXX", &error);
  char *path;

  g_assert_no_error (error);
  path = g_build_filename (dir, name, NULL);
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  *dir_out = dir;
  return path;
}

static void
remove_temp (char *path, char *dir)
{
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}

static void
test_check_config_good (void)
{
  char *dir = NULL;
  char *path = write_temp ("good.yaml",
                           "bus: session\nworkers: 8\n" TRIAL_STAGES, &dir);
  g_autofree char *out = NULL, *err = NULL, *expected = NULL;
  int status = run_stewardd (NULL, &out, &err,
                             (const char *[]){ "--check-config", path, NULL });

  g_assert_cmpint (status, ==, 0);
  expected = g_strdup_printf ("%s: ok\n", path);
  g_assert_cmpstr (out, ==, expected);
  g_assert_cmpstr (err, ==, "");
  remove_temp (path, dir);
}

static void
test_check_config_bad (void)
{
  static const struct {
    const char *text;
    const char *position;
    const char *needle;
  } cases[] = {
    { "bus: session\nwrokers: 4\n", ":2:1: ", "wrokers" },
    { "bus: session\nworkers: lots\n", ":2:10: ", "lots" },
    { "bus: tram\n", ":1:6: ", "tram" },
    { "bus: session\nstages:\n  lead: [nowhere]\n", ":3:", "nowhere" },
    { "bus: [session\n", ":", "YAML" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char *dir = NULL;
      char *path = write_temp ("bad.yaml", cases[i].text, &dir);
      g_autofree char *out = NULL, *err = NULL, *prefix = NULL;
      int status = run_stewardd (NULL, &out, &err,
                                 (const char *[]){ "--check-config", path,
                                                   NULL });

      g_test_message ("%s", cases[i].text);
      g_assert_cmpint (status, ==, 1);
      g_assert_cmpstr (out, ==, "");
      prefix = g_strconcat (path, cases[i].position, NULL);
      if (!g_str_has_prefix (err, prefix))
        g_error ("expected stderr to start with '%s', got: %s", prefix, err);
      st_test_assert_contains (err, cases[i].needle);
      remove_temp (path, dir);
    }

  /* A file that is not there is an error too, naming it. */
  {
    g_autofree char *out = NULL, *err = NULL;
    int status = run_stewardd (
        NULL, &out, &err,
        (const char *[]){ "--check-config", "/nonexistent/steward.yaml",
                          NULL });
    g_assert_cmpint (status, ==, 1);
    g_assert_true (g_str_has_prefix (err, "/nonexistent/steward.yaml: "));
  }
}

/* What the daemon refuses at start, --check-config refuses too: a channel
 * whose plugin does not exist or refuses its settings, named with the
 * file, line and column of the channel's entry. */
static void
test_check_config_channels (void)
{
  g_autofree char *plugins = st_test_build_path ("plugins");
  static const struct {
    const char *channel;
    const char *position;
    const char *needle;
  } cases[] = {
    { "  email: { plugin: nope }\n", ":4:3: ", "no channel plugin 'nope'" },
    { "  email: { plugin: log, path: /tmp/m.jsonl, bogus: 1 }\n", ":4:3: ",
      "unknown setting 'bogus'" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char *dir = NULL;
      g_autofree char *text = g_strdup_printf (
          "bus: session\nplugin_dir: %s\nchannels:\n%s", plugins,
          cases[i].channel);
      char *path = write_temp ("channels.yaml", text, &dir);
      g_autofree char *out = NULL, *err = NULL, *prefix = NULL;
      int status = run_stewardd (NULL, &out, &err,
                                 (const char *[]){ "--check-config", path,
                                                   NULL });

      g_test_message ("%s", text);
      g_assert_cmpint (status, ==, 1);
      g_assert_cmpstr (out, ==, "");
      prefix = g_strconcat (path, cases[i].position, NULL);
      if (!g_str_has_prefix (err, prefix))
        g_error ("expected stderr to start with '%s', got: %s", prefix, err);
      st_test_assert_contains (err, "channel 'email'");
      st_test_assert_contains (err, cases[i].needle);
      remove_temp (path, dir);
    }
}

static void
test_version_option (void)
{
  g_autofree char *out = NULL, *err = NULL, *expected = NULL;
  int status = run_stewardd (NULL, &out, &err,
                             (const char *[]){ "--version", NULL });

  g_assert_cmpint (status, ==, 0);
  expected = g_strdup_printf ("stewardd %s (schema %d)\n", ST_VERSION,
                              st_store_known_schema_version ());
  g_assert_cmpstr (out, ==, expected);
}

static void
test_bad_option (void)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = run_stewardd (NULL, &out, &err,
                             (const char *[]){ "--frobnicate", NULL });

  /* Usage errors are status 2, with a hint. */
  g_assert_cmpint (status, ==, 2);
  st_test_assert_contains (err, "frobnicate");
  st_test_assert_contains (err, "--help");
}

/* The default configuration file is DESIGN.md's, for an install under
 * /usr/local (the build's default prefix) as for a package. */
static void
test_default_config_path (void)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = run_stewardd (NULL, &out, &err,
                             (const char *[]){ "--help", NULL });

  g_assert_cmpint (status, ==, 0);
  st_test_assert_contains (out, "(default /etc/steward/steward.yaml)");
}

/* A file named without --config is a usage error, not a daemon started on
 * the built-in defaults with the file ignored. */
static void
test_stray_argument (void)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = run_stewardd (NULL, &out, &err,
                             (const char *[]){ "steward.yaml", NULL });

  g_assert_cmpint (status, ==, 2);
  st_test_assert_contains (err, "'steward.yaml'");
  st_test_assert_contains (err, "--config");
}

/* A database migrated by a newer stewardd is left alone. */
static void
test_schema_newer (Fixture *f, gconstpointer data)
{
  g_autofree char *inserted = NULL, *out = NULL, *err = NULL;
  g_autofree char *still = NULL;
  int status;

  (void) data;
  g_variant_unref (call_ok (f, CUSTOMERS, "Create",
                            g_variant_new_parsed ("({'name': <'Ada'>},)")));
  st_test_daemon_stop_process (f->daemon);
  inserted = st_test_db_query (
      f->daemon->db, "INSERT INTO st_schema_migrations (version, name) "
                     "VALUES (9999, '9999-future.sql') RETURNING version");
  g_assert_cmpstr (inserted, ==, "9999");

  status = run_stewardd (f->daemon, &out, &err,
                         (const char *[]){ "--config", f->daemon->config_path,
                                           NULL });
  g_assert_cmpint (status, !=, 0);
  st_test_assert_contains (err, "newer");
  st_test_assert_contains (err, "9999");
  /* It did not touch the data. */
  still = st_test_db_query (f->daemon->db, "SELECT count(*) FROM customers");
  g_assert_cmpstr (still, ==, "1");
}

static void
test_name_owned (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GVariant) version = NULL;
  int status;

  (void) data;
  status = run_stewardd (f->daemon, &out, &err,
                         (const char *[]){ "--config", f->daemon->config_path,
                                           NULL });
  g_assert_cmpint (status, ==, 1);
  st_test_assert_contains (err, "org.steward.Steward1");
  st_test_assert_contains (err, "already owned");
  /* The first one still serves. */
  version = call_ok (f, MANAGER, "Version", NULL);
  g_assert_cmpstr (g_variant_get_string (version, NULL), ==, ST_VERSION);
}

/* All state is in PostgreSQL: a restarted daemon finds everything. */
static void
test_restart_keeps_data (Fixture *f, gconstpointer data)
{
  gint64 id = create_id (f, "{'name': <'Ada'>, 'ref': <'keep'>}");
  g_autoptr (GVariant) before = NULL, after = NULL, schema = NULL,
                       duplicate = NULL;
  g_autofree char *migrations = NULL, *known = NULL;

  (void) data;
  g_variant_unref (record_event (f, id, "purchase",
                                 "{'amount': <3.0>, 'key': <'once'>}"));
  before = get_id (f, id);
  st_test_daemon_restart (f->daemon);
  after = get (f, "keep");
  g_assert_true (g_variant_equal (before, after));
  /* Migrations are not applied twice. */
  schema = call_ok (f, MANAGER, "SchemaVersion", NULL);
  g_assert_cmpint (g_variant_get_int32 (schema), ==,
                   st_store_known_schema_version ());
  migrations = st_test_db_query (f->daemon->db,
                                 "SELECT count(*) FROM st_schema_migrations");
  known = g_strdup_printf ("%d", st_store_known_schema_version ());
  g_assert_cmpstr (migrations, ==, known);
  /* Idempotency keys survive too. */
  duplicate = record_event (f, id, "purchase", "{'key': <'once'>}");
  g_assert_true (st_test_rec_bool (duplicate, "duplicate"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Map the daemon's errors back to ST_ERROR in this process too. */
  (void) ST_ERROR;

  ADD ("/dbus/introspection", test_introspection, NULL);
  ADD ("/dbus/manager/version", test_manager_version, NULL);
  ADD ("/dbus/manager/status", test_manager_status, NULL);
  ADD ("/dbus/manager/reload-good", test_reload_good, NULL);
  ADD ("/dbus/manager/reload-bad", test_reload_bad, TRIAL_STAGES);
  ADD ("/dbus/customers/create-get", test_create_get, NULL);
  ADD ("/dbus/customers/create-in-stage", test_create_in_stage, NULL);
  ADD ("/dbus/customers/update", test_update, NULL);
  ADD ("/dbus/customers/find", test_find, NULL);
  ADD ("/dbus/customers/set-stage", test_set_stage, NULL);
  ADD ("/dbus/customers/timeline", test_timeline, NULL);
  ADD ("/dbus/customers/record-event", test_record_event, NULL);
  ADD ("/dbus/customers/record-event-idempotent",
       test_record_event_idempotent, NULL);
  ADD ("/dbus/customers/record-events", test_record_events, NULL);
  ADD ("/dbus/customers/record-events-atomic", test_record_events_atomic,
       NULL);
  ADD ("/dbus/customers/ambiguous-address", test_ambiguous_address, NULL);
  ADD ("/dbus/errors/not-found", test_error_not_found, NULL);
  ADD ("/dbus/errors/invalid-argument", test_error_invalid_argument, NULL);
  ADD ("/dbus/errors/illegal-transition", test_error_illegal_transition,
       NULL);
  ADD ("/dbus/errors/already-exists", test_error_already_exists, NULL);
  ADD ("/dbus/concurrency/parallel-callers", test_concurrent_callers, NULL);
  ADD ("/dbus/concurrency/slow-call-does-not-stall",
       test_slow_call_does_not_stall, NULL);
  ADD ("/dbus/daemon/restart-keeps-data", test_restart_keeps_data, NULL);
  ADD ("/dbus/daemon/schema-newer", test_schema_newer, NULL);
  ADD ("/dbus/daemon/name-owned", test_name_owned, NULL);
  g_test_add_func ("/dbus/daemon/check-config-good", test_check_config_good);
  g_test_add_func ("/dbus/daemon/check-config-bad", test_check_config_bad);
  g_test_add_func ("/dbus/daemon/check-config-channels",
                   test_check_config_channels);
  g_test_add_func ("/dbus/daemon/version-option", test_version_option);
  g_test_add_func ("/dbus/daemon/bad-option", test_bad_option);
  g_test_add_func ("/dbus/daemon/stray-argument", test_stray_argument);
  g_test_add_func ("/dbus/daemon/default-config-path",
                   test_default_config_path);
  return g_test_run ();
}
