#pragma once

#include <glib.h>
#include <libpq-fe.h>

G_BEGIN_DECLS

/* One PostgreSQL connection and the named statements prepared on it. A
 * store belongs to one thread at a time. Every call that fails because the
 * server is gone fails at once with ST_ERROR_UNAVAILABLE; the next
 * st_store_begin() reconnects, so the daemon heals by itself when the server
 * comes back. */
typedef struct _StStore StStore;

/* A statement known by name, prepared on each connection at first use. */
typedef struct {
  const char *name;
  const char *sql;
  int n_params;
} StStatement;

#define ST_STATEMENT_DEFINE(ident, n, text) \
  static const StStatement ident = { #ident, text, n }

/* Connect with @conninfo (a libpq conninfo string or URI; NULL or "" uses the
 * PG* environment variables). Connection attempts time out after a few
 * seconds and every session runs in UTC. */
StStore *st_store_new (const char *conninfo, GError **error);
void st_store_free (StStore *store);

/* Begin a transaction, reconnecting first when the connection was lost.
 * BEGIN itself goes out with the transaction's first statement, in the
 * same round trip (and a transaction that ran nothing costs none). */
gboolean st_store_begin (StStore *store, GError **error);
gboolean st_store_commit (StStore *store, GError **error);
/* Roll back the open transaction, if any; safe to call on a dead connection. */
void st_store_rollback (StStore *store);

/* Run a named statement with text parameters (NULL = SQL NULL). Returns the
 * result of a command that succeeded, else NULL with an error: unique
 * violations are ST_ERROR_ALREADY_EXISTS (st_store_last_constraint() names
 * the constraint), a lost server ST_ERROR_UNAVAILABLE, other failures
 * ST_ERROR_FAILED with the server's message. */
PGresult *st_store_exec (StStore *store, const StStatement *stmt,
                         const char *const *params, GError **error);

/* One statement of st_store_exec_many(): its result (NULL until run, and
 * on failure) belongs to the caller. */
typedef struct {
  const StStatement *stmt;
  const char *const *params;
  PGresult *result;
} StStoreCall;

/* Run @n statements in one round trip (a libpq pipeline), in order. TRUE
 * when all succeeded, each result in its call; else FALSE with the first
 * failure in @error (as st_store_exec) and no results. Inside a
 * transaction, a failure leaves it to be rolled back as usual. */
gboolean st_store_exec_many (StStore *store, StStoreCall *calls, guint n,
                             GError **error);
/* The same, then COMMIT, still in one round trip. On failure the
 * transaction is to be rolled back as usual. When they are all the
 * transaction ran (BEGIN still pending), they go without BEGIN and COMMIT,
 * as the server's implicit transaction, which is over when this returns,
 * committed or not. */
gboolean st_store_exec_and_commit (StStore *store, StStoreCall *calls,
                                   guint n, GError **error);

/* The same for SQL that varies with its arguments' shape; still only
 * parameters, never spliced values. */
PGresult *st_store_exec_sql (StStore *store, const char *sql, int n_params,
                             const char *const *params, GError **error);

/* The constraint named by the last unique violation, or NULL. */
const char *st_store_last_constraint (StStore *store);

/* The trigger sink the write path calls inside its transactions (see
 * st-triggers.h); NULL: none. The store only carries it. */
void st_store_set_triggers (StStore *store, const void *triggers);
const void *st_store_get_triggers (StStore *store);

/* Whether @error is a transaction lost to a concurrent one (a deadlock
 * victim, a serialization failure): nothing was wrong with the work, and
 * running it again is expected to succeed. */
gboolean st_store_error_is_conflict (const GError *error);

/* Whether @error is the database's error @sqlstate ("57014": a statement
 * timeout; "55P03": a lock not available). */
gboolean st_store_error_is (const GError *error, const char *sqlstate);

/* Whether the connection is currently up (without a round trip). */
gboolean st_store_is_connected (StStore *store);

/* Apply the migrations compiled into the binary under an advisory lock and
 * return the schema version, or -1 with ST_ERROR_SCHEMA_TOO_NEW when the
 * database is newer than this binary knows. */
int st_store_migrate (StStore *store, GError **error);

/* The highest applied migration, or 0 for an empty database. */
int st_store_schema_version (StStore *store, GError **error);

/* The highest migration this binary carries. */
int st_store_known_schema_version (void);

/* Bulk load (appended for the import): run @copy_sql, a "COPY table
 * (columns) FROM STDIN" in text format, inside the open transaction, and
 * send @data (@len bytes of whole lines) as its input, in pieces of at
 * most 1 MiB. *rows is the number of rows COPY reports. Fails as
 * st_store_exec() does; the transaction is then to be rolled back. */
gboolean st_store_copy (StStore *store, const char *copy_sql,
                        const char *data, gsize len, guint64 *rows,
                        GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StStore, st_store_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PGresult, PQclear)

G_END_DECLS
