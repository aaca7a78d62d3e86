/* One chunk of an import, in one transaction: a TEMP staging table
 * (dropped at commit), COPY into it, then a few set-based statements sent
 * in one round trip with the COMMIT. No statement runs per row. Imports
 * take a transaction-level advisory lock, so two imports never deadlock
 * on each other's customers; they take turns chunk by chunk. */

#include "st-import-private.h"

#include "st-aggregates.h"
#include "st-error.h"
#include "st-triggers.h"

#define ST_IMPORT_LOCK_KEY "7391185610027310002"

ST_STATEMENT_DEFINE (st_sql_import_setup, 0,
  "SELECT set_config('work_mem', '64MB', true),"
  "       pg_advisory_xact_lock(" ST_IMPORT_LOCK_KEY ")");

ST_STATEMENT_DEFINE (st_sql_import_events_table, 0,
  "CREATE TEMP TABLE st_import_events (line bigint, ref text, kind text,"
  "  at timestamptz, amount numeric, key text, data jsonb) ON COMMIT DROP");

ST_STATEMENT_DEFINE (st_sql_import_customers_table, 0,
  "CREATE TEMP TABLE st_import_customers (line bigint, ref text, name text,"
  "  email text, phone text, locale text, tz text, owner text, tags text[],"
  "  attrs jsonb) ON COMMIT DROP");

static const char st_sql_import_events_copy[] =
  "COPY st_import_events (line, ref, kind, at, amount, key, data)"
  " FROM STDIN";

static const char st_sql_import_customers_copy[] =
  "COPY st_import_customers (line, ref, name, email, phone, locale, tz,"
  " owner, tags, attrs) FROM STDIN";

/* Stage-entry jobs of the customers an import creates, keyed as
 * st_care_enqueue() keys them; $3 the plan, $4 the trigger. */
#define STAGE_JOBS_CTE                                                     \
  ", history AS ("                                                         \
  "  INSERT INTO stage_history (customer_id, from_stage, to_stage, actor," \
  "                             reason)"                                   \
  "  SELECT id, NULL, stage, $2, 'import' FROM created"                    \
  "  RETURNING customer_id, id"                                            \
  "), jobs AS ("                                                           \
  "  INSERT INTO care_jobs (customer_id, key, script, trigger, due_at)"    \
  "  SELECT h.customer_id, 'stage:' || h.id || ':' || j.name, j.name, $4," \
  "         now() + make_interval(secs => j.delay)"                        \
  "    FROM history h, jsonb_to_recordset(COALESCE($3::jsonb, '[]'))"      \
  "      AS j(name text, delay bigint)"                                    \
  "  ON CONFLICT (customer_id, key) DO NOTHING RETURNING 1"                \
  ")"

#define WAKE_CARE \
  "(SELECT count(*) FROM (SELECT pg_notify('" ST_CARE_CHANNEL "', '')" \
  "                         FROM jobs LIMIT 1) AS wake)"

/* Events -------------------------------------------------------------------- */

/* Without create_customers: rows of customers that do not exist. */
ST_STATEMENT_DEFINE (st_sql_import_unknown_refs, 0,
  "DELETE FROM st_import_events s"
  " WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.ref = s.ref)"
  " RETURNING line, 'customer: no customer has the ref ''' || ref"
  "   || '''; import the customers first, or leave out --no-create'");

/* The customers the rows name that do not exist yet, named after their
 * ref, in the order the file first names them. */
ST_STATEMENT_DEFINE (st_sql_import_event_customers, 4,
  "WITH created AS ("
  "  INSERT INTO customers (ref, name, stage)"
  "  SELECT ref, ref, $1 FROM st_import_events"
  "   GROUP BY ref ORDER BY min(line)"
  "  ON CONFLICT (ref) WHERE ref IS NOT NULL DO NOTHING"
  "  RETURNING id, stage"
  ")" STAGE_JOBS_CTE
  "SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM jobs), "
  WAKE_CARE);

/* The events, their aggregates and their care jobs. Rows are inserted by
 * customer, in file order within each customer (ids follow it, as the
 * aggregates' ticket fold needs), and their customers locked FOR KEY
 * SHARE, as the foreign key did before migration 9. $1 maps each kind to
 * its plan (see st-triggers.h); an entry's "recent" window keeps old
 * events from queueing jobs. */
ST_STATEMENT_DEFINE (st_sql_import_events, 1,
  "WITH new_events AS ("
  "  INSERT INTO events (customer_id, kind, occurred_at, amount, data,"
  "                      idem_key)"
  "  SELECT c.id, s.kind, COALESCE(s.at, now()), s.amount,"
  "         COALESCE(s.data, '{}'), s.key"
  "    FROM st_import_events s JOIN customers c ON c.ref = s.ref"
  "   ORDER BY c.id, s.line"
  "   FOR KEY SHARE OF c"
  "  ON CONFLICT (customer_id, idem_key) WHERE idem_key IS NOT NULL"
  "  DO NOTHING"
  "  RETURNING customer_id, id, kind, occurred_at, amount, data"
  ")" ST_AGGREGATES_CTES
  ", plan AS ("
  "  SELECT p.key AS kind, j.name, j.delay, j.recent"
  "    FROM jsonb_each(COALESCE($1::jsonb, '{}')) AS p,"
  "         jsonb_to_recordset(p.value)"
  "           AS j(name text, delay bigint, recent bigint)"
  "), jobs AS ("
  "  INSERT INTO care_jobs (customer_id, key, script, trigger, event_id,"
  "                         due_at)"
  "  SELECT e.customer_id, 'event:' || e.id || ':' || j.name, j.name,"
  "         e.kind, e.id, now() + make_interval(secs => j.delay)"
  "    FROM new_events e JOIN plan j ON j.kind = e.kind"
  "   WHERE j.recent IS NULL"
  "      OR e.occurred_at >= now() - make_interval(secs => j.recent)"
  "  ON CONFLICT (customer_id, key) DO NOTHING RETURNING 1"
  ")"
  "SELECT (SELECT count(*) FROM new_events), (SELECT count(*) FROM jobs), "
  WAKE_CARE);

/* Customers ----------------------------------------------------------------- */

/* An e-mail address that belongs to a customer other than the one the
 * row's ref names: a unique index would refuse the whole chunk. */
ST_STATEMENT_DEFINE (st_sql_import_email_conflicts, 0,
  "DELETE FROM st_import_customers s USING customers c"
  " WHERE s.email IS NOT NULL AND s.ref IS NOT NULL"
  "   AND lower(c.email) = lower(s.email) AND c.ref IS DISTINCT FROM s.ref"
  " RETURNING s.line,"
  "   'email: ''' || s.email || ''' is already used by customer ' || c.id"
  "   || COALESCE(' (ref ' || c.ref || ')', '')"
  "   || '; fix the row or edit that customer'");

/* A row without a ref that finds, by its e-mail, a customer another row
 * names by ref: both would update it, and which one wins would be the
 * database's pick, a new one on every import. The row with the ref keeps
 * it. (Rows with refs cannot meet each other, nor rows without: refs and
 * e-mails are unique in a file.) */
ST_STATEMENT_DEFINE (st_sql_import_same_customer, 0,
  "WITH by_email AS ("
  "  SELECT s.line, s.email, c.id, c.ref FROM st_import_customers s"
  "    JOIN customers c ON lower(c.email) = lower(s.email)"
  "   WHERE s.ref IS NULL AND c.ref IS NOT NULL"
  "), clash AS ("
  "  SELECT e.line, e.email, e.id, min(s.line) AS other FROM by_email e"
  "    JOIN st_import_customers s ON s.ref = e.ref"
  "   GROUP BY e.line, e.email, e.id"
  ")"
  "DELETE FROM st_import_customers s USING clash k WHERE s.line = k.line"
  " RETURNING s.line, 'email: ''' || k.email || ''' finds customer ' || k.id"
  "   || ', which line ' || k.other || ' names by its ref; give each"
  " customer one row'");

/* Rows find their customer by ref, or by e-mail when they have no ref.
 * Existing customers take the row's non-empty fields, its tags added to
 * theirs and its attributes merged into theirs, and are counted as
 * updated only when that changes something. The others are created, named
 * after their ref (or e-mail) when the row has no name. */
ST_STATEMENT_DEFINE (st_sql_import_customers, 4,
  "WITH matched AS ("
  "  SELECT s.*, c.id FROM st_import_customers s"
  "    JOIN customers c ON c.ref = s.ref"
  "  UNION ALL"
  "  SELECT s.*, c.id FROM st_import_customers s"
  "    JOIN customers c ON lower(c.email) = lower(s.email)"
  "   WHERE s.ref IS NULL"
  "), wanted AS ("
  "  SELECT m.id, COALESCE(m.name, c.name) AS name,"
  "         COALESCE(m.email, c.email) AS email,"
  "         COALESCE(m.phone, c.phone) AS phone,"
  "         COALESCE(m.locale, c.locale) AS locale,"
  "         COALESCE(m.tz, c.tz) AS tz, COALESCE(m.owner, c.owner) AS owner,"
  "         CASE WHEN m.tags IS NULL THEN c.tags ELSE ARRAY("
  "           SELECT DISTINCT t FROM unnest(c.tags || m.tags) AS t"
  "            ORDER BY t) END AS tags,"
  "         c.attrs || COALESCE(m.attrs, '{}') AS attrs"
  "    FROM matched m JOIN customers c ON c.id = m.id"
  "), changed AS ("
  "  UPDATE customers c SET name = w.name, email = w.email,"
  "    phone = w.phone, locale = w.locale, tz = w.tz, owner = w.owner,"
  "    tags = w.tags, attrs = w.attrs, updated_at = now()"
  "    FROM wanted w WHERE c.id = w.id"
  "     AND (w.name, w.email, w.phone, w.locale, w.tz, w.owner, w.tags,"
  "          w.attrs) IS DISTINCT FROM (c.name, c.email, c.phone,"
  "          c.locale, c.tz, c.owner, c.tags, c.attrs)"
  "  RETURNING c.id"
  "), created AS ("
  "  INSERT INTO customers (ref, name, email, phone, locale, tz, owner,"
  "                         tags, attrs, stage)"
  "  SELECT s.ref, COALESCE(s.name, s.ref, s.email), s.email, s.phone,"
  "         s.locale, s.tz, s.owner, COALESCE(s.tags, '{}'),"
  "         COALESCE(s.attrs, '{}'), $1"
  "    FROM st_import_customers s"
  "   WHERE NOT EXISTS (SELECT 1 FROM matched m WHERE m.line = s.line)"
  "   ORDER BY s.line"
  "  RETURNING id, stage"
  ")" STAGE_JOBS_CTE
  "SELECT (SELECT count(*) FROM matched), (SELECT count(*) FROM changed),"
  "       (SELECT count(*) FROM created), (SELECT count(*) FROM jobs), "
  WAKE_CARE);

/* Running a chunk ------------------------------------------------------------- */

static guint64
count_at (PGresult *res, int column)
{
  return g_ascii_strtoull (PQgetvalue (res, 0, column), NULL, 10);
}

static void
take_rejects (PGresult *res, GArray *rejects, StImportChunkCounts *counts)
{
  for (int i = 0; i < PQntuples (res); i++)
    {
      StImportReject reject = { g_ascii_strtoull (PQgetvalue (res, i, 0),
                                                  NULL, 10),
                                g_strdup (PQgetvalue (res, i, 1)) };

      g_array_append_val (rejects, reject);
    }
  counts->rejected += (guint64) PQntuples (res);
}

static void
clear_results (StStoreCall *calls, guint n)
{
  for (guint i = 0; i < n; i++)
    g_clear_pointer (&calls[i].result, PQclear);
}

static gboolean
apply_events (StStore *store, const StImportChunkPlan *plan, GArray *rejects,
              StImportChunkCounts *counts, GError **error)
{
  g_autofree char *trigger = g_strconcat ("stage:", plan->initial_stage, NULL);
  const char *customer_params[] = { plan->initial_stage, plan->actor,
                                    plan->stage_jobs, trigger };
  const char *event_params[] = { plan->event_jobs };
  StStoreCall calls[2] = {
    { plan->create_customers ? &st_sql_import_event_customers
                             : &st_sql_import_unknown_refs,
      plan->create_customers ? customer_params : NULL, NULL },
    { &st_sql_import_events, event_params, NULL },
  };

  if (!st_store_exec_and_commit (store, calls, 2, error))
    return FALSE;
  if (plan->create_customers)
    {
      counts->customers_created = count_at (calls[0].result, 0);
      counts->jobs = count_at (calls[0].result, 1);
    }
  else
    take_rejects (calls[0].result, rejects, counts);
  counts->inserted = count_at (calls[1].result, 0);
  counts->jobs += count_at (calls[1].result, 1);
  clear_results (calls, 2);
  return TRUE;
}

static gboolean
apply_customers (StStore *store, const StImportChunkPlan *plan,
                 GArray *rejects, StImportChunkCounts *counts, GError **error)
{
  g_autofree char *trigger = g_strconcat ("stage:", plan->initial_stage, NULL);
  const char *params[] = { plan->initial_stage, plan->actor,
                           plan->stage_jobs, trigger };
  StStoreCall calls[3] = {
    { &st_sql_import_email_conflicts, NULL, NULL },
    { &st_sql_import_same_customer, NULL, NULL },
    { &st_sql_import_customers, params, NULL },
  };

  if (!st_store_exec_and_commit (store, calls, 3, error))
    return FALSE;
  take_rejects (calls[0].result, rejects, counts);
  take_rejects (calls[1].result, rejects, counts);
  counts->matched = count_at (calls[2].result, 0);
  counts->updated = count_at (calls[2].result, 1);
  counts->inserted = count_at (calls[2].result, 2);
  counts->jobs = count_at (calls[2].result, 3);
  clear_results (calls, 3);
  return TRUE;
}

gboolean
st_import_store_chunk (StStore *store, const StImportChunkPlan *plan,
                       const char *copy, gsize len, GArray *rejects,
                       StImportChunkCounts *counts, GError **error)
{
  gboolean events = plan->kind == ST_IMPORT_EVENTS;
  StStoreCall setup[2] = {
    { &st_sql_import_setup, NULL, NULL },
    { events ? &st_sql_import_events_table : &st_sql_import_customers_table,
      NULL, NULL },
  };
  guint rejects_before = rejects->len;
  gboolean ok;

  *counts = (StImportChunkCounts){ 0 };
  if (!st_store_begin (store, error))
    return FALSE;
  ok = st_store_exec_many (store, setup, 2, error);
  clear_results (setup, 2);
  ok = ok
       && st_store_copy (store, events ? st_sql_import_events_copy
                                       : st_sql_import_customers_copy,
                         copy, len, &counts->staged, error)
       && (events ? apply_events (store, plan, rejects, counts, error)
                  : apply_customers (store, plan, rejects, counts, error));
  if (!ok)
    {
      st_store_rollback (store);
      g_array_set_size (rejects, rejects_before);
      *counts = (StImportChunkCounts){ 0 };
    }
  return ok;
}
