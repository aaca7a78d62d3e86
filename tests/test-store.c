/* Tests for core/st-store.c (connection, statements, errors, migrations)
 * and core/st-record.c (result rows → a{sv}), against a real PostgreSQL. */

#include <string.h>

#include "st-error.h"
#include "st-record.h"
#include "st-store.h"
#include "st-test-util.h"

#define MIGRATION_LOCK_KEY "7391185610027310001"

static const char *const hostile_texts[] = {
  "'); DROP TABLE customers; --",
  "O'Brien \"the\" \\ back\\\\slash",
  "$1 $2 %s %n ? :name",
  "tab\there\nnewline\r\n",
  "Zoë — 東京 🙂",
  "E'\\x41' || chr(65)",
  NULL,
};

ST_STATEMENT_DEFINE (test_sql_insert_customer, 3,
  "INSERT INTO customers (name, ref, stage) VALUES ($1, $2, $3) "
  "RETURNING id");

ST_STATEMENT_DEFINE (test_sql_name_of, 1,
  "SELECT name, ref FROM customers WHERE id = $1::bigint");

/* Runs @sql (no parameters) on @store and returns its first row as a{sv}. */
static GVariant *
row_of (StStore *store, const char *sql)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PGresult) res = st_store_exec_sql (store, sql, 0, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (res);
  g_assert_cmpint (PQntuples (res), ==, 1);
  return g_variant_ref_sink (st_record_from_row (res, 0));
}

/* Migrations ------------------------------------------------------------ */

static void
test_migrate_applied (void)
{
  g_autoptr (StTestDb) db = st_test_db_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (StStore) store = st_store_new (db->conninfo, &error);
  int known = st_store_known_schema_version ();
  g_autofree char *first = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (known, >=, 1);
  /* An empty database is at version 0 and has no migrations table yet. */
  g_assert_cmpint (st_store_schema_version (store, &error), ==, 0);
  g_assert_no_error (error);

  g_assert_cmpint (st_store_migrate (store, &error), ==, known);
  g_assert_no_error (error);
  g_assert_cmpint (st_store_schema_version (store, &error), ==, known);
  g_assert_no_error (error);

  /* One row per migration, with its file name and when it was applied. */
  g_assert_cmpint (
      st_test_db_query_int (db, "SELECT count(*) FROM st_schema_migrations"),
      ==, known);
  g_assert_cmpint (st_test_db_query_int (
                       db, "SELECT max(version) FROM st_schema_migrations"),
                   ==, known);
  g_assert_cmpint (
      st_test_db_query_int (db, "SELECT count(*) FROM st_schema_migrations "
                                "WHERE applied_at IS NULL"),
      ==, 0);
  first = st_test_db_query (db, "SELECT name FROM st_schema_migrations "
                                "WHERE version = 1");
  g_assert_cmpstr (first, ==, "0001-foundation.sql");

  /* The tables of the first migration exist. */
  for (const char *const *t = (const char *const[]){ "customers", "events",
                                                     "stage_history",
                                                     "customer_event_kinds",
                                                     NULL };
       *t != NULL; t++)
    {
      g_autofree char *sql = g_strdup_printf (
          "SELECT to_regclass('%s') IS NOT NULL", *t);
      g_autofree char *exists = st_test_db_query (db, sql);
      g_assert_cmpstr (exists, ==, "t");
    }
}

static void
test_migrate_again_is_noop (void)
{
  g_autoptr (StTestDb) db = st_test_db_new ();
  g_autoptr (StStore) store = st_test_db_store (db);
  g_autoptr (GError) error = NULL;
  int known = st_store_known_schema_version ();
  g_autofree char *applied_before = st_test_db_query (
      db, "SELECT string_agg(version || '@' || applied_at, ',' ORDER BY version)"
          " FROM st_schema_migrations");
  g_autofree char *applied_after = NULL;

  /* Data written in between survives a second migrate. */
  g_free (st_test_db_query (db, "INSERT INTO customers (name, stage) "
                                "VALUES ('Kept', 'lead') RETURNING id"));

  g_assert_cmpint (st_store_migrate (store, &error), ==, known);
  g_assert_no_error (error);
  /* And a third time on a new connection. */
  {
    g_autoptr (StStore) other = st_store_new (db->conninfo, &error);
    g_assert_no_error (error);
    g_assert_cmpint (st_store_migrate (other, &error), ==, known);
    g_assert_no_error (error);
  }

  applied_after = st_test_db_query (
      db, "SELECT string_agg(version || '@' || applied_at, ',' ORDER BY version)"
          " FROM st_schema_migrations");
  g_assert_cmpstr (applied_after, ==, applied_before);
  g_assert_cmpint (st_test_db_query_int (db, "SELECT count(*) FROM customers"),
                   ==, 1);
}

static void
test_migrate_refuses_newer_schema (void)
{
  g_autoptr (StTestDb) db = st_test_db_new ();
  g_autoptr (StStore) store = st_test_db_store (db);
  g_autoptr (GError) error = NULL;
  int known = st_store_known_schema_version ();
  g_autofree char *insert = g_strdup_printf (
      "INSERT INTO st_schema_migrations (version, name) "
      "VALUES (%d, '9999-from-the-future.sql') RETURNING version",
      known + 1);
  g_autofree char *newer = g_strdup_printf ("%d", known + 1);
  g_autofree char *locked = NULL;

  g_free (st_test_db_query (db, insert));

  g_assert_cmpint (st_store_migrate (store, &error), ==, -1);
  g_assert_error (error, ST_ERROR, ST_ERROR_SCHEMA_TOO_NEW);
  /* The message gives both versions and says a newer stewardd is needed. */
  g_assert_nonnull (strstr (error->message, newer));
  g_assert_nonnull (strstr (error->message, "newer"));
  g_assert_cmpint (st_store_schema_version (store, NULL), ==, known + 1);

  /* Nothing was applied or recorded, and the migration lock was released:
   * another instance can take it at once. */
  g_assert_cmpint (
      st_test_db_query_int (db, "SELECT count(*) FROM st_schema_migrations"),
      ==, known + 1);
  locked = st_test_db_query (db, "SELECT pg_try_advisory_lock("
                                 MIGRATION_LOCK_KEY ")");
  g_assert_cmpstr (locked, ==, "t");
}

typedef struct {
  const char *conninfo;
  gint *ready;
  int n_threads;
  int version;
  GError *error;
} MigrateJob;

static gpointer
migrate_thread (gpointer data)
{
  MigrateJob *job = data;
  g_autoptr (StStore) store = st_store_new (job->conninfo, &job->error);

  g_atomic_int_inc (job->ready);
  if (store == NULL)
    return NULL;
  /* Start together, so the migrations really overlap. */
  while (g_atomic_int_get (job->ready) < job->n_threads)
    g_usleep (1000);
  job->version = st_store_migrate (store, &job->error);
  return NULL;
}

static void
test_migrate_concurrently (void)
{
  enum { N = 4 };
  g_autoptr (StTestDb) db = st_test_db_new ();
  MigrateJob jobs[N];
  GThread *threads[N];
  gint ready = 0;
  int known = st_store_known_schema_version ();

  for (int i = 0; i < N; i++)
    {
      jobs[i] = (MigrateJob){ db->conninfo, &ready, N, 0, NULL };
      threads[i] = g_thread_new ("migrate", migrate_thread, &jobs[i]);
    }
  for (int i = 0; i < N; i++)
    {
      g_thread_join (threads[i]);
      g_assert_no_error (jobs[i].error);
      g_assert_cmpint (jobs[i].version, ==, known);
    }
  /* One set of migrations, one set of tables. */
  g_assert_cmpint (
      st_test_db_query_int (db, "SELECT count(*) FROM st_schema_migrations"),
      ==, known);
  g_assert_cmpint (st_test_db_query_int (db, "SELECT count(*) FROM pg_tables "
                                             "WHERE tablename = 'customers'"),
                   ==, 1);
}

/* Connection and statements ------------------------------------------- */

static void
test_bad_conninfo_unavailable (void)
{
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr (StStore) store = st_store_new ("host=/nonexistent dbname=x",
                                            &error);

  g_assert_null (store);
  g_assert_error (error, ST_ERROR, ST_ERROR_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "/nonexistent"));
  /* Fails at once rather than hanging. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_TIME_SPAN_SECOND);
}

static void
test_unique_violation (void)
{
  g_autoptr (StTestDb) db = st_test_db_new ();
  g_autoptr (StStore) store = st_test_db_store (db);
  g_autoptr (GError) error = NULL;
  g_autoptr (PGresult) first = NULL, second = NULL, email = NULL;
  const char *params[] = { "Ann", "crm-1", "lead" };

  g_assert_null (st_store_last_constraint (store));
  first = st_store_exec (store, &test_sql_insert_customer, params, &error);
  g_assert_no_error (error);
  g_assert_nonnull (first);

  params[0] = "Bob";
  second = st_store_exec (store, &test_sql_insert_customer, params, &error);
  g_assert_null (second);
  g_assert_error (error, ST_ERROR, ST_ERROR_ALREADY_EXISTS);
  g_assert_cmpstr (st_store_last_constraint (store), ==, "customers_ref_key");
  g_clear_error (&error);

  /* E-mail addresses are unique whatever their case. */
  g_free (st_test_db_query (db, "INSERT INTO customers (name, email, stage) "
                                "VALUES ('C', 'c@example.com', 'lead') "
                                "RETURNING id"));
  email = st_store_exec_sql (
      store, "INSERT INTO customers (name, email, stage) VALUES ($1, $2, $3)",
      3, (const char *[]){ "D", "C@Example.COM", "lead" }, &error);
  g_assert_null (email);
  g_assert_error (error, ST_ERROR, ST_ERROR_ALREADY_EXISTS);
  g_assert_cmpstr (st_store_last_constraint (store), ==, "customers_email_key");

  g_assert_cmpint (st_test_db_query_int (db, "SELECT count(*) FROM customers"),
                   ==, 2);
}

static void
test_error_mapping (void)
{
  g_autoptr (StTestDb) db = st_test_db_new ();
  g_autoptr (StStore) store = st_test_db_store (db);
  g_autoptr (GError) error = NULL;
  g_autoptr (PGresult) ok = NULL;

  /* A bad value for its type is the caller's mistake. */
  g_assert_null (st_store_exec_sql (store, "SELECT $1::integer", 1,
                                    (const char *[]){ "twelve" }, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "twelve"));
  g_clear_error (&error);

  /* Anything else is a failure carrying the server's words. */
  g_assert_null (st_store_exec_sql (store, "SELEC 1", 0, NULL, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "syntax error"));
  g_clear_error (&error);

  g_assert_null (st_store_exec_sql (store, "SELECT * FROM no_such_table", 0,
                                    NULL, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "no_such_table"));
  g_clear_error (&error);

  /* The connection is still usable afterwards. */
  ok = st_store_exec_sql (store, "SELECT 1", 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (PQgetvalue (ok, 0, 0), ==, "1");
}

static void
test_transactions (void)
{
  g_autoptr (StTestDb) db = st_test_db_new ();
  g_autoptr (StStore) store = st_test_db_store (db);
  g_autoptr (GError) error = NULL;
  const char *params[] = { "Rolled back", NULL, "lead" };

  /* Rolled back: nothing stays. */
  g_assert_true (st_store_begin (store, &error));
  {
    g_autoptr (PGresult) res = st_store_exec (store, &test_sql_insert_customer,
                                              params, &error);
    g_assert_no_error (error);
  }
  st_store_rollback (store);
  g_assert_cmpint (st_test_db_query_int (db, "SELECT count(*) FROM customers"),
                   ==, 0);

  /* A failed statement aborts the transaction; after the rollback the store
   * works again and the earlier insert of that transaction is gone. */
  g_assert_true (st_store_begin (store, &error));
  {
    g_autoptr (PGresult) res = st_store_exec (store, &test_sql_insert_customer,
                                              params, &error);
    g_assert_no_error (error);
  }
  g_assert_null (st_store_exec_sql (store, "SELECT 1/0", 0, NULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  st_store_rollback (store);
  g_assert_cmpint (st_test_db_query_int (db, "SELECT count(*) FROM customers"),
                   ==, 0);

  /* Committed: it stays, and is visible to another connection. */
  params[0] = "Committed";
  g_assert_true (st_store_begin (store, &error));
  {
    g_autoptr (PGresult) res = st_store_exec (store, &test_sql_insert_customer,
                                              params, &error);
    g_assert_no_error (error);
  }
  g_assert_cmpint (st_test_db_query_int (db, "SELECT count(*) FROM customers"),
                   ==, 0);
  g_assert_true (st_store_commit (store, &error));
  g_assert_no_error (error);
  g_assert_cmpint (st_test_db_query_int (db, "SELECT count(*) FROM customers "
                                             "WHERE name = 'Committed'"),
                   ==, 1);

  /* Rolling back with no transaction open is harmless. */
  st_store_rollback (store);
  g_assert_true (st_store_is_connected (store));
}

ST_STATEMENT_DEFINE (test_sql_insert_twice, 0,
  "INSERT INTO deferred_keys VALUES (1), (1)");

ST_STATEMENT_DEFINE (test_sql_fail, 0, "SELECT 1/0");

/* A transaction that is only the calls of st_store_exec_and_commit() runs
 * as the server's implicit one: all or nothing, its commit's failure
 * reported, and nothing left open after it. */
static void
test_exec_and_commit_alone (void)
{
  g_autoptr (StTestDb) db = st_test_db_new ();
  g_autoptr (StStore) store = st_test_db_store (db);
  g_autoptr (GError) error = NULL;
  const char *params[] = { "Kept", NULL, "lead" };
  StStoreCall calls[] = { { &test_sql_insert_customer, params, NULL },
                          { &test_sql_fail, NULL, NULL } };

  g_assert_true (st_store_begin (store, &error));
  g_assert_true (st_store_exec_and_commit (store, calls, 1, &error));
  g_assert_no_error (error);
  g_clear_pointer (&calls[0].result, PQclear);
  g_assert_cmpint (st_test_db_query_int (db, "SELECT count(*) FROM customers"),
                   ==, 1);

  /* The second call fails: the first one's row goes too. */
  params[0] = "Gone";
  g_assert_true (st_store_begin (store, &error));
  g_assert_false (st_store_exec_and_commit (store, calls, 2, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  st_store_rollback (store);
  g_assert_cmpint (st_test_db_query_int (db, "SELECT count(*) FROM customers"),
                   ==, 1);

  /* A deferred constraint fails at the commit itself. */
  {
    g_autoptr (PGresult) res = st_store_exec_sql (
        store, "CREATE TABLE deferred_keys (k int, UNIQUE (k) DEFERRABLE "
               "INITIALLY DEFERRED)", 0, NULL, &error);
    g_assert_no_error (error);
  }
  calls[0] = (StStoreCall){ &test_sql_insert_twice, NULL, NULL };
  g_assert_true (st_store_begin (store, &error));
  g_assert_false (st_store_exec_and_commit (store, calls, 1, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_ALREADY_EXISTS);
  g_assert_null (calls[0].result);
  g_clear_error (&error);
  st_store_rollback (store);
  g_assert_cmpint (st_test_db_query_int (db,
                                         "SELECT count(*) FROM deferred_keys"),
                   ==, 0);

  /* And the store goes on. */
  params[0] = "After";
  calls[0] = (StStoreCall){ &test_sql_insert_customer, params, NULL };
  g_assert_true (st_store_begin (store, &error));
  g_assert_true (st_store_exec_and_commit (store, calls, 1, &error));
  g_assert_no_error (error);
  g_clear_pointer (&calls[0].result, PQclear);
  g_assert_cmpint (st_test_db_query_int (db, "SELECT count(*) FROM customers"),
                   ==, 2);
}

static void
test_session_in_utc (void)
{
  g_autoptr (StTestDb) db = st_test_db_new ();
  g_autoptr (StStore) store = st_test_db_store (db);
  g_autoptr (GVariant) row = row_of (
      store, "SELECT current_setting('TimeZone') AS tz, "
             "'2026-06-01 12:00:00+02'::timestamptz::text AS t");
  const char *s;

  /* Times read the same whatever the server's or the client's zone. */
  g_assert_true (g_variant_lookup (row, "tz", "&s", &s));
  g_assert_cmpstr (s, ==, "UTC");
  g_assert_true (g_variant_lookup (row, "t", "&s", &s));
  g_assert_cmpstr (s, ==, "2026-06-01 10:00:00+00");
}

static void
test_hostile_parameters (void)
{
  g_autoptr (StTestDb) db = st_test_db_new ();
  g_autoptr (StStore) store = st_test_db_store (db);

  for (guint i = 0; hostile_texts[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PGresult) ins = NULL, back = NULL, found = NULL;
      g_autofree char *ref = g_strdup_printf ("%s#%u", hostile_texts[i], i);
      const char *params[] = { hostile_texts[i], ref, "lead" };

      ins = st_store_exec (store, &test_sql_insert_customer, params, &error);
      g_assert_no_error (error);
      back = st_store_exec (store, &test_sql_name_of,
                            (const char *[]){ PQgetvalue (ins, 0, 0) }, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (PQgetvalue (back, 0, 0), ==, hostile_texts[i]);
      g_assert_cmpstr (PQgetvalue (back, 0, 1), ==, ref);

      /* Also as a parameter of unprepared SQL, compared server-side. */
      found = st_store_exec_sql (store,
                                 "SELECT count(*) FROM customers WHERE name = $1",
                                 1, (const char *[]){ hostile_texts[i] },
                                 &error);
      g_assert_no_error (error);
      g_assert_cmpstr (PQgetvalue (found, 0, 0), ==, "1");
    }
  g_assert_cmpint (st_test_db_query_int (db, "SELECT count(*) FROM customers"),
                   ==, g_strv_length ((GStrv) hostile_texts));
}

static void
test_lost_connection (void)
{
  g_autoptr (StTestDb) db = st_test_db_new ();
  g_autoptr (StStore) store = st_test_db_store (db);
  g_autoptr (GError) error = NULL;
  const char *params[] = { "After reconnect", NULL, "lead" };

  for (int round = 0; round < 2; round++)
    {
      g_autoptr (PGresult) pid = st_store_exec_sql (
          store, "SELECT pg_backend_pid()", 0, NULL, &error);
      g_autofree char *kill = NULL, *killed = NULL;

      g_assert_no_error (error);
      kill = g_strdup_printf ("SELECT pg_terminate_backend(%s, 5000)",
                              PQgetvalue (pid, 0, 0));
      killed = st_test_db_query (db, kill);
      g_assert_cmpstr (killed, ==, "t");

      if (round == 0)
        {
          /* A call on the dead connection fails at once as unavailable. */
          g_assert_null (st_store_exec (store, &test_sql_insert_customer,
                                        params, &error));
          g_assert_error (error, ST_ERROR, ST_ERROR_UNAVAILABLE);
          g_clear_error (&error);
          g_assert_false (st_store_is_connected (store));
        }
      /* The next transaction reconnects, whether or not the loss has been
       * noticed yet, and named statements are prepared again. */
      g_assert_true (st_store_begin (store, &error));
      g_assert_no_error (error);
      {
        g_autoptr (PGresult) res = st_store_exec (
            store, &test_sql_insert_customer, params, &error);
        g_assert_no_error (error);
      }
      g_assert_true (st_store_commit (store, &error));
      g_assert_true (st_store_is_connected (store));
    }
  g_assert_cmpint (st_test_db_query_int (db, "SELECT count(*) FROM customers"),
                   ==, 2);
}

/* Records --------------------------------------------------------------- */

static void
test_record_time_from_pg (void)
{
  static const char *const cases[][2] = {
    { "2026-11-24 21:13:19.5+00", "2026-11-24T21:13:19.5Z" },
    { "2026-01-02 03:04:05+00", "2026-01-02T03:04:05Z" },
    { "2026-01-02 03:04:05.123456+00", "2026-01-02T03:04:05.123456Z" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = st_record_time_from_pg (cases[i][0]);
      ST_TEST_ASSERT_TIME (out, cases[i][1]);
      /* Seconds and their fraction are kept as they were. */
      g_assert_cmpint (strncmp (out, cases[i][1], 19), ==, 0);
    }
}

/* The rows' JSON columns read without the parser (empty objects, arrays of
 * plain strings) come out as the parser makes the same text; the rest
 * still goes through it. */
static void
test_record_json_columns (void)
{
  static const char *const values[] = {
    "{}", " { } ", "[]", "[\"a\"]", "[\"a\", \"b\"]", "[ \"é\" , \"\" ]",
    "[\"a\\\"b\", \"c\\\\d\"]", "[\"a\", 1]", "[\"a\", null]",
    "[[\"a\"]]", "{\"a\": \"b\"}", "\"a\"", "3",
  };
  g_autoptr (StTestDb) db = st_test_db_new ();
  g_autoptr (StStore) store = st_test_db_store (db);

  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    for (guint k = 0; k < 2; k++)
      {
        const char *type = k == 0 ? "json" : "jsonb";
        g_autofree char *sql = g_strdup_printf (
            "SELECT '%s'::%s AS v, '%s'::%s::text AS t", values[i], type,
            values[i], type);
        g_autoptr (GVariant) row = row_of (store, sql);
        g_autoptr (GVariant) got = g_variant_lookup_value (row, "v", NULL);
        const char *text = NULL;
        g_autoptr (GVariant) want = NULL;

        g_assert_true (g_variant_lookup (row, "t", "&s", &text));
        want = g_variant_ref_sink (st_record_from_json (text, NULL));
        g_assert_nonnull (got);
        if (!g_variant_equal (got, want))
          g_error ("%s as %s: %s, the parser: %s", values[i], type,
                   g_variant_print (got, TRUE), g_variant_print (want, TRUE));
      }
}

static void
test_record_from_row_types (void)
{
  g_autoptr (StTestDb) db = st_test_db_new ();
  g_autoptr (StStore) store = st_test_db_store (db);
  g_autoptr (GVariant) row = row_of (
      store,
      "SELECT '2026-11-24 21:13:19.5+00'::timestamptz AS t,"
      "       '2026-06-01 12:00:00+02'::timestamptz AS t_offset,"
      "       12.50::numeric AS n, 0.25::float8 AS f,"
      "       9007199254740993::bigint AS b, 42::integer AS i,"
      "       7::smallint AS small, true AS yes, false AS no,"
      "       NULL::text AS gone, 'plain' AS s,"
      "       '{\"a\": 1, \"b\": \"x\", \"c\": {\"d\": [1, \"two\"]},"
      "         \"e\": [\"p\", \"q\"], \"f\": null, \"g\": 1.5,"
      "         \"h\": false}'::jsonb AS j,"
      "       '[\"x\", \"y\"]'::json AS arr,"
      "       to_json(ARRAY[]::text[]) AS empty_arr,"
      "       '{}'::jsonb AS empty_obj");
  g_autoptr (GVariant) j = NULL, c = NULL, d = NULL, e = NULL, arr = NULL;
  g_autoptr (GVariant) empty_arr = NULL, empty_obj = NULL;
  const char *s;
  gint64 x;
  gint32 i;
  double n;
  gboolean flag;

  g_assert_true (g_variant_lookup (row, "t", "&s", &s));
  ST_TEST_ASSERT_TIME (s, "2026-11-24T21:13:19.5Z");
  g_assert_true (g_variant_lookup (row, "t_offset", "&s", &s));
  ST_TEST_ASSERT_TIME (s, "2026-06-01T10:00:00Z");
  g_assert_true (g_variant_lookup (row, "n", "d", &n));
  g_assert_cmpfloat (n, ==, 12.5);
  g_assert_true (g_variant_lookup (row, "f", "d", &n));
  g_assert_cmpfloat (n, ==, 0.25);
  g_assert_true (g_variant_lookup (row, "b", "x", &x));
  g_assert_cmpint (x, ==, G_GINT64_CONSTANT (9007199254740993));
  g_assert_true (g_variant_lookup (row, "i", "i", &i));
  g_assert_cmpint (i, ==, 42);
  g_assert_true (g_variant_lookup (row, "small", "i", &i));
  g_assert_cmpint (i, ==, 7);
  g_assert_true (g_variant_lookup (row, "yes", "b", &flag));
  g_assert_true (flag);
  g_assert_true (g_variant_lookup (row, "no", "b", &flag));
  g_assert_false (flag);
  g_assert_false (g_variant_lookup (row, "gone", "*", NULL));
  g_assert_true (g_variant_lookup (row, "s", "&s", &s));
  g_assert_cmpstr (s, ==, "plain");

  /* jsonb object → a{sv}, recursively; JSON nulls left out. */
  j = g_variant_lookup_value (row, "j", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (j);
  g_assert_true (g_variant_lookup (j, "a", "x", &x));
  g_assert_cmpint (x, ==, 1);
  g_assert_true (g_variant_lookup (j, "b", "&s", &s));
  g_assert_cmpstr (s, ==, "x");
  g_assert_true (g_variant_lookup (j, "g", "d", &n));
  g_assert_cmpfloat (n, ==, 1.5);
  g_assert_true (g_variant_lookup (j, "h", "b", &flag));
  g_assert_false (flag);
  g_assert_false (g_variant_lookup (j, "f", "*", NULL));
  c = g_variant_lookup_value (j, "c", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (c);
  d = g_variant_lookup_value (c, "d", G_VARIANT_TYPE ("av"));
  g_assert_nonnull (d);
  g_assert_cmpuint (g_variant_n_children (d), ==, 2);
  e = g_variant_lookup_value (j, "e", G_VARIANT_TYPE_STRING_ARRAY);
  g_assert_nonnull (e);
  g_assert_cmpuint (g_variant_n_children (e), ==, 2);

  /* JSON arrays of strings → as, including the empty one. */
  arr = g_variant_lookup_value (row, "arr", G_VARIANT_TYPE_STRING_ARRAY);
  g_assert_nonnull (arr);
  {
    g_autofree const char **strv = g_variant_get_strv (arr, NULL);
    g_assert_cmpuint (g_strv_length ((GStrv) strv), ==, 2);
    g_assert_cmpstr (strv[0], ==, "x");
    g_assert_cmpstr (strv[1], ==, "y");
  }
  empty_arr = g_variant_lookup_value (row, "empty_arr",
                                      G_VARIANT_TYPE_STRING_ARRAY);
  g_assert_nonnull (empty_arr);
  g_assert_cmpuint (g_variant_n_children (empty_arr), ==, 0);
  empty_obj = g_variant_lookup_value (row, "empty_obj", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (empty_obj);
  g_assert_cmpuint (g_variant_n_children (empty_obj), ==, 0);
}

static void
test_record_list (void)
{
  g_autoptr (StTestDb) db = st_test_db_new ();
  g_autoptr (StStore) store = st_test_db_store (db);
  g_autoptr (GError) error = NULL;
  g_autoptr (PGresult) res = st_store_exec_sql (
      store,
      "SELECT g AS n, CASE WHEN g % 2 = 0 THEN 'even' END AS parity"
      "  FROM generate_series(1, 3) g ORDER BY g",
      0, NULL, &error);
  g_autoptr (GVariant) list = NULL, none = NULL;
  g_autoptr (PGresult) empty = NULL;

  g_assert_no_error (error);
  list = g_variant_ref_sink (st_record_list_from_result (res));
  g_assert_true (g_variant_is_of_type (list, G_VARIANT_TYPE ("aa{sv}")));
  g_assert_cmpuint (g_variant_n_children (list), ==, 3);
  for (gsize k = 0; k < 3; k++)
    {
      g_autoptr (GVariant) row = g_variant_get_child_value (list, k);
      gint32 n;
      g_assert_true (g_variant_lookup (row, "n", "i", &n));
      g_assert_cmpint (n, ==, (gint32) k + 1);
      /* The NULL of odd rows is left out, the text of even rows kept. */
      g_assert_cmpint (g_variant_lookup (row, "parity", "*", NULL), ==,
                       (n % 2) == 0);
    }

  empty = st_store_exec_sql (store, "SELECT 1 AS n WHERE false", 0, NULL,
                             &error);
  g_assert_no_error (error);
  none = g_variant_ref_sink (st_record_list_from_result (empty));
  g_assert_cmpuint (g_variant_n_children (none), ==, 0);
}

static void
test_record_json_round_trip (void)
{
  g_autoptr (GVariant) in = g_variant_ref_sink (g_variant_new_parsed (
      "{'quote': <%s>, 'n': <@x 42>, 'd': <2.5>, 'ok': <true>,"
      " 'tags': <['a', 'b']>, 'nested': <{'k': <'v'>}>}",
      hostile_texts[1]));
  g_autofree char *json = st_record_to_json (in);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) out = st_record_from_json (json, &error);
  g_autoptr (GVariant) bad = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (out);
  g_variant_ref_sink (out);
  /* Same members with the same values (JSON objects have no order). */
  g_assert_cmpuint (g_variant_n_children (out), ==, g_variant_n_children (in));
  {
    GVariantIter iter;
    const char *key;
    GVariant *value;

    g_variant_iter_init (&iter, in);
    while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
      {
        g_autoptr (GVariant) other = g_variant_lookup_value (out, key, NULL);
        g_assert_nonnull (other);
        g_assert_true (g_variant_equal (value, other));
      }
  }

  bad = st_record_from_json ("{not json", &error);
  g_assert_null (bad);
  g_assert_nonnull (error);
}

/* Members stay in the order of the text (PostgreSQL's jsonb order), so
 * that --json output reads the same from one call to the next. */
static void
test_record_json_order (void)
{
  static const char *const keys[] = { "id", "zeta", "alpha", "mid", "b",
                                      "customer_id", "a" };
  g_autoptr (GVariant) out = st_record_from_json (
      "{\"id\": 1, \"zeta\": 2, \"alpha\": 3, \"mid\": {\"y\": 1, \"x\": 2},"
      " \"b\": 4, \"customer_id\": 5, \"a\": 6}", NULL);
  GVariantIter iter;
  const char *key;
  GVariant *value;
  guint i = 0;

  g_assert_nonnull (out);
  g_variant_ref_sink (out);
  g_variant_iter_init (&iter, out);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      g_assert_cmpuint (i, <, G_N_ELEMENTS (keys));
      g_assert_cmpstr (key, ==, keys[i]);
      i++;
    }
  g_assert_cmpuint (i, ==, G_N_ELEMENTS (keys));
}

static void
test_record_with (void)
{
  g_autoptr (GVariant) in = g_variant_ref_sink (
      g_variant_new_parsed ("{'id': <@x 7>, 'state': <'dead'>, 'b': <1>}"));
  g_autoptr (GVariant) added = st_record_with (in, "path",
                                               g_variant_new_string ("/r/7"));
  g_autoptr (GVariant) replaced = st_record_with (
      in, "state", g_variant_new_string ("pending"));
  g_autofree char *added_text = g_variant_print (added, FALSE);
  g_autofree char *replaced_text = g_variant_print (replaced, FALSE);

  g_assert_cmpstr (added_text, ==,
                   "{'id': <int64 7>, 'state': <'dead'>, 'b': <1>, "
                   "'path': <'/r/7'>}");
  g_assert_cmpstr (replaced_text, ==,
                   "{'id': <int64 7>, 'state': <'pending'>, 'b': <1>}");
}

static void
test_record_typed_lookups (void)
{
  g_autoptr (GVariant) dict = g_variant_ref_sink (g_variant_new_parsed (
      "{'name': <'Ann'>, 'count': <@i -1>, 'amount': <'12.50'>,"
      " 'junk': <'12abc'>, 'limit': <@u 5>, 'tags': <['a']>}"));
  static const char *const known[] = { "name", "count", "amount", "junk",
                                       "limit", NULL };
  g_autoptr (GError) error = NULL;
  const char *s = NULL;
  guint u = 0;
  double d = 0;
  gboolean present;
  g_auto (GStrv) strv = NULL;
  GVariant *sub = NULL;

  g_assert_true (st_record_get_string (dict, "name", &s, &error));
  g_assert_cmpstr (s, ==, "Ann");
  /* Missing: TRUE and untouched. */
  s = "untouched";
  g_assert_true (st_record_get_string (dict, "missing", &s, &error));
  g_assert_cmpstr (s, ==, "untouched");
  g_assert_no_error (error);

  g_assert_false (st_record_get_string (dict, "count", &s, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_assert_true (g_str_has_prefix (error->message, "count:"));
  g_clear_error (&error);

  g_assert_false (st_record_get_uint (dict, "count", &u, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (st_record_get_uint (dict, "limit", &u, &error));
  g_assert_cmpuint (u, ==, 5);

  g_assert_true (st_record_get_double (dict, "amount", &present, &d, &error));
  g_assert_true (present);
  g_assert_cmpfloat (d, ==, 12.5);
  g_assert_false (st_record_get_double (dict, "junk", &present, &d, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "12abc"));
  g_clear_error (&error);

  g_assert_false (st_record_get_strv (dict, "name", &strv, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (st_record_get_dict (dict, "tags", &sub, &error));
  g_assert_null (sub);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_false (st_record_check_keys (dict, known, "thing", &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "'tags'"));
  g_assert_true (g_str_has_prefix (error->message, "thing:"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/store/migrate/applied", test_migrate_applied);
  g_test_add_func ("/store/migrate/again-is-noop", test_migrate_again_is_noop);
  g_test_add_func ("/store/migrate/refuses-newer-schema",
                   test_migrate_refuses_newer_schema);
  g_test_add_func ("/store/migrate/concurrently", test_migrate_concurrently);
  g_test_add_func ("/store/connect/bad-conninfo-unavailable",
                   test_bad_conninfo_unavailable);
  g_test_add_func ("/store/connect/session-in-utc", test_session_in_utc);
  g_test_add_func ("/store/connect/lost-connection", test_lost_connection);
  g_test_add_func ("/store/exec/unique-violation", test_unique_violation);
  g_test_add_func ("/store/exec/error-mapping", test_error_mapping);
  g_test_add_func ("/store/exec/transactions", test_transactions);
  g_test_add_func ("/store/exec/exec-and-commit-alone",
                   test_exec_and_commit_alone);
  g_test_add_func ("/store/exec/hostile-parameters", test_hostile_parameters);
  g_test_add_func ("/store/record/time-from-pg", test_record_time_from_pg);
  g_test_add_func ("/store/record/from-row-types", test_record_from_row_types);
  g_test_add_func ("/store/record/json-columns", test_record_json_columns);
  g_test_add_func ("/store/record/list", test_record_list);
  g_test_add_func ("/store/record/json-round-trip",
                   test_record_json_round_trip);
  g_test_add_func ("/store/record/json-order", test_record_json_order);
  g_test_add_func ("/store/record/with", test_record_with);
  g_test_add_func ("/store/record/typed-lookups", test_record_typed_lookups);

  return g_test_run ();
}
