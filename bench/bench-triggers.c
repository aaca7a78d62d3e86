/* bench-triggers — how fast does a recorded event become a queued message?
 *
 * A D-Bus client of a running stewardd (run it through bench/triggers,
 * which starts a private cluster, bus and daemon). Phases:
 *
 *   1. steady: RecordEvent purchase at a paced rate (open loop: each call is
 *      sent at its scheduled time whatever the replies do), then wait until
 *      every job has run and every message is delivered, and read the
 *      latencies from the database (server clocks only);
 *   2. ceiling: RecordEvents batches as fast as they go, then how fast the
 *      care workers drain the jobs;
 *   3. limits, measured in the same run on the same machine: Peer.Ping on
 *      the daemon, bare single-row INSERTs and COPY into bare tables of the
 *      same shape as messages and events.
 *
 * The report is Markdown on stdout; progress goes to stderr. The
 * goal (p99 <= 100 ms) is printed as PASS or MISS; a miss is a finding, not
 * a failure: the exit status is non-zero only when the benchmark itself
 * could not run (no daemon, no database, lost events). */

#include <gio/gio.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#define BUS_NAME "org.steward.Steward1"
#define OBJECT_PATH "/org/steward/Steward1"
#define CUSTOMERS_IFACE "org.steward.Steward1.Customers"
#define THANK_YOU_SCRIPT "thank-you"
#define GOAL_P99_MS 100.0
/* Open loop, but not without bound: past this many unanswered calls the
 * sender waits (and the report says it fell behind). */
#define MAX_IN_FLIGHT 20000
#define CALL_TIMEOUT_MS 120000
/* The steady phase is also reported window by window. */
#define WINDOW_SECONDS 10

typedef struct {
  int duration;
  int rate;
  int warmup;
  int customers;
  int ceiling_events;
  int batch;
  int senders;
  int pings;
  int bare_seconds;
  int care_workers;
  int drain_timeout;
  int daemon_pid;
  int pg_pid;
  int bus_pid;
  gboolean statements;
  gboolean quick;
  char *database;
} Options;

static Options opt = {
  .duration = 60,
  .rate = 1000,
  .warmup = 2,
  .customers = 1000,
  .ceiling_events = 20000,
  .batch = 500,
  .senders = 2,
  .pings = 2000,
  .bare_seconds = 5,
  .care_workers = 2,
  .drain_timeout = 600,
};

static GDBusConnection *bus;
static char *run_tag;         /* makes keys unique to this run */
static char **customer_ids;   /* "123", as RecordEvent takes them */

/* Small helpers ---------------------------------------------------------- */

static void G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN
die (const char *format, ...)
{
  va_list ap;

  fputs ("bench-triggers: ", stderr);
  va_start (ap, format);
  vfprintf (stderr, format, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (1);
}

static void G_GNUC_PRINTF (1, 2)
note (const char *format, ...)
{
  va_list ap;

  fputs ("bench-triggers: ", stderr);
  va_start (ap, format);
  vfprintf (stderr, format, ap);
  va_end (ap);
  fputc ('\n', stderr);
  fflush (stderr);
}

static double
seconds_since (gint64 mono_start)
{
  return (g_get_monotonic_time () - mono_start) / 1e6;
}

/* Summaries of a set of values (milliseconds or rates). */
typedef struct {
  guint n;
  double p50, p95, p99, max, mean;
} Summary;

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* Nearest-rank percentiles; sorts @values. */
static Summary
summarize (GArray *values)
{
  Summary s = { 0 };
  double *v = (double *) (void *) values->data;
  double sum = 0;

  s.n = values->len;
  if (s.n == 0)
    return s;
  qsort (v, s.n, sizeof (double), compare_double);
#define RANK(p) v[MIN (s.n - 1, (guint) MAX (0.0, ceil ((p) / 100.0 * s.n) - 1))]
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

static char *
fmt_ms (double ms)
{
  if (isnan (ms))
    return g_strdup ("n/a");
  if (ms < 1)
    return g_strdup_printf ("%.3f ms", ms);
  if (ms < 100)
    return g_strdup_printf ("%.2f ms", ms);
  return g_strdup_printf ("%.0f ms", ms);
}

/* "LABEL 1.23 ms" */
static char *
labelled_ms (const char *label, double ms)
{
  g_autofree char *value = fmt_ms (ms);

  return g_strdup_printf ("%s %s", label, value);
}

static char *
fmt_rate (double per_second, const char *unit)
{
  if (isnan (per_second))
    return g_strdup ("n/a");
  if (per_second >= 100)
    return g_strdup_printf ("%.0f %s/s", per_second, unit);
  return g_strdup_printf ("%.1f %s/s", per_second, unit);
}

static char *
fmt_ratio (double ours, double limit)
{
  if (isnan (ours) || isnan (limit) || limit <= 0)
    return g_strdup ("n/a");
  if (ours / limit >= 10)
    return g_strdup_printf ("%.0f×", ours / limit);
  return g_strdup_printf ("%.2f×", ours / limit);
}

/* The database ----------------------------------------------------------- */

static PGconn *
db_connect (void)
{
  const char *keys[] = { "dbname", "application_name", "options", NULL };
  const char *values[] = { opt.database, "bench-triggers", "-c TimeZone=UTC -c client_min_messages=warning",
                           NULL };
  PGconn *conn = PQconnectdbParams (keys, values, 1);

  if (PQstatus (conn) != CONNECTION_OK)
    die ("cannot connect to the database (%s): %s", opt.database,
         PQerrorMessage (conn));
  return conn;
}

static PGresult *
db_exec (PGconn *conn, const char *sql, int n_params,
         const char *const *params)
{
  PGresult *res = PQexecParams (conn, sql, n_params, NULL, params, NULL, NULL,
                                0);
  ExecStatusType status = PQresultStatus (res);

  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
    die ("%s\n  failed: %s", sql, PQerrorMessage (conn));
  return res;
}

static gint64
db_int (PGconn *conn, const char *sql, int n_params, const char *const *params)
{
  PGresult *res = db_exec (conn, sql, n_params, params);
  gint64 value = 0;

  if (PQntuples (res) > 0 && !PQgetisnull (res, 0, 0))
    value = g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10);
  PQclear (res);
  return value;
}

static double
value_double (PGresult *res, int row, int col)
{
  if (PQgetisnull (res, row, col))
    return NAN;
  return g_ascii_strtod (PQgetvalue (res, row, col), NULL);
}

/* Waits until no care job is due any more (every triggered script ran and
 * committed its messages with its job) and the outbox is delivered. */
static void
wait_drained (PGconn *db, const char *phase)
{
  gint64 start = g_get_monotonic_time ();
  gint64 last_note = start;

  for (;;)
    {
      /* The outbox too, so that the delivery of a phase's messages is
       * counted in that phase's CPU time. EXISTS reads one index entry;
       * the count, for the progress note, reads the whole backlog. */
      gboolean busy = db_int (db, "SELECT (EXISTS (SELECT FROM care_jobs"
                                  "  WHERE state = 'pending'"
                                  "    AND due_at <= now())"
                                  " OR EXISTS (SELECT FROM messages"
                                  "  WHERE state IN ('pending', 'retry')"
                                  "    AND due_at <= now()))::int", 0, NULL);
      gboolean late = seconds_since (start) > opt.drain_timeout;

      if (!busy)
        return;
      if (late || g_get_monotonic_time () - last_note > 5 * G_USEC_PER_SEC)
        {
          gint64 jobs = db_int (db, "SELECT count(*) FROM care_jobs"
                                    " WHERE state = 'pending'"
                                    "   AND due_at <= now()", 0, NULL);
          gint64 messages = db_int (db, "SELECT count(*) FROM messages"
                                        " WHERE state IN ('pending', 'retry')"
                                        "   AND due_at <= now()", 0, NULL);
          if (late)
            die ("%s: %" G_GINT64_FORMAT " care jobs and %" G_GINT64_FORMAT
                 " messages still due after %d s", phase, jobs, messages,
                 opt.drain_timeout);
          note ("%s: %" G_GINT64_FORMAT " care jobs and %" G_GINT64_FORMAT
                " messages due", phase, jobs, messages);
          last_note = g_get_monotonic_time ();
        }
      g_usleep (20 * 1000);
    }
}

/* CPU use: ours, process by process, and the machine's ---------------------- */

/* Who used the CPU between two marks, in cores (1.0 = one core busy the
 * whole time). The machine is shared: "others" is what the processes of
 * this run do not account for. */
typedef struct {
  double daemon, postgres, bus, bench, others, machine;
  double seconds;
} CpuUse;

typedef struct {
  gint64 daemon, postgres, bus, bench; /* clock ticks, -1 when unknown */
  gint64 busy, total;                  /* /proc/stat, all CPUs */
  gint64 mono;
  gint64 real;                         /* to compare with server times */
} CpuMark;

/* utime + stime of @pid in clock ticks, and its parent; -1 when gone. */
static gint64
proc_ticks (const char *pid, int *ppid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", pid);
  g_autofree char *text = NULL;
  const char *p;
  unsigned long long utime = 0, stime = 0;
  int parent = 0;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  /* The command name may hold spaces: fields are counted after ')'. */
  p = strrchr (text, ')');
  if (p == NULL
      || sscanf (p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                 &parent, &utime, &stime) != 3)
    return -1;
  if (ppid != NULL)
    *ppid = parent;
  return (gint64) (utime + stime);
}

static gint64
pid_ticks (int pid)
{
  char text[32];

  if (pid <= 0)
    return -1;
  g_snprintf (text, sizeof text, "%d", pid);
  return proc_ticks (text, NULL);
}

/* The postmaster and its children (backends, background workers). */
static gint64
postgres_ticks (void)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;
  gint64 sum;

  if (opt.pg_pid <= 0 || (sum = pid_ticks (opt.pg_pid)) < 0)
    return -1;
  dir = g_dir_open ("/proc", 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      int ppid = 0;
      gint64 ticks;

      if (!g_ascii_isdigit (name[0]))
        continue;
      ticks = proc_ticks (name, &ppid);
      if (ticks >= 0 && ppid == opt.pg_pid)
        sum += ticks;
    }
  return sum;
}

static CpuMark
cpu_mark (void)
{
  CpuMark m = { .daemon = pid_ticks (opt.daemon_pid),
                .postgres = postgres_ticks (),
                .bus = pid_ticks (opt.bus_pid),
                .bench = proc_ticks ("self", NULL),
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

static CpuUse
cpu_between (const CpuMark *a, const CpuMark *b)
{
  double seconds = (b->mono - a->mono) / 1e6;
  double hz = (double) sysconf (_SC_CLK_TCK);
  double ncpu = (double) sysconf (_SC_NPROCESSORS_ONLN);
  CpuUse u;
  double ours = 0;

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
  for (const double *x = &u.daemon; x <= &u.bench; x++)
    if (!isnan (*x))
      ours += *x;
  u.others = MAX (0.0, u.machine - ours);
  u.seconds = seconds;
  return u;
}

static double
daemon_status_kib (const char *field)
{
  g_autofree char *path = NULL, *text = NULL;
  const char *line;

  if (opt.daemon_pid <= 0)
    return NAN;
  path = g_strdup_printf ("/proc/%d/status", opt.daemon_pid);
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NAN;
  line = strstr (text, field);
  if (line == NULL)
    return NAN;
  return g_ascii_strtod (line + strlen (field) + 1, NULL);
}

/* The daemon --------------------------------------------------------------- */

static gboolean
name_has_owner (void)
{
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
      bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
      "org.freedesktop.DBus", "NameHasOwner", g_variant_new ("(s)", BUS_NAME),
      G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, 2000, NULL, NULL);
  gboolean owned = FALSE;

  if (reply != NULL)
    g_variant_get (reply, "(b)", &owned);
  return owned;
}

static void
wait_for_daemon (void)
{
  gint64 start = g_get_monotonic_time ();

  while (!name_has_owner ())
    {
      if (opt.daemon_pid > 0 && kill (opt.daemon_pid, 0) != 0)
        die ("stewardd (pid %d) is gone", opt.daemon_pid);
      if (seconds_since (start) > 30)
        die ("%s did not appear on the bus within 30 s", BUS_NAME);
      g_usleep (20 * 1000);
    }
}

static GVariant *
call_sync (const char *interface, const char *method, GVariant *params,
           const char *reply_type)
{
  g_autoptr (GError) error = NULL;
  GVariant *reply = g_dbus_connection_call_sync (
      bus, BUS_NAME, OBJECT_PATH, interface, method, params,
      reply_type ? G_VARIANT_TYPE (reply_type) : NULL, G_DBUS_CALL_FLAGS_NONE,
      CALL_TIMEOUT_MS, NULL, &error);

  if (reply == NULL)
    die ("%s.%s: %s", interface, method, error->message);
  return reply;
}

/* The scripts loaded must make exactly one job (thank-you) per purchase,
 * or the figures mean something else. */
static void
check_scripts (void)
{
  g_autoptr (GVariant) reply = call_sync ("org.steward.Steward1.Scripts",
                                          "List", NULL, "(aa{sv})");
  g_autoptr (GVariant) list = g_variant_get_child_value (reply, 0);
  gboolean found = FALSE;
  guint on_purchase = 0;

  for (gsize i = 0; i < g_variant_n_children (list); i++)
    {
      g_autoptr (GVariant) script = g_variant_get_child_value (list, i);
      const char *name = "", *state = "";
      g_autofree const char **on = NULL;
      gint64 delay = 0;

      g_variant_lookup (script, "name", "&s", &name);
      g_variant_lookup (script, "state", "&s", &state);
      g_variant_lookup (script, "on", "^a&s", &on);
      g_variant_lookup (script, "delay", "x", &delay);
      if (on != NULL && g_strv_contains (on, "purchase"))
        on_purchase++;
      if (g_str_equal (name, THANK_YOU_SCRIPT))
        {
          if (!g_str_equal (state, "ok"))
            die ("script %s is %s", THANK_YOU_SCRIPT, state);
          if (delay != 0)
            die ("script %s has a delay of %" G_GINT64_FORMAT " s; the "
                 "benchmark needs it to run at once", THANK_YOU_SCRIPT, delay);
          found = TRUE;
        }
    }
  if (!found)
    die ("the daemon has no %s script loaded; bench/triggers gives it "
         "scripts/thank_you.lua only", THANK_YOU_SCRIPT);
  if (on_purchase != 1)
    note ("warning: %u scripts react to purchase, not only %s: each event "
          "makes %u jobs", on_purchase, THANK_YOU_SCRIPT, on_purchase);
}

/* Customers ------------------------------------------------------------- */

typedef struct {
  gint next;
  gint failed;
} CreateWork;

static gpointer
create_customers_thread (gpointer data)
{
  CreateWork *work = data;
  gint i;

  while ((i = g_atomic_int_add (&work->next, 1)) < opt.customers)
    {
      g_autofree char *name = g_strdup_printf ("Bench Customer %d", i);
      g_autofree char *ref = g_strdup_printf ("bench-%s-%d", run_tag, i);
      g_autofree char *email = g_strdup_printf ("bench-%s-%d@example.com",
                                                run_tag, i);
      GVariantBuilder fields;
      g_autoptr (GVariant) reply = NULL, record = NULL;
      g_autoptr (GError) error = NULL;
      gint64 id = 0;

      g_variant_builder_init (&fields, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&fields, "{sv}", "name", g_variant_new_string (name));
      g_variant_builder_add (&fields, "{sv}", "ref", g_variant_new_string (ref));
      g_variant_builder_add (&fields, "{sv}", "email",
                             g_variant_new_string (email));
      g_variant_builder_add (&fields, "{sv}", "locale",
                             g_variant_new_string ("en"));
      reply = g_dbus_connection_call_sync (
          bus, BUS_NAME, OBJECT_PATH, CUSTOMERS_IFACE, "Create",
          g_variant_new ("(a{sv})", &fields), G_VARIANT_TYPE ("(a{sv})"),
          G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, &error);
      if (reply == NULL)
        {
          if (g_atomic_int_add (&work->failed, 1) == 0)
            note ("Customers.Create: %s", error->message);
          continue;
        }
      record = g_variant_get_child_value (reply, 0);
      g_variant_lookup (record, "id", "x", &id);
      customer_ids[i] = g_strdup_printf ("%" G_GINT64_FORMAT, id);
    }
  return NULL;
}

static void
create_customers (void)
{
  CreateWork work = { 0 };
  GThread *threads[8];
  gint64 start = g_get_monotonic_time ();

  customer_ids = g_new0 (char *, opt.customers + 1);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("create", create_customers_thread, &work);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  if (work.failed > 0)
    die ("%d of %d customers could not be created", work.failed,
         opt.customers);
  note ("created %d customers in %.1f s", opt.customers, seconds_since (start));
}

/* Phase 1: a steady, paced stream of RecordEvent ---------------------------- */

typedef struct _Steady Steady;

typedef struct {
  Steady *steady;
  gint64 send_real;   /* client wall clock, µs: comparable to the server's */
  gint64 send_mono;
  gint64 reply_mono;
  gint64 event_id;
  gboolean ok;
} Sample;

struct _Steady {
  const char *phase;  /* "warm" or "steady": part of every key */
  double rate;
  guint n;
  Sample *samples;
  guint sent, replied, errors;
  gint64 start_mono;
  gint64 max_lag_us;  /* how late the sender was against its schedule */
  guint max_in_flight;
  GMainLoop *loop;
  GArray *marks;      /* CpuMark at the start and every WINDOW_SECONDS */
};

static void
record_event_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Sample *sample = data;
  Steady *steady = sample->steady;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (
      G_DBUS_CONNECTION (source), result, &error);

  sample->reply_mono = g_get_monotonic_time ();
  if (reply == NULL)
    {
      if (steady->errors++ < 5)
        note ("RecordEvent: %s", error->message);
    }
  else
    {
      g_autoptr (GVariant) event = g_variant_get_child_value (reply, 0);
      sample->ok = g_variant_lookup (event, "id", "x", &sample->event_id);
    }
  steady->replied++;
  if (steady->replied == steady->n)
    g_main_loop_quit (steady->loop);
}

static void
send_record_event (Steady *steady, guint i)
{
  Sample *sample = &steady->samples[i];
  GVariantBuilder data;

  g_variant_builder_init (&data, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&data, "{sv}", "amount",
                         g_variant_new_double (10 + i % 90));
  g_variant_builder_add (&data, "{sv}", "key",
                         g_variant_new_take_string (g_strdup_printf (
                             "bench:%s:%s:%u", run_tag, steady->phase, i)));
  sample->steady = steady;
  sample->send_real = g_get_real_time ();
  sample->send_mono = g_get_monotonic_time ();
  g_dbus_connection_call (bus, BUS_NAME, OBJECT_PATH, CUSTOMERS_IFACE,
                          "RecordEvent",
                          g_variant_new ("(ss@a{sv})",
                                         customer_ids[i % opt.customers],
                                         "purchase",
                                         g_variant_builder_end (&data)),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                          CALL_TIMEOUT_MS, NULL, record_event_done, sample);
}

/* Every millisecond: send every call whose time has come. A late tick
 * sends the calls it owes at once, so the offered rate holds on average. */
static gboolean
steady_tick (gpointer data)
{
  Steady *steady = data;
  gint64 now = g_get_monotonic_time ();
  double elapsed = (now - steady->start_mono) / 1e6;
  guint due = (guint) MIN ((double) steady->n, floor (elapsed * steady->rate) + 1);

  while (steady->sent < due)
    {
      guint i = steady->sent;
      gint64 scheduled = steady->start_mono + (gint64) (i * 1e6 / steady->rate);
      guint in_flight = steady->sent - steady->replied;

      if (in_flight >= MAX_IN_FLIGHT)
        break;
      steady->max_in_flight = MAX (steady->max_in_flight, in_flight + 1);
      steady->max_lag_us = MAX (steady->max_lag_us,
                                g_get_monotonic_time () - scheduled);
      send_record_event (steady, i);
      steady->sent++;
    }
  return steady->sent < steady->n ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
steady_window (gpointer data)
{
  Steady *steady = data;
  CpuMark mark = cpu_mark ();

  g_array_append_val (steady->marks, mark);
  return steady->sent < steady->n ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static Steady *
steady_run (const char *phase, double rate, int seconds)
{
  Steady *steady = g_new0 (Steady, 1);
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GSource) tick = g_timeout_source_new (1);
  g_autoptr (GSource) window = g_timeout_source_new (WINDOW_SECONDS * 1000);

  steady->phase = phase;
  steady->rate = rate;
  steady->n = (guint) MAX (1.0, rate * seconds);
  steady->samples = g_new0 (Sample, steady->n);
  steady->loop = g_main_loop_new (context, FALSE);
  steady->marks = g_array_new (FALSE, FALSE, sizeof (CpuMark));

  /* Replies come back to the thread-default context of the caller. */
  g_main_context_push_thread_default (context);
  g_source_set_callback (tick, steady_tick, steady, NULL);
  g_source_attach (tick, context);
  g_source_set_callback (window, steady_window, steady, NULL);
  g_source_attach (window, context);
  steady_window (steady);
  steady->start_mono = g_get_monotonic_time ();
  g_main_loop_run (steady->loop);
  g_source_destroy (tick);
  g_source_destroy (window);
  g_main_context_pop_thread_default (context);
  g_clear_pointer (&steady->loop, g_main_loop_unref);
  return steady;
}

static void
steady_free (Steady *steady)
{
  g_free (steady->samples);
  g_array_unref (steady->marks);
  g_free (steady);
}

/* Latencies of phase 1, from the database ---------------------------------- */

typedef struct {
  GArray *enqueue;     /* messages.created_at - events.recorded_at */
  GArray *committed;   /* events.recorded_at -> message committed */
  GArray *end_to_end;  /* client send -> message committed */
  GArray *record_tx;   /* events.recorded_at -> event committed */
  GArray *queued;      /* event committed -> care transaction began */
  GArray *care_tx;     /* care transaction began -> message committed */
  GArray *call;        /* RecordEvent round trip at the client */
  GArray *windows;     /* one GArray of enqueue latencies per window */
  guint messages;
  guint failed_jobs;
  gboolean commit_ts;
  double first_job, last_job; /* care transactions began, µs */
  guint *jobs_in_window;      /* care transactions begun between marks */
} Latencies;

static GArray *
new_values (void)
{
  return g_array_new (FALSE, FALSE, sizeof (double));
}

static void
add_value (GArray *values, double value)
{
  if (!isnan (value))
    g_array_append_val (values, value);
}

static Latencies *
steady_latencies (PGconn *db, Steady *steady)
{
  Latencies *lat = g_new0 (Latencies, 1);
  g_autofree char *pattern = g_strdup_printf ("bench:%s:%s:%%", run_tag,
                                              steady->phase);
  g_autofree char *sql = NULL;
  const char *params[] = { pattern };
  PGresult *res;
  guint n_windows = (steady->n / MAX (1.0, steady->rate)) / WINDOW_SECONDS + 1;

  lat->enqueue = new_values ();
  lat->committed = new_values ();
  lat->end_to_end = new_values ();
  lat->record_tx = new_values ();
  lat->queued = new_values ();
  lat->care_tx = new_values ();
  lat->call = new_values ();
  lat->windows = g_array_new (FALSE, TRUE, sizeof (GArray *));
  for (guint w = 0; w < n_windows; w++)
    {
      GArray *values = new_values ();
      g_array_append_val (lat->windows, values);
    }
  lat->commit_ts = db_int (db, "SELECT (current_setting("
                               "'track_commit_timestamp') = 'on')::int", 0,
                           NULL) == 1;

  /* All times in µs since the epoch. The job row is updated (finished) in
   * the transaction that inserts the message, so its xmin is that
   * transaction; events rows are never updated, so theirs is RecordEvent's.
   * messages.created_at and care_jobs.finished_at are both now() of the
   * care transaction, i.e. when it began. */
#define US(x) "(extract(epoch FROM " x ") * 1e6)::bigint"
  sql = g_strdup_printf (
      "SELECT substring(e.idem_key from '[0-9]+$')::int,"
      " " US ("e.recorded_at") ", " US ("m.created_at") ", %s, %s"
      "  FROM events e"
      "  JOIN messages m ON m.customer_id = e.customer_id"
      "   AND m.key = 'thanks:' || e.id"
      "  JOIN care_jobs j ON j.customer_id = e.customer_id"
      "   AND j.key = 'event:' || e.id || ':" THANK_YOU_SCRIPT "'"
      " WHERE e.idem_key LIKE $1",
      lat->commit_ts ? US ("pg_xact_commit_timestamp(e.xmin)") : "NULL",
      lat->commit_ts ? US ("pg_xact_commit_timestamp(j.xmin)") : "NULL");
#undef US
  res = db_exec (db, sql, 1, params);
  lat->messages = PQntuples (res);
  lat->first_job = G_MAXDOUBLE;
  lat->jobs_in_window = g_new0 (guint, steady->marks->len + 1);
  lat->last_job = 0;
  for (guint r = 0; r < lat->messages; r++)
    {
      guint i = (guint) g_ascii_strtoull (PQgetvalue (res, r, 0), NULL, 10);
      double recorded = value_double (res, r, 1);
      double created = value_double (res, r, 2);
      double event_commit = value_double (res, r, 3);
      double message_commit = value_double (res, r, 4);
      double enqueue = (created - recorded) / 1000;
      Sample *sample;
      guint window;

      if (i >= steady->n)
        continue;
      sample = &steady->samples[i];
      add_value (lat->enqueue, enqueue);
      for (guint w = 0; w + 1 < steady->marks->len; w++)
        if (created >= g_array_index (steady->marks, CpuMark, w).real
            && created < g_array_index (steady->marks, CpuMark, w + 1).real)
          lat->jobs_in_window[w]++;
      lat->first_job = MIN (lat->first_job, created);
      lat->last_job = MAX (lat->last_job, created);
      window = (guint) ((sample->send_mono - steady->start_mono) / 1e6
                        / WINDOW_SECONDS);
      if (window < n_windows)
        add_value (g_array_index (lat->windows, GArray *, window), enqueue);
      add_value (lat->committed, (message_commit - recorded) / 1000);
      add_value (lat->end_to_end,
                 (message_commit - (double) sample->send_real) / 1000);
      add_value (lat->record_tx, (event_commit - recorded) / 1000);
      add_value (lat->queued, (created - event_commit) / 1000);
      add_value (lat->care_tx, (message_commit - created) / 1000);
    }
  PQclear (res);
  lat->failed_jobs = (guint) db_int (
      db, "SELECT count(*) FROM care_jobs j JOIN events e"
          "    ON e.customer_id = j.customer_id AND e.id = j.event_id"
          " WHERE e.idem_key LIKE $1 AND j.state <> 'done'", 1, params);
  for (guint i = 0; i < steady->n; i++)
    if (steady->samples[i].ok)
      add_value (lat->call, (steady->samples[i].reply_mono
                             - steady->samples[i].send_mono) / 1000.0);
  return lat;
}

static void
latencies_free (Latencies *lat)
{
  g_array_unref (lat->enqueue);
  g_array_unref (lat->committed);
  g_array_unref (lat->end_to_end);
  g_array_unref (lat->record_tx);
  g_array_unref (lat->queued);
  g_array_unref (lat->care_tx);
  g_array_unref (lat->call);
  for (guint w = 0; w < lat->windows->len; w++)
    g_array_unref (g_array_index (lat->windows, GArray *, w));
  g_array_unref (lat->windows);
  g_free (lat->jobs_in_window);
  g_free (lat);
}

/* Phase 2: the ceiling ----------------------------------------------------- */

typedef struct {
  gint next_batch;
  gint n_batches;
  GMutex lock;
  gint64 min_id, max_id;
  guint recorded;
  gint failed;
} Ceiling;

static gpointer
ceiling_sender (gpointer data)
{
  Ceiling *c = data;
  gint b;

  while ((b = g_atomic_int_add (&c->next_batch, 1)) < c->n_batches)
    {
      GVariantBuilder events;
      g_autoptr (GVariant) reply = NULL, results = NULL;
      g_autoptr (GError) error = NULL;
      gint first = b * opt.batch;
      gint last = MIN (opt.ceiling_events, first + opt.batch);
      gint64 lo = G_MAXINT64, hi = 0;

      g_variant_builder_init (&events, G_VARIANT_TYPE ("aa{sv}"));
      for (gint i = first; i < last; i++)
        {
          g_variant_builder_open (&events, G_VARIANT_TYPE_VARDICT);
          g_variant_builder_add (&events, "{sv}", "customer",
                                 g_variant_new_string (
                                     customer_ids[i % opt.customers]));
          g_variant_builder_add (&events, "{sv}", "kind",
                                 g_variant_new_string ("purchase"));
          g_variant_builder_add (&events, "{sv}", "amount",
                                 g_variant_new_double (10 + i % 90));
          g_variant_builder_add (&events, "{sv}", "key",
                                 g_variant_new_take_string (g_strdup_printf (
                                     "bench:%s:ceiling:%d", run_tag, i)));
          g_variant_builder_close (&events);
        }
      reply = g_dbus_connection_call_sync (
          bus, BUS_NAME, OBJECT_PATH, CUSTOMERS_IFACE, "RecordEvents",
          g_variant_new ("(aa{sv})", &events), G_VARIANT_TYPE ("(aa{sv})"),
          G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, &error);
      if (reply == NULL)
        {
          if (g_atomic_int_add (&c->failed, 1) == 0)
            note ("RecordEvents: %s", error->message);
          continue;
        }
      results = g_variant_get_child_value (reply, 0);
      for (gsize k = 0; k < g_variant_n_children (results); k++)
        {
          g_autoptr (GVariant) event = g_variant_get_child_value (results, k);
          gint64 id;

          if (g_variant_lookup (event, "id", "x", &id))
            lo = MIN (lo, id), hi = MAX (hi, id);
        }
      g_mutex_lock (&c->lock);
      c->min_id = MIN (c->min_id, lo);
      c->max_id = MAX (c->max_id, hi);
      c->recorded += g_variant_n_children (results);
      g_mutex_unlock (&c->lock);
    }
  return NULL;
}

typedef struct {
  double ingest_rate;       /* events/s through RecordEvents */
  double ingest_seconds;
  double overall_rate;      /* jobs/s, first to last job of the phase */
  double drain_rate;        /* jobs/s after the last batch was in */
  guint drain_jobs;
  guint jobs, not_done;
  CpuUse drain_cpu;
} CeilingResult;

static CeilingResult
ceiling_run (PGconn *db)
{
  Ceiling c = { .min_id = G_MAXINT64 };
  CeilingResult r = { 0 };
  GThread **threads = g_new0 (GThread *, opt.senders);
  gint64 start_mono, end_real;
  CpuMark before, after;
  g_autofree char *lo = NULL, *hi = NULL, *end_text = NULL;
  PGresult *res;

  c.n_batches = (opt.ceiling_events + opt.batch - 1) / opt.batch;
  g_mutex_init (&c.lock);
  start_mono = g_get_monotonic_time ();
  for (int i = 0; i < opt.senders; i++)
    threads[i] = g_thread_new ("ceiling", ceiling_sender, &c);
  for (int i = 0; i < opt.senders; i++)
    g_thread_join (threads[i]);
  g_free (threads);
  end_real = g_get_real_time ();
  r.ingest_seconds = seconds_since (start_mono);
  if (c.failed > 0 || c.recorded == 0)
    die ("%d RecordEvents batches failed", c.failed);
  r.ingest_rate = c.recorded / r.ingest_seconds;
  note ("ceiling: %u events recorded in %.1f s (%.0f/s); waiting for the "
        "care workers", c.recorded, r.ingest_seconds, r.ingest_rate);
  before = cpu_mark ();
  wait_drained (db, "ceiling");
  after = cpu_mark ();
  r.drain_cpu = cpu_between (&before, &after);

  lo = g_strdup_printf ("%" G_GINT64_FORMAT, c.min_id);
  hi = g_strdup_printf ("%" G_GINT64_FORMAT, c.max_id);
  end_text = g_strdup_printf ("%.6f", end_real / 1e6);
  res = db_exec (
      db,
      "SELECT count(*),"
      "  count(*) FILTER (WHERE state <> 'done'),"
      "  extract(epoch FROM max(finished_at) - min(finished_at)),"
      "  count(*) FILTER (WHERE finished_at > to_timestamp($3::float8)),"
      "  extract(epoch FROM max(finished_at) - min(finished_at)"
      "    FILTER (WHERE finished_at > to_timestamp($3::float8)))"
      "  FROM care_jobs WHERE event_id BETWEEN $1 AND $2"
      "   AND script = '" THANK_YOU_SCRIPT "'",
      3, (const char *[]){ lo, hi, end_text });
  r.jobs = (guint) g_ascii_strtoull (PQgetvalue (res, 0, 0), NULL, 10);
  r.not_done = (guint) g_ascii_strtoull (PQgetvalue (res, 0, 1), NULL, 10);
  r.overall_rate = r.jobs > 1 ? (r.jobs - 1) / value_double (res, 0, 2) : NAN;
  r.drain_jobs = (guint) g_ascii_strtoull (PQgetvalue (res, 0, 3), NULL, 10);
  r.drain_rate = r.drain_jobs > 100 ? (r.drain_jobs - 1) / value_double (res, 0, 4)
                                    : NAN;
  PQclear (res);
  return r;
}

/* Phase 3: the limits ------------------------------------------------------ */

static Summary
ping_run (void)
{
  g_autoptr (GArray) values = new_values ();

  for (int i = 0; i < opt.pings; i++)
    {
      gint64 t0 = g_get_monotonic_time ();
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
          bus, BUS_NAME, OBJECT_PATH, "org.freedesktop.DBus.Peer", "Ping",
          NULL, NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);

      if (reply == NULL)
        die ("Peer.Ping: %s", error->message);
      add_value (values, (g_get_monotonic_time () - t0) / 1000.0);
    }
  return summarize (values);
}

typedef struct {
  int worker;
  gint64 deadline_mono;
  guint rows;
  GArray *latencies;
} BareInsert;

/* Single-row INSERTs, each its own transaction, of a row like a thank-you
 * message: one round trip and one commit each, nothing else. */
static gpointer
bare_insert_thread (gpointer data)
{
  BareInsert *b = data;
  PGconn *conn = db_connect ();
  PGresult *res = PQprepare (
      conn, "bare",
      "INSERT INTO bench_bare_messages (customer_id, id, key, channel, script,"
      " template, locale, recipient, subject, body, data)"
      " VALUES ($1, $2, $3, 'email', '" THANK_YOU_SCRIPT "', 'thank_you',"
      " 'en', 'bench@example.com', 'Thank you for your order', $4,"
      " '{\"amount\": 42}')",
      4, NULL);

  if (PQresultStatus (res) != PGRES_COMMAND_OK)
    die ("prepare: %s", PQerrorMessage (conn));
  PQclear (res);
  while (g_get_monotonic_time () < b->deadline_mono)
    {
      guint n = b->rows++;
      g_autofree char *customer = g_strdup_printf ("%u", n % 1000 + 1);
      g_autofree char *id = g_strdup_printf ("%d%09u", b->worker + 1, n);
      g_autofree char *key = g_strdup_printf ("thanks:%d:%u", b->worker, n);
      const char *params[] = {
        customer, id, key,
        "Hello Bench Customer,\n\nThank you for your purchase of 42. We hope "
        "it serves you well.\n"
      };
      gint64 t0 = g_get_monotonic_time ();

      res = PQexecPrepared (conn, "bare", 4, params, NULL, NULL, 0);
      if (PQresultStatus (res) != PGRES_COMMAND_OK)
        die ("bare INSERT: %s", PQerrorMessage (conn));
      PQclear (res);
      add_value (b->latencies, (g_get_monotonic_time () - t0) / 1000.0);
    }
  PQfinish (conn);
  return NULL;
}

typedef struct {
  double rate;        /* rows (= transactions) per second, all connections */
  Summary latency;    /* of one INSERT + commit */
} BareResult;

static BareResult
bare_insert_run (PGconn *db)
{
  int n = MAX (opt.care_workers, 1);
  BareInsert *workers = g_new0 (BareInsert, n);
  GThread **threads = g_new0 (GThread *, n);
  g_autoptr (GArray) all = new_values ();
  BareResult r;
  gint64 start = g_get_monotonic_time ();
  guint rows = 0;

  PQclear (db_exec (db, "DROP TABLE IF EXISTS bench_bare_messages", 0, NULL));
  /* Same columns, defaults, checks and indexes as the outbox; no foreign
   * key. Ids come from the client, so messages' sequence is left alone. */
  PQclear (db_exec (db, "CREATE TABLE bench_bare_messages"
                        " (LIKE messages INCLUDING ALL)", 0, NULL));
  PQclear (db_exec (db, "ALTER TABLE bench_bare_messages"
                        " ALTER COLUMN id DROP DEFAULT", 0, NULL));
  for (int i = 0; i < n; i++)
    {
      workers[i].worker = i;
      workers[i].deadline_mono = start + opt.bare_seconds * G_USEC_PER_SEC;
      workers[i].latencies = new_values ();
      threads[i] = g_thread_new ("bare", bare_insert_thread, &workers[i]);
    }
  for (int i = 0; i < n; i++)
    {
      g_thread_join (threads[i]);
      rows += workers[i].rows;
      g_array_append_vals (all, workers[i].latencies->data,
                           workers[i].latencies->len);
      g_array_unref (workers[i].latencies);
    }
  r.rate = rows / seconds_since (start);
  r.latency = summarize (all);
  PQclear (db_exec (db, "DROP TABLE bench_bare_messages", 0, NULL));
  g_free (workers);
  g_free (threads);
  return r;
}

/* COPY of as many rows as the ceiling phase recorded into a bare table of
 * the events' shape: the most rows per second PostgreSQL takes here. */
static double
bare_copy_run (PGconn *db)
{
  g_autoptr (GString) buffer = g_string_new (NULL);
  gint64 start;
  PGresult *res;
  int rows = MAX (opt.ceiling_events, 1000);

  PQclear (db_exec (db, "DROP TABLE IF EXISTS bench_bare_events", 0, NULL));
  PQclear (db_exec (db, "CREATE TABLE bench_bare_events"
                        " (LIKE events INCLUDING ALL)", 0, NULL));
  PQclear (db_exec (db, "ALTER TABLE bench_bare_events"
                        " ALTER COLUMN id DROP DEFAULT", 0, NULL));
  start = g_get_monotonic_time ();
  res = PQexec (db, "COPY bench_bare_events (customer_id, id, kind,"
                    " occurred_at, amount, idem_key) FROM STDIN");
  if (PQresultStatus (res) != PGRES_COPY_IN)
    die ("COPY: %s", PQerrorMessage (db));
  PQclear (res);
  for (int i = 0; i < rows; i++)
    {
      g_string_append_printf (buffer, "%d\t%d\tpurchase\t2026-01-01 00:00:%02d"
                              "+00\t%d\tcopy:%d\n", i % 1000 + 1, i + 1,
                              i % 60, 10 + i % 90, i);
      if (buffer->len > 65536 || i == rows - 1)
        {
          if (PQputCopyData (db, buffer->str, (int) buffer->len) != 1)
            die ("COPY: %s", PQerrorMessage (db));
          g_string_truncate (buffer, 0);
        }
    }
  if (PQputCopyEnd (db, NULL) != 1)
    die ("COPY: %s", PQerrorMessage (db));
  res = PQgetResult (db);
  if (PQresultStatus (res) != PGRES_COMMAND_OK)
    die ("COPY: %s", PQerrorMessage (db));
  PQclear (res);
  while ((res = PQgetResult (db)) != NULL)
    PQclear (res);
  {
    double rate = rows / seconds_since (start);
    PQclear (db_exec (db, "DROP TABLE bench_bare_events", 0, NULL));
    return rate;
  }
}

/* The report --------------------------------------------------------------- */

static void
row (const char *figure, char *ours, char *limit, char *ratio,
     const char *goal)
{
  printf ("| %s | %s | %s | %s | %s |\n", figure, ours, limit, ratio, goal);
  g_free (ours);
  g_free (limit);
  g_free (ratio);
}

static char *
machine_description (void)
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
  return g_strdup_printf ("%ld CPUs (%s), Linux %s", sysconf (_SC_NPROCESSORS_ONLN),
                          model ? model : "unknown CPU", u.release);
}

static void
print_summary_row (const char *what, GArray *values)
{
  Summary s = summarize (values);
  g_autofree char *p50 = fmt_ms (s.n ? s.p50 : NAN);
  g_autofree char *p95 = fmt_ms (s.n ? s.p95 : NAN);
  g_autofree char *p99 = fmt_ms (s.n ? s.p99 : NAN);
  g_autofree char *max = fmt_ms (s.n ? s.max : NAN);

  printf ("| %s | %s | %s | %s | %s |\n", what, p50, p95, p99, max);
}

static void
print_cpu_row (const char *what, double steady, double drain)
{
  char a[32] = "n/a", b[32] = "n/a";

  if (!isnan (steady))
    g_snprintf (a, sizeof a, "%.2f", steady);
  if (!isnan (drain))
    g_snprintf (b, sizeof b, "%.2f", drain);
  printf ("| %s | %s | %s |\n", what, a, b);
}

/* The 1, 5 and 15 minute load averages. */
static char *
load_average (void)
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

static char *load_at_start;

static void
report (Steady *steady, Latencies *lat, const CeilingResult *ceiling,
        const Summary *ping, const BareResult *bare, double copy_rate,
        const CpuUse *steady_cpu, PGresult *statements, PGresult *tables)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *date = g_date_time_format (now, "%Y-%m-%d %H:%M UTC");
  g_autofree char *machine = machine_description ();
  Summary enq = summarize (lat->enqueue);
  Summary e2e = summarize (lat->end_to_end);
  Summary committed = summarize (lat->committed);
  Summary call = summarize (lat->call);
  guint ok = 0;
  gint64 first_send = G_MAXINT64, last_reply = 0;
  double achieved, hwm = daemon_status_kib ("VmHWM:");
  double rss = daemon_status_kib ("VmRSS:");
  g_autofree char *load_now = load_average ();
  const char *verdict = enq.n && enq.p99 <= GOAL_P99_MS ? "PASS" : "MISS";
  g_autofree char *goal = g_strdup_printf ("p99 ≤ %.0f ms: **%s**",
                                           GOAL_P99_MS, verdict);
  g_autofree char *strict_goal = g_strdup_printf (
      "(same goal, strict: %s)",
      committed.n == 0 ? "n/a"
      : committed.p99 <= GOAL_P99_MS ? "PASS" : "MISS");
  g_autofree char *rate_goal = g_strdup_printf ("%d/s for %d s", opt.rate,
                                                opt.duration);
  g_autofree char *ceiling_goal = g_strdup_printf ("≥ %d jobs/s (the steady "
                                                   "rate)", opt.rate);

  for (guint i = 0; i < steady->n; i++)
    if (steady->samples[i].ok)
      {
        ok++;
        first_send = MIN (first_send, steady->samples[i].send_mono);
        last_reply = MAX (last_reply, steady->samples[i].reply_mono);
      }
  achieved = ok > 1 ? ok / ((last_reply - first_send) / 1e6) : NAN;

  printf ("## Trigger latency and throughput\n\n");
  printf ("%s; %s. Steady: %u RecordEvent purchase calls offered at %d/s "
          "for %d s over %d customers (after a %d s warm-up); ceiling: %d "
          "events in RecordEvents batches of %d from %d senders; care "
          "workers %d.\n\n", date, machine, steady->n, opt.rate, opt.duration,
          opt.customers, opt.warmup, opt.ceiling_events, opt.batch,
          opt.senders, opt.care_workers);

  printf ("| figure | ours | limit measured | ratio | goal |\n");
  printf ("|---|---|---|---|---|\n");
  row ("event → message enqueued p50", fmt_ms (enq.p50),
       labelled_ms ("bare INSERT p50", bare->latency.p50),
       fmt_ratio (enq.p50, bare->latency.p50), "");
  row ("event → message enqueued p95", fmt_ms (enq.p95),
       labelled_ms ("bare INSERT p95", bare->latency.p95),
       fmt_ratio (enq.p95, bare->latency.p95), "");
  row ("event → message enqueued p99", fmt_ms (enq.p99),
       labelled_ms ("bare INSERT p99", bare->latency.p99),
       fmt_ratio (enq.p99, bare->latency.p99), goal);
  row ("event → message enqueued max", fmt_ms (enq.max),
       labelled_ms ("bare INSERT max", bare->latency.max),
       fmt_ratio (enq.max, bare->latency.max), "");
  row ("event → message committed p99 (strict)",
       committed.n ? fmt_ms (committed.p99) : g_strdup ("n/a"),
       labelled_ms ("bare INSERT p99", bare->latency.p99),
       committed.n ? fmt_ratio (committed.p99, bare->latency.p99)
                   : g_strdup ("n/a"), strict_goal);
  row ("client send → message committed p99",
       lat->commit_ts && e2e.n ? fmt_ms (e2e.p99) : g_strdup ("n/a"),
       labelled_ms ("Peer.Ping p99", ping->p99),
       lat->commit_ts && e2e.n ? fmt_ratio (e2e.p99, ping->p99)
                               : g_strdup ("n/a"), "");
  row ("RecordEvent round trip p50", fmt_ms (call.p50),
       labelled_ms ("Peer.Ping p50", ping->p50),
       fmt_ratio (call.p50, ping->p50), "");
  row ("RecordEvent round trip p99", fmt_ms (call.p99),
       labelled_ms ("Peer.Ping p99", ping->p99),
       fmt_ratio (call.p99, ping->p99), "");
  row ("RecordEvent rate achieved", fmt_rate (achieved, "events"),
       fmt_rate (opt.rate, "offered events"),
       fmt_ratio (achieved, opt.rate), rate_goal);
  row ("trigger throughput ceiling (drain)",
       isnan (ceiling->drain_rate) ? fmt_rate (ceiling->overall_rate, "jobs")
                                   : fmt_rate (ceiling->drain_rate, "jobs"),
       g_strdup_printf ("bare INSERT %.0f rows/s (%d conn.)", bare->rate,
                        MAX (opt.care_workers, 1)),
       fmt_ratio (isnan (ceiling->drain_rate) ? ceiling->overall_rate
                                              : ceiling->drain_rate,
                  bare->rate),
       ceiling_goal);
  row ("RecordEvents ingest", fmt_rate (ceiling->ingest_rate, "events"),
       g_strdup_printf ("COPY %.0f rows/s", copy_rate),
       fmt_ratio (ceiling->ingest_rate, copy_rate), "");
  row ("stewardd peak RSS (VmHWM)",
       isnan (hwm) ? g_strdup ("n/a") : g_strdup_printf ("%.1f MiB", hwm / 1024),
       g_strdup ("—"), g_strdup ("—"), "");
  printf ("\n");

  printf ("Where the steady phase's time goes (per event; server clocks%s):\n\n",
          lat->commit_ts ? ", commit times from track_commit_timestamp" : "");
  printf ("| stretch | p50 | p95 | p99 | max |\n|---|---|---|---|---|\n");
  print_summary_row ("event → message enqueued (created_at − recorded_at)",
                     lat->enqueue);
  if (lat->commit_ts)
    {
      print_summary_row ("RecordEvent transaction (begin → commit)",
                         lat->record_tx);
      print_summary_row ("queued (event committed → care transaction begins)",
                         lat->queued);
      print_summary_row ("care transaction (begin → message committed)",
                         lat->care_tx);
      print_summary_row ("event → message committed (recorded_at → commit)",
                         lat->committed);
      print_summary_row ("client send → message committed", lat->end_to_end);
    }
  print_summary_row ("RecordEvent round trip (client)", lat->call);
  printf ("\n");

  printf ("Event → message enqueued over time (by send time):\n\n");
  printf ("| seconds | events | p50 | p99 | max | jobs run | CPU per job run, "
          "this run | cores, this run | cores, others |\n"
          "|---|---|---|---|---|---|---|---|---|\n");
  for (guint w = 0; w < lat->windows->len; w++)
    {
      GArray *values = g_array_index (lat->windows, GArray *, w);
      Summary s = summarize (values);
      g_autofree char *p50 = NULL, *p99 = NULL, *max = NULL;

      if (s.n == 0)
        continue;
      p50 = fmt_ms (s.p50);
      p99 = fmt_ms (s.p99);
      max = fmt_ms (s.max);
      printf ("| %u–%u | %u | %s | %s | %s |", w * WINDOW_SECONDS,
              (w + 1) * WINDOW_SECONDS, s.n, p50, p99, max);
      if (w + 1 < steady->marks->len)
        {
          CpuUse u = cpu_between (&g_array_index (steady->marks, CpuMark, w),
                                  &g_array_index (steady->marks, CpuMark,
                                                  w + 1));
          double ours = u.daemon + u.postgres + u.bus + u.bench;

          /* The window's CPU time over the jobs run in it: RecordEvent,
           * care and delivery work per event, when the system keeps up. */
          printf (" %u | %.0f µs | %.2f | %.2f |\n", lat->jobs_in_window[w],
                  ours * u.seconds * 1e6 / MAX (1u, lat->jobs_in_window[w]),
                  ours, u.others);
        }
      else
        printf (" | | | |\n");
    }
  printf ("\n");

  printf ("CPU, in cores of %ld (1.00 = one core busy all the time):\n\n",
          sysconf (_SC_NPROCESSORS_ONLN));
  printf ("| process | steady phase, until drained | ceiling drain |\n"
          "|---|---|---|\n");
  print_cpu_row ("stewardd", steady_cpu->daemon, ceiling->drain_cpu.daemon);
  print_cpu_row ("PostgreSQL (this run's cluster)", steady_cpu->postgres,
                 ceiling->drain_cpu.postgres);
  print_cpu_row ("dbus-daemon (private bus)", steady_cpu->bus,
                 ceiling->drain_cpu.bus);
  print_cpu_row ("bench-triggers", steady_cpu->bench,
                 ceiling->drain_cpu.bench);
  print_cpu_row ("everything else on the machine", steady_cpu->others,
                 ceiling->drain_cpu.others);
  print_cpu_row ("machine total", steady_cpu->machine,
                 ceiling->drain_cpu.machine);
  printf ("\n");
  {
    /* What one event costs, whatever the load: the CPU time of this run's
     * processes over the phase, divided by its events. */
    double steady_us = 1e6 * steady_cpu->seconds / MAX (1u, steady->n);
    double drain_us = 1e6 * ceiling->drain_cpu.seconds
                      / MAX (1u, ceiling->drain_jobs);

    printf ("CPU time per event (µs), steady phase (RecordEvent + care + "
            "delivery): stewardd %.0f, PostgreSQL %.0f, dbus-daemon %.0f, "
            "bench %.0f; total %.0f µs, against the %.0f µs that %ld cores "
            "offer each event at %d/s (near that budget the machine is "
            "saturated and this is what it could give, not what an event "
            "needs). Ceiling drain, with a backlog (care + delivery only, "
            "per job): stewardd %.0f, PostgreSQL %.0f.\n\n",
            steady_cpu->daemon * steady_us, steady_cpu->postgres * steady_us,
            steady_cpu->bus * steady_us, steady_cpu->bench * steady_us,
            (steady_cpu->daemon + steady_cpu->postgres + steady_cpu->bus
             + steady_cpu->bench) * steady_us,
            1e6 * sysconf (_SC_NPROCESSORS_ONLN) / opt.rate,
            sysconf (_SC_NPROCESSORS_ONLN), opt.rate,
            ceiling->drain_cpu.daemon * drain_us,
            ceiling->drain_cpu.postgres * drain_us);
  }

  printf ("Tables after the steady phase (all phases so far; autovacuum "
          "times in seconds from the start of the steady phase):\n\n"
          "| table | live rows | dead rows | autovacuums | autoanalyzes | "
          "last autovacuum | last autoanalyze |\n"
          "|---|---|---|---|---|---|---|\n");
  for (int r = 0; r < PQntuples (tables); r++)
    printf ("| %s | %s | %s | %s | %s | %s | %s |\n",
            PQgetvalue (tables, r, 0), PQgetvalue (tables, r, 1),
            PQgetvalue (tables, r, 2), PQgetvalue (tables, r, 3),
            PQgetvalue (tables, r, 4),
            PQgetisnull (tables, r, 5) ? "—" : PQgetvalue (tables, r, 5),
            PQgetisnull (tables, r, 6) ? "—" : PQgetvalue (tables, r, 6));
  printf ("\n");

  if (statements != NULL)
    {
      printf ("Statements in the steady phase (pg_stat_statements, %u events; "
              "server time only, not the round trips):\n\n", steady->n);
      printf ("| calls | per event | mean | total | statement |\n"
              "|---|---|---|---|---|\n");
      for (int r = 0; r < PQntuples (statements); r++)
        {
          double calls = value_double (statements, r, 0);
          g_autofree char *mean = fmt_ms (value_double (statements, r, 1));
          g_autofree char *total = fmt_ms (value_double (statements, r, 2));
          g_auto (GStrv) parts = g_strsplit (PQgetvalue (statements, r, 3),
                                             "|", -1);
          g_autofree char *query = g_strjoinv ("\\|", parts);

          printf ("| %.0f | %.2f | %s | %s | `%s` |\n", calls,
                  calls / steady->n, mean, total, query);
        }
      printf ("\n");
    }

  printf ("Other observations: %u of %u events answered (%u errors), %u "
          "thank-you messages, %u jobs not done; during the steady phase "
          "the care workers ran %.0f jobs/s (first to last job); the sender was at most "
          "%.1f ms behind schedule with at most %u calls in flight. Ceiling: "
          "%u jobs, %.0f jobs/s from first to last (ingest running), %u of "
          "them after the last batch was in, %s. Peer.Ping p50/p99 "
          "%.3f/%.3f ms over %d pings. stewardd RSS at the end %.1f MiB. "
          "Load average at the start %s, at the end %s.\n",
          ok, steady->n, steady->errors, lat->messages, lat->failed_jobs,
          lat->messages > 1 ? (lat->messages - 1) * 1e6
                                  / (lat->last_job - lat->first_job)
                            : NAN,
          steady->max_lag_us / 1000.0, steady->max_in_flight,
          ceiling->jobs, ceiling->overall_rate, ceiling->drain_jobs,
          isnan (ceiling->drain_rate)
              ? "too few for a drain-only rate: the workers kept up with the "
                "ingest, so the ceiling shown is the overall rate (a lower "
                "bound)"
              : "the drain-only rate is the ceiling shown",
          ping->p50, ping->p99, opt.pings, rss / 1024, load_at_start,
          load_now);
}

/* Main ----------------------------------------------------------------------- */

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  const GOptionEntry entries[] = {
    { "duration", 0, 0, G_OPTION_ARG_INT, &opt.duration,
      "Seconds of the steady phase (default 60)", "S" },
    { "rate", 0, 0, G_OPTION_ARG_INT, &opt.rate,
      "RecordEvent calls per second in the steady phase (default 1000)", "R" },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &opt.quick,
      "CI smoke run: 5 s at 200/s, 2,000 ceiling events, short limits", NULL },
    { "warmup", 0, 0, G_OPTION_ARG_INT, &opt.warmup,
      "Seconds of warm-up at the steady rate, not counted (default 2)", "S" },
    { "customers", 0, 0, G_OPTION_ARG_INT, &opt.customers,
      "Customers the events are spread over (default 1000)", "N" },
    { "ceiling-events", 0, 0, G_OPTION_ARG_INT, &opt.ceiling_events,
      "Events recorded for the ceiling phase (default 20000)", "M" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &opt.batch,
      "Events per RecordEvents call (default 500)", "B" },
    { "senders", 0, 0, G_OPTION_ARG_INT, &opt.senders,
      "Concurrent RecordEvents callers (default 2)", "N" },
    { "pings", 0, 0, G_OPTION_ARG_INT, &opt.pings,
      "Peer.Ping round trips for the limit (default 2000)", "N" },
    { "bare-seconds", 0, 0, G_OPTION_ARG_INT, &opt.bare_seconds,
      "Seconds of bare INSERTs for the limit (default 5)", "S" },
    { "care-workers", 0, 0, G_OPTION_ARG_INT, &opt.care_workers,
      "The daemon's care workers: connections for bare INSERTs (default 2)",
      "N" },
    { "drain-timeout", 0, 0, G_OPTION_ARG_INT, &opt.drain_timeout,
      "Give up when jobs are still pending after S seconds (default 600)",
      "S" },
    { "daemon-pid", 0, 0, G_OPTION_ARG_INT, &opt.daemon_pid,
      "stewardd's pid, for its CPU use and peak RSS", "PID" },
    { "pg-pid", 0, 0, G_OPTION_ARG_INT, &opt.pg_pid,
      "The postmaster's pid, for PostgreSQL's CPU use", "PID" },
    { "bus-pid", 0, 0, G_OPTION_ARG_INT, &opt.bus_pid,
      "The dbus-daemon's pid, for its CPU use", "PID" },
    { "statements", 0, 0, G_OPTION_ARG_NONE, &opt.statements,
      "Show the steady phase's statements (needs pg_stat_statements "
      "preloaded: bench/triggers --statements)", NULL },
    { "database", 0, 0, G_OPTION_ARG_STRING, &opt.database,
      "libpq conninfo of the daemon's database (default $STEWARD_DATABASE)",
      "CONNINFO" },
    { NULL }
  };
  gboolean duration_set, rate_set, ceiling_set;
  PGconn *db;
  Steady *warm, *steady;
  Latencies *lat;
  CeilingResult ceiling;
  Summary ping;
  BareResult bare;
  double copy_rate;
  CpuUse steady_cpu;
  PGresult *statements = NULL, *tables = NULL;
  int status;
  CpuMark before, after;

  setvbuf (stdout, NULL, _IOLBF, 0);
  context = g_option_context_new ("- trigger latency and throughput");
  g_option_context_set_summary (
      context, "Drives a running stewardd (on the session bus) and reads its "
               "database. Run it through bench/triggers, which starts all "
               "of it privately.");
  g_option_context_add_main_entries (context, entries, NULL);
  opt.duration = -1, opt.rate = -1, opt.ceiling_events = -1;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "bench-triggers: %s\n", error->message);
      return 2;
    }
  duration_set = opt.duration >= 0;
  rate_set = opt.rate >= 0;
  ceiling_set = opt.ceiling_events >= 0;
  if (!duration_set)
    opt.duration = opt.quick ? 5 : 60;
  if (!rate_set)
    opt.rate = opt.quick ? 200 : 1000;
  if (!ceiling_set)
    opt.ceiling_events = opt.quick ? 2000 : 20000;
  if (opt.quick)
    {
      opt.pings = MIN (opt.pings, 500);
      opt.bare_seconds = MIN (opt.bare_seconds, 2);
      opt.warmup = MIN (opt.warmup, 1);
    }
  if (opt.duration < 1 || opt.rate < 1 || opt.customers < 1
      || opt.ceiling_events < 1 || opt.batch < 1 || opt.senders < 1
      || opt.pings < 1 || opt.bare_seconds < 1 || opt.warmup < 0
      || (double) opt.duration * opt.rate > 1e7)
    {
      fprintf (stderr, "bench-triggers: every count must be at least 1 "
               "(warm-up 0), and duration × rate at most 10,000,000\n");
      return 2;
    }
  if (opt.database == NULL)
    opt.database = g_strdup (g_getenv ("STEWARD_DATABASE"));
  if (opt.database == NULL)
    {
      fprintf (stderr, "bench-triggers: no database: pass --database or set "
               "STEWARD_DATABASE (bench/triggers does)\n");
      return 2;
    }

  run_tag = g_strdup_printf ("%" G_GINT64_MODIFIER "x", g_get_real_time ());
  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (bus == NULL)
    die ("cannot reach the session bus: %s", error->message);
  wait_for_daemon ();
  db = db_connect ();
  if (db_int (db, "SELECT count(*) FROM pg_tables WHERE tablename = "
                  "'care_jobs'", 0, NULL) != 1)
    die ("the database has no care_jobs table: is it the daemon's?");
  check_scripts ();
  create_customers ();

  if (opt.warmup > 0)
    {
      note ("warm-up: %d s at %d/s", opt.warmup, opt.rate);
      warm = steady_run ("warm", opt.rate, opt.warmup);
      steady_free (warm);
      wait_drained (db, "warm-up");
    }

  if (opt.statements)
    {
      PQclear (db_exec (db, "CREATE EXTENSION IF NOT EXISTS "
                            "pg_stat_statements", 0, NULL));
      PQclear (db_exec (db, "SELECT pg_stat_statements_reset()", 0, NULL));
    }
  note ("steady: %d s at %d/s", opt.duration, opt.rate);
  load_at_start = load_average ();
  before = cpu_mark ();
  steady = steady_run ("steady", opt.rate, opt.duration);
  note ("steady: %u calls answered (%u errors); waiting for the care workers",
        steady->replied, steady->errors);
  wait_drained (db, "steady");
  after = cpu_mark ();
  steady_cpu = cpu_between (&before, &after);
  if (opt.statements)
    statements = db_exec (
        db,
        "SELECT calls, mean_exec_time, total_exec_time,"
        "  left(regexp_replace(query, '\\s+', ' ', 'g'), 110)"
        "  FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database"
        "                WHERE datname = current_database())"
        " ORDER BY calls DESC, total_exec_time DESC LIMIT 16", 0, NULL);
  lat = steady_latencies (db, steady);
  {
    /* Autovacuum during the phase: when, relative to its start. */
    g_autofree char *start = g_strdup_printf (
        "%.6f", g_array_index (steady->marks, CpuMark, 0).real / 1e6);
    tables = db_exec (
        db,
        "SELECT relname, n_live_tup, n_dead_tup,"
        "  autovacuum_count, autoanalyze_count,"
        "  round(extract(epoch FROM last_autovacuum"
        "    - to_timestamp($1::float8))::numeric, 1),"
        "  round(extract(epoch FROM last_autoanalyze"
        "    - to_timestamp($1::float8))::numeric, 1)"
        "  FROM pg_stat_user_tables"
        " WHERE relname IN ('events', 'care_jobs', 'messages', 'customers')"
        " ORDER BY relname", 1, (const char *[]){ start });
  }
  if (steady->errors > 0 || lat->messages + lat->failed_jobs
                                < steady->n - steady->errors)
    note ("warning: %u events answered, %u messages found, %u jobs not done",
          steady->n - steady->errors, lat->messages, lat->failed_jobs);

  note ("ceiling: %d events in batches of %d", opt.ceiling_events, opt.batch);
  ceiling = ceiling_run (db);

  note ("limits: %d Peer.Ping, %d s of bare INSERTs, COPY", opt.pings,
        opt.bare_seconds);
  ping = ping_run ();
  bare = bare_insert_run (db);
  copy_rate = bare_copy_run (db);

  report (steady, lat, &ceiling, &ping, &bare, copy_rate, &steady_cpu,
          statements, tables);
  if (statements != NULL)
    PQclear (statements);
  PQclear (tables);
  PQfinish (db);
  status = steady->errors > 0 || lat->messages == 0 ? 1 : 0;
  latencies_free (lat);
  steady_free (steady);
  g_strfreev (customer_ids);
  g_free (run_tag);
  g_free (load_at_start);
  g_free (opt.database);
  g_object_unref (bus);
  return status;
}
