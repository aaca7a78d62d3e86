/* Tests for core/st-customers.c: create, get, update, find, set_stage and
 * timeline against a real PostgreSQL, with the default lifecycle
 * (lead → onboarding → active ⇄ at_risk → churned → active) unless said. */

#include <string.h>

#include "st-config.h"
#include "st-customers.h"
#include "st-error.h"
#include "st-events.h"
#include "st-test-util.h"

static char *
query (StTestStore *fx, const char *format, ...) G_GNUC_PRINTF (2, 3);

static char *
query (StTestStore *fx, const char *format, ...)
{
  va_list ap;
  g_autofree char *sql = NULL;

  va_start (ap, format);
  sql = g_strdup_vprintf (format, ap);
  va_end (ap);
  return st_test_db_query (fx->db, sql);
}

/* Every table a customer call may write, summed up. */
static char *
snapshot (StTestStore *fx)
{
  return st_test_db_query (
      fx->db,
      "SELECT (SELECT count(*) FROM customers) || '/' ||"
      "       (SELECT count(*) FROM stage_history) || '/' ||"
      "       (SELECT coalesce(max(updated_at)::text, '-') FROM customers)"
      "       || '/' || (SELECT coalesce(string_agg(md5(c::text), ',' "
      "                  ORDER BY id), '-') FROM customers c)");
}

static gint64
id_of (GVariant *record)
{
  gint64 id = 0;

  g_assert_true (g_variant_lookup (record, "id", "x", &id));
  return id;
}

static char *
id_text (GVariant *record)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, id_of (record));
}

static GVariant *
create (StTestStore *fx, const char *format, ...)
{
  va_list ap;
  g_autoptr (GVariant) fields = NULL;
  g_autoptr (GError) error = NULL;
  GVariant *record;

  va_start (ap, format);
  fields = g_variant_ref_sink (g_variant_new_parsed_va (format, &ap));
  va_end (ap);
  record = st_customers_create (fx->store, fx->config, fields, "test", &error);
  g_assert_no_error (error);
  g_assert_nonnull (record);
  return record;
}

static GVariant *
get (StTestStore *fx, const char *address)
{
  g_autoptr (GError) error = NULL;
  GVariant *record = st_customers_get (fx->store, address, &error);

  g_assert_no_error (error);
  g_assert_nonnull (record);
  return record;
}

static GStrv
tags_of (GVariant *record)
{
  g_autoptr (GVariant) tags = g_variant_lookup_value (
      record, "tags", G_VARIANT_TYPE_STRING_ARRAY);

  g_assert_nonnull (tags);
  return g_variant_dup_strv (tags, NULL);
}

static void
assert_tags (GVariant *record, const char *expected)
{
  g_auto (GStrv) tags = tags_of (record);
  g_autofree char *joined = g_strjoinv (",", tags);

  g_assert_cmpstr (joined, ==, expected);
}

static GDateTime *
time_of (GVariant *record, const char *key)
{
  const char *text = st_test_lookup_str (record, key);
  GDateTime *t;

  g_assert_nonnull (text);
  g_assert_true (g_str_has_suffix (text, "Z"));
  t = g_date_time_new_from_iso8601 (text, NULL);
  g_assert_nonnull (t);
  return t;
}

/* Create and get ------------------------------------------------------- */

static void
test_create_all_fields (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) created = create (
      fx, "{'name': <'Ann Lee'>, 'email': <'ann@example.com'>,"
          " 'phone': <'+33 1 23 45 67 89'>, 'ref': <'crm-1'>,"
          " 'owner': <'alice'>, 'locale': <'fr-FR'>,"
          " 'tz': <'Europe/Paris'>, 'tags': <['vip', 'eu', 'vip']>,"
          " 'attrs': <{'plan': <'pro'>, 'seats': <@x 12>}>}");
  g_autoptr (GVariant) attrs = NULL;
  g_autoptr (GDateTime) created_at = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *history = NULL;
  const char *plan;
  gint64 seats, zero;

  g_assert_cmpint (id_of (created), >, 0);
  g_assert_cmpstr (st_test_lookup_str (created, "name"), ==, "Ann Lee");
  g_assert_cmpstr (st_test_lookup_str (created, "email"), ==,
                   "ann@example.com");
  g_assert_cmpstr (st_test_lookup_str (created, "phone"), ==,
                   "+33 1 23 45 67 89");
  g_assert_cmpstr (st_test_lookup_str (created, "ref"), ==, "crm-1");
  g_assert_cmpstr (st_test_lookup_str (created, "owner"), ==, "alice");
  g_assert_cmpstr (st_test_lookup_str (created, "locale"), ==, "fr-FR");
  g_assert_cmpstr (st_test_lookup_str (created, "tz"), ==, "Europe/Paris");
  /* The first stage of the lifecycle; tags sorted and without duplicates. */
  g_assert_cmpstr (st_test_lookup_str (created, "stage"), ==, "lead");
  assert_tags (created, "eu,vip");
  attrs = g_variant_lookup_value (created, "attrs", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (attrs);
  g_assert_true (g_variant_lookup (attrs, "plan", "&s", &plan));
  g_assert_cmpstr (plan, ==, "pro");
  g_assert_true (g_variant_lookup (attrs, "seats", "x", &seats));
  g_assert_cmpint (seats, ==, 12);
  /* Aggregates start at zero; times are recent UTC ISO-8601. */
  g_assert_true (g_variant_lookup (created, "event_count", "x", &zero));
  g_assert_cmpint (zero, ==, 0);
  g_assert_false (g_variant_lookup (created, "last_event_at", "*", NULL));
  created_at = time_of (created, "created_at");
  g_assert_cmpint (g_date_time_difference (now, created_at), <,
                   60 * G_TIME_SPAN_SECOND);
  g_assert_nonnull (st_test_lookup_str (created, "stage_since"));

  /* The creation is the first entry of the stage history. */
  history = query (fx, "SELECT coalesce(from_stage, '-') || '>' || to_stage"
                       " || '|' || actor || '|' || reason FROM stage_history"
                       " WHERE customer_id = %" G_GINT64_FORMAT,
                   id_of (created));
  g_assert_cmpstr (history, ==, "->lead|test|created");
}

static void
test_create_minimal (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) created = create (
      fx, "{'name': <'  Bob  '>, 'email': <''>, 'ref': <''>}");
  g_autoptr (GVariant) attrs = NULL;

  /* Trimmed; empty optional fields are simply not set. */
  g_assert_cmpstr (st_test_lookup_str (created, "name"), ==, "Bob");
  for (const char *const *k = (const char *const[]){ "email", "phone", "ref",
                                                     "owner", "locale", "tz",
                                                     NULL };
       *k != NULL; k++)
    g_assert_false (g_variant_lookup (created, *k, "*", NULL));
  assert_tags (created, "");
  attrs = g_variant_lookup_value (created, "attrs", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (attrs);
  g_assert_cmpuint (g_variant_n_children (attrs), ==, 0);
  g_assert_cmpint (st_test_db_query_int (fx->db,
                                         "SELECT count(*) FROM customers "
                                         "WHERE email IS NULL AND ref IS NULL"),
                   ==, 1);
}

static void
test_create_in_stage (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) created = create (
      fx, "{'name': <'Imported'>, 'stage': <'active'>}");
  g_autoptr (GVariant) fields =
      st_test_parsed ("{'name': <'X'>, 'stage': <'vip'>}");
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) refused = NULL;
  g_autofree char *before = snapshot (fx), *after = NULL;

  g_assert_cmpstr (st_test_lookup_str (created, "stage"), ==, "active");

  refused = st_customers_create (fx->store, fx->config, fields, "test",
                                 &error);
  g_assert_null (refused);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_assert_true (g_str_has_prefix (error->message, "stage:"));
  st_test_assert_contains (error->message, "'vip'");
  after = snapshot (fx);
  g_assert_cmpstr (after, ==, before);
}

static void
test_get_by_id_and_ref (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) ann = create (fx, "{'name': <'Ann'>, 'ref': <'crm-1'>}");
  g_autoptr (GVariant) bob = create (fx, "{'name': <'Bob'>, 'ref': <'B-2'>}");
  g_autofree char *ann_id = id_text (ann), *bob_id = id_text (bob);
  g_autofree char *ann_explicit = g_strconcat ("id:", ann_id, NULL);
  g_autofree char *bob_explicit = g_strconcat ("id:", bob_id, NULL);
  struct {
    const char *address;
    GVariant *expected;
  } cases[] = {
    { ann_id, ann },         { "crm-1", ann }, { ann_explicit, ann },
    { "ref:crm-1", ann },    { bob_id, bob },  { "B-2", bob },
    { bob_explicit, bob },   { "ref:B-2", bob },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GVariant) got = get (fx, cases[i].address);
      /* The whole record, as create returned it. */
      if (!g_variant_equal (got, cases[i].expected))
        g_error ("get '%s' returned another record", cases[i].address);
    }
}

static void
test_get_ambiguous (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) first = create (fx, "{'name': <'First'>}");
  g_autofree char *first_id = id_text (first);
  g_autoptr (GVariant) second = create (fx, "{'name': <'Second'>, 'ref': <%s>}",
                                        first_id);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) refused = st_customers_get (fx->store, first_id, &error);
  g_autofree char *by_id = g_strconcat ("id:", first_id, NULL);
  g_autofree char *by_ref = g_strconcat ("ref:", first_id, NULL);
  g_autoptr (GVariant) one = NULL, two = NULL;

  /* Refused rather than guessed, and the message shows both ways out. */
  g_assert_null (refused);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  st_test_assert_contains (error->message, by_id);
  st_test_assert_contains (error->message, by_ref);

  one = get (fx, by_id);
  g_assert_cmpstr (st_test_lookup_str (one, "name"), ==, "First");
  two = get (fx, by_ref);
  g_assert_cmpstr (st_test_lookup_str (two, "name"), ==, "Second");
}

static void
test_get_not_found (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) only = create (fx, "{'name': <'Only'>, 'ref': <'r1'>}");
  static const char *const missing[] = { "999", "id:999", "ref:999",
                                         "nobody", "ref:nobody", "R1", NULL };
  static const char *const malformed[] = { "", "id:", "id:abc", "id:-1",
                                           "id:0", NULL };

  for (guint i = 0; missing[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) record = st_customers_get (fx->store, missing[i],
                                                      &error);
      g_assert_null (record);
      g_assert_error (error, ST_ERROR, ST_ERROR_NOT_FOUND);
      st_test_assert_contains (error->message, missing[i]);
    }
  for (guint i = 0; malformed[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) record = st_customers_get (fx->store, malformed[i],
                                                      &error);
      g_assert_null (record);
      g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
    }
}

/* Validation: each refusal names the field and writes nothing ------------ */

typedef struct {
  const char *fields;  /* GVariant text of the a{sv} */
  const char *field;   /* what the message must start with */
  const char *mention; /* and contain */
  gboolean on_update;  /* also refused by update */
} Refusal;

static const Refusal refusals[] = {
  { "{'email': <'a@example.com'>}", "name:", "give the customer's name", FALSE },
  { "{'name': <'   '>}", "name:", "name", TRUE },
  { "{'name': <'Ann'>, 'email': <'ann@'>}", "email:", "ann@", TRUE },
  { "{'name': <'Ann'>, 'tz': <'Mars/Olympus_Mons'>}", "tz:", "Mars", TRUE },
  { "{'name': <'Ann'>, 'locale': <'english'>}", "locale:", "english", TRUE },
  { "{'name': <'Ann'>, 'phone': <'call me maybe'>}", "phone:", "call", TRUE },
  { "{'name': <'Ann'>, 'tags': <['ok', 'not ok']>}", "tag:", "not ok", TRUE },
  { "{'name': <'Ann'>, 'ref': <'id:7'>}", "ref:", "id:7", TRUE },
  { "{'name': <'Ann'>, 'colour': <'blue'>}", "customer:", "'colour'", TRUE },
  { "{'name': <@i 42>}", "name:", "string", TRUE },
  { "{'name': <'Ann'>, 'tags': <'vip'>}", "tags:", "list", TRUE },
  { "{'name': <'Ann'>, 'attrs': <'plan=pro'>}", "attrs:", "dictionary", TRUE },
};

static const char *const refusal_names[G_N_ELEMENTS (refusals)] = {
  "missing-name", "blank-name", "bad-email", "bad-tz", "bad-locale",
  "bad-phone", "bad-tag", "bad-ref", "unknown-field", "wrong-type",
  "wrong-type-tags", "wrong-type-attrs",
};

static void
test_validation_refusal (gconstpointer data)
{
  const Refusal *r = data;
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) existing = create (fx, "{'name': <'Existing'>, "
                                              "'email': <'e@example.com'>, "
                                              "'tags': <['kept']>}");
  g_autoptr (GVariant) fields = st_test_parsed (r->fields);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) refused = NULL;
  g_autofree char *before = snapshot (fx), *after = NULL;
  g_autofree char *address = id_text (existing);

  refused = st_customers_create (fx->store, fx->config, fields, "test",
                                 &error);
  g_assert_null (refused);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  if (!g_str_has_prefix (error->message, r->field))
    g_error ("expected the message to start with '%s': %s", r->field,
             error->message);
  st_test_assert_contains (error->message, r->mention);
  after = snapshot (fx);
  g_assert_cmpstr (after, ==, before);

  if (r->on_update)
    {
      g_autoptr (GVariant) unchanged = NULL;

      g_clear_error (&error);
      refused = st_customers_update (fx->store, address, fields, &error);
      g_assert_null (refused);
      g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
      g_assert_true (g_str_has_prefix (error->message, r->field));
      g_clear_pointer (&after, g_free);
      after = snapshot (fx);
      g_assert_cmpstr (after, ==, before);
      unchanged = get (fx, address);
      g_assert_true (g_variant_equal (unchanged, existing));
    }
}

/* Uniqueness ----------------------------------------------------------- */

static void
test_email_unique_any_case (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) ann = create (fx, "{'name': <'Ann'>, "
                                         "'email': <'Ann@Example.com'>}");
  g_autoptr (GVariant) fields =
      st_test_parsed ("{'name': <'Impostor'>, "
                      "'email': <'ann@EXAMPLE.COM'>}");
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) refused = NULL;
  g_autofree char *before = snapshot (fx), *after = NULL;
  g_autofree char *holder = g_strdup_printf ("customer %" G_GINT64_FORMAT,
                                             id_of (ann));

  refused = st_customers_create (fx->store, fx->config, fields, "test",
                                 &error);
  g_assert_null (refused);
  g_assert_error (error, ST_ERROR, ST_ERROR_ALREADY_EXISTS);
  g_assert_true (g_str_has_prefix (error->message, "email:"));
  st_test_assert_contains (error->message, "ann@EXAMPLE.COM");
  st_test_assert_contains (error->message, holder);
  after = snapshot (fx);
  g_assert_cmpstr (after, ==, before);

  /* The store is usable afterwards. */
  {
    g_autoptr (GVariant) other = create (fx, "{'name': <'Other'>, "
                                             "'email': <'other@example.com'>}");
    g_assert_cmpint (id_of (other), >, id_of (ann));
  }
}

static void
test_ref_unique (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) ann = create (fx, "{'name': <'Ann'>, 'ref': <'crm-1'>}");
  g_autoptr (GVariant) fields =
      st_test_parsed ("{'name': <'Bob'>, 'ref': <'crm-1'>}");
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) refused = NULL;
  g_autofree char *before = snapshot (fx), *after = NULL;
  g_autofree char *holder = g_strdup_printf ("customer %" G_GINT64_FORMAT,
                                             id_of (ann));

  refused = st_customers_create (fx->store, fx->config, fields, "test",
                                 &error);
  g_assert_null (refused);
  g_assert_error (error, ST_ERROR, ST_ERROR_ALREADY_EXISTS);
  g_assert_true (g_str_has_prefix (error->message, "ref:"));
  st_test_assert_contains (error->message, "'crm-1'");
  st_test_assert_contains (error->message, holder);
  after = snapshot (fx);
  g_assert_cmpstr (after, ==, before);
}

static void
test_update_conflict (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) ann = create (fx, "{'name': <'Ann'>, 'ref': <'A'>, "
                                         "'email': <'ann@example.com'>}");
  g_autoptr (GVariant) bob = create (fx, "{'name': <'Bob'>, 'ref': <'B'>}");
  g_autoptr (GVariant) by_email =
      st_test_parsed ("{'name': <'Bob B'>, "
                      "'email': <'ANN@example.com'>}");
  g_autoptr (GVariant) by_ref = st_test_parsed ("{'ref': <'A'>}");
  g_autofree char *holder = g_strdup_printf ("customer %" G_GINT64_FORMAT,
                                             id_of (ann));
  g_autofree char *before = snapshot (fx), *after = NULL;
  g_autoptr (GVariant) unchanged = NULL;

  for (int i = 0; i < 2; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) refused = st_customers_update (
          fx->store, "B", i == 0 ? by_email : by_ref, &error);
      g_assert_null (refused);
      g_assert_error (error, ST_ERROR, ST_ERROR_ALREADY_EXISTS);
      g_assert_true (g_str_has_prefix (error->message,
                                       i == 0 ? "email:" : "ref:"));
      st_test_assert_contains (error->message, holder);
    }
  after = snapshot (fx);
  g_assert_cmpstr (after, ==, before);
  /* Nothing of the refused update was kept, not even the new name. */
  unchanged = get (fx, "B");
  g_assert_true (g_variant_equal (unchanged, bob));
}

static void
test_hostile_text (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  const char *name = "Robert'); DROP TABLE customers; --";
  const char *ref = "O'Brien\\\"x\"";
  g_autoptr (GVariant) created = create (
      fx, "{'name': <%s>, 'ref': <%s>, 'attrs': <{'note': <%s>}>}", name, ref,
      name);
  g_autoptr (GVariant) got = get (fx, ref);
  g_autofree char *ref_address = g_strconcat ("ref:", ref, NULL);
  g_autoptr (GVariant) explicit = get (fx, ref_address);
  g_autoptr (GVariant) attrs = g_variant_lookup_value (
      got, "attrs", G_VARIANT_TYPE_VARDICT);
  const char *note;

  g_assert_cmpstr (st_test_lookup_str (got, "name"), ==, name);
  g_assert_cmpstr (st_test_lookup_str (got, "ref"), ==, ref);
  g_assert_true (g_variant_lookup (attrs, "note", "&s", &note));
  g_assert_cmpstr (note, ==, name);
  g_assert_true (g_variant_equal (got, explicit));
  g_assert_true (g_variant_equal (got, created));
  g_assert_cmpint (
      st_test_db_query_int (fx->db, "SELECT count(*) FROM customers"), ==, 1);
}

/* Update --------------------------------------------------------------- */

static GVariant *
update (StTestStore *fx, const char *address, const char *format, ...)
{
  va_list ap;
  g_autoptr (GVariant) fields = NULL;
  g_autoptr (GError) error = NULL;
  GVariant *record;

  va_start (ap, format);
  fields = g_variant_ref_sink (g_variant_new_parsed_va (format, &ap));
  va_end (ap);
  record = st_customers_update (fx->store, address, fields, &error);
  g_assert_no_error (error);
  g_assert_nonnull (record);
  return record;
}

static void
test_update_set_and_clear (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) ann = create (
      fx, "{'name': <'Ann'>, 'ref': <'A'>, 'email': <'ann@example.com'>,"
          " 'phone': <'0123 456'>, 'owner': <'alice'>, 'tz': <'UTC'>}");
  g_autoptr (GVariant) set = NULL, cleared = NULL, again = NULL;
  g_autoptr (GDateTime) t0 = time_of (ann, "updated_at");
  g_autoptr (GDateTime) t1 = NULL;

  set = update (fx, "A", "{'email': <'  ann.lee@example.org '>,"
                         " 'owner': <'bob'>, 'locale': <'en-GB'>}");
  g_assert_cmpstr (st_test_lookup_str (set, "email"), ==,
                   "ann.lee@example.org");
  g_assert_cmpstr (st_test_lookup_str (set, "owner"), ==, "bob");
  g_assert_cmpstr (st_test_lookup_str (set, "locale"), ==, "en-GB");
  /* Fields not given are kept. */
  g_assert_cmpstr (st_test_lookup_str (set, "name"), ==, "Ann");
  g_assert_cmpstr (st_test_lookup_str (set, "phone"), ==, "0123 456");
  g_assert_cmpstr (st_test_lookup_str (set, "tz"), ==, "UTC");
  t1 = time_of (set, "updated_at");
  g_assert_cmpint (g_date_time_compare (t1, t0), >, 0);
  g_assert_cmpstr (st_test_lookup_str (set, "created_at"), ==,
                   st_test_lookup_str (ann, "created_at"));

  /* "" clears an optional field; the ref goes too, then a new one. */
  cleared = update (fx, "A", "{'phone': <''>, 'owner': <''>, 'ref': <''>,"
                             " 'name': <'Ann Lee'>}");
  g_assert_false (g_variant_lookup (cleared, "phone", "*", NULL));
  g_assert_false (g_variant_lookup (cleared, "owner", "*", NULL));
  g_assert_false (g_variant_lookup (cleared, "ref", "*", NULL));
  g_assert_cmpstr (st_test_lookup_str (cleared, "name"), ==, "Ann Lee");
  g_assert_cmpstr (st_test_lookup_str (cleared, "email"), ==,
                   "ann.lee@example.org");
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) gone = st_customers_get (fx->store, "A", &error);
    g_assert_error (error, ST_ERROR, ST_ERROR_NOT_FOUND);
  }
  {
    g_autofree char *address = id_text (ann);
    again = update (fx, address, "{'ref': <'A2'>}");
  }
  g_assert_cmpstr (st_test_lookup_str (again, "ref"), ==, "A2");
  g_assert_cmpint (
      st_test_db_query_int (fx->db,
                            "SELECT count(*) FROM customers WHERE "
                            "phone IS NULL AND owner IS NULL AND ref = 'A2'"),
      ==, 1);
}

static void
test_update_tags (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "{'name': <'T'>, 'ref': <'t'>, "
                                       "'tags': <['b', 'a']>}");
  g_autoptr (GVariant) added = NULL, removed = NULL, both = NULL;
  g_autoptr (GVariant) replaced = NULL, emptied = NULL;

  assert_tags (c, "a,b");
  added = update (fx, "t", "{'add_tags': <['c', 'a']>}");
  assert_tags (added, "a,b,c");
  removed = update (fx, "t", "{'remove_tags': <['a', 'absent']>}");
  assert_tags (removed, "b,c");
  both = update (fx, "t", "{'add_tags': <['d']>, 'remove_tags': <['b']>}");
  assert_tags (both, "c,d");
  replaced = update (fx, "t", "{'tags': <['z', 'y']>}");
  assert_tags (replaced, "y,z");
  emptied = update (fx, "t", "{'tags': <@as []>}");
  assert_tags (emptied, "");
  g_assert_cmpint (
      st_test_db_query_int (fx->db, "SELECT cardinality(tags) FROM customers"),
      ==, 0);
}

static void
test_update_attrs (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (
      fx, "{'name': <'A'>, 'ref': <'a'>,"
          " 'attrs': <{'plan': <'basic'>, 'seats': <@x 3>}>}");
  g_autoptr (GVariant) merged = NULL, removed = NULL;
  g_autoptr (GVariant) attrs = NULL, attrs2 = NULL;
  const char *s;
  gint64 x;
  gboolean b;

  merged = update (fx, "a", "{'attrs': <{'plan': <'pro'>, 'trial': <true>}>}");
  attrs = g_variant_lookup_value (merged, "attrs", G_VARIANT_TYPE_VARDICT);
  g_assert_cmpuint (g_variant_n_children (attrs), ==, 3);
  g_assert_true (g_variant_lookup (attrs, "plan", "&s", &s));
  g_assert_cmpstr (s, ==, "pro");
  g_assert_true (g_variant_lookup (attrs, "seats", "x", &x));
  g_assert_cmpint (x, ==, 3);
  g_assert_true (g_variant_lookup (attrs, "trial", "b", &b));
  g_assert_true (b);

  /* "" removes a key; others stay. */
  removed = update (fx, "a", "{'attrs': <{'plan': <''>}>}");
  attrs2 = g_variant_lookup_value (removed, "attrs", G_VARIANT_TYPE_VARDICT);
  g_assert_cmpuint (g_variant_n_children (attrs2), ==, 2);
  g_assert_false (g_variant_lookup (attrs2, "plan", "*", NULL));
  g_assert_true (g_variant_lookup (attrs2, "seats", "x", &x));
  g_assert_cmpint (st_test_db_query_int (fx->db,
                                         "SELECT count(*) FROM customers "
                                         "WHERE attrs ? 'plan'"),
                   ==, 0);
}

static void
test_update_refuses_stage (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "{'name': <'S'>, 'ref': <'s'>}");
  g_autoptr (GVariant) fields = st_test_parsed ("{'name': <'New name'>, "
                                                "'stage': <'onboarding'>}");
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) refused = NULL, unchanged = NULL;
  g_autofree char *before = snapshot (fx), *after = NULL;

  refused = st_customers_update (fx->store, "s", fields, &error);
  g_assert_null (refused);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_assert_true (g_str_has_prefix (error->message, "stage:"));
  st_test_assert_contains (error->message, "SetStage");
  after = snapshot (fx);
  g_assert_cmpstr (after, ==, before);
  unchanged = get (fx, "s");
  g_assert_cmpstr (st_test_lookup_str (unchanged, "stage"), ==, "lead");
  g_assert_cmpstr (st_test_lookup_str (unchanged, "name"), ==, "S");
}

static void
test_update_not_found (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) fields = st_test_parsed ("{'name': <'Nobody'>}");
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) refused = st_customers_update (fx->store, "42", fields,
                                                      &error);

  g_assert_null (refused);
  g_assert_error (error, ST_ERROR, ST_ERROR_NOT_FOUND);
  g_assert_cmpint (
      st_test_db_query_int (fx->db, "SELECT count(*) FROM customers"), ==, 0);
}

/* Find ----------------------------------------------------------------- */

static char *
find_names (StTestStore *fx, const char *format, ...)
{
  va_list ap;
  g_autoptr (GVariant) filter = NULL, list = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) names = g_string_new (NULL);

  va_start (ap, format);
  filter = g_variant_ref_sink (g_variant_new_parsed_va (format, &ap));
  va_end (ap);
  list = st_customers_find (fx->store, fx->config, filter, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (list, G_VARIANT_TYPE ("aa{sv}")));
  for (gsize i = 0; i < g_variant_n_children (list); i++)
    {
      g_autoptr (GVariant) row = g_variant_get_child_value (list, i);
      g_string_append_printf (names, "%s%s", i ? "," : "",
                              st_test_lookup_str (row, "name"));
    }
  return g_string_free (g_steal_pointer (&names), FALSE);
}

#define ASSERT_FIND(fx, expected, ...)                                   \
  G_STMT_START                                                           \
  {                                                                      \
    g_autofree char *found_ = find_names (fx, __VA_ARGS__);              \
    g_assert_cmpstr (found_, ==, expected);                              \
  }                                                                      \
  G_STMT_END

static void
populate (StTestStore *fx)
{
  g_autoptr (GVariant) c1 = create (fx, "{'name': <'c1'>, 'owner': <'alice'>, "
                                        "'tags': <['vip']>}");
  g_autoptr (GVariant) c2 = create (fx, "{'name': <'c2'>, 'owner': <'bob'>, "
                                        "'tags': <['vip', 'eu']>}");
  g_autoptr (GVariant) c3 = create (fx, "{'name': <'c3'>, 'owner': <'alice'>, "
                                        "'tags': <['eu']>, "
                                        "'stage': <'active'>}");
  g_autoptr (GVariant) c4 = create (fx, "{'name': <'c4'>, 'owner': <'alice'>}");
  g_autoptr (GVariant) c5 = create (fx, "{'name': <'c5'>, 'tags': <['vipx']>}");
}

static void
test_find_filters (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();

  populate (fx);
  ASSERT_FIND (fx, "c1,c2,c3,c4,c5", "@a{sv} {}");
  ASSERT_FIND (fx, "c1,c2,c4,c5", "{'stage': <'lead'>}");
  ASSERT_FIND (fx, "c3", "{'stage': <'active'>}");
  ASSERT_FIND (fx, "", "{'stage': <'churned'>}");
  ASSERT_FIND (fx, "c1,c3,c4", "{'owner': <'alice'>}");
  /* A tag matches exactly, not as a prefix. */
  ASSERT_FIND (fx, "c1,c2", "{'tag': <'vip'>}");
  ASSERT_FIND (fx, "c1,c4", "{'stage': <'lead'>, 'owner': <'alice'>}");
  ASSERT_FIND (fx, "c2", "{'tag': <'eu'>, 'owner': <'bob'>}");
  ASSERT_FIND (fx, "", "{'owner': <'nobody'>}");
}

static void
test_find_paging (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();

  populate (fx);
  ASSERT_FIND (fx, "c1,c2", "{'limit': <@u 2>}");
  ASSERT_FIND (fx, "c3,c4", "{'limit': <@u 2>, 'offset': <@u 2>}");
  ASSERT_FIND (fx, "c5", "{'limit': <@u 2>, 'offset': <@u 4>}");
  ASSERT_FIND (fx, "", "{'limit': <@u 2>, 'offset': <@u 10>}");
  /* Paging applies after the filter. */
  ASSERT_FIND (fx, "c4", "{'owner': <'alice'>, 'limit': <@i 1>, "
                         "'offset': <@i 2>}");
}

static void
test_find_refusals (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  static const struct {
    const char *filter;
    const char *prefix;
    const char *mention;
  } cases[] = {
    { "{'stage': <'prospect'>}", "stage:", "lead, onboarding, active, at_risk, churned" },
    { "{'limit': <@u 0>}", "limit:", "10000" },
    { "{'limit': <@i -1>}", "limit:", "-1" },
    { "{'colour': <'blue'>}", "filter:", "'colour'" },
    { "{'owner': <@i 3>}", "owner:", "string" },
  };

  populate (fx);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GVariant) filter = st_test_parsed (cases[i].filter);
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) list = st_customers_find (fx->store, fx->config,
                                                     filter, &error);
      g_assert_null (list);
      g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
      g_assert_true (g_str_has_prefix (error->message, cases[i].prefix));
      st_test_assert_contains (error->message, cases[i].mention);
    }
}

/* Lifecycle ------------------------------------------------------------ */

static GVariant *
set_stage (StTestStore *fx, const char *address, const char *stage,
           const char *reason, const char *actor)
{
  g_autoptr (GError) error = NULL;
  GVariant *record = st_customers_set_stage (fx->store, fx->config, address,
                                             stage, reason, actor, &error);

  g_assert_no_error (error);
  g_assert_nonnull (record);
  return record;
}

static char *
last_history (StTestStore *fx, GVariant *customer)
{
  return query (fx, "SELECT coalesce(from_stage, '-') || '>' || to_stage || '|'"
                    " || actor || '|' || coalesce(reason, '<null>')"
                    " FROM stage_history WHERE customer_id = %" G_GINT64_FORMAT
                    " ORDER BY id DESC LIMIT 1",
                id_of (customer));
}

static void
test_set_stage_legal (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "{'name': <'Life'>, 'ref': <'life'>}");
  static const struct {
    const char *to, *reason, *actor, *history;
  } moves[] = {
    { "onboarding", "signed", "alice", "lead>onboarding|alice|signed" },
    { "active", NULL, "script:welcome", "onboarding>active|script:welcome|<null>" },
    { "at_risk", "no login for 30 days", "health", "active>at_risk|health|no login for 30 days" },
    { "active", "came back", "alice", "at_risk>active|alice|came back" },
    { "at_risk", "", "health", "active>at_risk|health|<null>" },
    { "churned", "cancelled", "bob", "at_risk>churned|bob|cancelled" },
    { "active", "win-back offer", "bob", "churned>active|bob|win-back offer" },
  };
  g_autoptr (GDateTime) since = time_of (c, "stage_since");

  for (gsize i = 0; i < G_N_ELEMENTS (moves); i++)
    {
      g_autoptr (GVariant) moved = set_stage (fx, "life", moves[i].to,
                                              moves[i].reason, moves[i].actor);
      g_autoptr (GVariant) got = get (fx, "life");
      g_autoptr (GDateTime) new_since = time_of (moved, "stage_since");
      g_autofree char *history = last_history (fx, c);

      g_assert_cmpstr (st_test_lookup_str (moved, "stage"), ==, moves[i].to);
      g_assert_true (g_variant_equal (moved, got));
      g_assert_cmpstr (history, ==, moves[i].history);
      /* stage_since is the time of this move. */
      g_assert_cmpint (g_date_time_compare (new_since, since), >, 0);
      g_date_time_unref (since);
      since = g_date_time_ref (new_since);
    }
  g_assert_cmpint (
      st_test_db_query_int (fx->db, "SELECT count(*) FROM stage_history"), ==,
      1 + G_N_ELEMENTS (moves));
}

static void
assert_refused_move (StTestStore *fx, const char *address, const char *to,
                     int code, const char *mention)
{
  g_autofree char *before = snapshot (fx), *after = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) refused = st_customers_set_stage (
      fx->store, fx->config, address, to, "why not", "alice", &error);

  g_assert_null (refused);
  g_assert_error (error, ST_ERROR, code);
  st_test_assert_contains (error->message, mention);
  after = snapshot (fx);
  g_assert_cmpstr (after, ==, before);
}

static void
test_set_stage_illegal (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "{'name': <'L'>, 'ref': <'l'>}");
  g_autoptr (GVariant) r = create (fx, "{'name': <'R'>, 'ref': <'r'>, "
                                       "'stage': <'at_risk'>}");
  g_autoptr (GVariant) still = NULL;

  /* The message lists the stages the customer may move to. */
  assert_refused_move (fx, "l", "active", ST_ERROR_ILLEGAL_TRANSITION,
                       "allowed next stages from lead: onboarding");
  assert_refused_move (fx, "l", "churned", ST_ERROR_ILLEGAL_TRANSITION,
                       "onboarding");
  assert_refused_move (fx, "r", "lead", ST_ERROR_ILLEGAL_TRANSITION,
                       "active, churned");
  assert_refused_move (fx, "r", "onboarding", ST_ERROR_ILLEGAL_TRANSITION,
                       "cannot move from at_risk to onboarding");
  still = get (fx, "l");
  g_assert_cmpstr (st_test_lookup_str (still, "stage"), ==, "lead");
  g_assert_true (g_variant_equal (still, c));
}

static void
test_set_stage_same (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "{'name': <'Same'>, 'ref': <'same'>, "
                                       "'stage': <'active'>}");

  assert_refused_move (fx, "same", "active", ST_ERROR_ILLEGAL_TRANSITION,
                       "already in stage active");
}

static void
test_set_stage_unknown (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "{'name': <'U'>, 'ref': <'u'>}");

  assert_refused_move (fx, "u", "paying", ST_ERROR_INVALID_ARGUMENT,
                       "'paying' is not a stage");
  assert_refused_move (fx, "u", "", ST_ERROR_INVALID_ARGUMENT,
                       "lead, onboarding, active, at_risk, churned");
  assert_refused_move (fx, "nobody", "onboarding", ST_ERROR_NOT_FOUND,
                       "nobody");
}

static void
test_set_stage_reason_too_long (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "{'name': <'U'>, 'ref': <'u'>}");
  g_autofree char *reason = g_strnfill (1001, 'x');
  g_autofree char *before = snapshot (fx), *after = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) refused = st_customers_set_stage (
      fx->store, fx->config, "u", "onboarding", reason, "alice", &error);

  g_assert_null (refused);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_assert_true (g_str_has_prefix (error->message, "reason:"));
  after = snapshot (fx);
  g_assert_cmpstr (after, ==, before);
}

static void
test_custom_lifecycle (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) custom = st_config_load_from_data (
      "stages:\n"
      "  trial: [paying, lost]\n"
      "  paying: [lost]\n"
      "  lost: []\n",
      -1, "custom.yaml", &error);
  g_autoptr (GVariant) c = NULL, paying = NULL, lost = NULL;
  g_autoptr (GVariant) lead = st_test_parsed ("{'stage': <'lead'>}");
  g_autoptr (GVariant) none = NULL;

  g_assert_no_error (error);
  st_config_free (fx->config);
  fx->config = g_steal_pointer (&custom);

  /* New customers start in the first stage of this lifecycle. */
  c = create (fx, "{'name': <'Custom'>, 'ref': <'cu'>}");
  g_assert_cmpstr (st_test_lookup_str (c, "stage"), ==, "trial");
  paying = set_stage (fx, "cu", "paying", "card ok", "billing");
  g_assert_cmpstr (st_test_lookup_str (paying, "stage"), ==, "paying");

  assert_refused_move (fx, "cu", "trial", ST_ERROR_ILLEGAL_TRANSITION,
                       "allowed next stages from paying: lost");
  /* The default stages mean nothing here. */
  assert_refused_move (fx, "cu", "active", ST_ERROR_INVALID_ARGUMENT,
                       "trial, paying, lost");
  none = st_customers_find (fx->store, fx->config, lead, &error);
  g_assert_null (none);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  lost = set_stage (fx, "cu", "lost", NULL, "billing");
  /* A stage with no way out says so. */
  assert_refused_move (fx, "cu", "paying", ST_ERROR_ILLEGAL_TRANSITION,
                       "allowed next stages from lost: none");
  ASSERT_FIND (fx, "Custom", "{'stage': <'lost'>}");
}

/* Timeline ------------------------------------------------------------- */

static void
record_event (StTestStore *fx, const char *address, const char *kind,
              const char *format, ...)
{
  va_list ap;
  g_autoptr (GVariant) data = NULL, event = NULL;
  g_autoptr (GError) error = NULL;

  va_start (ap, format);
  data = g_variant_ref_sink (g_variant_new_parsed_va (format, &ap));
  va_end (ap);
  event = st_events_record (fx->store, address, kind, data, &error);
  g_assert_no_error (error);
}

static char *
timeline (StTestStore *fx, const char *address, const char *options)
{
  g_autoptr (GVariant) opts = st_test_parsed (options);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) list = st_customers_timeline (fx->store, address, opts,
                                                     &error);
  g_autoptr (GString) out = g_string_new (NULL);

  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (list, G_VARIANT_TYPE ("aa{sv}")));
  for (gsize i = 0; i < g_variant_n_children (list); i++)
    {
      g_autoptr (GVariant) row = g_variant_get_child_value (list, i);
      const char *type = st_test_lookup_str (row, "type");

      g_assert_nonnull (st_test_lookup_str (row, "at"));
      g_assert_true (g_variant_lookup (row, "id", "x", NULL));
      if (i > 0)
        g_string_append_c (out, ' ');
      if (g_strcmp0 (type, "event") == 0)
        g_string_append_printf (out, "%s", st_test_lookup_str (row, "kind"));
      else
        {
          g_assert_cmpstr (type, ==, "stage");
          const char *from = st_test_lookup_str (row, "from");
          g_string_append_printf (out, "%s>%s", from != NULL ? from : "-",
                                  st_test_lookup_str (row, "to"));
        }
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

#define ASSERT_TIMELINE(fx, address, options, expected)                  \
  G_STMT_START                                                           \
  {                                                                      \
    g_autofree char *got_ = timeline (fx, address, options);             \
    g_assert_cmpstr (got_, ==, expected);                                \
  }                                                                      \
  G_STMT_END

static void
test_timeline (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "{'name': <'Tim'>, 'ref': <'tim'>}");
  g_autoptr (GVariant) other = create (fx, "{'name': <'Other'>, "
                                           "'ref': <'other'>}");
  g_autoptr (GVariant) moved = NULL;
  g_autoptr (GVariant) full = NULL, first = NULL;
  g_autoptr (GVariant) opts = st_test_parsed ("@a{sv} {}");
  g_autoptr (GError) error = NULL;
  double amount;
  const char *s;

  /* Recorded out of order, in the past; the stage moves happen now. */
  record_event (fx, "tim", "login", "{'at': <'2024-02-01T09:00:00Z'>}");
  record_event (fx, "tim", "purchase", "{'at': <'2024-01-01T09:00:00Z'>, "
                                       "'amount': <19.5>, 'key': <'o-1'>}");
  record_event (fx, "tim", "survey", "{'at': <'2024-03-01T09:00:00Z'>, "
                                     "'data': <{'score': <@i 9>}>}");
  record_event (fx, "other", "login", "{'at': <'2024-02-15T09:00:00Z'>}");
  moved = set_stage (fx, "tim", "onboarding", "signed", "alice");

  ASSERT_TIMELINE (fx, "tim", "@a{sv} {}",
                   "lead>onboarding ->lead survey login purchase");
  ASSERT_TIMELINE (fx, "other", "@a{sv} {}", "->lead login");

  /* Pages put together give the whole timeline. */
  ASSERT_TIMELINE (fx, "tim", "{'limit': <@u 2>}", "lead>onboarding ->lead");
  ASSERT_TIMELINE (fx, "tim", "{'limit': <@u 2>, 'offset': <@u 2>}",
                   "survey login");
  ASSERT_TIMELINE (fx, "tim", "{'limit': <@u 2>, 'offset': <@u 4>}",
                   "purchase");
  ASSERT_TIMELINE (fx, "tim", "{'limit': <@u 2>, 'offset': <@u 6>}", "");

  /* Entries carry what a person wants to read. */
  full = st_customers_timeline (fx->store, "tim", opts, &error);
  g_assert_no_error (error);
  first = g_variant_get_child_value (full, 0);
  g_assert_true (g_variant_lookup (first, "actor", "&s", &s));
  g_assert_cmpstr (s, ==, "alice");
  g_assert_true (g_variant_lookup (first, "reason", "&s", &s));
  g_assert_cmpstr (s, ==, "signed");
  {
    g_autoptr (GVariant) purchase = g_variant_get_child_value (full, 4);
    g_assert_true (g_variant_lookup (purchase, "amount", "d", &amount));
    g_assert_cmpfloat (amount, ==, 19.5);
    g_assert_true (g_variant_lookup (purchase, "key", "&s", &s));
    g_assert_cmpstr (s, ==, "o-1");
    g_assert_true (g_variant_lookup (purchase, "at", "&s", &s));
    ST_TEST_ASSERT_TIME (s, "2024-01-01T09:00:00Z");
  }
}

static void
test_timeline_refusals (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "{'name': <'Tim'>, 'ref': <'tim'>}");
  static const struct {
    const char *address, *options;
    int code;
  } cases[] = {
    { "tim", "{'limit': <@u 0>}", ST_ERROR_INVALID_ARGUMENT },
    { "tim", "{'limit': <@u 1001>}", ST_ERROR_INVALID_ARGUMENT },
    { "tim", "{'page': <@u 1>}", ST_ERROR_INVALID_ARGUMENT },
    { "nobody", "@a{sv} {}", ST_ERROR_NOT_FOUND },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GVariant) opts = st_test_parsed (cases[i].options);
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) list = st_customers_timeline (
          fx->store, cases[i].address, opts, &error);
      g_assert_null (list);
      g_assert_error (error, ST_ERROR, cases[i].code);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/customers/create/all-fields", test_create_all_fields);
  g_test_add_func ("/customers/create/minimal", test_create_minimal);
  g_test_add_func ("/customers/create/in-stage", test_create_in_stage);
  g_test_add_func ("/customers/create/email-unique-any-case",
                   test_email_unique_any_case);
  g_test_add_func ("/customers/create/ref-unique", test_ref_unique);
  g_test_add_func ("/customers/create/hostile-text", test_hostile_text);
  for (gsize i = 0; i < G_N_ELEMENTS (refusals); i++)
    {
      g_autofree char *path = g_strconcat ("/customers/validation/",
                                           refusal_names[i], NULL);
      g_test_add_data_func (path, &refusals[i], test_validation_refusal);
    }
  g_test_add_func ("/customers/get/by-id-and-ref", test_get_by_id_and_ref);
  g_test_add_func ("/customers/get/ambiguous", test_get_ambiguous);
  g_test_add_func ("/customers/get/not-found", test_get_not_found);
  g_test_add_func ("/customers/update/set-and-clear",
                   test_update_set_and_clear);
  g_test_add_func ("/customers/update/tags", test_update_tags);
  g_test_add_func ("/customers/update/attrs", test_update_attrs);
  g_test_add_func ("/customers/update/refuses-stage",
                   test_update_refuses_stage);
  g_test_add_func ("/customers/update/conflict", test_update_conflict);
  g_test_add_func ("/customers/update/not-found", test_update_not_found);
  g_test_add_func ("/customers/find/filters", test_find_filters);
  g_test_add_func ("/customers/find/paging", test_find_paging);
  g_test_add_func ("/customers/find/refusals", test_find_refusals);
  g_test_add_func ("/customers/set-stage/legal", test_set_stage_legal);
  g_test_add_func ("/customers/set-stage/illegal", test_set_stage_illegal);
  g_test_add_func ("/customers/set-stage/same-stage", test_set_stage_same);
  g_test_add_func ("/customers/set-stage/unknown-stage",
                   test_set_stage_unknown);
  g_test_add_func ("/customers/set-stage/reason-too-long",
                   test_set_stage_reason_too_long);
  g_test_add_func ("/customers/set-stage/custom-lifecycle",
                   test_custom_lifecycle);
  g_test_add_func ("/customers/timeline/merged-newest-first", test_timeline);
  g_test_add_func ("/customers/timeline/refusals", test_timeline_refusals);

  return g_test_run ();
}
