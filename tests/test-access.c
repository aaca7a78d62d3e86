/* Tests for core/st-access.c and core/st-service-access.c: roles from the
 * access section, the dispatch table's completeness against the
 * introspection XML, and the real stewardd (and stewardctl) refusing what
 * a role may not do. The test runs as one Unix user, so each daemon's
 * configuration maps that user to the role under test. */

#include "st-test-util.h"

#include <glib/gstdio.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "st-access.h"
#include "st-error.h"
#include "st-service.h"

#define ST_IFACE "org.steward.Steward1."

/* Who runs the test: its user and primary group names. */
static char *test_user;
static char *test_group;

/* Roles without a daemon --------------------------------------------------- */

static StConfig *
load (const char *yaml)
{
  g_autoptr (GError) error = NULL;
  StConfig *config = st_config_load_from_data (yaml, -1, "a.yaml", &error);

  g_assert_no_error (error);
  return config;
}

static StRole
role_of (const StConfig *config, const StCaller *caller, const char *source)
{
  g_autofree char *got = NULL;
  StRole role = st_access_role (config, caller, &got);

  g_assert_cmpstr (got, ==, source);
  return role;
}

static void
test_roles (void)
{
  static const guint32 gids[] = { 100, 200, G_MAXUINT32 };
  static const char *const groups[] = { "users", "support", NULL };
  g_autoptr (StCaller) bob = st_caller_new_with (1001, "bob", gids, groups);
  g_autoptr (StCaller) nameless = st_caller_new_with (4242, NULL, NULL, NULL);
  g_autoptr (StConfig) open = st_config_new_default ();
  g_autoptr (StConfig) config = load (
      "access:\n"
      "  default: viewer\n"
      "  groups: {users: viewer, 200: manager, admins: admin}\n");
  g_autoptr (StConfig) lowered = load (
      "access:\n"
      "  users: {bob: none, 4242: admin}\n"
      "  groups: {support: admin}\n");
  g_autoptr (StConfig) closed = load ("access: {}\n");

  /* No access section: everyone is admin, as before roles existed. */
  g_assert_cmpint (role_of (open, bob, "no access section"), ==,
                   ST_ROLE_ADMIN);
  /* The highest of the caller's groups, by name or by gid. */
  g_assert_cmpint (role_of (config, bob, "access.groups '200'"), ==,
                   ST_ROLE_MANAGER);
  g_assert_cmpint (role_of (config, nameless, "access.default"), ==,
                   ST_ROLE_VIEWER);
  /* A user's own entry wins over its groups', even to lower it. */
  g_assert_cmpint (role_of (lowered, bob, "access.users 'bob'"), ==,
                   ST_ROLE_NONE);
  g_assert_cmpint (role_of (lowered, nameless, "access.users '4242'"), ==,
                   ST_ROLE_ADMIN);
  g_assert_cmpint (role_of (closed, bob, "access.default"), ==, ST_ROLE_NONE);
}

/* A real account: its name and its groups, as the daemon sees them. */
static void
test_caller_lookup (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StCaller) caller = st_caller_new (getuid (), &error);
  g_autofree char *described = NULL;
  g_autofree char *expected = g_strdup_printf ("user '%s'", test_user);

  g_assert_no_error (error);
  described = st_caller_describe (caller);
  g_assert_cmpstr (caller->user, ==, test_user);
  g_assert_cmpstr (described, ==, expected);
  g_assert_cmpuint (caller->gids->len, >=, 1);
  g_assert_true (g_strv_contains ((const char *const *) caller->groups,
                                  test_group));
}

/* A uid no account has: a caller without a name or groups, not an
 * error (only a lookup that fails is one). */
static void
test_caller_nameless (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StCaller) caller = st_caller_new (3999999999u, &error);
  g_autofree char *described = NULL;

  g_assert_no_error (error);
  described = st_caller_describe (caller);
  g_assert_null (caller->user);
  g_assert_cmpstr (described, ==, "uid 3999999999");
  g_assert_cmpuint (caller->gids->len, ==, 0);
  g_assert_cmpuint (g_strv_length (caller->groups), ==, 0);
}

/* Every method of the introspection XML has its row in the table, so a
 * new method cannot be reachable by a role nobody chose. */
static void
test_table_complete (void)
{
  g_autofree char *path = st_test_source_path ("data/org.steward.Steward1.xml");
  g_autofree char *xml = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusNodeInfo) node = NULL;
  guint methods = 0;
  gboolean properties = FALSE;

  g_file_get_contents (path, &xml, NULL, &error);
  g_assert_no_error (error);
  node = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);
  for (guint i = 0; node->interfaces[i] != NULL; i++)
    {
      GDBusInterfaceInfo *iface = node->interfaces[i];

      for (guint j = 0; iface->methods[j] != NULL; j++, methods++)
        if (st_service_method_role (iface->name, iface->methods[j]->name)
            == ST_ROLE_NONE)
          g_test_fail_printf ("%s.%s has no role in st-service.c's table",
                              iface->name, iface->methods[j]->name);
      properties = properties || iface->properties[0] != NULL;
    }
  g_assert_cmpuint (methods, >=, 25);
  /* Properties are read with org.freedesktop.DBus.Properties. */
  g_assert_true (properties);
  g_assert_cmpint (st_service_method_role ("org.freedesktop.DBus.Properties",
                                           "Get"), ==, ST_ROLE_VIEWER);
  g_assert_cmpint (st_service_method_role ("org.freedesktop.DBus.Properties",
                                           "GetAll"), ==, ST_ROLE_VIEWER);
  g_assert_cmpint (st_service_method_role ("org.freedesktop.DBus.Properties",
                                           "Set"), ==, ST_ROLE_NONE);
  g_assert_cmpint (st_service_method_role (ST_IFACE "Manager", "Frobnicate"),
                   ==, ST_ROLE_NONE);
  /* The roles DESIGN.md gives: reads, writes, operator actions. */
  g_assert_cmpint (st_service_method_role (ST_IFACE "Customers", "Get"), ==,
                   ST_ROLE_VIEWER);
  g_assert_cmpint (st_service_method_role (ST_IFACE "Customers", "Update"),
                   ==, ST_ROLE_MANAGER);
  g_assert_cmpint (st_service_method_role (ST_IFACE "Manager", "Reload"), ==,
                   ST_ROLE_ADMIN);
  g_assert_cmpint (st_service_method_role (ST_IFACE "Scripts", "Reload"), ==,
                   ST_ROLE_ADMIN);
  /* Reports for people, and the backtest, which scores everyone. */
  g_assert_cmpint (st_service_method_role (ST_IFACE "Reports", "Health"), ==,
                   ST_ROLE_VIEWER);
  g_assert_cmpint (st_service_method_role (ST_IFACE "Reports", "Backtest"),
                   ==, ST_ROLE_MANAGER);
}

/* The daemon --------------------------------------------------------------- */

typedef struct {
  StTestDaemon *daemon;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer yaml)
{
  f->daemon = st_test_daemon_start (yaml);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autofree char *log = NULL;

  (void) data;
  st_test_daemon_stop_process (f->daemon);
  if (g_file_get_contents (f->daemon->log_path, &log, NULL, NULL)
      && st_test_log_has_problem (log))
    g_test_fail_printf ("stewardd reported a problem in its log:\n%s", log);
  st_test_daemon_free (f->daemon);
}

static GVariant *
call_ok (Fixture *f, const char *interface, const char *method,
         GVariant *params)
{
  return st_test_bus_call_ok (f->daemon->connection, interface, method,
                              params);
}

/* The call is refused with PermissionDenied, whose message contains each
 * of the NULL-terminated needles. */
static void
call_denied (Fixture *f, const char *interface, const char *method,
             GVariant *params, const char *first_needle, ...)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = st_test_daemon_call (f->daemon, interface,
                                                    method, params, &error);
  g_autofree char *remote = NULL;
  va_list ap;

  if (reply != NULL)
    g_error ("%s.%s succeeded, expected PermissionDenied", interface, method);
  remote = g_dbus_error_get_remote_error (error);
  if (g_strcmp0 (remote, "org.steward.Steward1.Error.PermissionDenied") != 0)
    g_error ("%s.%s: expected PermissionDenied, got %s: %s", interface,
             method, remote, error->message);
  g_assert_error (error, ST_ERROR, ST_ERROR_PERMISSION_DENIED);
  va_start (ap, first_needle);
  for (const char *needle = first_needle; needle != NULL;
       needle = va_arg (ap, const char *))
    st_test_assert_contains (error->message, needle);
  va_end (ap);
}

static gint64
create (Fixture *f, const char *fields)
{
  g_autoptr (GVariant) record = call_ok (
      f, "Customers", "Create",
      g_variant_new ("(@a{sv})", g_variant_new_parsed (fields)));

  return st_test_rec_int64 (record, "id");
}

static char *
id_text (gint64 id)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, id);
}

static GVariant *
empty_dict (void)
{
  return g_variant_new ("(@a{sv})", g_variant_new_parsed ("@a{sv} {}"));
}

/* Reads everyone may do who has a role. */
static void
assert_reads (Fixture *f)
{
  g_autoptr (GVariant) version = call_ok (f, "Manager", "Version", NULL);
  g_autoptr (GVariant) status = call_ok (f, "Manager", "Status", NULL);
  g_autoptr (GVariant) found = call_ok (f, "Customers", "Find", empty_dict ());
  g_autoptr (GVariant) alerts = call_ok (f, "Alerts", "List", empty_dict ());
  g_autoptr (GVariant) messages = call_ok (f, "Messages", "List",
                                           empty_dict ());
  g_autoptr (GVariant) scripts = call_ok (f, "Scripts", "List", NULL);
  g_autoptr (GVariant) campaigns = call_ok (f, "Campaigns", "List", NULL);

  g_assert_cmpstr (g_variant_get_string (version, NULL), !=, "");
}

static void
test_viewer (Fixture *f, gconstpointer data)
{
  g_autofree char *user = g_strdup_printf ("user '%s' has role viewer",
                                           test_user);
  g_autofree char *out = NULL, *err = NULL;
  int status;

  (void) data;
  assert_reads (f);
  call_denied (f, "Customers", "Create",
               g_variant_new_parsed ("({'name': <'Ann'>},)"), user,
               "(from access.users '", "Customers.Create needs manager",
               "access section of", f->daemon->config_path, NULL);
  call_denied (f, "Customers", "RecordEvent",
               g_variant_new_parsed ("('1', 'login', @a{sv} {})"),
               "Customers.RecordEvent needs manager", NULL);
  call_denied (f, "Reports", "Backtest",
               g_variant_new_parsed ("('2020-01-01', uint32 90, @a{sv} {})"),
               "Reports.Backtest needs manager", NULL);
  call_denied (f, "Manager", "Reload", NULL, "Manager.Reload needs admin",
               NULL);
  /* Refused before the work: nothing was written. */
  g_assert_cmpint (st_test_db_query_int (f->daemon->db,
                                         "SELECT count(*) FROM customers"),
                   ==, 0);

  /* stewardctl prints the daemon's message and exits 1. */
  status = st_test_ctl (f->daemon, &out, &err, "customer", "add", "--name",
                        "Ann", NULL);
  g_assert_cmpint (status, ==, 1);
  g_assert_cmpstr (out, ==, "");
  st_test_assert_contains (err, "stewardctl: ");
  st_test_assert_contains (err, user);
  st_test_assert_contains (err, "Customers.Create needs manager");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  status = st_test_ctl (f->daemon, &out, &err, "customer", "list", NULL);
  g_assert_cmpint (status, ==, 0);
}

/* Mapped through its group: writes, but no operator actions. */
static void
test_manager (Fixture *f, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autoptr (GVariant) moved = NULL;
  g_autoptr (GVariant) event = NULL;
  g_autofree char *from = g_strdup_printf ("(from access.groups '%s')",
                                           test_group);

  (void) data;
  assert_reads (f);
  id = id_text (create (f, "{'name': <'Ann'>, 'owner': <'alice'>}"));
  moved = call_ok (f, "Customers", "SetStage",
                   g_variant_new ("(sss)", id, "onboarding", "signed"));
  event = call_ok (f, "Customers", "RecordEvent",
                   g_variant_new_parsed ("(%s, 'login', @a{sv} {})", id));
  call_denied (f, "Manager", "Reload", NULL, "has role manager", from,
               "Manager.Reload needs admin", NULL);
  call_denied (f, "Scripts", "Reload", NULL, "Scripts.Reload needs admin",
               NULL);
  call_denied (f, "Scripts", "Check", g_variant_new ("(s)", "/etc/passwd"),
               "Scripts.Check needs admin", NULL);
}

static void
test_admin (Fixture *f, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autoptr (GVariant) scripts = NULL;
  g_autoptr (GVariant) got = NULL;

  (void) data;
  assert_reads (f);
  id = id_text (create (f, "{'name': <'Ann'>, 'owner': <'alice'>}"));
  got = call_ok (f, "Customers", "Get", g_variant_new ("(s)", id));
  g_assert_cmpstr (st_test_rec_str (got, "owner"), ==, "alice");
  g_assert_null (call_ok (f, "Manager", "Reload", NULL));
  scripts = call_ok (f, "Scripts", "Reload", NULL);
}

/* No access section: everyone on the bus is admin, as before. */
static void
test_no_section (Fixture *f, gconstpointer data)
{
  (void) data;
  test_admin (f, data);
}

/* A caller no rule names gets the default, none unless written. */
static void
test_default_none (Fixture *f, gconstpointer data)
{
  g_autofree char *user = g_strdup_printf ("user '%s' has role none",
                                           test_user);

  (void) data;
  call_denied (f, "Manager", "Version", NULL, user, "(from access.default)",
               "Manager.Version needs viewer", NULL);
}

/* The call is refused with InvalidArgument, whose message contains
 * @needle. */
static void
call_invalid (Fixture *f, const char *interface, const char *method,
              GVariant *params, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = st_test_daemon_call (f->daemon, interface,
                                                    method, params, &error);

  g_assert_null (reply);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  st_test_assert_contains (error->message, needle);
}

/* A row written straight into the database (alerts and messages come
 * from scripts and delivery, which these tests do not run); its id. */
static char *
insert (Fixture *f, const char *format, ...)
{
  g_autofree char *sql = NULL;
  va_list ap;

  va_start (ap, format);
  sql = g_strdup_vprintf (format, ap);
  va_end (ap);
  return st_test_db_query (f->daemon->db, sql);
}

static char *
insert_alert (Fixture *f, const char *customer, const char *kind)
{
  return insert (f,
                 "INSERT INTO alerts (customer_id, kind, message, source)"
                 " VALUES (%s, '%s', 'test', 'core') RETURNING id",
                 customer, kind);
}

/* A dead message: the delivery workers leave it alone. */
static char *
insert_message (Fixture *f, const char *customer)
{
  return insert (f,
                 "INSERT INTO messages (customer_id, key, channel, state)"
                 " VALUES (%s, 'test', 'log', 'dead') RETURNING id",
                 customer);
}

/* The restricted manager's Alerts.List: only their customers' alerts. */
static void
assert_own_alerts (Fixture *f, const char *mine, const char *mine_alert)
{
  g_autoptr (GVariant) alerts = call_ok (f, "Alerts", "List", empty_dict ());
  g_autoptr (GVariant) alert = NULL;

  g_assert_cmpuint (g_variant_n_children (alerts), ==, 1);
  alert = g_variant_get_child_value (alerts, 0);
  g_assert_cmpint (st_test_rec_int64 (alert, "id"), ==,
                   g_ascii_strtoll (mine_alert, NULL, 10));
  g_assert_cmpint (st_test_rec_int64 (alert, "customer_id"), ==,
                   g_ascii_strtoll (mine, NULL, 10));
}

/* Alerts and messages of another owner's customer, and system alerts,
 * are refused; the imports act on everyone's customers. */
static void
assert_records_refused (Fixture *f, const char *theirs)
{
  g_autofree char *their_alert = insert_alert (f, theirs, "churn_risk");
  g_autofree char *system_alert = insert_alert (f, "0", "script_broken");
  g_autofree char *their_message = insert_message (f, theirs);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  int fd, status;

  call_denied (f, "Alerts", "Acknowledge",
               g_variant_new ("(xs)", g_ascii_strtoll (their_alert, NULL, 10),
                              "seen"),
               "customer ", "(of alert ", "belongs to 'alice'", NULL);
  call_denied (f, "Alerts", "Acknowledge",
               g_variant_new ("(xs)",
                              g_ascii_strtoll (system_alert, NULL, 10), ""),
               "is a system alert", "only unrestricted roles", NULL);
  call_denied (f, "Messages", "Get",
               g_variant_new ("(x)",
                              g_ascii_strtoll (their_message, NULL, 10)),
               "(of message ", "belongs to 'alice'", NULL);
  call_denied (f, "Messages", "Retry",
               g_variant_new ("(x)",
                              g_ascii_strtoll (their_message, NULL, 10)),
               "belongs to 'alice'", NULL);
  /* Nothing was acknowledged or put back. */
  g_assert_cmpint (st_test_db_query_int (
                       f->daemon->db,
                       "SELECT count(*) FROM alerts WHERE state = 'open'"),
                   ==, 3);
  g_assert_cmpint (st_test_db_query_int (
                       f->daemon->db,
                       "SELECT count(*) FROM messages WHERE state = 'dead'"),
                   ==, 1);

  fd = g_file_open_tmp ("test-access-XXXXXX.csv", &csv, &error);
  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (csv, "ref,name\nR-1,Imported\n", -1, &error);
  g_assert_no_error (error);
  status = st_test_ctl (f->daemon, &out, &err, "import", "customers", csv,
                        NULL);
  g_unlink (csv);
  g_assert_cmpint (status, ==, 1);
  st_test_assert_contains (err, "Import.Customers acts on the customers of "
                                "every owner");
  g_assert_cmpint (st_test_db_query_int (
                       f->daemon->db,
                       "SELECT count(*) FROM customers WHERE ref = 'R-1'"),
                   ==, 0);
}

/* Admin first, to make customers of two owners; then the same caller is a
 * manager restricted to own customers, from a reload. */
static void
test_manager_own (Fixture *f, gconstpointer data)
{
  g_autofree char *yaml = g_strdup_printf (
      "bus: session\nworkers: 4\n"
      "access:\n  users: {%u: manager}\n  manager_scope: own\n", getuid ());
  g_autofree char *owner = g_strdup_printf ("'owner': <'%s'>", test_user);
  g_autofree char *mine_fields = g_strdup_printf ("{'name': <'Mine'>, %s}",
                                                  owner);
  g_autofree char *mine = id_text (create (f, mine_fields));
  g_autofree char *theirs = id_text (
      create (f, "{'name': <'Theirs'>, 'owner': <'alice'>}"));
  g_autofree char *nobodys = id_text (create (f, "{'name': <'Nobody'>}"));
  g_autofree char *created = NULL;
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) found = NULL;
  g_autoptr (GVariant) record = NULL;
  g_autoptr (GVariant) event = NULL;
  g_autoptr (GVariant) events = NULL;
  g_autofree char *mine_id = g_strdup_printf ("id:%s", mine);
  g_autofree char *mine_alert = NULL;
  g_autoptr (GVariant) report = NULL;
  int status;

  (void) data;
  g_file_set_contents (f->daemon->config_path, yaml, -1, &error);
  g_assert_no_error (error);
  g_assert_null (call_ok (f, "Manager", "Reload", NULL));

  /* Their own: as any manager. */
  record = call_ok (f, "Customers", "Get", g_variant_new ("(s)", mine));
  g_clear_pointer (&record, g_variant_unref);
  event = call_ok (f, "Customers", "RecordEvent",
                   g_variant_new_parsed ("(%s, 'login', @a{sv} {})", mine));
  record = call_ok (f, "Customers", "SetStage",
                    g_variant_new ("(sss)", mine, "onboarding", ""));
  g_clear_pointer (&record, g_variant_unref);

  /* Another owner's, or nobody's: refused, whatever the method. */
  call_denied (f, "Customers", "Get", g_variant_new ("(s)", theirs),
               "belongs to 'alice'", "manager restricted to the customers "
               "they own", "access.manager_scope: own", NULL);
  call_denied (f, "Customers", "Get", g_variant_new ("(s)", nobodys),
               "has no owner", NULL);
  call_denied (f, "Customers", "Update",
               g_variant_new_parsed ("(%s, {'name': <'X'>})", theirs),
               "belongs to 'alice'", NULL);
  call_denied (f, "Customers", "SetStage",
               g_variant_new ("(sss)", theirs, "onboarding", ""),
               "belongs to 'alice'", NULL);
  call_denied (f, "Customers", "Timeline",
               g_variant_new_parsed ("(%s, @a{sv} {})", theirs),
               "belongs to 'alice'", NULL);
  call_denied (f, "Customers", "RecordEvent",
               g_variant_new_parsed ("(%s, 'login', @a{sv} {})", theirs),
               "belongs to 'alice'", NULL);
  call_denied (f, "Customers", "RecordEvents",
               g_variant_new_parsed ("([{'customer': <%s>, 'kind': <'login'>},"
                                     " {'customer': <%s>,"
                                     "  'kind': <'login'>}],)",
                                     mine, theirs),
               "belongs to 'alice'", NULL);
  call_denied (f, "Messages", "List",
               g_variant_new_parsed ("({'customer': <%s>},)", theirs),
               "belongs to 'alice'", NULL);
  call_denied (f, "Alerts", "List",
               g_variant_new_parsed ("({'customer': <%s>},)", theirs),
               "belongs to 'alice'", NULL);
  call_denied (f, "Customers", "Find",
               g_variant_new_parsed ("({'owner': <'alice'>},)"),
               "owner: 'alice' is not you", NULL);
  /* Giving a customer away, or creating one for someone else. */
  call_denied (f, "Customers", "Update",
               g_variant_new_parsed ("(%s, {'owner': <'alice'>})", mine),
               "owner: 'alice' is not you", NULL);
  call_denied (f, "Customers", "Create",
               g_variant_new_parsed ("({'name': <'X'>, 'owner': <'alice'>},)"),
               "owner: 'alice' is not you", NULL);
  /* What acts on every owner's customers. */
  call_denied (f, "Campaigns", "Run",
               g_variant_new_parsed ("('winback', @a{sv} {})"),
               "Campaigns.Run acts on the customers of every owner", NULL);
  call_denied (f, "Reports", "Backtest",
               g_variant_new_parsed ("('2020-01-01', uint32 90, @a{sv} {})"),
               "Reports.Backtest acts on the customers of every owner",
               NULL);
  /* Only the batch of a refused RecordEvents was refused: nothing new. */
  g_assert_cmpint (st_test_db_query_int (f->daemon->db,
                                         "SELECT count(*) FROM events"),
                   ==, 1);
  /* Their own, however addressed and however often: one owner check. */
  events = call_ok (f, "Customers", "RecordEvents",
                    g_variant_new_parsed (
                        "([{'customer': <%s>, 'kind': <'login'>},"
                        " {'customer': <%s>, 'kind': <'login'>},"
                        " {'customer': <%s>, 'kind': <'login'>}],)",
                        mine, mine, mine_id));
  g_assert_cmpuint (g_variant_n_children (events), ==, 3);
  g_assert_cmpint (st_test_db_query_int (f->daemon->db,
                                         "SELECT count(*) FROM events"),
                   ==, 4);

  /* What they create is theirs; lists show only theirs. */
  created = id_text (create (f, "{'name': <'New'>}"));
  record = call_ok (f, "Customers", "Get", g_variant_new ("(s)", created));
  g_assert_cmpstr (st_test_rec_str (record, "owner"), ==, test_user);
  found = call_ok (f, "Customers", "Find", empty_dict ());
  g_assert_cmpuint (g_variant_n_children (found), ==, 2);
  for (gsize i = 0; i < g_variant_n_children (found); i++)
    {
      g_autoptr (GVariant) entry = g_variant_get_child_value (found, i);
      g_assert_cmpstr (st_test_rec_str (entry, "owner"), ==, test_user);
    }
  mine_alert = insert_alert (f, mine, "churn_risk");
  assert_records_refused (f, theirs);
  assert_own_alerts (f, mine, mine_alert);
  /* An owner of the wrong type is a mistake, not a refusal. */
  call_invalid (f, "Customers", "Create",
                g_variant_new_parsed ("({'name': <'X'>, 'owner': <42>},)"),
                "owner: expected a string");
  /* The reports that name customers count only theirs. */
  report = call_ok (f, "Reports", "Health", empty_dict ());
  g_assert_cmpint (st_test_rec_int64 (report, "customers"), ==, 2);
  call_denied (f, "Reports", "Funnel",
               g_variant_new_parsed ("({'owner': <'alice'>},)"),
               "owner: 'alice' is not you", NULL);

  /* stewardctl: the same, with the daemon's message on stderr. */
  status = st_test_ctl (f->daemon, &out, &err, "customer", "show", theirs,
                        NULL);
  g_assert_cmpint (status, ==, 1);
  st_test_assert_contains (err, "belongs to 'alice'");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  status = st_test_ctl (f->daemon, &out, &err, "customer", "list", "--json",
                        NULL);
  g_assert_cmpint (status, ==, 0);
  st_test_assert_contains (out, "\"Mine\"");
  st_test_assert_contains (out, "\"New\"");
  g_assert_null (strstr (out, "Theirs"));
  g_assert_null (strstr (out, "Nobody"));
}

int
main (int argc, char **argv)
{
  struct passwd *pw = getpwuid (getuid ());
  struct group *gr;
  g_autofree char *viewer = NULL, *manager = NULL, *admin = NULL;
  g_autofree char *nobody = NULL;

  g_test_init (&argc, &argv, NULL);
  /* Registered before the first reply, so remote errors map back to it. */
  (void) ST_ERROR;
  g_assert_nonnull (pw);
  test_user = g_strdup (pw->pw_name);
  gr = getgrgid (pw->pw_gid);
  g_assert_nonnull (gr);
  test_group = g_strdup (gr->gr_name);

  viewer = g_strdup_printf ("access:\n  users: {%s: viewer}\n", test_user);
  manager = g_strdup_printf ("access:\n  groups: {%s: manager}\n",
                             test_group);
  admin = g_strdup_printf ("access:\n  default: none\n"
                           "  users: {%u: admin}\n", getuid ());
  nobody = g_strdup ("access:\n  users: {someone-else: admin}\n");

  g_test_add_func ("/access/roles", test_roles);
  g_test_add_func ("/access/caller-lookup", test_caller_lookup);
  g_test_add_func ("/access/caller-nameless", test_caller_nameless);
  g_test_add_func ("/access/table-complete", test_table_complete);
  g_test_add ("/access/daemon/viewer", Fixture, viewer, fixture_setup,
              test_viewer, fixture_teardown);
  g_test_add ("/access/daemon/manager", Fixture, manager, fixture_setup,
              test_manager, fixture_teardown);
  g_test_add ("/access/daemon/admin", Fixture, admin, fixture_setup,
              test_admin, fixture_teardown);
  g_test_add ("/access/daemon/no-section", Fixture, NULL, fixture_setup,
              test_no_section, fixture_teardown);
  g_test_add ("/access/daemon/default-none", Fixture, nobody, fixture_setup,
              test_default_none, fixture_teardown);
  g_test_add ("/access/daemon/manager-own", Fixture, admin, fixture_setup,
              test_manager_own, fixture_teardown);
  return g_test_run ();
}
