/* bench-util — what every benchmark client shares: percentiles, number
 * formats, the report's Markdown tables and their machine-readable
 * summary, the database, CPU and memory readings from /proc, and the
 * daemon on the bus (customers, Peer.Ping).
 *
 * The programs are run by their driver scripts in bench/, which start a
 * private cluster, bus and daemon (bench/lib.sh). */

#pragma once

#include <gio/gio.h>
#include <libpq-fe.h>

G_BEGIN_DECLS

#define BENCH_BUS_NAME "org.steward.Steward1"
#define BENCH_OBJECT_PATH "/org/steward/Steward1"
#define BENCH_CUSTOMERS_IFACE "org.steward.Steward1.Customers"
#define BENCH_CALL_TIMEOUT_MS 120000

/* What the drivers pass to every program (where the database is, and the
 * processes of the run, whose CPU time and memory are reported), and what
 * bench_run_connect makes of it. */
typedef struct {
  char *database;
  int daemon_pid;
  int pg_pid;
  int bus_pid;
  char *tag;             /* makes keys and refs unique to this run */
  GDBusConnection *bus;  /* the session bus, where the daemon is */
  PGconn *db;            /* the daemon's database */
} BenchRun;

/* Sets up stdout and the program's name (@name, "bench-NAME", run by the
 * driver bench/NAME), and parses the command line: @entries, then
 * --database, --daemon-pid, --pg-pid and --bus-pid into @run (the
 * database defaults to $STEWARD_DATABASE). FALSE, with a message, on a
 * bad command line. */
gboolean bench_parse_options (BenchRun *run, const char *name,
                              const char *what, const GOptionEntry *entries,
                              int *argc, char ***argv);
/* Waits for the daemon on the bus and connects to its database, which
 * must hold @table; dies when it cannot. */
void bench_run_connect (BenchRun *run, const char *table);
void bench_run_clear (BenchRun *run);

void bench_die (const char *format, ...) G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN;
void bench_note (const char *format, ...) G_GNUC_PRINTF (1, 2);
double bench_seconds_since (gint64 mono_start);

/* Values (milliseconds or rates) and their nearest-rank percentiles. */
typedef struct {
  guint n;
  double p50, p95, p99, max, mean;
} BenchSummary;

GArray *bench_values_new (void);
void bench_values_add (GArray *values, double value);
/* Sorts @values. */
BenchSummary bench_summarize (GArray *values);

char *bench_fmt_ms (double ms);
char *bench_labelled_ms (const char *label, double ms);
char *bench_fmt_rate (double per_second, const char *unit);
/* ours ÷ limit: for a latency, how many bare round trips our path costs;
 * for a rate, the share of the bare rate we reach. */
char *bench_fmt_ratio (double ours, double limit);
const char *bench_verdict (gboolean pass);

/* The figures table. bench_table_begin prints its header; bench_row a row
 * (and takes ours, limit and ratio); bench_table_end the blank line after
 * it and, for every row with a verdict, a summary line that tools/bench
 * collects into the report's summary:
 *
 *   <!-- bench-summary: FIGURE | OURS | LIMIT | RATIO | GOAL | VERDICT -->
 *
 * A row with @goal and @verdict shows "GOAL: **VERDICT**"; with @goal only
 * (a goal stated, nothing to judge), just the goal. */
void bench_table_begin (void);
void bench_row (const char *figure, char *ours, char *limit, char *ratio,
                const char *goal, const char *verdict);
void bench_table_end (void);

/* "| WHAT | p50 | p95 | p99 | max |" */
void bench_percentile_row (const char *what, GArray *values);

/* The database. */
PGconn *bench_db_connect (const BenchRun *run);
PGresult *bench_db_exec (PGconn *conn, const char *sql, int n_params,
                         const char *const *params);
gint64 bench_db_int (PGconn *conn, const char *sql, int n_params,
                     const char *const *params);
double bench_value_double (PGresult *res, int row, int col);

/* CPU use between two marks, in cores (1.0 = one core busy the whole
 * time). The machine may be shared: "others" is what the processes of
 * this run do not account for. */
typedef struct {
  double daemon, postgres, bus, bench, others, machine;
  double seconds;
} BenchCpuUse;

/* bench: this program and the programs it ran and waited for. */
typedef struct {
  gint64 daemon, postgres, bus, bench; /* clock ticks, -1 when unknown */
  gint64 busy, total;                  /* /proc/stat, all CPUs */
  gint64 mono;
  gint64 real;                         /* to compare with server times */
} BenchCpuMark;

BenchCpuMark bench_cpu_mark (const BenchRun *run);
BenchCpuUse bench_cpu_between (const BenchCpuMark *a, const BenchCpuMark *b);
/* The sum of the run's own processes. */
double bench_cpu_ours (const BenchCpuUse *u);
/* The table of cores used by stewardd, PostgreSQL, the bus, this program,
 * everything else and the machine, one column per phase. */
void bench_cpu_table (const char *const *phases, const BenchCpuUse *uses,
                      guint n);

/* A field of /proc/PID/status in KiB ("VmHWM:", "VmRSS:"); NAN if gone. */
double bench_status_kib (int pid, const char *field);

/* "2 CPUs (AMD EPYC …), Linux 6.1.0" */
char *bench_machine_description (void);
/* The 1, 5 and 15 minute load averages: "0.52/0.61/0.70". */
char *bench_load_average (void);
/* "2026-11-25 00:06 UTC" */
char *bench_now_text (void);

/* The daemon. */
void bench_wait_for_daemon (GDBusConnection *bus, int daemon_pid);
GVariant *bench_call_sync (GDBusConnection *bus, const char *interface,
                           const char *method, GVariant *params,
                           const char *reply_type);
/* One Peer.Ping round trip to the daemon (answered by GDBus itself: a bare
 * bus round trip), in ms. */
double bench_ping_once (GDBusConnection *bus);
BenchSummary bench_ping_run (GDBusConnection *bus, int pings);

/* Creates @n customers through Customers.Create from 8 threads; customer
 * i has the ref bench_customer_ref (@tag, i). Returns their ids as
 * strings (NULL-terminated), as RecordEvent and Get take them. */
char **bench_create_customers (GDBusConnection *bus, int n, const char *tag);
char *bench_customer_ref (const char *tag, int i);

G_END_DECLS
