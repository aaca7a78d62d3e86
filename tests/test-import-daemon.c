/* Tests for the bulk import through the real stewardd and stewardctl: the
 * two real data files of ../shared/data checked against figures this file
 * computes itself with its own small parser, the recent window with the
 * shipped scripts, file descriptors the daemon could not open by path, the
 * Progress signal, other calls answered during an import, and the CLI's
 * usage, exit codes and rejects file. */

#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <gio/gunixfdlist.h>
#include <string.h>
#include <unistd.h>

#include "st-service.h"
#include "st-test-util.h"

#define IMPORT_IFACE "org.steward.Steward1.Import"

/* Independent figures --------------------------------------------------------- */

/* The fields of one CSV line, quotes undone (no line breaks in quotes in
 * these files). */
static GPtrArray *
split_line (const char *line)
{
  GPtrArray *fields = g_ptr_array_new_with_free_func (g_free);
  GString *field = g_string_new (NULL);
  gboolean quoted = FALSE;

  for (const char *p = line; *p != '\0'; p++)
    {
      if (quoted && *p == '"' && p[1] == '"')
        g_string_append_c (field, *p++);
      else if (*p == '"')
        quoted = !quoted;
      else if (*p == ',' && !quoted)
        {
          g_ptr_array_add (fields, g_strstrip (g_string_free (field, FALSE)));
          field = g_string_new (NULL);
        }
      else
        g_string_append_c (field, *p);
    }
  g_ptr_array_add (fields, g_strstrip (g_string_free (field, FALSE)));
  return fields;
}

/* The data lines of @path (no byte-order mark, no CR), the header left
 * out. */
static GStrv
data_lines (const char *path)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) lines = NULL;
  GStrvBuilder *builder = g_strv_builder_new ();
  GStrv out;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (g_str_has_prefix (text, "\xEF\xBB\xBF") ? text + 3 : text,
                      "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      g_strdelimit (lines[i], "\r", ' ');
      if (*g_strstrip (lines[i]) != '\0')
        g_strv_builder_add (builder, lines[i]);
    }
  out = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return out;
}

/* "12/1/09 7:45" or "12/1/2010 8:26" → ISO-8601 UTC */
static char *
retail_time (const char *text)
{
  int month, day, year, hour, minute;

  g_assert_cmpint (sscanf (text, "%d/%d/%d %d:%d", &month, &day, &year, &hour,
                           &minute), ==, 5);
  if (year < 100)
    year += 2000;
  return g_strdup_printf ("%04d-%02d-%02dT%02d:%02d:00Z", year, month, day,
                          hour, minute);
}

static char *
whole_ref (const char *text)
{
  return g_str_has_suffix (text, ".0") ? g_strndup (text, strlen (text) - 2)
                                       : g_strdup (text);
}

typedef struct {
  gint64 rows, without_customer, with_customer, customers, events, refunds;
  guint64 first_without_line;
  /* customer 17850, first row of each invoice */
  gint64 sample_purchases, sample_events;
  double sample_revenue;
  char *sample_first, *sample_last;
} Invoices;

static void
invoices_clear (Invoices *f)
{
  g_free (f->sample_first);
  g_free (f->sample_last);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Invoices, invoices_clear)

static void
count_sample (Invoices *f, const char *invoice, const char *at,
              const char *total)
{
  g_autofree char *iso = retail_time (at);

  f->sample_events++;
  if (invoice[0] == 'C')
    {
      f->sample_revenue -= ABS (g_ascii_strtod (total, NULL));
      return;
    }
  f->sample_purchases++;
  f->sample_revenue += g_ascii_strtod (total, NULL);
  if (f->sample_first == NULL || strcmp (iso, f->sample_first) < 0)
    {
      g_free (f->sample_first);
      f->sample_first = g_strdup (iso);
    }
  if (f->sample_last == NULL || strcmp (iso, f->sample_last) > 0)
    {
      g_free (f->sample_last);
      f->sample_last = g_strdup (iso);
    }
}

/* invoice_id, invoice_date, customer_id, …, total_price */
static void
invoice_figures (const char *path, Invoices *f)
{
  g_auto (GStrv) lines = data_lines (path);
  g_autoptr (GHashTable) customers = g_hash_table_new_full (g_str_hash,
                                                            g_str_equal,
                                                            g_free, NULL);
  g_autoptr (GHashTable) keys = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                       g_free, NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr (GPtrArray) r = split_line (lines[i]);
      const char *invoice = r->pdata[0], *customer = r->pdata[2];
      g_autofree char *ref = whole_ref (customer);
      g_autofree char *key = g_strconcat (ref, "/", invoice, NULL);

      f->rows++;
      if (customer[0] == '\0')
        {
          f->without_customer++;
          if (f->first_without_line == 0)
            f->first_without_line = i + 2;
          continue;
        }
      f->with_customer++;
      g_hash_table_add (customers, g_strdup (ref));
      if (!g_hash_table_add (keys, g_steal_pointer (&key)))
        continue; /* the same invoice again: the first row counts */
      f->events++;
      f->refunds += invoice[0] == 'C';
      if (g_str_equal (ref, "17850"))
        count_sample (f, invoice, r->pdata[1], r->pdata[6]);
    }
  f->customers = g_hash_table_size (customers);
}

/* Running stewardctl -------------------------------------------------------- */

static char *
data_path (const char *name)
{
  g_autofree char *dir = st_test_source_path ("../shared/data");

  return g_build_filename (dir, name, NULL);
}

static JsonObject *
ctl_json (StTestDaemon *daemon, const char *const *argv)
{
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  int status = st_test_ctlv (daemon, &out, &err, argv);

  if (status != 0)
    g_error ("stewardctl exited %d: %s", status, err);
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static gint64
member (JsonObject *object, const char *name)
{
  g_assert_true (json_object_has_member (object, name));
  return json_object_get_int_member (object, name);
}

static gint64
db_int (StTestDaemon *daemon, const char *sql)
{
  return st_test_db_query_int (daemon->db, sql);
}

static char *
scripts_yaml (const char *extra)
{
  g_autofree char *scripts = st_test_source_path ("scripts");

  return g_strdup_printf ("scripts: [%s]\n%s", scripts, extra ? extra : "");
}

/* The daemon stopped; its log must hold no sanitizer report or critical. */
static void
stop_and_check (StTestDaemon *daemon)
{
  g_autofree char *log = NULL;

  st_test_daemon_stop_process (daemon);
  if (g_file_get_contents (daemon->log_path, &log, NULL, NULL)
      && st_test_log_has_problem (log))
    g_error ("stewardd reported a problem:\n%s", log);
}

/* The invoices ------------------------------------------------------------------ */

static char *
customers_snapshot (StTestDaemon *daemon)
{
  return st_test_db_query (
      daemon->db,
      "SELECT (SELECT count(*) FROM events) || '/' ||"
      " (SELECT md5(string_agg(concat_ws(',', id, ref, purchase_count,"
      "   revenue, first_purchase_at, last_purchase_at, event_count,"
      "   last_event_at, updated_at), ';' ORDER BY id)) FROM customers)");
}

static void
test_invoices (void)
{
  g_autofree char *yaml = scripts_yaml (NULL);
  g_autoptr (StTestDaemon) daemon = st_test_daemon_start (yaml);
  g_autofree char *path = data_path ("online_retail_II_invoices.csv");
  g_autofree char *rejects = g_build_filename (daemon->dir, "r.csv", NULL);
  const char *argv[] = { "--json", "import", "events", path,
                         "--map", "customer_id=customer",
                         "--map", "invoice_date=at",
                         "--map", "total_price=amount",
                         "--map", "invoice_id=key",
                         "--date-format", "%m/%d/%y %H:%M",
                         "--kind", "purchase", "--kind-if", "refund:invoice_id=C*",
                         "--rejects", rejects, NULL };
  g_auto (Invoices) f = { 0 };
  g_autoptr (JsonObject) first = NULL, again = NULL;
  g_autofree char *text = NULL, *before = NULL, *after = NULL;
  g_autofree char *first_reject = NULL, *sample = NULL;
  g_auto (GStrv) reject_lines = NULL;

  invoice_figures (path, &f);
  /* The figures of shared/data/README.md. */
  g_assert_cmpint (f.rows, ==, 54716);
  g_assert_cmpint (f.without_customer, ==, 8939);
  g_assert_cmpint (f.customers, ==, 5942);

  first = ctl_json (daemon, argv);
  /* The summary in the daemon's order, rejects_file after it. */
  {
    g_autoptr (GList) names = json_object_get_members (first);

    g_assert_cmpstr (g_list_first (names)->data, ==, "kind");
    g_assert_cmpstr (g_list_last (names)->data, ==, "rejects_file");
  }
  g_assert_cmpint (member (first, "rows"), ==, f.rows);
  g_assert_cmpint (member (first, "skipped"), ==, f.without_customer);
  g_assert_cmpint (member (first, "rejected"), ==, 0);
  g_assert_cmpint (member (first, "customers_created"), ==, f.customers);
  g_assert_cmpint (member (first, "new"), ==, f.events);
  /* Invoices the file lists twice (the two years overlap). */
  g_assert_cmpint (member (first, "duplicate"), ==, f.with_customer - f.events);
  /* History, years old: no thank-you, no job at all. */
  g_assert_cmpint (member (first, "jobs"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (first, "rejects_file"), ==,
                   rejects);

  g_assert_cmpint (db_int (daemon, "SELECT count(*) FROM customers"), ==,
                   f.customers);
  g_assert_cmpint (db_int (daemon, "SELECT count(*) FROM events"), ==, f.events);
  g_assert_cmpint (db_int (daemon, "SELECT count(*) FROM events WHERE kind = "
                                   "'refund'"), ==, f.refunds);
  g_assert_cmpint (db_int (daemon, "SELECT count(*) FROM care_jobs"), ==, 0);

  /* One customer's aggregates, against the file. */
  g_assert_cmpint (db_int (daemon, "SELECT purchase_count FROM customers "
                                   "WHERE ref = '17850'"), ==,
                   f.sample_purchases);
  g_assert_cmpint (db_int (daemon, "SELECT event_count FROM customers WHERE "
                                   "ref = '17850'"), ==, f.sample_events);
  sample = st_test_db_query (daemon->db, "SELECT revenue FROM customers WHERE "
                                         "ref = '17850'");
  g_assert_cmpfloat_with_epsilon (g_ascii_strtod (sample, NULL),
                                  f.sample_revenue, 1e-6);
  g_clear_pointer (&sample, g_free);
  sample = st_test_db_query (daemon->db,
                             "SELECT to_char(first_purchase_at AT TIME ZONE "
                             "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || ' ' "
                             "|| to_char(last_purchase_at AT TIME ZONE 'UTC', "
                             "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM customers "
                             "WHERE ref = '17850'");
  text = g_strdup_printf ("%s %s", f.sample_first, f.sample_last);
  g_assert_cmpstr (sample, ==, text);

  /* Every row without a customer is in the rejects file, by line. */
  g_clear_pointer (&text, g_free);
  g_file_get_contents (rejects, &text, NULL, NULL);
  reject_lines = g_strsplit (text, "\n", -1);
  g_assert_cmpint (g_strv_length (reject_lines), ==, f.without_customer + 2);
  first_reject = g_strdup_printf ("%" G_GUINT64_FORMAT ",\"skipped: the row "
                                  "names no customer\"",
                                  f.first_without_line);
  g_assert_cmpstr (reject_lines[1], ==, first_reject);

  /* Again: nothing changes, every row is a duplicate. */
  before = customers_snapshot (daemon);
  again = ctl_json (daemon, argv);
  g_assert_cmpint (member (again, "new"), ==, 0);
  g_assert_cmpint (member (again, "duplicate"), ==, f.with_customer);
  g_assert_cmpint (member (again, "customers_created"), ==, 0);
  after = customers_snapshot (daemon);
  g_assert_cmpstr (after, ==, before);
  unlink (rejects);
  stop_and_check (daemon);
}

/* The raw line items ------------------------------------------------------------ */

/* InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice,
 * CustomerID, Country: rows without a customer (their lines), customers,
 * and distinct rows (identical ones are one event). */
static void
line_item_figures (const char *path, gint64 *rows, GString *skipped_lines,
                   gint64 *customers, gint64 *distinct)
{
  g_auto (GStrv) lines = data_lines (path);
  g_autoptr (GHashTable) refs = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                       g_free, NULL);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                       g_free, NULL);

  *rows = 0;
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr (GPtrArray) r = split_line (lines[i]);

      g_assert_cmpuint (r->len, ==, 8);
      (*rows)++;
      if (((char *) r->pdata[6])[0] == '\0')
        {
          g_string_append_printf (skipped_lines, "%u,", i + 2);
          continue;
        }
      g_hash_table_add (refs, g_strdup (r->pdata[6]));
      g_ptr_array_add (r, NULL);
      g_hash_table_add (seen, g_strjoinv ("\x1f", (char **) r->pdata));
    }
  *customers = g_hash_table_size (refs);
  *distinct = g_hash_table_size (seen);
}

static void
test_line_items (void)
{
  g_autoptr (StTestDaemon) daemon = st_test_daemon_start (NULL);
  g_autofree char *path = data_path ("online_retail_head10k.csv");
  g_autofree char *rejects = g_build_filename (daemon->dir, "r.csv", NULL);
  const char *argv[] = { "--json", "import", "events", path,
                         "--map", "CustomerID=customer", "--map", "InvoiceDate=at",
                         "--map", "UnitPrice=amount", "--map", "InvoiceNo=data.invoice",
                         "--map", "StockCode=data.stock", "--map", "Description=data.description",
                         "--map", "Quantity=data.quantity", "--map", "Country=data.country",
                         "--date-format", "%m/%d/%Y %H:%M", "--kind", "line_item",
                         "--kind-if", "line_item_cancelled:InvoiceNo=C*",
                         "--rejects", rejects, NULL };
  g_autoptr (GString) skipped = g_string_new (NULL);
  g_autoptr (GString) lines = g_string_new (NULL);
  g_autoptr (JsonObject) summary = NULL;
  g_autofree char *text = NULL;
  g_auto (GStrv) reject_lines = NULL;
  gint64 rows, customers, distinct;

  line_item_figures (path, &rows, skipped, &customers, &distinct);
  g_assert_cmpint (rows, ==, 9999);
  summary = ctl_json (daemon, argv);
  g_assert_cmpint (member (summary, "rows"), ==, rows);
  g_assert_cmpint (member (summary, "rejected"), ==, 0);
  g_assert_cmpint (member (summary, "skipped"), ==, 2291);
  g_assert_cmpint (member (summary, "customers_created"), ==, customers);
  g_assert_cmpint (member (summary, "new"), ==, distinct);
  g_assert_cmpint (member (summary, "duplicate"), ==,
                   rows - 2291 - distinct);
  /* Quoted commas stayed inside their field. */
  g_assert_cmpint (db_int (daemon, "SELECT count(*) FROM events WHERE "
                                   "data->>'description' = 'AIRLINE LOUNGE,"
                                   "METAL SIGN' AND (data->>'quantity')::int "
                                   "= 2 AND amount = 2.1"), >=, 1);
  g_assert_cmpint (db_int (daemon, "SELECT count(*) FROM events WHERE kind = "
                                   "'line_item_cancelled'"), ==, 100);

  /* The rejects name the lines without a customer, all of them. */
  g_file_get_contents (rejects, &text, NULL, NULL);
  reject_lines = g_strsplit (text, "\n", -1);
  for (guint i = 1; reject_lines[i] != NULL && reject_lines[i][0] != '\0'; i++)
    g_string_append_printf (lines, "%.*s,", (int) strcspn (reject_lines[i], ","),
                            reject_lines[i]);
  g_assert_cmpstr (lines->str, ==, skipped->str);
  unlink (rejects);
  stop_and_check (daemon);
}

/* The recent window ---------------------------------------------------------- */

static void
test_recent_window (void)
{
  g_autofree char *yaml = scripts_yaml ("care:\n  recent: 30d\n");
  g_autoptr (StTestDaemon) daemon = st_test_daemon_start (yaml);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) day_ago = g_date_time_add_days (now, -1);
  g_autoptr (GDateTime) year_ago = g_date_time_add_days (now, -400);
  g_autofree char *recent = g_date_time_format_iso8601 (day_ago);
  g_autofree char *old = g_date_time_format_iso8601 (year_ago);
  g_autofree char *csv_path = g_build_filename (daemon->dir, "e.csv", NULL);
  g_autofree char *rejects = g_build_filename (daemon->dir, "r.csv", NULL);
  g_autofree char *csv = g_strdup_printf ("customer,kind,at,amount,key\n"
                                          "w,purchase,%s,10,old\n"
                                          "w,purchase,%s,20,new\n", old, recent);
  const char *argv[] = { "--json", "import", "events", csv_path, "--rejects",
                         rejects, NULL };
  g_autoptr (JsonObject) summary = NULL;

  g_assert_true (g_file_set_contents (csv_path, csv, -1, NULL));
  summary = ctl_json (daemon, argv);
  g_assert_cmpint (member (summary, "new"), ==, 2);
  g_assert_cmpint (member (summary, "jobs"), >=, 1);
  g_assert_cmpint (db_int (daemon, "SELECT count(*) FROM care_jobs j JOIN "
                                   "events e ON e.id = j.event_id WHERE "
                                   "e.idem_key = 'old'"), ==, 0);
  g_assert_cmpint (db_int (daemon, "SELECT count(*) FROM care_jobs j JOIN "
                                   "events e ON e.id = j.event_id WHERE "
                                   "e.idem_key = 'new' AND j.key = 'event:' "
                                   "|| e.id || ':thank-you'"), ==, 1);
  g_assert_cmpint (db_int (daemon, "SELECT count(*) FROM care_jobs WHERE "
                                   "event_id IS NOT NULL"), ==,
                   member (summary, "jobs"));

  /* RecordEvent keeps the same window: a late-recorded old purchase
   * queues nothing, a recent one its thank-you. */
  {
    const char *old_add[] = { "--json", "event", "add", "w", "purchase",
                              "--at", old, "--key", "old-live", NULL };
    const char *new_add[] = { "--json", "event", "add", "w", "purchase",
                              "--at", recent, "--key", "new-live", NULL };
    g_autoptr (JsonObject) old_event = ctl_json (daemon, old_add);
    g_autoptr (JsonObject) new_event = ctl_json (daemon, new_add);

    g_assert_cmpint (db_int (daemon, "SELECT count(*) FROM care_jobs j JOIN "
                                     "events e ON e.id = j.event_id WHERE "
                                     "e.idem_key = 'old-live'"), ==, 0);
    g_assert_cmpint (db_int (daemon, "SELECT count(*) FROM care_jobs j JOIN "
                                     "events e ON e.id = j.event_id WHERE "
                                     "e.idem_key = 'new-live' AND j.key = "
                                     "'event:' || e.id || ':thank-you'"),
                     ==, 1);
  }
  unlink (csv_path);
  unlink (rejects);
  stop_and_check (daemon);
}

/* File descriptors, progress, other calls --------------------------------------- */

typedef struct {
  guint signals;
  guint64 read, total, rows;
} Progress;

static void
on_progress (GDBusConnection *connection, const char *sender, const char *path,
             const char *interface, const char *signal, GVariant *params,
             gpointer user_data)
{
  Progress *p = user_data;

  (void) connection, (void) sender, (void) path, (void) interface, (void) signal;
  g_variant_get (params, "(ttt)", &p->read, &p->total, &p->rows);
  p->signals++;
}

static void
import_fd_async (StTestDaemon *daemon, int fd, StTestPending *pending)
{
  g_autoptr (GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr (GError) error = NULL;

  g_unix_fd_list_append (fds, fd, &error);
  g_assert_no_error (error);
  g_dbus_connection_call_with_unix_fd_list (
      daemon->connection, ST_BUS_NAME, ST_OBJECT_PATH, IMPORT_IFACE, "Events",
      g_variant_new_parsed ("(@h 0, {'kind': <'login'>})"), NULL,
      G_DBUS_CALL_FLAGS_NONE, 60000, fds, NULL,
      (GAsyncReadyCallback) st_test_pending_done, pending);
}

static gint64
wait_summary (StTestPending *pending, const char *key)
{
  g_autoptr (GVariant) summary = NULL;
  gint64 value;

  while (!pending->done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (pending->error);
  summary = g_variant_get_child_value (pending->reply, 0);
  g_assert_true (g_variant_lookup (summary, key, "x", &value));
  g_clear_pointer (&pending->reply, g_variant_unref);
  return value;
}

static void
test_fd_passing (void)
{
  g_autoptr (StTestDaemon) daemon = st_test_daemon_start (NULL);
  const char *csv = "customer,kind\np1,login\np2,login\n";
  g_autofree char *tmp_path = NULL;
  StTestPending from_pipe = { 0 }, from_deleted = { 0 };
  Progress progress = { 0 };
  guint subscription = g_dbus_connection_signal_subscribe (
      daemon->connection, NULL, IMPORT_IFACE, "Progress", ST_OBJECT_PATH, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_progress, &progress, NULL);
  g_autoptr (GError) error = NULL;
  int pipe_fds[2], file_fd;

  /* A pipe: no path at all. */
  g_assert_cmpint (pipe (pipe_fds), ==, 0);
  g_assert_cmpint (write (pipe_fds[1], csv, strlen (csv)), ==, strlen (csv));
  close (pipe_fds[1]);
  import_fd_async (daemon, pipe_fds[0], &from_pipe);
  close (pipe_fds[0]);
  g_assert_cmpint (wait_summary (&from_pipe, "new"), ==, 2);

  /* A file deleted before the daemon sees it. */
  file_fd = g_file_open_tmp ("steward-import-XXXXXX.csv", &tmp_path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (write (file_fd, csv, strlen (csv)), ==, strlen (csv));
  g_assert_cmpint (unlink (tmp_path), ==, 0);
  g_assert_cmpint (lseek (file_fd, 0, SEEK_SET), ==, 0);
  import_fd_async (daemon, file_fd, &from_deleted);
  close (file_fd);
  g_assert_cmpint (wait_summary (&from_deleted, "duplicate"), ==, 2);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  /* The last Progress: the whole file read. */
  g_assert_cmpuint (progress.signals, >=, 1);
  g_assert_cmpuint (progress.total, ==, strlen (csv));
  g_assert_cmpuint (progress.read, ==, strlen (csv));
  g_assert_cmpuint (progress.rows, ==, 2);
  g_dbus_connection_signal_unsubscribe (daemon->connection, subscription);
  stop_and_check (daemon);
}

static void
test_progress_and_other_calls (void)
{
  g_autoptr (StTestDaemon) daemon = st_test_daemon_start (NULL);
  StTestPending pending = { 0 };
  Progress progress = { 0 };
  guint subscription = g_dbus_connection_signal_subscribe (
      daemon->connection, NULL, IMPORT_IFACE, "Progress", ST_OBJECT_PATH, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_progress, &progress, NULL);
  g_autoptr (GString) first = g_string_new ("customer,kind\n");
  g_autoptr (GVariant) status = NULL;
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  gint64 asked;
  int fds[2];

  for (int i = 0; i < 1000; i++)
    g_string_append_printf (first, "c%d,login\n", i);
  g_assert_cmpint (pipe (fds), ==, 0);
  g_assert_cmpint (write (fds[1], first->str, first->len), ==, first->len);
  import_fd_async (daemon, fds[0], &pending);
  close (fds[0]);

  /* The import has read what there is and waits for more: it says how
   * far it is, and the daemon answers other calls meanwhile. */
  while (progress.rows < 1000 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (progress.rows, ==, 1000);
  g_assert_cmpuint (progress.total, ==, 0);
  asked = g_get_monotonic_time ();
  status = st_test_bus_call_ok (daemon->connection, "Manager", "Status", NULL);
  g_assert_cmpint (g_get_monotonic_time () - asked, <, 5 * G_TIME_SPAN_SECOND);
  g_assert_false (pending.done);

  g_assert_cmpint (write (fds[1], "last,login\n", 11), ==, 11);
  close (fds[1]);
  g_assert_cmpint (wait_summary (&pending, "new"), ==, 1001);
  g_dbus_connection_signal_unsubscribe (daemon->connection, subscription);
  stop_and_check (daemon);
}

/* The command line ---------------------------------------------------------------- */

static void
assert_ctl (StTestDaemon *daemon, int expected, const char *message,
            const char *const *argv)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = st_test_ctlv (daemon, &out, &err, argv);

  if (status != expected || strstr (err, "Sanitizer") != NULL)
    g_error ("stewardctl %s exited %d, not %d: %s", argv[1], status, expected,
             err);
  st_test_assert_contains (err, message);
}

/* stewardctl in @dir, reading @input on its standard input. */
static int
ctl_stdin (StTestDaemon *daemon, const char *dir, const char *input,
           char **out)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autofree char *ctl = st_test_build_path ("core/stewardctl");
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;

  g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS",
                                g_test_dbus_get_bus_address (daemon->bus), TRUE);
  g_subprocess_launcher_set_cwd (launcher, dir);
  process = g_subprocess_launcher_spawn (launcher, &error, ctl, "import",
                                         "events", "-", "--kind", "login",
                                         NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, input, NULL, out, NULL, &error);
  g_assert_no_error (error);
  return g_subprocess_get_exit_status (process);
}

static void
test_cli (void)
{
  g_autoptr (StTestDaemon) daemon = st_test_daemon_start (NULL);
  g_autofree char *missing = g_build_filename (daemon->dir, "none.csv", NULL);
  g_autofree char *csv = g_build_filename (daemon->dir, "e.csv", NULL);
  g_autofree char *rejects = g_build_filename (daemon->dir, "stdin.rejects.csv",
                                               NULL);
  g_autofree char *out = NULL, *text = NULL;

  g_assert_true (g_file_set_contents (csv, "who,what\nx,login\n", -1, NULL));
  assert_ctl (daemon, 2, "missing FILE",
              (const char *[]){ "import", "events", NULL });
  assert_ctl (daemon, 2, "--kind-if: 'refund' is not KIND:COLUMN=PATTERN",
              (const char *[]){ "import", "events", csv, "--kind-if", "refund", NULL });
  assert_ctl (daemon, 2, "--decimal: give . or ,",
              (const char *[]){ "import", "events", csv, "--decimal", ";", NULL });
  assert_ctl (daemon, 2, "--chunk",
              (const char *[]){ "import", "customers", csv, "--chunk", "0", NULL });
  assert_ctl (daemon, 2, "Unknown option --kind",
              (const char *[]){ "import", "customers", csv, "--kind", "x", NULL });
  assert_ctl (daemon, 1, "encoding: 'klingon' is not an encoding",
              (const char *[]){ "import", "events", csv, "--encoding", "klingon", NULL });
  assert_ctl (daemon, 1, "cannot open",
              (const char *[]){ "import", "events", missing, NULL });
  assert_ctl (daemon, 1, "map: the file has no column 'customer_id'",
              (const char *[]){ "import", "events", csv, "--map",
                                "customer_id=customer", NULL });
  g_assert_cmpint (db_int (daemon, "SELECT count(*) FROM customers"), ==, 0);

  /* Standard input; the rejects land in the current folder. A line of
   * blanks is an empty line, no row. */
  g_assert_cmpint (ctl_stdin (daemon, daemon->dir,
                              "customer\nann\n\nbob\n \nid:7\n", &out), ==, 0);
  st_test_assert_contains (out, "Imported events from standard input");
  st_test_assert_contains (out, "New:");
  st_test_assert_contains (out, "1 rows not imported (rejected or skipped): "
                                "see stdin.rejects.csv");
  g_assert_true (g_file_get_contents (rejects, &text, NULL, NULL));
  g_assert_true (g_str_has_prefix (text, "line,reason\n6,\"customer: ref: "
                                         "'id:7'"));
  g_assert_cmpint (db_int (daemon, "SELECT count(*) FROM events"), ==, 2);
  unlink (rejects);
  unlink (csv);
  stop_and_check (daemon);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/import-daemon/invoices", test_invoices);
  g_test_add_func ("/import-daemon/line-items", test_line_items);
  g_test_add_func ("/import-daemon/recent-window", test_recent_window);
  g_test_add_func ("/import-daemon/fd-passing", test_fd_passing);
  g_test_add_func ("/import-daemon/progress-and-other-calls",
                   test_progress_and_other_calls);
  g_test_add_func ("/import-daemon/cli", test_cli);
  return g_test_run ();
}
