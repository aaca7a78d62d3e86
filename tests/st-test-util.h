#pragma once

#include <gio/gio.h>

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
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StTestDaemon, st_test_daemon_free)

G_END_DECLS
