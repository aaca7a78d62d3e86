/* Unit tests of core/st-cli-output.c (tables, blocks, JSON, times for
 * people) and core/st-cli-input.c (the values stewardctl reads from its
 * command line). */

#include <math.h>
#include <string.h>

#include "st-cli-input.h"
#include "st-cli-output.h"
#include "st-error.h"

/* ---- helpers ---- */

static GTimeZone *
paris_or_skip (void)
{
  GTimeZone *tz = g_time_zone_new_identifier ("Europe/Paris");

  if (tz == NULL)
    g_test_skip ("no Europe/Paris in the system's tz database (install tzdata)");
  return tz;
}

static char *
utc_of (const char *text, GTimeZone *local)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDateTime) time = st_cli_parse_time (text, local, &error);

  g_assert_no_error (error);
  g_assert_nonnull (time);
  return st_cli_format_utc (time);
}

static char *
json_of (const char *gvariant_text)
{
  g_autoptr (GVariant) value = g_variant_parse (NULL, gvariant_text, NULL, NULL, NULL);

  g_assert_nonnull (value);
  return st_json_variant_to_string (value, FALSE);
}

/* JSON that json-glib's own parser accepts. */
static void
assert_valid_json (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
}

/* ---- widths, tables, blocks, wrapping ---- */

static void
test_display_width (void)
{
  g_assert_cmpuint (st_cli_display_width (""), ==, 0);
  g_assert_cmpuint (st_cli_display_width ("abc"), ==, 3);
  g_assert_cmpuint (st_cli_display_width ("Zoë"), ==, 3);
  g_assert_cmpuint (st_cli_display_width ("王小明"), ==, 6);
  g_assert_cmpuint (st_cli_display_width ("e\xcc\x81"), ==, 1); /* e + combining acute */
  g_assert_cmpuint (st_cli_display_width ("a\xff" "b"), ==, 3); /* invalid byte counts one */
}

static void
test_table (void)
{
  g_autoptr (StCliTable) table = st_cli_table_new ((const char *[]){ "ID", "NAME", "STAGE", NULL });
  g_autofree char *text = NULL;

  g_assert_cmpuint (st_cli_table_get_n_rows (table), ==, 0);
  st_cli_table_add_row (table, (const char *[]){ "7", "Zoë Martin", "lead" });
  st_cli_table_add_row (table, (const char *[]){ "12", NULL, "" });
  st_cli_table_add_row (table, (const char *[]){ "8", "王小明", "active" });
  st_cli_table_add_row (table, (const char *[]){ "9", "two\nlines\ttab", "churned" });
  g_assert_cmpuint (st_cli_table_get_n_rows (table), ==, 4);

  text = st_cli_table_render (table);
  g_assert_cmpstr (text, ==,
                   "ID  NAME           STAGE\n"
                   "7   Zoë Martin     lead\n"
                   "12  -              -\n"
                   "8   王小明         active\n"
                   "9   two lines tab  churned\n");
}

static void
test_table_single_column (void)
{
  g_autoptr (StCliTable) table = st_cli_table_new ((const char *[]){ "WHAT", NULL });
  g_autofree char *text = NULL;

  st_cli_table_add_row (table, (const char *[]){ "x" });
  text = st_cli_table_render (table);
  g_assert_cmpstr (text, ==, "WHAT\nx\n");
}

static void
test_block (void)
{
  g_autoptr (StCliBlock) block = st_cli_block_new ();
  g_autofree char *text = NULL;

  st_cli_block_add (block, "ID", "7");
  st_cli_block_add (block, "Email", NULL); /* left out */
  st_cli_block_take (block, "Stage since", g_strdup ("2026-11-20 10:00:00 CET (4 days ago)"));
  st_cli_block_add (block, "Reason", "signed\nthe contract");
  st_cli_block_add (block, "Note", "");
  st_cli_block_add (block, "名前", "王");
  st_cli_block_take (block, "Nothing", NULL);

  text = st_cli_block_render (block);
  g_assert_cmpstr (text, ==,
                   "ID:           7\n"
                   "Stage since:  2026-11-20 10:00:00 CET (4 days ago)\n"
                   "Reason:       signed\n"
                   "              the contract\n"
                   "Note:\n"
                   "名前:         王\n");
}

static void
test_block_empty (void)
{
  g_autoptr (StCliBlock) block = st_cli_block_new ();
  g_autofree char *text = st_cli_block_render (block);

  g_assert_cmpstr (text, ==, "");
}

static void
test_wrap (void)
{
  g_autofree char *one = st_cli_wrap ("ID|REF [--limit N]", 79, 10, 10);
  g_autofree char *two = st_cli_wrap ("--name NAME [--email E] [--tz Europe/Paris] [--tag T]...", 40,
                                      20, 4);
  g_autofree char *long_word = st_cli_wrap ("aaaaaaaaaa bbbbbbbbbb", 5, 0, 2);

  g_assert_cmpstr (one, ==, "ID|REF [--limit N]");
  g_assert_cmpstr (two, ==,
                   "--name NAME\n"
                   "    [--email E] [--tz Europe/Paris]\n"
                   "    [--tag T]...");
  g_assert_cmpstr (long_word, ==, "aaaaaaaaaa\n  bbbbbbbbbb");
}

static void
test_one_line (void)
{
  const struct
  {
    const char *text;
    const char *line;
  } cases[] = {
    { "plain", "plain" },
    { "", "" },
    { "  \n", "" },
    { "failed: No such file\n\tIs the server running?\n", "failed: No such file Is the server running?" },
    { "a \r\n b", "a b" },
    { "tabs\tinside stay", "tabs\tinside stay" },
    { "two\n\n\nbreaks", "two breaks" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *line = st_cli_one_line (cases[i].text);

      g_assert_cmpstr (line, ==, cases[i].line);
    }
}

/* ---- numbers ---- */

static void
test_format_double (void)
{
  const struct
  {
    double value;
    const char *text;
  } cases[] = {
    { 12.5, "12.5" },   { 0.1, "0.1" },     { 12.0, "12" },       { -3, "-3" },
    { 1e20, "1e+20" },  { 1e-7, "1e-07" },  { 123456789012.25, "123456789012.25" },
    { 0, "0" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = st_json_format_double (cases[i].value);

      g_assert_cmpstr (text, ==, cases[i].text);
    }

  /* values that need all 17 digits still read back exactly */
  for (double d = 1.0 / 3; d < 1e6; d *= 7.77)
    {
      g_autofree char *text = st_json_format_double (d);

      g_assert_cmpfloat (g_ascii_strtod (text, NULL), ==, d);
    }
}

static void
test_format_amount (void)
{
  const struct
  {
    double value;
    const char *text;
  } cases[] = {
    { 12.5, "12.50" }, { -3, "-3.00" }, { 0.125, "0.125" }, { 120.5, "120.50" }, { 0.1, "0.10" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = st_cli_format_amount (cases[i].value);

      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

/* ---- JSON ---- */

static void
test_json_scalars (void)
{
  const struct
  {
    const char *variant;
    const char *json;
  } cases[] = {
    { "true", "true" },
    { "false", "false" },
    { "byte 0xff", "255" },
    { "int16 -300", "-300" },
    { "uint16 65535", "65535" },
    { "int32 -2147483648", "-2147483648" },
    { "uint32 4294967295", "4294967295" },
    { "int64 -9223372036854775808", "-9223372036854775808" },
    { "int64 9223372036854775807", "9223372036854775807" },
    { "uint64 9223372036854775807", "9223372036854775807" },
    { "uint64 18446744073709551615", "1.8446744073709552e+19" },
    { "handle 3", "3" },
    { "12.5", "12.5" },
    { "-0.1", "-0.1" },
    { "1e300", "1e+300" },
    { "'plain'", "\"plain\"" },
    { "''", "\"\"" },
    { "objectpath '/org/steward/Steward1'", "\"/org/steward/Steward1\"" },
    { "signature 'a{sv}'", "\"a{sv}\"" },
    { "<int64 7>", "7" },
    { "<<'nested'>>", "\"nested\"" },
    { "@ms nothing", "null" },
    { "@ms 'x'", "\"x\"" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = json_of (cases[i].variant);

      g_assert_cmpstr (json, ==, cases[i].json);
      assert_valid_json (json);
    }
}

static void
test_json_not_finite (void)
{
  const double values[] = { NAN, INFINITY, -INFINITY };

  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr (GVariant) value = g_variant_ref_sink (g_variant_new_double (values[i]));
      g_autofree char *json = st_json_variant_to_string (value, FALSE);

      g_assert_cmpstr (json, ==, "null");
    }
}

static void
test_json_strings (void)
{
  g_autoptr (GVariant) value =
    g_variant_ref_sink (g_variant_new_string ("Zoë \"Q\" \\ back\nnew\ttab\r\b\f\x01 \x7f 王"));
  g_autofree char *json = st_json_variant_to_string (value, FALSE);
  g_autoptr (JsonParser) parser = json_parser_new ();

  g_assert_cmpstr (json, ==,
                   "\"Zoë \\\"Q\\\" \\\\ back\\nnew\\ttab\\r\\b\\f\\u0001 \x7f 王\"");
  /* and it reads back as the same string */
  g_assert_true (json_parser_load_from_data (parser, json, -1, NULL));
  g_assert_cmpstr (json_node_get_string (json_parser_get_root (parser)), ==,
                   g_variant_get_string (value, NULL));
}

static void
test_json_containers (void)
{
  const struct
  {
    const char *variant;
    const char *json;
  } cases[] = {
    { "@as []", "[]" },
    { "['vip', 'beta']", "[\"vip\",\"beta\"]" },
    { "@a{sv} {}", "{}" },
    { "{'plan': <'pro'>, 'seats': <int64 5>, 'paid': <true>, 'price': <3.5>}",
      "{\"plan\":\"pro\",\"seats\":5,\"paid\":true,\"price\":3.5}" },
    { "{'data': <{'sku': <'A1'>, 'tags': <['x']>}>}", "{\"data\":{\"sku\":\"A1\",\"tags\":[\"x\"]}}" },
    { "[{'id': <int64 1>}, {'id': <int64 2>}]", "[{\"id\":1},{\"id\":2}]" },
    { "@aa{sv} []", "[]" },
    { "(int32 1, 'a', [true])", "[1,\"a\",[true]]" },
    { "{1: 'one', 2: 'two'}", "{\"1\":\"one\",\"2\":\"two\"}" },
    { "b'ab'", "[97,98,0]" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = json_of (cases[i].variant);

      g_assert_cmpstr (json, ==, cases[i].json);
      assert_valid_json (json);
    }
}

static void
test_json_record (void)
{
  /* a customer as the daemon sends it, member order kept */
  g_autoptr (GVariant) record = g_variant_parse (
    G_VARIANT_TYPE_VARDICT,
    "{'id': <int64 7>, 'ref': <'ACME-1'>, 'name': <'Zoë'>, 'tags': <['vip']>, "
    "'attrs': <{'plan': <'pro'>}>, 'stage': <'lead'>, 'revenue': <120.5>, "
    "'open_tickets': <int32 0>, 'last_nps': <int32 -1>, 'created_at': <'2026-11-01T08:30:00Z'>}",
    NULL, NULL, NULL);
  g_autofree char *compact = st_json_variant_to_string (record, FALSE);
  g_autofree char *pretty = NULL;
  g_autoptr (JsonNode) node = st_json_from_variant (record);
  JsonObject *object;

  g_assert_cmpstr (compact, ==,
                   "{\"id\":7,\"ref\":\"ACME-1\",\"name\":\"Zoë\",\"tags\":[\"vip\"],"
                   "\"attrs\":{\"plan\":\"pro\"},\"stage\":\"lead\",\"revenue\":120.5,"
                   "\"open_tickets\":0,\"last_nps\":-1,\"created_at\":\"2026-11-01T08:30:00Z\"}");

  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  object = json_node_get_object (node);
  g_assert_cmpint (json_object_get_int_member (object, "id"), ==, 7);
  g_assert_cmpfloat (json_object_get_double_member (object, "revenue"), ==, 120.5);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (object, "tags")), ==, 1);

  pretty = st_json_to_string (node, TRUE);
  assert_valid_json (pretty);
  g_assert_true (g_str_has_prefix (pretty, "{\n  \"id\": 7,\n  \"ref\": \"ACME-1\",\n"));
  g_assert_nonnull (strstr (pretty, "  \"tags\": [\n    \"vip\"\n  ],\n"));
  g_assert_nonnull (strstr (pretty, "  \"attrs\": {\n    \"plan\": \"pro\"\n  },\n"));
  g_assert_true (g_str_has_suffix (pretty, "\"2026-11-01T08:30:00Z\"\n}"));
}

static void
test_json_pretty_empty (void)
{
  g_autoptr (GVariant) value = g_variant_parse (NULL, "{'a': <@as []>, 'b': <@a{sv} {}>}", NULL,
                                                NULL, NULL);
  g_autofree char *pretty = NULL;
  g_autoptr (GVariant) list = g_variant_parse (NULL, "@aa{sv} []", NULL, NULL, NULL);
  g_autofree char *empty = NULL;

  pretty = st_json_variant_to_string (value, TRUE);
  g_assert_cmpstr (pretty, ==, "{\n  \"a\": [],\n  \"b\": {}\n}");
  empty = st_json_variant_to_string (list, TRUE);
  g_assert_cmpstr (empty, ==, "[]");
}

/* ---- text for people ---- */

static void
test_variant_to_text (void)
{
  const struct
  {
    const char *variant;
    const char *text;
  } cases[] = {
    { "'plain'", "plain" },
    { "int64 -7", "-7" },
    { "int32 9", "9" },
    { "uint32 4", "4" },
    { "uint64 18446744073709551615", "18446744073709551615" },
    { "12.5", "12.5" },
    { "true", "true" },
    { "<'inner'>", "inner" },
    { "['vip', 'beta']", "vip, beta" },
    { "@as []", "" },
    { "{'seats': <int64 5>, 'plan': <'pro'>}", "plan=pro, seats=5" },
    { "@a{sv} {}", "" },
    { "(1, 'a')", "(1, 'a')" },
    /* Lists and nested objects as compact JSON, never GVariant's syntax. */
    { "[<int64 1>, <'x'>]", "[1,\"x\"]" },
    { "{'list': <[<int64 1>, <int64 2>]>}", "list=[1,2]" },
    { "{'a': <{'b': <[<int64 1>, <'x'>, <{'c': <true>}>]>}>, 'd': <'e'>}",
      "a={\"b\":[1,\"x\",{\"c\":true}]}, d=e" },
    { "{'tags': <['x', 'y']>}", "tags=[\"x\",\"y\"]" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GVariant) value = g_variant_parse (NULL, cases[i].variant, NULL, NULL, NULL);
      g_autofree char *text = st_cli_variant_to_text (value);

      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

/* ---- times ---- */

static void
test_parse_time_with_offset (void)
{
  g_autoptr (GTimeZone) paris = paris_or_skip ();
  const struct
  {
    const char *text;
    const char *utc;
  } cases[] = {
    { "2024-05-01T14:30:00Z", "2024-05-01T14:30:00Z" },
    { "2024-05-01t14:30:00z", "2024-05-01T14:30:00Z" },
    { "2024-05-01 14:30Z", "2024-05-01T14:30:00Z" },
    { "2024-05-01T14:30:00+02:00", "2024-05-01T12:30:00Z" },
    { "2024-05-01T14:30:00+0200", "2024-05-01T12:30:00Z" },
    { "2024-05-01T14:30+02", "2024-05-01T12:30:00Z" },
    { "2024-05-01T14:30:00-05:30", "2024-05-01T20:00:00Z" },
    { "2024-05-01T00:30:00+01:00", "2024-04-30T23:30:00Z" },
    { "2024-05-01T14:30:00.5Z", "2024-05-01T14:30:00.500000Z" },
    { "2024-05-01T14:30:00,25Z", "2024-05-01T14:30:00.250000Z" },
    { "2024-05-01T14:30:00.123456789Z", "2024-05-01T14:30:00.123456Z" },
    { "2024-02-29T23:59:59Z", "2024-02-29T23:59:59Z" },
  };

  if (paris == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *utc = utc_of (cases[i].text, paris);

      g_assert_cmpstr (utc, ==, cases[i].utc);
    }
}

static void
test_parse_time_local (void)
{
  g_autoptr (GTimeZone) paris = paris_or_skip ();
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  const struct
  {
    const char *text;
    const char *utc;
  } cases[] = {
    /* no offset: the wall clock of the local zone, DST included */
    { "2024-01-15T14:30", "2024-01-15T13:30:00Z" },
    { "2024-07-15T14:30:05", "2024-07-15T12:30:05Z" },
    { "2024-07-15 08:00:00.25", "2024-07-15T06:00:00.250000Z" },
    /* a date alone: midnight there, the day DST starts too */
    { "2024-03-31", "2024-03-30T23:00:00Z" },
    { "2024-07-01", "2024-06-30T22:00:00Z" },
    { "2024-12-31", "2024-12-30T23:00:00Z" },
    /* 02:30 does not exist on 2024-03-31 in Paris: the clock jumps to 03:00 */
    { "2024-03-31T02:30", "2024-03-31T01:00:00Z" },
    /* 02:30 happens twice on 2024-10-27: the second, in standard time,
     * unless an offset says otherwise (docs/cli.md) */
    { "2024-10-27T02:30", "2024-10-27T01:30:00Z" },
    { "2024-10-27T02:30+02:00", "2024-10-27T00:30:00Z" },
  };

  if (paris == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = utc_of (cases[i].text, paris);

      g_assert_cmpstr (got, ==, cases[i].utc);
    }

  /* the same words in another local zone */
  {
    g_autofree char *got = utc_of ("2024-03-31", utc);

    g_assert_cmpstr (got, ==, "2024-03-31T00:00:00Z");
  }
}

static void
test_parse_time_rejects (void)
{
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  const char *bad[] = {
    "",
    "yesterday",
    "now",
    "2024",
    "2024-05",
    "2024-5-1",
    "24-05-01",
    "2024/05/01",
    "2024-13-01",
    "2024-00-10",
    "2024-02-30",
    "2023-02-29",
    "2024-04-31",
    "0000-01-01",
    "2024-05-01T",
    "2024-05-01T10",
    "2024-05-01T1030",
    "2024-05-01T24:00",
    "2024-05-01T10:60",
    "2024-05-01T10:00:60",
    "2024-05-01T10:00:00.",
    "2024-05-01T10:00:00.Z",
    "2024-05-01T10:00+25:00",
    "2024-05-01T10:00+02:60",
    "2024-05-01T10:00+2",
    "2024-05-01T10:00+02:0",
    "2024-05-01T10:00 +02:00",
    "2024-05-01T10:00ZZ",
    "2024-05-01Z",
    " 2024-05-01",
    "2024-05-01 ",
    "2024-05-01X10:00",
    "2024-W18-3",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GDateTime) time = st_cli_parse_time (bad[i], utc, &error);

      if (time != NULL)
        g_error ("'%s' was accepted as %s", bad[i], g_date_time_format_iso8601 (time));
      g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
      /* the message shows the value so the user sees which one is wrong */
      g_assert_nonnull (strstr (error->message, bad[i]));
    }
}

static void
test_format_utc (void)
{
  g_autoptr (GTimeZone) plus2 = g_time_zone_new_offset (2 * 3600);
  g_autoptr (GDateTime) whole = g_date_time_new (plus2, 2026, 11, 24, 22, 13, 19);
  g_autoptr (GDateTime) micro = g_date_time_add (whole, 123456);
  g_autofree char *a = st_cli_format_utc (whole);
  g_autofree char *b = st_cli_format_utc (micro);

  g_assert_cmpstr (a, ==, "2026-11-24T20:13:19Z");
  g_assert_cmpstr (b, ==, "2026-11-24T20:13:19.123456Z");

  /* Four digits before the year 1000, as ISO-8601 and the daemon want. */
  {
    g_autoptr (GDateTime) early = g_date_time_new_utc (999, 6, 1, 0, 0, 0);
    g_autoptr (GDateTime) first = g_date_time_new_utc (1, 1, 1, 0, 0, 0);
    g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
    g_autofree char *c = st_cli_format_utc (early);
    g_autofree char *d = st_cli_format_utc (first);
    g_autofree char *shown = st_cli_format_local ("0999-06-01T00:00:00Z", utc);

    g_assert_cmpstr (c, ==, "0999-06-01T00:00:00Z");
    g_assert_cmpstr (d, ==, "0001-01-01T00:00:00Z");
    g_assert_cmpstr (shown, ==, "0999-06-01 00:00:00 UTC");
  }
}

static void
test_format_local (void)
{
  g_autoptr (GTimeZone) paris = paris_or_skip ();
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autofree char *winter = NULL;
  g_autofree char *summer = NULL;
  g_autofree char *in_utc = NULL;
  g_autofree char *garbage = NULL;

  if (paris == NULL)
    return;
  winter = st_cli_format_local ("2026-11-24T21:13:19.123456Z", paris);
  summer = st_cli_format_local ("2026-07-01T10:00:00Z", paris);
  in_utc = st_cli_format_local ("2026-07-01T10:00:00+02:00", utc);
  garbage = st_cli_format_local ("not a time", paris);
  g_assert_cmpstr (winter, ==, "2026-11-24 22:13:19 CET");
  g_assert_cmpstr (summer, ==, "2026-07-01 12:00:00 CEST");
  g_assert_cmpstr (in_utc, ==, "2026-07-01 08:00:00 UTC");
  g_assert_cmpstr (garbage, ==, "not a time");
}

static void
test_format_age (void)
{
  g_autoptr (GDateTime) now = g_date_time_new_utc (2026, 11, 24, 12, 0, 0);
  const struct
  {
    GTimeSpan ago;
    const char *text;
  } cases[] = {
    { 0, "just now" },
    { 59 * G_TIME_SPAN_SECOND, "just now" },
    { G_TIME_SPAN_MINUTE, "1 minute ago" },
    { 5 * G_TIME_SPAN_MINUTE + 30 * G_TIME_SPAN_SECOND, "5 minutes ago" },
    { G_TIME_SPAN_HOUR, "1 hour ago" },
    { 23 * G_TIME_SPAN_HOUR + 59 * G_TIME_SPAN_MINUTE, "23 hours ago" },
    { G_TIME_SPAN_DAY, "1 day ago" },
    { 4 * G_TIME_SPAN_DAY + 3 * G_TIME_SPAN_HOUR, "4 days ago" },
    { 400 * G_TIME_SPAN_DAY, "400 days ago" },
    { -3 * G_TIME_SPAN_DAY, "in 3 days" },
    { -2 * G_TIME_SPAN_HOUR, "in 2 hours" },
    { -10 * G_TIME_SPAN_SECOND, "just now" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GDateTime) then = g_date_time_add (now, -cases[i].ago);
      g_autofree char *text = st_cli_format_age (then, now);

      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

static void
test_format_duration (void)
{
  const struct
  {
    gint64 seconds;
    const char *text;
  } cases[] = {
    { -5, "0s" },       { 0, "0s" },          { 45, "45s" },         { 60, "1m 0s" },
    { 725, "12m 5s" },  { 3600, "1h 0m" },    { 4523, "1h 15m" },    { 86400, "1d 0h" },
    { 183600, "2d 3h" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = st_cli_format_duration (cases[i].seconds);

      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

static void
test_format_delay (void)
{
  const struct
  {
    gint64 seconds;
    const char *text;
  } cases[] = {
    { -5, "0s" },         { 0, "0s" },          { 45, "45s" },       { 60, "1m" },
    { 90, "1m 30s" },     { 3600, "1h" },       { 5400, "1h 30m" },  { 86400, "1d" },
    { 1209600, "14d" },   { 172805, "2d 5s" },  { 90061, "1d 1h 1m 1s" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = st_cli_format_delay (cases[i].seconds);

      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

static void
test_truncate (void)
{
  const struct
  {
    const char *text;
    gsize width;
    const char *expected;
  } cases[] = {
    { "", 10, "" },
    { "short", 10, "short" },
    { "exactly10!", 10, "exactly10!" },
    { "one too long", 11, "one too..." },
    { "Zoë Martin is at risk", 8, "Zoë M..." },
    /* wide characters take two columns and are never cut in half */
    { "日本語のメッセージ", 8, "日本..." },
    { "日本語のメッセージ", 9, "日本語..." },
    /* combining marks take none */
    { "e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301", 5, "e\u0301e\u0301..." },
    { "bad \xff byte and more", 8, "bad \xef\xbf\xbd..." },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = st_cli_truncate (cases[i].text, cases[i].width);

      g_assert_cmpstr (text, ==, cases[i].expected);
      g_assert_cmpuint (st_cli_display_width (text), <=, cases[i].width);
    }
}

static char *
factors_of (const char *gvariant_text)
{
  g_autoptr (GVariant) value = g_variant_parse (NULL, gvariant_text, NULL, NULL, NULL);

  g_assert_nonnull (value);
  return st_cli_format_factors (value);
}

static void
test_format_factors (void)
{
  const struct
  {
    const char *value;
    const char *text;
  } cases[] = {
    { "@a{sv} {}", "" },
    { "{'recency': <30.25>, 'frequency': <12.1>, 'nps': <7.5>}",
      "recency 30.2, frequency 12.1, nps 7.5" },
    /* integers are numbers too; ties by name; negatives last */
    { "{'open_tickets': <int64 10>, 'nps': <10.0>, 'trend': <-2.5>, 'a': <int32 0>}",
      "nps 10.0, open_tickets 10.0, a 0.0, trend -2.5" },
    /* no "-0.0" */
    { "{'x': <-0.04>}", "x 0.0" },
    /* what is not a number comes last, as text */
    { "{'note': <'odd'>, 'recency': <1.0>}", "recency 1.0, note odd" },
    /* inside a variant */
    { "<{'recency': <3.0>}>", "recency 3.0" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = factors_of (cases[i].value);

      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

/* ---- command-line values ---- */

static void
test_parse_kv (void)
{
  const struct
  {
    const char *text;
    const char *key;
    const char *value;
  } good[] = {
    { "plan=pro", "plan", "pro" },
    { "note=", "note", "" },
    { "url=a=b&c=d", "url", "a=b&c=d" },
    { "name=Zoë Martin", "name", "Zoë Martin" },
  };
  const char *bad[] = { "plan", "=pro", "", "=" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *key = NULL;
      g_autofree char *value = NULL;

      g_assert_true (st_cli_parse_kv (good[i].text, &key, &value, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (key, ==, good[i].key);
      g_assert_cmpstr (value, ==, good[i].value);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *key = NULL;
      g_autofree char *value = NULL;

      g_assert_false (st_cli_parse_kv (bad[i], &key, &value, &error));
      g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, "KEY=VALUE"));
      g_assert_null (key);
      g_assert_null (value);
    }
}

static void
test_coerce_value (void)
{
  const struct
  {
    const char *text;
    const char *type;
    const char *printed;
  } cases[] = {
    { "42", "x", "42" },
    { "-7", "x", "-7" },
    { "0", "x", "0" },
    { "-0", "x", "0" },
    { "9223372036854775807", "x", "9223372036854775807" },
    { "-9223372036854775808", "x", "-9223372036854775808" },
    { "12.50", "d", "12.5" },
    { "-0.5", "d", "-0.5" },
    { "1e3", "d", "1000.0" },
    { "2.5E-1", "d", "0.25" },
    { "true", "b", "true" },
    { "false", "b", "false" },
    /* everything else stays text */
    { "True", "s", "'True'" },
    { "007", "s", "'007'" },
    { "+5", "s", "'+5'" },
    { "1.", "s", "'1.'" },
    { ".5", "s", "'.5'" },
    { "1e", "s", "'1e'" },
    { "12,50", "s", "'12,50'" },
    { "9223372036854775808", "s", "'9223372036854775808'" },
    { "1e999", "s", "'1e999'" },
    { "0x10", "s", "'0x10'" },
    { "NaN", "s", "'NaN'" },
    { " 1", "s", "' 1'" },
    { "", "s", "''" },
    { "A1", "s", "'A1'" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GVariant) value = g_variant_ref_sink (st_cli_coerce_value (cases[i].text));
      g_autofree char *printed = g_variant_print (value, FALSE);

      g_assert_cmpstr (g_variant_get_type_string (value), ==, cases[i].type);
      g_assert_cmpstr (printed, ==, cases[i].printed);
    }
}

static void
test_parse_amount (void)
{
  const struct
  {
    const char *text;
    double value;
  } good[] = {
    { "12.50", 12.5 }, { "-3", -3 }, { "+3", 3 }, { "0", 0 }, { ".5", 0.5 }, { "5.", 5 },
    { "1234567.89", 1234567.89 },
  };
  const char *bad[] = { "",    "-",   ".",   "+.",  "12,50", "1e3", "0x10", "inf", "nan",
                        " 1",  "1 ",  "abc", "1.2.3", "--1", "1-" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      double value = -1;

      g_assert_true (st_cli_parse_amount (good[i].text, &value, &error));
      g_assert_no_error (error);
      g_assert_cmpfloat (value, ==, good[i].value);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      double value = -1;

      g_assert_false (st_cli_parse_amount (bad[i], &value, &error));
      g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
      g_assert_cmpfloat (value, ==, -1);
    }

  /* too large for a double */
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *huge = g_strnfill (400, '9');
    double value;

    g_assert_false (st_cli_parse_amount (huge, &value, &error));
    g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  }
}

static void
test_parse_id (void)
{
  const char *bad[] = { "0", "-1", "+1", " 1", "1 ", "9223372036854775808", "abc", "", "1.5",
                        "0x10" };
  gint64 id = 0;

  g_assert_true (st_cli_parse_id ("1", &id, NULL));
  g_assert_cmpint (id, ==, 1);
  g_assert_true (st_cli_parse_id ("9223372036854775807", &id, NULL));
  g_assert_cmpint (id, ==, G_MAXINT64);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;

      id = 7;
      g_assert_false (st_cli_parse_id (bad[i], &id, &error));
      g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
      g_assert_cmpint (id, ==, 7);
    }
}

static void
test_parse_count (void)
{
  const char *bad[] = { "0", "-1", "+1", " 1", "1 ", "4294967296", "abc", "", "1.5", "0x10" };
  guint32 count = 0;

  g_assert_true (st_cli_parse_count ("1", &count, NULL));
  g_assert_cmpuint (count, ==, 1);
  g_assert_true (st_cli_parse_count ("100", &count, NULL));
  g_assert_cmpuint (count, ==, 100);
  g_assert_true (st_cli_parse_count ("4294967295", &count, NULL));
  g_assert_cmpuint (count, ==, G_MAXUINT32);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;

      count = 7;
      g_assert_false (st_cli_parse_count (bad[i], &count, &error));
      g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
      g_assert_cmpuint (count, ==, 7);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cli-output/display-width", test_display_width);
  g_test_add_func ("/cli-output/table", test_table);
  g_test_add_func ("/cli-output/table-single-column", test_table_single_column);
  g_test_add_func ("/cli-output/block", test_block);
  g_test_add_func ("/cli-output/block-empty", test_block_empty);
  g_test_add_func ("/cli-output/wrap", test_wrap);
  g_test_add_func ("/cli-output/one-line", test_one_line);
  g_test_add_func ("/cli-output/format-double", test_format_double);
  g_test_add_func ("/cli-output/format-amount", test_format_amount);
  g_test_add_func ("/cli-output/json/scalars", test_json_scalars);
  g_test_add_func ("/cli-output/json/not-finite", test_json_not_finite);
  g_test_add_func ("/cli-output/json/strings", test_json_strings);
  g_test_add_func ("/cli-output/json/containers", test_json_containers);
  g_test_add_func ("/cli-output/json/record", test_json_record);
  g_test_add_func ("/cli-output/json/pretty-empty", test_json_pretty_empty);
  g_test_add_func ("/cli-output/variant-to-text", test_variant_to_text);
  g_test_add_func ("/cli-output/time/parse-with-offset", test_parse_time_with_offset);
  g_test_add_func ("/cli-output/time/parse-local", test_parse_time_local);
  g_test_add_func ("/cli-output/time/parse-rejects", test_parse_time_rejects);
  g_test_add_func ("/cli-output/time/format-utc", test_format_utc);
  g_test_add_func ("/cli-output/time/format-local", test_format_local);
  g_test_add_func ("/cli-output/time/format-age", test_format_age);
  g_test_add_func ("/cli-output/format-duration", test_format_duration);
  g_test_add_func ("/cli-output/parse-kv", test_parse_kv);
  g_test_add_func ("/cli-output/coerce-value", test_coerce_value);
  g_test_add_func ("/cli-output/parse-amount", test_parse_amount);
  g_test_add_func ("/cli-output/parse-count", test_parse_count);
  g_test_add_func ("/cli-output/parse-id", test_parse_id);
  g_test_add_func ("/cli-output/format-delay", test_format_delay);
  g_test_add_func ("/cli-output/truncate", test_truncate);
  g_test_add_func ("/cli-output/format-factors", test_format_factors);

  return g_test_run ();
}
