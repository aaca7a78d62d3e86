/* bench-util — what every benchmark client shares (see bench-util.h). */

#include "bench-util.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The run ------------------------------------------------------------------ */

gboolean
bench_parse_options (BenchRun *run, const char *name, const char *what,
                     const GOptionEntry *entries, int *argc, char ***argv)
{
  const GOptionEntry run_entries[] = {
    { "database", 0, 0, G_OPTION_ARG_STRING, &run->database,
      "libpq conninfo of the daemon's database (default $STEWARD_DATABASE)",
      "CONNINFO" },
    { "daemon-pid", 0, 0, G_OPTION_ARG_INT, &run->daemon_pid,
      "stewardd's pid, for its CPU use and peak RSS", "PID" },
    { "pg-pid", 0, 0, G_OPTION_ARG_INT, &run->pg_pid,
      "The postmaster's pid, for PostgreSQL's CPU use", "PID" },
    { "bus-pid", 0, 0, G_OPTION_ARG_INT, &run->bus_pid,
      "The dbus-daemon's pid, for its CPU use", "PID" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *parameters = g_strdup_printf ("- %s", what);
  g_autofree char *summary = g_strdup_printf (
      "Drives a running stewardd (on the session bus) and reads its "
      "database. Run it through bench/%s, which starts all of it privately.",
      g_str_has_prefix (name, "bench-") ? name + strlen ("bench-") : name);

  /* The report is read as it comes, interleaved with progress on stderr. */
  setvbuf (stdout, NULL, _IOLBF, 0);
  g_set_prgname (name);
  context = g_option_context_new (parameters);
  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_main_entries (context, run_entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      fprintf (stderr, "%s: %s\n", name, error->message);
      return FALSE;
    }
  if (run->database == NULL)
    run->database = g_strdup (g_getenv ("STEWARD_DATABASE"));
  if (run->database == NULL)
    {
      fprintf (stderr, "%s: no database: pass --database or set "
               "STEWARD_DATABASE (the bench/ drivers do)\n", name);
      return FALSE;
    }
  return TRUE;
}

void
bench_run_connect (BenchRun *run, const char *table)
{
  g_autoptr (GError) error = NULL;
  const char *params[] = { table };

  run->tag = g_strdup_printf ("%" G_GINT64_MODIFIER "x", g_get_real_time ());
  run->bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (run->bus == NULL)
    bench_die ("cannot reach the session bus: %s", error->message);
  bench_wait_for_daemon (run->bus, run->daemon_pid);
  run->db = bench_db_connect (run);
  if (bench_db_int (run->db, "SELECT count(*) FROM pg_tables"
                             " WHERE tablename = $1", 1, params) != 1)
    bench_die ("the database has no %s table: is it the daemon's?", table);
}

void
bench_run_clear (BenchRun *run)
{
  g_clear_pointer (&run->db, PQfinish);
  g_clear_object (&run->bus);
  g_clear_pointer (&run->tag, g_free);
  g_clear_pointer (&run->database, g_free);
}

/* Messages ------------------------------------------------------------------- */

static void
vmessage (const char *format, va_list ap)
{
  fprintf (stderr, "%s: ", g_get_prgname () ? g_get_prgname () : "bench");
  vfprintf (stderr, format, ap);
  fputc ('\n', stderr);
  fflush (stderr);
}

void
bench_die (const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  vmessage (format, ap);
  va_end (ap);
  exit (1);
}

void
bench_note (const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  vmessage (format, ap);
  va_end (ap);
}

double
bench_seconds_since (gint64 mono_start)
{
  return (g_get_monotonic_time () - mono_start) / 1e6;
}

/* Values ------------------------------------------------------------------ */

GArray *
bench_values_new (void)
{
  return g_array_new (FALSE, FALSE, sizeof (double));
}

void
bench_values_add (GArray *values, double value)
{
  if (!isnan (value))
    g_array_append_val (values, value);
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

BenchSummary
bench_summarize (GArray *values)
{
  BenchSummary s = { 0 };
  double *v = (double *) (void *) values->data;
  double sum = 0;

  s.n = values->len;
  if (s.n == 0)
    {
      s.p50 = s.p95 = s.p99 = s.max = s.mean = NAN;
      return s;
    }
  qsort (v, s.n, sizeof (double), compare_double);
#define RANK(p)                                                               \
  v[MIN (s.n - 1, (guint) MAX (0.0, ceil ((p) / 100.0 * s.n) - 1))]
  s.p50 = RANK (50);
  s.p95 = RANK (95);
  s.p99 = RANK (99);
#undef RANK
  s.max = v[s.n - 1];
  for (guint i = 0; i < s.n; i++)
    sum += v[i];
  s.mean = sum / s.n;
  return s;
}

/* Formats ------------------------------------------------------------------ */

char *
bench_fmt_ms (double ms)
{
  if (isnan (ms))
    return g_strdup ("n/a");
  if (ms < 1)
    return g_strdup_printf ("%.3f ms", ms);
  if (ms < 100)
    return g_strdup_printf ("%.2f ms", ms);
  return g_strdup_printf ("%.0f ms", ms);
}

char *
bench_labelled_ms (const char *label, double ms)
{
  g_autofree char *value = bench_fmt_ms (ms);

  return g_strdup_printf ("%s %s", label, value);
}

char *
bench_fmt_rate (double per_second, const char *unit)
{
  if (isnan (per_second))
    return g_strdup ("n/a");
  if (per_second >= 100)
    return g_strdup_printf ("%.0f %s/s", per_second, unit);
  return g_strdup_printf ("%.1f %s/s", per_second, unit);
}

char *
bench_fmt_ratio (double ours, double limit)
{
  if (isnan (ours) || isnan (limit) || limit <= 0)
    return g_strdup ("n/a");
  if (ours / limit >= 10)
    return g_strdup_printf ("%.0f×", ours / limit);
  return g_strdup_printf ("%.2f×", ours / limit);
}

const char *
bench_verdict (gboolean pass)
{
  return pass ? "PASS" : "MISS";
}

/* The figures table ----------------------------------------------------------- */

/* Summary lines of the table being printed, for bench_table_end. */
static GPtrArray *summary_lines;

void
bench_table_begin (void)
{
  printf ("| figure | ours | limit measured | ratio | goal |\n");
  printf ("|---|---|---|---|---|\n");
}

void
bench_row (const char *figure, char *ours, char *limit, char *ratio,
           const char *goal, const char *verdict)
{
  g_autofree char *cell = NULL;

  if (goal != NULL && *goal != '\0' && verdict != NULL)
    cell = g_strdup_printf ("%s: **%s**", goal, verdict);
  else
    cell = g_strdup (goal ? goal : "");
  printf ("| %s | %s | %s | %s | %s |\n", figure, ours, limit, ratio, cell);
  if (verdict != NULL)
    {
      if (summary_lines == NULL)
        summary_lines = g_ptr_array_new_with_free_func (g_free);
      g_ptr_array_add (summary_lines, g_strdup_printf (
          "<!-- bench-summary: %s | %s | %s | %s | %s | %s -->", figure, ours,
          limit, ratio, goal ? goal : "", verdict));
    }
  g_free (ours);
  g_free (limit);
  g_free (ratio);
}

void
bench_table_end (void)
{
  printf ("\n");
  if (summary_lines == NULL || summary_lines->len == 0)
    return;
  /* After the blank line: inside the table, a comment would end it. */
  for (guint i = 0; i < summary_lines->len; i++)
    printf ("%s\n", (const char *) g_ptr_array_index (summary_lines, i));
  printf ("\n");
  g_ptr_array_set_size (summary_lines, 0);
}

void
bench_percentile_row (const char *what, GArray *values)
{
  BenchSummary s = bench_summarize (values);
  g_autofree char *p50 = bench_fmt_ms (s.p50);
  g_autofree char *p95 = bench_fmt_ms (s.p95);
  g_autofree char *p99 = bench_fmt_ms (s.p99);
  g_autofree char *max = bench_fmt_ms (s.max);

  printf ("| %s | %s | %s | %s | %s |\n", what, p50, p95, p99, max);
}

/* The database --------------------------------------------------------------- */

PGconn *
bench_db_connect (const BenchRun *run)
{
  const char *keys[] = { "dbname", "application_name", "options", NULL };
  const char *values[] = { run->database, g_get_prgname (),
                           "-c TimeZone=UTC -c client_min_messages=warning",
                           NULL };
  PGconn *conn = PQconnectdbParams (keys, values, 1);

  if (PQstatus (conn) != CONNECTION_OK)
    bench_die ("cannot connect to the database (%s): %s", run->database,
               PQerrorMessage (conn));
  return conn;
}

PGresult *
bench_db_exec (PGconn *conn, const char *sql, int n_params,
               const char *const *params)
{
  PGresult *res = PQexecParams (conn, sql, n_params, NULL, params, NULL, NULL,
                                0);
  ExecStatusType status = PQresultStatus (res);

  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
    bench_die ("%s\n  failed: %s", sql, PQerrorMessage (conn));
  return res;
}

gint64
bench_db_int (PGconn *conn, const char *sql, int n_params,
              const char *const *params)
{
  PGresult *res = bench_db_exec (conn, sql, n_params, params);
  gint64 value = 0;

  if (PQntuples (res) > 0 && !PQgetisnull (res, 0, 0))
    value = g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10);
  PQclear (res);
  return value;
}

double
bench_value_double (PGresult *res, int row, int col)
{
  if (PQgetisnull (res, row, col))
    return NAN;
  return g_ascii_strtod (PQgetvalue (res, row, col), NULL);
}

/* CPU and memory --------------------------------------------------------------- */

/* utime + stime of @pid in clock ticks, and its parent; -1 when gone. With
 * @reaped, also the time of its children that ended and were waited for
 * (cutime + cstime): the backends that a postmaster outlived, the programs
 * this one ran. */
static gint64
proc_ticks (const char *pid, int *ppid, gboolean reaped)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", pid);
  g_autofree char *text = NULL;
  const char *p;
  unsigned long long utime = 0, stime = 0;
  long long cutime = 0, cstime = 0;
  int parent = 0;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  /* The command name may hold spaces: fields are counted after ')'. */
  p = strrchr (text, ')');
  if (p == NULL
      || sscanf (p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu"
                 " %lld %lld", &parent, &utime, &stime, &cutime, &cstime) != 5)
    return -1;
  if (ppid != NULL)
    *ppid = parent;
  return (gint64) (utime + stime) + (reaped ? cutime + cstime : 0);
}

static gint64
pid_ticks (int pid)
{
  char text[32];

  if (pid <= 0)
    return -1;
  g_snprintf (text, sizeof text, "%d", pid);
  return proc_ticks (text, NULL, FALSE);
}

/* The postmaster and its children (backends, background workers), those
 * running and those gone. */
static gint64
postgres_ticks (int pg_pid)
{
  g_autoptr (GDir) dir = NULL;
  char pid[32];
  const char *name;
  gint64 sum;

  g_snprintf (pid, sizeof pid, "%d", pg_pid);
  if (pg_pid <= 0 || (sum = proc_ticks (pid, NULL, TRUE)) < 0)
    return -1;
  dir = g_dir_open ("/proc", 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      int ppid = 0;
      gint64 ticks;

      if (!g_ascii_isdigit (name[0]))
        continue;
      ticks = proc_ticks (name, &ppid, FALSE);
      if (ticks >= 0 && ppid == pg_pid)
        sum += ticks;
    }
  return sum;
}

BenchCpuMark
bench_cpu_mark (const BenchRun *run)
{
  BenchCpuMark m = { .daemon = pid_ticks (run->daemon_pid),
                     .postgres = postgres_ticks (run->pg_pid),
                     .bus = pid_ticks (run->bus_pid),
                     .bench = proc_ticks ("self", NULL, TRUE),
                     .mono = g_get_monotonic_time (),
                     .real = g_get_real_time () };
  g_autofree char *text = NULL;
  unsigned long long v[8] = { 0 };

  if (g_file_get_contents ("/proc/stat", &text, NULL, NULL)
      && sscanf (text, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                 &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8)
    {
      for (int i = 0; i < 8; i++)
        m.total += (gint64) v[i];
      m.busy = m.total - (gint64) (v[3] + v[4]); /* idle, iowait */
    }
  return m;
}

BenchCpuUse
bench_cpu_between (const BenchCpuMark *a, const BenchCpuMark *b)
{
  double seconds = (b->mono - a->mono) / 1e6;
  double hz = (double) sysconf (_SC_CLK_TCK);
  double ncpu = (double) sysconf (_SC_NPROCESSORS_ONLN);
  BenchCpuUse u;

#define CORES(field) \
  ((a->field < 0 || b->field < 0 || seconds <= 0) \
       ? NAN : (b->field - a->field) / hz / seconds)
  u.daemon = CORES (daemon);
  u.postgres = CORES (postgres);
  u.bus = CORES (bus);
  u.bench = CORES (bench);
#undef CORES
  u.machine = b->total > a->total ? ncpu * (double) (b->busy - a->busy)
                                        / (double) (b->total - a->total)
                                  : NAN;
  u.seconds = seconds;
  u.others = MAX (0.0, u.machine - bench_cpu_ours (&u));
  return u;
}

double
bench_cpu_ours (const BenchCpuUse *u)
{
  const double parts[] = { u->daemon, u->postgres, u->bus, u->bench };
  double ours = 0;

  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    if (!isnan (parts[i]))
      ours += parts[i];
  return ours;
}

static void
cpu_row (const char *what, const BenchCpuUse *uses, guint n, gsize offset)
{
  printf ("| %s |", what);
  for (guint i = 0; i < n; i++)
    {
      double cores = G_STRUCT_MEMBER (double, &uses[i], offset);

      if (isnan (cores))
        printf (" n/a |");
      else
        printf (" %.2f |", cores);
    }
  printf ("\n");
}

void
bench_cpu_table (const char *const *phases, const BenchCpuUse *uses, guint n)
{
  g_autofree char *self = g_strdup (g_get_prgname ());

  printf ("CPU, in cores of %ld (1.00 = one core busy all the time):\n\n",
          sysconf (_SC_NPROCESSORS_ONLN));
  printf ("| process |");
  for (guint i = 0; i < n; i++)
    printf (" %s |", phases[i]);
  printf ("\n|---|");
  for (guint i = 0; i < n; i++)
    printf ("---|");
  printf ("\n");
  cpu_row ("stewardd", uses, n, G_STRUCT_OFFSET (BenchCpuUse, daemon));
  cpu_row ("PostgreSQL (this run's cluster)", uses, n,
           G_STRUCT_OFFSET (BenchCpuUse, postgres));
  cpu_row ("dbus-daemon (private bus)", uses, n,
           G_STRUCT_OFFSET (BenchCpuUse, bus));
  cpu_row (self, uses, n, G_STRUCT_OFFSET (BenchCpuUse, bench));
  cpu_row ("everything else on the machine", uses, n,
           G_STRUCT_OFFSET (BenchCpuUse, others));
  cpu_row ("machine total", uses, n, G_STRUCT_OFFSET (BenchCpuUse, machine));
  printf ("\n");
}

double
bench_status_kib (int pid, const char *field)
{
  g_autofree char *path = NULL, *text = NULL;
  const char *line;

  if (pid <= 0)
    return NAN;
  path = g_strdup_printf ("/proc/%d/status", pid);
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NAN;
  line = strstr (text, field);
  if (line == NULL)
    return NAN;
  return g_ascii_strtod (line + strlen (field) + 1, NULL);
}

/* The machine ------------------------------------------------------------------ */

char *
bench_machine_description (void)
{
  g_autofree char *cpuinfo = NULL;
  g_autofree char *model = NULL;
  struct utsname u;

  if (g_file_get_contents ("/proc/cpuinfo", &cpuinfo, NULL, NULL))
    {
      const char *line = strstr (cpuinfo, "model name");
      const char *colon = line ? strchr (line, ':') : NULL;
      if (colon != NULL)
        model = g_strstrip (g_strndup (colon + 1, strcspn (colon + 1, "\n")));
    }
  uname (&u);
  return g_strdup_printf ("%ld CPUs (%s), Linux %s",
                          sysconf (_SC_NPROCESSORS_ONLN),
                          model ? model : "unknown CPU", u.release);
}

char *
bench_load_average (void)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) fields = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return g_strdup ("n/a");
  fields = g_strsplit (text, " ", 4);
  if (g_strv_length (fields) < 3)
    return g_strdup ("n/a");
  return g_strdup_printf ("%s/%s/%s", fields[0], fields[1], fields[2]);
}

char *
bench_now_text (void)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();

  return g_date_time_format (now, "%Y-%m-%d %H:%M UTC");
}

/* The daemon ----------------------------------------------------------------- */

static gboolean
name_has_owner (GDBusConnection *bus)
{
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
      bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
      "org.freedesktop.DBus", "NameHasOwner",
      g_variant_new ("(s)", BENCH_BUS_NAME), G_VARIANT_TYPE ("(b)"),
      G_DBUS_CALL_FLAGS_NONE, 2000, NULL, NULL);
  gboolean owned = FALSE;

  if (reply != NULL)
    g_variant_get (reply, "(b)", &owned);
  return owned;
}

void
bench_wait_for_daemon (GDBusConnection *bus, int daemon_pid)
{
  gint64 start = g_get_monotonic_time ();

  while (!name_has_owner (bus))
    {
      if (daemon_pid > 0 && kill (daemon_pid, 0) != 0)
        bench_die ("stewardd (pid %d) is gone", daemon_pid);
      if (bench_seconds_since (start) > 30)
        bench_die ("%s did not appear on the bus within 30 s", BENCH_BUS_NAME);
      g_usleep (20 * 1000);
    }
}

GVariant *
bench_call_sync (GDBusConnection *bus, const char *interface,
                 const char *method, GVariant *params, const char *reply_type)
{
  g_autoptr (GError) error = NULL;
  GVariant *reply = g_dbus_connection_call_sync (
      bus, BENCH_BUS_NAME, BENCH_OBJECT_PATH, interface, method, params,
      reply_type ? G_VARIANT_TYPE (reply_type) : NULL, G_DBUS_CALL_FLAGS_NONE,
      BENCH_CALL_TIMEOUT_MS, NULL, &error);

  if (reply == NULL)
    bench_die ("%s.%s: %s", interface, method, error->message);
  return reply;
}

double
bench_ping_once (GDBusConnection *bus)
{
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (GVariant) reply = bench_call_sync (
      bus, "org.freedesktop.DBus.Peer", "Ping", NULL, NULL);

  return (g_get_monotonic_time () - t0) / 1000.0;
}

BenchSummary
bench_ping_run (GDBusConnection *bus, int pings)
{
  g_autoptr (GArray) values = bench_values_new ();

  for (int i = 0; i < pings; i++)
    bench_values_add (values, bench_ping_once (bus));
  return bench_summarize (values);
}

/* Customers ------------------------------------------------------------------ */

typedef struct {
  GDBusConnection *bus;
  const char *tag;
  int n;
  char **ids;
  gint next;
  gint failed;
} CreateWork;

char *
bench_customer_ref (const char *tag, int i)
{
  return g_strdup_printf ("bench-%s-%d", tag, i);
}

static gpointer
create_customers_thread (gpointer data)
{
  CreateWork *work = data;
  gint i;

  while ((i = g_atomic_int_add (&work->next, 1)) < work->n)
    {
      g_autofree char *name = g_strdup_printf ("Bench Customer %d", i);
      g_autofree char *ref = bench_customer_ref (work->tag, i);
      g_autofree char *email = g_strdup_printf ("bench-%s-%d@example.com",
                                                work->tag, i);
      GVariantBuilder fields;
      g_autoptr (GVariant) reply = NULL, record = NULL;
      g_autoptr (GError) error = NULL;
      gint64 id = 0;

      g_variant_builder_init (&fields, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&fields, "{sv}", "name",
                             g_variant_new_string (name));
      g_variant_builder_add (&fields, "{sv}", "ref",
                             g_variant_new_string (ref));
      g_variant_builder_add (&fields, "{sv}", "email",
                             g_variant_new_string (email));
      g_variant_builder_add (&fields, "{sv}", "locale",
                             g_variant_new_string ("en"));
      reply = g_dbus_connection_call_sync (
          work->bus, BENCH_BUS_NAME, BENCH_OBJECT_PATH, BENCH_CUSTOMERS_IFACE,
          "Create", g_variant_new ("(a{sv})", &fields),
          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
          BENCH_CALL_TIMEOUT_MS, NULL, &error);
      if (reply == NULL)
        {
          if (g_atomic_int_add (&work->failed, 1) == 0)
            bench_note ("Customers.Create: %s", error->message);
          continue;
        }
      record = g_variant_get_child_value (reply, 0);
      g_variant_lookup (record, "id", "x", &id);
      work->ids[i] = g_strdup_printf ("%" G_GINT64_FORMAT, id);
    }
  return NULL;
}

char **
bench_create_customers (GDBusConnection *bus, int n, const char *tag)
{
  CreateWork work = { .bus = bus, .tag = tag, .n = n };
  GThread *threads[8];
  gint64 start = g_get_monotonic_time ();

  work.ids = g_new0 (char *, n + 1);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("create", create_customers_thread, &work);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  if (work.failed > 0)
    bench_die ("%d of %d customers could not be created", work.failed, n);
  bench_note ("created %d customers in %.1f s", n, bench_seconds_since (start));
  return work.ids;
}
