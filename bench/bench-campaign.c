/* bench-campaign — what a campaign run costs against bare COPY.
 *
 * A D-Bus client of a running stewardd (run it through bench/campaign,
 * which starts a private cluster, bus and daemon whose scripts folder
 * holds two campaigns: bench_all, audience stage = "active", and
 * bench_aud, audience tags = { "aud" }; each sends one message per
 * customer). Phases:
 *
 *   1. a table of A customers (A = the small audience, 10,000), all in
 *      bench_all's audience; bench_all is run over it: the small table;
 *   2. the table is filled up to N customers (1,000,000) with COPY; one in
 *      N / A carries the tag "aud", so bench_aud's audience is A customers
 *      spread over the whole table, selected by the tags index; bench_aud
 *      is run: ≤ 2× the small table's run is the goal;
 *   3. the limit, in this run: COPY (SELECT the audience's rows) TO STDOUT,
 *      plus COPY FROM STDIN of as many message rows into a bare copy of
 *      `messages` (columns, defaults, indexes; no foreign key);
 *   4. bench_all over the N customers: seconds, customers/s, CPU per
 *      target, against the limit; stewardd's peak RSS.
 *
 * Every run is started with Campaigns.Run and timed from the call to its
 * Finished signal. The report is Markdown on stdout; progress goes to
 * stderr. A goal missed is a finding (MISS), not a failure. */

#include "bench-util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Goals (the campaign benchmark's brief). */
#define GOAL_SECONDS 10.0     /* the N-customer run on a 2-core machine */
#define GOAL_LIMIT_RATIO 2.0  /* ≤ 2× COPY out + COPY in */
#define GOAL_RSS_MIB 64.0
#define GOAL_AUDIENCE_RATIO 2.0 /* A in N against a table of A */
#define CAMPAIGNS_IFACE "org.steward.Steward1.Campaigns"
#define RUN_IFACE "org.steward.Steward1.Run"
#define COPY_CHUNK (256 * 1024)

typedef struct {
  int customers;
  int audience;
  int campaign_workers;
  int batch_size;
  gboolean quick;
  BenchRun run;
} Options;

static Options opt = { .customers = -1, .audience = -1 };

typedef struct {
  double seconds;          /* Campaigns.Run → Finished, at the client */
  double db_seconds;       /* created_at → finished_at of the run's row */
  gint64 total, sent, failed;
  char *state;
  BenchCpuUse cpu;
} RunResult;

typedef struct {
  double out_seconds, in_seconds;
  gint64 rows;
  BenchCpuUse cpu;
} LimitResult;

/* Customers ---------------------------------------------------------------- */

static void
copy_put (PGconn *db, GString *buf, gboolean flush)
{
  if (buf->len == 0 || (!flush && buf->len < COPY_CHUNK))
    return;
  if (PQputCopyData (db, buf->str, (int) buf->len) != 1)
    bench_die ("COPY: %s", PQerrorMessage (db));
  g_string_truncate (buf, 0);
}

static void
copy_end (PGconn *db, GString *buf)
{
  PGresult *res;

  copy_put (db, buf, TRUE);
  if (PQputCopyEnd (db, NULL) != 1)
    bench_die ("COPY: %s", PQerrorMessage (db));
  res = PQgetResult (db);
  if (PQresultStatus (res) != PGRES_COMMAND_OK)
    bench_die ("COPY: %s", PQerrorMessage (db));
  PQclear (res);
  while ((res = PQgetResult (db)) != NULL)
    PQclear (res);
}

static void
copy_begin (PGconn *db, const char *sql)
{
  PGresult *res = PQexec (db, sql);

  if (PQresultStatus (res) != PGRES_COPY_IN)
    bench_die ("%s: %s", sql, PQerrorMessage (db));
  PQclear (res);
}

/* Customers @from to @to - 1 (by number, not id), all active; one in
 * @step carries the tag "aud". */
static void
create_customers (PGconn *db, int from, int to, int step)
{
  static const char *const zones[] = { "Europe/Paris", "America/New_York",
                                       "Asia/Tokyo", "UTC" };
  g_autoptr (GString) buf = g_string_sized_new (COPY_CHUNK + 4096);
  gint64 t0 = g_get_monotonic_time ();

  copy_begin (db, "COPY customers (ref, name, email, locale, tz, tags, attrs,"
                  " stage) FROM STDIN");
  for (int i = from; i < to; i++)
    {
      g_string_append_printf (
          buf,
          "bench-%s-%d\tCustomer %d\tc%d@bench.example\ten\t%s\t"
          "{bench%s}\t{\"plan\": \"%s\", \"n\": %d}\tactive\n",
          opt.run.tag, i, i, i, zones[i % G_N_ELEMENTS (zones)],
          i % step == 0 ? ",aud" : "",
          i % 3 == 0 ? "pro" : "basic", i);
      copy_put (db, buf, FALSE);
    }
  copy_end (db, buf);
  PQclear (bench_db_exec (db, "ANALYZE customers", 0, NULL));
  bench_note ("customers %d to %d created in %.1f s", from, to - 1,
              bench_seconds_since (t0));
}

/* A run -------------------------------------------------------------------- */

typedef struct {
  const char *path;
  gboolean finished;
  gint64 finished_mono;
} Waiter;

static void
on_finished (GDBusConnection *conn, const char *sender, const char *path,
             const char *iface, const char *signal, GVariant *params,
             gpointer data)
{
  Waiter *w = data;

  (void) conn, (void) sender, (void) iface, (void) signal, (void) params;
  if (w->path != NULL && g_str_equal (path, w->path) && !w->finished)
    {
      w->finished = TRUE;
      w->finished_mono = g_get_monotonic_time ();
    }
}

static gboolean
wake (gpointer data)
{
  (void) data;
  return G_SOURCE_CONTINUE;
}

static RunResult
run_campaign (const char *name)
{
  GDBusConnection *bus = opt.run.bus;
  Waiter w = { 0 };
  RunResult r = { 0 };
  g_autoptr (GVariant) reply = NULL;
  g_autofree char *path = NULL;
  g_autofree char *id = NULL;
  BenchCpuMark before, after;
  gint64 t0;
  guint sub, tick;
  const char *params[1];
  PGresult *res;

  sub = g_dbus_connection_signal_subscribe (
      bus, BENCH_BUS_NAME, RUN_IFACE, "Finished", NULL, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_finished, &w, NULL);
  tick = g_timeout_add (500, wake, NULL);
  bench_note ("%s: running", name);
  before = bench_cpu_mark (&opt.run);
  t0 = g_get_monotonic_time ();
  reply = bench_call_sync (bus, CAMPAIGNS_IFACE, "Run",
                           g_variant_new ("(s@a{sv})", name,
                                          g_variant_new_array (
                                              G_VARIANT_TYPE ("{sv}"), NULL,
                                              0)),
                           "(o)");
  g_variant_get (reply, "(o)", &path);
  w.path = path;
  id = g_strdup (strrchr (path, '/') + 1);
  params[0] = id;
  /* The signal is the clock; the row is the safety net should it be
   * missed. */
  while (!w.finished)
    {
      g_main_context_iteration (NULL, TRUE);
      if (!w.finished
          && bench_db_int (opt.run.db,
                           "SELECT count(*) FROM campaign_runs WHERE id = $1"
                           " AND state IN ('done', 'failed', 'cancelled')",
                           1, params)
                 == 1)
        {
          /* Give the signal a moment: it is the figure. */
          gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC;

          while (!w.finished && g_get_monotonic_time () < deadline)
            g_main_context_iteration (NULL, TRUE);
          if (!w.finished)
            {
              bench_note ("%s: no Finished signal; the row says done", name);
              w.finished = TRUE;
              w.finished_mono = g_get_monotonic_time ();
            }
        }
    }
  after = bench_cpu_mark (&opt.run);
  g_source_remove (tick);
  g_dbus_connection_signal_unsubscribe (bus, sub);
  r.seconds = (w.finished_mono - t0) / (double) G_USEC_PER_SEC;
  r.cpu = bench_cpu_between (&before, &after);
  res = bench_db_exec (opt.run.db,
                       "SELECT state, total, sent, failed,"
                       " extract(epoch FROM finished_at - created_at)"
                       " FROM campaign_runs WHERE id = $1",
                       1, params);
  r.state = g_strdup (PQgetvalue (res, 0, 0));
  r.total = g_ascii_strtoll (PQgetvalue (res, 0, 1), NULL, 10);
  r.sent = g_ascii_strtoll (PQgetvalue (res, 0, 2), NULL, 10);
  r.failed = g_ascii_strtoll (PQgetvalue (res, 0, 3), NULL, 10);
  r.db_seconds = bench_value_double (res, 0, 4);
  PQclear (res);
  bench_note ("%s: %s, %" G_GINT64_FORMAT " targets, %" G_GINT64_FORMAT
              " sent, %" G_GINT64_FORMAT " failed, in %.2f s",
              name, r.state, r.total, r.sent, r.failed, r.seconds);
  return r;
}

/* The limit ------------------------------------------------------------- */

static double
copy_out (PGconn *db, const char *sql, gint64 *rows)
{
  gint64 t0 = g_get_monotonic_time ();
  PGresult *res = PQexec (db, sql);
  char *line;
  int n;

  if (PQresultStatus (res) != PGRES_COPY_OUT)
    bench_die ("%s: %s", sql, PQerrorMessage (db));
  PQclear (res);
  *rows = 0;
  while ((n = PQgetCopyData (db, &line, 0)) > 0)
    {
      (*rows)++;
      PQfreemem (line);
    }
  if (n != -1)
    bench_die ("COPY out: %s", PQerrorMessage (db));
  res = PQgetResult (db);
  if (PQresultStatus (res) != PGRES_COMMAND_OK)
    bench_die ("COPY out: %s", PQerrorMessage (db));
  PQclear (res);
  return bench_seconds_since (t0);
}

/* As many rows as a run's messages, of their shape, as the outbox gets
 * them from a campaign batch. */
static double
copy_in_messages (PGconn *db, gint64 rows)
{
  g_autoptr (GString) buf = g_string_sized_new (COPY_CHUNK + 4096);
  gint64 t0;

  PQclear (bench_db_exec (db,
                          "CREATE TABLE bench_messages (LIKE messages"
                          " INCLUDING DEFAULTS INCLUDING INDEXES)",
                          0, NULL));
  t0 = g_get_monotonic_time ();
  PQclear (bench_db_exec (db, "BEGIN", 0, NULL));
  copy_begin (db, "COPY bench_messages (customer_id, key, channel, script,"
                  " template, locale, subject, body, due_at) FROM STDIN");
  for (gint64 i = 1; i <= rows; i++)
    {
      g_string_append_printf (
          buf,
          "%" G_GINT64_FORMAT "\tcampaign:bench_all:2026-11-25T00:00:00Z\t"
          "email\tbench_all\tbench_news\ten\tNews for Customer %" G_GINT64_FORMAT
          "\tHello Customer %" G_GINT64_FORMAT ",\\n\\nThis month's news, "
          "for you.\\n\tnow\n",
          i, i, i);
      copy_put (db, buf, FALSE);
    }
  copy_end (db, buf);
  PQclear (bench_db_exec (db, "COMMIT", 0, NULL));
  return bench_seconds_since (t0);
}

static LimitResult
measure_limit (PGconn *db)
{
  LimitResult l = { 0 };
  BenchCpuMark before, after;

  bench_note ("limit: COPY out of the audience, COPY in of its messages");
  before = bench_cpu_mark (&opt.run);
  l.out_seconds = copy_out (db,
                            "COPY (SELECT * FROM customers"
                            " WHERE stage = 'active' ORDER BY id) TO STDOUT",
                            &l.rows);
  l.in_seconds = copy_in_messages (db, l.rows);
  after = bench_cpu_mark (&opt.run);
  l.cpu = bench_cpu_between (&before, &after);
  PQclear (bench_db_exec (db, "DROP TABLE bench_messages", 0, NULL));
  bench_note ("limit: %" G_GINT64_FORMAT " rows out in %.2f s, in in %.2f s",
              l.rows, l.out_seconds, l.in_seconds);
  return l;
}

/* Report ---------------------------------------------------------------- */

static char *
fmt_seconds (double s)
{
  return g_strdup_printf ("%.2f s", s);
}

/* CPU time of stewardd and PostgreSQL per target, in µs. */
static double
cpu_per_target (const RunResult *r)
{
  return (r->cpu.daemon + r->cpu.postgres) * r->cpu.seconds * 1e6
         / MAX (r->total, 1);
}

static void
report (const RunResult *small, const RunResult *aud, const RunResult *all,
        const LimitResult *limit, const char *load_start)
{
  g_autofree char *date = bench_now_text ();
  g_autofree char *machine = bench_machine_description ();
  g_autofree char *load_end = bench_load_average ();
  double hwm = bench_status_kib (opt.run.daemon_pid, "VmHWM:") / 1024.0;
  double limit_s = limit->out_seconds + limit->in_seconds;
  g_autofree char *all_figure = g_strdup_printf (
      "campaign over %d customers, Run → Finished", opt.customers);
  g_autofree char *aud_figure = g_strdup_printf (
      "%d-customer audience in a %d-customer table, in the database",
      opt.audience,
      opt.customers);
  g_autofree char *seconds_goal = g_strdup_printf ("≤ %.0f s", GOAL_SECONDS);
  g_autofree char *ratio_goal = g_strdup_printf ("≤ %.0f× the limit",
                                                 GOAL_LIMIT_RATIO);
  g_autofree char *aud_goal = g_strdup_printf ("≤ %.0f× the small table",
                                               GOAL_AUDIENCE_RATIO);
  g_autofree char *rss_goal = g_strdup_printf ("≤ %.0f MiB", GOAL_RSS_MIB);
  const char *phases[] = { "small table", "audience in the big table",
                           "whole big table", "limit (COPY out + in)" };
  BenchCpuUse uses[] = { small->cpu, aud->cpu, all->cpu, limit->cpu };

  printf ("## Campaigns: a run over %d customers\n\n", opt.customers);
  printf ("%s; %s; load average %s at the start, %s at the end. The daemon: "
          "%d campaign workers, batches of %d. Each campaign's `run` sends "
          "one message per customer (a template with the customer's name, "
          "`delay = \"30d\"`, so delivery does not run meanwhile). Runs are "
          "started with `Campaigns.Run` and timed from the call to the run's "
          "`Finished` signal. Limit: `COPY (SELECT * FROM customers WHERE "
          "stage = 'active') TO STDOUT` plus `COPY` of as many message rows "
          "into a bare copy of `messages` (columns, defaults, indexes; no "
          "foreign key), in one transaction, measured in this run.%s\n\n",
          date, machine, load_start, load_end, opt.campaign_workers,
          opt.batch_size,
          opt.quick ? " **Quick run: the figures mean nothing.**" : "");

  bench_table_begin ();
  bench_row (all_figure, fmt_seconds (all->seconds),
             g_strdup_printf ("COPY out %.2f s + in %.2f s", limit->out_seconds,
                              limit->in_seconds),
             bench_fmt_ratio (all->seconds, limit_s), ratio_goal,
             bench_verdict (all->seconds <= GOAL_LIMIT_RATIO * limit_s));
  bench_row ("… its wall time", fmt_seconds (all->seconds), g_strdup ("—"),
             g_strdup ("—"), seconds_goal,
             bench_verdict (all->seconds <= GOAL_SECONDS));
  bench_row ("… customers per second",
             bench_fmt_rate (all->total / all->seconds, "customers"),
             bench_fmt_rate (limit->rows / limit_s, "rows"),
             bench_fmt_ratio (all->total / all->seconds, limit->rows / limit_s),
             NULL, NULL);
  /* Judged on the rows' times: the client's are 200 ms coarse, too much
   * for runs this short. */
  bench_row (aud_figure, fmt_seconds (aud->db_seconds),
             g_strdup_printf ("table of %d: %.2f s", opt.audience,
                              small->db_seconds),
             bench_fmt_ratio (aud->db_seconds, small->db_seconds), aud_goal,
             bench_verdict (aud->db_seconds
                            <= GOAL_AUDIENCE_RATIO * small->db_seconds));
  bench_row ("stewardd peak RSS (VmHWM)", g_strdup_printf ("%.1f MiB", hwm),
             g_strdup ("—"), g_strdup ("—"), rss_goal,
             bench_verdict (hwm <= GOAL_RSS_MIB));
  bench_table_end ();

  printf ("### The runs\n\n");
  printf ("The client sees `Finished` from a poll of the run's row about "
          "every 200 ms, so a short run's seconds are that coarse; "
          "*in the database* is the row's `created_at` → `finished_at`.\n\n");
  printf ("| run | targets | sent | failed | state | seconds | in the "
          "database | customers/s | CPU per target: stewardd + PostgreSQL "
          "| stewardd |\n");
  printf ("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|\n");
  {
    const RunResult *runs[] = { small, aud, all };
    const char *names[] = { "bench_all, small table", "bench_aud, big table",
                            "bench_all, big table" };

    for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
      printf ("| %s | %" G_GINT64_FORMAT " | %" G_GINT64_FORMAT
              " | %" G_GINT64_FORMAT " | %s | %.2f | %.2f | %.0f | %.0f µs "
              "| %.0f µs |\n",
              names[i], runs[i]->total, runs[i]->sent, runs[i]->failed,
              runs[i]->state, runs[i]->seconds, runs[i]->db_seconds,
              runs[i]->total / runs[i]->seconds, cpu_per_target (runs[i]),
              runs[i]->cpu.daemon * runs[i]->cpu.seconds * 1e6
                  / MAX (runs[i]->total, 1));
  }
  printf ("| limit: COPY out + in | %" G_GINT64_FORMAT " | | | | %.2f | | %.0f "
          "| %.0f µs | |\n\n",
          limit->rows, limit_s, limit->rows / limit_s,
          (limit->cpu.postgres + limit->cpu.bench) * limit->cpu.seconds * 1e6
              / MAX (limit->rows, 1));
  printf ("### CPU (cores)\n\n");
  bench_cpu_table (phases, uses, G_N_ELEMENTS (phases));
}

static gboolean
run_ok (const RunResult *r, gint64 expected)
{
  return g_str_equal (r->state, "done") && r->total == expected
         && r->sent == expected && r->failed == 0;
}

int
main (int argc, char **argv)
{
  const GOptionEntry entries[] = {
    { "quick", 0, 0, G_OPTION_ARG_NONE, &opt.quick,
      "CI smoke run: 20,000 customers, 2,000 in the audience", NULL },
    { "customers", 0, 0, G_OPTION_ARG_INT, &opt.customers,
      "Customers in the big table (default 1000000)", "N" },
    { "audience", 0, 0, G_OPTION_ARG_INT, &opt.audience,
      "The small table and the tagged audience (default 10000)", "A" },
    { "campaign-workers", 0, 0, G_OPTION_ARG_INT, &opt.campaign_workers,
      "The daemon's campaign workers, for the report", "N" },
    { "batch-size", 0, 0, G_OPTION_ARG_INT, &opt.batch_size,
      "The daemon's campaign batch size, for the report", "N" },
    { NULL }
  };
  RunResult small, aud, all;
  LimitResult limit;
  g_autofree char *load_start = NULL;
  PGconn *db;
  int step;
  int status;

  if (!bench_parse_options (&opt.run, "bench-campaign",
                            "a campaign run against COPY", entries, &argc,
                            &argv))
    return 2;
  if (opt.customers < 0)
    opt.customers = opt.quick ? 20000 : 1000000;
  if (opt.audience < 0)
    opt.audience = opt.quick ? 2000 : 10000;
  if (opt.audience < 1 || opt.customers < 2 * opt.audience)
    {
      fprintf (stderr, "bench-campaign: the audience must be at least 1, "
                       "and the customers at least twice the audience\n");
      return 2;
    }

  bench_run_connect (&opt.run, "campaign_runs");
  db = opt.run.db;
  load_start = bench_load_average ();

  step = opt.customers / opt.audience;
  create_customers (db, 0, opt.audience, step);
  small = run_campaign ("bench_all");
  create_customers (db, opt.audience, opt.customers, step);
  aud = run_campaign ("bench_aud");
  PQclear (bench_db_exec (db, "VACUUM ANALYZE", 0, NULL));
  limit = measure_limit (db);
  all = run_campaign ("bench_all");

  report (&small, &aud, &all, &limit, load_start);
  status = run_ok (&small, opt.audience)
                   && run_ok (&aud, (opt.customers - 1) / step + 1)
                   && run_ok (&all, opt.customers)
               ? 0
               : 1;
  if (status != 0)
    bench_note ("a run did not send one message to each of its customers");
  g_free (small.state);
  g_free (aud.state);
  g_free (all.state);
  bench_run_clear (&opt.run);
  return status;
}
