/* Tests for core/st-reports.c: `stewardctl report funnel | health | nps`
 * and the Reports methods behind them, end to end: the real stewardd on a
 * private bus with a fresh database, the real stewardctl. Each case builds
 * its own customers under an owner of its own and reads the reports
 * narrowed to that owner, so the cases do not see each other; the
 * expected figures are worked out by hand from what was built. */

#include "st-test-util.h"

#include "st-error.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#define DAY ((gint64) 86400)

static StTestDaemon *the_daemon;

/* Building customers ------------------------------------------------------ */

/* A customer of @owner (with @tag, when not NULL), in the first stage;
 * its id. */
static gint64
add_customer (const char *owner, const char *name, const char *tag)
{
  g_autoptr (GVariant) reply = NULL, record = NULL;
  g_autofree char *fields = g_strdup_printf (
      "({'name': <'%s'>, 'owner': <'%s'>, 'tags': <[%s%s%s]>},)", name, owner,
      tag ? "'" : "", tag ? tag : "", tag ? "'" : "");
  g_autoptr (GError) error = NULL;

  if (tag == NULL)
    {
      g_free (fields);
      fields = g_strdup_printf ("({'name': <'%s'>, 'owner': <'%s'>},)", name,
                                owner);
    }
  reply = st_test_daemon_call (the_daemon, "Customers", "Create",
                               g_variant_new_parsed (fields), &error);
  g_assert_no_error (error);
  record = g_variant_get_child_value (reply, 0);
  return st_test_rec_int64 (record, "id");
}

static char *
address (gint64 id)
{
  return g_strdup_printf ("id:%" G_GINT64_FORMAT, id);
}

/* Move the customer along the stages given, one after the other. */
static void
move (gint64 id, ...)
{
  g_autofree char *who = address (id);
  va_list ap;

  va_start (ap, id);
  for (const char *stage = va_arg (ap, const char *); stage != NULL;
       stage = va_arg (ap, const char *))
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) reply = st_test_daemon_call (
          the_daemon, "Customers", "SetStage",
          g_variant_new ("(sss)", who, stage, "test"), &error);

      g_assert_no_error (error);
    }
  va_end (ap);
}

/* An NPS (or other) survey @days_ago days ago. */
static void
add_survey (gint64 id, double days_ago, int score, const char *type)
{
  g_autoptr (GDateTime) at = g_date_time_new_from_unix_utc (
      g_get_real_time () / G_USEC_PER_SEC - (gint64) (days_ago * DAY));
  g_autofree char *iso = g_date_time_format_iso8601 (at);
  g_autofree char *who = address (id);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  GVariantDict data, fields;

  g_variant_dict_init (&data, NULL);
  g_variant_dict_insert (&data, "score", "x", (gint64) score);
  if (type != NULL)
    g_variant_dict_insert (&data, "type", "s", type);
  g_variant_dict_init (&fields, NULL);
  g_variant_dict_insert (&fields, "at", "s", iso);
  g_variant_dict_insert_value (&fields, "data", g_variant_dict_end (&data));
  reply = st_test_daemon_call (the_daemon, "Customers", "RecordEvent",
                               g_variant_new ("(ss@a{sv})", who, "survey",
                                              g_variant_dict_end (&fields)),
                               &error);
  g_assert_no_error (error);
}

/* A survey at an ISO-8601 time. */
static void
add_survey_at (gint64 id, const char *iso, int score)
{
  g_autofree char *who = address (id);
  g_autofree char *fields = g_strdup_printf (
      "('%s', 'survey', {'at': <'%s'>, 'data': <{'score': <%d>}>})", who,
      iso, score);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;

  reply = st_test_daemon_call (the_daemon, "Customers", "RecordEvent",
                               g_variant_new_parsed (fields), &error);
  g_assert_no_error (error);
}

static void
sql (const char *format, ...) G_GNUC_PRINTF (1, 2);

static void
sql (const char *format, ...)
{
  g_autofree char *text = NULL, *statement = NULL;
  va_list ap;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  /* The helper reads a result: the statement returns one. */
  statement = g_strconcat (text, " RETURNING 1", NULL);
  g_free (st_test_db_query (the_daemon->db, statement));
}

/* Running the reports ------------------------------------------------------ */

typedef struct {
  int status;
  char *out, *err;
} Ctl;

static void
ctl_free (Ctl *ctl)
{
  g_free (ctl->out);
  g_free (ctl->err);
  g_free (ctl);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Ctl, ctl_free)

G_GNUC_NULL_TERMINATED
static Ctl *
ctl (const char *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  Ctl *ctl = g_new0 (Ctl, 1);
  va_list ap;

  va_start (ap, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  ctl->status = st_test_ctlv (the_daemon, &ctl->out, &ctl->err,
                              (const char *const *) argv->pdata);
  if (st_test_log_has_problem (ctl->err))
    g_error ("stewardctl reported a problem:\n%s", ctl->err);
  return ctl;
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

/* The report a `--json` run printed; the run must have succeeded. */
static GVariant *
json_report (Ctl *run)
{
  g_autoptr (GError) error = NULL;
  GVariant *report;

  g_assert_cmpstr (run->err, ==, "");
  g_assert_cmpint (run->status, ==, 0);
  report = json_gvariant_deserialize_data (run->out, -1, "a{sv}", &error);
  g_assert_no_error (error);
  return g_variant_ref_sink (report);
}

/* Reports.@method over the bus with @options (GVariant text). */
static GVariant *
call_report (const char *method, const char *options, GError **error)
{
  g_autofree char *params = g_strdup_printf ("(%s,)", options);
  g_autoptr (GVariant) reply = st_test_daemon_call (
      the_daemon, "Reports", method, g_variant_new_parsed (params), error);

  return reply ? g_variant_get_child_value (reply, 0) : NULL;
}

/* The list @key of a report: aa{sv} from the bus, av of a{sv} from JSON. */
static GVariant *
list_of (GVariant *record, const char *key)
{
  GVariant *list = g_variant_lookup_value (record, key, NULL);

  if (list == NULL || !g_variant_is_of_type (list, G_VARIANT_TYPE_ARRAY))
    {
      g_autofree char *text = st_test_print_value (record);
      g_error ("expected the list '%s' in %s", key, text);
    }
  return list;
}

/* Item @i of such a list, as a{sv}. */
static GVariant *
list_item (GVariant *list, gsize i)
{
  g_autoptr (GVariant) item = g_variant_get_child_value (list, i);

  if (g_variant_is_of_type (item, G_VARIANT_TYPE_VARIANT))
    return g_variant_get_variant (item);
  return g_steal_pointer (&item);
}

/* The member of list @key of @record whose @field is @value. */
static GVariant *
find_in (GVariant *record, const char *key, const char *field,
         const char *value)
{
  g_autoptr (GVariant) list = list_of (record, key);

  for (gsize i = 0; i < g_variant_n_children (list); i++)
    {
      GVariant *item = list_item (list, i);

      if (g_strcmp0 (st_test_lookup_str (item, field), value) == 0)
        return item;
      g_variant_unref (item);
    }
  return NULL;
}

static void
assert_refused (const char *method, const char *options, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) report = call_report (method, options, &error);

  g_assert_null (report);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  st_test_assert_contains (error->message, needle);
}

/* Funnel ------------------------------------------------------------------- */

/* A stage of the funnel: customers in it now, entries, entries still
 * there, and "next:count" for each next stage in the order given. */
static void
assert_stage (GVariant *report, const char *name, gint64 now, gint64 entered,
              gint64 stayed, const char *next)
{
  g_autoptr (GVariant) stage = find_in (report, "stages", "stage", name);
  g_autoptr (GVariant) moves = NULL;
  g_autoptr (GString) seen = g_string_new (NULL);

  g_assert_nonnull (stage);
  g_assert_cmpint (st_test_rec_int64 (stage, "customers"), ==, now);
  g_assert_cmpint (st_test_rec_int64 (stage, "entered"), ==, entered);
  g_assert_cmpint (st_test_rec_int64 (stage, "stayed"), ==, stayed);
  moves = list_of (stage, "next");
  for (gsize i = 0; i < g_variant_n_children (moves); i++)
    {
      g_autoptr (GVariant) m = list_item (moves, i);
      gint64 count = st_test_rec_int64 (m, "customers");

      g_string_append_printf (seen, "%s%s:%" G_GINT64_FORMAT,
                              seen->len ? " " : "",
                              st_test_rec_str (m, "stage"), count);
      g_assert_cmpfloat_with_epsilon (num (m, "share"),
                                      (double) count / entered, 1e-9);
    }
  g_assert_cmpstr (seen->str, ==, next);
}

/* Five customers of one owner: Ana and Bea (tagged) and Cyd moved on
 * from lead, Dan stayed, Eve came 60 days ago and stayed (her history is
 * moved back in time). */
static void
funnel_customers (void)
{
  gint64 ana = add_customer ("funnel", "Ana", "vip");
  gint64 bea = add_customer ("funnel", "Bea", "vip");
  gint64 cyd = add_customer ("funnel", "Cyd", NULL);
  gint64 eve = add_customer ("funnel", "Eve", NULL);

  add_customer ("funnel", "Dan", NULL);
  move (ana, "onboarding", "active", NULL);
  move (bea, "onboarding", NULL);
  move (cyd, "onboarding", "active", "at_risk", NULL);
  sql ("UPDATE stage_history SET changed_at = now() - interval '60 days'"
       " WHERE customer_id = %" G_GINT64_FORMAT, eve);
}

static void
test_funnel (void)
{
  g_autoptr (Ctl) run = NULL, text = NULL, longer = NULL, tagged = NULL;
  g_autoptr (GVariant) report = NULL, all = NULL, vip = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) since = NULL, until = NULL;
  g_autoptr (GVariant) stages = NULL, first = NULL, last = NULL;

  funnel_customers ();
  run = ctl ("report", "funnel", "--owner", "funnel", "--json", NULL);
  report = json_report (run);
  g_assert_cmpint (st_test_rec_int64 (report, "customers"), ==, 5);
  /* The default period: the last 30 days. */
  since = g_date_time_new_from_iso8601 (st_test_rec_str (report, "since"),
                                        NULL);
  until = g_date_time_new_from_iso8601 (st_test_rec_str (report, "until"),
                                        NULL);
  g_assert_cmpint (g_date_time_difference (until, since) / G_TIME_SPAN_DAY,
                   ==, 30);
  g_assert_cmpint (llabs (g_date_time_difference (now, until)), <,
                   60 * G_TIME_SPAN_SECOND);
  assert_stage (report, "lead", 2, 4, 1, "onboarding:3");
  assert_stage (report, "onboarding", 1, 3, 1, "active:2");
  assert_stage (report, "active", 1, 2, 1, "at_risk:1");
  assert_stage (report, "at_risk", 1, 1, 1, "");
  assert_stage (report, "churned", 0, 0, 0, "");
  /* The configured order. */
  stages = list_of (report, "stages");
  g_assert_cmpuint (g_variant_n_children (stages), ==, 5);
  first = list_item (stages, 0);
  last = list_item (stages, 4);
  g_assert_cmpstr (st_test_rec_str (first, "stage"), ==, "lead");
  g_assert_cmpstr (st_test_rec_str (last, "stage"), ==, "churned");

  /* Over 90 days Eve's arrival counts too. */
  longer = ctl ("--json", "report", "funnel", "--owner", "funnel", "--days",
                "90", NULL);
  all = json_report (longer);
  assert_stage (all, "lead", 2, 5, 2, "onboarding:3");

  tagged = ctl ("report", "funnel", "--owner", "funnel", "--tag", "vip",
                "--json", NULL);
  vip = json_report (tagged);
  g_assert_cmpint (st_test_rec_int64 (vip, "customers"), ==, 2);
  assert_stage (vip, "lead", 0, 2, 0, "onboarding:2");
  assert_stage (vip, "onboarding", 1, 2, 1, "active:1");

  text = ctl ("report", "funnel", "--owner", "funnel", NULL);
  g_test_message ("%s", text->out);
  g_assert_cmpint (text->status, ==, 0);
  g_assert_cmpstr (text->err, ==, "");
  st_test_assert_contains (text->out, "Customers:");
  st_test_assert_contains (text->out, "STAGE");
  st_test_assert_contains (text->out, "MOVED ON TO");
  st_test_assert_contains (text->out, "onboarding 3 (75%)");
  st_test_assert_contains (text->out, "active 2 (67%)");
}

/* --since starts the period at a time: 45 days ago leaves Eve out. */
static void
test_funnel_since (void)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) at = g_date_time_add_days (now, -45);
  g_autofree char *since = g_date_time_format_iso8601 (at);
  g_autoptr (Ctl) run = NULL;
  g_autoptr (GVariant) report = NULL;
  gint64 fay = add_customer ("funnel-since", "Fay", NULL);
  gint64 gus = add_customer ("funnel-since", "Gus", NULL);

  move (fay, "onboarding", NULL);
  sql ("UPDATE stage_history SET changed_at = now() - interval '60 days'"
       " WHERE customer_id = %" G_GINT64_FORMAT, gus);
  run = ctl ("report", "funnel", "--owner", "funnel-since", "--since", since,
             "--json", NULL);
  report = json_report (run);
  assert_stage (report, "lead", 1, 1, 0, "onboarding:1");
  assert_stage (report, "onboarding", 1, 1, 1, "");
}

/* On the bus, a since without an offset is UTC, a date midnight UTC. */
static void
test_funnel_since_utc (void)
{
  static const struct {
    const char *since, *expected;
  } cases[] = {
    { "2024-01-01T09:30:00", "2024-01-01T09:30:00Z" },
    { "2024-01-01", "2024-01-01T00:00:00Z" },
    { "2024-01-01T09:30:00+01:00", "2024-01-01T08:30:00Z" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *options = g_strdup_printf (
          "{'owner': <'funnel-utc'>, 'since': <'%s'>}", cases[i].since);
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) report = call_report ("Funnel", options, &error);

      g_assert_no_error (error);
      st_test_assert_time (cases[i].since, st_test_rec_str (report, "since"),
                           cases[i].expected);
    }
}

/* A stage the configuration no longer has is still shown, last. */
static void
test_funnel_unconfigured_stage (void)
{
  g_autoptr (GVariant) report = NULL, old = NULL;
  gint64 hal = add_customer ("funnel-old", "Hal", NULL);

  sql ("UPDATE customers SET stage = 'trial' WHERE id = %" G_GINT64_FORMAT,
       hal);
  sql ("INSERT INTO stage_history (customer_id, from_stage, to_stage, actor)"
       " VALUES (%" G_GINT64_FORMAT ", 'lead', 'trial', 'test')", hal);
  report = call_report ("Funnel", "{'owner': <'funnel-old'>}", NULL);
  g_assert_nonnull (report);
  assert_stage (report, "lead", 0, 1, 0, "trial:1");
  assert_stage (report, "trial", 1, 1, 1, "");
  old = find_in (report, "stages", "stage", "trial");
  g_assert_false (st_test_rec_bool (old, "configured"));
}

static void
test_funnel_empty (void)
{
  g_autoptr (Ctl) run = ctl ("report", "funnel", "--owner", "nobody-at-all",
                             "--json", NULL);
  g_autoptr (Ctl) text = ctl ("report", "funnel", "--owner", "nobody-at-all",
                              NULL);
  g_autoptr (GVariant) report = json_report (run);

  g_assert_cmpint (st_test_rec_int64 (report, "customers"), ==, 0);
  assert_stage (report, "lead", 0, 0, 0, "");
  g_assert_cmpint (text->status, ==, 0);
  st_test_assert_contains (text->out, "lead");
}

/* Health ------------------------------------------------------------------ */

/* Six scored customers and one not yet scored:
 *   5 high   recency -30, nps -10, spend 5
 *  20 high   recency -10, nps -20, spend -5
 *  40 medium recency -5
 *  50 medium recency 0
 *  80 low,  100 low
 * The scores are set as the health script would: the columns it writes. */
static void
health_customers (gint64 *lowest)
{
  static const struct {
    int score;
    const char *risk, *factors;
  } rows[] = {
    { 40, "medium", "{\"recency\": -5}" },
    { 5, "high", "{\"recency\": -30, \"nps\": -10, \"spend\": 5}" },
    { 100, "low", "{\"recency\": 20}" },
    { 20, "high", "{\"recency\": -10, \"nps\": -20, \"spend\": -5.0}" },
    { 50, "medium", "{\"recency\": 0}" },
    { 80, "low", "{\"recency\": 10}" },
  };

  add_customer ("health", "Unscored", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autofree char *name = g_strdup_printf ("Scored %d", rows[i].score);
      gint64 id = add_customer ("health", name, NULL);

      sql ("UPDATE customers SET health_score = %d, risk_level = '%s',"
           " health_factors = '%s', health_updated_at = now()"
           " WHERE id = %" G_GINT64_FORMAT,
           rows[i].score, rows[i].risk, rows[i].factors, id);
      if (rows[i].score == 5)
        lowest[0] = id;
      if (rows[i].score == 20)
        lowest[1] = id;
    }
}

static void
assert_level (GVariant *list_owner, guint index, const char *level,
              gint64 customers, double mean, gint64 min, gint64 max)
{
  g_autoptr (GVariant) levels = list_of (list_owner, "levels");
  g_autoptr (GVariant) row = list_item (levels, index);

  g_assert_cmpstr (st_test_rec_str (row, "risk_level"), ==, level);
  g_assert_cmpint (st_test_rec_int64 (row, "customers"), ==, customers);
  g_assert_cmpfloat_with_epsilon (num (row, "share"),
                                  customers / 6.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (num (row, "mean_score"), mean,
                                  1e-9);
  g_assert_cmpint (st_test_rec_int64 (row, "min_score"), ==, min);
  g_assert_cmpint (st_test_rec_int64 (row, "max_score"), ==, max);
}

static void
assert_factor (GVariant *report, guint index, const char *name, double mean,
               gint64 customers, gint64 negative)
{
  g_autoptr (GVariant) factors = list_of (report, "factors");
  g_autoptr (GVariant) row = list_item (factors, index);

  g_assert_cmpstr (st_test_rec_str (row, "name"), ==, name);
  g_assert_cmpfloat_with_epsilon (num (row, "mean"), mean, 1e-9);
  g_assert_cmpint (st_test_rec_int64 (row, "customers"), ==, customers);
  g_assert_cmpint (st_test_rec_int64 (row, "negative"), ==, negative);
}

static void
test_health (void)
{
  static const gint64 buckets[] = { 1, 0, 1, 0, 1, 1, 0, 0, 1, 1 };
  gint64 lowest_ids[2] = { 0 };
  g_autoptr (Ctl) run = NULL, text = NULL, medium = NULL;
  g_autoptr (GVariant) report = NULL, lowest = NULL, first = NULL;
  g_autoptr (GVariant) list = NULL, factors = NULL, by_medium = NULL;
  g_autoptr (GVariant) medium_lowest = NULL;

  health_customers (lowest_ids);
  run = ctl ("report", "health", "--owner", "health", "--limit", "2", "--json",
             NULL);
  report = json_report (run);
  g_assert_cmpint (st_test_rec_int64 (report, "customers"), ==, 7);
  g_assert_cmpint (st_test_rec_int64 (report, "scored"), ==, 6);
  g_assert_cmpint (st_test_rec_int64 (report, "unscored"), ==, 1);
  g_assert_cmpfloat_with_epsilon (num (report, "mean"),
                                  295 / 6.0, 1e-9);
  g_assert_cmpint (st_test_rec_int64 (report, "min"), ==, 5);
  g_assert_cmpint (st_test_rec_int64 (report, "max"), ==, 100);
  g_assert_cmpint (st_test_rec_int64 (report, "p10"), ==, 5);
  g_assert_cmpint (st_test_rec_int64 (report, "p25"), ==, 20);
  g_assert_cmpint (st_test_rec_int64 (report, "median"), ==, 40);
  g_assert_cmpint (st_test_rec_int64 (report, "p75"), ==, 80);
  g_assert_cmpint (st_test_rec_int64 (report, "p90"), ==, 100);

  /* The worst level first. */
  assert_level (report, 0, "high", 2, 12.5, 5, 20);
  assert_level (report, 1, "medium", 2, 45, 40, 50);
  assert_level (report, 2, "low", 2, 90, 80, 100);

  list = list_of (report, "buckets");
  g_assert_cmpuint (g_variant_n_children (list), ==, 10);
  for (guint i = 0; i < 10; i++)
    {
      g_autoptr (GVariant) bucket = list_item (list, i);

      g_assert_cmpint (st_test_rec_int64 (bucket, "min_score"), ==, 10 * i);
      g_assert_cmpint (st_test_rec_int64 (bucket, "max_score"), ==,
                       i == 9 ? 100 : 10 * i + 9);
      g_assert_cmpint (st_test_rec_int64 (bucket, "customers"), ==,
                       buckets[i]);
    }

  /* What weighs on the two at high risk, the heaviest first. */
  g_assert_cmpstr (st_test_rec_str (report, "risk"), ==, "high");
  g_assert_cmpint (st_test_rec_int64 (report, "risk_customers"), ==, 2);
  factors = list_of (report, "factors");
  g_assert_cmpuint (g_variant_n_children (factors), ==, 3);
  assert_factor (report, 0, "recency", -20, 2, 2);
  assert_factor (report, 1, "nps", -15, 2, 2);
  assert_factor (report, 2, "spend", 0, 2, 1);

  lowest = list_of (report, "lowest");
  g_assert_cmpuint (g_variant_n_children (lowest), ==, 2);
  first = list_item (lowest, 0);
  g_assert_cmpint (st_test_rec_int64 (first, "id"), ==, lowest_ids[0]);
  g_assert_cmpstr (st_test_rec_str (first, "risk_level"), ==, "high");
  g_clear_pointer (&first, g_variant_unref);
  first = list_item (lowest, 1);
  g_assert_cmpint (st_test_rec_int64 (first, "id"), ==, lowest_ids[1]);

  medium = ctl ("report", "health", "--owner", "health", "--risk", "medium",
                "--json", NULL);
  by_medium = json_report (medium);
  g_assert_cmpint (st_test_rec_int64 (by_medium, "risk_customers"), ==, 2);
  assert_factor (by_medium, 0, "recency", -2.5, 2, 1);
  medium_lowest = list_of (by_medium, "lowest");
  g_assert_cmpuint (g_variant_n_children (medium_lowest), ==, 6);

  text = ctl ("report", "health", "--owner", "health", NULL);
  g_test_message ("%s", text->out);
  g_assert_cmpint (text->status, ==, 0);
  g_assert_cmpstr (text->err, ==, "");
  st_test_assert_contains (text->out, "7 (6 scored, 1 not yet)");
  st_test_assert_contains (text->out, "median 40");
  st_test_assert_contains (text->out, "p10 5, p25 20, p75 80, p90 100");
  st_test_assert_contains (text->out, "RISK");
  st_test_assert_contains (text->out, "at high risk");
  st_test_assert_contains (text->out, "recency");
  st_test_assert_contains (text->out, "Lowest scores:");
  st_test_assert_contains (text->out, "Scored 5");
  st_test_assert_contains (text->out, "recency -30.0");
}

static void
test_health_empty (void)
{
  g_autoptr (Ctl) run = ctl ("report", "health", "--owner", "nobody-at-all",
                             "--json", NULL);
  g_autoptr (Ctl) text = NULL;
  g_autoptr (GVariant) report = json_report (run);
  g_autoptr (GVariant) lowest = NULL;

  g_assert_cmpint (st_test_rec_int64 (report, "customers"), ==, 0);
  g_assert_cmpint (st_test_rec_int64 (report, "scored"), ==, 0);
  g_assert_null (g_variant_lookup_value (report, "mean", NULL));
  g_assert_null (g_variant_lookup_value (report, "median", NULL));
  lowest = list_of (report, "lowest");
  g_assert_cmpuint (g_variant_n_children (lowest), ==, 0);

  add_customer ("health-unscored", "Not Yet", NULL);
  text = ctl ("report", "health", "--owner", "health-unscored", NULL);
  g_assert_cmpint (text->status, ==, 0);
  st_test_assert_contains (text->out, "No health scores yet among the 1 "
                                      "customers");
}

/* NPS --------------------------------------------------------------------- */

/* In the last 90 days: Ines 0 then 10, Jo 9, Kim 9, Lou 8, Max 7, Ned 6
 * (and 0 120 days ago); Oda's CSAT survey is not NPS. */
static void
nps_customers (void)
{
  gint64 ines = add_customer ("nps", "Ines", NULL);
  gint64 jo = add_customer ("nps", "Jo", NULL);
  gint64 kim = add_customer ("nps", "Kim", NULL);
  gint64 lou = add_customer ("nps", "Lou", NULL);
  gint64 max = add_customer ("nps", "Max", NULL);
  gint64 ned = add_customer ("nps", "Ned", NULL);
  gint64 oda = add_customer ("nps", "Oda", NULL);

  add_survey (ines, 20, 0, NULL);
  add_survey (ines, 5, 10, "nps");
  add_survey (jo, 3, 9, NULL);
  add_survey (kim, 40, 9, NULL);
  add_survey (lou, 10, 8, NULL);
  add_survey (max, 50, 7, NULL);
  add_survey (ned, 2, 6, NULL);
  add_survey (ned, 120, 0, NULL);
  add_survey (oda, 1, 5, "csat");
}

static void
assert_nps (GVariant *report, gint64 responses, gint64 promoters,
            gint64 passives, gint64 detractors, double nps)
{
  g_assert_cmpint (st_test_rec_int64 (report, "responses"), ==, responses);
  g_assert_cmpint (st_test_rec_int64 (report, "promoters"), ==, promoters);
  g_assert_cmpint (st_test_rec_int64 (report, "passives"), ==, passives);
  g_assert_cmpint (st_test_rec_int64 (report, "detractors"), ==, detractors);
  g_assert_cmpfloat_with_epsilon (num (report, "nps"), nps,
                                  1e-9);
  g_assert_cmpfloat_with_epsilon (num (report,
                                                      "promoters_share"),
                                  (double) promoters / responses, 1e-9);
  g_assert_cmpfloat_with_epsilon (num (report,
                                                      "detractors_share"),
                                  (double) detractors / responses, 1e-9);
}

static void
test_nps (void)
{
  g_autoptr (Ctl) run = NULL, latest = NULL, longer = NULL, text = NULL;
  g_autoptr (GVariant) report = NULL, per_customer = NULL, all = NULL;

  nps_customers ();
  /* The default period, 90 days: 3 promoters, 2 passives, 2 detractors. */
  run = ctl ("report", "nps", "--owner", "nps", "--json", NULL);
  report = json_report (run);
  assert_nps (report, 7, 3, 2, 2, 100.0 / 7);
  g_assert_cmpint (st_test_rec_int64 (report, "customers"), ==, 6);
  g_assert_cmpfloat_with_epsilon (num (report, "mean_score"),
                                  7, 1e-9);
  g_assert_false (st_test_rec_bool (report, "per_customer"));
  g_assert_null (g_variant_lookup_value (report, "months", NULL));

  /* Each customer's latest: Ines counts once, as a promoter. */
  latest = ctl ("report", "nps", "--owner", "nps", "--per-customer", "--json",
                NULL);
  per_customer = json_report (latest);
  assert_nps (per_customer, 6, 3, 2, 1, 200.0 / 6);

  longer = ctl ("report", "nps", "--owner", "nps", "--days", "150", "--json",
                NULL);
  all = json_report (longer);
  assert_nps (all, 8, 3, 2, 3, 0);

  text = ctl ("report", "nps", "--owner", "nps", NULL);
  g_assert_cmpint (text->status, ==, 0);
  g_assert_cmpstr (text->err, ==, "");
  st_test_assert_contains (text->out, "NPS:");
  st_test_assert_contains (text->out, "+14");
  st_test_assert_contains (text->out, "7 from 6 customers");
  st_test_assert_contains (text->out, "3 (42.9%)");
}

/* Per calendar month, over a fixed stretch of the past. */
static void
test_nps_monthly (void)
{
  g_autoptr (Ctl) run = NULL, text = NULL;
  g_autoptr (GVariant) report = NULL, months = NULL, jan = NULL, feb = NULL;
  g_autoptr (GVariant) mar = NULL;
  gint64 pia = add_customer ("nps-monthly", "Pia", NULL);
  gint64 quinn = add_customer ("nps-monthly", "Quinn", NULL);

  add_survey_at (pia, "2024-01-10T12:00:00Z", 10);
  add_survey_at (quinn, "2024-01-20T12:00:00Z", 5);
  add_survey_at (pia, "2024-02-03T12:00:00Z", 9);
  add_survey_at (quinn, "2024-03-01T00:00:00Z", 7);
  /* Before the period. */
  add_survey_at (quinn, "2023-12-31T23:59:59Z", 0);
  run = ctl ("report", "nps", "--owner", "nps-monthly", "--since",
             "2024-01-01T00:00:00Z", "--monthly", "--json", NULL);
  report = json_report (run);
  assert_nps (report, 4, 2, 1, 1, 25);
  months = list_of (report, "months");
  g_assert_cmpuint (g_variant_n_children (months), ==, 3);
  jan = list_item (months, 0);
  feb = list_item (months, 1);
  mar = list_item (months, 2);
  g_assert_cmpstr (st_test_rec_str (jan, "month"), ==, "2024-01");
  assert_nps (jan, 2, 1, 0, 1, 0);
  g_assert_cmpstr (st_test_rec_str (feb, "month"), ==, "2024-02");
  assert_nps (feb, 1, 1, 0, 0, 100);
  g_assert_cmpstr (st_test_rec_str (mar, "month"), ==, "2024-03");
  assert_nps (mar, 1, 0, 1, 0, 0);

  text = ctl ("report", "nps", "--owner", "nps-monthly", "--since",
              "2024-01-01T00:00:00Z", "--monthly", NULL);
  g_test_message ("%s", text->out);
  g_assert_cmpint (text->status, ==, 0);
  st_test_assert_contains (text->out, "MONTH");
  st_test_assert_contains (text->out, "2024-02");
  st_test_assert_contains (text->out, "+100");
}

/* Each customer's latest, per month: their latest of each month for the
 * month's row, their latest of the period for the total. Rae answers 2
 * then 10 in January and 4 in February; Sam 9 in January. */
static void
test_nps_monthly_per_customer (void)
{
  g_autoptr (Ctl) run = NULL;
  g_autoptr (GVariant) report = NULL, months = NULL, jan = NULL, feb = NULL;
  gint64 rae = add_customer ("nps-both", "Rae", NULL);
  gint64 sam = add_customer ("nps-both", "Sam", NULL);

  add_survey_at (rae, "2024-01-05T12:00:00Z", 2);
  add_survey_at (rae, "2024-01-25T12:00:00Z", 10);
  add_survey_at (rae, "2024-02-10T12:00:00Z", 4);
  add_survey_at (sam, "2024-01-15T12:00:00Z", 9);
  run = ctl ("report", "nps", "--owner", "nps-both", "--since",
             "2024-01-01T00:00:00Z", "--monthly", "--per-customer", "--json",
             NULL);
  report = json_report (run);
  /* The period: Rae's 4 and Sam's 9. */
  assert_nps (report, 2, 1, 0, 1, 0);
  g_assert_cmpint (st_test_rec_int64 (report, "customers"), ==, 2);
  months = list_of (report, "months");
  g_assert_cmpuint (g_variant_n_children (months), ==, 2);
  jan = list_item (months, 0);
  feb = list_item (months, 1);
  /* January: Rae's 10 (not her 2), and Sam's 9. */
  g_assert_cmpstr (st_test_rec_str (jan, "month"), ==, "2024-01");
  assert_nps (jan, 2, 2, 0, 0, 100);
  g_assert_cmpint (st_test_rec_int64 (jan, "customers"), ==, 2);
  g_assert_cmpstr (st_test_rec_str (feb, "month"), ==, "2024-02");
  assert_nps (feb, 1, 0, 0, 1, -100);
}

/* No response: said so, and no NPS made up. */
static void
test_nps_none (void)
{
  g_autoptr (Ctl) run = NULL, text = NULL;
  g_autoptr (GVariant) report = NULL, months = NULL;

  add_customer ("nps-none", "Silent", NULL);
  run = ctl ("report", "nps", "--owner", "nps-none", "--monthly", "--json",
             NULL);
  report = json_report (run);
  g_assert_cmpint (st_test_rec_int64 (report, "responses"), ==, 0);
  g_assert_cmpint (st_test_rec_int64 (report, "promoters"), ==, 0);
  g_assert_null (g_variant_lookup_value (report, "nps", NULL));
  g_assert_null (g_variant_lookup_value (report, "promoters_share", NULL));
  months = list_of (report, "months");
  g_assert_cmpuint (g_variant_n_children (months), ==, 0);

  text = ctl ("report", "nps", "--owner", "nps-none", NULL);
  g_assert_cmpint (text->status, ==, 0);
  g_assert_cmpstr (text->err, ==, "");
  st_test_assert_contains (text->out, "Responses:");
  st_test_assert_contains (text->out, "none");
  g_assert_null (strstr (text->out, "NPS:"));
}

/* Bad options ------------------------------------------------------------- */

static void
test_bad_options_bus (void)
{
  assert_refused ("Funnel", "{'color': <'red'>}", "color");
  assert_refused ("Health", "{'since': <'2024-01-01'>}", "since");
  assert_refused ("Nps", "{'monthly': <true>}", "monthly");
  assert_refused ("Funnel", "{'owner': <42>}", "owner");
  assert_refused ("Nps", "{'by_month': <'yes'>}", "by_month");
  assert_refused ("Funnel", "{'days': <uint32 0>}", "days: 0");
  assert_refused ("Nps", "{'since': <'2024-01-01'>, 'days': <uint32 3>}",
                  "not both");
  assert_refused ("Nps", "{'since': <'last tuesday'>}",
                  "since: 'last tuesday'");
  assert_refused ("Funnel", "{'since': <'2999-01-01'>}", "in the future");
  assert_refused ("Health", "{'limit': <uint32 0>}", "limit: 0");
  assert_refused ("Health", "{'limit': <uint32 5000>}", "limit: 5000");
}

static void
test_bad_options_cli (void)
{
  static const struct {
    const char *args[8]; /* NULL-terminated */
    int status;
    const char *says;
  } cases[] = {
    { { "report", "funnel", "--days", "0" }, 2, "--days" },
    { { "report", "nps", "--days", "ten" }, 2, "--days" },
    { { "report", "nps", "--since", "yesterday" }, 2, "--since" },
    { { "report", "funnel", "--since", "2024-01-01", "--days", "3" }, 2,
      "give one of them" },
    { { "report", "health", "--limit", "0" }, 2, "--limit" },
    { { "report", "health", "--days", "3" }, 2, "--days" },
    { { "report", "nps", "--color" }, 2, "--color" },
    { { "report", "funnel", "extra" }, 2,
      "report funnel: unexpected argument 'extra'" },
    { { "report", "nps", "--since", "2999-01-01" }, 1, "in the future" },
    { { "report", "health", "--limit", "5000" }, 1, "limit: 5000" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = NULL, *err = NULL;
      int status = st_test_ctlv (the_daemon, &out, &err, cases[i].args);

      g_assert_cmpint (status, ==, cases[i].status);
      g_assert_cmpstr (out, ==, "");
      st_test_assert_contains (err, cases[i].says);
    }
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  /* Registers org.steward.Steward1.Error.* so replies map to ST_ERROR. */
  (void) ST_ERROR;
  if (g_getenv ("STEWARD_TEST_CONNINFO") == NULL)
    {
      g_test_skip ("STEWARD_TEST_CONNINFO is not set (tools/test sets it)");
      return g_test_run ();
    }
  g_test_add_func ("/reports/funnel", test_funnel);
  g_test_add_func ("/reports/funnel-since", test_funnel_since);
  g_test_add_func ("/reports/funnel-since-utc", test_funnel_since_utc);
  g_test_add_func ("/reports/funnel-unconfigured-stage",
                   test_funnel_unconfigured_stage);
  g_test_add_func ("/reports/funnel-empty", test_funnel_empty);
  g_test_add_func ("/reports/health", test_health);
  g_test_add_func ("/reports/health-empty", test_health_empty);
  g_test_add_func ("/reports/nps", test_nps);
  g_test_add_func ("/reports/nps-monthly", test_nps_monthly);
  g_test_add_func ("/reports/nps-monthly-per-customer",
                   test_nps_monthly_per_customer);
  g_test_add_func ("/reports/nps-none", test_nps_none);
  g_test_add_func ("/reports/bad-options-bus", test_bad_options_bus);
  g_test_add_func ("/reports/bad-options-cli", test_bad_options_cli);

  the_daemon = st_test_daemon_start (NULL);
  status = g_test_run ();
  st_test_daemon_free (the_daemon);
  return status;
}
