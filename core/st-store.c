#include "st-store.h"

#include <gio/gio.h>
#include <string.h>

#include "st-error.h"
#include "st-resources.h"

#define ST_MIGRATION_LOCK_KEY "7391185610027310001"
#define ST_SQL_RESOURCE_DIR "/org/steward/sql"

struct _StStore {
  PGconn *conn;
  char *conninfo;
  GHashTable *prepared; /* statement names prepared on this connection */
  char *last_constraint;
  gboolean in_transaction;
  /* st_store_begin() was called and BEGIN not sent yet: it goes out with
   * the first statement, in the same round trip. */
  gboolean begin_pending;
  const void *triggers;
};

/* libpq's messages span lines; D-Bus clients show one line. */
static char *
one_line (const char *text)
{
  g_auto (GStrv) words = g_strsplit_set (text ? text : "", " \n\t", -1);
  g_autoptr (GString) out = g_string_new (NULL);

  for (guint i = 0; words[i] != NULL; i++)
    if (words[i][0] != '\0')
      g_string_append_printf (out, "%s%s", out->len ? " " : "", words[i]);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
notice_to_debug (void *user_data, const char *message)
{
  (void) user_data;
  g_debug ("postgresql: %s", message);
}

static gboolean
store_connect (StStore *store, GError **error)
{
  /* Keywords after the expanded conninfo override it: a bounded connect time
   * so a dead server fails fast, UTC so times read the same everywhere, and
   * UTF-8 whatever PGCLIENTENCODING or the database's encoding say: every
   * text Steward sends and reads is UTF-8. */
  const char *keys[] = { "dbname", "connect_timeout", "application_name",
                         "options", "keepalives_idle", "client_encoding",
                         NULL };
  const char *values[] = { store->conninfo, "5", "stewardd",
                           "-c TimeZone=UTC -c statement_timeout=60000",
                           "30", "UTF8", NULL };
  gboolean expand = store->conninfo != NULL && store->conninfo[0] != '\0';

  if (store->conn != NULL)
    PQfinish (store->conn);
  g_hash_table_remove_all (store->prepared);
  store->in_transaction = FALSE;
  store->begin_pending = FALSE;

  store->conn = PQconnectdbParams (expand ? keys : keys + 1,
                                   expand ? values : values + 1, expand);
  if (PQstatus (store->conn) != CONNECTION_OK)
    {
      g_autofree char *msg = one_line (PQerrorMessage (store->conn));
      g_set_error (error, ST_ERROR, ST_ERROR_UNAVAILABLE,
                   "the database is unavailable (%s); check that PostgreSQL "
                   "is running and that the configured database is right",
                   msg);
      return FALSE;
    }
  PQsetNoticeProcessor (store->conn, notice_to_debug, NULL);
  return TRUE;
}

StStore *
st_store_new (const char *conninfo, GError **error)
{
  StStore *store = g_new0 (StStore, 1);

  store->conninfo = g_strdup (conninfo);
  store->prepared = g_hash_table_new (g_str_hash, g_str_equal);
  if (!store_connect (store, error))
    {
      st_store_free (store);
      return NULL;
    }
  return store;
}

void
st_store_free (StStore *store)
{
  if (store == NULL)
    return;
  if (store->conn != NULL)
    PQfinish (store->conn);
  g_hash_table_unref (store->prepared);
  g_free (store->conninfo);
  g_free (store->last_constraint);
  g_free (store);
}

void
st_store_set_triggers (StStore *store, const void *triggers)
{
  store->triggers = triggers;
}

const void *
st_store_get_triggers (StStore *store)
{
  return store->triggers;
}

gboolean
st_store_is_connected (StStore *store)
{
  return store->conn != NULL && PQstatus (store->conn) == CONNECTION_OK;
}

static gboolean
result_ok (StStore *store, PGresult *res, GError **error)
{
  ExecStatusType status = PQresultStatus (res);
  const char *state;
  g_autofree char *msg = NULL;

  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
    return TRUE;

  g_clear_pointer (&store->last_constraint, g_free);
  if (PQstatus (store->conn) != CONNECTION_OK)
    {
      msg = one_line (PQerrorMessage (store->conn));
      g_set_error (error, ST_ERROR, ST_ERROR_UNAVAILABLE,
                   "the database connection was lost (%s); the call was not "
                   "completed, try again once PostgreSQL is back", msg);
      store->in_transaction = FALSE;
      return FALSE;
    }

  state = PQresultErrorField (res, PG_DIAG_SQLSTATE);
  msg = one_line (PQresultErrorField (res, PG_DIAG_MESSAGE_PRIMARY)
                     ? PQresultErrorField (res, PG_DIAG_MESSAGE_PRIMARY)
                     : PQresultErrorMessage (res));

  if (g_strcmp0 (state, "23505") == 0)
    {
      store->last_constraint =
          g_strdup (PQresultErrorField (res, PG_DIAG_CONSTRAINT_NAME));
      g_set_error (error, ST_ERROR, ST_ERROR_ALREADY_EXISTS, "%s", msg);
    }
  else if (g_str_has_prefix (state ? state : "", "08")
           || g_strcmp0 (state, "57P01") == 0
           || g_strcmp0 (state, "57P03") == 0)
    g_set_error (error, ST_ERROR, ST_ERROR_UNAVAILABLE,
                 "the database is unavailable (%s); try again shortly", msg);
  else if (g_str_has_prefix (state ? state : "", "22"))
    g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT, "%s", msg);
  else
    g_set_error (error, ST_ERROR, ST_ERROR_FAILED, "database error %s: %s",
                 state ? state : "?", msg);
  return FALSE;
}

gboolean
st_store_error_is (const GError *error, const char *sqlstate)
{
  return g_error_matches (error, ST_ERROR, ST_ERROR_FAILED)
         && g_str_has_prefix (error->message, "database error ")
         && strncmp (error->message + strlen ("database error "), sqlstate, 5)
                == 0
         && error->message[strlen ("database error ") + 5] == ':';
}

gboolean
st_store_error_is_conflict (const GError *error)
{
  return st_store_error_is (error, "40P01") || st_store_error_is (error, "40001");
}

static PGresult *
exec_checked (StStore *store, PGresult *res, GError **error)
{
  if (res == NULL)
    {
      g_autofree char *msg = one_line (PQerrorMessage (store->conn));
      g_set_error (error, ST_ERROR, ST_ERROR_UNAVAILABLE,
                   "the database connection was lost (%s); try again once "
                   "PostgreSQL is back", msg);
      return NULL;
    }
  if (!result_ok (store, res, error))
    {
      PQclear (res);
      return NULL;
    }
  return res;
}

static gboolean
exec_simple (StStore *store, const char *sql, GError **error)
{
  g_autoptr (PGresult) res = exec_checked (store, PQexec (store->conn, sql),
                                           error);
  return res != NULL;
}

gboolean
st_store_begin (StStore *store, GError **error)
{
  if (!st_store_is_connected (store) && !store_connect (store, error))
    return FALSE;
  store->in_transaction = TRUE;
  store->begin_pending = TRUE;
  return TRUE;
}

/* Send a pending BEGIN on its own (before SQL that does not go through a
 * pipeline). A connection can look fine until it is used after a server
 * restart: when BEGIN finds it dead, reconnect once; nothing was done yet. */
static gboolean
flush_begin (StStore *store, GError **error)
{
  g_autoptr (GError) local_error = NULL;

  if (!store->begin_pending)
    return TRUE;
  store->begin_pending = FALSE;
  if (exec_simple (store, "BEGIN", &local_error))
    return TRUE;
  if (!g_error_matches (local_error, ST_ERROR, ST_ERROR_UNAVAILABLE))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      store->in_transaction = FALSE;
      return FALSE;
    }
  if (!store_connect (store, error) || !exec_simple (store, "BEGIN", error))
    return FALSE;
  store->in_transaction = TRUE;
  return TRUE;
}

gboolean
st_store_commit (StStore *store, GError **error)
{
  gboolean pending = store->begin_pending;

  store->in_transaction = FALSE;
  store->begin_pending = FALSE;
  /* Nothing was run: there is nothing to commit. */
  return pending || exec_simple (store, "COMMIT", error);
}

void
st_store_rollback (StStore *store)
{
  gboolean pending = store->begin_pending;

  if (!store->in_transaction)
    return;
  store->in_transaction = FALSE;
  store->begin_pending = FALSE;
  if (!pending && st_store_is_connected (store))
    PQclear (PQexec (store->conn, "ROLLBACK"));
}

const char *
st_store_last_constraint (StStore *store)
{
  return store->last_constraint;
}

/* Pipelines ------------------------------------------------------------ */

/* The connection broke while sending: drop it, so the next st_store_begin()
 * reconnects. */
static void
lost_while_sending (StStore *store, GError **error)
{
  g_autofree char *msg = one_line (PQerrorMessage (store->conn));

  g_set_error (error, ST_ERROR, ST_ERROR_UNAVAILABLE,
               "the database connection was lost (%s); try again once "
               "PostgreSQL is back", msg);
  PQfinish (store->conn);
  store->conn = NULL;
  g_hash_table_remove_all (store->prepared);
  store->in_transaction = FALSE;
  store->begin_pending = FALSE;
}

/* The next query's result in the pipeline, and the NULL that ends it. */
static PGresult *
pipeline_result (StStore *store)
{
  PGresult *res = PQgetResult (store->conn);
  PGresult *extra;

  if (res != NULL && PQresultStatus (res) != PGRES_PIPELINE_SYNC)
    while ((extra = PQgetResult (store->conn)) != NULL)
      PQclear (extra);
  return res;
}

/* Check one result of the pipeline; the first failure sets @error, the
 * queries after it come back aborted and are only cleared. */
static PGresult *
pipeline_check (StStore *store, PGresult *res, gboolean *failed,
                GError **error)
{
  if (*failed)
    {
      g_clear_pointer (&res, PQclear);
      return NULL;
    }
  res = exec_checked (store, res, error);
  *failed = res == NULL;
  return res;
}

/* Read up to the pipeline's sync. Between the last query's result and the
 * sync comes the error of an implicit transaction's commit, if it failed. */
static void
pipeline_sync (StStore *store, gboolean *failed, GError **error)
{
  PGresult *res;

  /* That error ends with a NULL of its own, before the sync. */
  while ((res = PQgetResult (store->conn)) != NULL
         || (res = PQgetResult (store->conn)) != NULL)
    {
      if (PQresultStatus (res) == PGRES_PIPELINE_SYNC)
        break;
      res = pipeline_check (store, res, failed, error);
      g_clear_pointer (&res, PQclear);
    }
  g_clear_pointer (&res, PQclear);
}

/* Send @calls (after BEGIN when @begin, and then COMMIT when @commit) and
 * read their results, in one round trip. With both, the calls are the
 * whole transaction: they go without BEGIN and COMMIT, as the implicit
 * transaction that the server commits at the pipeline's sync. That is
 * the same transaction for two statements less to parse and run. */
static gboolean
run_pipeline (StStore *store, gboolean begin, StStoreCall *calls, guint n,
              gboolean commit, GError **error)
{
  g_autofree gboolean *preparing = g_new0 (gboolean, n);
  gboolean implicit = begin && commit;
  gboolean failed = FALSE;
  PGresult *res;

  if (implicit)
    begin = commit = FALSE;
  if (!PQenterPipelineMode (store->conn)
      || (begin && !PQsendQueryParams (store->conn, "BEGIN", 0, NULL, NULL,
                                       NULL, NULL, 0)))
    goto lost;
  for (guint i = 0; i < n; i++)
    {
      const StStatement *stmt = calls[i].stmt;

      preparing[i] = !g_hash_table_contains (store->prepared, stmt->name);
      if ((preparing[i]
           && !PQsendPrepare (store->conn, stmt->name, stmt->sql,
                              stmt->n_params, NULL))
          || !PQsendQueryPrepared (store->conn, stmt->name, stmt->n_params,
                                   calls[i].params, NULL, NULL, 0))
        goto lost;
    }
  if ((commit && !PQsendQueryParams (store->conn, "COMMIT", 0, NULL, NULL,
                                     NULL, NULL, 0))
      || !PQpipelineSync (store->conn))
    goto lost;

  if (begin)
    {
      res = pipeline_check (store, pipeline_result (store), &failed, error);
      g_clear_pointer (&res, PQclear);
    }
  for (guint i = 0; i < n; i++)
    {
      if (preparing[i])
        {
          res = pipeline_check (store, pipeline_result (store), &failed,
                                error);
          if (res != NULL)
            g_hash_table_add (store->prepared, (gpointer) calls[i].stmt->name);
          g_clear_pointer (&res, PQclear);
        }
      calls[i].result = pipeline_check (store, pipeline_result (store),
                                        &failed, error);
    }
  if (commit)
    {
      res = pipeline_check (store, pipeline_result (store), &failed, error);
      g_clear_pointer (&res, PQclear);
      if (!failed)
        store->in_transaction = FALSE;
    }
  pipeline_sync (store, &failed, error);
  /* Committed or rolled back: either way it is over. */
  if (implicit)
    store->in_transaction = FALSE;
  if (!PQexitPipelineMode (store->conn) && st_store_is_connected (store))
    g_debug ("postgresql: cannot leave pipeline mode: %s",
             PQerrorMessage (store->conn));
  if (failed)
    for (guint i = 0; i < n; i++)
      g_clear_pointer (&calls[i].result, PQclear);
  return !failed;

lost:
  lost_while_sending (store, error);
  return FALSE;
}

static gboolean
exec_pipeline (StStore *store, StStoreCall *calls, guint n, gboolean commit,
               GError **error)
{
  g_autoptr (GError) local_error = NULL;
  gboolean begin = store->begin_pending;

  for (guint i = 0; i < n; i++)
    calls[i].result = NULL;
  if (!st_store_is_connected (store))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_UNAVAILABLE,
                   "the database connection was lost; try again once "
                   "PostgreSQL is back");
      return FALSE;
    }
  store->begin_pending = FALSE;
  if (run_pipeline (store, begin, calls, n, commit, &local_error))
    return TRUE;
  /* As BEGIN alone did: a connection found dead by a transaction's first
   * statement is made again once, since nothing was done yet. */
  if (begin && g_error_matches (local_error, ST_ERROR, ST_ERROR_UNAVAILABLE)
      && !st_store_is_connected (store))
    {
      g_clear_error (&local_error);
      if (!store_connect (store, error))
        return FALSE;
      store->in_transaction = TRUE;
      return run_pipeline (store, TRUE, calls, n, commit, error);
    }
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

gboolean
st_store_exec_many (StStore *store, StStoreCall *calls, guint n,
                    GError **error)
{
  return exec_pipeline (store, calls, n, FALSE, error);
}

gboolean
st_store_exec_and_commit (StStore *store, StStoreCall *calls, guint n,
                          GError **error)
{
  g_return_val_if_fail (store->in_transaction, FALSE);
  return exec_pipeline (store, calls, n, TRUE, error);
}

PGresult *
st_store_exec (StStore *store, const StStatement *stmt,
               const char *const *params, GError **error)
{
  StStoreCall call = { stmt, params, NULL };

  if (store->begin_pending)
    return st_store_exec_many (store, &call, 1, error) ? call.result : NULL;
  if (!g_hash_table_contains (store->prepared, stmt->name))
    {
      g_autoptr (PGresult) prep = exec_checked (
          store, PQprepare (store->conn, stmt->name, stmt->sql,
                            stmt->n_params, NULL),
          error);
      if (prep == NULL)
        return NULL;
      g_hash_table_add (store->prepared, (gpointer) stmt->name);
    }
  return exec_checked (store,
                       PQexecPrepared (store->conn, stmt->name, stmt->n_params,
                                       params, NULL, NULL, 0),
                       error);
}

PGresult *
st_store_exec_sql (StStore *store, const char *sql, int n_params,
                   const char *const *params, GError **error)
{
  if (!flush_begin (store, error))
    return NULL;
  return exec_checked (store,
                       PQexecParams (store->conn, sql, n_params, NULL, params,
                                     NULL, NULL, 0),
                       error);
}

/* Migrations ----------------------------------------------------------- */

ST_STATEMENT_DEFINE (st_sql_migrations_table, 0,
  "CREATE TABLE IF NOT EXISTS st_schema_migrations ("
  "  version integer PRIMARY KEY,"
  "  name text NOT NULL,"
  "  applied_at timestamptz NOT NULL DEFAULT now())");

ST_STATEMENT_DEFINE (st_sql_schema_version, 0,
  "SELECT COALESCE(max(version), 0) FROM st_schema_migrations");

ST_STATEMENT_DEFINE (st_sql_record_migration, 2,
  "INSERT INTO st_schema_migrations (version, name) VALUES ($1, $2)");

static int
migration_version (const char *name)
{
  return (int) g_ascii_strtoll (name, NULL, 10);
}

static gint
compare_migrations (gconstpointer a, gconstpointer b)
{
  return migration_version (*(const char *const *) a)
         - migration_version (*(const char *const *) b);
}

/* The migration files compiled in, sorted by version. */
static GStrv
known_migrations (void)
{
  g_auto (GStrv) names = NULL;

  /* Referencing the bundle links it in from the static library, and with it
   * the constructor that registers it. */
  (void) st_get_resource ();
  names = g_resources_enumerate_children (
      ST_SQL_RESOURCE_DIR, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);

  if (names == NULL)
    return g_new0 (char *, 1);
  qsort (names, g_strv_length (names), sizeof (char *),
         (GCompareFunc) compare_migrations);
  return g_steal_pointer (&names);
}

int
st_store_known_schema_version (void)
{
  g_auto (GStrv) names = known_migrations ();
  guint n = g_strv_length (names);

  return n == 0 ? 0 : migration_version (names[n - 1]);
}

static int
read_schema_version (StStore *store, GError **error)
{
  g_autoptr (PGresult) res = st_store_exec (store, &st_sql_schema_version,
                                            NULL, error);
  return res == NULL ? -1 : atoi (PQgetvalue (res, 0, 0));
}

int
st_store_schema_version (StStore *store, GError **error)
{
  g_autoptr (PGresult) exists = NULL;

  exists = st_store_exec_sql (
      store, "SELECT to_regclass('st_schema_migrations') IS NOT NULL", 0, NULL,
      error);
  if (exists == NULL)
    return -1;
  if (strcmp (PQgetvalue (exists, 0, 0), "t") != 0)
    return 0;
  return read_schema_version (store, error);
}

static gboolean
apply_migration (StStore *store, const char *name, GError **error)
{
  g_autofree char *path = g_strconcat (ST_SQL_RESOURCE_DIR "/", name, NULL);
  g_autoptr (GBytes) sql = NULL;
  g_autofree char *version = NULL;
  const char *params[2];
  g_autoptr (PGresult) res = NULL;

  sql = g_resources_lookup_data (path, G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (sql == NULL)
    return FALSE;
  if (!st_store_begin (store, error))
    return FALSE;
  if (!flush_begin (store, error)
      || !exec_simple (store, g_bytes_get_data (sql, NULL), error))
    {
      g_prefix_error (error, "migration %s: ", name);
      st_store_rollback (store);
      return FALSE;
    }
  version = g_strdup_printf ("%d", migration_version (name));
  params[0] = version;
  params[1] = name;
  res = st_store_exec (store, &st_sql_record_migration, params, error);
  if (res == NULL)
    {
      st_store_rollback (store);
      return FALSE;
    }
  return st_store_commit (store, error);
}

int
st_store_migrate (StStore *store, GError **error)
{
  g_auto (GStrv) names = known_migrations ();
  int known = st_store_known_schema_version ();
  int current;
  gboolean ok = TRUE;

  /* Several daemons may start at once: one migrates, the others wait. */
  if (!exec_simple (store, "SELECT pg_advisory_lock(" ST_MIGRATION_LOCK_KEY ")",
                    error))
    return -1;
  {
    g_autoptr (PGresult) res = st_store_exec (store, &st_sql_migrations_table,
                                              NULL, error);
    ok = res != NULL;
  }
  current = ok ? read_schema_version (store, error) : -1;
  if (current > known)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_SCHEMA_TOO_NEW,
                   "the database schema is at version %d but this stewardd "
                   "knows only versions up to %d: a newer stewardd has "
                   "migrated this database; run that version or newer",
                   current, known);
      current = -1;
    }
  for (guint i = 0; current >= 0 && names[i] != NULL; i++)
    {
      int version = migration_version (names[i]);
      if (version <= current)
        continue;
      if (!apply_migration (store, names[i], error))
        {
          current = -1;
          break;
        }
      g_message ("applied schema migration %s", names[i]);
      current = version;
    }
  PQclear (PQexec (store->conn,
                   "SELECT pg_advisory_unlock(" ST_MIGRATION_LOCK_KEY ")"));
  return current;
}

/* Bulk load ------------------------------------------------------------ */

#define ST_COPY_PIECE (1024 * 1024)

static gboolean
copy_send (StStore *store, const char *data, gsize len, GError **error)
{
  for (gsize done = 0; done < len; done += ST_COPY_PIECE)
    if (PQputCopyData (store->conn, data + done,
                       (int) MIN (ST_COPY_PIECE, len - done)) != 1)
      {
        lost_while_sending (store, error);
        return FALSE;
      }
  if (PQputCopyEnd (store->conn, NULL) != 1)
    {
      lost_while_sending (store, error);
      return FALSE;
    }
  return TRUE;
}

gboolean
st_store_copy (StStore *store, const char *copy_sql, const char *data,
               gsize len, guint64 *rows, GError **error)
{
  PGresult *res;
  g_autoptr (PGresult) done = NULL;

  if (!flush_begin (store, error))
    return FALSE;
  res = PQexec (store->conn, copy_sql);
  if (PQresultStatus (res) != PGRES_COPY_IN)
    {
      g_autoptr (PGresult) failed = exec_checked (store, res, error);

      if (failed != NULL) /* not a COPY FROM STDIN at all */
        g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                     "%s did not start a COPY", copy_sql);
      return FALSE;
    }
  PQclear (res);
  if (!copy_send (store, data, len, error))
    return FALSE;
  done = exec_checked (store, PQgetResult (store->conn), error);
  /* Read up to the end of the command, whatever its outcome. */
  while ((res = PQgetResult (store->conn)) != NULL)
    PQclear (res);
  if (done == NULL)
    return FALSE;
  *rows = g_ascii_strtoull (PQcmdTuples (done), NULL, 10);
  return TRUE;
}
