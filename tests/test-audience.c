/* Tests for core/st-audience.c: the audience language (what it accepts and
 * the messages for what it refuses), the customers each kind of condition
 * selects on a real PostgreSQL, keyset paging, counting, parameters, the
 * summaries, and that the query is served by indexes. */

#include <math.h>
#include <string.h>

#include "st-audience.h"
#include "st-error.h"
#include "st-record.h"
#include "st-test-util.h"

/* The reference time of every query: the rows below are placed around it. */
#define NOW "2030-06-15T12:00:00Z"
#define AT(ago) "'2030-06-15 12:00:00+00'::timestamptz - interval '" ago "'"

static StAudience *
audience_ok (const char *spec_text)
{
  g_autoptr (GVariant) spec = st_test_parsed (spec_text);
  g_autoptr (GError) error = NULL;
  StAudience *audience = st_audience_new (spec, &error);

  g_assert_no_error (error);
  g_assert_nonnull (audience);
  return audience;
}

static void
exec_sql (StTestStore *fx, const char *sql)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PGresult) res = NULL;

  g_assert_true (st_store_begin (fx->store, &error));
  res = st_store_exec_sql (fx->store, sql, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (st_store_commit (fx->store, &error));
  g_assert_no_error (error);
}

static GDateTime *
reference_time (void)
{
  GDateTime *now = g_date_time_new_from_iso8601 (NOW, NULL);

  g_assert_nonnull (now);
  return now;
}

/* Every id of the audience, read in pages of @page_size, as "1,3,7"; each
 * page must continue where the last one stopped. */
static char *
matched_ids (StTestStore *fx, const StAudience *audience, guint page_size)
{
  g_autoptr (GDateTime) now = reference_time ();
  g_autoptr (GString) out = g_string_new (NULL);
  gint64 last = 0;

  for (;;)
    {
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      g_autoptr (GError) error = NULL;

      g_assert_true (st_audience_page (fx->store, audience, now, last,
                                       page_size, ids, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (ids->len, <=, page_size);
      for (guint i = 0; i < ids->len; i++)
        {
          gint64 id = g_array_index (ids, gint64, i);

          g_assert_cmpint (id, >, last);
          last = id;
          g_string_append_printf (out, "%s%" G_GINT64_FORMAT,
                                  out->len > 0 ? "," : "", id);
        }
      if (ids->len < page_size)
        return g_string_free (g_steal_pointer (&out), FALSE);
    }
}

static guint
count_ids (const char *ids)
{
  g_auto (GStrv) parts = NULL;

  if (ids[0] == '\0')
    return 0;
  parts = g_strsplit (ids, ",", -1);
  return g_strv_length (parts);
}

/* The customers ------------------------------------------------------------ */

/* Seven customers and the last time of their events, placed around NOW.
 * Ids are given, so the expected sets below can name them. */
static void
insert_customers (StTestStore *fx)
{
  exec_sql (fx,
      "INSERT INTO customers (id, name, stage, owner, tags, attrs, locale,"
      "  tz, purchase_count, revenue, open_tickets, last_nps, health_score,"
      "  event_count, risk_level, created_at, stage_since) VALUES"
      " (1, 'one', 'active', 'alice', '{vip,newsletter}',"
      "  '{\"plan\": \"pro\", \"country\": \"FR\"}', 'fr', 'Europe/Paris',"
      "  3, 250.5, 0, 9, 80, 10, 'low', " AT ("10 days") ", "
      AT ("3 days") "),"
      " (2, 'two', 'active', 'bob', '{newsletter}',"
      "  '{\"plan\": \"free\", \"country\": \"DE\"}', 'de', 'Europe/Berlin',"
      "  0, 0, 1, 5, 30, 2, 'medium', " AT ("20 days") ", "
      AT ("6 days") "),"
      " (3, 'three', 'at_risk', 'alice', '{vip}',"
      "  '{\"plan\": \"pro\", \"country\": \"DE\", \"seats\": 10,"
      "    \"beta\": true}', 'en', NULL,"
      "  1, 100, 2, NULL, 35, 5, 'high', " AT ("30 days") ", "
      AT ("9 days") "),"
      " (4, 'four', 'churned', NULL, '{}', '{}', 'fr', NULL,"
      "  5, 5000, 0, 3, NULL, 50, NULL, " AT ("40 days") ", "
      AT ("12 days") "),"
      " (5, 'five', 'lead', 'carol',"
      "  ARRAY['x''); DROP TABLE customers; --'],"
      "  '{\"note\": \"it''s \\\"quoted\\\"\"}', NULL, NULL,"
      "  0, 0, 0, NULL, NULL, 0, NULL, " AT ("50 days") ", "
      AT ("15 days") "),"
      " (6, 'six', 'onboarding', 'o''brien', '{beta}',"
      "  '{\"plan\": \"enterprise\"}', NULL, NULL,"
      "  1, 20, 0, 10, 60, 3, NULL, " AT ("60 days") ", "
      AT ("18 days") "),"
      " (7, 'seven', 'active', 'alice', '{vip}',"
      "  '{\"plan\": \"pro\", \"country\": \"FR\"}', NULL, NULL,"
      "  2, 99.5, 0, 8, 90, 7, NULL, " AT ("70 days") ", "
      AT ("21 days") ")");
  exec_sql (fx,
      "INSERT INTO customer_event_kinds (customer_id, kind, first_at,"
      "  last_at, count) VALUES"
      " (1, 'purchase', " AT ("400 days") ", " AT ("10 days") ", 3),"
      " (1, 'login', " AT ("400 days") ", " AT ("1 hour") ", 40),"
      " (2, 'login', " AT ("400 days") ", " AT ("40 days") ", 2),"
      " (3, 'purchase', " AT ("400 days") ", " AT ("100 days") ", 1),"
      " (3, 'ticket_opened', " AT ("400 days") ", " AT ("5 days") ", 2),"
      " (4, 'purchase', " AT ("400 days") ", " AT ("200 days") ", 5),"
      " (6, 'purchase', " AT ("400 days") ", " AT ("95 days") ", 1),"
      /* Exactly 90 days: newer_than 90d, not older_than 90d. */
      " (7, 'purchase', " AT ("400 days") ", " AT ("90 days") ", 2)");
}

static StTestStore *shared_store;

/* One database for all the matching cases: they only read it. */
static StTestStore *
customers_store (void)
{
  if (shared_store == NULL)
    {
      shared_store = st_test_store_new ();
      insert_customers (shared_store);
    }
  return shared_store;
}

/* Matching ------------------------------------------------------------------ */

typedef struct {
  const char *name;
  const char *spec; /* GVariant text of the a{sv} */
  const char *ids;  /* the expected audience */
} MatchCase;

static const MatchCase match_cases[] = {
  { "all", "{'all': <true>}", "1,2,3,4,5,6,7" },
  { "stage", "{'stage': <'active'>}", "1,2,7" },
  { "stage-list", "{'stage': <[<'active'>, <'at_risk'>]>}", "1,2,3,7" },
  { "stage-strv", "{'stage': <['churned', 'lead']>}", "4,5" },
  { "owner", "{'owner': <'alice'>}", "1,3,7" },
  { "owner-list-quote", "{'owner': <['bob', \"o'brien\"]>}", "2,6" },
  { "tags-all", "{'tags': <['vip']>}", "1,3,7" },
  { "tags-all-two", "{'tags': <['vip', 'newsletter']>}", "1" },
  { "tags-single-text", "{'tags': <'newsletter'>}", "1,2" },
  { "tags-any", "{'tags_any': <['beta', 'newsletter']>}", "1,2,6" },
  { "not-tags", "{'not_tags': <['vip']>}", "2,4,5,6" },
  { "tag-hostile",
    "{'tags': <[\"x'); DROP TABLE customers; --\"]>}", "5" },
  { "tag-quote-in-array", "{'tags': <['a\"b', 'vip']>}", "" },
  { "locale", "{'locale': <'fr'>}", "1,4" },
  { "tz", "{'tz': <['Europe/Paris', 'Europe/Berlin']>}", "1,2" },
  { "risk-level", "{'risk_level': <'high'>}", "3" },
  { "attrs", "{'attrs': <{'plan': <'pro'>}>}", "1,3,7" },
  { "attrs-two", "{'attrs': <{'plan': <'pro'>, 'country': <'FR'>}>}", "1,7" },
  { "attrs-int", "{'attrs': <{'seats': <int64 10>}>}", "3" },
  { "attrs-bool", "{'attrs': <{'beta': <true>}>}", "3" },
  { "attrs-choice", "{'attrs': <{'country': <['FR', 'DE']>}>}", "1,2,3,7" },
  { "attrs-choice-and-equal",
    "{'attrs': <{'country': <['FR', 'DE']>, 'plan': <'free'>}>}", "2" },
  { "attrs-quotes", "{'attrs': <{'note': <'it\\'s \"quoted\"'>}>}", "5" },
  { "attrs-choice-quotes",
    "{'attrs': <{'note': <['{\\\\', 'it\\'s \"quoted\"']>}>}", "5" },
  { "purchase-older", "{'events': <{'purchase': <{'older_than': <'90d'>}>}>}",
    "3,4,6" },
  { "purchase-newer", "{'events': <{'purchase': <{'newer_than': <'90d'>}>}>}",
    "1,7" },
  { "purchase-or-never",
    "{'events': <{'purchase': <{'older_than': <'90d'>, "
    "'or_never': <true>}>}>}", "2,3,4,5,6" },
  { "purchase-or-never-false",
    "{'events': <{'purchase': <{'older_than': <'90d'>, "
    "'or_never': <false>}>}>}", "3,4,6" },
  { "purchase-never", "{'events': <{'purchase': <{'never': <true>}>}>}",
    "2,5" },
  { "purchase-ever", "{'events': <{'purchase': <{'never': <false>}>}>}",
    "1,3,4,6,7" },
  { "purchase-window",
    "{'events': <{'purchase': <{'older_than': <'90d'>, "
    "'newer_than': <'150d'>}>}>}", "3,6" },
  { "ticket-recent",
    "{'events': <{'ticket_opened': <{'newer_than': <'1w'>}>}>}", "3" },
  { "login-hours", "{'events': <{'login': <{'newer_than': <'2h'>}>}>}", "1" },
  { "login-minutes", "{'events': <{'login': <{'newer_than': <'30m'>}>}>}",
    "" },
  { "two-kinds",
    "{'events': <{'purchase': <{'newer_than': <'30d'>}>, "
    "'login': <{'newer_than': <'12h'>}>}>}", "1" },
  { "purchase-count", "{'purchase_count': <{'min': <int64 2>}>}", "1,4,7" },
  { "revenue-range",
    "{'revenue': <{'min': <int64 100>, 'max': <int64 5000>}>}", "1,3,4" },
  { "revenue-decimal", "{'revenue': <{'min': <250.5>}>}", "1,4" },
  { "revenue-below", "{'revenue': <{'max': <99.5>}>}", "2,5,6,7" },
  { "open-tickets-equal", "{'open_tickets': <int64 0>}", "1,4,5,6,7" },
  { "last-nps", "{'last_nps': <{'max': <6>}>}", "2,4" },
  { "health-score", "{'health_score': <{'max': <int64 40>}>}", "2,3" },
  { "event-count", "{'event_count': <{'min': <5>, 'max': <10>}>}", "1,3,7" },
  { "stage-since", "{'stage_since': <{'older_than': <'10d'>}>}", "4,5,6,7" },
  { "created-within", "{'created': <{'newer_than': <'30d'>}>}", "1,2,3" },
  { "created-window",
    "{'created': <{'older_than': <'30d'>, 'newer_than': <'60d'>}>}",
    "4,5,6" },
  { "combo-stage-tag-event",
    "{'stage': <'active'>, 'tags': <['vip']>, "
    "'events': <{'purchase': <{'newer_than': <'30d'>}>}>}", "1" },
  { "combo-owner-not-tags",
    "{'stage': <['active', 'at_risk']>, 'owner': <'alice'>, "
    "'not_tags': <['newsletter']>}", "3,7" },
  { "combo-lapsed-vip",
    "{'tags': <['vip']>, 'events': <{'purchase': <{'older_than': <'60d'>, "
    "'or_never': <true>}>}>, 'open_tickets': <{'min': <1>}>}", "3" },
  { "combo-nobody", "{'stage': <'lead'>, 'tags': <['vip']>}", "" },
};

static void
test_match (gconstpointer data)
{
  const MatchCase *c = data;
  StTestStore *fx = customers_store ();
  g_autoptr (StAudience) audience = audience_ok (c->spec);
  g_autoptr (GDateTime) now = reference_time ();
  g_autoptr (GError) error = NULL;
  g_autofree char *ids = matched_ids (fx, audience, ST_AUDIENCE_PAGE_SIZE);
  g_autofree char *paged = matched_ids (fx, audience, 2);
  gint64 count;

  g_assert_cmpstr (ids, ==, c->ids);
  g_assert_cmpstr (paged, ==, c->ids);
  count = st_audience_count (fx->store, audience, now, &error);
  g_assert_no_error (error);
  g_assert_cmpint (count, ==, count_ids (c->ids));
}

/* The hostile values were parameters: the table is still there, whole. */
static void
test_parameters_are_values (void)
{
  StTestStore *fx = customers_store ();

  g_assert_cmpint (st_test_db_query_int (fx->db,
                                         "SELECT count(*) FROM customers"),
                   ==, 7);
}

/* A script's audience is kept as JSON (st-script.c) and may be read back
 * with st_record_from_json: lists of strings are then "as". */
static void
test_from_json (void)
{
  StTestStore *fx = customers_store ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) spec = g_variant_ref_sink (st_record_from_json (
      "{\"stage\": [\"active\", \"at_risk\"], \"revenue\": {\"min\": 99.5},"
      " \"events\": {\"purchase\": {\"older_than\": \"60d\","
      " \"or_never\": true}}}",
      &error));
  g_autoptr (StAudience) audience = NULL;
  g_autofree char *ids = NULL;

  g_assert_no_error (error);
  audience = st_audience_new (spec, &error);
  g_assert_no_error (error);
  ids = matched_ids (fx, audience, 100);
  g_assert_cmpstr (ids, ==, "3,7");
}

/* Paging -------------------------------------------------------------------- */

/* Hundreds of matches among non-matches, read in pages of every size: each
 * match exactly once, in order, and as many as count says. */
static void
test_paging (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (StAudience) audience
      = audience_ok ("{'stage': <'active'>, 'tags': <['bulk']>}");
  g_autoptr (GDateTime) now = reference_time ();
  g_autoptr (GError) error = NULL;
  g_autofree char *all = NULL;
  g_autofree char *expected = NULL;
  static const guint sizes[] = { 1, 7, 100, 333, 334, 1000 };

  exec_sql (fx, "INSERT INTO customers (id, name, stage, tags)"
                " SELECT g, 'c' || g, CASE WHEN g % 3 = 0 THEN 'active'"
                " ELSE 'lead' END, CASE WHEN g % 2 = 0 THEN '{bulk}'::text[]"
                " ELSE '{}' END FROM generate_series(1, 2000) g");
  expected = st_test_db_query (
      fx->db, "SELECT string_agg(id::text, ',' ORDER BY id) FROM customers"
              " WHERE stage = 'active' AND 'bulk' = ANY (tags)");
  all = matched_ids (fx, audience, ST_AUDIENCE_PAGE_SIZE);
  g_assert_cmpstr (all, ==, expected);
  g_assert_cmpuint (count_ids (all), ==, 333);
  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree char *paged = matched_ids (fx, audience, sizes[i]);
      g_assert_cmpstr (paged, ==, expected);
    }
  g_assert_cmpint (st_audience_count (fx->store, audience, now, &error), ==,
                   333);
  g_assert_no_error (error);
}

static void
test_page_refuses_zero (void)
{
  StTestStore *fx = customers_store ();
  g_autoptr (StAudience) audience = audience_ok ("{'all': <true>}");
  g_autoptr (GDateTime) now = reference_time ();
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GError) error = NULL;

  g_assert_false (st_audience_page (fx->store, audience, now, 0, 0, ids,
                                    &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_assert_cmpuint (ids->len, ==, 0);
}

/* The SQL ------------------------------------------------------------------- */

static void
test_sql_shape (void)
{
  g_autoptr (StAudience) audience = audience_ok (
      "{'stage': <['active', 'at_risk']>, "
      "'events': <{'purchase': <{'older_than': <'90d'>}>}>}");
  g_autoptr (StAudience) timeless = audience_ok ("{'owner': <'alice'>}");
  g_autoptr (GPtrArray) params = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) count_params = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *sql = NULL;
  g_autofree char *count_sql = NULL;
  g_autofree char *timeless_sql = NULL;

  sql = st_audience_sql (audience, params);
  g_test_message ("%s", sql);
  g_assert_true (g_str_has_prefix (sql, "SELECT c.id FROM customers c WHERE "));
  g_assert_true (
      g_str_has_suffix (sql, " AND c.id > $1 ORDER BY c.id LIMIT $2"));
  st_test_assert_contains (sql, "c.stage = ANY ($4::text[])");
  st_test_assert_contains (sql, "k.kind = $5::text");
  st_test_assert_contains (sql, "$3::timestamptz - $6::interval");
  /* The cursor is repeated in the subquery, for the planner. */
  st_test_assert_contains (sql, "k.customer_id = c.id AND k.customer_id > $1");
  g_assert_cmpuint (params->len, ==, 3);
  g_assert_cmpstr (params->pdata[0], ==, "{\"active\",\"at_risk\"}");
  g_assert_cmpstr (params->pdata[1], ==, "purchase");
  g_assert_cmpstr (params->pdata[2], ==, "7776000 seconds");

  count_sql = st_audience_count_sql (audience, count_params);
  g_assert_true (g_str_has_prefix (count_sql,
                                   "SELECT count(*) FROM customers c WHERE "));
  st_test_assert_contains (count_sql, "c.stage = ANY ($2::text[])");
  st_test_assert_contains (count_sql, "$1::timestamptz - $4::interval");
  g_assert_null (strstr (count_sql, "$5"));
  g_assert_null (strstr (count_sql, "k.customer_id >"));
  g_assert_cmpuint (count_params->len, ==, 3);

  /* Without a time condition, $3 still appears, so it has a type. */
  g_ptr_array_set_size (params, 0);
  timeless_sql = st_audience_sql (timeless, params);
  st_test_assert_contains (timeless_sql, "$3::timestamptz IS NOT NULL");
  st_test_assert_contains (timeless_sql, "c.owner = $4::text");
}

/* A stage and tag audience in a table of thousands is read from the
 * indexes, never by reading the whole table. */
static void
test_uses_indexes (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (StAudience) audience = audience_ok (
      "{'stage': <'at_risk'>, 'tags': <['vip']>, "
      "'events': <{'purchase': <{'older_than': <'90d'>, "
      "'or_never': <true>}>}>}");
  g_autoptr (GPtrArray) params = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autoptr (PGresult) res = NULL;
  g_autoptr (GString) plan = g_string_new (NULL);
  g_autofree char *sql = NULL;
  g_autofree char *explain = NULL;

  exec_sql (fx, "INSERT INTO customers (id, name, stage, tags)"
                " SELECT g, 'c' || g, CASE WHEN g % 1000 = 0 THEN 'at_risk'"
                " ELSE 'active' END, CASE WHEN g % 100 = 0 THEN '{vip}'::text[]"
                " ELSE '{newsletter}' END FROM generate_series(1, 20000) g");
  exec_sql (fx, "INSERT INTO customer_event_kinds (customer_id, kind,"
                " first_at, last_at) SELECT id, 'purchase', " AT ("1 year")
                ", " AT ("1 day") " FROM customers WHERE id % 2 = 0");
  exec_sql (fx, "ANALYZE customers");
  exec_sql (fx, "ANALYZE customer_event_kinds");

  g_ptr_array_add (params, g_strdup ("0"));
  g_ptr_array_add (params, g_strdup ("10000"));
  g_ptr_array_add (params, g_strdup (NOW));
  sql = st_audience_sql (audience, params);
  explain = g_strconcat ("EXPLAIN ", sql, NULL);
  g_assert_true (st_store_begin (fx->store, &error));
  res = st_store_exec_sql (fx->store, explain, (int) params->len,
                           (const char *const *) params->pdata, &error);
  st_store_rollback (fx->store);
  g_assert_no_error (error);
  for (int row = 0; row < PQntuples (res); row++)
    g_string_append_printf (plan, "%s\n", PQgetvalue (res, row, 0));
  g_test_message ("%s", plan->str);
  g_assert_null (strstr (plan->str, "Seq Scan on customers"));
}

/* Refusals ------------------------------------------------------------------ */

typedef struct {
  const char *name;
  const char *spec;
  const char *message; /* the start of the error message */
} RefusalCase;

static const RefusalCase refusal_cases[] = {
  { "not-a-table", "<'active'>",
    "audience: must be a table of named filters" },
  { "empty", "@a{sv} {}",
    "audience: no filter given; write all = true to mean every customer" },
  { "unknown-key", "{'stages': <'active'>}",
    "audience: unknown key 'stages'; use all, stage, owner, tags, tags_any, "
    "not_tags, locale, tz, risk_level, attrs, events, stage_since, created, "
    "purchase_count, revenue, event_count, open_tickets, last_nps or "
    "health_score" },
  { "all-false", "{'all': <false>}", "audience.all: must be true" },
  { "all-with-filters", "{'all': <true>, 'stage': <'active'>}",
    "audience.all: all = true means every customer and takes no other "
    "filter" },
  { "stage-number", "{'stage': <42>}",
    "audience.stage: must be a stage name or a list of them, not a number" },
  { "stage-form", "{'stage': <'Active'>}",
    "audience.stage: 'Active' is not a stage name" },
  { "stage-empty-list", "{'stage': <@a{sv} {}>}",
    "audience.stage: the list is empty; give at least a stage name" },
  { "stage-item", "{'stage': <[<'active'>, <true>]>}",
    "audience.stage: item 2 must be a stage name, not a boolean" },
  { "owner-table", "{'owner': <{'name': <'alice'>}>}",
    "audience.owner: must be a user name or a list of them, not a table" },
  { "tag-empty", "{'tags': <['vip', '']>}",
    "audience.tags: empty text is not a tag" },
  { "locale", "{'locale': <'french'>}", "audience.locale: " },
  { "tz", "{'tz': <'Mars/Olympus'>}", "audience.tz: " },
  { "attrs-text", "{'attrs': <'pro'>}",
    "audience.attrs: must be a table of attributes and their values" },
  { "attrs-nested", "{'attrs': <{'plan': <{'name': <'pro'>}>}>}",
    "audience.attrs.plan: must be text, a number, a boolean or a list of "
    "them, not a table" },
  { "attrs-empty-list", "{'attrs': <{'country': <@a{sv} {}>}>}",
    "audience.attrs.country: the list is empty" },
  { "attrs-list-item", "{'attrs': <{'country': <[<'FR'>, <[<'DE'>]>]>}>}",
    "audience.attrs.country: must be text, a number, a boolean or a list of "
    "them, not a list" },
  { "events-not-table", "{'events': <'purchase'>}",
    "audience.events: must be a table of event kinds" },
  { "events-empty", "{'events': <@a{sv} {}>}",
    "audience.events: must be a table of event kinds" },
  { "event-kind", "{'events': <{'Purchase': <{'never': <true>}>}>}",
    "audience.events.Purchase: 'Purchase' is not an event kind" },
  { "event-unknown-key", "{'events': <{'purchase': <{'older': <'90d'>}>}>}",
    "audience.events.purchase: unknown key 'older'; use older_than, "
    "newer_than, never or or_never" },
  { "event-not-table", "{'events': <{'purchase': <'90d'>}>}",
    "audience.events.purchase: must be a table with older_than, newer_than, "
    "never or or_never" },
  { "duration-words",
    "{'events': <{'purchase': <{'older_than': <'90 days'>}>}>}",
    "audience.events.purchase.older_than: '90 days' is not a duration; "
    "write a whole number and a unit" },
  { "duration-unit", "{'events': <{'purchase': <{'older_than': <'3y'>}>}>}",
    "audience.events.purchase.older_than: '3y' is not a duration" },
  { "duration-number",
    "{'events': <{'purchase': <{'newer_than': <int64 90>}>}>}",
    "audience.events.purchase.newer_than: must be a duration such as "
    "\"90d\", not a number" },
  { "duration-zero", "{'events': <{'purchase': <{'older_than': <'0d'>}>}>}",
    "audience.events.purchase.older_than: '0d' is no time at all" },
  { "window-reversed",
    "{'events': <{'purchase': <{'older_than': <'90d'>, "
    "'newer_than': <'30d'>}>}>}",
    "audience.events.purchase: newer_than 30d is not longer than older_than "
    "90d" },
  { "never-with-window",
    "{'events': <{'purchase': <{'never': <true>, 'older_than': <'9d'>}>}>}",
    "audience.events.purchase: never stands alone" },
  { "never-text", "{'events': <{'purchase': <{'never': <'yes'>}>}>}",
    "audience.events.purchase: never must be true or false, not text" },
  { "or-never-alone", "{'events': <{'purchase': <{'or_never': <true>}>}>}",
    "audience.events.purchase: or_never needs older_than" },
  { "or-never-newer",
    "{'events': <{'purchase': <{'newer_than': <'9d'>, "
    "'or_never': <true>}>}>}",
    "audience.events.purchase: or_never goes with older_than alone" },
  { "or-never-number",
    "{'events': <{'purchase': <{'older_than': <'9d'>, "
    "'or_never': <1>}>}>}",
    "audience.events.purchase: or_never must be true or false, not a "
    "number" },
  { "age-never", "{'created': <{'never': <true>}>}",
    "audience.created: unknown key 'never'; use older_than or newer_than" },
  { "age-text", "{'stage_since': <'30d'>}",
    "audience.stage_since: must be a table with older_than, newer_than or "
    "both" },
  { "range-min-max", "{'revenue': <{'min': <int64 5000>, 'max': <100>}>}",
    "audience.revenue: min 5000 is greater than max 100, so nobody would "
    "match" },
  { "range-whole", "{'purchase_count': <{'min': <2.5>}>}",
    "audience.purchase_count.min: 2.5 is not a whole number" },
  { "range-high", "{'health_score': <{'max': <101>}>}",
    "audience.health_score.max: 101 is out of range; health_score goes from "
    "0 to 100" },
  { "range-negative", "{'open_tickets': <-1>}",
    "audience.open_tickets: -1 is out of range; open_tickets goes from 0 to "
    "2147483647" },
  { "range-key", "{'revenue': <{'minimum': <1>}>}",
    "audience.revenue: unknown key 'minimum'; use min or max" },
  { "range-text", "{'revenue': <'lots'>}",
    "audience.revenue: must be a number or a table with min and/or max" },
  { "range-empty", "{'revenue': <@a{sv} {}>}",
    "audience.revenue: give min, max or both" },
  { "range-bound-text", "{'last_nps': <{'max': <'6'>}>}",
    "audience.last_nps.max: must be a number, not text" },
};

static void
test_refusal (gconstpointer data)
{
  const RefusalCase *c = data;
  g_autoptr (GVariant) spec = st_test_parsed (c->spec);
  g_autoptr (GError) error = NULL;
  g_autoptr (StAudience) audience = st_audience_new (spec, &error);

  g_assert_null (audience);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_test_message ("%s", error->message);
  if (!g_str_has_prefix (error->message, c->message))
    g_error ("expected a message starting with\n  %s\ngot\n  %s", c->message,
             error->message);
}

static void
test_refuses_infinity (void)
{
  GVariantBuilder builder;
  g_autoptr (GVariant) spec = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (StAudience) audience = NULL;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "revenue",
                         g_variant_new_double (INFINITY));
  spec = g_variant_ref_sink (g_variant_builder_end (&builder));
  audience = st_audience_new (spec, &error);
  g_assert_null (audience);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==,
                   "audience.revenue: must be a finite number");
}

static void
test_check_stages (void)
{
  g_autoptr (StConfig) config = st_config_new_default ();
  g_autoptr (StAudience) good = audience_ok ("{'stage': <['active', 'lead']>}");
  g_autoptr (StAudience) bad = audience_ok ("{'stage': <['active', 'actve']>}");
  g_autoptr (StAudience) none = audience_ok ("{'owner': <'alice'>}");
  g_autoptr (GError) error = NULL;

  g_assert_true (st_audience_check_stages (good, config, &error));
  g_assert_no_error (error);
  g_assert_true (st_audience_check_stages (none, config, &error));
  g_assert_no_error (error);
  g_assert_false (st_audience_check_stages (bad, config, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==,
                   "audience.stage: 'actve' is not a stage; the stages are: "
                   "lead, onboarding, active, at_risk, churned");
}

/* Summaries ----------------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *spec;
  const char *summary;
} DescribeCase;

static const DescribeCase describe_cases[] = {
  { "all", "{'all': <true>}", "everyone" },
  { "brief-example",
    "{'stage': <['active', 'at_risk']>, 'events': <{'purchase': "
    "<{'older_than': <'90d'>, 'or_never': <true>}>}>}",
    "stage in (active, at_risk); no purchase for 90d" },
  { "people", "{'owner': <'alice'>, 'stage': <'active'>}",
    "stage active; owner alice" },
  { "tags",
    "{'tags': <['vip', 'beta']>, 'tags_any': <['a', 'b', 'c']>, "
    "'not_tags': <'spam'>}",
    "tagged vip and beta; tagged a, b or c; not tagged spam" },
  { "attrs",
    "{'attrs': <{'country': <['FR', 'DE']>, 'plan': <'pro'>, "
    "'seats': <int64 10>}>}",
    "attrs.country in (FR, DE); attrs.plan = pro, attrs.seats = 10" },
  { "events",
    "{'events': <{'login': <{'newer_than': <'12h'>}>, "
    "'purchase': <{'older_than': <'30d'>, 'newer_than': <'90d'>}>, "
    "'survey': <{'never': <true>}>, 'ticket_opened': <{'never': <false>}>, "
    "'upgrade': <{'older_than': <'2w'>}>}>}",
    "last login within 12h; last purchase 30d to 90d ago; never had survey; "
    "has had ticket_opened; last upgrade over 2w ago" },
  { "ranges",
    "{'purchase_count': <{'min': <2>}>, 'revenue': <{'min': <100>, "
    "'max': <5000>}>, 'open_tickets': <0>, 'last_nps': <{'max': <6>}>, "
    "'health_score': <{'min': <10.0>, 'max': <40>}>}",
    "purchase_count >= 2; revenue 100 to 5000; open_tickets = 0; "
    "last_nps <= 6; health_score 10 to 40" },
  { "decimal", "{'revenue': <{'min': <99.95>}>}", "revenue >= 99.95" },
  { "ages",
    "{'stage_since': <{'older_than': <'30d'>}>, "
    "'created': <{'newer_than': <'7d'>}>}",
    "stage entered over 30d ago; created within 7d" },
};

static void
test_describe (gconstpointer data)
{
  const DescribeCase *c = data;
  g_autoptr (StAudience) audience = audience_ok (c->spec);
  g_autofree char *summary = st_audience_describe (audience);

  g_assert_cmpstr (summary, ==, c->summary);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (match_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/audience/match/%s", match_cases[i].name);
      g_test_add_data_func (path, &match_cases[i], test_match);
    }
  g_test_add_func ("/audience/match/parameters-are-values",
                   test_parameters_are_values);
  g_test_add_func ("/audience/match/from-json", test_from_json);
  g_test_add_func ("/audience/page/every-match-once", test_paging);
  g_test_add_func ("/audience/page/refuses-zero", test_page_refuses_zero);
  g_test_add_func ("/audience/sql/shape", test_sql_shape);
  g_test_add_func ("/audience/sql/uses-indexes", test_uses_indexes);
  for (gsize i = 0; i < G_N_ELEMENTS (refusal_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/audience/refuse/%s", refusal_cases[i].name);
      g_test_add_data_func (path, &refusal_cases[i], test_refusal);
    }
  g_test_add_func ("/audience/refuse/infinity", test_refuses_infinity);
  g_test_add_func ("/audience/check-stages", test_check_stages);
  for (gsize i = 0; i < G_N_ELEMENTS (describe_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/audience/describe/%s", describe_cases[i].name);
      g_test_add_data_func (path, &describe_cases[i], test_describe);
    }

  status = g_test_run ();
  g_clear_pointer (&shared_store, st_test_store_free);
  return status;
}
