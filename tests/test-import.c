/* Tests for core/st-import*.c at the engine level, against a real
 * PostgreSQL: events and customers from CSV text, their counts, rejects
 * and keys, the aggregates (the same as RecordEvent's), chunks, the
 * recent window of care jobs, and the care.recent key of the
 * configuration. The daemon and stewardctl are tests/test-import-daemon.c. */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "st-customers.h"
#include "st-error.h"
#include "st-events.h"
#include "st-import.h"
#include "st-test-util.h"
#include "st-triggers.h"

/* Importing ------------------------------------------------------------------- */

typedef struct {
  GVariant *summary;
  char *rejects; /* the rejects file's text */
  GError *error;
} Outcome;

static void
outcome_free (Outcome *o)
{
  g_clear_pointer (&o->summary, g_variant_unref);
  g_free (o->rejects);
  g_clear_error (&o->error);
  g_free (o);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Outcome, outcome_free)

static FILE *
file_with (const char *text, gsize len)
{
  FILE *file = tmpfile ();

  g_assert_nonnull (file);
  g_assert_cmpint (fwrite (text, 1, len, file), ==, len);
  fflush (file);
  rewind (file);
  return file;
}

static char *
read_all (FILE *file)
{
  GString *text = g_string_new (NULL);
  char buf[4096];
  gssize n;
  off_t at = 0;

  while ((n = pread (fileno (file), buf, sizeof buf, at)) > 0)
    {
      g_string_append_len (text, buf, n);
      at += n;
    }
  return g_string_free (text, FALSE);
}

/* Import the @len bytes of @csv as @kind with @options (GVariant text of
 * an a{sv}). */
static Outcome *
import_bytes (StTestStore *fx, StImportKind kind, const char *csv, gsize len,
              const char *options)
{
  Outcome *o = g_new0 (Outcome, 1);
  FILE *input = file_with (csv, len);
  FILE *rejects = tmpfile ();
  g_autoptr (GVariant) dict = st_test_parsed (options ? options : "@a{sv} {}");
  StImportRequest request = { kind, fileno (input), fileno (rejects), dict,
                              "tester", NULL, NULL };

  o->summary = st_import_run (fx->store, fx->config, &request, &o->error);
  o->rejects = read_all (rejects);
  fclose (input);
  fclose (rejects);
  return o;
}

static Outcome *
import (StTestStore *fx, StImportKind kind, const char *csv,
        const char *options)
{
  return import_bytes (fx, kind, csv, strlen (csv), options);
}

static Outcome *
import_ok (StTestStore *fx, StImportKind kind, const char *csv,
           const char *options)
{
  Outcome *o = import (fx, kind, csv, options);

  g_assert_no_error (o->error);
  g_assert_nonnull (o->summary);
  return o;
}

static gint64
count (const Outcome *o, const char *key)
{
  return st_test_rec_int64 (o->summary, key);
}

/* rows/new/updated/duplicate/rejected/skipped */
static void
assert_counts (const Outcome *o, gint64 rows, gint64 new_, gint64 updated,
               gint64 duplicate, gint64 rejected, gint64 skipped)
{
  g_autofree char *text = st_test_print_value (o->summary);

  if (count (o, "rows") != rows || count (o, "new") != new_
      || count (o, "updated") != updated || count (o, "duplicate") != duplicate
      || count (o, "rejected") != rejected || count (o, "skipped") != skipped)
    g_error ("expected rows %" G_GINT64_FORMAT " new %" G_GINT64_FORMAT
             " updated %" G_GINT64_FORMAT " duplicate %" G_GINT64_FORMAT
             " rejected %" G_GINT64_FORMAT " skipped %" G_GINT64_FORMAT
             ", got %s\nrejects:\n%s", rows, new_, updated, duplicate,
             rejected, skipped, text, o->rejects);
}

static gint64
query_int (StTestStore *fx, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gint64
query_int (StTestStore *fx, const char *format, ...)
{
  va_list args;
  g_autofree char *sql = NULL;

  va_start (args, format);
  sql = g_strdup_vprintf (format, args);
  va_end (args);
  return st_test_db_query_int (fx->db, sql);
}

/* Everything an import may write. */
static char *
snapshot (StTestStore *fx)
{
  return st_test_db_query (
      fx->db,
      "SELECT (SELECT count(*) FROM customers) || '/' ||"
      "  (SELECT count(*) FROM events) || '/' ||"
      "  (SELECT count(*) FROM stage_history) || '/' ||"
      "  (SELECT count(*) FROM care_jobs) || '/' ||"
      "  (SELECT coalesce(string_agg(md5(k::text), ',' ORDER BY customer_id,"
      "   kind), '-') FROM customer_event_kinds k) || '/' ||"
      "  (SELECT coalesce(string_agg(md5(c::text), ',' ORDER BY id), '-')"
      "     FROM customers c)");
}

#define EVENT_MAP \
  "'map': <{'who': 'customer', 'what': 'kind', 'when': 'at'," \
  " 'total': 'amount', 'id': 'key', 'note': 'data.note'}>"

/* Events ---------------------------------------------------------------------- */

static void
test_events_basic (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  const char *csv =
      "who,what,when,total,id,note,ignored\n"
      "c1,purchase,2024-05-01T10:00:00Z,19.99,o-1,first,x\n"
      "c1,refund,2024-05-02T10:00:00Z,-5,o-2,,x\n"
      "c2,login,2024-05-03 08:00,,,hello,x\n"
      "c1,purchase,2024-05-01T10:00:00Z,19.99,o-1,again,x\n";
  g_autoptr (Outcome) first = import_ok (fx, ST_IMPORT_EVENTS, csv,
                                         "{" EVENT_MAP "}");
  g_autoptr (Outcome) again = NULL;
  g_auto (GStrv) ignored = NULL;
  g_autofree char *before = NULL, *after = NULL;

  /* The repeated key is a duplicate, even inside one file. */
  assert_counts (first, 4, 3, 0, 1, 0, 0);
  g_assert_cmpint (count (first, "customers_created"), ==, 2);
  g_assert_cmpint (count (first, "chunks"), ==, 1);
  g_assert_true (g_variant_lookup (first->summary, "ignored_columns", "^as",
                                   &ignored));
  g_assert_cmpstr (ignored[0], ==, "ignored");
  g_assert_cmpstr (first->rejects, ==, "");

  /* New customers are named after their ref and enter the first stage,
   * recorded as an import. */
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM customers WHERE "
                                  "name = ref AND stage = 'lead'"), ==, 2);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM stage_history WHERE "
                                  "reason = 'import' AND actor = 'tester'"),
                   ==, 2);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM events e JOIN "
                                  "customers c ON c.id = e.customer_id WHERE "
                                  "c.ref = 'c1' AND e.idem_key = 'o-1' AND "
                                  "e.amount = 19.99 AND e.data->>'note' = "
                                  "'first' AND e.occurred_at = "
                                  "'2024-05-01T10:00:00Z'"), ==, 1);
  /* A row without a key gets one from what it says. */
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM events WHERE kind = "
                                  "'login' AND idem_key LIKE 'row:%%' AND "
                                  "length(idem_key) = 36 AND data = "
                                  "'{\"note\": \"hello\"}' AND occurred_at = "
                                  "'2024-05-03T08:00:00Z'"), ==, 1);

  /* Again: nothing changes. */
  before = snapshot (fx);
  again = import_ok (fx, ST_IMPORT_EVENTS, csv, "{" EVENT_MAP "}");
  assert_counts (again, 4, 0, 0, 4, 0, 0);
  g_assert_cmpint (count (again, "customers_created"), ==, 0);
  after = snapshot (fx);
  g_assert_cmpstr (after, ==, before);
}

static void
test_events_field_names (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  /* Headers that are field names need no --map; a kind rule and a default
   * kind; refs written as numbers lose their ".0". */
  g_autoptr (Outcome) o = import_ok (
      fx, ST_IMPORT_EVENTS,
      "customer,at,amount,key,data.channel\n"
      "13085.0,2024-01-01,10,A1,web\n"
      "13085.0,2024-01-02,-3,CA2,web\n"
      "13086.5,2024-01-03,1,A3,shop\n",
      "{'kind': <'purchase'>, 'kind_if': <[('refund', 'key', 'C*')]>}");

  assert_counts (o, 3, 3, 0, 0, 0, 0);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM customers WHERE ref "
                                  "IN ('13085', '13086.5')"), ==, 2);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM events WHERE kind = "
                                  "'refund' AND idem_key = 'CA2'"), ==, 1);
  g_assert_cmpint (query_int (fx, "SELECT revenue FROM customers WHERE ref = "
                                  "'13085'"), ==, 7);
}

static void
test_events_bad_rows (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  const char *csv =
      "who,what,when,total,id,note\n"                            /* 1 */
      "good,purchase,2024-05-01T10:00:00Z,10,k1,\"a, b\"\n"      /* 2 */
      "bad-date,purchase,2024-13-01,10,k2,\n"                    /* 3 */
      "bad-amount,purchase,2024-05-01,ten,k3,\n"                 /* 4 */
      "good,purchase,2024-05-02,5,k4,\"two\nlines\"\n"           /* 5-6 */
      "short,purchase,2024-05-01\n"                              /* 7 */
      "bad-kind,Purchase!,2024-05-01,1,k5,\n"                    /* 8 */
      "future,purchase,2999-01-01,1,k6,\n"                       /* 9 */
      ",purchase,2024-05-01,1,k7,\n"                             /* 10 */
      "no-time,purchase,,1,k8,\n"                                /* 11 */
      "quote,purchase,2024-05-01,1,\"k9\"x,\n"                   /* 12 */
      "survey,survey,2024-05-01,,k10,\n"                         /* 13 */
      "id:7,purchase,2024-05-01,1,k11,\n"                        /* 14 */
      "good,login,2024-05-03,,k12,\n";                           /* 15 */
  g_autoptr (Outcome) o = import_ok (fx, ST_IMPORT_EVENTS, csv,
                                     "{" EVENT_MAP "}");
  const char *expected[] = {
    "line,reason\n",
    "3,\"at: '2024-13-01' is not a date and time of the calendar\"\n",
    "4,\"amount: 'ten' is not an amount",
    "7,\"the row has 3 fields but the header has 6",
    "8,\"kind: 'Purchase!' is not an event kind",
    "9,\"at: '2999-01-01' is in the future",
    "10,\"skipped: the row names no customer\"\n",
    "11,\"at: the time is empty",
    "12,\"text follows a closing quote",
    "13,\"data.score: a nps survey needs a whole score from 0 to 10\"\n",
    "14,\"customer: ref: 'id:7' starts with 'id:'",
  };
  const char *at = o->rejects;

  assert_counts (o, 13, 3, 0, 0, 9, 1);
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      const char *found = strstr (at, expected[i]);

      if (found == NULL)
        g_error ("expected, in order, '%s' in the rejects:\n%s", expected[i],
                 o->rejects);
      at = found + strlen (expected[i]);
    }
  /* Only the good rows left a trace: one customer, its three events. */
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM customers"), ==, 1);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM events"), ==, 3);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM events WHERE data->>"
                                  "'note' = E'two\\nlines'"), ==, 1);
  g_assert_cmpint (query_int (fx, "SELECT event_count FROM customers"), ==, 3);
}

static void
assert_refused (StTestStore *fx, StImportKind kind, const char *csv,
                const char *options, const char *message)
{
  g_autofree char *before = snapshot (fx), *after = NULL;
  g_autoptr (Outcome) o = import (fx, kind, csv, options);

  g_assert_null (o->summary);
  g_assert_error (o->error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  st_test_assert_contains (o->error->message, message);
  after = snapshot (fx);
  g_assert_cmpstr (after, ==, before);
}

static void
test_events_refused (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  const char *csv = "who,what\nc1,login\n";

  assert_refused (fx, ST_IMPORT_EVENTS, csv,
                  "{'map': <{'who': 'customer', 'nope': 'kind'}>}",
                  "map: the file has no column 'nope'; its columns are: who, "
                  "what");
  assert_refused (fx, ST_IMPORT_EVENTS, csv,
                  "{'map': <{'who': 'customer', 'what': 'colour'}>}",
                  "map: column 'what' goes to 'colour', which is not a field");
  assert_refused (fx, ST_IMPORT_EVENTS, csv,
                  "{'map': <{'who': 'customer', 'what': 'kind'}>,"
                  " 'date_format': <'%Q'>}", "date format");
  assert_refused (fx, ST_IMPORT_EVENTS, csv, "@a{sv} {}",
                  "no column goes to customer");
  assert_refused (fx, ST_IMPORT_EVENTS, csv,
                  "{'map': <{'who': 'customer'}>}", "no --kind is given");
  assert_refused (fx, ST_IMPORT_EVENTS, csv,
                  "{'map': <{'who': 'customer', 'what': 'customer'}>}",
                  "two columns go to 'customer'");
  assert_refused (fx, ST_IMPORT_EVENTS, csv, "{'colour': <'red'>}",
                  "unknown field 'colour'");
  assert_refused (fx, ST_IMPORT_EVENTS, "", "{'kind': <'login'>}",
                  "the file is empty");
  assert_refused (fx, ST_IMPORT_EVENTS, "\xEF\xBB\xBF\r\n\r\n",
                  "{'kind': <'login'>}", "the file is empty");
  /* Two columns of one name: --map could not tell them apart. */
  assert_refused (fx, ST_IMPORT_EVENTS, "customer,kind,customer\nc1,login,c2\n",
                  NULL, "the header names two columns 'customer' (columns 1 "
                  "and 3); rename one of them");
  assert_refused (fx, ST_IMPORT_EVENTS, "who,kind,who\nc1,login,c2\n",
                  "{'map': <{'who': 'customer'}>}",
                  "the header names two columns 'who' (columns 1 and 3)");
  /* Not CSV at all: a workbook, a compressed file. */
  assert_refused (fx, ST_IMPORT_EVENTS, "PK\x03\x04\x14", NULL,
                  "an Excel or OpenDocument workbook (or another ZIP "
                  "archive), not CSV: save it as CSV UTF-8");
  assert_refused (fx, ST_IMPORT_EVENTS, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
                  NULL, "an Excel 97-2003 workbook (.xls), not CSV");
  assert_refused (fx, ST_IMPORT_EVENTS, "\x1F\x8B\x08", NULL,
                  "compressed with gzip: give 'gunzip -c FILE.gz |' and "
                  "import -");
  /* A file with another delimiter than the one given. */
  assert_refused (fx, ST_IMPORT_EVENTS, "customer;kind\nc1;login\n", NULL,
                  "the header has one column, 'customer;kind': are the "
                  "fields separated by ';'? Give --delimiter ';'");
  assert_refused (fx, ST_IMPORT_EVENTS, "customer\tkind\nc1\tlogin\n", NULL,
                  "Give --delimiter tab");
  assert_refused (fx, ST_IMPORT_EVENTS, "\"who\nwhat", "{'kind': <'login'>}",
                  "the header (line 1) cannot be read");
}

/* Google Sheets in a German or French locale downloads a CSV with ','
 * between fields and decimal commas, the amounts in quotes. */
static void
test_events_decimal_comma_in_quotes (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (Outcome) o = import_ok (
      fx, ST_IMPORT_EVENTS,
      "customer,kind,amount\n"
      "c1,purchase,\"12,50\"\n"
      "c2,purchase,\"1.234,50 \xE2\x82\xAC\"\n"
      "c3,purchase,7\n"
      "c4,purchase,12,50\n",
      "{'decimal': <','>}");

  assert_counts (o, 4, 3, 0, 0, 1, 0);
  st_test_assert_contains (o->rejects, "5,\"the row has 4 fields but the "
                                       "header has 3");
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM events WHERE amount "
                                  "IN (12.5, 1234.5, 7)"), ==, 3);
}

/* Excel writes, and reads, a first line "sep=;" that names the delimiter
 * of the file; a sheet may have empty rows above its table. */
static void
test_events_sep_line (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (Outcome) semicolons = import_ok (
      fx, ST_IMPORT_EVENTS,
      "\xEF\xBB\xBFsep=;\r\ncustomer;kind;amount\r\nc1;purchase;\"1,5\"\r\n"
      "c2;login;\r\nc3;purchase;x;y\r\n",
      "{'decimal': <','>}");
  g_autoptr (Outcome) commas = import_ok (
      fx, ST_IMPORT_EVENTS, "sep=,\ncustomer,kind\nc4,login\n", NULL);
  g_autoptr (Outcome) tabs = import_ok (
      fx, ST_IMPORT_EVENTS, "sep=\t\ncustomer\tkind\nc5\tlogin\n", NULL);
  /* Rows of empty cells above the header, as a sheet whose table starts
   * lower down exports them. */
  g_autoptr (Outcome) lower = import_ok (
      fx, ST_IMPORT_EVENTS, ",,\n \n,,\ncustomer,kind,amount\nc6,login,x\n",
      NULL);

  assert_counts (semicolons, 3, 2, 0, 0, 1, 0);
  /* The lines are the file's: the header is line 2. */
  st_test_assert_contains (semicolons->rejects, "5,\"the row has 4 fields");
  assert_counts (commas, 1, 1, 0, 0, 0, 0);
  assert_counts (lower, 1, 0, 0, 0, 1, 0);
  st_test_assert_contains (lower->rejects, "5,\"amount: 'x'");
  assert_counts (tabs, 1, 1, 0, 0, 0, 0);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM events WHERE amount "
                                  "= 1.5"), ==, 1);
}

/* A file separated by ';' comes from a spreadsheet whose decimal separator
 * is ','. Without --decimal , its 1,500 would read as one thousand five
 * hundred, and an event cannot be corrected by importing again: an amount
 * with a comma and no point is refused there as ambiguous. */
static void
test_events_semicolon_amounts (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (Outcome) o = import_ok (
      fx, ST_IMPORT_EVENTS,
      "customer;kind;amount\n"
      "c1;purchase;1,500\n"
      "c2;purchase;1,234.50\n"
      "c3;purchase;12.5\n"
      "c4;purchase;1 500\n",
      "{'delimiter': <';'>}");

  assert_counts (o, 4, 3, 0, 0, 1, 0);
  st_test_assert_contains (o->rejects, "2,\"amount: is the comma of '1,500' "
                                       "decimal or a thousands separator? In "
                                       "a file separated by ';' it is "
                                       "usually decimal: then give --decimal "
                                       ",");
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM events WHERE amount "
                                  "IN (1234.50, 12.5, 1500)"), ==, 3);
}

static void
test_events_no_create (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) fields = st_test_parsed ("{'name': <'Known'>, 'ref': "
                                                "<'k'>}");
  g_autoptr (GVariant) known = st_customers_create (fx->store, fx->config,
                                                    fields, "test", &error);
  g_autoptr (Outcome) o = NULL;

  g_assert_no_error (error);
  o = import_ok (fx, ST_IMPORT_EVENTS,
                 "customer,kind\nk,login\nstranger,login\nbad date,login\n",
                 "{'create_customers': <false>}");
  assert_counts (o, 3, 1, 0, 0, 2, 0);
  g_assert_cmpstr (o->rejects, ==,
                   "line,reason\n"
                   "3,\"customer: no customer has the ref 'stranger'; import "
                   "the customers first, or leave out --no-create\"\n"
                   "4,\"customer: no customer has the ref 'bad date'; import "
                   "the customers first, or leave out --no-create\"\n");
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM customers"), ==, 1);
}

static void
test_events_chunks (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GString) csv = g_string_new ("customer,kind,at,key\n");
  g_autoptr (GString) half = NULL;
  g_autoptr (Outcome) part = NULL, whole = NULL;

  for (int i = 0; i < 7; i++)
    g_string_append_printf (csv, "c%d,login,2024-05-0%dT10:00:00Z,e%d\n",
                            i % 3, i + 1, i);
  /* The first rows, then the whole file: it picks up where it stopped. */
  half = g_string_new_len (csv->str, strstr (csv->str, "c1,login,2024-05-05")
                                         - csv->str);
  part = import_ok (fx, ST_IMPORT_EVENTS, half->str, "{'chunk': <uint32 2>}");
  assert_counts (part, 4, 4, 0, 0, 0, 0);
  g_assert_cmpint (count (part, "chunks"), ==, 2);
  whole = import_ok (fx, ST_IMPORT_EVENTS, csv->str, "{'chunk': <uint32 2>}");
  assert_counts (whole, 7, 3, 0, 4, 0, 0);
  g_assert_cmpint (count (whole, "chunks"), ==, 4);
  g_assert_cmpint (query_int (fx, "SELECT sum(event_count) FROM customers"),
                   ==, 7);
  g_assert_cmpint (query_int (fx, "SELECT event_count FROM customers WHERE "
                                  "ref = 'c0'"), ==, 3);
}

/* The same aggregates as RecordEvent ----------------------------------------- */

/* One event, as a CSV row (customer, kind, at, amount, key, data.type,
 * data.score) and as RecordEvent's data. */
typedef struct {
  const char *kind;
  const char *at;
  const char *amount;
  const char *type;
  const char *score;
} Event;

static const Event history[] = {
  { "purchase", "2024-03-01T10:00:00Z", "19.99", NULL, NULL },
  { "ticket_closed", "2024-03-02T10:00:00Z", NULL, NULL, NULL },
  { "ticket_opened", "2024-03-03T10:00:00Z", NULL, NULL, NULL },
  { "survey", "2024-03-05T10:00:00Z", NULL, NULL, "9" },
};

static const Event batch[] = {
  { "purchase", "2024-01-15T10:00:00Z", "100.5", NULL, NULL },
  { "refund", "2024-04-01T10:00:00Z", "-30", NULL, NULL },
  { "ticket_closed", "2024-04-02T10:00:00Z", NULL, NULL, NULL },
  { "ticket_closed", "2024-04-02T11:00:00Z", NULL, NULL, NULL },
  { "ticket_opened", "2024-04-03T10:00:00Z", NULL, NULL, NULL },
  { "ticket_opened", "2024-04-03T11:00:00Z", NULL, NULL, NULL },
  { "ticket_closed", "2024-04-04T10:00:00Z", NULL, NULL, NULL },
  { "survey", "2024-03-04T10:00:00Z", NULL, NULL, "3" },
  { "survey", "2024-04-05T10:00:00Z", NULL, "nps", "7" },
  { "survey", "2024-04-05T10:00:00Z", NULL, NULL, "8" },
  { "survey", "2024-04-06T10:00:00Z", NULL, "csat", "2" },
  { "purchase", "2024-05-01T10:00:00Z", "0.1", NULL, NULL },
  { "purchase", "2023-12-31T23:00:00Z", "7", NULL, NULL },
  { "login", "2024-06-01T10:00:00Z", NULL, NULL, NULL },
};

static void
record_events (StTestStore *fx, const char *ref, const Event *events, guint n,
               const char *key_prefix)
{
  for (guint i = 0; i < n; i++)
    {
      g_auto (GVariantDict) data = G_VARIANT_DICT_INIT (NULL);
      g_auto (GVariantDict) payload = G_VARIANT_DICT_INIT (NULL);
      g_autofree char *key = g_strdup_printf ("%s%u", key_prefix, i);
      g_autoptr (GVariant) dict = NULL, event = NULL;
      g_autoptr (GError) error = NULL;

      g_variant_dict_insert (&data, "at", "s", events[i].at);
      g_variant_dict_insert (&data, "key", "s", key);
      if (events[i].amount != NULL)
        g_variant_dict_insert (&data, "amount", "d",
                               g_ascii_strtod (events[i].amount, NULL));
      if (events[i].type != NULL)
        g_variant_dict_insert (&payload, "type", "s", events[i].type);
      if (events[i].score != NULL)
        g_variant_dict_insert (&payload, "score", "x",
                               g_ascii_strtoll (events[i].score, NULL, 10));
      g_variant_dict_insert_value (&data, "data", g_variant_dict_end (&payload));
      dict = g_variant_ref_sink (g_variant_dict_end (&data));
      event = st_events_record (fx->store, ref, events[i].kind, dict, &error);
      g_assert_no_error (error);
    }
}

static char *
events_csv (const char *ref, const Event *events, guint n,
            const char *key_prefix)
{
  GString *csv = g_string_new ("customer,kind,at,amount,key,data.type,"
                               "data.score\n");

  for (guint i = 0; i < n; i++)
    g_string_append_printf (csv, "%s,%s,%s,%s,%s%u,%s,%s\n", ref,
                            events[i].kind, events[i].at,
                            events[i].amount ? events[i].amount : "",
                            key_prefix, i, events[i].type ? events[i].type : "",
                            events[i].score ? events[i].score : "");
  return g_string_free (csv, FALSE);
}

/* What the events made of customer @ref: its aggregates and per-kind
 * times, as text. */
static char *
aggregates (StTestStore *fx, const char *ref)
{
  g_autofree char *sql = g_strdup_printf (
      "SELECT concat_ws(' | ', first_purchase_at, last_purchase_at,"
      "  purchase_count, revenue, last_contact_at, last_event_at,"
      "  event_count, open_tickets, last_nps, last_nps_at,"
      "  (SELECT string_agg(concat_ws(' ', kind, first_at, last_at, count),"
      "                     ', ' ORDER BY kind)"
      "     FROM customer_event_kinds k WHERE k.customer_id = c.id))"
      " FROM customers c WHERE ref = '%s'", ref);

  return st_test_db_query (fx->db, sql);
}

static void
test_same_aggregates (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autofree char *fresh_csv = events_csv ("imported-new", batch,
                                           G_N_ELEMENTS (batch), "b");
  g_autofree char *more_csv = events_csv ("imported", batch,
                                          G_N_ELEMENTS (batch), "b");
  g_autoptr (Outcome) fresh = NULL, more = NULL;
  g_autofree char *recorded = NULL, *imported = NULL;
  g_autofree char *recorded_new = NULL, *imported_new = NULL;

  /* Two customers with the same history; then the same batch, one by
   * RecordEvent, the other by import. */
  for (const char *const *ref = (const char *const[]){ "recorded", "imported",
                                                       "recorded-new", NULL };
       *ref != NULL; ref++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) fields = st_test_parsed (
          "{'name': <%s>, 'ref': <%s>}", *ref, *ref);
      g_autoptr (GVariant) c = st_customers_create (fx->store, fx->config,
                                                    fields, "test", &error);

      g_assert_no_error (error);
    }
  record_events (fx, "recorded", history, G_N_ELEMENTS (history), "h");
  record_events (fx, "imported", history, G_N_ELEMENTS (history), "h");
  record_events (fx, "recorded", batch, G_N_ELEMENTS (batch), "b");
  more = import_ok (fx, ST_IMPORT_EVENTS, more_csv, NULL);
  assert_counts (more, G_N_ELEMENTS (batch), G_N_ELEMENTS (batch), 0, 0, 0, 0);
  recorded = aggregates (fx, "recorded");
  imported = aggregates (fx, "imported");
  g_assert_cmpstr (imported, ==, recorded);

  /* And for a customer the import creates. */
  record_events (fx, "recorded-new", batch, G_N_ELEMENTS (batch), "b");
  fresh = import_ok (fx, ST_IMPORT_EVENTS, fresh_csv, NULL);
  recorded_new = aggregates (fx, "recorded-new");
  imported_new = aggregates (fx, "imported-new");
  g_assert_cmpstr (imported_new, ==, recorded_new);
  /* Open tickets folded with the clamp: 1 before the batch, then 0, 0,
   * 1, 2, 1 (a plain sum would give 0). */
  g_assert_cmpint (query_int (fx, "SELECT open_tickets FROM customers WHERE "
                                  "ref = 'imported'"), ==, 1);
}

/* Care jobs and the recent window ---------------------------------------------- */

static char *
plan_thanks (gpointer data, const char *trigger)
{
  (void) data;
  if (g_str_equal (trigger, "purchase"))
    return g_strdup ("[{\"name\": \"thanks\", \"delay\": 0, \"recent\": 604800},"
                     " {\"name\": \"always\", \"delay\": 60}]");
  if (g_str_equal (trigger, "stage:lead"))
    return g_strdup ("[{\"name\": \"hello\", \"delay\": 0}]");
  return NULL;
}

static void
test_recent_window (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  StTriggers triggers = { NULL, plan_thanks, NULL };
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) hour_ago = g_date_time_add_hours (now, -1);
  g_autoptr (GDateTime) month_ago = g_date_time_add_days (now, -30);
  g_autofree char *recent = g_date_time_format_iso8601 (hour_ago);
  g_autofree char *old = g_date_time_format_iso8601 (month_ago);
  g_autofree char *csv = g_strdup_printf (
      "customer,kind,at,key\n"
      "a,purchase,%s,old\n"
      "a,purchase,%s,new\n"
      "a,login,%s,in\n",
      old, recent, recent);
  g_autoptr (Outcome) o = NULL, again = NULL;
  gint64 new_id;

  st_store_set_triggers (fx->store, &triggers);
  o = import_ok (fx, ST_IMPORT_EVENTS, csv, NULL);
  new_id = query_int (fx, "SELECT id FROM events WHERE idem_key = 'new'");
  /* The recent purchase: both scripts; the old one: only the script
   * without a window; the new customer: its stage entry. */
  g_assert_cmpint (count (o, "jobs"), ==, 4);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM care_jobs WHERE key "
                                  "= 'event:%" G_GINT64_FORMAT ":thanks' AND "
                                  "trigger = 'purchase' AND event_id = %"
                                  G_GINT64_FORMAT, new_id, new_id), ==, 1);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM care_jobs j JOIN "
                                  "events e ON e.id = j.event_id WHERE "
                                  "e.idem_key = 'old'"), ==, 1);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM care_jobs WHERE "
                                  "script = 'always' AND due_at > now() + "
                                  "interval '30 s'"), ==, 2);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM care_jobs j JOIN "
                                  "stage_history h ON j.key = 'stage:' || "
                                  "h.id || ':hello' WHERE j.trigger = "
                                  "'stage:lead'"), ==, 1);
  /* Imported again: no job twice. */
  again = import_ok (fx, ST_IMPORT_EVENTS, csv, NULL);
  g_assert_cmpint (count (again, "jobs"), ==, 0);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM care_jobs"), ==, 4);
  st_store_set_triggers (fx->store, NULL);
}

static void
test_config_recent (void)
{
  g_autoptr (StConfig) defaults = st_config_new_default ();
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) month = st_config_load_from_data (
      "care:\n  workers: 2\n  recent: 30d\n", -1, "test.yaml", &error);
  const char *bad[][2] = {
    { "care:\n  recent: 30\n", "test.yaml:2:11: 'recent' must be a duration" },
    { "care:\n  recent: 10s\n", "test.yaml:2:11: 'recent' must be a duration "
                                "from 1m to 36500d" },
    { "care: {recent: }\n", "'recent' has no value" },
  };

  g_assert_cmpuint (defaults->care_recent_ms, ==, 7 * 86400 * 1000);
  g_assert_no_error (error);
  g_assert_cmpuint (month->care_recent_ms, ==, G_GUINT64_CONSTANT (30) * 86400 * 1000);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) e = NULL;
      g_autoptr (StConfig) config = st_config_load_from_data (bad[i][0], -1,
                                                              "test.yaml", &e);

      g_assert_null (config);
      g_assert_error (e, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
      st_test_assert_contains (e->message, bad[i][1]);
    }
}

/* Customers ------------------------------------------------------------------- */

static void
test_customers_basic (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  const char *csv =
      "ref,name,email,phone,locale,tz,owner,tags,attr.plan\n"
      "r1,Ann,ann@example.com,+33 1 23 45 67 89,fr,Europe/Paris,carol,"
      "\"vip, beta\",pro\n"
      "r2,,bob@example.com,,,,,,\n"
      ",Cy,cy@example.com,,,,,gold,\n";
  const char *edited =
      "ref,name,email,phone,locale,tz,owner,tags,attr.plan\n"
      "r1,Ann,ann@example.com,+33 1 23 45 67 89,fr,Europe/Paris,carol,"
      "\"vip, beta\",pro\n"
      "r2,Bob,,,,,,new,\n"
      ",,cy@example.com,,de,,,,basic\n";
  g_autoptr (Outcome) first = import_ok (fx, ST_IMPORT_CUSTOMERS, csv, NULL);
  g_autoptr (Outcome) again = NULL, changed = NULL;
  g_autofree char *before = NULL, *after = NULL;

  assert_counts (first, 3, 3, 0, 0, 0, 0);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM customers WHERE ref "
                                  "= 'r1' AND name = 'Ann' AND tz = "
                                  "'Europe/Paris' AND owner = 'carol' AND "
                                  "tags = '{beta,vip}' AND attrs = "
                                  "'{\"plan\": \"pro\"}'"), ==, 1);
  /* Without a name: named after the ref, else the e-mail. */
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM customers WHERE "
                                  "(ref = 'r2' AND name = 'r2') OR (ref IS "
                                  "NULL AND name = 'Cy')"), ==, 2);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM stage_history WHERE "
                                  "reason = 'import'"), ==, 3);

  before = snapshot (fx);
  again = import_ok (fx, ST_IMPORT_CUSTOMERS, csv, NULL);
  assert_counts (again, 3, 0, 0, 3, 0, 0);
  after = snapshot (fx);
  g_assert_cmpstr (after, ==, before);

  /* Empty cells keep what is there; tags are added, attributes merged; a
   * row without a ref finds its customer by e-mail. */
  changed = import_ok (fx, ST_IMPORT_CUSTOMERS, edited, NULL);
  assert_counts (changed, 3, 0, 2, 1, 0, 0);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM customers WHERE ref "
                                  "= 'r2' AND name = 'Bob' AND email = "
                                  "'bob@example.com' AND tags = '{new}'"),
                   ==, 1);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM customers WHERE "
                                  "email = 'cy@example.com' AND name = 'Cy' "
                                  "AND locale = 'de' AND tags = '{gold}' AND "
                                  "attrs = '{\"plan\": \"basic\"}'"), ==, 1);
}

/* Excel's "Unicode Text" is UTF-16 (little-endian, with its byte-order
 * mark), tab-separated: it reads as UTF-8 would. */
static void
test_customers_utf16 (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  const char *text = "\xEF\xBB\xBFref\tname\r\nr1\tZo\xC3\xAB \xC3\x9Cnal\r\n"
                     "r2\t\"Bj\xC3\xB6rk\"\r\n";
  g_autoptr (GError) error = NULL;
  gsize len = 0;
  g_autofree char *utf16 = g_convert (text, -1, "UTF-16LE", "UTF-8", NULL,
                                      &len, &error);
  g_autoptr (Outcome) o = NULL;

  g_assert_no_error (error);
  g_assert_cmpint ((guchar) utf16[0], ==, 0xFF);
  o = import_bytes (fx, ST_IMPORT_CUSTOMERS, utf16, len,
                    "{'delimiter': <'tab'>}");
  g_assert_no_error (o->error);
  assert_counts (o, 2, 2, 0, 0, 0, 0);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM customers WHERE "
                                  "(ref = 'r1' AND name = 'Zoë Ünal') OR "
                                  "(ref = 'r2' AND name = 'Björk')"), ==, 2);
}

/* What spreadsheets and hand-edited files do to the shape of a file:
 * headers in capitals, rows of empty cells (a cleared row of Excel's used
 * range), rows with a field too many, rows cut short. */
static void
test_customers_file_shapes (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (Outcome) o = import_ok (
      fx, ST_IMPORT_CUSTOMERS,
      "Ref,Name,EMAIL,Attr.Plan\n"                 /* 1 */
      "r1,Ann,ann@example.com,gold\n"              /* 2 */
      ",,,\n"                                      /* 3: blank */
      " , ,\"\", \n"                               /* 4: blank */
      "r2,Bob,,\n"                                 /* 5 */
      "r3,Cy,,,x\n"                                /* 6: a value too many */
      "r4,Di\n"                                    /* 7: too few */
      ",,,\n"                                      /* 8: blank */
      "r5,\"1,5\",,,\n"                             /* 9: extras empty */
      "r6\n"                                       /* 10 */
      "1.23457E+11,Ed,,\n",                        /* 11 */
      NULL);

  assert_counts (o, 7, 2, 0, 0, 5, 0);
  st_test_assert_contains (o->rejects, "11,\"ref: '1.23457E+11' is a number "
                                       "a spreadsheet rounded");
  st_test_assert_contains (o->rejects, "10,\"the row has 1 field but the "
                                       "header has 4");
  st_test_assert_contains (o->rejects,
                           "6,\"the row has 5 fields but the header has 4 "
                           "(a delimiter inside a value that is not in "
                           "quotes?)\"");
  /* Empty extra fields are no proof of a trailing delimiter: a value
   * split at a comma shifts the cells to the right just the same. */
  st_test_assert_contains (o->rejects, "9,\"the row has 5 fields");
  st_test_assert_contains (o->rejects,
                           "7,\"the row has 2 fields but the header has 4 "
                           "(a line break inside a value that is not in "
                           "quotes, or a row cut short?)\"");
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM customers WHERE "
                                  "(ref = 'r1' AND email = 'ann@example.com' "
                                  "AND attrs = '{\"Plan\": \"gold\"}') OR "
                                  "(ref = 'r2' AND name = 'Bob')"), ==, 2);
}

/* Excel's plain "CSV" on Windows is Windows-1252: --encoding reads it. */
static void
test_customers_encoding (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  const char *csv = "ref;name\r\nr1;Zo\xEB \xDCnal\r\n";
  g_autoptr (Outcome) plain = import_ok (fx, ST_IMPORT_CUSTOMERS, csv,
                                         "{'delimiter': <';'>}");
  g_autoptr (Outcome) o = import_ok (fx, ST_IMPORT_CUSTOMERS, csv,
                                     "{'delimiter': <';'>, 'encoding': "
                                     "<'windows-1252'>}");

  /* Without it the row is refused, never stored garbled. */
  assert_counts (plain, 1, 0, 0, 0, 1, 0);
  st_test_assert_contains (plain->rejects, "--encoding windows-1252");
  assert_counts (o, 1, 1, 0, 0, 0, 0);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM customers WHERE "
                                  "ref = 'r1' AND name = 'Zoë Ünal'"), ==, 1);
  assert_refused (fx, ST_IMPORT_CUSTOMERS, csv, "{'encoding': <'klingon'>}",
                  "encoding: 'klingon' is not an encoding");
}

/* Two rows that find one existing customer, one by its ref and one by its
 * e-mail: applying both would leave whichever the database picks, a new
 * pick on every import. The one without the ref is refused. */
static void
test_customers_one_customer_twice (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) fields = st_test_parsed (
      "{'name': <'Ann'>, 'ref': <'r1'>, 'email': <'ann@example.com'>}");
  g_autoptr (GVariant) ann = st_customers_create (fx->store, fx->config,
                                                  fields, "test", &error);
  const char *csv = "ref,email,name\nr1,,Ann B\n,ANN@example.com,Anna\n";
  g_autoptr (Outcome) first = NULL, again = NULL;
  g_autofree char *before = NULL, *after = NULL;

  g_assert_no_error (error);
  first = import_ok (fx, ST_IMPORT_CUSTOMERS, csv, NULL);
  assert_counts (first, 2, 0, 1, 0, 1, 0);
  st_test_assert_contains (first->rejects, "3,\"email: 'ANN@example.com' "
                                           "finds customer ");
  st_test_assert_contains (first->rejects, ", which line 2 names by its "
                                           "ref; give each customer one "
                                           "row\"");
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM customers WHERE "
                                  "name = 'Ann B'"), ==, 1);
  before = snapshot (fx);
  again = import_ok (fx, ST_IMPORT_CUSTOMERS, csv, NULL);
  assert_counts (again, 2, 0, 0, 1, 1, 0);
  after = snapshot (fx);
  g_assert_cmpstr (after, ==, before);
}

static void
test_customers_rejects (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) fields = st_test_parsed (
      "{'name': <'Taken'>, 'ref': <'t'>, 'email': <'taken@example.com'>}");
  g_autoptr (GVariant) taken = st_customers_create (fx->store, fx->config,
                                                    fields, "test", &error);
  g_autoptr (Outcome) o = NULL;
  const char *expected[] = {
    "line,reason\n",
    "3,\"email: 'not-an-address'",
    "4,\"ref: the row has neither a ref nor an e-mail",
    "5,\"ref: 'a' is also on line 2; give each customer one row\"\n",
    "6,\"email: 'A@example.com' is also on line 2",
    "7,\"tz: 'Mars/Olympus'",
    "8,\"Tag",
    "9,\"email: 'TAKEN@example.com' is already used by customer ",
  };
  const char *at;

  g_assert_no_error (error);
  o = import_ok (fx, ST_IMPORT_CUSTOMERS,
                 "ref,email,tz,tags\n"
                 "a,a@example.com,,\n"
                 "b,not-an-address,,\n"
                 ",,UTC,\n"
                 "a,other@example.com,,\n"
                 "c,A@example.com,,\n"
                 "d,,Mars/Olympus,\n"
                 "e,,,bad tag!\n"
                 "f,TAKEN@example.com,,\n",
                 NULL);
  assert_counts (o, 8, 1, 0, 0, 7, 0);
  at = o->rejects;
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      const char *found = strcasestr (at, expected[i]);

      if (found == NULL)
        g_error ("expected, in order, '%s' in the rejects:\n%s", expected[i],
                 o->rejects);
      at = found + strlen (expected[i]);
    }
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM customers"), ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/import/events/basic", test_events_basic);
  g_test_add_func ("/import/events/field-names-and-rules",
                   test_events_field_names);
  g_test_add_func ("/import/events/bad-rows", test_events_bad_rows);
  g_test_add_func ("/import/events/refused", test_events_refused);
  g_test_add_func ("/import/events/decimal-comma-in-quotes",
                   test_events_decimal_comma_in_quotes);
  g_test_add_func ("/import/events/sep-line", test_events_sep_line);
  g_test_add_func ("/import/events/semicolon-amounts",
                   test_events_semicolon_amounts);
  g_test_add_func ("/import/events/no-create", test_events_no_create);
  g_test_add_func ("/import/events/chunks-and-resume", test_events_chunks);
  g_test_add_func ("/import/events/same-aggregates-as-record-event",
                   test_same_aggregates);
  g_test_add_func ("/import/events/recent-window", test_recent_window);
  g_test_add_func ("/import/config/recent", test_config_recent);
  g_test_add_func ("/import/customers/basic", test_customers_basic);
  g_test_add_func ("/import/customers/rejects", test_customers_rejects);
  g_test_add_func ("/import/customers/one-customer-twice",
                   test_customers_one_customer_twice);
  g_test_add_func ("/import/customers/utf16", test_customers_utf16);
  g_test_add_func ("/import/customers/encoding", test_customers_encoding);
  g_test_add_func ("/import/customers/file-shapes",
                   test_customers_file_shapes);
  return g_test_run ();
}
