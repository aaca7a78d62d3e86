/* bench-calls — what the daemon's D-Bus calls cost against bare limits.
 *
 * A D-Bus client of a running stewardd (run it through bench/calls, which
 * starts a private cluster, bus and daemon with no scripts). Phases:
 *
 *   1. RecordEvent throughput: N clients, each on its own bus connection,
 *      each recording purchases for its own customers in a closed loop
 *      (the next call when the last is answered) for S seconds;
 *      the limit: pgbench on the same server, N connections, each
 *      transaction one single-row INSERT into a bare table of the events'
 *      shape; for reference, the same clients' loop on Peer.Ping, what the
 *      bus round trip alone allows;
 *   2. Customers.Get latency: one client, a closed loop over the customers,
 *      alternately by id and by ref, each Get followed by a Peer.Ping on
 *      the same connection (answered by GDBus itself: the bare bus round
 *      trip), so both see the same machine at the same moments;
 *   3. stewardd's peak RSS.
 *
 * The report is Markdown on stdout; progress goes to stderr. Goals are
 * printed as PASS or MISS; a miss is a finding, not a failure: the exit
 * status is non-zero only when the benchmark itself could not run. */

#include "bench-util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

/* Goals (issue 6). */
#define GOAL_RECORD_RATIO 0.5   /* RecordEvent ≥ 0.5 × pgbench tps */
#define GOAL_GET_P99_MS 2.0     /* Customers.Get p99 ≤ 2 ms */
#define GOAL_GET_PING_RATIO 3.0 /* … and ≤ 3 × Peer.Ping p99 */

typedef struct {
  int duration;
  int warmup;
  int clients;
  int pgbench_jobs;
  int customers;
  int gets;
  int daemon_workers;
  gboolean quick;
  char *pgbench;
  BenchRun run;
} Options;

static Options opt = {
  .clients = 8,
  .pgbench_jobs = 2,
};

/* From opt.run, once connected. */
static GDBusConnection *bus;
static const char *run_tag;
static char **customer_ids;   /* "123", as RecordEvent and Get take them */

/* The daemon must run no script on purchase: the figure is the write path
 * alone. Returns how many scripts would make a care job per event. */
static guint
scripts_on_purchase (void)
{
  g_autoptr (GVariant) reply = bench_call_sync (
      bus, "org.steward.Steward1.Scripts", "List", NULL, "(aa{sv})");
  g_autoptr (GVariant) list = g_variant_get_child_value (reply, 0);
  guint n = 0;

  for (gsize i = 0; i < g_variant_n_children (list); i++)
    {
      g_autoptr (GVariant) script = g_variant_get_child_value (list, i);
      g_autofree const char **on = NULL;

      if (g_variant_lookup (script, "on", "^a&s", &on) && on != NULL
          && g_strv_contains (on, "purchase"))
        n++;
    }
  return n;
}

/* Phase 1: RecordEvent from N clients -------------------------------------- */

typedef struct _Record Record;
typedef struct _Client Client;
/* One call of a client's closed loop; FALSE when it failed. */
typedef gboolean (*CallFunc) (Client *c, guint n);

struct _Client {
  Record *record;
  int index;
  GDBusConnection *conn;
  GArray *latencies;  /* ms */
  guint ok, errors;
  gint64 end_mono;
};

struct _Record {
  const char *phase;  /* part of every key */
  CallFunc call;
  int seconds;
  GMutex lock;
  GCond cond;
  int ready;
  gint64 start_mono;  /* 0 until every client is connected */
  Client *clients;
};

static gboolean
record_event (Client *c, guint n)
{
  /* The client's own customers: those whose index ≡ its own, mod N. */
  guint per_client = (opt.customers - 1 - c->index) / opt.clients + 1;
  const char *customer = customer_ids[c->index + (n % per_client)
                                                     * opt.clients];
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  GVariantBuilder data;

  g_variant_builder_init (&data, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&data, "{sv}", "amount",
                         g_variant_new_double (10 + n % 90));
  g_variant_builder_add (&data, "{sv}", "key",
                         g_variant_new_take_string (g_strdup_printf (
                             "bench:%s:%s:%d:%u", run_tag, c->record->phase,
                             c->index, n)));
  reply = g_dbus_connection_call_sync (
      c->conn, BENCH_BUS_NAME, BENCH_OBJECT_PATH, BENCH_CUSTOMERS_IFACE,
      "RecordEvent",
      g_variant_new ("(ss@a{sv})", customer, "purchase",
                     g_variant_builder_end (&data)),
      G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
      BENCH_CALL_TIMEOUT_MS, NULL, &error);
  if (reply == NULL && c->errors++ < 3)
    bench_note ("RecordEvent (client %d): %s", c->index, error->message);
  return reply != NULL;
}

/* The same loop on Peer.Ping: what the bus alone allows N clients. */
static gboolean
ping (Client *c, guint n)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
      c->conn, BENCH_BUS_NAME, BENCH_OBJECT_PATH, "org.freedesktop.DBus.Peer",
      "Ping", NULL, NULL, G_DBUS_CALL_FLAGS_NONE, BENCH_CALL_TIMEOUT_MS, NULL,
      &error);

  (void) n;
  if (reply == NULL && c->errors++ < 3)
    bench_note ("Peer.Ping (client %d): %s", c->index, error->message);
  return reply != NULL;
}

static gpointer
client_thread (gpointer data)
{
  Client *c = data;
  Record *r = c->record;
  gint64 deadline;

  g_mutex_lock (&r->lock);
  r->ready++;
  g_cond_broadcast (&r->cond);
  while (r->start_mono == 0)
    g_cond_wait (&r->cond, &r->lock);
  deadline = r->start_mono + r->seconds * G_USEC_PER_SEC;
  g_mutex_unlock (&r->lock);

  for (guint n = 0; g_get_monotonic_time () < deadline; n++)
    {
      gint64 t0 = g_get_monotonic_time ();

      if (r->call (c, n))
        {
          c->ok++;
          bench_values_add (c->latencies,
                            (g_get_monotonic_time () - t0) / 1000.0);
        }
    }
  c->end_mono = g_get_monotonic_time ();
  return NULL;
}

/* Each client on its own connection to the bus, as separate programs
 * would be: the daemon sees N peers. */
static GDBusConnection *
client_connection (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *address = g_dbus_address_get_for_bus_sync (
      G_BUS_TYPE_SESSION, NULL, &error);
  GDBusConnection *conn = NULL;

  if (address != NULL)
    conn = g_dbus_connection_new_for_address_sync (
        address,
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
            | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
        NULL, NULL, &error);
  if (conn == NULL)
    bench_die ("cannot connect to the session bus: %s", error->message);
  return conn;
}

typedef struct {
  double rate;          /* events answered per second, all clients */
  guint ok, errors;
  double seconds;
  GArray *latencies;    /* ms, every call */
} RecordResult;

static RecordResult
record_run (const char *phase, CallFunc call, int seconds)
{
  Record r = { .phase = phase, .call = call, .seconds = seconds };
  GThread **threads = g_new0 (GThread *, opt.clients);
  RecordResult result = { .latencies = bench_values_new () };
  gint64 end = 0;

  g_mutex_init (&r.lock);
  g_cond_init (&r.cond);
  r.clients = g_new0 (Client, opt.clients);
  for (int i = 0; i < opt.clients; i++)
    {
      r.clients[i] = (Client) { .record = &r, .index = i,
                                .conn = client_connection (),
                                .latencies = bench_values_new () };
      threads[i] = g_thread_new ("client", client_thread, &r.clients[i]);
    }
  g_mutex_lock (&r.lock);
  while (r.ready < opt.clients)
    g_cond_wait (&r.cond, &r.lock);
  r.start_mono = g_get_monotonic_time ();
  g_cond_broadcast (&r.cond);
  g_mutex_unlock (&r.lock);

  for (int i = 0; i < opt.clients; i++)
    {
      Client *c = &r.clients[i];

      g_thread_join (threads[i]);
      result.ok += c->ok;
      result.errors += c->errors;
      end = MAX (end, c->end_mono);
      g_array_append_vals (result.latencies, c->latencies->data,
                           c->latencies->len);
      g_array_unref (c->latencies);
      g_dbus_connection_close_sync (c->conn, NULL, NULL);
      g_object_unref (c->conn);
    }
  result.seconds = (end - r.start_mono) / 1e6;
  result.rate = result.ok / result.seconds;
  g_free (r.clients);
  g_free (threads);
  g_mutex_clear (&r.lock);
  g_cond_clear (&r.cond);
  return result;
}

/* The limit: pgbench ----------------------------------------------------------- */

typedef struct {
  double tps;               /* without the initial connection time */
  double latency_avg;       /* ms */
  gint64 transactions;
  gint64 failed;
} PgbenchResult;

/* "KEY = 123.4 …" or "KEY: 123 …" in pgbench's output; NAN if absent. */
static double
pgbench_figure (const char *output, const char *key)
{
  const char *p = strstr (output, key);

  if (p == NULL)
    return NAN;
  p += strlen (key);
  while (*p == ' ' || *p == '=' || *p == ':')
    p++;
  return g_ascii_strtod (p, NULL);
}

/* One single-row INSERT per transaction, of the columns RecordEvent
 * writes, into a bare table with the events' columns, defaults, checks and
 * indexes (the idempotency key's unique index among them), but no foreign
 * key and nothing else in the transaction: no aggregates, no health. */
static PgbenchResult
pgbench_run (PGconn *db, int seconds)
{
  static const char script[] =
      "\\set cid random(1, :customers)\n"
      "\\set k random(1, 1000000000000000000)\n"
      "INSERT INTO bench_bare_events"
      " (customer_id, kind, occurred_at, amount, data, idem_key)"
      " VALUES (:cid, 'purchase', now(), 42, '{}', 'bare:' || :k);\n";
  g_autoptr (GError) error = NULL;
  g_autofree char *script_path = NULL, *out = NULL, *err = NULL;
  g_autofree char *clients = g_strdup_printf ("%d", opt.clients);
  g_autofree char *jobs
      = g_strdup_printf ("%d", MIN (opt.pgbench_jobs, opt.clients));
  g_autofree char *time = g_strdup_printf ("%d", seconds);
  g_autofree char *customers = g_strdup_printf ("customers=%d",
                                                opt.customers);
  PgbenchResult r;
  int fd, status = 0;

  PQclear (bench_db_exec (db, "DROP TABLE IF EXISTS bench_bare_events", 0,
                          NULL));
  PQclear (bench_db_exec (db, "CREATE TABLE bench_bare_events"
                              " (LIKE events INCLUDING ALL)", 0, NULL));
  /* Its own sequence: the events' is left alone. */
  PQclear (bench_db_exec (db, "CREATE SEQUENCE IF NOT EXISTS"
                              " bench_bare_events_id_seq", 0, NULL));
  PQclear (bench_db_exec (db,
                          "ALTER TABLE bench_bare_events ALTER COLUMN id"
                          " SET DEFAULT nextval('bench_bare_events_id_seq')",
                          0, NULL));

  fd = g_file_open_tmp ("bench-calls-XXXXXX.sql", &script_path, &error);
  if (fd < 0)
    bench_die ("pgbench script: %s", error->message);
  close (fd);
  if (!g_file_set_contents (script_path, script, -1, &error))
    bench_die ("pgbench script: %s", error->message);
  {
    const char *argv[] = { opt.pgbench, "--no-vacuum", "--protocol=prepared",
                           "--client", clients, "--jobs", jobs,
                           "--time", time, "--define", customers,
                           "--file", script_path, opt.run.database, NULL };

    if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL,
                       NULL, &out, &err, &status, &error))
      bench_die ("cannot run %s: %s", opt.pgbench, error->message);
  }
  g_unlink (script_path);
  if (!g_spawn_check_wait_status (status, &error))
    bench_die ("pgbench failed (%s):\n%s%s", error->message, out, err);
  r.tps = pgbench_figure (out, "tps");
  r.latency_avg = pgbench_figure (out, "latency average");
  r.transactions = (gint64) pgbench_figure (out, "actually processed");
  r.failed = (gint64) pgbench_figure (out, "number of failed transactions");
  if (isnan (r.tps))
    bench_die ("no tps in pgbench's output:\n%s", out);
  PQclear (bench_db_exec (db, "DROP TABLE bench_bare_events", 0, NULL));
  PQclear (bench_db_exec (db, "DROP SEQUENCE bench_bare_events_id_seq", 0,
                          NULL));
  return r;
}

/* Phase 2: Customers.Get against Peer.Ping ------------------------------------ */

typedef struct {
  GArray *all, *by_id, *by_ref;  /* Get, ms */
  GArray *ping;                   /* Peer.Ping, ms */
} GetResult;

static double
get_once (const char *customer)
{
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (GVariant) reply = bench_call_sync (
      bus, BENCH_CUSTOMERS_IFACE, "Get", g_variant_new ("(s)", customer),
      "(a{sv})");

  return (g_get_monotonic_time () - t0) / 1000.0;
}

static GetResult
get_run (void)
{
  GetResult r = { bench_values_new (), bench_values_new (),
                  bench_values_new (), bench_values_new () };
  /* Every worker prepares its statements at first use: not counted. */
  int warmup = MIN (200, MAX (opt.daemon_workers * 4, opt.gets / 10));

  for (int i = -warmup; i < opt.gets; i++)
    {
      /* A stride that visits the customers out of their order. */
      int k = (int) (((gint64) (i + warmup) * 7919) % opt.customers);
      gboolean by_ref = (i & 1) != 0;
      g_autofree char *ref = by_ref ? bench_customer_ref (run_tag, k) : NULL;
      double get = get_once (by_ref ? ref : customer_ids[k]);
      double ping = bench_ping_once (bus);

      if (i < 0)
        continue;
      bench_values_add (r.all, get);
      bench_values_add (by_ref ? r.by_ref : r.by_id, get);
      bench_values_add (r.ping, ping);
    }
  return r;
}

/* The report ----------------------------------------------------------------- */

/* The Peer.Ping loop is only a reference point: shorter. */
static int
ping_seconds (void)
{
  return MAX (1, MIN (opt.duration, 10));
}

typedef struct {
  RecordResult record;
  RecordResult ping;  /* the same clients, on Peer.Ping */
  PgbenchResult pgbench;
  GetResult get;
  BenchCpuUse record_cpu, ping_cpu, pgbench_cpu, get_cpu;
  gint64 care_jobs;   /* made during the RecordEvent phase */
  guint scripts;      /* on purchase */
  char *load_at_start;
} Results;

static void
report (const Results *res)
{
  g_autofree char *date = bench_now_text ();
  g_autofree char *machine = bench_machine_description ();
  g_autofree char *load_now = bench_load_average ();
  BenchSummary call = bench_summarize (res->record.latencies);
  BenchSummary get = bench_summarize (res->get.all);
  BenchSummary ping = bench_summarize (res->get.ping);
  double hwm = bench_status_kib (opt.run.daemon_pid, "VmHWM:");
  double record_ratio = res->record.rate / res->pgbench.tps;
  g_autofree char *record_goal = g_strdup_printf ("≥ %.1f× pgbench",
                                                  GOAL_RECORD_RATIO);
  g_autofree char *get_goal = g_strdup_printf (
      "p99 ≤ %.0f ms and ≤ %.0f× Peer.Ping p99", GOAL_GET_P99_MS,
      GOAL_GET_PING_RATIO);
  g_autofree char *record_figure = g_strdup_printf (
      "RecordEvent throughput, %d clients", opt.clients);
  g_autofree char *record_phase = g_strdup_printf ("RecordEvent, %d clients",
                                                   opt.clients);
  g_autofree char *record_row = NULL;
  g_autofree char *record_bus_figure = g_strdup_printf (
      "RecordEvent throughput, %d clients, against the bus alone",
      opt.clients);

  printf ("## D-Bus calls: RecordEvent throughput, Customers.Get latency\n\n");
  printf ("%s; %s. The daemon: %d D-Bus workers (each with its own "
          "database connection), **no scripts** (%s), %d customers. "
          "RecordEvent: %d clients, each on its own bus connection and "
          "with its own customers, in a closed loop for %d s (after a %d s "
          "warm-up). Limit: `pgbench --no-vacuum --protocol=prepared "
          "--client %d --jobs %d --time %d`, each transaction one "
          "single-row INSERT into a bare copy of `events` (its columns, "
          "defaults and indexes; no foreign key). For reference, the same "
          "clients' loop on Peer.Ping for %d s: what the bus round trip "
          "alone allows, which pgbench does not pay. Customers.Get: %d calls "
          "from one client in a closed loop, alternately by id and by ref, "
          "each followed by a Peer.Ping on the same connection.\n\n",
          date, machine, opt.daemon_workers,
          res->scripts == 0
              ? "events make no care jobs: the figure is RecordEvent's own "
                "write path, the event, the customer's aggregates and "
                "health in one transaction"
              : "warning: scripts react to purchase, so events make care "
                "jobs too",
          opt.customers, opt.clients, opt.duration, opt.warmup, opt.clients,
          MIN (opt.pgbench_jobs, opt.clients), opt.duration, ping_seconds (),
          opt.gets);

  bench_table_begin ();
  bench_row (record_figure, bench_fmt_rate (res->record.rate, "events"),
             g_strdup_printf ("pgbench INSERT %.0f tps (%d conn.)",
                              res->pgbench.tps, opt.clients),
             bench_fmt_ratio (res->record.rate, res->pgbench.tps), record_goal,
             bench_verdict (record_ratio >= GOAL_RECORD_RATIO));
  bench_row (record_bus_figure, bench_fmt_rate (res->record.rate, "events"),
             g_strdup_printf ("Peer.Ping %.0f calls/s (%d clients)",
                              res->ping.rate, opt.clients),
             bench_fmt_ratio (res->record.rate, res->ping.rate), NULL, NULL);
  bench_row ("RecordEvent round trip mean, under that load",
             bench_fmt_ms (call.mean),
             bench_labelled_ms ("pgbench latency average",
                                res->pgbench.latency_avg),
             bench_fmt_ratio (call.mean, res->pgbench.latency_avg), NULL, NULL);
  bench_row ("RecordEvent round trip p99, under that load",
             bench_fmt_ms (call.p99), g_strdup ("—"), g_strdup ("—"), NULL,
             NULL);
  bench_row ("Customers.Get p50", bench_fmt_ms (get.p50),
             bench_labelled_ms ("Peer.Ping p50", ping.p50),
             bench_fmt_ratio (get.p50, ping.p50), NULL, NULL);
  bench_row ("Customers.Get p95", bench_fmt_ms (get.p95),
             bench_labelled_ms ("Peer.Ping p95", ping.p95),
             bench_fmt_ratio (get.p95, ping.p95), NULL, NULL);
  bench_row ("Customers.Get p99", bench_fmt_ms (get.p99),
             bench_labelled_ms ("Peer.Ping p99", ping.p99),
             bench_fmt_ratio (get.p99, ping.p99), get_goal,
             bench_verdict (get.p99 <= GOAL_GET_P99_MS
                            && get.p99 <= GOAL_GET_PING_RATIO * ping.p99));
  bench_row ("stewardd peak RSS (VmHWM)",
             isnan (hwm) ? g_strdup ("n/a")
                         : g_strdup_printf ("%.1f MiB", hwm / 1024),
             g_strdup ("—"), g_strdup ("—"), NULL, NULL);
  bench_table_end ();

  printf ("Latencies (client clocks, closed loop):\n\n"
          "| call | p50 | p95 | p99 | max |\n|---|---|---|---|---|\n");
  bench_percentile_row ("Customers.Get by id", res->get.by_id);
  bench_percentile_row ("Customers.Get by ref", res->get.by_ref);
  bench_percentile_row ("Peer.Ping (between the Gets)", res->get.ping);
  record_row = g_strdup_printf ("RecordEvent (%d clients at once)",
                                opt.clients);
  bench_percentile_row (record_row, res->record.latencies);
  printf ("\n");

  {
    const char *phases[] = { record_phase, "Peer.Ping, as many clients",
                             "pgbench", "Customers.Get + Ping" };
    const BenchCpuUse uses[] = { res->record_cpu, res->ping_cpu,
                                 res->pgbench_cpu, res->get_cpu };
    double per_ping = 1e6 * res->ping_cpu.seconds / MAX (1u, res->ping.ok);
    double per_event = 1e6 * res->record_cpu.seconds / MAX (1u, res->record.ok);
    double per_row = 1e6 * res->pgbench_cpu.seconds
                     / MAX (1.0, (double) res->pgbench.transactions);

    bench_cpu_table (phases, uses, G_N_ELEMENTS (uses));
    printf ("CPU time per event (µs), RecordEvent: stewardd %.0f, "
            "PostgreSQL %.0f, dbus-daemon %.0f, bench-calls %.0f; per "
            "Peer.Ping: stewardd %.0f, dbus-daemon %.0f, bench-calls %.0f; "
            "per row, "
            "pgbench's INSERT: PostgreSQL %.0f, pgbench %.0f (pgbench "
            "counts in bench-calls' row, which ran it). When the machine "
            "total is near %ld cores, a rate is what the machine could give, "
            "not what one call needs.\n\n",
            res->record_cpu.daemon * per_event,
            res->record_cpu.postgres * per_event,
            res->record_cpu.bus * per_event, res->record_cpu.bench * per_event,
            res->ping_cpu.daemon * per_ping, res->ping_cpu.bus * per_ping,
            res->ping_cpu.bench * per_ping, res->pgbench_cpu.postgres * per_row,
            res->pgbench_cpu.bench * per_row, sysconf (_SC_NPROCESSORS_ONLN));
  }

  printf ("Other observations: %u RecordEvent calls answered in %.1f s (%u "
          "errors), %" G_GINT64_FORMAT " care jobs made by them; %u "
          "Peer.Ping calls (%u errors); pgbench: %"
          G_GINT64_FORMAT " transactions, %" G_GINT64_FORMAT " failed. "
          "Customers.Get: %u calls and as many pings. Load average at the "
          "start %s, at the end %s.\n", res->record.ok, res->record.seconds,
          res->record.errors, res->care_jobs, res->ping.ok, res->ping.errors,
          res->pgbench.transactions,
          res->pgbench.failed, get.n, res->load_at_start, load_now);
}

/* Main ----------------------------------------------------------------------- */

static gint64
care_jobs_count (PGconn *db)
{
  return bench_db_int (db, "SELECT count(*) FROM care_jobs", 0, NULL);
}

int
main (int argc, char **argv)
{
  const GOptionEntry entries[] = {
    { "duration", 0, 0, G_OPTION_ARG_INT, &opt.duration,
      "Seconds of RecordEvent load, and of pgbench (default 30)", "S" },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &opt.quick,
      "CI smoke run: 3 s each, 200 customers, 500 Gets", NULL },
    { "warmup", 0, 0, G_OPTION_ARG_INT, &opt.warmup,
      "Seconds of RecordEvent load before, not counted (default 2)", "S" },
    { "clients", 0, 0, G_OPTION_ARG_INT, &opt.clients,
      "Concurrent RecordEvent clients and pgbench connections (default 8)",
      "N" },
    { "pgbench-jobs", 0, 0, G_OPTION_ARG_INT, &opt.pgbench_jobs,
      "pgbench's threads (default 2)", "N" },
    { "customers", 0, 0, G_OPTION_ARG_INT, &opt.customers,
      "Customers created (default 1000)", "N" },
    { "gets", 0, 0, G_OPTION_ARG_INT, &opt.gets,
      "Customers.Get calls measured, each with a Peer.Ping (default 5000)",
      "N" },
    { "daemon-workers", 0, 0, G_OPTION_ARG_INT, &opt.daemon_workers,
      "The daemon's D-Bus workers, for the report", "N" },
    { "pgbench", 0, 0, G_OPTION_ARG_FILENAME, &opt.pgbench,
      "The pgbench program (bench/calls finds it)", "PATH" },
    { NULL }
  };
  Results res = { 0 };
  PGconn *db;
  BenchCpuMark before, after;
  gint64 jobs_before;
  int status;

  opt.duration = opt.warmup = opt.customers = opt.gets = -1;
  if (!bench_parse_options (&opt.run, "bench-calls",
                            "RecordEvent throughput, Customers.Get latency",
                            entries, &argc, &argv))
    return 2;
  if (opt.duration < 0)
    opt.duration = opt.quick ? 3 : 30;
  if (opt.warmup < 0)
    opt.warmup = opt.quick ? 1 : 2;
  if (opt.customers < 0)
    opt.customers = opt.quick ? 200 : 1000;
  if (opt.gets < 0)
    opt.gets = opt.quick ? 500 : 5000;
  if (opt.duration < 1 || opt.warmup < 0 || opt.clients < 1
      || opt.pgbench_jobs < 1 || opt.customers < opt.clients || opt.gets < 1)
    {
      fprintf (stderr, "bench-calls: every count must be at least 1 "
               "(warm-up 0), and customers at least clients\n");
      return 2;
    }
  if (opt.pgbench == NULL)
    {
      fprintf (stderr, "bench-calls: no pgbench: pass --pgbench PATH "
               "(bench/calls does)\n");
      return 2;
    }

  bench_run_connect (&opt.run, "care_jobs");
  bus = opt.run.bus;
  run_tag = opt.run.tag;
  db = opt.run.db;
  res.scripts = scripts_on_purchase ();
  if (res.scripts > 0)
    bench_note ("warning: %u scripts react to purchase; bench/calls runs "
                "the daemon with none", res.scripts);
  customer_ids = bench_create_customers (bus, opt.customers, run_tag);

  if (opt.warmup > 0)
    {
      RecordResult warm;

      bench_note ("warm-up: %d clients for %d s", opt.clients, opt.warmup);
      warm = record_run ("warm", record_event, opt.warmup);
      g_array_unref (warm.latencies);
    }

  bench_note ("RecordEvent: %d clients for %d s", opt.clients, opt.duration);
  res.load_at_start = bench_load_average ();
  jobs_before = care_jobs_count (db);
  before = bench_cpu_mark (&opt.run);
  res.record = record_run ("record", record_event, opt.duration);
  after = bench_cpu_mark (&opt.run);
  res.record_cpu = bench_cpu_between (&before, &after);
  res.care_jobs = care_jobs_count (db) - jobs_before;
  bench_note ("RecordEvent: %u calls answered, %.0f/s (%u errors)",
              res.record.ok, res.record.rate, res.record.errors);

  bench_note ("Peer.Ping: %d clients for %d s", opt.clients,
              ping_seconds ());
  before = bench_cpu_mark (&opt.run);
  res.ping = record_run ("ping", ping, ping_seconds ());
  after = bench_cpu_mark (&opt.run);
  res.ping_cpu = bench_cpu_between (&before, &after);

  bench_note ("pgbench: %d connections for %d s", opt.clients, opt.duration);
  before = bench_cpu_mark (&opt.run);
  res.pgbench = pgbench_run (db, opt.duration);
  after = bench_cpu_mark (&opt.run);
  res.pgbench_cpu = bench_cpu_between (&before, &after);
  bench_note ("pgbench: %.0f tps", res.pgbench.tps);

  bench_note ("Customers.Get: %d calls, each with a Peer.Ping", opt.gets);
  before = bench_cpu_mark (&opt.run);
  res.get = get_run ();
  after = bench_cpu_mark (&opt.run);
  res.get_cpu = bench_cpu_between (&before, &after);

  report (&res);
  status = res.record.errors > 0 || res.record.ok == 0 ? 1 : 0;
  g_array_unref (res.record.latencies);
  g_array_unref (res.ping.latencies);
  g_array_unref (res.get.all);
  g_array_unref (res.get.by_id);
  g_array_unref (res.get.by_ref);
  g_array_unref (res.get.ping);
  g_free (res.load_at_start);
  g_strfreev (customer_ids);
  g_free (opt.pgbench);
  bench_run_clear (&opt.run);
  return status;
}
