/* The import's driver: read the file in blocks, parse it (st-csv.c),
 * convert its rows (st-import-rows.c), and hand each full chunk to
 * st-import-store.c; write the rejects and keep the counts. */

#include "st-import-private.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "st-csv.h"
#include "st-error.h"
#include "st-triggers.h"

#define READ_BLOCK (1024 * 1024)
#define PROGRESS_USEC (100 * 1000)
#define SAMPLE_REJECTS 100
#define CHUNK_ATTEMPTS 3

typedef struct {
  StStore *store;
  const StImportRequest *request;
  StImportRows *rows;
  StImportChunkPlan plan;
  char *stage_jobs;
  gboolean header_read;
  GError *error;

  StCsv *csv;
  GString *copy;     /* the chunk's rows as COPY text */
  guint chunk_rows;
  guint64 chunk_first_line;
  GArray *rejects;   /* the chunk's rejects (StImportReject) */

  guint64 rows_read, inserted, updated, duplicate, rejected, skipped;
  guint64 customers_created, jobs, chunks, bytes_read, bytes_total;
  guint64 committed_line; /* the last line of the last committed chunk */
  guint64 last_line;
  gint64 started, last_progress;
  gboolean progress_pending; /* something new since the last report */
  GArray *sample;    /* the first rejects, for the summary */
  char *rejects_error;
  gboolean rejects_started;
} StImport;

void
st_import_reject_clear (StImportReject *reject)
{
  g_free (reject->reason);
}

static GArray *
rejects_new (void)
{
  GArray *rejects = g_array_new (FALSE, FALSE, sizeof (StImportReject));

  g_array_set_clear_func (rejects, (GDestroyNotify) st_import_reject_clear);
  return rejects;
}

static void
st_import_clear (StImport *im)
{
  g_clear_pointer (&im->rows, st_import_rows_free);
  g_free (im->stage_jobs);
  g_clear_error (&im->error);
  if (im->copy != NULL)
    g_string_free (im->copy, TRUE);
  g_clear_pointer (&im->rejects, g_array_unref);
  g_clear_pointer (&im->sample, g_array_unref);
  g_free (im->rejects_error);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (StImport, st_import_clear)

/* Rejects ------------------------------------------------------------------- */

static void
add_reject (StImport *im, guint64 line, char *reason)
{
  StImportReject reject = { line, reason };

  g_array_append_val (im->rejects, reject);
}

static gboolean
write_all (int fd, const char *data, gsize len)
{
  while (len > 0)
    {
      gssize n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static int
compare_rejects (gconstpointer a, gconstpointer b)
{
  guint64 x = ((const StImportReject *) a)->line;
  guint64 y = ((const StImportReject *) b)->line;

  return x < y ? -1 : x > y;
}

/* The chunk's rejects in line order: to the rejects file (CSV: line,
 * reason), and the first ones to the summary. */
static void
write_rejects (StImport *im)
{
  g_autoptr (GString) out = g_string_new (NULL);
  int fd = im->request->rejects_fd;

  g_array_sort (im->rejects, compare_rejects);
  if (!im->rejects_started && im->rejects->len > 0)
    g_string_append (out, "line,reason\n");
  for (guint i = 0; i < im->rejects->len; i++)
    {
      StImportReject *reject = &g_array_index (im->rejects, StImportReject, i);
      g_auto (GStrv) parts = g_strsplit (reject->reason, "\"", -1);
      g_autofree char *quoted = g_strjoinv ("\"\"", parts);

      g_string_append_printf (out, "%" G_GUINT64_FORMAT ",\"%s\"\n",
                              reject->line, quoted);
      if (im->sample->len < SAMPLE_REJECTS)
        {
          StImportReject copy = { reject->line, g_strdup (reject->reason) };
          g_array_append_val (im->sample, copy);
        }
    }
  im->rejects_started |= im->rejects->len > 0;
  g_array_set_size (im->rejects, 0);
  if (fd < 0 || out->len == 0 || im->rejects_error != NULL)
    return;
  if (!write_all (fd, out->str, out->len))
    im->rejects_error = g_strdup_printf ("cannot write the rejects: %s",
                                         g_strerror (errno));
}

/* Chunks -------------------------------------------------------------------- */

/* {"purchase": [{"name": "thank_you", "delay": 0, "recent": 604800}], …}
 * for the kinds staged so far; kinds need no escaping. */
static char *
event_plans (StImport *im)
{
  g_auto (GStrv) kinds = st_import_rows_kinds (im->rows);
  const void *triggers = st_store_get_triggers (im->store);
  GString *json = g_string_new ("{");

  for (guint i = 0; kinds[i] != NULL; i++)
    {
      g_autofree char *plan = st_triggers_plan (triggers, kinds[i]);

      if (plan != NULL)
        g_string_append_printf (json, "%s\"%s\":%s", json->len > 1 ? "," : "",
                                kinds[i], plan);
    }
  g_string_append_c (json, '}');
  return g_string_free (json, FALSE);
}

/* Conflicts with concurrent writers (a deadlock, a customer created by
 * another call meanwhile) and a lost connection are worth another try:
 * the chunk is whole in memory and nothing of it was kept. */
static gboolean
is_retryable (const GError *error)
{
  return g_error_matches (error, ST_ERROR, ST_ERROR_ALREADY_EXISTS)
         || g_error_matches (error, ST_ERROR, ST_ERROR_UNAVAILABLE)
         || st_store_error_is_conflict (error);
}

static gboolean
store_chunk (StImport *im, StImportChunkCounts *counts, GError **error)
{
  g_autofree char *plans = NULL;

  if (im->plan.kind == ST_IMPORT_EVENTS)
    im->plan.event_jobs = plans = event_plans (im);
  for (guint attempt = 1;; attempt++)
    {
      g_autoptr (GError) local_error = NULL;

      if (st_import_store_chunk (im->store, &im->plan, im->copy->str,
                                 im->copy->len, im->rejects, counts,
                                 &local_error))
        return TRUE;
      if (attempt == CHUNK_ATTEMPTS || !is_retryable (local_error))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_usleep ((gulong) attempt * 200 * 1000);
    }
}

static void
count_chunk (StImport *im, const StImportChunkCounts *c)
{
  im->chunks++;
  im->inserted += c->inserted;
  im->rejected += c->rejected;
  im->jobs += c->jobs;
  im->customers_created += c->customers_created;
  if (im->plan.kind == ST_IMPORT_EVENTS)
    im->duplicate += c->staged - c->rejected - c->inserted;
  else
    {
      im->updated += c->updated;
      im->duplicate += c->matched - c->updated;
    }
}

static gboolean
flush_chunk (StImport *im)
{
  StImportChunkCounts counts;

  if (im->chunk_rows > 0)
    {
      if (!store_chunk (im, &counts, &im->error))
        {
          g_prefix_error (&im->error,
                          "the chunk of lines %" G_GUINT64_FORMAT " to %"
                          G_GUINT64_FORMAT " was not imported: ",
                          im->chunk_first_line, im->last_line);
          return FALSE;
        }
      count_chunk (im, &counts);
    }
  im->committed_line = im->last_line;
  write_rejects (im);
  g_string_truncate (im->copy, 0);
  im->chunk_rows = 0;
  return TRUE;
}

/* Records ------------------------------------------------------------------- */

static void
report_progress (StImport *im, gboolean last)
{
  gint64 now = g_get_monotonic_time ();

  if (im->request->progress == NULL)
    return;
  if (!last && now - im->last_progress < PROGRESS_USEC)
    {
      im->progress_pending = TRUE;
      return;
    }
  im->last_progress = now;
  im->progress_pending = FALSE;
  im->request->progress (im->bytes_read, im->bytes_total, im->rows_read,
                         im->request->progress_data);
}

/* Excel's first line "sep=X" names the delimiter: with ',' read as one
 * field "sep=;", or as "sep=" and "" when X is the delimiter already. */
static gboolean
is_sep_line (char **fields, guint n, char delimiter, char *sep)
{
  if (n == 1 && strlen (fields[0]) == 5 && g_str_has_prefix (fields[0], "sep="))
    *sep = fields[0][4];
  else if (n == 2 && g_str_equal (fields[0], "sep=") && fields[1][0] == '\0')
    *sep = delimiter;
  else
    return FALSE;
  return TRUE;
}

/* Files people take for CSV, by their first bytes. */
static gboolean
refuse_other_format (StImport *im, const char *start)
{
  static const struct {
    const char *magic;
    const char *what;
  } formats[] = {
    { "PK\x03\x04", "an Excel or OpenDocument workbook (or another ZIP "
                    "archive), not CSV: save it as CSV UTF-8 (Excel: File, "
                    "Save As, CSV UTF-8) and import that" },
    { "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
      "an Excel 97-2003 workbook (.xls), not CSV: save it as CSV UTF-8 and "
      "import that" },
    { "\x1F\x8B", "compressed with gzip: give 'gunzip -c FILE.gz |' and "
                   "import - (standard input)" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    if (g_str_has_prefix (start, formats[i].magic))
      {
        g_set_error (&im->error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                     "the file is %s", formats[i].what);
        return TRUE;
      }
  return FALSE;
}

static gboolean
read_header (StImport *im, char **fields, guint n, guint64 line,
             const char *problem)
{
  char sep;

  if (line == 1 && n > 0 && refuse_other_format (im, fields[0]))
    return FALSE;

  if (line == 1 && problem == NULL
      && is_sep_line (fields, n, st_import_rows_delimiter (im->rows), &sep)
      && st_import_rows_set_delimiter (im->rows, sep))
    {
      st_csv_set_delimiter (im->csv, sep);
      return TRUE;
    }
  im->header_read = TRUE;
  if (problem != NULL)
    {
      g_set_error (&im->error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "the header (line %" G_GUINT64_FORMAT ") cannot be read: "
                   "%s", line, problem);
      return FALSE;
    }
  return st_import_rows_set_header (im->rows, (const char *const *) fields, n,
                                    &im->error);
}

/* A row of empty cells (",,,": a cleared row in a spreadsheet's range) is
 * an empty line, not a row. */
static gboolean
is_blank_row (char **fields, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      const char *p = fields[i];

      while (g_ascii_isspace (*p))
        p++;
      if (*p != '\0')
        return FALSE;
    }
  return TRUE;
}

static gboolean
on_record (char **fields, guint n, guint64 line, const char *problem,
           gpointer data)
{
  StImport *im = data;
  char *reason = NULL;

  if (problem == NULL && is_blank_row (fields, n))
    return TRUE;
  if (!im->header_read)
    return read_header (im, fields, n, line, problem);
  im->rows_read++;
  im->last_line = line;
  if (im->chunk_rows == 0)
    im->chunk_first_line = line;
  if (problem != NULL)
    {
      im->rejected++;
      add_reject (im, line, g_strdup (problem));
    }
  else
    switch (st_import_rows_convert (im->rows, fields, n, line, im->copy,
                                    &reason))
      {
      case ST_IMPORT_ROW_STAGED:
        im->chunk_rows++;
        break;
      case ST_IMPORT_ROW_REJECTED:
        im->rejected++;
        add_reject (im, line, reason);
        break;
      case ST_IMPORT_ROW_SKIPPED:
        im->skipped++;
        add_reject (im, line, g_strdup ("skipped: the row names no customer"));
        break;
      }
  if (im->chunk_rows >= st_import_rows_chunk (im->rows)
      && !flush_chunk (im))
    return FALSE;
  report_progress (im, FALSE);
  return TRUE;
}

/* Before a read that may block (a pipe whose writer is slow), say how far
 * the import is: a reader waiting for more data reports nothing else. */
static void
report_before_waiting (StImport *im, int fd)
{
  struct pollfd wait = { fd, POLLIN, 0 };

  if (im->progress_pending && poll (&wait, 1, PROGRESS_USEC / 1000) == 0)
    report_progress (im, TRUE);
}

static gboolean
read_input (StImport *im, StCsv *csv)
{
  int fd = im->request->fd;
  g_autofree char *block = g_malloc (READ_BLOCK);
  struct stat st;

  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode))
    {
      off_t at = lseek (fd, 0, SEEK_CUR);
      im->bytes_total = (guint64) (st.st_size - MAX (at, 0));
    }
  for (;;)
    {
      gssize n;

      report_before_waiting (im, fd);
      n = read (fd, block, READ_BLOCK);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (&im->error, ST_ERROR, ST_ERROR_FAILED,
                       "cannot read the file: %s", g_strerror (errno));
          return FALSE;
        }
      if (n == 0)
        return st_csv_finish (csv);
      im->bytes_read += (guint64) n;
      if (!st_csv_feed (csv, block, (gsize) n, &im->error))
        return FALSE;
      report_progress (im, FALSE);
    }
}

/* The summary --------------------------------------------------------------- */

static void
add_count (GVariantBuilder *b, const char *key, guint64 value)
{
  g_variant_builder_add (b, "{sv}", key, g_variant_new_int64 ((gint64) value));
}

static GVariant *
summary (StImport *im)
{
  GVariantBuilder b, sample;
  double seconds = (double) (g_get_monotonic_time () - im->started) / 1e6;
  g_auto (GStrv) ignored = st_import_rows_ignored_columns (im->rows);

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "kind", g_variant_new_string (
      im->plan.kind == ST_IMPORT_EVENTS ? "events" : "customers"));
  add_count (&b, "rows", im->rows_read);
  add_count (&b, "new", im->inserted);
  add_count (&b, "updated", im->updated);
  add_count (&b, "duplicate", im->duplicate);
  add_count (&b, "rejected", im->rejected);
  add_count (&b, "skipped", im->skipped);
  add_count (&b, "customers_created", im->customers_created);
  add_count (&b, "jobs", im->jobs);
  add_count (&b, "chunks", im->chunks);
  add_count (&b, "bytes", im->bytes_read);
  g_variant_builder_add (&b, "{sv}", "seconds", g_variant_new_double (seconds));
  g_variant_builder_add (&b, "{sv}", "rows_per_second", g_variant_new_double (
      seconds > 0 ? (double) im->rows_read / seconds : 0));
  g_variant_builder_add (&b, "{sv}", "chunk",
                         g_variant_new_uint32 (st_import_rows_chunk (im->rows)));
  g_variant_builder_add (&b, "{sv}", "ignored_columns",
                         g_variant_new_strv ((const char *const *) ignored, -1));
  g_variant_builder_init (&sample, G_VARIANT_TYPE ("a(xs)"));
  for (guint i = 0; i < im->sample->len; i++)
    {
      StImportReject *r = &g_array_index (im->sample, StImportReject, i);
      g_variant_builder_add (&sample, "(xs)", (gint64) r->line, r->reason);
    }
  g_variant_builder_add (&b, "{sv}", "rejects", g_variant_builder_end (&sample));
  if (im->rejects_error != NULL)
    g_variant_builder_add (&b, "{sv}", "rejects_error",
                           g_variant_new_string (im->rejects_error));
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/* Running ------------------------------------------------------------------- */

static gboolean
check_rejects_fd (int fd, GError **error)
{
  struct stat st;

  /* A pipe would raise SIGPIPE in the daemon when its reader goes. */
  if (fd < 0 || (fstat (fd, &st) == 0 && S_ISREG (st.st_mode)))
    return TRUE;
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
               "rejects: give a regular file open for writing (not a pipe)");
  return FALSE;
}

static gboolean
st_import_start (StImport *im, StStore *store, const StConfig *config,
                 const StImportRequest *request, GError **error)
{
  g_autofree char *trigger = NULL;

  im->store = store;
  im->request = request;
  im->started = g_get_monotonic_time ();
  im->copy = g_string_sized_new (1024 * 1024);
  im->rejects = rejects_new ();
  im->sample = rejects_new ();
  if (!check_rejects_fd (request->rejects_fd, error))
    return FALSE;
  im->rows = st_import_rows_new (request->kind, request->options,
                                 g_get_real_time (), error);
  if (im->rows == NULL)
    return FALSE;
  trigger = g_strconcat ("stage:", st_config_initial_stage (config), NULL);
  im->stage_jobs = st_triggers_plan (st_store_get_triggers (store), trigger);
  im->plan = (StImportChunkPlan){
    request->kind, request->actor, st_config_initial_stage (config),
    im->stage_jobs, NULL, st_import_rows_create_customers (im->rows),
  };
  return TRUE;
}

/* Why the import stopped, and what of it is in. */
static void
explain_failure (StImport *im, GError **error)
{
  GError *e = g_steal_pointer (&im->error);

  if (im->chunks > 0)
    g_prefix_error (&e, "the import stopped after %" G_GUINT64_FORMAT
                    " chunk(s), up to line %" G_GUINT64_FORMAT " (run it "
                    "again to finish: rows already imported count as "
                    "duplicates): ", im->chunks, im->committed_line);
  g_propagate_error (error, e);
}

GVariant *
st_import_run (StStore *store, const StConfig *config,
               const StImportRequest *request, GError **error)
{
  g_auto (StImport) im = { 0 };
  g_autoptr (StCsv) csv = NULL;

  if (!st_import_start (&im, store, config, request, error))
    return NULL;
  csv = im.csv = st_csv_new (st_import_rows_delimiter (im.rows), on_record,
                             &im);
  if (st_csv_set_encoding (csv, st_import_rows_encoding (im.rows), &im.error)
      && read_input (&im, csv) && im.error == NULL)
    {
      if (im.header_read)
        flush_chunk (&im);
      else
        g_set_error (&im.error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                     "the file is empty; it needs a header line naming its "
                     "columns");
    }
  if (im.error != NULL)
    {
      explain_failure (&im, error);
      return NULL;
    }
  report_progress (&im, TRUE);
  return summary (&im);
}
