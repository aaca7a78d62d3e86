/* Tests for core/st-events.c: RecordEvent / RecordEvents, the customer's
 * aggregates, idempotency keys and concurrency, against a real PostgreSQL. */

#include <string.h>

#include "st-config.h"
#include "st-customers.h"
#include "st-error.h"
#include "st-events.h"
#include "st-test-util.h"

/* Everything an event call may write. */
static char *
snapshot (StTestStore *fx)
{
  return st_test_db_query (
      fx->db,
      "SELECT (SELECT count(*) FROM events) || '/' ||"
      "  (SELECT count(*) FROM customer_event_kinds) || '/' ||"
      "  (SELECT coalesce(string_agg(md5(k::text), ',' ORDER BY customer_id,"
      "   kind), '-') FROM customer_event_kinds k) || '/' ||"
      "  (SELECT coalesce(string_agg(md5(c::text), ',' ORDER BY id), '-')"
      "     FROM customers c)");
}

static GVariant *
create (StTestStore *fx, const char *name, const char *ref)
{
  g_autoptr (GVariant) fields =
      st_test_parsed ("{'name': <%s>, 'ref': <%s>}", name, ref);
  g_autoptr (GError) error = NULL;
  GVariant *record = st_customers_create (fx->store, fx->config, fields,
                                          "test", &error);

  g_assert_no_error (error);
  return record;
}

static GVariant *
customer (StTestStore *fx, const char *address)
{
  g_autoptr (GError) error = NULL;
  GVariant *record = st_customers_get (fx->store, address, &error);

  g_assert_no_error (error);
  return record;
}

static GVariant *
record (StTestStore *fx, const char *address, const char *kind,
        const char *format, ...)
{
  va_list ap;
  g_autoptr (GVariant) data = NULL;
  g_autoptr (GError) error = NULL;
  GVariant *event;

  va_start (ap, format);
  data = g_variant_ref_sink (g_variant_new_parsed_va (format, &ap));
  va_end (ap);
  event = st_events_record (fx->store, address, kind, data, &error);
  g_assert_no_error (error);
  g_assert_nonnull (event);
  return event;
}

/* Records an event that must be refused with @code and a message that
 * starts with @prefix, and checks that nothing was written. */
static void
assert_refused (StTestStore *fx, const char *address, const char *kind,
                const char *data_text, int code, const char *prefix)
{
  g_autoptr (GVariant) data = st_test_parsed (data_text);
  g_autoptr (GError) error = NULL;
  g_autofree char *before = snapshot (fx), *after = NULL;
  g_autoptr (GVariant) event = st_events_record (fx->store, address, kind,
                                                 data, &error);

  if (event != NULL)
    g_error ("%s %s was accepted", kind, data_text);
  g_assert_error (error, ST_ERROR, code);
  if (!g_str_has_prefix (error->message, prefix))
    g_error ("expected the message for %s %s to start with '%s': %s", kind,
             data_text, prefix, error->message);
  after = snapshot (fx);
  g_assert_cmpstr (after, ==, before);
}

/* Recording ------------------------------------------------------------ */

static void
test_record_fields (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "Ann", "ann");
  g_autoptr (GVariant) event = record (
      fx, "ann", "purchase",
      "{'at': <'2024-03-01T11:00:00+01:00'>, 'amount': <19.99>,"
      " 'key': <'order-1'>,"
      " 'data': <{'sku': <'A-1'>, 'qty': <@i 2>, 'gift': <true>}>}");
  g_autoptr (GVariant) data = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) recorded = NULL;
  const char *sku;
  gint64 qty;
  gboolean flag;

  g_assert_cmpint (st_test_rec_int64 (event, "id"), >, 0);
  g_assert_cmpint (st_test_rec_int64 (event, "customer_id"), ==,
                   st_test_rec_int64 (c, "id"));
  g_assert_cmpstr (st_test_lookup_str (event, "kind"), ==, "purchase");
  /* The time as given, told in UTC. */
  ST_TEST_ASSERT_TIME (st_test_lookup_str (event, "occurred_at"),
                       "2024-03-01T10:00:00Z");
  g_assert_cmpfloat (st_test_rec_double (event, "amount"), ==, 19.99);
  g_assert_cmpstr (st_test_lookup_str (event, "key"), ==, "order-1");
  g_assert_true (g_variant_lookup (event, "duplicate", "b", &flag));
  g_assert_false (flag);
  data = g_variant_lookup_value (event, "data", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (data);
  g_assert_true (g_variant_lookup (data, "sku", "&s", &sku));
  g_assert_cmpstr (sku, ==, "A-1");
  g_assert_true (g_variant_lookup (data, "qty", "x", &qty));
  g_assert_cmpint (qty, ==, 2);
  g_assert_true (g_variant_lookup (data, "gift", "b", &flag));
  g_assert_true (flag);
  recorded = g_date_time_new_from_iso8601 (
      st_test_lookup_str (event, "recorded_at"), NULL);
  g_assert_nonnull (recorded);
  g_assert_cmpint (g_date_time_difference (now, recorded), <,
                   60 * G_TIME_SPAN_SECOND);

  /* Stored exactly so. */
  g_assert_cmpint (st_test_db_query_int (
                       fx->db, "SELECT count(*) FROM events WHERE kind = "
                               "'purchase' AND amount = 19.99 AND idem_key = "
                               "'order-1' AND data->>'sku' = 'A-1' AND "
                               "occurred_at = '2024-03-01T10:00:00Z'"),
                   ==, 1);
}

/* Numbers beyond a 64-bit integer come back as the numbers they were:
 * PostgreSQL writes a jsonb 1e20 as 100000000000000000000, which must not
 * be read back as a wrapped-around integer. */
static void
test_record_big_numbers (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "Ann", "ann");
  g_autoptr (GVariant) event = record (
      fx, "ann", "purchase",
      "{'data': <{'big': <1e20>, 'neg': <-1e19>, 'huge': <1.5e30>,"
      " 'u': <@t 18446744073709551615>, 'max': <@x 9223372036854775807>,"
      " 'min': <@x -9223372036854775808>, 'list': <[<1e20>]>}>}");
  g_autoptr (GVariant) data =
      g_variant_lookup_value (event, "data", G_VARIANT_TYPE_VARDICT);
  g_autoptr (GVariant) list = NULL;
  g_autoptr (GVariant) item = NULL;
  double d = 0;
  gint64 x = 0;

  g_assert_nonnull (data);
  g_assert_true (g_variant_lookup (data, "big", "d", &d));
  g_assert_cmpfloat (d, ==, 1e20);
  g_assert_true (g_variant_lookup (data, "neg", "d", &d));
  g_assert_cmpfloat (d, ==, -1e19);
  g_assert_true (g_variant_lookup (data, "huge", "d", &d));
  g_assert_cmpfloat (d, ==, 1.5e30);
  g_assert_true (g_variant_lookup (data, "u", "d", &d));
  g_assert_cmpfloat (d, ==, 18446744073709551615.0);
  g_assert_true (g_variant_lookup (data, "max", "x", &x));
  g_assert_cmpint (x, ==, G_MAXINT64);
  g_assert_true (g_variant_lookup (data, "min", "x", &x));
  g_assert_cmpint (x, ==, G_MININT64);
  list = g_variant_lookup_value (data, "list", NULL);
  g_assert_nonnull (list);
  item = g_variant_get_child_value (list, 0);
  if (g_variant_is_of_type (item, G_VARIANT_TYPE_VARIANT))
    {
      GVariant *inner = g_variant_get_variant (item);

      g_variant_unref (item);
      item = inner;
    }
  g_assert_true (g_variant_is_of_type (item, G_VARIANT_TYPE_DOUBLE));
  g_assert_cmpfloat (g_variant_get_double (item), ==, 1e20);
}

static void
test_record_defaults (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "Ann", "ann");
  g_autofree char *by_id = g_strdup_printf ("id:%" G_GINT64_FORMAT,
                                            st_test_rec_int64 (c, "id"));
  g_autoptr (GVariant) now_event = record (fx, by_id, "login", "@a{sv} {}");
  g_autoptr (GVariant) by_ref = record (fx, "ref:ann", "message_in",
                                        "{'at': <'2024-01-01T00:00:00'>}");
  g_autoptr (GVariant) data = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) at = NULL;

  /* No time: now. No amount, no key: left out. No data: an empty one. */
  at = g_date_time_new_from_iso8601 (
      st_test_lookup_str (now_event, "occurred_at"), NULL);
  g_assert_nonnull (at);
  g_assert_cmpint (ABS (g_date_time_difference (now, at)), <,
                   60 * G_TIME_SPAN_SECOND);
  g_assert_false (g_variant_lookup (now_event, "amount", "*", NULL));
  g_assert_false (g_variant_lookup (now_event, "key", "*", NULL));
  data = g_variant_lookup_value (now_event, "data", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (data);
  g_assert_cmpuint (g_variant_n_children (data), ==, 0);

  /* A time without an offset is taken as UTC. */
  ST_TEST_ASSERT_TIME (st_test_lookup_str (by_ref, "occurred_at"),
                       "2024-01-01T00:00:00Z");
  g_assert_cmpint (st_test_rec_int64 (by_ref, "customer_id"), ==,
                   st_test_rec_int64 (c, "id"));
}

static void
test_record_hostile_payload (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "Ann", "ann");
  const char *hostile = "'); DROP TABLE events; -- \\ \" \u00e9";
  g_autoptr (GVariant) event = record (
      fx, "ann", "message_in",
      "{'key': <%s>, 'data': <{'text': <%s>, %s: <'k'>}>}", hostile, hostile,
      hostile);
  g_autoptr (GVariant) data = g_variant_lookup_value (event, "data",
                                                      G_VARIANT_TYPE_VARDICT);
  const char *text;

  g_assert_cmpstr (st_test_lookup_str (event, "key"), ==, hostile);
  g_assert_true (g_variant_lookup (data, "text", "&s", &text));
  g_assert_cmpstr (text, ==, hostile);
  g_assert_true (g_variant_lookup (data, hostile, "&s", &text));
  g_assert_cmpstr (text, ==, "k");
  g_assert_cmpint (st_test_db_query_int (fx->db, "SELECT count(*) FROM events"),
                   ==, 1);
}

/* Aggregates ------------------------------------------------------------ */

static void
test_aggregates_purchases (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "Ann", "ann");
  g_autoptr (GVariant) e1 = record (fx, "ann", "purchase",
                                    "{'at': <'2024-01-10T10:00:00Z'>, "
                                    "'amount': <10.0>}");
  g_autoptr (GVariant) e2 = record (fx, "ann", "purchase",
                                    "{'at': <'2024-02-10T10:00:00Z'>, "
                                    "'amount': <'20.50'>}");
  g_autoptr (GVariant) e3 = record (fx, "ann", "refund",
                                    "{'at': <'2024-02-11T10:00:00Z'>, "
                                    "'amount': <5.25>}");
  g_autoptr (GVariant) e4 = record (fx, "ann", "login",
                                    "{'at': <'2024-02-12T10:00:00Z'>}");
  g_autoptr (GVariant) got = customer (fx, "ann");

  ST_TEST_ASSERT_TIME (st_test_lookup_str (got, "first_purchase_at"),
                       "2024-01-10T10:00:00Z");
  ST_TEST_ASSERT_TIME (st_test_lookup_str (got, "last_purchase_at"),
                       "2024-02-10T10:00:00Z");
  g_assert_cmpint (st_test_rec_int64 (got, "purchase_count"), ==, 2);
  /* 10 + 20.50 − 5.25 */
  g_assert_cmpfloat (st_test_rec_double (got, "revenue"), ==, 25.25);
  ST_TEST_ASSERT_TIME (st_test_lookup_str (got, "last_event_at"),
                       "2024-02-12T10:00:00Z");
  ST_TEST_ASSERT_TIME (st_test_lookup_str (got, "last_contact_at"),
                       "2024-02-12T10:00:00Z");
  g_assert_cmpint (st_test_rec_int64 (got, "event_count"), ==, 4);
  g_assert_cmpint (st_test_db_query_int (fx->db,
                                         "SELECT count(*) FROM customers WHERE "
                                         "revenue = 25.25"),
                   ==, 1);
}

static void
test_aggregates_out_of_order (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "Ann", "ann");
  static const char *const times[] = {
    "2024-05-01T00:00:00Z", "2024-01-01T00:00:00Z", "2024-09-01T00:00:00Z",
    "2024-03-01T00:00:00Z", "2023-12-31T23:59:59Z",
  };
  g_autoptr (GVariant) got = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (times); i++)
    {
      g_autoptr (GVariant) e = record (fx, "ann", "purchase",
                                       "{'at': <%s>, 'amount': <1.0>}",
                                       times[i]);
    }
  {
    /* A late login older than everything moves nothing. */
    g_autoptr (GVariant) e = record (fx, "ann", "login",
                                     "{'at': <'2020-01-01T00:00:00Z'>}");
  }
  got = customer (fx, "ann");
  ST_TEST_ASSERT_TIME (st_test_lookup_str (got, "first_purchase_at"),
                       "2023-12-31T23:59:59Z");
  ST_TEST_ASSERT_TIME (st_test_lookup_str (got, "last_purchase_at"),
                       "2024-09-01T00:00:00Z");
  ST_TEST_ASSERT_TIME (st_test_lookup_str (got, "last_event_at"),
                       "2024-09-01T00:00:00Z");
  g_assert_cmpint (st_test_rec_int64 (got, "purchase_count"), ==, 5);
  g_assert_cmpint (st_test_rec_int64 (got, "event_count"), ==, 6);
  g_assert_cmpint (
      st_test_db_query_int (fx->db, "SELECT count(*) FROM customer_event_kinds "
                                    "WHERE kind = 'purchase' AND count = 5 AND "
                                    "first_at = '2023-12-31T23:59:59Z' AND "
                                    "last_at = '2024-09-01T00:00:00Z'"),
      ==, 1);
}

static gint32
open_tickets (StTestStore *fx)
{
  g_autoptr (GVariant) got = customer (fx, "ann");
  gint32 n = -1;

  g_assert_true (g_variant_lookup (got, "open_tickets", "i", &n));
  return n;
}

static void
test_aggregates_tickets (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "Ann", "ann");
  static const struct {
    const char *kind;
    gint32 open;
  } steps[] = {
    { "ticket_opened", 1 }, { "ticket_opened", 2 }, { "login", 2 },
    { "ticket_closed", 1 }, { "ticket_closed", 0 },
    /* A close without an open (recorded before its open arrived) never
     * makes the count negative. */
    { "ticket_closed", 0 }, { "ticket_opened", 1 },
  };

  g_assert_cmpint (open_tickets (fx), ==, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autoptr (GVariant) e = record (fx, "ann", steps[i].kind, "@a{sv} {}");
      g_assert_cmpint (open_tickets (fx), ==, steps[i].open);
    }
}

static gint32
last_nps (StTestStore *fx)
{
  g_autoptr (GVariant) got = customer (fx, "ann");
  gint32 n = -1;

  if (!g_variant_lookup (got, "last_nps", "i", &n))
    return -1;
  return n;
}

static void
test_aggregates_nps (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "Ann", "ann");
  static const struct {
    const char *data;
    gint32 nps;
  } steps[] = {
    { "{'at': <'2024-06-01T00:00:00Z'>, 'data': <{'score': <@i 9>}>}", 9 },
    /* An older survey arriving late does not overwrite the newer score. */
    { "{'at': <'2024-01-01T00:00:00Z'>, 'data': <{'score': <@i 2>}>}", 9 },
    /* CSAT and CES are other scales: the NPS stays. */
    { "{'at': <'2024-07-01T00:00:00Z'>, "
      "'data': <{'type': <'csat'>, 'score': <@i 2>}>}", 9 },
    { "{'at': <'2024-07-02T00:00:00Z'>, "
      "'data': <{'type': <'ces'>, 'score': <@i 7>}>}", 9 },
    /* Scores as text (from the CLI) and as a whole double count too. */
    { "{'at': <'2024-08-01T00:00:00Z'>, 'data': <{'score': <'4'>}>}", 4 },
    { "{'at': <'2024-09-01T00:00:00Z'>, "
      "'data': <{'type': <'nps'>, 'score': <0.0>}>}", 0 },
    { "{'at': <'2024-08-15T00:00:00Z'>, 'data': <{'score': <@i 10>}>}", 0 },
  };

  g_assert_cmpint (last_nps (fx), ==, -1);
  for (gsize i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autoptr (GVariant) e = record (fx, "ann", "survey", steps[i].data);
      g_assert_cmpint (last_nps (fx), ==, steps[i].nps);
    }
}

static void
test_event_kinds (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) ann = create (fx, "Ann", "ann");
  g_autoptr (GVariant) bob = create (fx, "Bob", "bob");
  static const char *const events[][3] = {
    { "ann", "login", "2024-02-01T00:00:00Z" },
    { "ann", "login", "2024-01-01T00:00:00Z" },
    { "ann", "login", "2024-03-01T00:00:00Z" },
    { "ann", "purchase", "2024-02-15T00:00:00Z" },
    { "bob", "login", "2024-04-01T00:00:00Z" },
    { "ann", "custom.thing-1", "2024-02-16T00:00:00Z" },
  };
  g_autofree char *rows = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (events); i++)
    {
      g_autoptr (GVariant) e = record (fx, events[i][0], events[i][1],
                                       "{'at': <%s>}", events[i][2]);
    }
  rows = st_test_db_query (
      fx->db,
      "SELECT string_agg(c.ref || ':' || k.kind || ':' || k.count || ':' ||"
      "  to_char(k.first_at, 'MM-DD') || ':' || to_char(k.last_at, 'MM-DD'),"
      "  ' ' ORDER BY c.ref, k.kind)"
      "  FROM customer_event_kinds k JOIN customers c ON c.id = k.customer_id");
  g_assert_cmpstr (rows, ==,
                   "ann:custom.thing-1:1:02-16:02-16 "
                   "ann:login:3:01-01:03-01 "
                   "ann:purchase:1:02-15:02-15 "
                   "bob:login:1:04-01:04-01");
}

/* Idempotency ---------------------------------------------------------- */

static void
test_idempotent_same_key (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "Ann", "ann");
  g_autoptr (GVariant) first = record (fx, "ann", "purchase",
                                       "{'key': <'order-7'>, 'amount': <30.0>,"
                                       " 'at': <'2024-05-01T00:00:00Z'>}");
  g_autoptr (GVariant) after_first = customer (fx, "ann");
  g_autofree char *before = snapshot (fx), *after = NULL;
  g_autoptr (GVariant) again = NULL, after_again = NULL;
  gboolean duplicate = TRUE;

  g_assert_true (g_variant_lookup (first, "duplicate", "b", &duplicate));
  g_assert_false (duplicate);

  /* A retry, even one whose other fields differ, answers with the first
   * event and changes nothing. */
  again = record (fx, "ann", "purchase",
                  "{'key': <'order-7'>, 'amount': <99.0>,"
                  " 'at': <'2024-06-01T00:00:00Z'>}");
  g_assert_true (g_variant_lookup (again, "duplicate", "b", &duplicate));
  g_assert_true (duplicate);
  g_assert_cmpint (st_test_rec_int64 (again, "id"), ==,
                   st_test_rec_int64 (first, "id"));
  g_assert_cmpfloat (st_test_rec_double (again, "amount"), ==, 30.0);
  ST_TEST_ASSERT_TIME (st_test_lookup_str (again, "occurred_at"),
                       "2024-05-01T00:00:00Z");

  after = snapshot (fx);
  g_assert_cmpstr (after, ==, before);
  after_again = customer (fx, "ann");
  g_assert_true (g_variant_equal (after_again, after_first));
  g_assert_cmpint (st_test_db_query_int (fx->db, "SELECT count(*) FROM events"),
                   ==, 1);
  g_assert_cmpfloat (st_test_rec_double (after_again, "revenue"), ==, 30.0);
}

static void
test_idempotent_key_per_customer (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) ann = create (fx, "Ann", "ann");
  g_autoptr (GVariant) bob = create (fx, "Bob", "bob");
  g_autoptr (GVariant) a = record (fx, "ann", "purchase",
                                   "{'key': <'order-1'>, 'amount': <5.0>}");
  g_autoptr (GVariant) b = record (fx, "bob", "purchase",
                                   "{'key': <'order-1'>, 'amount': <7.0>}");
  g_autoptr (GVariant) got_ann = customer (fx, "ann");
  g_autoptr (GVariant) got_bob = customer (fx, "bob");
  gboolean duplicate = TRUE;

  g_assert_cmpint (st_test_rec_int64 (a, "id"), !=,
                   st_test_rec_int64 (b, "id"));
  g_assert_true (g_variant_lookup (b, "duplicate", "b", &duplicate));
  g_assert_false (duplicate);
  g_assert_cmpint (st_test_rec_int64 (b, "customer_id"), ==,
                   st_test_rec_int64 (bob, "id"));
  g_assert_cmpfloat (st_test_rec_double (got_ann, "revenue"), ==, 5.0);
  g_assert_cmpfloat (st_test_rec_double (got_bob, "revenue"), ==, 7.0);
  g_assert_cmpint (st_test_db_query_int (fx->db, "SELECT count(*) FROM events "
                                                 "WHERE idem_key = 'order-1'"),
                   ==, 2);
}

/* Refusals: INVALID_ARGUMENT (or NOT_FOUND) and nothing written --------- */

static void
test_refuse_bad_kind (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "Ann", "ann");
  static const char *const kinds[] = { "", "Purchase", "1st_login",
                                       "has space", "drop;table", "_x",
                                       "événement", NULL };
  g_autofree char *long_kind = g_strnfill (65, 'k');

  for (guint i = 0; kinds[i] != NULL; i++)
    assert_refused (fx, "ann", kinds[i], "@a{sv} {}",
                    ST_ERROR_INVALID_ARGUMENT, "kind:");
  assert_refused (fx, "ann", long_kind, "@a{sv} {}",
                  ST_ERROR_INVALID_ARGUMENT, "kind:");
}

static void
test_refuse_bad_at (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "Ann", "ann");
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) tomorrow = g_date_time_add_days (now, 1);
  g_autoptr (GDateTime) in_an_hour = g_date_time_add_hours (now, 1);
  g_autofree char *tomorrow_text = g_date_time_format_iso8601 (tomorrow);
  g_autofree char *hour_text = g_date_time_format_iso8601 (in_an_hour);
  g_autofree char *future1 = g_strdup_printf ("{'at': <'%s'>}", tomorrow_text);
  g_autofree char *future2 = g_strdup_printf ("{'at': <'%s'>}", hour_text);
  static const char *const bad[] = {
    "{'at': <'yesterday'>}",
    "{'at': <'2024-13-01T00:00:00Z'>}",
    "{'at': <'2024-02-30T00:00:00Z'>}",
    "{'at': <'01/02/2024'>}",
    "{'at': <''>}",
    "{'at': <'2024-01-01T00:00:00Z; DROP TABLE events'>}",
    "{'at': <@x 1700000000>}",
    NULL,
  };

  for (guint i = 0; bad[i] != NULL; i++)
    assert_refused (fx, "ann", "login", bad[i], ST_ERROR_INVALID_ARGUMENT,
                    "at:");
  assert_refused (fx, "ann", "login", future1, ST_ERROR_INVALID_ARGUMENT,
                  "at:");
  assert_refused (fx, "ann", "login", future2, ST_ERROR_INVALID_ARGUMENT,
                  "at:");
  {
    g_autoptr (GVariant) data = st_test_parsed (future1);
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) event = st_events_record (fx->store, "ann", "login",
                                                   data, &error);
    st_test_assert_contains (error->message, "future");
  }
}

static void
test_refuse_bad_survey (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "Ann", "ann");
  static const char *const bad[] = {
    "{'data': <{'score': <@i 11>}>}",
    "{'data': <{'score': <@i -1>}>}",
    "{'data': <{'score': <9.5>}>}",
    "{'data': <{'score': <1e300>}>}",
    "{'data': <{'type': <'csat'>, 'score': <@i 6>}>}",
    "{'data': <{'type': <'csat'>, 'score': <@i 0>}>}",
    "{'data': <{'type': <'ces'>, 'score': <@i 8>}>}",
    NULL,
  };

  for (guint i = 0; bad[i] != NULL; i++)
    assert_refused (fx, "ann", "survey", bad[i], ST_ERROR_INVALID_ARGUMENT,
                    "data.score:");
  assert_refused (fx, "ann", "survey", "{'data': <{'score': <'nine'>}>}",
                  ST_ERROR_INVALID_ARGUMENT, "score:");
  /* The message says what was given in words, not only as a D-Bus type. */
  {
    g_autoptr (GVariant) data = st_test_parsed ("{'data': <{'score': <true>}>}");
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) event = st_events_record (fx->store, "ann", "survey",
                                                   data, &error);

    g_assert_null (event);
    g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
    st_test_assert_contains (error->message,
                             "expected a number, got a boolean");
  }
  /* No score at all, or an unknown scale. */
  assert_refused (fx, "ann", "survey", "@a{sv} {}", ST_ERROR_INVALID_ARGUMENT,
                  "data:");
  assert_refused (fx, "ann", "survey", "{'data': <{'comment': <'great'>}>}",
                  ST_ERROR_INVALID_ARGUMENT, "data");
  assert_refused (fx, "ann", "survey",
                  "{'data': <{'type': <'stars'>, 'score': <@i 5>}>}",
                  ST_ERROR_INVALID_ARGUMENT, "data.type:");
}

static void
test_refuse_bad_fields (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "Ann", "ann");
  g_autofree char *long_key = g_strnfill (201, 'k');
  g_autofree char *long_key_data = g_strdup_printf ("{'key': <'%s'>}",
                                                    long_key);

  assert_refused (fx, "ann", "login", "{'colour': <'blue'>}",
                  ST_ERROR_INVALID_ARGUMENT, "event:");
  assert_refused (fx, "ann", "purchase", "{'amount': <'12,50'>}",
                  ST_ERROR_INVALID_ARGUMENT, "amount:");
  assert_refused (fx, "ann", "purchase", "{'amount': <true>}",
                  ST_ERROR_INVALID_ARGUMENT, "amount:");
  assert_refused (fx, "ann", "login", "{'key': <''>}",
                  ST_ERROR_INVALID_ARGUMENT, "key:");
  assert_refused (fx, "ann", "login", long_key_data,
                  ST_ERROR_INVALID_ARGUMENT, "key:");
  assert_refused (fx, "ann", "login", "{'key': <@i 5>}",
                  ST_ERROR_INVALID_ARGUMENT, "key:");
  assert_refused (fx, "ann", "login", "{'data': <'text'>}",
                  ST_ERROR_INVALID_ARGUMENT, "data:");
  /* Unknown customers are not created on the fly. */
  assert_refused (fx, "nobody", "login", "@a{sv} {}", ST_ERROR_NOT_FOUND,
                  "no customer");
  assert_refused (fx, "id:999", "login", "@a{sv} {}", ST_ERROR_NOT_FOUND,
                  "no customer");
}

/* The event's statement finds its customer itself: an address that is the
 * id of one customer and the ref of another is refused as Get refuses it. */
static void
test_refuse_ambiguous (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) ann = create (fx, "Ann", "ann");
  g_autoptr (GVariant) bob = NULL;
  g_autofree char *ann_id = NULL;
  gint64 id;

  g_assert_true (g_variant_lookup (ann, "id", "x", &id));
  ann_id = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  bob = create (fx, "Bob", ann_id);
  assert_refused (fx, ann_id, "login", "@a{sv} {}",
                  ST_ERROR_INVALID_ARGUMENT, "customer:");
}

/* RecordEvents ---------------------------------------------------------- */

static GVariant *
record_many (StTestStore *fx, GVariant *events, GError **error)
{
  return st_events_record_many (fx->store, events, error);
}

static void
test_batch (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) ann = create (fx, "Ann", "ann");
  g_autoptr (GVariant) bob = create (fx, "Bob", "bob");
  g_autofree char *bob_id = g_strdup_printf ("%" G_GINT64_FORMAT,
                                             st_test_rec_int64 (bob, "id"));
  g_autoptr (GVariant) events = st_test_parsed (
      "[{'customer': <'ann'>, 'kind': <'purchase'>, 'amount': <10.0>,"
      "  'key': <'b-1'>, 'at': <'2024-01-01T00:00:00Z'>},"
      " {'customer': <%s>, 'kind': <'login'>},"
      " {'customer': <'ref:ann'>, 'kind': <'purchase'>, 'amount': <2.5>,"
      "  'at': <'2024-02-01T00:00:00Z'>, 'data': <{'sku': <'x'>}>},"
      " {'customer': <'ann'>, 'kind': <'purchase'>, 'amount': <10.0>,"
      "  'key': <'b-1'>}]",
      bob_id);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) results = record_many (fx, events, &error);
  g_autoptr (GVariant) got_ann = NULL, got_bob = NULL;
  g_autoptr (GVariant) r0 = NULL, r1 = NULL, r3 = NULL;
  gboolean duplicate;

  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (results, G_VARIANT_TYPE ("aa{sv}")));
  g_assert_cmpuint (g_variant_n_children (results), ==, 4);
  r0 = g_variant_get_child_value (results, 0);
  r1 = g_variant_get_child_value (results, 1);
  r3 = g_variant_get_child_value (results, 3);
  g_assert_cmpint (st_test_rec_int64 (r1, "customer_id"), ==,
                   st_test_rec_int64 (bob, "id"));
  /* The same key twice in one batch is one event. */
  g_assert_cmpint (st_test_rec_int64 (r3, "id"), ==,
                   st_test_rec_int64 (r0, "id"));
  g_assert_true (g_variant_lookup (r3, "duplicate", "b", &duplicate));
  g_assert_true (duplicate);

  got_ann = customer (fx, "ann");
  got_bob = customer (fx, "bob");
  g_assert_cmpint (st_test_rec_int64 (got_ann, "purchase_count"), ==, 2);
  g_assert_cmpfloat (st_test_rec_double (got_ann, "revenue"), ==, 12.5);
  g_assert_cmpint (st_test_rec_int64 (got_bob, "event_count"), ==, 1);
  g_assert_cmpint (st_test_db_query_int (fx->db, "SELECT count(*) FROM events"),
                   ==, 3);
}

static void
test_batch_all_or_nothing (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) ann = create (fx, "Ann", "ann");
  /* Refused while reading (bad kind), while resolving (no such customer,
   * after the first event was already inserted), and a bad score. */
  static const struct {
    const char *bad;
    const char *prefix;
    int code;
  } cases[] = {
    { "{'customer': <'ann'>, 'kind': <'Bad Kind'>}", "event 2: kind:",
      ST_ERROR_INVALID_ARGUMENT },
    { "{'customer': <'nobody'>, 'kind': <'login'>}", "event 2: no customer",
      ST_ERROR_NOT_FOUND },
    { "{'customer': <'ann'>, 'kind': <'survey'>, "
      "'data': <{'score': <@i 12>}>}", "event 2: data.score:",
      ST_ERROR_INVALID_ARGUMENT },
    { "{'kind': <'login'>}", "event 2: customer:",
      ST_ERROR_INVALID_ARGUMENT },
    { "{'customer': <'ann'>}", "event 2: kind:", ST_ERROR_INVALID_ARGUMENT },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strdup_printf (
          "[{'customer': <'ann'>, 'kind': <'purchase'>, 'amount': <10.0>,"
          "  'key': <'k-1'>},"
          " %s,"
          " {'customer': <'ann'>, 'kind': <'login'>}]",
          cases[i].bad);
      g_autoptr (GVariant) events = st_test_parsed (text);
      g_autoptr (GError) error = NULL;
      g_autofree char *before = snapshot (fx), *after = NULL;
      g_autoptr (GVariant) results = record_many (fx, events, &error);

      g_assert_null (results);
      g_assert_error (error, ST_ERROR, cases[i].code);
      if (!g_str_has_prefix (error->message, cases[i].prefix))
        g_error ("expected '%s': %s", cases[i].prefix, error->message);
      after = snapshot (fx);
      g_assert_cmpstr (after, ==, before);
    }
  g_assert_cmpint (st_test_db_query_int (fx->db, "SELECT count(*) FROM events"),
                   ==, 0);

  /* The key of the rolled-back batch is free: it records a new event. */
  {
    g_autoptr (GVariant) e = record (fx, "ann", "purchase",
                                     "{'key': <'k-1'>, 'amount': <1.0>}");
    gboolean duplicate = TRUE;
    g_assert_true (g_variant_lookup (e, "duplicate", "b", &duplicate));
    g_assert_false (duplicate);
  }
}

static void
test_batch_size (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) empty = st_test_parsed ("@aa{sv} []");
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) results = record_many (fx, empty, &error);

  g_assert_null (results);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_assert_true (g_str_has_prefix (error->message, "events:"));
}

/* Concurrency ---------------------------------------------------------- */

typedef struct {
  const char *conninfo;
  gint *ready;
  int n_threads;
  int index;
  int n_events;
  gint64 id;
  gboolean duplicate;
  GError *error;
} Job;

static void
wait_for_all (Job *job)
{
  g_atomic_int_inc (job->ready);
  while (g_atomic_int_get (job->ready) < job->n_threads)
    g_usleep (500);
}

static gpointer
same_key_thread (gpointer data)
{
  Job *job = data;
  g_autoptr (StStore) store = st_store_new (job->conninfo, &job->error);
  g_autoptr (GVariant) fields = g_variant_ref_sink (g_variant_new_parsed (
      "{'key': <'pay-42'>, 'amount': <42.0>}"));
  g_autoptr (GVariant) event = NULL;

  wait_for_all (job);
  if (store == NULL)
    return NULL;
  event = st_events_record (store, "ann", "purchase", fields, &job->error);
  if (event != NULL)
    {
      g_variant_lookup (event, "id", "x", &job->id);
      g_variant_lookup (event, "duplicate", "b", &job->duplicate);
    }
  return NULL;
}

static gpointer
distinct_thread (gpointer data)
{
  Job *job = data;
  g_autoptr (StStore) store = st_store_new (job->conninfo, &job->error);

  wait_for_all (job);
  for (int i = 0; store != NULL && i < job->n_events && job->error == NULL;
       i++)
    {
      g_autofree char *key = g_strdup_printf ("t%d-e%d", job->index, i);
      g_autoptr (GVariant) fields = g_variant_ref_sink (g_variant_new_parsed (
          "{'key': <%s>, 'amount': <1.25>}", key));
      g_autoptr (GVariant) event = st_events_record (
          store, "ann", i % 2 == 0 ? "purchase" : "ticket_opened", fields,
          &job->error);
    }
  return NULL;
}

static void
run_threads (StTestStore *fx, GThreadFunc func, Job *jobs, int n, int n_events)
{
  GThread *threads[16];
  gint ready = 0;

  g_assert_cmpint (n, <=, (int) G_N_ELEMENTS (threads));
  for (int i = 0; i < n; i++)
    {
      jobs[i] = (Job){ fx->db->conninfo, &ready, n, i, n_events, 0, FALSE,
                       NULL };
      threads[i] = g_thread_new ("events", func, &jobs[i]);
    }
  for (int i = 0; i < n; i++)
    {
      g_thread_join (threads[i]);
      g_assert_no_error (jobs[i].error);
    }
}

static void
test_concurrent_same_key (void)
{
  enum { N = 8 };
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "Ann", "ann");
  g_autoptr (GVariant) got = NULL;
  Job jobs[N];
  int firsts = 0;

  run_threads (fx, same_key_thread, jobs, N, 1);
  for (int i = 0; i < N; i++)
    {
      g_assert_cmpint (jobs[i].id, >, 0);
      g_assert_cmpint (jobs[i].id, ==, jobs[0].id);
      firsts += !jobs[i].duplicate;
    }
  /* Exactly one caller recorded it; the others were told it was a retry. */
  g_assert_cmpint (firsts, ==, 1);
  g_assert_cmpint (st_test_db_query_int (fx->db, "SELECT count(*) FROM events"),
                   ==, 1);
  got = customer (fx, "ann");
  g_assert_cmpint (st_test_rec_int64 (got, "event_count"), ==, 1);
  g_assert_cmpint (st_test_rec_int64 (got, "purchase_count"), ==, 1);
  g_assert_cmpfloat (st_test_rec_double (got, "revenue"), ==, 42.0);
}

static void
test_concurrent_distinct (void)
{
  enum { N = 8, PER_THREAD = 50 };
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) c = create (fx, "Ann", "ann");
  g_autoptr (GVariant) got = NULL;
  Job jobs[N];
  gint32 open = 0;

  run_threads (fx, distinct_thread, jobs, N, PER_THREAD);
  got = customer (fx, "ann");
  g_assert_cmpint (st_test_db_query_int (fx->db, "SELECT count(*) FROM events"),
                   ==, N * PER_THREAD);
  g_assert_cmpint (st_test_db_query_int (
                       fx->db, "SELECT count(DISTINCT idem_key) FROM events"),
                   ==, N * PER_THREAD);
  g_assert_cmpint (st_test_rec_int64 (got, "event_count"), ==, N * PER_THREAD);
  g_assert_cmpint (st_test_rec_int64 (got, "purchase_count"), ==,
                   N * PER_THREAD / 2);
  g_assert_cmpfloat (st_test_rec_double (got, "revenue"), ==,
                     1.25 * (N * PER_THREAD / 2));
  g_assert_true (g_variant_lookup (got, "open_tickets", "i", &open));
  g_assert_cmpint (open, ==, N * PER_THREAD / 2);
  g_assert_cmpint (st_test_db_query_int (
                       fx->db, "SELECT sum(count) FROM customer_event_kinds"),
                   ==, N * PER_THREAD);
}

/* Events have no foreign key (migration 9): recording one locks its
 * customer, so an event never outlives its customer. A customer being
 * deleted makes RecordEvent wait, and then say the customer is gone (the
 * event is not written); deleting a customer deletes its events. */
typedef struct {
  StTestStore *fx;
  GError *error;
  GVariant *event;
} DeletedJob;

static gpointer
record_while_deleted (gpointer data)
{
  DeletedJob *job = data;
  g_autoptr (GVariant) payload = st_test_parsed ("@a{sv} {}");

  job->event = st_events_record (job->fx->store, "gone", "login", payload,
                                 &job->error);
  return NULL;
}

static void
test_customer_deleted (void)
{
  g_autoptr (StTestStore) fx = st_test_store_new ();
  g_autoptr (GVariant) ann = create (fx, "Ann", "ann");
  g_autoptr (GVariant) gone = create (fx, "Gil", "gone");
  g_autoptr (GVariant) event = record (fx, "ann", "login", "@a{sv} {}");
  DeletedJob job = { fx, NULL, NULL };
  PGconn *other = PQconnectdb (fx->db->conninfo);
  GThread *thread;
  PGresult *res;
  int waited = 0;

  g_assert_cmpint (PQstatus (other), ==, CONNECTION_OK);
  res = PQexec (other, "BEGIN; DELETE FROM customers WHERE ref = 'gone'");
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_COMMAND_OK);
  PQclear (res);

  /* RecordEvent waits for the delete's transaction... */
  thread = g_thread_new ("record", record_while_deleted, &job);
  while (st_test_lock_waiters (fx->db->conninfo) == 0)
    {
      g_assert_cmpint (++waited, <, 500);
      g_usleep (10000);
    }
  res = PQexec (other, "COMMIT");
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_COMMAND_OK);
  PQclear (res);
  g_thread_join (thread);

  /* ...and then finds no customer, and writes nothing. */
  g_assert_null (job.event);
  g_assert_error (job.error, ST_ERROR, ST_ERROR_NOT_FOUND);
  g_clear_error (&job.error);
  g_assert_cmpint (st_test_db_query_int (fx->db, "SELECT count(*) FROM events"),
                   ==, 1);

  /* Deleting a customer deletes its events. */
  res = PQexec (other, "DELETE FROM customers WHERE ref = 'ann'");
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_COMMAND_OK);
  PQclear (res);
  PQfinish (other);
  g_assert_cmpint (st_test_db_query_int (fx->db, "SELECT count(*) FROM events"),
                   ==, 0);
  g_assert_cmpint (st_test_db_query_int (
                       fx->db, "SELECT count(*) FROM customer_event_kinds"),
                   ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/events/record/fields", test_record_fields);
  g_test_add_func ("/events/record/big-numbers", test_record_big_numbers);
  g_test_add_func ("/events/record/defaults-and-addressing",
                   test_record_defaults);
  g_test_add_func ("/events/record/hostile-payload",
                   test_record_hostile_payload);
  g_test_add_func ("/events/aggregates/purchases-and-refunds",
                   test_aggregates_purchases);
  g_test_add_func ("/events/aggregates/out-of-order",
                   test_aggregates_out_of_order);
  g_test_add_func ("/events/aggregates/open-tickets", test_aggregates_tickets);
  g_test_add_func ("/events/aggregates/last-nps", test_aggregates_nps);
  g_test_add_func ("/events/aggregates/event-kinds", test_event_kinds);
  g_test_add_func ("/events/idempotency/same-key", test_idempotent_same_key);
  g_test_add_func ("/events/idempotency/key-per-customer",
                   test_idempotent_key_per_customer);
  g_test_add_func ("/events/refuse/bad-kind", test_refuse_bad_kind);
  g_test_add_func ("/events/refuse/bad-at", test_refuse_bad_at);
  g_test_add_func ("/events/refuse/bad-survey", test_refuse_bad_survey);
  g_test_add_func ("/events/refuse/bad-fields", test_refuse_bad_fields);
  g_test_add_func ("/events/refuse/ambiguous", test_refuse_ambiguous);
  g_test_add_func ("/events/batch/records-all", test_batch);
  g_test_add_func ("/events/batch/all-or-nothing", test_batch_all_or_nothing);
  g_test_add_func ("/events/batch/size", test_batch_size);
  g_test_add_func ("/events/concurrency/same-key", test_concurrent_same_key);
  g_test_add_func ("/events/concurrency/customer-deleted",
                   test_customer_deleted);
  g_test_add_func ("/events/concurrency/distinct-events",
                   test_concurrent_distinct);

  return g_test_run ();
}
