/* The backtest end to end: the real stewardd with the shipped scripts on
 * the Online Retail II history (loaded here with COPY, straight into
 * customers and events), `stewardctl report backtest`, and small histories
 * where the right answer is known. The expected population and base rate
 * are worked out here from the file itself, independently of the daemon. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>
#include <math.h>
#include <string.h>

#include "st-test-util.h"

#define DAY ((gint64) 86400)

/* The product's goals at 2011-09-01 over 90 days (issue 6). */
#define GOAL_AUC 0.80
/* The goal for the riskiest decile is 0.95; the shipped model reaches
 * 0.927 there (docs/backtest.md). This floor guards against it getting
 * worse. */
#define FLOOR_TOP_DECILE 0.92

/* A backtest of 5,000 customers takes seconds (2 s here). Under the
 * sanitizers (tools/test runs them with fast_unwind_on_malloc=0, which
 * makes every allocation unwind the stack) one takes a minute or more:
 * there the backtest runs once and the other retail cases are
 * left to the normal build. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED TRUE
#define MAX_SECONDS 600.0
#else
#define SANITIZED FALSE
#define MAX_SECONDS 30.0
#endif

/* The invoices file, as the test reads it --------------------------------- */

typedef struct {
  gint64 customer;
  gint64 at; /* epoch seconds, the invoice time read as UTC */
  gboolean refund;
  char *amount;
} Invoice;

static GArray *invoices; /* of Invoice, those with a customer */

static void
invoice_clear (gpointer data)
{
  g_free (((Invoice *) data)->amount);
}

static char *
invoices_path (void)
{
  return st_test_source_path ("../shared/data/online_retail_II_invoices.csv");
}

/* "12/1/09 7:45" → epoch seconds (UTC). */
static gint64
parse_invoice_date (const char *text)
{
  int month, day, year, hour, minute;
  g_autoptr (GDateTime) at = NULL;

  g_assert_cmpint (sscanf (text, "%d/%d/%d %d:%d", &month, &day, &year, &hour,
                           &minute), ==, 5);
  at = g_date_time_new_utc (2000 + year, month, day, hour, minute, 0);
  g_assert_nonnull (at);
  return g_date_time_to_unix (at);
}

static GArray *
read_invoices (void)
{
  g_autofree char *path = invoices_path ();
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) error = NULL;
  GArray *list = g_array_new (FALSE, FALSE, sizeof (Invoice));

  g_array_set_clear_func (list, invoice_clear);
  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (text, "\n", -1);
  /* invoice_id,invoice_date,customer_id,domestic_sale,item_types,
   * total_quantity,total_price */
  for (guint i = 1; lines[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (g_strchomp (lines[i]), ",", -1);
      Invoice invoice;

      if (g_strv_length (f) != 7 || f[2][0] == '\0')
        continue;
      invoice.customer = (gint64) g_ascii_strtod (f[2], NULL);
      invoice.at = parse_invoice_date (f[1]);
      invoice.refund = f[0][0] == 'C';
      invoice.amount = g_strdup (f[6]);
      g_array_append_val (list, invoice);
    }
  return list;
}

/* Who the backtest should see at @cutoff: customers with a purchase before
 * it; churned, those without one in the horizon; the recency-alone AUC by
 * brute force over all pairs (ties half). */
typedef struct {
  gsize customers, churned;
  double recency_auc;
} Expected;

typedef struct {
  gint64 last_before; /* 0: no purchase before the cut-off */
  gboolean bought_after;
} Seen;

static Expected
expected_at (gint64 cutoff, int horizon_days)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (
      g_int64_hash, g_int64_equal, g_free, g_free);
  g_autoptr (GArray) lost = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) kept = g_array_new (FALSE, FALSE, sizeof (gint64));
  Expected e = { 0 };
  GHashTableIter iter;
  gpointer value;
  double wins = 0;

  for (guint i = 0; i < invoices->len; i++)
    {
      Invoice *inv = &g_array_index (invoices, Invoice, i);
      Seen *s = g_hash_table_lookup (seen, &inv->customer);

      if (inv->refund)
        continue;
      if (s == NULL)
        {
          s = g_new0 (Seen, 1);
          g_hash_table_insert (seen, g_memdup2 (&inv->customer, sizeof (gint64)),
                               s);
        }
      if (inv->at < cutoff)
        s->last_before = MAX (s->last_before, inv->at);
      else if (inv->at < cutoff + horizon_days * DAY)
        s->bought_after = TRUE;
    }
  g_hash_table_iter_init (&iter, seen);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Seen *s = value;
      if (s->last_before == 0)
        continue;
      e.customers++;
      g_array_append_val (s->bought_after ? kept : lost, s->last_before);
    }
  e.churned = lost->len;
  /* A kept customer ranked safer: bought more recently. */
  for (guint i = 0; i < kept->len; i++)
    for (guint j = 0; j < lost->len; j++)
      {
        gint64 k = g_array_index (kept, gint64, i);
        gint64 l = g_array_index (lost, gint64, j);
        wins += k > l ? 1 : k == l ? 0.5 : 0;
      }
  e.recency_auc = wins / ((double) kept->len * lost->len);
  return e;
}

static gint64
day_epoch (int year, int month, int day)
{
  g_autoptr (GDateTime) at = g_date_time_new_utc (year, month, day, 0, 0, 0);

  return g_date_time_to_unix (at);
}

/* Loading it into the daemon's database ---------------------------------- */

static void
copy_rows (PGconn *conn, const char *sql, const GString *rows)
{
  PGresult *res = PQexec (conn, sql);

  g_assert_cmpint (PQresultStatus (res), ==, PGRES_COPY_IN);
  PQclear (res);
  g_assert_cmpint (PQputCopyData (conn, rows->str, (int) rows->len), ==, 1);
  g_assert_cmpint (PQputCopyEnd (conn, NULL), ==, 1);
  res = PQgetResult (conn);
  if (PQresultStatus (res) != PGRES_COMMAND_OK)
    g_error ("%s: %s", sql, PQerrorMessage (conn));
  PQclear (res);
  while ((res = PQgetResult (conn)) != NULL)
    PQclear (res);
}

static void
exec_ok (PGconn *conn, const char *sql)
{
  PGresult *res = PQexec (conn, sql);

  if (PQresultStatus (res) != PGRES_COMMAND_OK
      && PQresultStatus (res) != PGRES_TUPLES_OK)
    g_error ("%s: %s", sql, PQerrorMessage (conn));
  PQclear (res);
}

/* Customers (id = the file's customer number, ref the same) and their
 * purchases and refunds as events, then the aggregates as the write path
 * would have left them. */
static void
load_invoices (StTestDb *db)
{
  PGconn *conn = PQconnectdb (db->conninfo);
  g_autoptr (GString) customers = g_string_new (NULL);
  g_autoptr (GString) events = g_string_new (NULL);
  g_autoptr (GHashTable) known = g_hash_table_new_full (g_int64_hash,
                                                        g_int64_equal, g_free,
                                                        NULL);

  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  for (guint i = 0; i < invoices->len; i++)
    {
      Invoice *inv = &g_array_index (invoices, Invoice, i);
      g_autoptr (GDateTime) at = g_date_time_new_from_unix_utc (inv->at);
      g_autofree char *when = g_date_time_format (at, "%Y-%m-%d %H:%M:%S+00");

      if (!g_hash_table_contains (known, &inv->customer))
        {
          g_hash_table_add (known, g_memdup2 (&inv->customer, sizeof (gint64)));
          g_string_append_printf (customers,
                                  "%" G_GINT64_FORMAT "\t%" G_GINT64_FORMAT
                                  "\tCustomer %" G_GINT64_FORMAT "\tactive\n",
                                  inv->customer, inv->customer, inv->customer);
        }
      g_string_append_printf (events, "%" G_GINT64_FORMAT "\t%s\t%s\t%s\n",
                              inv->customer,
                              inv->refund ? "refund" : "purchase", when,
                              inv->amount);
    }
  exec_ok (conn, "BEGIN");
  copy_rows (conn, "COPY customers (id, ref, name, stage) FROM STDIN",
             customers);
  copy_rows (conn, "COPY events (customer_id, kind, occurred_at, amount) "
                   "FROM STDIN", events);
  exec_ok (conn,
           "UPDATE customers c SET first_purchase_at = a.first_purchase,"
           "  last_purchase_at = a.last_purchase, purchase_count = a.purchases,"
           "  revenue = a.revenue, last_event_at = a.last_event,"
           "  last_contact_at = a.last_event, event_count = a.events"
           " FROM (SELECT customer_id,"
           "   min(occurred_at) FILTER (WHERE kind = 'purchase') AS first_purchase,"
           "   max(occurred_at) FILTER (WHERE kind = 'purchase') AS last_purchase,"
           "   count(*) FILTER (WHERE kind = 'purchase') AS purchases,"
           "   sum(CASE kind WHEN 'purchase' THEN amount ELSE -abs(amount) END)"
           "     AS revenue,"
           "   max(occurred_at) AS last_event, count(*) AS events"
           "   FROM events GROUP BY customer_id) a WHERE c.id = a.customer_id");
  exec_ok (conn, "SELECT setval(pg_get_serial_sequence('customers', 'id'),"
                 " (SELECT max(id) FROM customers))");
  exec_ok (conn, "COMMIT");
  /* The statistics a live database has, so the plans are the real ones. */
  exec_ok (conn, "ANALYZE customers, events");
  PQfinish (conn);
}

/* The daemons -------------------------------------------------------------- */

static char *
daemon_yaml (const char *extra_scripts, const char *messages_dir)
{
  g_autofree char *scripts = st_test_source_path ("scripts");
  g_autofree char *plugins = st_test_build_path ("plugins");

  return g_strdup_printf (
      "scripts: [%s%s%s]\n"
      "plugin_dir: %s\n"
      "channels:\n"
      "  \"*\": { plugin: log, path: %s/messages.jsonl }\n",
      scripts, extra_scripts ? ", " : "", extra_scripts ? extra_scripts : "",
      plugins, messages_dir);
}

/* The retail history, loaded once for the tests that use it. */
static StTestDaemon *retail;
static char *retail_dir;
static GVariant *retail_2011_09; /* the report, from the CLI */

static gboolean
retail_up (void)
{
  g_autofree char *path = invoices_path ();
  g_autoptr (GError) error = NULL;
  g_autofree char *yaml = NULL;

  if (retail != NULL)
    return TRUE;
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_test_skip ("../shared/data/online_retail_II_invoices.csv is missing");
      return FALSE;
    }
  invoices = read_invoices ();
  retail_dir = g_dir_make_tmp ("steward-backtest-XXXXXX", &error);
  g_assert_no_error (error);
  yaml = daemon_yaml (NULL, retail_dir);
  retail = st_test_daemon_start (yaml);
  load_invoices (retail->db);
  return TRUE;
}

static GVariant *
backtest_call (StTestDaemon *daemon, const char *cutoff, guint32 horizon,
               const char *options, GError **error)
{
  g_autoptr (GVariant) opts = g_variant_parse (G_VARIANT_TYPE_VARDICT,
                                               options ? options : "{}",
                                               NULL, NULL, NULL);
  g_autoptr (GVariant) reply = NULL;

  g_assert_nonnull (opts);
  /* Longer than the bus's default 25 s: sanitizer builds on a busy
   * machine are slow. */
  reply = g_dbus_connection_call_sync (
      daemon->connection, "org.steward.Steward1", "/org/steward/Steward1",
      "org.steward.Steward1.Reports", "Backtest",
      g_variant_new ("(su@a{sv})", cutoff, horizon, opts),
      G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, 600 * 1000, NULL,
      error);
  return reply ? g_variant_get_child_value (reply, 0) : NULL;
}

static GVariant *
backtest_ok (StTestDaemon *daemon, const char *cutoff, guint32 horizon,
             const char *options)
{
  g_autoptr (GError) error = NULL;
  GVariant *report = backtest_call (daemon, cutoff, horizon, options, &error);

  g_assert_no_error (error);
  return report;
}

/* A number of a report: JSON gives whole doubles back as integers. */
static double
num (GVariant *record, const char *key)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (record, key, NULL);

  if (value == NULL)
    {
      g_autofree char *text = st_test_print_value (record);
      g_error ("expected '%s' in %s", key, text);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    return (double) g_variant_get_int64 (value);
  return g_variant_get_double (value);
}

/* The factor @name of a report, or NULL. */
static GVariant *
report_factor (GVariant *report, const char *name)
{
  g_autoptr (GVariant) factors = g_variant_lookup_value (report, "factors",
                                                         NULL);
  GVariantIter iter;
  GVariant *factor;

  g_assert_nonnull (factors);
  g_variant_iter_init (&iter, factors);
  while ((factor = g_variant_iter_next_value (&iter)) != NULL)
    {
      /* From JSON, a list of variants. */
      if (g_variant_is_of_type (factor, G_VARIANT_TYPE_VARIANT))
        {
          GVariant *inner = g_variant_get_variant (factor);
          g_variant_unref (factor);
          factor = inner;
        }
      if (g_strcmp0 (st_test_lookup_str (factor, "name"), name) == 0)
        return factor;
      g_variant_unref (factor);
    }
  return NULL;
}

/* What every report must hold, against the figures worked out here. */
static void
check_against_file (GVariant *report, gint64 cutoff, int horizon)
{
  Expected e = expected_at (cutoff, horizon);

  g_assert_cmpint (st_test_rec_int64 (report, "customers"), ==, e.customers);
  g_assert_cmpint (st_test_rec_int64 (report, "population"), ==, e.customers);
  g_assert_cmpint (st_test_rec_int64 (report, "churned"), ==, e.churned);
  g_assert_cmpfloat_with_epsilon (num (report, "base_rate"),
                                  (double) e.churned / e.customers, 1e-12);
  g_assert_cmpfloat_with_epsilon (num (report, "recency_auc"),
                                  e.recency_auc, 1e-9);
  g_assert_cmpint (st_test_rec_int64 (report, "top_decile_size"), ==,
                   (e.customers + 9) / 10);
  g_assert_cmpint (st_test_rec_int64 (report, "unscored"), ==, 0);
  g_assert_cmpint (st_test_rec_int64 (report, "failed"), ==, 0);
  g_assert_cmpfloat (num (report, "seconds"), <, MAX_SECONDS);
}

/* Tests on the retail history --------------------------------------------- */

/* The case, through stewardctl --json as a user would run it. */
static void
test_retail_2011_09 (void)
{
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) report = NULL, factors = NULL, first = NULL;
  g_autoptr (GVariant) top_factor = NULL, nps = NULL;
  double auc, top;
  int status;

  if (!retail_up ())
    return;
  status = st_test_ctl (retail, &out, &err, "report", "backtest", "--cutoff",
                        "2011-09-01", "--horizon", "90", "--json", NULL);
  g_assert_cmpstr (err, ==, "");
  g_assert_cmpint (status, ==, 0);
  report = json_gvariant_deserialize_data (out, -1, "a{sv}", &error);
  g_assert_no_error (error);
  g_variant_ref_sink (report);
  retail_2011_09 = g_variant_ref (report);

  auc = num (report, "auc");
  top = num (report, "top_decile_precision");
  g_test_message ("2011-09-01, 90 days: AUC %.4f, top decile %.4f "
                  "(recency alone %.4f, %.4f), %.1f s", auc, top,
                  num (report, "recency_auc"),
                  num (report, "recency_top_decile_precision"),
                  num (report, "seconds"));
  g_assert_cmpint (st_test_rec_int64 (report, "customers"), ==, 5251);
  g_assert_cmpstr (st_test_rec_str (report, "script"), ==, "health");
  g_assert_cmpstr (st_test_rec_str (report, "cutoff"), ==,
                   "2011-09-01T00:00:00Z");
  g_assert_cmpfloat_with_epsilon (num (report, "base_rate"), 0.573, 0.001);
  check_against_file (report, day_epoch (2011, 9, 1), 90);
  g_assert_cmpfloat (auc, >=, GOAL_AUC);
  g_assert_cmpfloat (top, >=, FLOOR_TOP_DECILE);
  /* Better than recency alone, which is the point of the model. */
  g_assert_cmpfloat (auc, >, num (report, "recency_auc") + 0.03);
  g_assert_cmpfloat (top, >, num (report, "recency_top_decile_precision"));

  factors = g_variant_lookup_value (report, "factors", NULL);
  g_assert_nonnull (factors);
  g_assert_cmpuint (g_variant_n_children (factors), ==, 6);
  for (const char *const *f = (const char *const[]){ "recency", "frequency",
                                                     "spend", "season",
                                                     "open_tickets", "nps",
                                                     NULL };
       *f != NULL; f++)
    {
      g_autoptr (GVariant) factor = report_factor (report, *f);
      g_assert_nonnull (factor);
      g_assert_cmpint (st_test_rec_int64 (factor, "customers"), ==, 5251);
    }
  /* Ranked: the most telling first; the history has no tickets or NPS, so
   * those tell nothing (every customer ties: 0.5). */
  first = g_variant_get_child_value (factors, 0);
  top_factor = g_variant_get_variant (first);
  g_assert_cmpfloat (num (top_factor, "auc"), >, 0.7);
  nps = report_factor (report, "nps");
  g_assert_cmpfloat (num (nps, "auc"), ==, 0.5);
  g_assert_cmpfloat (num (nps, "mean"), ==, 0);
  g_assert_null (g_variant_lookup_value (report, "warning", NULL));
}

/* Other cut-offs: the model is not fitted to one. */
static void
test_retail_other_cutoffs (void)
{
  static const struct {
    int year, month;
    double min_auc, min_top;
  } cuts[] = {
    { 2010, 12, 0.77, 0.90 },
    { 2011, 3, 0.77, 0.90 },
    { 2011, 6, 0.80, 0.93 },
  };

  if (SANITIZED)
    {
      g_test_skip ("a minute per backtest under the sanitizers: checked in "
                   "the normal build");
      return;
    }
  if (!retail_up ())
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cuts); i++)
    {
      g_autofree char *cutoff = g_strdup_printf ("%04d-%02d-01", cuts[i].year,
                                                 cuts[i].month);
      g_autoptr (GVariant) report = backtest_ok (retail, cutoff, 90, NULL);
      double auc = num (report, "auc");
      double top = num (report, "top_decile_precision");

      g_test_message ("%s, 90 days: %" G_GINT64_FORMAT " customers, base "
                      "rate %.3f, AUC %.4f, top decile %.4f (recency alone "
                      "%.4f, %.4f)", cutoff,
                      st_test_rec_int64 (report, "customers"),
                      num (report, "base_rate"), auc, top,
                      num (report, "recency_auc"),
                      num (report, "recency_top_decile_precision"));
      check_against_file (report, day_epoch (cuts[i].year, cuts[i].month, 1),
                          90);
      g_assert_cmpfloat (auc, >=, cuts[i].min_auc);
      g_assert_cmpfloat (auc, >, num (report, "recency_auc"));
      g_assert_cmpfloat (top, >=, cuts[i].min_top);
    }
}

/* A horizon that runs past the last event is flagged. */
static void
test_retail_short_history (void)
{
  g_autoptr (GVariant) report = NULL;

  if (SANITIZED)
    {
      g_test_skip ("a minute per backtest under the sanitizers: checked in "
                   "the normal build");
      return;
    }
  if (!retail_up ())
    return;
  report = backtest_ok (retail, "2011-11-01", 90, NULL);
  st_test_assert_contains (st_test_rec_str (report, "warning"),
                           "the events end at 2011-12-09");
}

/* Small histories where the answer is known -------------------------------- */

/* Test scripts next to the shipped ones. */
static const char attr_score_lua[] =
  "-- The score the test chose, from the customer's attributes.\n"
  "return {\n"
  "  name = 'attr-score',\n"
  "  on = { 'test_never' },\n"
  "  run = function(customer, event)\n"
  "    local s = customer.attrs and customer.attrs.score\n"
  "    if s then\n"
  "      steward.set_health{ customer = customer, score = s,\n"
  "                          factors = { given = s, against = -s } }\n"
  "    end\n"
  "  end,\n"
  "}\n";

/* Asks for every action there is: none may be carried out. What it saw
 * comes back as factors. */
static const char meddler_lua[] =
  "return {\n"
  "  name = 'meddler',\n"
  "  on = { 'test_never' },\n"
  "  run = function(customer, event)\n"
  "    steward.send{ customer = customer, channel = 'email', body = 'hi',\n"
  "                  key = 'meddle:' .. customer.id }\n"
  "    steward.alert{ customer = customer, kind = 'meddle', message = 'x' }\n"
  "    steward.tag(customer, 'meddled')\n"
  "    steward.follow_up{ customer = customer, after = '1d', key = 'm' }\n"
  "    steward.set_stage(customer, 'at_risk', 'meddling')\n"
  "    local events = steward.events(customer, { limit = 1000 })\n"
  "    local again = steward.customer(customer.id)\n"
  "    steward.set_health{ customer = customer, score = 42, factors = {\n"
  "      events = #events, count = customer.purchase_count,\n"
  "      count_again = again.purchase_count, now = steward.now(),\n"
  "      tickets = customer.open_tickets, nps = customer.last_nps or -1,\n"
  "      kind = event.kind == 'backtest' and 1 or 0 } }\n"
  "  end,\n"
  "}\n";

static const char failing_lua[] =
  "return {\n"
  "  name = 'failing',\n"
  "  on = { 'test_never' },\n"
  "  run = function(customer, event)\n"
  "    if customer.attrs.score == 10 then error('no luck') end\n"
  "    steward.set_health{ customer = customer, score = 5 }\n"
  "  end,\n"
  "}\n";

typedef struct {
  StTestDaemon *daemon;
  char *dir; /* test scripts and the messages file */
} Small;

static void
write_script (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static void
small_setup (Small *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *yaml = NULL;

  (void) data;
  fx->dir = g_dir_make_tmp ("steward-backtest-small-XXXXXX", &error);
  g_assert_no_error (error);
  write_script (fx->dir, "attr_score.lua", attr_score_lua);
  write_script (fx->dir, "meddler.lua", meddler_lua);
  write_script (fx->dir, "failing.lua", failing_lua);
  yaml = daemon_yaml (fx->dir, fx->dir);
  fx->daemon = st_test_daemon_start (yaml);
}

/* The daemon's own errors, and in the sanitizer build its reports (leaks
 * at exit included), reach only its log: stop it and look. */
static void
stop_and_check (StTestDaemon *daemon)
{
  g_autofree char *log = NULL;

  st_test_daemon_stop_process (daemon);
  if (g_file_get_contents (daemon->log_path, &log, NULL, NULL)
      && st_test_log_has_problem (log))
    g_test_fail_printf ("stewardd reported a problem in its log:\n%s", log);
}

/* Stop the daemon (if still running) and remove everything. */
static void
small_clear (Small *fx)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  st_test_daemon_free (fx->daemon);
  dir = g_dir_open (fx->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fx->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (fx->dir);
  g_free (fx->dir);
}

static void
small_teardown (Small *fx, gconstpointer data)
{
  (void) data;
  stop_and_check (fx->daemon);
  small_clear (fx);
}

static void
small_free (Small *fx)
{
  small_clear (fx);
  g_free (fx);
}

static gint64
add_customer (Small *fx, const char *name, int score)
{
  g_autoptr (GVariant) reply = NULL, record = NULL;
  g_autofree char *fields = g_strdup_printf (
      "({'name': <'%s'>, 'stage': <'active'>, 'attrs': <{'score': <%d>}>},)",
      name, score);

  reply = st_test_daemon_call (fx->daemon, "Customers", "Create",
                               g_variant_new_parsed (fields), NULL);
  g_assert_nonnull (reply);
  record = g_variant_get_child_value (reply, 0);
  return st_test_rec_int64 (record, "id");
}

/* An event @days after @cutoff (negative: before), with @data_text's
 * fields (GVariant text, e.g. "{'amount': <100.0>}"). */
static void
add_event (Small *fx, gint64 customer, const char *kind, gint64 cutoff,
           double days, const char *data_text)
{
  g_autoptr (GDateTime) at = g_date_time_new_from_unix_utc (
      cutoff + (gint64) (days * DAY));
  g_autofree char *iso = g_date_time_format_iso8601 (at);
  g_autofree char *address = g_strdup_printf ("id:%" G_GINT64_FORMAT,
                                              customer);
  g_autoptr (GVariant) fields = g_variant_parse (
      G_VARIANT_TYPE_VARDICT, data_text ? data_text : "{}", NULL, NULL, NULL);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  GVariantDict data;

  g_assert_nonnull (fields);
  g_variant_dict_init (&data, fields);
  g_variant_dict_insert (&data, "at", "s", iso);
  reply = st_test_daemon_call (fx->daemon, "Customers", "RecordEvent",
                               g_variant_new ("(ss@a{sv})", address, kind,
                                              g_variant_dict_end (&data)),
                               &error);
  g_assert_no_error (error);
}

/* A purchase of 100 @days after @cutoff (negative: before). */
static void
add_purchase (Small *fx, gint64 customer, gint64 cutoff, double days)
{
  add_event (fx, customer, "purchase", cutoff, days, "{'amount': <100.0>}");
}

/* Until the care scripts have reacted to everything and the messages are
 * out: then nothing changes by itself for a while. */
static void
wait_settled (Small *fx)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;

  while (st_test_db_query_int (fx->daemon->db,
                               "SELECT (SELECT count(*) FROM care_jobs WHERE "
                               "state = 'pending' AND due_at <= now())"
                               " + (SELECT count(*) FROM messages WHERE "
                               "state IN ('pending', 'retry') AND due_at <= "
                               "now())") > 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }
}

/* The cut-off of the small histories: a fixed day well in the past. */
#define SMALL_CUTOFF "2024-03-01"

/* Three customers at the cut-off: A bought once, 300 days before, and not
 * again; B and C buy regularly and again after it. D bought only after
 * the cut-off, so is not in the backtest. Scores for attr-score: A 10,
 * B 50, C 90. */
static void
three_customers (Small *fx)
{
  gint64 cutoff = day_epoch (2024, 3, 1);
  gint64 a = add_customer (fx, "Anna", 10);
  gint64 b = add_customer (fx, "Bruno", 50);
  gint64 c = add_customer (fx, "Chloe", 90);
  gint64 d = add_customer (fx, "Dmitri", 70);

  add_purchase (fx, a, cutoff, -300);
  for (int i = 5; i >= 1; i--)
    add_purchase (fx, b, cutoff, -30.0 * i + 10);
  add_purchase (fx, b, cutoff, 10);
  for (int i = 8; i >= 1; i--)
    add_purchase (fx, c, cutoff, -20.0 * i + 15);
  add_purchase (fx, c, cutoff, 5);
  add_purchase (fx, d, cutoff, 3);
  wait_settled (fx);
}

/* One daemon with the three customers for the tests that only read. */
static Small *trio;

static Small *
trio_up (void)
{
  if (trio == NULL)
    {
      trio = g_new0 (Small, 1);
      small_setup (trio, NULL);
      three_customers (trio);
    }
  return trio;
}

static void
test_small_known_answer (void)
{
  Small *fx = trio_up ();
  g_autoptr (GVariant) report = NULL, health = NULL, given = NULL;

  report = backtest_ok (fx->daemon, SMALL_CUTOFF, 30,
                        "{'script': <'attr-score'>}");
  g_assert_cmpint (st_test_rec_int64 (report, "customers"), ==, 3);
  g_assert_cmpint (st_test_rec_int64 (report, "churned"), ==, 1);
  g_assert_cmpfloat (num (report, "base_rate"), ==, 1.0 / 3);
  g_assert_cmpfloat (num (report, "auc"), ==, 1.0);
  g_assert_cmpint (st_test_rec_int64 (report, "top_decile_size"), ==, 1);
  g_assert_cmpfloat (num (report, "top_decile_precision"), ==,
                     1.0);
  /* A factor alone: "given" ranks as the score does, "against" the
   * other way round. */
  given = report_factor (report, "given");
  g_assert_cmpfloat (num (given, "auc"), ==, 1.0);
  g_assert_cmpfloat (num (given, "mean"), ==, 50.0);
  {
    g_autoptr (GVariant) against = report_factor (report, "against");
    g_assert_cmpfloat (num (against, "auc"), ==, 0.0);
  }
  /* The shipped health model sees it too. */
  health = backtest_ok (fx->daemon, SMALL_CUTOFF, 30, NULL);
  g_assert_cmpint (st_test_rec_int64 (health, "customers"), ==, 3);
  g_assert_cmpfloat (num (health, "auc"), ==, 1.0);
  g_assert_cmpfloat (num (health, "recency_auc"), ==, 1.0);
}

/* Same scores, one customer kept and one not: a coin toss. */
static void
test_small_tie (Small *fx, gconstpointer data)
{
  gint64 cutoff = day_epoch (2024, 3, 1);
  gint64 a = add_customer (fx, "Tom", 33);
  gint64 b = add_customer (fx, "Tim", 33);
  g_autoptr (GVariant) report = NULL;

  (void) data;
  add_purchase (fx, a, cutoff, -40);
  add_purchase (fx, b, cutoff, -40);
  add_purchase (fx, b, cutoff, 20);
  wait_settled (fx);
  report = backtest_ok (fx->daemon, SMALL_CUTOFF, 30,
                        "{'script': <'attr-score'>}");
  g_assert_cmpint (st_test_rec_int64 (report, "customers"), ==, 2);
  g_assert_cmpfloat (num (report, "auc"), ==, 0.5);
  /* One in the riskiest decile, drawn from the two tied: half a churner. */
  g_assert_cmpint (st_test_rec_int64 (report, "top_decile_size"), ==, 1);
  g_assert_cmpfloat (num (report, "top_decile_precision"), ==,
                     0.5);
  /* With the same history, the health model ties them too. */
  g_clear_pointer (&report, g_variant_unref);
  report = backtest_ok (fx->daemon, SMALL_CUTOFF, 30, NULL);
  g_assert_cmpfloat (num (report, "auc"), ==, 0.5);
}

/* The record a script gets is the customer as they were at the cut-off:
 * open tickets folded as they were recorded and clamped at zero, the
 * last NPS answer before it. */
static void
test_small_as_of_cutoff (Small *fx, gconstpointer data)
{
  gint64 cutoff = day_epoch (2024, 3, 1);
  gint64 id = add_customer (fx, "Ines", 50);
  g_autoptr (GVariant) report = NULL, tickets = NULL, nps = NULL;
  g_autoptr (GVariant) live = NULL;
  g_autofree char *address = g_strdup_printf ("id:%" G_GINT64_FORMAT, id);
  gint32 open_now = -1, nps_now = -1;

  (void) data;
  add_purchase (fx, id, cutoff, -50);
  /* A close with nothing open counts for nothing: 0, then 1, then 2. */
  add_event (fx, id, "ticket_closed", cutoff, -45, NULL);
  add_event (fx, id, "ticket_opened", cutoff, -40, NULL);
  add_event (fx, id, "ticket_opened", cutoff, -30, NULL);
  add_event (fx, id, "survey", cutoff, -20, "{'data': <{'score': <3>}>}");
  add_event (fx, id, "ticket_closed", cutoff, 1, NULL);
  add_event (fx, id, "survey", cutoff, 2, "{'data': <{'score': <9>}>}");
  wait_settled (fx);

  live = st_test_bus_call_ok (fx->daemon->connection, "Customers", "Get",
                              g_variant_new ("(s)", address));
  g_assert_true (g_variant_lookup (live, "open_tickets", "i", &open_now));
  g_assert_true (g_variant_lookup (live, "last_nps", "i", &nps_now));
  g_assert_cmpint (open_now, ==, 1);
  g_assert_cmpint (nps_now, ==, 9);

  report = backtest_ok (fx->daemon, SMALL_CUTOFF, 30,
                        "{'script': <'meddler'>}");
  g_assert_cmpint (st_test_rec_int64 (report, "customers"), ==, 1);
  g_assert_cmpint (st_test_rec_int64 (report, "churned"), ==, 1);
  tickets = report_factor (report, "tickets");
  nps = report_factor (report, "nps");
  g_assert_cmpfloat (num (tickets, "mean"), ==, 2);
  g_assert_cmpfloat (num (nps, "mean"), ==, 3);
  /* The events it sees: the five before the cut-off. */
  {
    g_autoptr (GVariant) events = report_factor (report, "events");
    g_assert_cmpfloat (num (events, "mean"), ==, 5);
  }
}

static char *
snapshot (Small *fx)
{
  return st_test_db_query (
      fx->daemon->db,
      "SELECT concat_ws(' ',"
      " (SELECT count(*) FROM messages), (SELECT count(*) FROM care_jobs),"
      " (SELECT count(*) FROM health_history), (SELECT count(*) FROM alerts),"
      " (SELECT count(*) FROM stage_history), (SELECT count(*) FROM events),"
      " (SELECT md5(string_agg(c::text, '|' ORDER BY id)) FROM customers c))");
}

/* The backtest writes nothing, whatever the script asks for, and the
 * script sees the world as it was at the cut-off. */
static void
test_small_read_only (void)
{
  Small *fx = trio_up ();
  g_autoptr (GVariant) report = NULL;
  g_autofree char *before = NULL, *after = NULL;
  struct {
    const char *name;
    double mean;
  } seen[] = {
    /* A: 1, B: 5, C: 8 purchases before the cut-off; 1, 6, 9 today. */
    { "events", 14.0 / 3 },
    { "count", 14.0 / 3 },
    { "count_again", 14.0 / 3 },
    { "now", (double) day_epoch (2024, 3, 1) },
    { "kind", 1 },
    { "tickets", 0 },
    { "nps", -1 },
  };

  before = snapshot (fx);
  report = backtest_ok (fx->daemon, SMALL_CUTOFF, 30,
                        "{'script': <'meddler'>}");
  g_assert_cmpint (st_test_rec_int64 (report, "customers"), ==, 3);
  for (guint i = 0; i < G_N_ELEMENTS (seen); i++)
    {
      g_autoptr (GVariant) factor = report_factor (report, seen[i].name);
      g_assert_nonnull (factor);
      g_assert_cmpfloat_with_epsilon (num (factor, "mean"),
                                      seen[i].mean, 1e-9);
    }
  g_clear_pointer (&report, g_variant_unref);
  report = backtest_ok (fx->daemon, SMALL_CUTOFF, 30, NULL);
  g_usleep (300 * 1000);
  after = snapshot (fx);
  g_assert_cmpstr (after, ==, before);
}

static void
assert_dbus_error (GError *error, const char *name, const char *needle)
{
  g_autofree char *remote = NULL;

  g_assert_nonnull (error);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, name);
  st_test_assert_contains (error->message, needle);
}

/* A script that fails for one customer: counted, the others scored. One
 * that scores nobody: an error that says why. */
static void
test_small_failures (void)
{
  Small *fx = trio_up ();
  g_autoptr (GVariant) report = NULL;
  g_autoptr (GError) error = NULL;

  report = backtest_ok (fx->daemon, SMALL_CUTOFF, 30,
                        "{'script': <'failing'>}");
  g_assert_cmpint (st_test_rec_int64 (report, "customers"), ==, 2);
  g_assert_cmpint (st_test_rec_int64 (report, "population"), ==, 3);
  g_assert_cmpint (st_test_rec_int64 (report, "failed"), ==, 1);
  st_test_assert_contains (st_test_rec_str (report, "first_failure"),
                           "no luck");
  /* Both scored customers were kept: no AUC to give. */
  g_assert_null (g_variant_lookup_value (report, "auc", NULL));

  /* welcome sends a message and sets no health. */
  g_assert_null (backtest_call (fx->daemon, SMALL_CUTOFF, 30,
                                "{'script': <'welcome'>}", &error));
  assert_dbus_error (error, "org.steward.Steward1.Error.Failed",
                     "scored none of the 3 customers");
}

static void
test_small_bad_arguments (void)
{
  Small *fx = trio_up ();
  static const struct {
    const char *cutoff;
    guint32 horizon;
    const char *options, *error, *needle;
  } cases[] = {
    { "2999-01-01", 90, NULL, "InvalidArgument", "in the future" },
    { SMALL_CUTOFF, 0, NULL, "InvalidArgument", "give 1 to 3650 days" },
    { SMALL_CUTOFF, 4000, NULL, "InvalidArgument", "give 1 to 3650 days" },
    { "2011-13-45", 90, NULL, "InvalidArgument", "is not a date" },
    { "yesterday", 90, NULL, "InvalidArgument", "is not a date" },
    { SMALL_CUTOFF, 90, "{'scrpit': <'x'>}", "InvalidArgument", "scrpit" },
    { SMALL_CUTOFF, 90, "{'script': <'nope'>}", "NotFound", "nope" },
  };
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) recent = g_date_time_add_days (now, -10);
  g_autofree char *recent_text = g_date_time_format (recent, "%Y-%m-%d");
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) case_error = NULL;
      g_autofree char *name = g_strconcat ("org.steward.Steward1.Error.",
                                           cases[i].error, NULL);

      g_assert_null (backtest_call (fx->daemon, cases[i].cutoff,
                                    cases[i].horizon, cases[i].options,
                                    &case_error));
      assert_dbus_error (case_error, name, cases[i].needle);
    }
  /* A horizon that has not passed yet: who buys again is not known. */
  g_assert_null (backtest_call (fx->daemon, recent_text, 90, NULL, &error));
  assert_dbus_error (error, "org.steward.Steward1.Error.InvalidArgument",
                     "has not come yet");

  /* The CLI: usage errors (2) before any call, the daemon's errors (1). */
  g_assert_cmpint (st_test_ctl (fx->daemon, &out, &err, "report", "backtest",
                                "--cutoff", SMALL_CUTOFF, "--horizon", "0",
                                NULL), ==, 2);
  st_test_assert_contains (err, "--horizon");
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (st_test_ctl (fx->daemon, &out, &err, "report", "backtest",
                                "--horizon", "90", NULL), ==, 2);
  st_test_assert_contains (err, "--cutoff");
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (st_test_ctl (fx->daemon, &out, &err, "report", "backtest",
                                "--cutoff", "2999-01-01", "--horizon", "90",
                                NULL), ==, 1);
  st_test_assert_contains (err, "is in the future");
}

/* The report people read. */
static void
test_small_cli_text (void)
{
  Small *fx = trio_up ();
  g_autofree char *out = NULL, *err = NULL;

  g_assert_cmpint (st_test_ctl (fx->daemon, &out, &err, "report", "backtest",
                                "--cutoff", SMALL_CUTOFF, "--horizon", "30",
                                "--script", "attr-score", NULL), ==, 0);
  st_test_assert_contains (out, "Cut-off:");
  st_test_assert_contains (out, "2024-03-01 00:00 UTC");
  st_test_assert_contains (out, "3 (1 did not buy again: base rate 33.3%)");
  st_test_assert_contains (out, "AUC:");
  st_test_assert_contains (out, "1.000 (recency alone: 1.000)");
  st_test_assert_contains (out, "100.0% of the 1 riskiest did not buy again");
  st_test_assert_contains (out, "FACTOR");
  st_test_assert_contains (out, "given");
  /* The most telling factor first. */
  g_assert_true (strstr (out, "given") < strstr (out, "against"));
}

/* Last: the shared daemons stop cleanly, with nothing wrong in their logs. */
static void
test_logs_clean (void)
{
  if (retail != NULL)
    stop_and_check (retail);
  if (trio != NULL)
    stop_and_check (trio->daemon);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/backtest/retail/2011-09-01", test_retail_2011_09);
  g_test_add_func ("/backtest/retail/other-cutoffs",
                   test_retail_other_cutoffs);
  g_test_add_func ("/backtest/retail/short-history",
                   test_retail_short_history);
  g_test_add_func ("/backtest/small/known-answer", test_small_known_answer);
  g_test_add ("/backtest/small/tie", Small, NULL, small_setup,
              test_small_tie, small_teardown);
  g_test_add_func ("/backtest/small/read-only", test_small_read_only);
  g_test_add ("/backtest/small/as-of-cutoff", Small, NULL, small_setup,
              test_small_as_of_cutoff, small_teardown);
  g_test_add_func ("/backtest/small/failures", test_small_failures);
  g_test_add_func ("/backtest/small/bad-arguments", test_small_bad_arguments);
  g_test_add_func ("/backtest/small/cli-text", test_small_cli_text);
  g_test_add_func ("/backtest/small/logs-clean", test_logs_clean);
  status = g_test_run ();
  if (retail != NULL)
    {
      g_autofree char *messages = g_build_filename (retail_dir,
                                                    "messages.jsonl", NULL);
      st_test_daemon_free (retail);
      g_unlink (messages);
      g_rmdir (retail_dir);
      g_free (retail_dir);
      g_array_unref (invoices);
      g_clear_pointer (&retail_2011_09, g_variant_unref);
    }
  g_clear_pointer (&trio, small_free);
  return status;
}
