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

#include "bench-util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define THANK_YOU_SCRIPT "thank-you"
#define GOAL_P99_MS 100.0
/* Open loop, but not without bound: past this many unanswered calls the
 * sender waits (and the report says it fell behind). */
#define MAX_IN_FLIGHT 20000
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
  gboolean statements;
  gboolean quick;
  BenchRun run;
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

/* From opt.run, once connected. */
static GDBusConnection *bus;
static const char *run_tag;   /* makes keys unique to this run */
static char **customer_ids;   /* "123", as RecordEvent takes them */

/* The database ----------------------------------------------------------- */

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
       * the count, for the progress bench_note, reads the whole backlog. */
      gboolean busy = bench_db_int (db, "SELECT (EXISTS (SELECT FROM care_jobs"
                                  "  WHERE state = 'pending'"
                                  "    AND due_at <= now())"
                                  " OR EXISTS (SELECT FROM messages"
                                  "  WHERE state IN ('pending', 'retry')"
                                  "    AND due_at <= now()))::int", 0, NULL);
      gboolean late = bench_seconds_since (start) > opt.drain_timeout;

      if (!busy)
        return;
      if (late || g_get_monotonic_time () - last_note > 5 * G_USEC_PER_SEC)
        {
          gint64 jobs = bench_db_int (db, "SELECT count(*) FROM care_jobs"
                                    " WHERE state = 'pending'"
                                    "   AND due_at <= now()", 0, NULL);
          gint64 messages = bench_db_int (db, "SELECT count(*) FROM messages"
                                        " WHERE state IN ('pending', 'retry')"
                                        "   AND due_at <= now()", 0, NULL);
          if (late)
            bench_die ("%s: %" G_GINT64_FORMAT
                       " care jobs and %" G_GINT64_FORMAT
                       " messages still due after %d s",
                       phase, jobs, messages, opt.drain_timeout);
          bench_note ("%s: %" G_GINT64_FORMAT " care jobs and %" G_GINT64_FORMAT
                " messages due", phase, jobs, messages);
          last_note = g_get_monotonic_time ();
        }
      g_usleep (20 * 1000);
    }
}

/* The daemon --------------------------------------------------------------- */

/* The scripts loaded must make exactly one job (thank-you) per purchase,
 * or the figures mean something else. */
static void
check_scripts (void)
{
  g_autoptr (GVariant) reply = bench_call_sync (
      bus, "org.steward.Steward1.Scripts", "List", NULL, "(aa{sv})");
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
            bench_die ("script %s is %s", THANK_YOU_SCRIPT, state);
          if (delay != 0)
            bench_die ("script %s has a delay of %" G_GINT64_FORMAT " s; the "
                 "benchmark needs it to run at once", THANK_YOU_SCRIPT, delay);
          found = TRUE;
        }
    }
  if (!found)
    bench_die ("the daemon has no %s script loaded; bench/triggers gives it "
         "scripts/thank_you.lua only", THANK_YOU_SCRIPT);
  if (on_purchase != 1)
    bench_note (
        "warning: %u scripts react to purchase, not only %s: each event "
        "makes %u jobs",
        on_purchase, THANK_YOU_SCRIPT, on_purchase);
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
  GArray *marks;      /* BenchCpuMark at the start and every WINDOW_SECONDS */
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
        bench_note ("RecordEvent: %s", error->message);
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
  g_dbus_connection_call (
      bus, BENCH_BUS_NAME, BENCH_OBJECT_PATH, BENCH_CUSTOMERS_IFACE,
      "RecordEvent",
      g_variant_new ("(ss@a{sv})", customer_ids[i % opt.customers], "purchase",
                     g_variant_builder_end (&data)),
      G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
      BENCH_CALL_TIMEOUT_MS, NULL, record_event_done, sample);
}

/* Every millisecond: send every call whose time has come. A late tick
 * sends the calls it owes at once, so the offered rate holds on average. */
static gboolean
steady_tick (gpointer data)
{
  Steady *steady = data;
  gint64 now = g_get_monotonic_time ();
  double elapsed = (now - steady->start_mono) / 1e6;
  guint due
      = (guint) MIN ((double) steady->n, floor (elapsed * steady->rate) + 1);

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
  BenchCpuMark mark = bench_cpu_mark (&opt.run);

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
  steady->marks = g_array_new (FALSE, FALSE, sizeof (BenchCpuMark));

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

  lat->enqueue = bench_values_new ();
  lat->committed = bench_values_new ();
  lat->end_to_end = bench_values_new ();
  lat->record_tx = bench_values_new ();
  lat->queued = bench_values_new ();
  lat->care_tx = bench_values_new ();
  lat->call = bench_values_new ();
  lat->windows = g_array_new (FALSE, TRUE, sizeof (GArray *));
  for (guint w = 0; w < n_windows; w++)
    {
      GArray *values = bench_values_new ();
      g_array_append_val (lat->windows, values);
    }
  lat->commit_ts = bench_db_int (db, "SELECT (current_setting("
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
  res = bench_db_exec (db, sql, 1, params);
  lat->messages = PQntuples (res);
  lat->first_job = G_MAXDOUBLE;
  lat->jobs_in_window = g_new0 (guint, steady->marks->len + 1);
  lat->last_job = 0;
  for (guint r = 0; r < lat->messages; r++)
    {
      guint i = (guint) g_ascii_strtoull (PQgetvalue (res, r, 0), NULL, 10);
      double recorded = bench_value_double (res, r, 1);
      double created = bench_value_double (res, r, 2);
      double event_commit = bench_value_double (res, r, 3);
      double message_commit = bench_value_double (res, r, 4);
      double enqueue = (created - recorded) / 1000;
      Sample *sample;
      guint window;

      if (i >= steady->n)
        continue;
      sample = &steady->samples[i];
      bench_values_add (lat->enqueue, enqueue);
      for (guint w = 0; w + 1 < steady->marks->len; w++)
        if (created >= g_array_index (steady->marks, BenchCpuMark, w).real
            && created
                   < g_array_index (steady->marks, BenchCpuMark, w + 1).real)
          lat->jobs_in_window[w]++;
      lat->first_job = MIN (lat->first_job, created);
      lat->last_job = MAX (lat->last_job, created);
      window = (guint) ((sample->send_mono - steady->start_mono) / 1e6
                        / WINDOW_SECONDS);
      if (window < n_windows)
        bench_values_add (g_array_index (lat->windows, GArray *, window),
                          enqueue);
      bench_values_add (lat->committed, (message_commit - recorded) / 1000);
      bench_values_add (lat->end_to_end,
                        (message_commit - (double) sample->send_real) / 1000);
      bench_values_add (lat->record_tx, (event_commit - recorded) / 1000);
      bench_values_add (lat->queued, (created - event_commit) / 1000);
      bench_values_add (lat->care_tx, (message_commit - created) / 1000);
    }
  PQclear (res);
  lat->failed_jobs = (guint) bench_db_int (
      db, "SELECT count(*) FROM care_jobs j JOIN events e"
          "    ON e.customer_id = j.customer_id AND e.id = j.event_id"
          " WHERE e.idem_key LIKE $1 AND j.state <> 'done'", 1, params);
  for (guint i = 0; i < steady->n; i++)
    if (steady->samples[i].ok)
      bench_values_add (lat->call, (steady->samples[i].reply_mono
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
          bus, BENCH_BUS_NAME, BENCH_OBJECT_PATH, BENCH_CUSTOMERS_IFACE,
          "RecordEvents", g_variant_new ("(aa{sv})", &events),
          G_VARIANT_TYPE ("(aa{sv})"), G_DBUS_CALL_FLAGS_NONE,
          BENCH_CALL_TIMEOUT_MS, NULL, &error);
      if (reply == NULL)
        {
          if (g_atomic_int_add (&c->failed, 1) == 0)
            bench_note ("RecordEvents: %s", error->message);
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
  BenchCpuUse drain_cpu;
} CeilingResult;

static CeilingResult
ceiling_run (PGconn *db)
{
  Ceiling c = { .min_id = G_MAXINT64 };
  CeilingResult r = { 0 };
  GThread **threads = g_new0 (GThread *, opt.senders);
  gint64 start_mono, end_real;
  BenchCpuMark before, after;
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
  r.ingest_seconds = bench_seconds_since (start_mono);
  if (c.failed > 0 || c.recorded == 0)
    bench_die ("%d RecordEvents batches failed", c.failed);
  r.ingest_rate = c.recorded / r.ingest_seconds;
  bench_note ("ceiling: %u events recorded in %.1f s (%.0f/s); waiting for the "
        "care workers", c.recorded, r.ingest_seconds, r.ingest_rate);
  before = bench_cpu_mark (&opt.run);
  wait_drained (db, "ceiling");
  after = bench_cpu_mark (&opt.run);
  r.drain_cpu = bench_cpu_between (&before, &after);

  lo = g_strdup_printf ("%" G_GINT64_FORMAT, c.min_id);
  hi = g_strdup_printf ("%" G_GINT64_FORMAT, c.max_id);
  end_text = g_strdup_printf ("%.6f", end_real / 1e6);
  res = bench_db_exec (
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
  r.overall_rate
      = r.jobs > 1 ? (r.jobs - 1) / bench_value_double (res, 0, 2) : NAN;
  r.drain_jobs = (guint) g_ascii_strtoull (PQgetvalue (res, 0, 3), NULL, 10);
  r.drain_rate = r.drain_jobs > 100
                     ? (r.drain_jobs - 1) / bench_value_double (res, 0, 4)
                     : NAN;
  PQclear (res);
  return r;
}

/* Phase 3: the limits ------------------------------------------------------ */

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
  PGconn *conn = bench_db_connect (&opt.run);
  PGresult *res = PQprepare (
      conn, "bare",
      "INSERT INTO bench_bare_messages (customer_id, id, key, channel, script,"
      " template, locale, recipient, subject, body, data)"
      " VALUES ($1, $2, $3, 'email', '" THANK_YOU_SCRIPT "', 'thank_you',"
      " 'en', 'bench@example.com', 'Thank you for your order', $4,"
      " '{\"amount\": 42}')",
      4, NULL);

  if (PQresultStatus (res) != PGRES_COMMAND_OK)
    bench_die ("prepare: %s", PQerrorMessage (conn));
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
        bench_die ("bare INSERT: %s", PQerrorMessage (conn));
      PQclear (res);
      bench_values_add (b->latencies, (g_get_monotonic_time () - t0) / 1000.0);
    }
  PQfinish (conn);
  return NULL;
}

typedef struct {
  double rate;        /* rows (= transactions) per second, all connections */
  BenchSummary latency;    /* of one INSERT + commit */
} BareResult;

static BareResult
bare_insert_run (PGconn *db)
{
  int n = MAX (opt.care_workers, 1);
  BareInsert *workers = g_new0 (BareInsert, n);
  GThread **threads = g_new0 (GThread *, n);
  g_autoptr (GArray) all = bench_values_new ();
  BareResult r;
  gint64 start = g_get_monotonic_time ();
  guint rows = 0;

  PQclear (
      bench_db_exec (db, "DROP TABLE IF EXISTS bench_bare_messages", 0, NULL));
  /* Same columns, defaults, checks and indexes as the outbox; no foreign
   * key. Ids come from the client, so messages' sequence is left alone. */
  PQclear (bench_db_exec (db, "CREATE TABLE bench_bare_messages"
                        " (LIKE messages INCLUDING ALL)", 0, NULL));
  PQclear (bench_db_exec (db, "ALTER TABLE bench_bare_messages"
                        " ALTER COLUMN id DROP DEFAULT", 0, NULL));
  for (int i = 0; i < n; i++)
    {
      workers[i].worker = i;
      workers[i].deadline_mono = start + opt.bare_seconds * G_USEC_PER_SEC;
      workers[i].latencies = bench_values_new ();
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
  r.rate = rows / bench_seconds_since (start);
  r.latency = bench_summarize (all);
  PQclear (bench_db_exec (db, "DROP TABLE bench_bare_messages", 0, NULL));
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

  PQclear (
      bench_db_exec (db, "DROP TABLE IF EXISTS bench_bare_events", 0, NULL));
  PQclear (bench_db_exec (db,
                          "CREATE TABLE bench_bare_events"
                          " (LIKE events INCLUDING ALL)",
                          0, NULL));
  PQclear (bench_db_exec (db, "ALTER TABLE bench_bare_events"
                        " ALTER COLUMN id DROP DEFAULT", 0, NULL));
  start = g_get_monotonic_time ();
  res = PQexec (db, "COPY bench_bare_events (customer_id, id, kind,"
                    " occurred_at, amount, idem_key) FROM STDIN");
  if (PQresultStatus (res) != PGRES_COPY_IN)
    bench_die ("COPY: %s", PQerrorMessage (db));
  PQclear (res);
  for (int i = 0; i < rows; i++)
    {
      g_string_append_printf (buffer, "%d\t%d\tpurchase\t2026-01-01 00:00:%02d"
                              "+00\t%d\tcopy:%d\n", i % 1000 + 1, i + 1,
                              i % 60, 10 + i % 90, i);
      if (buffer->len > 65536 || i == rows - 1)
        {
          if (PQputCopyData (db, buffer->str, (int) buffer->len) != 1)
            bench_die ("COPY: %s", PQerrorMessage (db));
          g_string_truncate (buffer, 0);
        }
    }
  if (PQputCopyEnd (db, NULL) != 1)
    bench_die ("COPY: %s", PQerrorMessage (db));
  res = PQgetResult (db);
  if (PQresultStatus (res) != PGRES_COMMAND_OK)
    bench_die ("COPY: %s", PQerrorMessage (db));
  PQclear (res);
  while ((res = PQgetResult (db)) != NULL)
    PQclear (res);
  {
    double rate = rows / bench_seconds_since (start);
    PQclear (bench_db_exec (db, "DROP TABLE bench_bare_events", 0, NULL));
    return rate;
  }
}

/* The report --------------------------------------------------------------- */

static char *load_at_start;

static void
report (Steady *steady, Latencies *lat, const CeilingResult *ceiling,
        const BenchSummary *ping, const BareResult *bare, double copy_rate,
        const BenchCpuUse *steady_cpu, PGresult *statements, PGresult *tables)
{
  g_autofree char *date = bench_now_text ();
  g_autofree char *machine = bench_machine_description ();
  BenchSummary enq = bench_summarize (lat->enqueue);
  BenchSummary e2e = bench_summarize (lat->end_to_end);
  BenchSummary committed = bench_summarize (lat->committed);
  BenchSummary call = bench_summarize (lat->call);
  guint ok = 0;
  gint64 first_send = G_MAXINT64, last_reply = 0;
  double achieved, ceiling_rate,
      hwm = bench_status_kib (opt.run.daemon_pid, "VmHWM:");
  double rss = bench_status_kib (opt.run.daemon_pid, "VmRSS:");
  g_autofree char *load_now = bench_load_average ();
  g_autofree char *goal = g_strdup_printf ("p99 ≤ %.0f ms", GOAL_P99_MS);
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
  ceiling_rate = isnan (ceiling->drain_rate) ? ceiling->overall_rate
                                             : ceiling->drain_rate;

  printf ("## Trigger latency and throughput\n\n");
  printf ("%s; %s. Steady: %u RecordEvent purchase calls offered at %d/s "
          "for %d s over %d customers (after a %d s warm-up); ceiling: %d "
          "events in RecordEvents batches of %d from %d senders; care "
          "workers %d.\n\n", date, machine, steady->n, opt.rate, opt.duration,
          opt.customers, opt.warmup, opt.ceiling_events, opt.batch,
          opt.senders, opt.care_workers);

  bench_table_begin ();
  bench_row ("event → message enqueued p50", bench_fmt_ms (enq.p50),
             bench_labelled_ms ("bare INSERT p50", bare->latency.p50),
             bench_fmt_ratio (enq.p50, bare->latency.p50), NULL, NULL);
  bench_row ("event → message enqueued p95", bench_fmt_ms (enq.p95),
             bench_labelled_ms ("bare INSERT p95", bare->latency.p95),
             bench_fmt_ratio (enq.p95, bare->latency.p95), NULL, NULL);
  bench_row ("event → message enqueued p99", bench_fmt_ms (enq.p99),
             bench_labelled_ms ("bare INSERT p99", bare->latency.p99),
             bench_fmt_ratio (enq.p99, bare->latency.p99), goal,
             bench_verdict (enq.n && enq.p99 <= GOAL_P99_MS));
  bench_row ("event → message enqueued max", bench_fmt_ms (enq.max),
             bench_labelled_ms ("bare INSERT max", bare->latency.max),
             bench_fmt_ratio (enq.max, bare->latency.max), NULL, NULL);
  bench_row ("event → message committed p99 (strict)",
             bench_fmt_ms (committed.p99),
             bench_labelled_ms ("bare INSERT p99", bare->latency.p99),
             bench_fmt_ratio (committed.p99, bare->latency.p99), strict_goal,
             NULL);
  bench_row ("client send → message committed p99",
             lat->commit_ts ? bench_fmt_ms (e2e.p99) : g_strdup ("n/a"),
             bench_labelled_ms ("Peer.Ping p99", ping->p99),
             lat->commit_ts ? bench_fmt_ratio (e2e.p99, ping->p99)
                            : g_strdup ("n/a"), NULL, NULL);
  bench_row ("RecordEvent round trip p50", bench_fmt_ms (call.p50),
             bench_labelled_ms ("Peer.Ping p50", ping->p50),
             bench_fmt_ratio (call.p50, ping->p50), NULL, NULL);
  bench_row ("RecordEvent round trip p99", bench_fmt_ms (call.p99),
             bench_labelled_ms ("Peer.Ping p99", ping->p99),
             bench_fmt_ratio (call.p99, ping->p99), NULL, NULL);
  /* Kept up: every call answered, and the last reply came no later than
   * 1 % of the run after the schedule's end. */
  bench_row ("RecordEvent rate achieved", bench_fmt_rate (achieved, "events"),
             bench_fmt_rate (opt.rate, "offered events"),
             bench_fmt_ratio (achieved, opt.rate), rate_goal,
             bench_verdict (steady->errors == 0 && ok == steady->n
                            && achieved >= 0.99 * opt.rate));
  bench_row ("trigger throughput ceiling (drain)",
             bench_fmt_rate (ceiling_rate, "jobs"),
             g_strdup_printf ("bare INSERT %.0f rows/s (%d conn.)", bare->rate,
                              MAX (opt.care_workers, 1)),
             bench_fmt_ratio (ceiling_rate, bare->rate), ceiling_goal,
             bench_verdict (ceiling_rate >= opt.rate));
  bench_row ("RecordEvents ingest",
             bench_fmt_rate (ceiling->ingest_rate, "events"),
             g_strdup_printf ("COPY %.0f rows/s", copy_rate),
             bench_fmt_ratio (ceiling->ingest_rate, copy_rate), NULL, NULL);
  bench_row ("stewardd peak RSS (VmHWM)",
             isnan (hwm) ? g_strdup ("n/a")
                         : g_strdup_printf ("%.1f MiB", hwm / 1024),
             g_strdup ("—"), g_strdup ("—"), NULL, NULL);
  bench_table_end ();

  printf (
      "Where the steady phase's time goes (per event; server clocks%s):\n\n",
      lat->commit_ts ? ", commit times from track_commit_timestamp" : "");
  printf ("| stretch | p50 | p95 | p99 | max |\n|---|---|---|---|---|\n");
  bench_percentile_row ("event → message enqueued (created_at − recorded_at)",
                        lat->enqueue);
  if (lat->commit_ts)
    {
      bench_percentile_row ("RecordEvent transaction (begin → commit)",
                            lat->record_tx);
      bench_percentile_row (
          "queued (event committed → care transaction begins)", lat->queued);
      bench_percentile_row ("care transaction (begin → message committed)",
                            lat->care_tx);
      bench_percentile_row ("event → message committed (recorded_at → commit)",
                            lat->committed);
      bench_percentile_row ("client send → message committed",
                            lat->end_to_end);
    }
  bench_percentile_row ("RecordEvent round trip (client)", lat->call);
  printf ("\n");

  printf ("Event → message enqueued over time (by send time):\n\n");
  printf ("| seconds | events | p50 | p99 | max | jobs run | CPU per job run, "
          "this run | cores, this run | cores, others |\n"
          "|---|---|---|---|---|---|---|---|---|\n");
  for (guint w = 0; w < lat->windows->len; w++)
    {
      GArray *values = g_array_index (lat->windows, GArray *, w);
      BenchSummary s = bench_summarize (values);
      g_autofree char *p50 = NULL, *p99 = NULL, *max = NULL;

      if (s.n == 0)
        continue;
      p50 = bench_fmt_ms (s.p50);
      p99 = bench_fmt_ms (s.p99);
      max = bench_fmt_ms (s.max);
      printf ("| %u–%u | %u | %s | %s | %s |", w * WINDOW_SECONDS,
              (w + 1) * WINDOW_SECONDS, s.n, p50, p99, max);
      if (w + 1 < steady->marks->len)
        {
          BenchCpuUse u = bench_cpu_between (
              &g_array_index (steady->marks, BenchCpuMark, w),
              &g_array_index (steady->marks, BenchCpuMark, w + 1));
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

  {
    const char *phases[] = { "steady phase, until drained", "ceiling drain" };
    const BenchCpuUse uses[] = { *steady_cpu, ceiling->drain_cpu };

    bench_cpu_table (phases, uses, G_N_ELEMENTS (uses));
  }
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
          double calls = bench_value_double (statements, r, 0);
          g_autofree char *mean
              = bench_fmt_ms (bench_value_double (statements, r, 1));
          g_autofree char *total
              = bench_fmt_ms (bench_value_double (statements, r, 2));
          g_auto (GStrv) parts
              = g_strsplit (PQgetvalue (statements, r, 3), "|", -1);
          g_autofree char *query = g_strjoinv ("\\|", parts);

          printf ("| %.0f | %.2f | %s | %s | `%s` |\n", calls,
                  calls / steady->n, mean, total, query);
        }
      printf ("\n");
    }

  printf ("Other observations: %u of %u events answered (%u errors), %u "
          "thank-you messages, %u jobs not done; during the steady phase "
          "the care workers ran %.0f jobs/s (first to last job); the sender "
          "was at most %.1f ms behind schedule with at most %u calls in "
          "flight. Ceiling: %u jobs, %.0f jobs/s from first to last "
          "(ingest running), %u of them after the last batch was in, %s. Peer.Ping p50/p99 "
          "%.3f/%.3f ms over %d pings. stewardd RSS at the end %.1f MiB. "
          "Load average at the start %s, at the end %s.\n",
          ok, steady->n, steady->errors, lat->messages, lat->failed_jobs,
          lat->messages > 1
              ? (lat->messages - 1) * 1e6 / (lat->last_job - lat->first_job)
              : NAN,
          steady->max_lag_us / 1000.0, steady->max_in_flight, ceiling->jobs,
          ceiling->overall_rate, ceiling->drain_jobs,
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
    { "statements", 0, 0, G_OPTION_ARG_NONE, &opt.statements,
      "Show the steady phase's statements (needs pg_stat_statements "
      "preloaded: bench/triggers --statements)", NULL },
    { NULL }
  };
  gboolean duration_set, rate_set, ceiling_set;
  PGconn *db;
  Steady *warm, *steady;
  Latencies *lat;
  CeilingResult ceiling;
  BenchSummary ping;
  BareResult bare;
  double copy_rate;
  BenchCpuUse steady_cpu;
  PGresult *statements = NULL, *tables = NULL;
  int status;
  BenchCpuMark before, after;

  opt.duration = -1, opt.rate = -1, opt.ceiling_events = -1;
  if (!bench_parse_options (&opt.run, "bench-triggers",
                            "trigger latency and throughput", entries, &argc,
                            &argv))
    return 2;
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

  bench_run_connect (&opt.run, "care_jobs");
  bus = opt.run.bus;
  run_tag = opt.run.tag;
  db = opt.run.db;
  check_scripts ();
  customer_ids = bench_create_customers (bus, opt.customers, run_tag);

  if (opt.warmup > 0)
    {
      bench_note ("warm-up: %d s at %d/s", opt.warmup, opt.rate);
      warm = steady_run ("warm", opt.rate, opt.warmup);
      steady_free (warm);
      wait_drained (db, "warm-up");
    }

  if (opt.statements)
    {
      PQclear (bench_db_exec (db, "CREATE EXTENSION IF NOT EXISTS "
                            "pg_stat_statements", 0, NULL));
      PQclear (
          bench_db_exec (db, "SELECT pg_stat_statements_reset()", 0, NULL));
    }
  bench_note ("steady: %d s at %d/s", opt.duration, opt.rate);
  load_at_start = bench_load_average ();
  before = bench_cpu_mark (&opt.run);
  steady = steady_run ("steady", opt.rate, opt.duration);
  bench_note (
      "steady: %u calls answered (%u errors); waiting for the care workers",
      steady->replied, steady->errors);
  wait_drained (db, "steady");
  after = bench_cpu_mark (&opt.run);
  steady_cpu = bench_cpu_between (&before, &after);
  if (opt.statements)
    statements = bench_db_exec (
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
        "%.6f", g_array_index (steady->marks, BenchCpuMark, 0).real / 1e6);
    tables = bench_db_exec (
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
    bench_note (
        "warning: %u events answered, %u messages found, %u jobs not done",
        steady->n - steady->errors, lat->messages, lat->failed_jobs);

  bench_note ("ceiling: %d events in batches of %d", opt.ceiling_events,
              opt.batch);
  ceiling = ceiling_run (db);

  bench_note ("limits: %d Peer.Ping, %d s of bare INSERTs, COPY", opt.pings,
              opt.bare_seconds);
  ping = bench_ping_run (bus, opt.pings);
  bare = bare_insert_run (db);
  copy_rate = bare_copy_run (db);

  report (steady, lat, &ceiling, &ping, &bare, copy_rate, &steady_cpu,
          statements, tables);
  if (statements != NULL)
    PQclear (statements);
  PQclear (tables);
  status = steady->errors > 0 || lat->messages == 0 ? 1 : 0;
  latencies_free (lat);
  steady_free (steady);
  g_strfreev (customer_ids);
  g_free (load_at_start);
  bench_run_clear (&opt.run);
  return status;
}
