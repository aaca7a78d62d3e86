/* Tests for core/stewardctl.c: the real stewardctl, spawned the way a person
 * or a script runs it, against the real stewardd on a private bus with a
 * fresh database. One daemon serves the whole program; each case uses its
 * own customers (unique names, e-mails, owners, tags) so that the cases do
 * not see each other. What is checked is what a user sees: the exit status,
 * the text on stdout and stderr, and the JSON documents of --json. */

#include "st-test-util.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

static StTestDaemon *the_daemon;

/* Running stewardctl ------------------------------------------------------- */

typedef struct
{
  int status;
  char *out;
  char *err;
} Ctl;

static void
ctl_free (Ctl *ctl)
{
  g_free (ctl->out);
  g_free (ctl->err);
  g_free (ctl);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Ctl, ctl_free)

/* In the sanitizer build a report from stewardctl goes to its stderr and
 * may end it with status 1, which must not pass for a refusal. */
static void
assert_no_sanitizer_report (const char *err)
{
  if (st_test_log_has_problem (err) || strstr (err, "WARNING") != NULL)
    g_error ("stewardctl reported a problem:\n%s", err);
}

static Ctl *
ctl_va (gboolean json, const char *first, va_list ap)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  Ctl *ctl = g_new0 (Ctl, 1);

  if (json)
    g_ptr_array_add (argv, (gpointer) "--json");
  for (const char *arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  g_ptr_array_add (argv, NULL);
  ctl->status = st_test_ctlv (the_daemon, &ctl->out, &ctl->err,
                              (const char *const *) argv->pdata);
  assert_no_sanitizer_report (ctl->err);
  return ctl;
}

/* stewardctl ARGS... (NULL-terminated) */
G_GNUC_NULL_TERMINATED
static Ctl *
ctl (const char *first, ...)
{
  va_list ap;
  Ctl *result;

  va_start (ap, first);
  result = ctl_va (FALSE, first, ap);
  va_end (ap);
  return result;
}

/* stewardctl with an environment of our choosing: by default the daemon's
 * bus and TZ=UTC, as the harness does, then @env ("NAME", "VALUE" pairs,
 * NULL-terminated) on top. @stdout_path: where stdout goes instead of being
 * captured (NULL: captured). @cwd: its working directory (NULL: ours). */
static Ctl *
ctl_custom_in (const char *const *env, const char *stdout_path, const char *cwd,
               const char *const *args)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  Ctl *result = g_new0 (Ctl, 1);

  g_ptr_array_add (argv, st_test_build_path ("core/stewardctl"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDERR_PIPE
      | (stdout_path == NULL ? G_SUBPROCESS_FLAGS_STDOUT_PIPE : G_SUBPROCESS_FLAGS_NONE));
  if (stdout_path != NULL)
    g_subprocess_launcher_set_stdout_file_path (launcher, stdout_path);
  g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS",
                                g_test_dbus_get_bus_address (the_daemon->bus), TRUE);
  g_subprocess_launcher_setenv (launcher, "TZ", "UTC", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "DBUS_STARTER_ADDRESS");
  g_subprocess_launcher_unsetenv (launcher, "DBUS_STARTER_BUS_TYPE");
  for (guint i = 0; env[i] != NULL; i += 2)
    g_subprocess_launcher_setenv (launcher, env[i], env[i + 1], TRUE);
  if (cwd != NULL)
    g_subprocess_launcher_set_cwd (launcher, cwd);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &result->out, &result->err, &error);
  g_assert_no_error (error);
  if (result->out == NULL)
    result->out = g_strdup ("");
  g_assert_true (g_subprocess_get_if_exited (process));
  result->status = g_subprocess_get_exit_status (process);
  assert_no_sanitizer_report (result->err);
  return result;
}

static Ctl *
ctl_custom (const char *const *env, const char *stdout_path, const char *const *args)
{
  return ctl_custom_in (env, stdout_path, NULL, args);
}

/* stewardctl with @var set to @value */
static Ctl *
ctl_env (const char *var, const char *value, const char *const *args)
{
  const char *env[] = { var, value, NULL };

  return ctl_custom (env, NULL, args);
}

/* Checks that @out is exactly one JSON document (as --json promises: nothing
 * else on stdout, indented, ended by a newline) and returns it. */
static JsonNode *
parse_json_output (const char *out)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  gsize len = strlen (out);

  g_assert_cmpuint (len, >, 1);
  g_assert_true (out[0] == '{' || out[0] == '[');
  g_assert_true (out[len - 1] == '\n');
  g_assert_true (out[len - 2] == '}' || out[len - 2] == ']');
  if (!json_parser_load_from_data (parser, out, -1, &error))
    g_error ("stdout is not valid JSON (%s):\n%s", error->message, out);
  return json_node_copy (json_parser_get_root (parser));
}

static JsonNode *
ctl_json_va (const char *first, va_list ap)
{
  g_autoptr (Ctl) result = ctl_va (TRUE, first, ap);

  if (result->status != 0)
    g_error ("stewardctl --json %s ... exited %d:\n%s", first, result->status, result->err);
  g_assert_cmpstr (result->err, ==, "");
  return parse_json_output (result->out);
}

/* stewardctl --json ARGS..., which must succeed silently on stderr. */
G_GNUC_NULL_TERMINATED
static JsonNode *
ctl_json (const char *first, ...)
{
  va_list ap;
  JsonNode *node;

  va_start (ap, first);
  node = ctl_json_va (first, ap);
  va_end (ap);
  return node;
}

G_GNUC_NULL_TERMINATED
static JsonObject *
ctl_json_object (const char *first, ...)
{
  va_list ap;
  g_autoptr (JsonNode) node = NULL;

  va_start (ap, first);
  node = ctl_json_va (first, ap);
  va_end (ap);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}

G_GNUC_NULL_TERMINATED
static JsonArray *
ctl_json_array (const char *first, ...)
{
  va_list ap;
  g_autoptr (JsonNode) node = NULL;

  va_start (ap, first);
  node = ctl_json_va (first, ap);
  va_end (ap);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
  return json_array_ref (json_node_get_array (node));
}

/* The daemon refused (status 1): one line "stewardctl: <message>" on stderr
 * that contains @needle and no D-Bus error name; nothing on stdout. */
static void
assert_failure (Ctl *result, const char *needle)
{
  if (result->status != 1)
    g_error ("expected status 1, got %d; stdout:\n%s\nstderr:\n%s", result->status,
             result->out, result->err);
  g_assert_cmpstr (result->out, ==, "");
  g_assert_true (g_str_has_prefix (result->err, "stewardctl: "));
  g_assert_true (g_str_has_suffix (result->err, "\n"));
  /* one line */
  g_assert_true (strchr (result->err, '\n') == result->err + strlen (result->err) - 1);
  g_assert_null (strstr (result->err, "GDBus.Error"));
  g_assert_null (strstr (result->err, "org.steward.Steward1.Error"));
  g_assert_null (strstr (result->err, "org.freedesktop.DBus.Error"));
  if (needle != NULL && strstr (result->err, needle) == NULL)
    g_error ("stderr does not mention '%s':\n%s", needle, result->err);
}

/* A usage error (status 2): the problem (@needle), the usage and where to
 * find help on stderr; nothing on stdout. */
static void
assert_usage (Ctl *result, const char *needle)
{
  if (result->status != 2)
    g_error ("expected status 2, got %d; stdout:\n%s\nstderr:\n%s", result->status,
             result->out, result->err);
  g_assert_cmpstr (result->out, ==, "");
  g_assert_true (g_str_has_prefix (result->err, "stewardctl: "));
  g_assert_nonnull (strstr (result->err, "Usage: stewardctl"));
  if (needle != NULL && strstr (result->err, needle) == NULL)
    g_error ("stderr does not mention '%s':\n%s", needle, result->err);
}

/* Success without --json: status 0, nothing on stderr, the text on stdout. */
static void
assert_ok (Ctl *result)
{
  if (result->status != 0)
    g_error ("expected status 0, got %d; stderr:\n%s", result->status, result->err);
  g_assert_cmpstr (result->err, ==, "");
  g_assert_true (g_str_has_suffix (result->out, "\n"));
}

/* stewardctl with no arguments at all */
static Ctl *
ctl_no_arguments (void)
{
  const char *argv[] = { NULL };
  Ctl *result = g_new0 (Ctl, 1);

  result->status = st_test_ctlv (the_daemon, &result->out, &result->err, argv);
  assert_no_sanitizer_report (result->err);
  return result;
}

/* Reading output ------------------------------------------------------------- */

/* A name, e-mail, owner or tag no other case uses. */
static char *
unique (const char *prefix)
{
  static int counter = 0;

  return g_strdup_printf ("%s%d", prefix, ++counter);
}

static const char *
member_string (JsonObject *object, const char *key)
{
  if (!json_object_has_member (object, key))
    g_error ("the JSON has no member '%s'", key);
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (object, key)), ==,
                   G_TYPE_STRING);
  return json_object_get_string_member (object, key);
}

static gint64
member_int (JsonObject *object, const char *key)
{
  if (!json_object_has_member (object, key))
    g_error ("the JSON has no member '%s'", key);
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (object, key)), ==,
                   G_TYPE_INT64);
  return json_object_get_int_member (object, key);
}

/* The strings of a JSON array member, joined by ",". */
static char *
member_strings (JsonObject *object, const char *key)
{
  JsonArray *array = json_object_get_array_member (object, key);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) strv = NULL;

  g_assert_nonnull (array);
  for (guint i = 0; i < json_array_get_length (array); i++)
    g_strv_builder_add (builder, json_array_get_string_element (array, i));
  strv = g_strv_builder_end (builder);
  return g_strjoinv (",", strv);
}

/* Compares two of the daemon's ISO-8601 times as times. */
static int
time_compare (const char *a, const char *b)
{
  g_autoptr (GDateTime) ta = g_date_time_new_from_iso8601 (a, NULL);
  g_autoptr (GDateTime) tb = g_date_time_new_from_iso8601 (b, NULL);

  g_assert_nonnull (ta);
  g_assert_nonnull (tb);
  return g_date_time_compare (ta, tb);
}

/* @iso is the instant @expected (the daemon writes UTC, with microseconds) */
static void
assert_time (const char *iso, const char *expected)
{
  if (time_compare (iso, expected) != 0 || !g_str_has_suffix (iso, "Z"))
    g_error ("time '%s' is not '%s'", iso, expected);
}

static char *
id_text (JsonObject *object)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, member_int (object, "id"));
}

/* The value of "@label:" in a key: value block, or NULL. */
static char *
block_value (const char *text, const char *label)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *prefix = g_strconcat (label, ":", NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix))
      return g_strstrip (g_strdup (lines[i] + strlen (prefix)));
  return NULL;
}

static void
assert_block_value (const char *text, const char *label, const char *expected)
{
  g_autofree char *value = block_value (text, label);

  if (g_strcmp0 (value, expected) != 0)
    g_error ("'%s:' is '%s', expected '%s' in:\n%s", label, value, expected, text);
}

/* The lines of @text without the final empty one. */
static GStrv
text_lines (const char *text)
{
  GStrv lines = g_strsplit (text, "\n", -1);
  guint n = g_strv_length (lines);

  g_assert_cmpuint (n, >, 0);
  g_assert_cmpstr (lines[n - 1], ==, "");
  g_free (lines[n - 1]);
  lines[n - 1] = NULL;
  return lines;
}

/* The cells of a table line (columns are separated by two spaces or more),
 * with the character offset where each starts. */
static GPtrArray *
table_cells (const char *line, GArray *offsets)
{
  GPtrArray *cells = g_ptr_array_new_with_free_func (g_free);
  const char *p = line;

  while (*p != '\0')
    {
      const char *start = p;
      const char *end;

      while (*p != '\0' && !(p[0] == ' ' && p[1] == ' '))
        p++;
      end = p;
      while (*p == ' ')
        p++;
      if (offsets != NULL)
        {
          glong offset = g_utf8_pointer_to_offset (line, start);

          g_array_append_val (offsets, offset);
        }
      g_ptr_array_add (cells, g_strndup (start, end - start));
    }
  return cells;
}

/* A table: the header has @headings, every line has as many cells, starting
 * under their headings. Returns the rows' cells. */
static GPtrArray *
parse_table (const char *text, const char *const *headings)
{
  g_auto (GStrv) lines = text_lines (text);
  g_autoptr (GArray) head_offsets = g_array_new (FALSE, FALSE, sizeof (glong));
  g_autoptr (GPtrArray) head = table_cells (lines[0], head_offsets);
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);

  g_assert_cmpuint (head->len, ==, g_strv_length ((GStrv) headings));
  for (guint i = 0; headings[i] != NULL; i++)
    g_assert_cmpstr (g_ptr_array_index (head, i), ==, headings[i]);
  for (guint l = 1; lines[l] != NULL; l++)
    {
      g_autoptr (GArray) offsets = g_array_new (FALSE, FALSE, sizeof (glong));
      GPtrArray *cells = table_cells (lines[l], offsets);

      if (cells->len != head->len)
        g_error ("line %u has %u cells, the header %u:\n%s", l, cells->len, head->len, text);
      for (guint c = 0; c < cells->len; c++)
        if (g_array_index (offsets, glong, c) != g_array_index (head_offsets, glong, c))
          g_error ("column %u of line %u is not under its heading:\n%s", c, l, text);
      g_ptr_array_add (rows, cells);
    }
  return rows;
}

#define CELL(rows, r, c) \
  ((const char *) g_ptr_array_index ((GPtrArray *) g_ptr_array_index ((rows), (r)), (c)))

/* A customer of its own for a case: --name NAME plus the other options
 * given (NULL-terminated); returns the JSON record. */
G_GNUC_NULL_TERMINATED
static JsonObject *
add_customer (const char *name, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *out = NULL, *err = NULL;
  va_list ap;
  int status;

  g_ptr_array_add (argv, (gpointer) "--json");
  g_ptr_array_add (argv, (gpointer) "customer");
  g_ptr_array_add (argv, (gpointer) "add");
  g_ptr_array_add (argv, (gpointer) "--name");
  g_ptr_array_add (argv, (gpointer) name);
  va_start (ap, name);
  for (const char *arg = va_arg (ap, const char *); arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  status = st_test_ctlv (the_daemon, &out, &err, (const char *const *) argv->pdata);
  if (status != 0)
    g_error ("customer add %s exited %d: %s", name, status, err);
  node = parse_json_output (out);
  return json_object_ref (json_node_get_object (node));
}

/* customer add ------------------------------------------------------------- */

static void
test_add_every_option_json (void)
{
  g_autofree char *email = unique ("zoe");
  g_autofree char *email_arg = g_strconcat (email, "@example.com", NULL);
  g_autofree char *ref = unique ("ACME-");
  g_autofree char *tags = NULL;
  g_autoptr (JsonObject) customer = NULL;
  JsonObject *attrs;

  customer = ctl_json_object ("customer", "add", "--name", "Zoë Martin", "--email", email_arg,
                              "--phone", "+33 1 23 45 67 89", "--ref", ref, "--owner", "bob",
                              "--locale", "fr", "--tz", "Europe/Paris", "--tag", "gold",
                              "--tag", "vip", "--attr", "seats=5", "--attr", "plan=pro", NULL);

  g_assert_cmpint (member_int (customer, "id"), >, 0);
  g_assert_cmpstr (member_string (customer, "ref"), ==, ref);
  g_assert_cmpstr (member_string (customer, "name"), ==, "Zoë Martin");
  g_assert_cmpstr (member_string (customer, "email"), ==, email_arg);
  g_assert_cmpstr (member_string (customer, "phone"), ==, "+33 1 23 45 67 89");
  g_assert_cmpstr (member_string (customer, "owner"), ==, "bob");
  g_assert_cmpstr (member_string (customer, "locale"), ==, "fr");
  g_assert_cmpstr (member_string (customer, "tz"), ==, "Europe/Paris");
  g_assert_cmpstr (member_string (customer, "stage"), ==, "lead");
  g_assert_true (json_object_has_member (customer, "stage_since"));
  g_assert_true (json_object_has_member (customer, "created_at"));
  tags = member_strings (customer, "tags");
  g_assert_cmpstr (tags, ==, "gold,vip");
  attrs = json_object_get_object_member (customer, "attrs");
  g_assert_nonnull (attrs);
  g_assert_cmpuint (json_object_get_size (attrs), ==, 2);
  /* --attr values are strings, even when they look like numbers */
  g_assert_cmpstr (member_string (attrs, "seats"), ==, "5");
  g_assert_cmpstr (member_string (attrs, "plan"), ==, "pro");
  g_assert_cmpint (member_int (customer, "purchase_count"), ==, 0);
  g_assert_cmpint (member_int (customer, "event_count"), ==, 0);
}

static void
test_add_text (void)
{
  g_autofree char *ref = unique ("TXT-");
  g_autoptr (Ctl) result = NULL;
  g_auto (GStrv) lines = NULL;
  g_autofree char *id = NULL;
  g_autofree char *headline = NULL;

  result = ctl ("customer", "add", "--name", "Ana Lima", "--ref", ref, "--tag", "vip", "--tag",
                "beta", "--attr", "seats=5", "--attr", "plan=pro", "--owner", "carol", NULL);
  assert_ok (result);
  lines = text_lines (result->out);
  g_assert_true (g_str_has_prefix (lines[0], "Created customer "));
  id = g_strdup (lines[0] + strlen ("Created customer "));
  g_assert_cmpint (g_ascii_strtoll (id, NULL, 10), >, 0);
  g_assert_cmpstr (lines[1], ==, "");
  assert_block_value (result->out, "ID", id);
  assert_block_value (result->out, "Ref", ref);
  assert_block_value (result->out, "Name", "Ana Lima");
  assert_block_value (result->out, "Stage", "lead");
  assert_block_value (result->out, "Owner", "carol");
  /* tags and attributes sorted */
  assert_block_value (result->out, "Tags", "beta, vip");
  assert_block_value (result->out, "Attributes", "plan=pro, seats=5");
  /* a field the customer does not have is not shown */
  g_assert_null (block_value (result->out, "Email"));
  g_assert_null (block_value (result->out, "Phone"));
  headline = g_strdup_printf ("Created customer %s\n", id);
  g_assert_true (g_str_has_prefix (result->out, headline));
}

static void
test_add_empty_optional_values (void)
{
  g_autoptr (JsonObject) customer = NULL;
  JsonObject *attrs;

  /* an optional field given "" is left out, so is --attr k= */
  customer = ctl_json_object ("customer", "add", "--name", "Empty Fields", "--email", "",
                              "--attr", "note=", "--attr", "keep=yes", NULL);
  g_assert_false (json_object_has_member (customer, "email"));
  attrs = json_object_get_object_member (customer, "attrs");
  g_assert_false (json_object_has_member (attrs, "note"));
  g_assert_cmpstr (member_string (attrs, "keep"), ==, "yes");
}

static void
test_add_missing_name (void)
{
  g_autofree char *owner = unique ("noname-owner");
  g_autoptr (Ctl) result = NULL;
  g_autoptr (JsonArray) found = NULL;

  result = ctl ("customer", "add", "--owner", owner, NULL);
  assert_usage (result, "--name is required");
  found = ctl_json_array ("customer", "list", "--owner", owner, NULL);
  g_assert_cmpuint (json_array_get_length (found), ==, 0);
}

/* customer show ------------------------------------------------------------ */

static void
test_show_by_id_and_ref (void)
{
  g_autofree char *ref = unique ("SHOW-");
  g_autoptr (JsonObject) created = add_customer ("Show Me", "--ref", ref, "--tag", "x", NULL);
  g_autofree char *id = id_text (created);
  g_autofree char *by_id_prefix = g_strconcat ("id:", id, NULL);
  g_autofree char *by_ref_prefix = g_strconcat ("ref:", ref, NULL);
  g_autoptr (JsonNode) by_id = ctl_json ("customer", "show", id, NULL);
  g_autoptr (JsonNode) by_ref = ctl_json ("customer", "show", ref, NULL);
  g_autoptr (JsonNode) by_id_explicit = ctl_json ("customer", "show", by_id_prefix, NULL);
  g_autoptr (JsonNode) by_ref_explicit = ctl_json ("customer", "show", by_ref_prefix, NULL);
  g_autoptr (JsonNode) created_node = json_node_init_object (json_node_alloc (), created);
  g_autoptr (Ctl) text_by_id = NULL;
  g_autoptr (Ctl) text_by_ref = NULL;

  /* the same record whichever way it is asked for, and as add printed it */
  g_assert_true (json_node_equal (by_id, by_ref));
  g_assert_true (json_node_equal (by_id, by_id_explicit));
  g_assert_true (json_node_equal (by_id, by_ref_explicit));
  g_assert_true (json_node_equal (by_id, created_node));
  g_assert_cmpstr (member_string (json_node_get_object (by_ref), "stage"), ==, "lead");

  text_by_id = ctl ("customer", "show", id, NULL);
  text_by_ref = ctl ("customer", "show", ref, NULL);
  assert_ok (text_by_id);
  assert_ok (text_by_ref);
  g_assert_cmpstr (text_by_id->out, ==, text_by_ref->out);
  assert_block_value (text_by_id->out, "ID", id);
  assert_block_value (text_by_id->out, "Name", "Show Me");
  assert_block_value (text_by_id->out, "Stage", "lead");
  assert_block_value (text_by_id->out, "Ref", ref);
  /* times are local (TZ=UTC here) with how long ago they were */
  {
    g_autofree char *since = block_value (text_by_id->out, "Stage since");

    g_assert_nonnull (since);
    g_assert_true (g_str_has_suffix (since, " UTC (just now)"));
  }
}

static void
test_show_not_found (void)
{
  g_autoptr (Ctl) text = ctl ("customer", "show", "987654", NULL);
  g_autoptr (Ctl) json = ctl ("--json", "customer", "show", "NO-SUCH-REF", NULL);

  assert_failure (text, "987654");
  g_assert_nonnull (strstr (text->err, "no customer"));
  /* with --json too, nothing goes to stdout on a failure */
  assert_failure (json, "NO-SUCH-REF");
}

static void
test_show_ref_starting_with_dash (void)
{
  g_autofree char *ref = unique ("-odd-");
  g_autofree char *ref_option = g_strconcat ("--ref=", ref, NULL);
  g_autoptr (JsonObject) created = add_customer ("Dash Ref", ref_option, NULL);
  g_autoptr (JsonObject) shown = NULL;
  g_autoptr (Ctl) without = NULL;

  g_assert_cmpstr (member_string (created, "ref"), ==, ref);
  /* "--" ends the options */
  shown = ctl_json_object ("customer", "show", "--", ref, NULL);
  g_assert_cmpint (member_int (shown, "id"), ==, member_int (created, "id"));
  without = ctl ("customer", "show", ref, NULL);
  assert_usage (without, NULL);
}

static void
test_show_ambiguous_number (void)
{
  g_autoptr (JsonObject) first = add_customer ("Ambiguous One", NULL);
  g_autofree char *first_id = id_text (first);
  g_autoptr (JsonObject) second = add_customer ("Ambiguous Two", "--ref", first_id, NULL);
  g_autofree char *by_id = g_strconcat ("id:", first_id, NULL);
  g_autofree char *by_ref = g_strconcat ("ref:", first_id, NULL);
  g_autofree char *hint = g_strdup_printf ("write id:%s or ref:%s", first_id, first_id);
  g_autoptr (Ctl) bare = ctl ("customer", "show", first_id, NULL);
  g_autoptr (JsonObject) one = ctl_json_object ("customer", "show", by_id, NULL);
  g_autoptr (JsonObject) two = ctl_json_object ("customer", "show", by_ref, NULL);

  /* a bare number that is one customer's id and another's ref is not guessed */
  assert_failure (bare, hint);
  g_assert_cmpstr (member_string (one, "name"), ==, "Ambiguous One");
  g_assert_cmpstr (member_string (two, "name"), ==, "Ambiguous Two");
}

/* customer list ------------------------------------------------------------ */

static gint64
element_id (JsonArray *array, guint i)
{
  return member_int (json_array_get_object_element (array, i), "id");
}

static void
test_list_filters_json (void)
{
  g_autofree char *owner = unique ("list-owner");
  g_autofree char *tag = unique ("list-tag");
  g_autoptr (JsonObject) a = add_customer ("List A", "--owner", owner, "--tag", tag, NULL);
  g_autoptr (JsonObject) b = add_customer ("List B", "--owner", owner, NULL);
  g_autoptr (JsonObject) c = add_customer ("List C", "--owner", owner, "--tag", tag, NULL);
  g_autoptr (JsonObject) other = add_customer ("List D", "--tag", tag, NULL);
  g_autofree char *b_id = id_text (b);
  g_autoptr (JsonObject) moved = NULL;
  g_autoptr (JsonArray) all = NULL, staged = NULL, tagged = NULL, both = NULL, limited = NULL;

  moved = ctl_json_object ("customer", "stage", b_id, "onboarding", NULL);
  g_assert_cmpstr (member_string (moved, "stage"), ==, "onboarding");

  /* by owner: all three, in id order, as full records */
  all = ctl_json_array ("customer", "list", "--owner", owner, NULL);
  g_assert_cmpuint (json_array_get_length (all), ==, 3);
  g_assert_cmpint (element_id (all, 0), ==, member_int (a, "id"));
  g_assert_cmpint (element_id (all, 1), ==, member_int (b, "id"));
  g_assert_cmpint (element_id (all, 2), ==, member_int (c, "id"));
  g_assert_cmpstr (member_string (json_array_get_object_element (all, 0), "name"), ==,
                   "List A");
  g_assert_cmpstr (member_string (json_array_get_object_element (all, 0), "owner"), ==, owner);

  /* the filters combine */
  staged = ctl_json_array ("customer", "list", "--owner", owner, "--stage", "onboarding", NULL);
  g_assert_cmpuint (json_array_get_length (staged), ==, 1);
  g_assert_cmpint (element_id (staged, 0), ==, member_int (b, "id"));
  g_assert_cmpstr (member_string (json_array_get_object_element (staged, 0), "stage"), ==,
                   "onboarding");

  tagged = ctl_json_array ("customer", "list", "--tag", tag, NULL);
  g_assert_cmpuint (json_array_get_length (tagged), ==, 3);
  g_assert_cmpint (element_id (tagged, 0), ==, member_int (a, "id"));
  g_assert_cmpint (element_id (tagged, 1), ==, member_int (c, "id"));
  g_assert_cmpint (element_id (tagged, 2), ==, member_int (other, "id"));

  both = ctl_json_array ("customer", "list", "--tag", tag, "--owner", owner, "--stage", "lead",
                         NULL);
  g_assert_cmpuint (json_array_get_length (both), ==, 2);
  g_assert_cmpint (element_id (both, 0), ==, member_int (a, "id"));
  g_assert_cmpint (element_id (both, 1), ==, member_int (c, "id"));

  /* --limit keeps the first ones; --limit=N works too */
  limited = ctl_json_array ("customer", "list", "--owner", owner, "--limit", "2", NULL);
  g_assert_cmpuint (json_array_get_length (limited), ==, 2);
  g_assert_cmpint (element_id (limited, 0), ==, member_int (a, "id"));
  g_assert_cmpint (element_id (limited, 1), ==, member_int (b, "id"));
  g_clear_pointer (&limited, json_array_unref);
  limited = ctl_json_array ("customer", "list", "--owner", owner, "--limit=1", NULL);
  g_assert_cmpuint (json_array_get_length (limited), ==, 1);
  g_assert_cmpint (element_id (limited, 0), ==, member_int (a, "id"));
}

static void
test_list_text (void)
{
  static const char *const headings[] = { "ID", "REF", "NAME", "EMAIL", "STAGE", "OWNER", NULL };
  g_autofree char *owner = unique ("table-owner");
  g_autofree char *ref = unique ("TBL-");
  g_autofree char *email = unique ("table");
  g_autofree char *email_arg = g_strconcat (email, "@example.com", NULL);
  g_autoptr (JsonObject) a = add_customer ("Zoë Martin", "--owner", owner, "--ref", ref,
                                           "--email", email_arg, NULL);
  g_autoptr (JsonObject) b = add_customer ("Ana Lima", "--owner", owner, NULL);
  g_autofree char *a_id = id_text (a);
  g_autofree char *b_id = id_text (b);
  g_autoptr (Ctl) result = ctl ("customer", "list", "--owner", owner, NULL);
  g_autoptr (GPtrArray) rows = NULL;

  assert_ok (result);
  /* a header line and one line per customer, the columns aligned (also
   * after a name with a non-ASCII letter), "-" for an empty cell */
  rows = parse_table (result->out, headings);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpstr (CELL (rows, 0, 0), ==, a_id);
  g_assert_cmpstr (CELL (rows, 0, 1), ==, ref);
  g_assert_cmpstr (CELL (rows, 0, 2), ==, "Zoë Martin");
  g_assert_cmpstr (CELL (rows, 0, 3), ==, email_arg);
  g_assert_cmpstr (CELL (rows, 0, 4), ==, "lead");
  g_assert_cmpstr (CELL (rows, 0, 5), ==, owner);
  g_assert_cmpstr (CELL (rows, 1, 0), ==, b_id);
  g_assert_cmpstr (CELL (rows, 1, 1), ==, "-");
  g_assert_cmpstr (CELL (rows, 1, 2), ==, "Ana Lima");
  g_assert_cmpstr (CELL (rows, 1, 3), ==, "-");
  g_assert_cmpstr (CELL (rows, 1, 4), ==, "lead");
}

static void
test_list_limit_hint (void)
{
  g_autofree char *owner = unique ("hint-owner");
  g_autoptr (JsonObject) a = add_customer ("Hint A", "--owner", owner, NULL);
  g_autoptr (JsonObject) b = add_customer ("Hint B", "--owner", owner, NULL);
  g_autoptr (JsonObject) c = add_customer ("Hint C", "--owner", owner, NULL);
  g_autoptr (Ctl) cut = ctl ("customer", "list", "--owner", owner, "--limit", "2", NULL);
  g_autoptr (Ctl) whole = ctl ("customer", "list", "--owner", owner, "--limit", "5", NULL);
  g_auto (GStrv) cut_lines = NULL;
  g_auto (GStrv) whole_lines = NULL;

  /* as many came back as the limit: there may be more, say so on stderr */
  g_assert_cmpint (cut->status, ==, 0);
  g_assert_cmpstr (cut->err, ==, "(the first 2 shown; use --limit for more)\n");
  cut_lines = text_lines (cut->out);
  g_assert_cmpuint (g_strv_length (cut_lines), ==, 3);
  assert_ok (whole);
  whole_lines = text_lines (whole->out);
  g_assert_cmpuint (g_strv_length (whole_lines), ==, 4);
}

static void
test_list_empty (void)
{
  g_autofree char *tag = unique ("nobody-has-");
  g_autoptr (Ctl) text = ctl ("customer", "list", "--tag", tag, NULL);
  g_autoptr (Ctl) json = ctl ("customer", "list", "--tag", tag, "--json", NULL);

  assert_ok (text);
  g_assert_cmpstr (text->out, ==, "No customers match.\n");
  g_assert_cmpint (json->status, ==, 0);
  g_assert_cmpstr (json->out, ==, "[]\n");
}

static void
test_list_refused (void)
{
  g_autoptr (Ctl) stage = ctl ("customer", "list", "--stage", "nosuch", NULL);
  g_autoptr (Ctl) limit = ctl ("customer", "list", "--limit", "10001", NULL);

  /* checked by the daemon: the message says what is allowed */
  assert_failure (stage, "stewardctl: stage: ");
  g_assert_nonnull (strstr (stage->err, "nosuch"));
  g_assert_nonnull (strstr (stage->err, "onboarding"));
  assert_failure (limit, "10000");
}

/* customer edit ------------------------------------------------------------ */

static void
test_edit (void)
{
  g_autofree char *email = unique ("edit");
  g_autofree char *email_arg = g_strconcat (email, "@example.com", NULL);
  g_autofree char *new_email = g_strconcat (email, "@new.example.com", NULL);
  g_autoptr (JsonObject) created = add_customer ("Edit Me", "--email", email_arg, "--tag",
                                                 "gold", "--tag", "vip", "--attr", "seats=5",
                                                 "--attr", "plan=pro", NULL);
  g_autofree char *id = id_text (created);
  g_autoptr (JsonObject) edited = NULL;
  g_autoptr (JsonObject) shown = NULL;
  g_autofree char *tags = NULL;
  JsonObject *attrs;

  edited = ctl_json_object ("customer", "edit", id, "--email", new_email, "--tag", "beta",
                            "--untag", "gold", "--attr", "seats=", "--attr", "region=eu", NULL);
  g_assert_cmpint (member_int (edited, "id"), ==, member_int (created, "id"));
  g_assert_cmpstr (member_string (edited, "email"), ==, new_email);
  g_assert_cmpstr (member_string (edited, "name"), ==, "Edit Me");
  tags = member_strings (edited, "tags");
  /* vip kept, gold gone, beta added */
  g_assert_nonnull (strstr (tags, "vip"));
  g_assert_nonnull (strstr (tags, "beta"));
  g_assert_null (strstr (tags, "gold"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (edited, "tags")), ==,
                    2);
  attrs = json_object_get_object_member (edited, "attrs");
  g_assert_false (json_object_has_member (attrs, "seats"));
  g_assert_cmpstr (member_string (attrs, "plan"), ==, "pro");
  g_assert_cmpstr (member_string (attrs, "region"), ==, "eu");
  g_assert_cmpuint (json_object_get_size (attrs), ==, 2);

  /* and it stays so */
  shown = ctl_json_object ("customer", "show", id, NULL);
  g_assert_cmpstr (member_string (shown, "email"), ==, new_email);
  g_assert_false (json_object_has_member (json_object_get_object_member (shown, "attrs"),
                                          "seats"));
}

static void
test_edit_text_and_clear (void)
{
  g_autofree char *ref = unique ("EDT-");
  g_autoptr (JsonObject) created = add_customer ("Clear Me", "--ref", ref, "--phone",
                                                 "+33 1 23 45 67 89", "--owner", "bob", NULL);
  g_autofree char *id = id_text (created);
  g_autofree char *headline = g_strdup_printf ("Updated customer %s\n\n", id);
  g_autoptr (Ctl) result = NULL;
  g_autoptr (JsonObject) shown = NULL;

  /* by ref; "" clears a field */
  result = ctl ("customer", "edit", ref, "--phone", "", "--owner", "alice", "--name",
                "Cleared", NULL);
  assert_ok (result);
  g_assert_true (g_str_has_prefix (result->out, headline));
  assert_block_value (result->out, "Name", "Cleared");
  assert_block_value (result->out, "Owner", "alice");
  g_assert_null (block_value (result->out, "Phone"));

  shown = ctl_json_object ("customer", "show", id, NULL);
  g_assert_false (json_object_has_member (shown, "phone"));
  g_assert_cmpstr (member_string (shown, "owner"), ==, "alice");
}

static void
test_edit_refused (void)
{
  g_autoptr (JsonObject) created = add_customer ("Keep Name", NULL);
  g_autofree char *id = id_text (created);
  g_autoptr (Ctl) nothing = ctl ("customer", "edit", id, NULL);
  g_autoptr (Ctl) empty_name = ctl ("customer", "edit", id, "--name", "", NULL);
  g_autoptr (Ctl) missing = ctl ("customer", "edit", "876543", "--owner", "x", NULL);
  g_autoptr (JsonObject) shown = NULL;

  assert_usage (nothing, "nothing to change");
  /* a customer always has a name: the daemon says so, naming the field */
  assert_failure (empty_name, "stewardctl: name");
  assert_failure (missing, "876543");
  shown = ctl_json_object ("customer", "show", id, NULL);
  g_assert_cmpstr (member_string (shown, "name"), ==, "Keep Name");
}

/* customer stage ----------------------------------------------------------- */

static void
test_stage_legal (void)
{
  g_autoptr (JsonObject) created = add_customer ("Stage Legal", NULL);
  g_autofree char *id = id_text (created);
  g_autofree char *headline = g_strdup_printf ("Customer %s moved from lead to onboarding\n\n", id);
  g_autoptr (Ctl) text = NULL;
  g_autoptr (JsonObject) moved = NULL;
  g_autoptr (JsonArray) timeline = NULL;
  JsonObject *newest;

  text = ctl ("customer", "stage", id, "onboarding", "--reason", "signed the contract", NULL);
  assert_ok (text);
  g_assert_true (g_str_has_prefix (text->out, headline));
  assert_block_value (text->out, "Stage", "onboarding");

  moved = ctl_json_object ("customer", "stage", id, "active", "--reason", "went live", NULL);
  g_assert_cmpint (member_int (moved, "id"), ==, member_int (created, "id"));
  g_assert_cmpstr (member_string (moved, "stage"), ==, "active");
  g_assert_cmpint (time_compare (member_string (moved, "stage_since"),
                                 member_string (created, "stage_since")), >, 0);

  /* the timeline keeps who made the move and why */
  timeline = ctl_json_array ("timeline", id, "--limit", "1", NULL);
  newest = json_array_get_object_element (timeline, 0);
  g_assert_cmpstr (member_string (newest, "type"), ==, "stage");
  g_assert_cmpstr (member_string (newest, "from"), ==, "onboarding");
  g_assert_cmpstr (member_string (newest, "to"), ==, "active");
  g_assert_cmpstr (member_string (newest, "reason"), ==, "went live");
  g_assert_cmpstr (member_string (newest, "actor"), ==, g_get_user_name ());
}

static void
test_stage_illegal (void)
{
  g_autoptr (JsonObject) created = add_customer ("Stage Illegal", NULL);
  g_autofree char *id = id_text (created);
  g_autoptr (Ctl) text = ctl ("customer", "stage", id, "churned", NULL);
  g_autoptr (Ctl) json = ctl ("--json", "customer", "stage", id, "churned", "--reason", "x",
                              NULL);
  g_autoptr (Ctl) unknown = ctl ("customer", "stage", id, "nirvana", NULL);
  g_autoptr (Ctl) missing = ctl ("customer", "stage", "765432", "onboarding", NULL);
  g_autoptr (JsonObject) shown = NULL;

  /* the message names the stage it is in and the allowed next ones */
  assert_failure (text, "allowed next stages");
  g_assert_nonnull (strstr (text->err, "churned"));
  g_assert_nonnull (strstr (text->err, ": onboarding"));
  assert_failure (json, "allowed next stages");
  assert_failure (unknown, "nirvana");
  assert_failure (missing, "765432");

  shown = ctl_json_object ("customer", "show", id, NULL);
  g_assert_cmpstr (member_string (shown, "stage"), ==, "lead");
}

/* event add ---------------------------------------------------------------- */

static void
test_event_add_json (void)
{
  g_autofree char *ref = unique ("EVT-");
  g_autoptr (JsonObject) customer = add_customer ("Event Json", "--ref", ref, NULL);
  g_autoptr (JsonObject) event = NULL;
  g_autoptr (JsonObject) shown = NULL;
  JsonObject *data;

  event = ctl_json_object ("event", "add", ref, "purchase", "--amount", "12.50", "--at",
                           "2024-05-01T14:30:00+02:00", "--key", "order-1", "--data", "sku=A1",
                           "--data", "qty=2", "--data", "gift=true", "--data", "zip=007",
                           "--data", "weight=1.5", NULL);
  g_assert_cmpint (member_int (event, "id"), >, 0);
  g_assert_cmpint (member_int (event, "customer_id"), ==, member_int (customer, "id"));
  g_assert_cmpstr (member_string (event, "kind"), ==, "purchase");
  /* the offset is honoured; the daemon stores UTC */
  assert_time (member_string (event, "occurred_at"), "2024-05-01T12:30:00Z");
  g_assert_true (json_object_has_member (event, "recorded_at"));
  g_assert_cmpfloat (json_object_get_double_member (event, "amount"), ==, 12.5);
  g_assert_cmpstr (member_string (event, "key"), ==, "order-1");
  g_assert_false (json_object_get_boolean_member (event, "duplicate"));
  /* --data values are typed */
  data = json_object_get_object_member (event, "data");
  g_assert_cmpstr (member_string (data, "sku"), ==, "A1");
  g_assert_cmpint (member_int (data, "qty"), ==, 2);
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (data, "gift")), ==,
                   G_TYPE_BOOLEAN);
  g_assert_true (json_object_get_boolean_member (data, "gift"));
  g_assert_cmpstr (member_string (data, "zip"), ==, "007");
  g_assert_cmpfloat (json_object_get_double_member (data, "weight"), ==, 1.5);

  /* the customer's aggregates follow */
  shown = ctl_json_object ("customer", "show", ref, NULL);
  g_assert_cmpint (member_int (shown, "purchase_count"), ==, 1);
  g_assert_cmpint (member_int (shown, "event_count"), ==, 1);
  g_assert_cmpfloat (json_object_get_double_member (shown, "revenue"), ==, 12.5);
  assert_time (member_string (shown, "last_purchase_at"), "2024-05-01T12:30:00Z");
}

static void
test_event_add_idempotent (void)
{
  g_autoptr (JsonObject) customer = add_customer ("Event Twice", NULL);
  g_autofree char *id = id_text (customer);
  g_autoptr (JsonObject) first = NULL;
  g_autoptr (JsonObject) again = NULL;
  g_autoptr (JsonObject) shown = NULL;
  g_autoptr (Ctl) text = NULL;
  g_autofree char *expected = NULL;

  first = ctl_json_object ("event", "add", id, "purchase", "--amount", "20", "--key", "order-17",
                           NULL);
  again = ctl_json_object ("event", "add", id, "purchase", "--amount", "20", "--key", "order-17",
                           NULL);
  g_assert_false (json_object_get_boolean_member (first, "duplicate"));
  g_assert_true (json_object_get_boolean_member (again, "duplicate"));
  g_assert_cmpint (member_int (again, "id"), ==, member_int (first, "id"));

  text = ctl ("event", "add", id, "purchase", "--amount", "20", "--key", "order-17", NULL);
  assert_ok (text);
  expected = g_strdup_printf ("Already recorded: event %" G_GINT64_FORMAT " (key order-17)\n",
                              member_int (first, "id"));
  g_assert_cmpstr (text->out, ==, expected);

  /* recorded once: counted once */
  shown = ctl_json_object ("customer", "show", id, NULL);
  g_assert_cmpint (member_int (shown, "purchase_count"), ==, 1);
  g_assert_cmpint (member_int (shown, "event_count"), ==, 1);
  g_assert_cmpfloat (json_object_get_double_member (shown, "revenue"), ==, 20.0);
}

static void
test_event_add_text (void)
{
  g_autoptr (JsonObject) customer = add_customer ("Event Text", NULL);
  g_autofree char *id = id_text (customer);
  g_autoptr (Ctl) result = NULL;
  g_autoptr (Ctl) shown = NULL;
  g_autoptr (JsonArray) timeline = NULL;
  const char *prefix = "Recorded purchase event ";
  g_autofree char *suffix = g_strdup_printf (" for customer %s\n", id);

  result = ctl ("event", "add", id, "purchase", "--amount", ".5", NULL);
  assert_ok (result);
  g_assert_true (g_str_has_prefix (result->out, prefix));
  g_assert_true (g_str_has_suffix (result->out, suffix));
  g_assert_cmpuint (strlen (result->out), >, strlen (prefix) + strlen (suffix));

  /* local times without an offset are read in TZ (UTC here) */
  g_clear_pointer (&result, ctl_free);
  result = ctl ("event", "add", id, "login", "--at", "2024-05-01T14:30", NULL);
  assert_ok (result);
  g_clear_pointer (&result, ctl_free);
  result = ctl ("event", "add", id, "login", "--at", "2024-04-30", NULL);
  assert_ok (result);
  timeline = ctl_json_array ("timeline", id, NULL);
  g_assert_cmpuint (json_array_get_length (timeline), ==, 4);
  assert_time (member_string (json_array_get_object_element (timeline, 2), "at"), "2024-05-01T14:30:00Z");
  assert_time (member_string (json_array_get_object_element (timeline, 3), "at"), "2024-04-30T00:00:00Z");

  shown = ctl ("customer", "show", id, NULL);
  assert_ok (shown);
  assert_block_value (shown->out, "Purchases", "1");
  assert_block_value (shown->out, "Revenue", "0.50");
  assert_block_value (shown->out, "Events", "3");
}

static void
test_event_add_refused (void)
{
  g_autoptr (JsonObject) customer = add_customer ("Event Refused", NULL);
  g_autofree char *id = id_text (customer);
  g_autoptr (Ctl) future = ctl ("event", "add", id, "login", "--at", "2999-01-01T00:00:00Z",
                                NULL);
  g_autoptr (Ctl) bad_kind = ctl ("event", "add", id, "Purchase!", NULL);
  g_autoptr (Ctl) missing = ctl ("event", "add", "654321", "login", NULL);
  g_autoptr (JsonObject) shown = NULL;

  assert_failure (future, "future");
  assert_failure (bad_kind, "Purchase!");
  assert_failure (missing, "654321");
  shown = ctl_json_object ("customer", "show", id, NULL);
  g_assert_cmpint (member_int (shown, "event_count"), ==, 0);
}

/* timeline ----------------------------------------------------------------- */

static void
test_timeline_json (void)
{
  g_autoptr (JsonObject) customer = add_customer ("Timeline Json", NULL);
  g_autofree char *id = id_text (customer);
  g_autoptr (JsonObject) event = NULL;
  g_autoptr (JsonObject) moved = NULL;
  g_autoptr (JsonArray) timeline = NULL;
  g_autoptr (JsonArray) limited = NULL;
  JsonObject *entry;

  event = ctl_json_object ("event", "add", id, "purchase", "--amount", "12.50", "--at",
                           "2024-05-01T14:30:00+02:00", "--key", "tl-1", "--data", "sku=A1",
                           NULL);
  moved = ctl_json_object ("customer", "stage", id, "onboarding", "--reason", "signed", NULL);

  timeline = ctl_json_array ("timeline", id, NULL);
  g_assert_cmpuint (json_array_get_length (timeline), ==, 3);
  /* newest first */
  for (guint i = 1; i < json_array_get_length (timeline); i++)
    g_assert_cmpint (time_compare (
                         member_string (json_array_get_object_element (timeline, i - 1), "at"),
                         member_string (json_array_get_object_element (timeline, i), "at")),
                     >=, 0);

  entry = json_array_get_object_element (timeline, 0);
  g_assert_cmpstr (member_string (entry, "type"), ==, "stage");
  g_assert_cmpstr (member_string (entry, "from"), ==, "lead");
  g_assert_cmpstr (member_string (entry, "to"), ==, "onboarding");
  g_assert_cmpstr (member_string (entry, "reason"), ==, "signed");

  entry = json_array_get_object_element (timeline, 1);
  g_assert_cmpstr (member_string (entry, "type"), ==, "stage");
  g_assert_false (json_object_has_member (entry, "from")
                  && *json_object_get_string_member (entry, "from") != '\0');
  g_assert_cmpstr (member_string (entry, "to"), ==, "lead");

  /* the event of 2024 is the oldest */
  entry = json_array_get_object_element (timeline, 2);
  g_assert_cmpstr (member_string (entry, "type"), ==, "event");
  g_assert_cmpint (member_int (entry, "id"), ==, member_int (event, "id"));
  g_assert_cmpstr (member_string (entry, "kind"), ==, "purchase");
  g_assert_cmpstr (member_string (entry, "key"), ==, "tl-1");
  assert_time (member_string (entry, "at"), "2024-05-01T12:30:00Z");
  g_assert_cmpfloat (json_object_get_double_member (entry, "amount"), ==, 12.5);
  g_assert_cmpstr (member_string (json_object_get_object_member (entry, "data"), "sku"), ==,
                   "A1");

  limited = ctl_json_array ("timeline", id, "--limit", "2", NULL);
  g_assert_cmpuint (json_array_get_length (limited), ==, 2);
  g_assert_true (json_node_equal (json_array_get_element (limited, 0),
                                  json_array_get_element (timeline, 0)));
  g_assert_true (json_node_equal (json_array_get_element (limited, 1),
                                  json_array_get_element (timeline, 1)));
}

static void
test_timeline_text (void)
{
  static const char *const headings[] = { "WHEN", "WHAT", "DETAIL", NULL };
  g_autoptr (JsonObject) customer = add_customer ("Timeline Text", NULL);
  g_autofree char *id = id_text (customer);
  g_autoptr (JsonObject) event = NULL;
  g_autoptr (JsonObject) moved = NULL;
  g_autoptr (Ctl) result = NULL;
  g_autoptr (Ctl) limited = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  g_autofree char *stage_detail = NULL;
  g_autofree char *created_detail = NULL;

  event = ctl_json_object ("event", "add", id, "purchase", "--amount", "12.5", "--at",
                           "2024-05-01T12:30:00Z", "--key", "order-1", "--data", "sku=A1",
                           "--data", "qty=2", NULL);
  moved = ctl_json_object ("customer", "stage", id, "onboarding", "--reason",
                           "signed the contract", NULL);

  result = ctl ("timeline", id, NULL);
  assert_ok (result);
  rows = parse_table (result->out, headings);
  g_assert_cmpuint (rows->len, ==, 3);
  stage_detail = g_strdup_printf ("lead -> onboarding by %s: signed the contract",
                                  g_get_user_name ());
  created_detail = g_strdup_printf ("entered lead by %s: created", g_get_user_name ());
  g_assert_cmpstr (CELL (rows, 0, 1), ==, "stage");
  g_assert_cmpstr (CELL (rows, 0, 2), ==, stage_detail);
  g_assert_cmpstr (CELL (rows, 1, 1), ==, "stage");
  g_assert_cmpstr (CELL (rows, 1, 2), ==, created_detail);
  g_assert_cmpstr (CELL (rows, 2, 0), ==, "2024-05-01 12:30:00 UTC");
  g_assert_cmpstr (CELL (rows, 2, 1), ==, "purchase");
  g_assert_cmpstr (CELL (rows, 2, 2), ==, "amount 12.50; key order-1; qty=2, sku=A1");

  limited = ctl ("timeline", id, "--limit", "1", NULL);
  assert_ok (limited);
  g_clear_pointer (&rows, g_ptr_array_unref);
  rows = parse_table (limited->out, headings);
  g_assert_cmpuint (rows->len, ==, 1);
  g_assert_cmpstr (CELL (rows, 0, 2), ==, stage_detail);
}

static void
test_timeline_not_found (void)
{
  g_autoptr (Ctl) text = ctl ("timeline", "543210", NULL);
  g_autoptr (Ctl) json = ctl ("timeline", "543210", "--json", NULL);

  assert_failure (text, "543210");
  assert_failure (json, "543210");
}

/* status ------------------------------------------------------------------- */

static void
test_status (void)
{
  g_autoptr (JsonObject) customer = add_customer ("Status Count", NULL);
  g_autoptr (JsonObject) status = ctl_json_object ("status", NULL);
  g_autoptr (Ctl) text = ctl ("status", NULL);
  g_autofree char *version = NULL;

  g_assert_cmpstr (member_string (status, "database"), ==, "ok");
  g_assert_false (json_object_has_member (status, "database_error"));
  g_assert_cmpint (member_int (status, "schema_version"), >=, 1);
  g_assert_cmpstr (member_string (status, "bus"), ==, "session");
  g_assert_cmpint (member_int (status, "customers"), >=, 1);
  g_assert_cmpint (member_int (status, "events"), >=, 0);
  g_assert_cmpstr (member_string (status, "config"), ==, the_daemon->config_path);
  version = g_strdup (member_string (status, "version"));
  g_assert_cmpstr (version, !=, "");

  assert_ok (text);
  assert_block_value (text->out, "Database", "ok");
  assert_block_value (text->out, "Version", version);
  assert_block_value (text->out, "Bus", "session");
  assert_block_value (text->out, "Config", the_daemon->config_path);
  g_assert_null (block_value (text->out, "Database error"));
  {
    g_autofree char *started = block_value (text->out, "Started");

    g_assert_nonnull (started);
    g_assert_true (g_str_has_suffix (started, " ago)") || g_str_has_suffix (started, "(just now)"));
  }
}

/* Validation by the daemon ------------------------------------------------- */

static void
test_validation_bad_email (void)
{
  g_autofree char *owner = unique ("bad-email-owner");
  g_autoptr (Ctl) result = ctl ("customer", "add", "--name", "Bad Email", "--email",
                                "not-an-address", "--owner", owner, NULL);
  g_autoptr (JsonArray) found = NULL;

  assert_failure (result, "stewardctl: email: ");
  g_assert_nonnull (strstr (result->err, "not-an-address"));
  /* refused: nothing was written */
  found = ctl_json_array ("customer", "list", "--owner", owner, NULL);
  g_assert_cmpuint (json_array_get_length (found), ==, 0);
}

static void
test_validation_bad_tz (void)
{
  g_autoptr (JsonObject) customer = add_customer ("Bad Tz", "--tz", "Europe/Paris", NULL);
  g_autofree char *id = id_text (customer);
  g_autoptr (Ctl) add = ctl ("customer", "add", "--name", "Mars", "--tz", "Mars/Olympus_Mons",
                             NULL);
  g_autoptr (Ctl) edit = ctl ("customer", "edit", id, "--tz", "Nowhere/Atall", NULL);
  g_autoptr (JsonObject) shown = NULL;

  assert_failure (add, "stewardctl: tz: ");
  g_assert_nonnull (strstr (add->err, "Mars/Olympus_Mons"));
  assert_failure (edit, "stewardctl: tz: ");
  shown = ctl_json_object ("customer", "show", id, NULL);
  g_assert_cmpstr (member_string (shown, "tz"), ==, "Europe/Paris");
}

static void
test_validation_duplicate_email (void)
{
  g_autofree char *local = unique ("dup");
  g_autofree char *lower = g_strconcat (local, "@example.com", NULL);
  g_autofree char *upper = g_ascii_strup (lower, -1);
  g_autoptr (JsonObject) first = add_customer ("Dup First", "--email", lower, NULL);
  g_autoptr (JsonObject) second = add_customer ("Dup Second", NULL);
  g_autofree char *first_id = id_text (first);
  g_autofree char *second_id = id_text (second);
  g_autoptr (Ctl) add = ctl ("customer", "add", "--name", "Dup Third", "--email", upper, NULL);
  g_autoptr (Ctl) edit = ctl ("customer", "edit", second_id, "--email", upper, NULL);
  g_autoptr (JsonObject) shown = NULL;

  /* e-mail addresses are unique whatever their case; the message names the
   * customer that has it */
  assert_failure (add, "stewardctl: email: ");
  g_assert_nonnull (strstr (add->err, first_id));
  assert_failure (edit, "stewardctl: email: ");
  g_assert_nonnull (strstr (edit->err, first_id));
  shown = ctl_json_object ("customer", "show", second_id, NULL);
  g_assert_false (json_object_has_member (shown, "email"));
}

static void
test_validation_duplicate_ref (void)
{
  g_autofree char *ref = unique ("DUPREF-");
  g_autoptr (JsonObject) first = add_customer ("Ref First", "--ref", ref, NULL);
  g_autoptr (Ctl) add = ctl ("customer", "add", "--name", "Ref Second", "--ref", ref, NULL);

  assert_failure (add, "stewardctl: ref: ");
  g_assert_nonnull (strstr (add->err, ref));
}

/* Usage errors ------------------------------------------------------------- */

static void
test_usage_unknown_command (void)
{
  g_autoptr (Ctl) noun = ctl ("custmer", "list", NULL);
  g_autoptr (Ctl) verb = ctl ("customer", "delete", "1", NULL);
  g_autoptr (Ctl) no_command = ctl_no_arguments ();
  g_autoptr (Ctl) no_verb = ctl ("customer", NULL);
  g_autoptr (Ctl) option = ctl ("customer", "list", "--colour", "red", NULL);
  g_autoptr (Ctl) top_option = ctl ("--verbose", "status", NULL);

  assert_usage (noun, "unknown command 'custmer'");
  g_assert_nonnull (strstr (noun->err, "--help"));
  /* an unknown verb: the verbs there are */
  g_assert_cmpint (verb->status, ==, 2);
  g_assert_cmpstr (verb->out, ==, "");
  g_assert_nonnull (strstr (verb->err, "unknown verb 'delete'"));
  g_assert_nonnull (strstr (verb->err, "Usage: stewardctl customer"));
  g_assert_nonnull (strstr (verb->err, "customer list"));
  assert_usage (no_command, "no command given");
  g_assert_cmpint (no_verb->status, ==, 2);
  g_assert_cmpstr (no_verb->out, ==, "");
  g_assert_nonnull (strstr (no_verb->err, "missing verb"));
  g_assert_nonnull (strstr (no_verb->err, "Usage: stewardctl customer"));
  assert_usage (option, "--colour");
  assert_usage (top_option, "--verbose");
}

static void
test_usage_arguments (void)
{
  g_autoptr (Ctl) show = ctl ("customer", "show", NULL);
  g_autoptr (Ctl) stage = ctl ("customer", "stage", "1", NULL);
  g_autoptr (Ctl) event = ctl ("event", "add", "1", NULL);
  g_autoptr (Ctl) timeline = ctl ("timeline", NULL);
  g_autoptr (Ctl) extra = ctl ("customer", "show", "1", "2", NULL);
  g_autoptr (Ctl) status = ctl ("status", "now", NULL);
  g_autoptr (Ctl) no_value = ctl ("customer", "list", "--limit", NULL);

  assert_usage (show, "customer show: missing ID|REF");
  assert_usage (stage, "customer stage: missing STAGE");
  assert_usage (event, "event add: missing KIND");
  assert_usage (timeline, "timeline: missing ID|REF");
  assert_usage (extra, "unexpected argument '2'");
  assert_usage (status, "unexpected argument 'now'");
  assert_usage (no_value, "--limit");
}

static void
test_usage_bad_values (void)
{
  g_autoptr (JsonObject) customer = add_customer ("Bad Values", NULL);
  g_autofree char *id = id_text (customer);
  g_autofree char *owner = unique ("bad-attr-owner");
  static const char *const bad_limits[] = { "0", "-1", "ten", "5x", "", NULL };
  static const char *const bad_times[] = { "2024-02-30", "yesterday", "2024-05-01T24:00",
                                           "2024-05-01T14:30+25:00", "05/01/2024", NULL };
  static const char *const bad_amounts[] = { "1,5", "1e3", "abc", "12.50 EUR", "", NULL };
  g_autoptr (JsonObject) shown = NULL;
  g_autoptr (JsonArray) found = NULL;

  for (guint i = 0; bad_limits[i] != NULL; i++)
    {
      g_autoptr (Ctl) list = ctl ("customer", "list", "--limit", bad_limits[i], NULL);
      g_autoptr (Ctl) timeline = ctl ("timeline", id, "--limit", bad_limits[i], NULL);

      assert_usage (list, "--limit");
      assert_usage (timeline, "--limit");
    }
  for (guint i = 0; bad_times[i] != NULL; i++)
    {
      g_autoptr (Ctl) event = ctl ("event", "add", id, "login", "--at", bad_times[i], NULL);

      assert_usage (event, "--at");
      g_assert_nonnull (strstr (event->err, bad_times[i]));
    }
  for (guint i = 0; bad_amounts[i] != NULL; i++)
    {
      g_autoptr (Ctl) event = ctl ("event", "add", id, "purchase", "--amount", bad_amounts[i],
                                   NULL);

      assert_usage (event, "--amount");
    }
  {
    g_autoptr (Ctl) data = ctl ("event", "add", id, "login", "--data", "novalue", NULL);
    g_autoptr (Ctl) attr = ctl ("customer", "add", "--name", "Bad Attr", "--owner", owner,
                                "--attr", "=v", NULL);

    assert_usage (data, "--data");
    assert_usage (attr, "--attr");
  }

  /* nothing was sent */
  shown = ctl_json_object ("customer", "show", id, NULL);
  g_assert_cmpint (member_int (shown, "event_count"), ==, 0);
  found = ctl_json_array ("customer", "list", "--owner", owner, NULL);
  g_assert_cmpuint (json_array_get_length (found), ==, 0);
}

/* Help --------------------------------------------------------------------- */

static void
test_help_every_command (void)
{
  static const char *const commands[][3] = {
    { "customer", "add", "Usage: stewardctl customer add --name NAME" },
    { "customer", "show", "Usage: stewardctl customer show ID|REF" },
    { "customer", "list", "Usage: stewardctl customer list [--stage S]" },
    { "customer", "edit", "Usage: stewardctl customer edit ID|REF" },
    { "customer", "stage", "Usage: stewardctl customer stage ID|REF STAGE" },
    { "event", "add", "Usage: stewardctl event add ID|REF KIND" },
    { "timeline", NULL, "Usage: stewardctl timeline ID|REF" },
    { "alert", "list", "Usage: stewardctl alert list [--open]" },
    { "alert", "ack", "Usage: stewardctl alert ack ID [--note TEXT]" },
    { "script", "list", "Usage: stewardctl script list" },
    { "script", "check", "Usage: stewardctl script check FILE" },
    { "script", "reload", "Usage: stewardctl script reload" },
    { "status", NULL, "Usage: stewardctl status" },
  };
  static const char *const options[][2] = {
    { "customer add", "--attr k=v" },  { "customer list", "--limit N" },
    { "customer edit", "--untag T" },  { "customer stage", "--reason TEXT" },
    { "event add", "--amount X" },     { "timeline", "--limit N" },
    { "alert list", "--open" },        { "alert list", "--customer ID|REF" },
    { "alert list", "--kind K" },      { "alert list", "--limit N" },
    { "alert ack", "--note TEXT" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    for (guint h = 0; h < 2; h++)
      {
        const char *help = h == 0 ? "--help" : "-h";
        g_autoptr (Ctl) result = commands[i][1] != NULL
                                     ? ctl (commands[i][0], commands[i][1], help, NULL)
                                     : ctl (commands[i][0], help, NULL);
        g_autofree char *words = commands[i][1] != NULL
                                     ? g_strdup_printf ("%s %s", commands[i][0], commands[i][1])
                                     : g_strdup (commands[i][0]);

        assert_ok (result);
        if (!g_str_has_prefix (result->out, commands[i][2]))
          g_error ("'%s %s' does not start with '%s':\n%s", words, help, commands[i][2],
                   result->out);
        g_assert_nonnull (strstr (result->out, "--json"));
        for (guint o = 0; o < G_N_ELEMENTS (options); o++)
          if (g_str_equal (options[o][0], words))
            g_assert_nonnull (strstr (result->out, options[o][1]));
      }

  {
    g_autoptr (Ctl) top = ctl ("--help", NULL);
    g_autoptr (Ctl) top_short = ctl ("-h", NULL);
    g_autoptr (Ctl) customer = ctl ("customer", "--help", NULL);
    g_autoptr (Ctl) event = ctl ("event", "-h", NULL);

    assert_ok (top);
    g_assert_true (g_str_has_prefix (top->out, "Usage: stewardctl"));
    for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
      {
        g_autofree char *words = commands[i][1] != NULL
                                     ? g_strdup_printf ("  %s %s", commands[i][0], commands[i][1])
                                     : g_strdup_printf ("  %s", commands[i][0]);

        g_assert_nonnull (strstr (top->out, words));
      }
    assert_ok (top_short);
    g_assert_cmpstr (top_short->out, ==, top->out);
    assert_ok (customer);
    g_assert_true (g_str_has_prefix (customer->out, "Usage: stewardctl customer VERB"));
    g_assert_nonnull (strstr (customer->out, "customer stage"));
    g_assert_null (strstr (customer->out, "event add"));
    assert_ok (event);
    g_assert_true (g_str_has_prefix (event->out, "Usage: stewardctl event VERB"));
    g_assert_nonnull (strstr (event->out, "event add"));
  }
}

static void
test_help_wins (void)
{
  g_autofree char *owner = unique ("help-owner");
  /* --help anywhere shows help and does nothing else, even after a mistake */
  g_autoptr (Ctl) mistake = ctl ("customer", "add", "--frobnicate", "--help", NULL);
  g_autoptr (Ctl) nothing_sent = ctl ("customer", "add", "--name", "Not Created", "--owner",
                                      owner, "--help", NULL);
  g_autoptr (Ctl) json = ctl ("--json", "status", "--help", NULL);
  g_autoptr (JsonArray) found = NULL;

  assert_ok (mistake);
  g_assert_true (g_str_has_prefix (mistake->out, "Usage: stewardctl customer add"));
  assert_ok (nothing_sent);
  g_assert_true (g_str_has_prefix (nothing_sent->out, "Usage: stewardctl customer add"));
  found = ctl_json_array ("customer", "list", "--owner", owner, NULL);
  g_assert_cmpuint (json_array_get_length (found), ==, 0);
  assert_ok (json);
  g_assert_true (g_str_has_prefix (json->out, "Usage: stewardctl status"));
}

/* Global options ----------------------------------------------------------- */

static void
test_json_anywhere (void)
{
  g_autofree char *ref = unique ("ANY-");
  g_autoptr (JsonObject) customer = add_customer ("Json Anywhere", "--ref", ref, NULL);
  g_autoptr (JsonNode) before = ctl_json ("customer", "show", ref, NULL);
  g_autoptr (Ctl) between = ctl ("customer", "--json", "show", ref, NULL);
  g_autoptr (Ctl) after = ctl ("customer", "show", ref, "--json", NULL);
  g_autoptr (JsonNode) between_node = NULL;
  g_autoptr (JsonNode) after_node = NULL;

  g_assert_cmpint (between->status, ==, 0);
  g_assert_cmpint (after->status, ==, 0);
  g_assert_cmpstr (between->err, ==, "");
  g_assert_cmpstr (after->err, ==, "");
  between_node = parse_json_output (between->out);
  after_node = parse_json_output (after->out);
  g_assert_true (json_node_equal (before, between_node));
  g_assert_true (json_node_equal (before, after_node));
  /* indented by two spaces, one member per line */
  g_assert_true (g_str_has_prefix (after->out, "{\n  \"id\": "));
}

static void
test_local_time_zone (void)
{
  static const char *const paris[] = { "TZ", "Europe/Paris", NULL };
  static const char *const headings[] = { "WHEN", "WHAT", "DETAIL", NULL };
  g_autoptr (JsonObject) customer = add_customer ("Paris Time", NULL);
  g_autofree char *id = id_text (customer);
  const char *summer[] = { "--json", "event", "add", id, "login", "--at", "2024-05-01T14:30",
                           NULL };
  const char *gap[] = { "--json", "event", "add", id, "login", "--at", "2024-03-31T02:30",
                        NULL };
  const char *winter[] = { "--json", "event", "add", id, "login", "--at", "2024-01-15", NULL };
  const char *timeline[] = { "timeline", id, NULL };
  g_autoptr (Ctl) a = ctl_custom (paris, NULL, summer);
  g_autoptr (Ctl) b = ctl_custom (paris, NULL, gap);
  g_autoptr (Ctl) c = ctl_custom (paris, NULL, winter);
  g_autoptr (Ctl) shown = ctl_custom (paris, NULL, timeline);
  g_autoptr (JsonNode) a_node = NULL, b_node = NULL, c_node = NULL;
  g_autoptr (GPtrArray) rows = NULL;

  /* --at without an offset is local time (TZ), sent as UTC */
  g_assert_cmpint (a->status, ==, 0);
  a_node = parse_json_output (a->out);
  assert_time (member_string (json_node_get_object (a_node), "occurred_at"),
               "2024-05-01T12:30:00Z");
  /* 02:30 does not exist on that day in Paris: moved to the change */
  g_assert_cmpint (b->status, ==, 0);
  b_node = parse_json_output (b->out);
  assert_time (member_string (json_node_get_object (b_node), "occurred_at"),
               "2024-03-31T01:00:00Z");
  g_assert_cmpint (c->status, ==, 0);
  c_node = parse_json_output (c->out);
  assert_time (member_string (json_node_get_object (c_node), "occurred_at"),
               "2024-01-14T23:00:00Z");

  /* and times are shown in TZ, with its abbreviation */
  assert_ok (shown);
  rows = parse_table (shown->out, headings);
  g_assert_cmpuint (rows->len, ==, 4);
  g_assert_cmpstr (CELL (rows, 1, 0), ==, "2024-05-01 14:30:00 CEST");
  g_assert_cmpstr (CELL (rows, 2, 0), ==, "2024-03-31 03:00:00 CEST");
  g_assert_cmpstr (CELL (rows, 3, 0), ==, "2024-01-15 00:00:00 CET");
}

static void
test_write_error (void)
{
  static const char *const none[] = { NULL };
  static const char *const list[] = { "--json", "customer", "list", NULL };
  g_autoptr (Ctl) result = NULL;

  if (!g_file_test ("/dev/full", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("no /dev/full");
      return;
    }
  /* output that could not be written is a failure, not a silent success */
  result = ctl_custom (none, "/dev/full", list);
  g_assert_cmpint (result->status, ==, 1);
  g_assert_nonnull (strstr (result->err, "stewardctl: cannot write the output"));
}

static void
test_invalid_utf8 (void)
{
  g_autoptr (Ctl) result = ctl ("customer", "show", "caf\xe9", NULL);

  assert_usage (result, "not valid UTF-8");
}

/* No daemon ---------------------------------------------------------------- */

static void
assert_unreachable (Ctl *result, const char *bus, const char *hint)
{
  g_autofree char *expected = g_strdup_printf ("stewardctl: cannot reach stewardd on the %s bus",
                                               bus);

  assert_failure (result, NULL);
  if (!g_str_has_prefix (result->err, expected) || strstr (result->err, hint) == NULL)
    g_error ("expected '%s ... %s', got:\n%s", expected, hint, result->err);
  g_assert_nonnull (strstr (result->err, "Is it running?"));
}

static void
test_unreachable_no_bus (void)
{
  g_autofree char *dir = g_dir_make_tmp ("steward-cli-XXXXXX", NULL);
  g_autofree char *socket = g_build_filename (dir, "no-bus-here", NULL);
  g_autofree char *address = g_strconcat ("unix:path=", socket, NULL);
  static const char *const status[] = { "status", NULL };
  static const char *const show_json[] = { "--json", "customer", "show", "1", NULL };
  static const char *const usage[] = { "customer", "show", NULL };
  g_autoptr (Ctl) text = ctl_env ("DBUS_SESSION_BUS_ADDRESS", address, status);
  g_autoptr (Ctl) json = ctl_env ("DBUS_SESSION_BUS_ADDRESS", address, show_json);
  g_autoptr (Ctl) bad = ctl_env ("DBUS_SESSION_BUS_ADDRESS", address, usage);

  assert_unreachable (text, "session", "tools/run");
  assert_unreachable (json, "session", "tools/run");
  /* a usage error is found before any connection is tried */
  assert_usage (bad, "missing ID|REF");
  g_rmdir (dir);
}

static void
test_unreachable_no_owner (void)
{
  /* a bus on which nobody owns org.steward.Steward1 */
  g_autoptr (GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  static const char *const status[] = { "status", NULL };
  static const char *const add[] = { "--json", "customer", "add", "--name", "Nobody", NULL };
  g_autoptr (Ctl) text = NULL;
  g_autoptr (Ctl) json = NULL;

  g_test_dbus_up (bus);
  text = ctl_env ("DBUS_SESSION_BUS_ADDRESS", g_test_dbus_get_bus_address (bus), status);
  json = ctl_env ("DBUS_SESSION_BUS_ADDRESS", g_test_dbus_get_bus_address (bus), add);
  g_test_dbus_down (bus);

  assert_unreachable (text, "session", "no program owns the name org.steward.Steward1");
  g_assert_nonnull (strstr (text->err, "tools/run"));
  assert_unreachable (json, "session", "tools/run");
}

static void
test_unreachable_system_bus (void)
{
  static const char *const status[] = { "--system", "status", NULL };
  g_autoptr (Ctl) result = ctl_env ("DBUS_SYSTEM_BUS_ADDRESS",
                                    "unix:path=/nonexistent/steward-test/system_bus_socket",
                                    status);

  assert_unreachable (result, "system", "systemctl start stewardd");
}

/* Alerts ------------------------------------------------------------------- */

/* The folder of the daemon's scripts (the config's scripts:), and the
 * folder that holds it and the log plugin's output. */
static char *work_dir;
static char *scripts_dir;

/* The scripts the daemon starts with: tagger raises an alert on every
 * purchase, later waits 14 days after a closed ticket (no case records
 * one), broken does not load (no run). */
static const char tagger_lua[] =
  "return {\n"
  "  name = 'tagger',\n"
  "  description = 'Alert on every purchase',\n"
  "  on = { 'purchase' },\n"
  "  run = function(c, e)\n"
  "    steward.alert{ customer = c, kind = 'big_spender', message = 'bought' }\n"
  "  end,\n"
  "}\n";
static const char later_lua[] =
  "return {\n"
  "  name = 'later',\n"
  "  description = 'Two weeks after a ticket is closed',\n"
  "  on = { 'ticket_closed', 'message_in' },\n"
  "  delay = '14d',\n"
  "  run = function(c, e) end,\n"
  "}\n";
static const char broken_lua[] = "return { name = 'broken', on = { 'purchase' } }\n";

static void
write_file (const char *path, const char *text)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

/* The extra configuration of the daemon: the scripts above, and the log
 * plugin for every channel. */
static char *
scripts_setup (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *plugins = st_test_build_path ("plugins");
  const struct
  {
    const char *name;
    const char *text;
  } files[] = { { "tagger.lua", tagger_lua }, { "later.lua", later_lua },
                { "broken.lua", broken_lua } };

  work_dir = g_dir_make_tmp ("steward-cli-XXXXXX", &error);
  g_assert_no_error (error);
  scripts_dir = g_build_filename (work_dir, "scripts", NULL);
  g_assert_cmpint (g_mkdir (scripts_dir, 0700), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (scripts_dir, files[i].name, NULL);

      write_file (path, files[i].text);
    }
  return g_strdup_printf ("scripts: [%s]\n"
                          "plugin_dir: %s\n"
                          "channels:\n"
                          "  \"*\": { plugin: log, path: %s/m.jsonl }\n",
                          scripts_dir, plugins, work_dir);
}

/* A customer who made a purchase, and the alert tagger raised for it (the
 * care worker runs after the purchase is recorded: wait up to 20 s). */
static JsonObject *
customer_with_alert (const char *name, char **id)
{
  g_autoptr (JsonObject) customer = add_customer (name, NULL);
  g_autoptr (JsonObject) event = NULL;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  *id = id_text (customer);
  event = ctl_json_object ("event", "add", *id, "purchase", "--amount", "10", NULL);
  for (;;)
    {
      g_autoptr (JsonArray) alerts = ctl_json_array ("alert", "list", "--customer", *id, NULL);

      if (json_array_get_length (alerts) > 0)
        {
          g_assert_cmpuint (json_array_get_length (alerts), ==, 1);
          return json_object_ref (json_array_get_object_element (alerts, 0));
        }
      if (g_get_monotonic_time () > deadline)
        g_error ("no alert for customer %s 20 s after a purchase", *id);
      g_usleep (100 * 1000);
    }
}

/* The row of the table whose first cell is @id, or NULL. */
static GPtrArray *
row_with_id (GPtrArray *rows, const char *id)
{
  for (guint r = 0; r < rows->len; r++)
    if (g_str_equal (CELL (rows, r, 0), id))
      return g_ptr_array_index (rows, r);
  return NULL;
}

static const char *const alert_headings[] = { "ID",    "WHEN",  "SEVERITY", "CUSTOMER", "KIND",
                                              "COUNT", "STATE", "MESSAGE",  NULL };

static void
test_alert_list_after_purchase (void)
{
  g_autofree char *id = NULL;
  g_autoptr (JsonObject) alert = customer_with_alert ("Alert Buyer", &id);
  g_autofree char *alert_id = id_text (alert);
  g_autoptr (Ctl) text = ctl ("alert", "list", "--customer", id, NULL);
  g_autoptr (Ctl) all = ctl ("alert", "list", NULL);
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GPtrArray) all_rows = NULL;
  g_autofree char *when = NULL;

  g_assert_cmpint (member_int (alert, "customer_id"), ==, g_ascii_strtoll (id, NULL, 10));
  g_assert_cmpstr (member_string (alert, "kind"), ==, "big_spender");
  g_assert_cmpstr (member_string (alert, "message"), ==, "bought");
  g_assert_cmpstr (member_string (alert, "severity"), ==, "warning");
  g_assert_cmpstr (member_string (alert, "source"), ==, "script:tagger");
  g_assert_cmpstr (member_string (alert, "state"), ==, "open");
  g_assert_cmpint (member_int (alert, "count"), ==, 1);
  g_assert_true (g_str_has_suffix (member_string (alert, "last_raised_at"), "Z"));

  assert_ok (text);
  rows = parse_table (text->out, alert_headings);
  g_assert_cmpuint (rows->len, ==, 1);
  g_assert_cmpstr (CELL (rows, 0, 0), ==, alert_id);
  /* local time, TZ=UTC here */
  when = g_strdup (CELL (rows, 0, 1));
  g_assert_true (g_str_has_suffix (when, " UTC"));
  g_assert_cmpuint (strlen (when), ==, strlen ("2026-11-24 22:13:19 UTC"));
  g_assert_cmpstr (CELL (rows, 0, 2), ==, "warning");
  g_assert_cmpstr (CELL (rows, 0, 3), ==, id);
  g_assert_cmpstr (CELL (rows, 0, 4), ==, "big_spender");
  g_assert_cmpstr (CELL (rows, 0, 5), ==, "1");
  g_assert_cmpstr (CELL (rows, 0, 6), ==, "open");
  g_assert_cmpstr (CELL (rows, 0, 7), ==, "bought");

  /* without a filter, all alerts: this one among them */
  assert_ok (all);
  all_rows = parse_table (all->out, alert_headings);
  g_assert_nonnull (row_with_id (all_rows, alert_id));
}

static void
test_alert_list_open_and_json (void)
{
  g_autofree char *first_id = NULL, *second_id = NULL;
  g_autoptr (JsonObject) first = customer_with_alert ("Alert First", &first_id);
  g_autoptr (JsonObject) second = customer_with_alert ("Alert Second", &second_id);
  g_autofree char *first_alert = id_text (first);
  g_autofree char *second_alert = id_text (second);
  g_autoptr (JsonObject) acked = ctl_json_object ("alert", "ack", first_alert, NULL);
  g_autoptr (JsonArray) open = ctl_json_array ("alert", "list", "--open", NULL);
  g_autoptr (JsonArray) all = ctl_json_array ("alert", "list", NULL);
  g_autoptr (JsonArray) kind = ctl_json_array ("alert", "list", "--kind", "big_spender", "--open",
                                               NULL);
  g_autoptr (JsonArray) limited = ctl_json_array ("alert", "list", "--limit", "1", NULL);
  g_autoptr (Ctl) open_text = ctl ("alert", "list", "--open", NULL);
  g_autoptr (Ctl) none = ctl ("alert", "list", "--kind", "no_such_kind", NULL);
  g_autoptr (GPtrArray) rows = NULL;
  gboolean seen_first = FALSE, seen_second = FALSE;

  g_assert_cmpstr (member_string (acked, "state"), ==, "acknowledged");

  /* --open: only open ones, the acknowledged one left out */
  for (guint i = 0; i < json_array_get_length (open); i++)
    {
      JsonObject *a = json_array_get_object_element (open, i);
      g_autofree char *a_id = id_text (a);

      g_assert_cmpstr (member_string (a, "state"), ==, "open");
      g_assert_cmpstr (a_id, !=, first_alert);
      seen_second |= g_str_equal (a_id, second_alert);
    }
  g_assert_true (seen_second);

  /* without --open: all of them, newest first */
  seen_second = FALSE;
  for (guint i = 0; i < json_array_get_length (all); i++)
    {
      JsonObject *a = json_array_get_object_element (all, i);
      g_autofree char *a_id = id_text (a);

      seen_first |= g_str_equal (a_id, first_alert);
      seen_second |= g_str_equal (a_id, second_alert);
      if (i > 0)
        {
          JsonObject *before = json_array_get_object_element (all, i - 1);

          g_assert_cmpint (time_compare (member_string (before, "last_raised_at"),
                                         member_string (a, "last_raised_at")),
                           >=, 0);
        }
    }
  g_assert_true (seen_first);
  g_assert_true (seen_second);
  g_assert_cmpuint (json_array_get_length (all), >, json_array_get_length (open));

  for (guint i = 0; i < json_array_get_length (kind); i++)
    g_assert_cmpstr (member_string (json_array_get_object_element (kind, i), "kind"), ==,
                     "big_spender");
  g_assert_cmpuint (json_array_get_length (kind), >=, 1);
  g_assert_cmpuint (json_array_get_length (limited), ==, 1);

  assert_ok (open_text);
  rows = parse_table (open_text->out, alert_headings);
  g_assert_null (row_with_id (rows, first_alert));
  g_assert_nonnull (row_with_id (rows, second_alert));
  for (guint r = 0; r < rows->len; r++)
    g_assert_cmpstr (CELL (rows, r, 6), ==, "open");

  assert_ok (none);
  g_assert_cmpstr (none->out, ==, "No alerts match.\n");
}

static void
test_alert_ack (void)
{
  g_autofree char *id = NULL;
  g_autoptr (JsonObject) alert = customer_with_alert ("Alert Ack", &id);
  g_autofree char *alert_id = id_text (alert);
  g_autofree char *headline = g_strdup_printf ("Acknowledged alert %s\n\n", alert_id);
  g_autoptr (Ctl) ack = ctl ("alert", "ack", alert_id, "--note", "called them", NULL);
  g_autoptr (Ctl) listed = ctl ("alert", "list", "--customer", id, NULL);
  g_autoptr (Ctl) again = ctl ("alert", "ack", alert_id, NULL);
  g_autoptr (Ctl) again_json = ctl ("--json", "alert", "ack", alert_id, NULL);
  g_autoptr (Ctl) missing = ctl ("alert", "ack", "987654321", NULL);
  g_autoptr (JsonArray) after = ctl_json_array ("alert", "list", "--customer", id, NULL);
  g_autoptr (GPtrArray) rows = NULL;
  JsonObject *shown;

  assert_ok (ack);
  if (!g_str_has_prefix (ack->out, headline))
    g_error ("alert ack printed:\n%s", ack->out);
  assert_block_value (ack->out, "ID", alert_id);
  assert_block_value (ack->out, "State", "acknowledged");
  assert_block_value (ack->out, "Kind", "big_spender");
  assert_block_value (ack->out, "Customer", id);
  assert_block_value (ack->out, "Message", "bought");
  assert_block_value (ack->out, "Note", "called them");
  assert_block_value (ack->out, "Source", "script:tagger");
  {
    g_autofree char *by = block_value (ack->out, "Acknowledged by");
    g_autofree char *at = block_value (ack->out, "Acknowledged");

    g_assert_nonnull (by);
    g_assert_cmpstr (by, !=, "");
    g_assert_nonnull (at);
    g_assert_true (g_str_has_suffix (at, " UTC (just now)"));
  }

  /* the list shows it acknowledged */
  assert_ok (listed);
  rows = parse_table (listed->out, alert_headings);
  g_assert_cmpuint (rows->len, ==, 1);
  g_assert_cmpstr (CELL (rows, 0, 6), ==, "acknowledged");
  g_assert_cmpuint (json_array_get_length (after), ==, 1);
  shown = json_array_get_object_element (after, 0);
  g_assert_cmpstr (member_string (shown, "state"), ==, "acknowledged");
  g_assert_cmpstr (member_string (shown, "note"), ==, "called them");
  g_assert_cmpstr (member_string (shown, "acknowledged_by"), !=, "");
  g_assert_true (g_str_has_suffix (member_string (shown, "acknowledged_at"), "Z"));

  /* once only; an alert that is not there */
  assert_failure (again, "already acknowledged");
  assert_failure (again_json, "already acknowledged");
  assert_failure (missing, "987654321");
}

static void
test_alert_ack_json (void)
{
  g_autofree char *id = NULL;
  g_autoptr (JsonObject) alert = customer_with_alert ("Alert Ack Json", &id);
  g_autofree char *alert_id = id_text (alert);
  g_autoptr (JsonObject) acked = ctl_json_object ("alert", "ack", alert_id, "--note",
                                                  "Zoë: renewed", NULL);

  g_assert_cmpint (member_int (acked, "id"), ==, member_int (alert, "id"));
  g_assert_cmpstr (member_string (acked, "state"), ==, "acknowledged");
  g_assert_cmpstr (member_string (acked, "note"), ==, "Zoë: renewed");
  g_assert_cmpstr (member_string (acked, "kind"), ==, "big_spender");
  g_assert_cmpint (member_int (acked, "customer_id"), ==, g_ascii_strtoll (id, NULL, 10));
  g_assert_true (g_str_has_suffix (member_string (acked, "acknowledged_at"), "Z"));
}

/* The broken script is a system alert: no customer, a long message that the
 * table cuts and --json keeps whole. */
static void
test_alert_system_truncated (void)
{
  g_autoptr (JsonArray) alerts = ctl_json_array ("alert", "list", "--kind",
                                                 "script_broken:broken.lua", NULL);
  g_autoptr (Ctl) text = ctl ("alert", "list", "--kind", "script_broken:broken.lua", NULL);
  g_autoptr (GPtrArray) rows = NULL;
  JsonObject *alert;
  const char *message;
  const char *cell;

  g_assert_cmpuint (json_array_get_length (alerts), ==, 1);
  alert = json_array_get_object_element (alerts, 0);
  g_assert_false (json_object_has_member (alert, "customer_id"));
  g_assert_cmpstr (member_string (alert, "severity"), ==, "critical");
  g_assert_cmpstr (member_string (alert, "source"), ==, "core");
  message = member_string (alert, "message");
  g_assert_true (g_str_has_prefix (message, "script "));
  g_assert_nonnull (strstr (message, "broken.lua"));
  g_assert_cmpuint (g_utf8_strlen (message, -1), >, 60);

  assert_ok (text);
  rows = parse_table (text->out, alert_headings);
  g_assert_cmpuint (rows->len, ==, 1);
  g_assert_cmpstr (CELL (rows, 0, 2), ==, "critical");
  g_assert_cmpstr (CELL (rows, 0, 3), ==, "-");
  cell = CELL (rows, 0, 7);
  g_assert_true (g_str_has_suffix (cell, "..."));
  g_assert_cmpuint (g_utf8_strlen (cell, -1), <=, 60);
  g_assert_cmpuint (g_utf8_strlen (cell, -1), >, 50);
  g_assert_true (strncmp (message, cell, strlen (cell) - 3) == 0);
}

static void
test_alert_usage (void)
{
  g_autoptr (Ctl) no_id = ctl ("alert", "ack", NULL);
  g_autoptr (Ctl) word = ctl ("alert", "ack", "abc", NULL);
  g_autoptr (Ctl) zero = ctl ("alert", "ack", "0", NULL);
  g_autoptr (Ctl) negative = ctl ("alert", "ack", "--", "-5", NULL);
  g_autoptr (Ctl) huge = ctl ("alert", "ack", "99999999999999999999", NULL);
  g_autoptr (Ctl) no_note = ctl ("alert", "ack", "1", "--note", NULL);
  g_autoptr (Ctl) limit = ctl ("alert", "list", "--limit", "0", NULL);
  g_autoptr (Ctl) extra = ctl ("alert", "list", "now", NULL);
  g_autoptr (Ctl) no_verb = ctl ("alert", NULL);
  g_autoptr (Ctl) bad_verb = ctl ("alert", "delete", NULL);
  g_autoptr (Ctl) nobody = ctl ("alert", "list", "--customer", "NO-SUCH-ALERT-REF", NULL);

  assert_usage (no_id, "alert ack: missing ID");
  assert_usage (word, "'abc' is not an id");
  assert_usage (zero, "'0' is not an id");
  assert_usage (negative, "'-5' is not an id");
  assert_usage (huge, "is not an id");
  assert_usage (no_note, "--note");
  assert_usage (limit, "--limit");
  assert_usage (extra, "unexpected argument 'now'");
  g_assert_cmpint (no_verb->status, ==, 2);
  g_assert_nonnull (strstr (no_verb->err, "Usage: stewardctl alert VERB"));
  g_assert_cmpint (bad_verb->status, ==, 2);
  g_assert_nonnull (strstr (bad_verb->err, "unknown verb 'delete'"));
  assert_failure (nobody, "NO-SUCH-ALERT-REF");
}

/* Scripts ------------------------------------------------------------------ */

static const char *const script_headings[] = { "NAME", "STATE", "ON", "DELAY", "DESCRIPTION",
                                               NULL };

/* The row of the table whose first cell is @name; the test stops when
 * there is none. */
static GPtrArray *
row_named (GPtrArray *rows, const char *name, const char *text)
{
  GPtrArray *row = row_with_id (rows, name);

  if (row == NULL)
    g_error ("no script '%s' in:\n%s", name, text);
  return row;
}

#define ROW_CELL(row, c) ((const char *) g_ptr_array_index ((row), (c)))

/* The element of a JSON array of scripts with that name. */
static JsonObject *
script_named (JsonArray *scripts, const char *name)
{
  for (guint i = 0; i < json_array_get_length (scripts); i++)
    {
      JsonObject *s = json_array_get_object_element (scripts, i);

      if (g_str_equal (member_string (s, "name"), name))
        return s;
    }
  g_error ("no script '%s' in the list", name);
  return NULL;
}

static void
test_script_list (void)
{
  g_autoptr (Ctl) text = ctl ("script", "list", NULL);
  g_autoptr (JsonArray) scripts = ctl_json_array ("script", "list", NULL);
  g_autoptr (GPtrArray) rows = NULL;
  GPtrArray *row;
  JsonObject *s;

  assert_ok (text);
  rows = parse_table (text->out, script_headings);
  row = row_named (rows, "tagger", text->out);
  g_assert_cmpstr (ROW_CELL (row, 1), ==, "ok");
  g_assert_cmpstr (ROW_CELL (row, 2), ==, "purchase");
  g_assert_cmpstr (ROW_CELL (row, 3), ==, "-");
  g_assert_cmpstr (ROW_CELL (row, 4), ==, "Alert on every purchase");
  row = row_named (rows, "later", text->out);
  g_assert_cmpstr (ROW_CELL (row, 1), ==, "ok");
  g_assert_cmpstr (ROW_CELL (row, 2), ==, "ticket_closed, message_in");
  g_assert_cmpstr (ROW_CELL (row, 3), ==, "14d");
  g_assert_cmpstr (ROW_CELL (row, 4), ==, "Two weeks after a ticket is closed");
  row = row_named (rows, "broken", text->out);
  g_assert_cmpstr (ROW_CELL (row, 1), ==, "broken");
  /* the error in place of the description */
  g_assert_nonnull (strstr (ROW_CELL (row, 4), "run"));

  s = script_named (scripts, "tagger");
  g_assert_cmpstr (member_string (s, "state"), ==, "ok");
  g_assert_cmpstr (member_string (s, "description"), ==, "Alert on every purchase");
  g_assert_true (g_str_has_prefix (member_string (s, "path"), scripts_dir));
  g_assert_cmpint (member_int (s, "delay"), ==, 0);
  {
    g_autofree char *on = member_strings (s, "on");

    g_assert_cmpstr (on, ==, "purchase");
  }
  s = script_named (scripts, "later");
  g_assert_cmpint (member_int (s, "delay"), ==, 14 * 86400);
  s = script_named (scripts, "broken");
  g_assert_cmpstr (member_string (s, "state"), ==, "broken");
  g_assert_nonnull (strstr (member_string (s, "error"), "run"));
}

static void
test_script_check_good (void)
{
  g_autofree char *path = g_build_filename (scripts_dir, "tagger.lua", NULL);
  g_autofree char *expected = g_strdup_printf ("%s: ok (tagger, on purchase)\n", path);
  g_autofree char *later = g_build_filename (scripts_dir, "later.lua", NULL);
  g_autofree char *later_expected = g_strdup_printf (
      "%s: ok (later, on ticket_closed, message_in, after 14d)\n", later);
  static const char *const relative_args[] = { "script", "check", "scripts/tagger.lua", NULL };
  static const char *const none[] = { NULL };
  g_autoptr (Ctl) text = ctl ("script", "check", path, NULL);
  g_autoptr (Ctl) text_later = ctl ("script", "check", later, NULL);
  /* a path relative to stewardctl's working directory, which the daemon
   * does not share */
  g_autoptr (Ctl) relative = ctl_custom_in (none, NULL, work_dir, relative_args);
  g_autoptr (JsonObject) json = ctl_json_object ("script", "check", path, NULL);

  assert_ok (text);
  g_assert_cmpstr (text->out, ==, expected);
  assert_ok (text_later);
  g_assert_cmpstr (text_later->out, ==, later_expected);
  assert_ok (relative);
  g_assert_cmpstr (relative->out, ==, "scripts/tagger.lua: ok (tagger, on purchase)\n");

  g_assert_cmpstr (member_string (json, "name"), ==, "tagger");
  g_assert_cmpstr (member_string (json, "state"), ==, "ok");
  g_assert_cmpstr (member_string (json, "path"), ==, path);
  g_assert_false (json_object_has_member (json, "error"));
}

static void
test_script_check_broken (void)
{
  g_autofree char *path = g_build_filename (scripts_dir, "broken.lua", NULL);
  g_autofree char *prefix = g_strdup_printf ("%s: broken: ", path);
  g_autofree char *syntax = g_build_filename (work_dir, "syntax.lua", NULL);
  g_autofree char *syntax_prefix = g_strdup_printf ("%s: broken: ", syntax);
  g_autoptr (Ctl) text = NULL;
  g_autoptr (Ctl) json = NULL;
  g_autoptr (Ctl) syntax_text = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object;

  write_file (syntax, "return {\n  name = 'oops',\n");
  text = ctl ("script", "check", path, NULL);
  json = ctl ("--json", "script", "check", path, NULL);
  syntax_text = ctl ("script", "check", syntax, NULL);

  /* the result on stdout, one line, and status 1 */
  g_assert_cmpint (text->status, ==, 1);
  g_assert_cmpstr (text->err, ==, "");
  g_assert_true (g_str_has_prefix (text->out, prefix));
  g_assert_nonnull (strstr (text->out, "run"));
  g_assert_true (strchr (text->out, '\n') == text->out + strlen (text->out) - 1);

  g_assert_cmpint (json->status, ==, 1);
  g_assert_cmpstr (json->err, ==, "");
  node = parse_json_output (json->out);
  object = json_node_get_object (node);
  g_assert_cmpstr (member_string (object, "state"), ==, "broken");
  g_assert_cmpstr (member_string (object, "path"), ==, path);
  g_assert_nonnull (strstr (member_string (object, "error"), "run"));

  g_assert_cmpint (syntax_text->status, ==, 1);
  g_assert_true (g_str_has_prefix (syntax_text->out, syntax_prefix));
  g_assert_true (strchr (syntax_text->out, '\n')
                 == syntax_text->out + strlen (syntax_text->out) - 1);
  g_unlink (syntax);
}

/* A stage the configuration does not have breaks the script at load, in
 * `on` as in a campaign's audience: by `script check` and in the list. */
static void
test_script_check_stages (void)
{
  static const struct {
    const char *name;
    const char *file;
    const char *text;
    const char *needle;
  } cases[] = {
    { "zon", "zon.lua",
      "return { name = 'zon', on = { 'stage:nowhere' },\n"
      "         run = function(c, e) end }\n",
      "on: 'stage:nowhere' names no stage; the stages are: " },
    { "zaudience", "zaudience.lua",
      "return { name = 'zaudience', schedule = '@daily',\n"
      "         audience = { stage = { 'lead', 'nowhere' } },\n"
      "         run = function(c, e) end }\n",
      "audience.stage: 'nowhere' is not a stage; the stages are: " },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_build_filename (scripts_dir, cases[i].file,
                                                NULL);
      g_autofree char *prefix = g_strdup_printf ("%s: broken: %s: ", path,
                                                 path);
      g_autoptr (Ctl) check = NULL;
      g_autoptr (Ctl) reload = NULL;
      g_autoptr (Ctl) again = NULL;
      g_autoptr (JsonArray) listed = NULL;
      JsonObject *script;

      write_file (path, cases[i].text);
      check = ctl ("script", "check", path, NULL);
      g_assert_cmpint (check->status, ==, 1);
      g_assert_true (g_str_has_prefix (check->out, prefix));
      st_test_assert_contains (check->out, cases[i].needle);

      reload = ctl ("script", "reload", NULL);
      assert_ok (reload);
      listed = ctl_json_array ("script", "list", NULL);
      script = script_named (listed, cases[i].name);
      g_assert_cmpstr (member_string (script, "state"), ==, "broken");
      st_test_assert_contains (member_string (script, "error"),
                               cases[i].needle);
      g_unlink (path);
      again = ctl ("script", "reload", NULL);
      assert_ok (again);
    }
}

static void
test_script_check_missing (void)
{
  g_autofree char *path = g_build_filename (work_dir, "no-such-script.lua", NULL);
  g_autoptr (Ctl) missing = ctl ("script", "check", path, NULL);
  g_autoptr (Ctl) missing_json = ctl ("--json", "script", "check", path, NULL);
  g_autoptr (Ctl) no_file = ctl ("script", "check", NULL);
  g_autoptr (Ctl) empty = ctl ("script", "check", "", NULL);
  g_autoptr (Ctl) two = ctl ("script", "check", "a.lua", "b.lua", NULL);
  g_autoptr (Ctl) list_extra = ctl ("script", "list", "all", NULL);

  assert_failure (missing, path);
  assert_failure (missing_json, path);
  assert_usage (no_file, "script check: missing FILE");
  assert_usage (empty, "FILE is empty");
  assert_usage (two, "unexpected argument 'b.lua'");
  assert_usage (list_extra, "unexpected argument 'all'");
}

static void
test_script_reload (void)
{
  g_autofree char *extra = g_build_filename (scripts_dir, "extra.lua", NULL);
  g_autoptr (Ctl) text = NULL;
  g_autoptr (JsonArray) json = NULL;
  g_autoptr (JsonArray) listed = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  g_auto (GStrv) parts = NULL;
  GPtrArray *row;

  /* triggered by an event no case records */
  write_file (extra, "return { name = 'extra', description = 'Added later',\n"
                     "         on = { 'refund' }, delay = 5400,\n"
                     "         run = function(c, e) end }\n");
  text = ctl ("script", "reload", NULL);
  json = ctl_json_array ("script", "reload", NULL);
  listed = ctl_json_array ("script", "list", NULL);

  assert_ok (text);
  g_assert_true (g_str_has_prefix (text->out, "Reloaded 4 scripts (1 broken)\n\n"));
  parts = g_strsplit (text->out, "\n\n", 2);
  rows = parse_table (parts[1], script_headings);
  g_assert_cmpuint (rows->len, ==, 4);
  row = row_named (rows, "extra", parts[1]);
  g_assert_cmpstr (ROW_CELL (row, 1), ==, "ok");
  g_assert_cmpstr (ROW_CELL (row, 2), ==, "refund");
  g_assert_cmpstr (ROW_CELL (row, 3), ==, "1h 30m");
  g_assert_cmpstr (ROW_CELL (row, 4), ==, "Added later");
  row_named (rows, "broken", parts[1]);

  g_assert_cmpuint (json_array_get_length (json), ==, 4);
  g_assert_cmpstr (member_string (script_named (json, "extra"), "state"), ==, "ok");
  g_assert_cmpuint (json_array_get_length (listed), ==, 4);
  script_named (listed, "extra");
}

/* customer show: health -------------------------------------------------- */

static void
test_show_health (void)
{
  g_autoptr (JsonObject) customer = add_customer ("Healthy", NULL);
  g_autoptr (JsonObject) risky = add_customer ("Risk Only", NULL);
  g_autofree char *id = id_text (customer);
  g_autofree char *risky_id = id_text (risky);
  g_autofree char *update = g_strdup_printf (
      "UPDATE customers SET health_score = 72, risk_level = 'low',"
      " health_factors = '{\"recency\": 30.5, \"frequency\": 12.1, \"nps\": 7.5,"
      " \"open_tickets\": 10}', health_updated_at = now() WHERE id = %s RETURNING id",
      id);
  g_autofree char *update_risky = g_strdup_printf (
      "UPDATE customers SET risk_level = 'high' WHERE id = %s RETURNING id", risky_id);
  g_autofree char *done = st_test_db_query (the_daemon->db, update);
  g_autofree char *done_risky = st_test_db_query (the_daemon->db, update_risky);
  g_autoptr (Ctl) text = ctl ("customer", "show", id, NULL);
  g_autoptr (Ctl) risky_text = ctl ("customer", "show", risky_id, NULL);
  g_autoptr (Ctl) plain = ctl ("customer", "show", id, NULL);
  g_autoptr (JsonObject) json = ctl_json_object ("customer", "show", id, NULL);
  g_autofree char *updated = NULL;
  JsonObject *factors;

  g_assert_cmpstr (done, ==, id);
  g_assert_cmpstr (done_risky, ==, risky_id);

  assert_ok (text);
  assert_block_value (text->out, "Health", "72 (low risk)");
  assert_block_value (text->out, "Health factors",
                      "recency 30.5, frequency 12.1, open_tickets 10.0, nps 7.5");
  updated = block_value (text->out, "Health updated");
  g_assert_nonnull (updated);
  g_assert_true (g_str_has_suffix (updated, " UTC (just now)"));
  /* not dumped again under the daemon's names */
  g_assert_null (strstr (text->out, "health_score"));
  g_assert_null (strstr (text->out, "risk_level"));
  g_assert_null (strstr (text->out, "health_factors"));
  g_assert_null (block_value (text->out, "Risk"));
  /* after Last NPS, before Created */
  g_assert_true (strstr (text->out, "Health:") < strstr (text->out, "Created:"));

  /* a risk level without a score stands alone */
  assert_ok (risky_text);
  assert_block_value (risky_text->out, "Risk", "high");
  g_assert_null (block_value (risky_text->out, "Health"));

  g_assert_cmpint (member_int (json, "health_score"), ==, 72);
  g_assert_cmpstr (member_string (json, "risk_level"), ==, "low");
  g_assert_true (g_str_has_suffix (member_string (json, "health_updated_at"), "Z"));
  factors = json_object_get_object_member (json, "health_factors");
  g_assert_nonnull (factors);
  g_assert_cmpfloat (json_object_get_double_member (factors, "recency"), ==, 30.5);
  g_assert_cmpfloat (json_object_get_double_member (factors, "nps"), ==, 7.5);
  g_assert_cmpint (json_object_get_int_member (factors, "open_tickets"), ==, 10);
  g_assert_cmpstr (plain->out, ==, text->out);
}

/* Last: the daemon served every call above without a problem -------------- */

static void
test_daemon_clean (void)
{
  g_autoptr (GSubprocess) process = g_object_ref (the_daemon->process);
  g_autofree char *log = NULL;

  st_test_daemon_stop_process (the_daemon);
  if (!g_file_get_contents (the_daemon->log_path, &log, NULL, NULL))
    log = g_strdup ("");
  if (!g_subprocess_get_if_exited (process) || g_subprocess_get_exit_status (process) != 0)
    g_error ("stewardd did not exit cleanly; its log:\n%s", log);
  if (strstr (log, "Sanitizer") != NULL || strstr (log, "runtime error:") != NULL
      || strstr (log, "CRITICAL") != NULL)
    g_test_fail_printf ("stewardd reported a problem in its log:\n%s", log);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cli/customer/add-every-option-json", test_add_every_option_json);
  g_test_add_func ("/cli/customer/add-text", test_add_text);
  g_test_add_func ("/cli/customer/add-empty-optional-values", test_add_empty_optional_values);
  g_test_add_func ("/cli/customer/add-missing-name", test_add_missing_name);
  g_test_add_func ("/cli/customer/show-by-id-and-ref", test_show_by_id_and_ref);
  g_test_add_func ("/cli/customer/show-not-found", test_show_not_found);
  g_test_add_func ("/cli/customer/show-ref-starting-with-dash", test_show_ref_starting_with_dash);
  g_test_add_func ("/cli/customer/show-ambiguous-number", test_show_ambiguous_number);
  g_test_add_func ("/cli/customer/list-filters-json", test_list_filters_json);
  g_test_add_func ("/cli/customer/list-text", test_list_text);
  g_test_add_func ("/cli/customer/list-limit-hint", test_list_limit_hint);
  g_test_add_func ("/cli/customer/list-empty", test_list_empty);
  g_test_add_func ("/cli/customer/list-refused", test_list_refused);
  g_test_add_func ("/cli/customer/edit", test_edit);
  g_test_add_func ("/cli/customer/edit-text-and-clear", test_edit_text_and_clear);
  g_test_add_func ("/cli/customer/edit-refused", test_edit_refused);
  g_test_add_func ("/cli/customer/stage-legal", test_stage_legal);
  g_test_add_func ("/cli/customer/stage-illegal", test_stage_illegal);
  g_test_add_func ("/cli/event/add-json", test_event_add_json);
  g_test_add_func ("/cli/event/add-idempotent", test_event_add_idempotent);
  g_test_add_func ("/cli/event/add-text", test_event_add_text);
  g_test_add_func ("/cli/event/add-refused", test_event_add_refused);
  g_test_add_func ("/cli/timeline/json", test_timeline_json);
  g_test_add_func ("/cli/timeline/text", test_timeline_text);
  g_test_add_func ("/cli/timeline/not-found", test_timeline_not_found);
  g_test_add_func ("/cli/status/text-and-json", test_status);
  g_test_add_func ("/cli/validation/bad-email", test_validation_bad_email);
  g_test_add_func ("/cli/validation/bad-tz", test_validation_bad_tz);
  g_test_add_func ("/cli/validation/duplicate-email-case", test_validation_duplicate_email);
  g_test_add_func ("/cli/validation/duplicate-ref", test_validation_duplicate_ref);
  g_test_add_func ("/cli/usage/unknown-command", test_usage_unknown_command);
  g_test_add_func ("/cli/usage/arguments", test_usage_arguments);
  g_test_add_func ("/cli/usage/bad-values", test_usage_bad_values);
  g_test_add_func ("/cli/help/every-command", test_help_every_command);
  g_test_add_func ("/cli/help/wins", test_help_wins);
  g_test_add_func ("/cli/global/json-anywhere", test_json_anywhere);
  g_test_add_func ("/cli/global/local-time-zone", test_local_time_zone);
  g_test_add_func ("/cli/global/write-error", test_write_error);
  g_test_add_func ("/cli/global/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/cli/unreachable/no-bus", test_unreachable_no_bus);
  g_test_add_func ("/cli/unreachable/no-owner", test_unreachable_no_owner);
  g_test_add_func ("/cli/unreachable/system-bus", test_unreachable_system_bus);
  g_test_add_func ("/cli/customer/show-health", test_show_health);
  g_test_add_func ("/cli/alert/list-after-purchase", test_alert_list_after_purchase);
  g_test_add_func ("/cli/alert/list-open-and-json", test_alert_list_open_and_json);
  g_test_add_func ("/cli/alert/ack", test_alert_ack);
  g_test_add_func ("/cli/alert/ack-json", test_alert_ack_json);
  g_test_add_func ("/cli/alert/system-alert-truncated", test_alert_system_truncated);
  g_test_add_func ("/cli/alert/usage", test_alert_usage);
  g_test_add_func ("/cli/script/list", test_script_list);
  g_test_add_func ("/cli/script/check-good", test_script_check_good);
  g_test_add_func ("/cli/script/check-broken", test_script_check_broken);
  g_test_add_func ("/cli/script/check-stages", test_script_check_stages);
  g_test_add_func ("/cli/script/check-missing", test_script_check_missing);
  g_test_add_func ("/cli/script/reload", test_script_reload);
  /* its own suite, created last, so that it runs after all the others */
  g_test_add_func ("/cli/zz-daemon/clean-exit", test_daemon_clean);

  {
    g_autofree char *yaml = scripts_setup ();

    the_daemon = st_test_daemon_start (yaml);
  }
  status = g_test_run ();
  st_test_daemon_free (the_daemon);
  st_test_remove_tree (work_dir);
  g_free (scripts_dir);
  g_free (work_dir);
  return status;
}
