#pragma once

#include <gio/gio.h>

#include "st-config.h"
#include "st-store.h"

G_BEGIN_DECLS

/* A fresh, empty database on the test cluster that tools/test starts
 * ($STEWARD_TEST_CONNINFO), dropped again by st_test_db_free(). */
typedef struct {
  char *name;
  char *conninfo;
} StTestDb;

StTestDb *st_test_db_new (void);
void st_test_db_free (StTestDb *db);

/* A connection to @db with the schema migrated. */
StStore *st_test_db_store (StTestDb *db);

/* Run SQL on @db and return the first column of the first row (or NULL). */
char *st_test_db_query (StTestDb *db, const char *sql);
/* The same as a number; the value must be there. */
gint64 st_test_db_query_int (StTestDb *db, const char *sql);

/* Sessions of stewardd waiting for a lock in the database of @conninfo. */
int st_test_lock_waiters (const char *conninfo);

/* What the tests of the engine calls (customers, events) work on: a fresh
 * database, a store on it with the schema migrated, and the default
 * configuration. */
typedef struct {
  StTestDb *db;
  StStore *store;
  StConfig *config;
} StTestStore;

StTestStore *st_test_store_new (void);
void st_test_store_free (StTestStore *fx);

/* Values and records ------------------------------------------------------ */

/* g_variant_new_parsed() with the floating reference sunk: the caller owns
 * the value. */
GVariant *st_test_parsed (const char *format, ...);

/* @value in GVariant text form, "(null)" for NULL. */
char *st_test_print_value (GVariant *value);

/* The string @key of a record (a{sv}), or NULL when it has none. */
const char *st_test_lookup_str (GVariant *record, const char *key);

/* Members a record (a{sv}) must have: the test stops, showing the record,
 * when @key is missing or not of that type. The string lives in @record. */
GVariant *st_test_rec_lookup (GVariant *record, const char *key,
                              const char *type);
const char *st_test_rec_str (GVariant *record, const char *key);
gint64 st_test_rec_int64 (GVariant *record, const char *key);
double st_test_rec_double (GVariant *record, const char *key);
gboolean st_test_rec_bool (GVariant *record, const char *key);

/* Times travel as ISO-8601 in UTC ("...Z"); compared as instants so the
 * number of fractional digits does not matter. */
#define ST_TEST_ASSERT_TIME(got, expected) \
  st_test_assert_time (G_STRLOC, got, expected)
void st_test_assert_time (const char *where, const char *got,
                          const char *expected);

void st_test_assert_contains (const char *haystack, const char *needle);

/* Buses and daemons -------------------------------------------------------- */

/* A client connection to @bus, as a peer on a message bus. */
GDBusConnection *st_test_bus_connect (GTestDBus *bus);
/* Whether stewardd has its name on the bus of @connection. */
gboolean st_test_name_has_owner (GDBusConnection *connection);

/* Call a method of interface org.steward.Steward1.@interface. */
GVariant *st_test_bus_call (GDBusConnection *connection, const char *interface,
                            const char *method, GVariant *params,
                            GError **error);
/* The single value of a reply that must succeed: a record, a list or a
 * scalar; NULL for a method with no return value. */
GVariant *st_test_bus_call_ok (GDBusConnection *connection,
                               const char *interface, const char *method,
                               GVariant *params);

/* An asynchronous call's outcome: pass st_test_pending_done and a pointer to
 * a zeroed StTestPending to g_dbus_connection_call(), then wait for done. */
typedef struct {
  gboolean done;
  GVariant *reply;
  GError *error;
} StTestPending;

void st_test_pending_done (GObject *source, GAsyncResult *result,
                           gpointer user_data);

/* A child setup function: the child dies with this test, whatever happens. */
void st_test_die_with_parent (gpointer data);

/* Starts stewardd --config @config_path on @bus with the database @conninfo.
 * Unless @flags pipe its stderr, stderr goes to @log_path and stdout to
 * /dev/null. @child_setup: see g_subprocess_launcher_set_child_setup(). */
GSubprocess *st_test_spawn_stewardd (const char *conninfo, GTestDBus *bus,
                                     const char *config_path,
                                     const char *log_path,
                                     GSubprocessFlags flags,
                                     GSpawnChildSetupFunc child_setup);
/* Waits (20 s at most) until @process, a stewardd just started, has its
 * name on the bus; the test stops, showing its log, if it does not. */
void st_test_wait_for_name (GDBusConnection *connection, GSubprocess *process,
                            const char *log_path);
/* Whether stewardd's log shows a sanitizer report or a critical warning. */
gboolean st_test_log_has_problem (const char *log);

/* The real stewardd, on a private bus (GTestDBus) with its own database.
 * @extra_yaml is appended to the generated configuration (may be NULL). */
typedef struct {
  GTestDBus *bus;
  GSubprocess *process;
  StTestDb *db;
  char *dir;          /* temporary folder: config, logs */
  char *config_path;
  char *log_path;
  GDBusConnection *connection;
} StTestDaemon;

StTestDaemon *st_test_daemon_start (const char *extra_yaml);
/* Start again after a stop or a kill, on the same bus and database. */
void st_test_daemon_restart (StTestDaemon *daemon);
/* SIGTERM and wait; the bus and the database stay. */
void st_test_daemon_stop_process (StTestDaemon *daemon);
/* Stop everything and remove the database and the folder. */
void st_test_daemon_free (StTestDaemon *daemon);

/* Call a method of interface org.steward.Steward1.@interface. */
GVariant *st_test_daemon_call (StTestDaemon *daemon, const char *interface,
                               const char *method, GVariant *params,
                               GError **error);

/* Run the real stewardctl against @daemon with the NULL-terminated
 * arguments; returns its exit status and what it printed. */
int st_test_ctl (StTestDaemon *daemon, char **out, char **err,
                 const char *first_arg, ...) G_GNUC_NULL_TERMINATED;
int st_test_ctlv (StTestDaemon *daemon, char **out, char **err,
                  const char *const *argv);

/* Path of a built program, e.g. "core/stewardctl". */
char *st_test_build_path (const char *relative);
/* Path in the source tree, e.g. "tools/pg". */
char *st_test_source_path (const char *relative);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StTestDb, st_test_db_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StTestStore, st_test_store_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StTestDaemon, st_test_daemon_free)

/* Remove @path and everything below it (a test's scratch folder). */
void st_test_remove_tree (const char *path);

G_END_DECLS
