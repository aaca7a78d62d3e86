/* The machinery every stewardctl command shares: help and usage errors
 * generated from the command table, option parsing, the one D-Bus call a
 * command makes with its failures said in words a person can act on, and
 * records printed for people or as JSON. */

#include "st-cli.h"

#include <string.h>

#include "st-cli-input.h"
#include "st-cli-output.h"

#define ST_BUS_NAME "org.steward.Steward1"
#define ST_OBJECT_PATH "/org/steward/Steward1"

void
st_ctl_clear (StCtl *ctl)
{
  g_clear_object (&ctl->bus);
  g_clear_pointer (&ctl->local, g_time_zone_unref);
  g_clear_pointer (&ctl->now, g_date_time_unref);
}

static const char *
bus_word (StCtl *ctl)
{
  return ctl->system ? "system" : "session";
}

void
st_cli_out (const char *text)
{
  fputs (text, stdout);
}

/* ---- help and usage ---- */

static char *
command_words (const StCliCommand *command)
{
  if (command->verb == NULL)
    return g_strdup (command->noun);
  return g_strdup_printf ("%s %s", command->noun, command->verb);
}

static void
append_two_columns (GString *text, GPtrArray *left, GPtrArray *right)
{
  gsize width = 0;

  for (guint i = 0; i < left->len; i++)
    width = MAX (width, st_cli_display_width (g_ptr_array_index (left, i)));
  for (guint i = 0; i < left->len; i++)
    {
      const char *l = g_ptr_array_index (left, i);

      g_string_append_printf (text, "  %s", l);
      for (gsize w = st_cli_display_width (l); w < width + 2; w++)
        g_string_append_c (text, ' ');
      g_string_append_printf (text, "%s\n", (const char *) g_ptr_array_index (right, i));
    }
}

static void
append_entries (GString *text, const GOptionEntry *entries)
{
  g_autoptr (GPtrArray) left = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) right = g_ptr_array_new ();

  for (const GOptionEntry *e = entries; e->long_name != NULL; e++)
    {
      GString *l = g_string_new (NULL);

      if (e->short_name != 0)
        g_string_append_printf (l, "-%c, ", e->short_name);
      g_string_append_printf (l, "--%s", e->long_name);
      if (e->arg != G_OPTION_ARG_NONE)
        g_string_append_printf (l, " %s", e->arg_description);
      g_ptr_array_add (left, g_string_free (l, FALSE));
      g_ptr_array_add (right, (gpointer) e->description);
    }
  append_two_columns (text, left, right);
}

static const char global_help[] =
  "Global options (anywhere on the line):\n"
  "  --json      Print the result as JSON on stdout: an object for one thing,\n"
  "              an array for a list\n"
  "  --system    Talk to stewardd on the system bus instead of the session bus\n"
  "  -h, --help  Show help (after a command: help for that command)\n";

/* @prefix, the command's words and its usage, wrapped: "Usage: stewardctl
 * customer add --name NAME [--email E]..." */
static char *
usage_text (const StCliCommand *command, const char *prefix)
{
  g_autofree char *words = command_words (command);
  g_autofree char *head = g_strdup_printf ("%s%s", prefix, words);
  g_autofree char *rest = NULL;
  gsize column = st_cli_display_width (head) + 1;

  if (*command->usage == '\0')
    return g_steal_pointer (&head);
  rest = st_cli_wrap (command->usage, 79, column, column);
  return g_strdup_printf ("%s %s", head, rest);
}

static void
append_commands (GString *text, const StCliCommand *commands, const char *noun)
{
  for (const StCliCommand *c = commands; c->noun != NULL; c++)
    {
      g_autofree char *usage = NULL;
      g_autofree char *summary = NULL;

      if (noun != NULL && !g_str_equal (noun, c->noun))
        continue;
      usage = usage_text (c, "  ");
      summary = st_cli_wrap (c->summary, 79, 6, 6);
      g_string_append_printf (text, "%s\n      %s\n", usage, summary);
    }
}

void
st_cli_print_top_help (FILE *stream, const StCliCommand *commands)
{
  g_autoptr (GString) text = g_string_new (NULL);

  g_string_append (text,
                   "Usage: stewardctl [--json] [--system] COMMAND [ARGUMENTS...]\n"
                   "\n"
                   "Look up and change customers, record what happens to them, and follow\n"
                   "the alerts and care scripts of the stewardd daemon.\n"
                   "\n"
                   "Commands:\n");
  append_commands (text, commands, NULL);
  g_string_append (text, "\n");
  g_string_append (text, global_help);
  g_string_append (text,
                   "\n"
                   "ID|REF is a customer's numeric id or its ref; write id:N or ref:R when\n"
                   "a ref looks like a number. Exit status: 0 ok, 1 failure, 2 usage error.\n");
  fputs (text->str, stream);
}

void
st_cli_print_noun_help (FILE *stream, const StCliCommand *commands, const char *noun)
{
  g_autoptr (GString) text = g_string_new (NULL);

  g_string_append_printf (text, "Usage: stewardctl %s VERB [ARGUMENTS...]\n\nVerbs:\n", noun);
  append_commands (text, commands, noun);
  g_string_append (text, "\n");
  g_string_append (text, global_help);
  fputs (text->str, stream);
}

static void
print_command_help (const StCliCommand *command, const GOptionEntry *entries)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autofree char *usage = usage_text (command, "Usage: stewardctl ");
  g_autofree char *summary = st_cli_wrap (command->summary, 79, 0, 0);

  g_string_append_printf (text, "%s\n\n%s.\n", usage, summary);
  if (entries != NULL && entries[0].long_name != NULL)
    {
      g_string_append (text, "\nOptions:\n");
      append_entries (text, entries);
    }
  g_string_append (text, "\n");
  g_string_append (text, global_help);
  st_cli_out (text->str);
}

int
st_cli_usage_error (const StCliCommand *command, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  if (command == NULL)
    {
      fprintf (stderr, "stewardctl: %s\n", message);
      fprintf (stderr, "Usage: stewardctl [--json] [--system] COMMAND [ARGUMENTS...]\n"
                       "Try 'stewardctl --help' for the list of commands.\n");
    }
  else
    {
      g_autofree char *words = command_words (command);
      g_autofree char *usage = usage_text (command, "Usage: stewardctl ");

      fprintf (stderr, "stewardctl: %s: %s\n", words, message);
      fprintf (stderr, "%s\n", usage);
      fprintf (stderr, "Try 'stewardctl %s --help' for more.\n", words);
    }
  return ST_CLI_EXIT_USAGE;
}

/* ---- command-line parsing ---- */

static gboolean
is_help (const char *arg)
{
  return g_str_equal (arg, "--help") || g_str_equal (arg, "-h");
}

gboolean
st_cli_take_global_flag (StCtl *ctl, const char *arg)
{
  if (g_str_equal (arg, "--json"))
    ctl->json = TRUE;
  else if (g_str_equal (arg, "--system"))
    ctl->system = TRUE;
  else if (is_help (arg))
    ctl->help = TRUE;
  else
    return FALSE;
  return TRUE;
}

int
st_cli_parse_command_line (StCtl *ctl, const StCliCommand *command, const GOptionEntry *entries,
                           GStrv *args, const char *positional)
{
  const GOptionEntry global_entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &ctl->json, NULL, NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &ctl->system, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &ctl->help, NULL, NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_auto (GStrv) names = g_strsplit (positional, " ", -1);
  g_autoptr (GError) error = NULL;
  guint n_names = *positional != '\0' ? g_strv_length (names) : 0;
  guint n_args;

  /* --help wins over any mistake on the same line */
  for (guint i = 1; (*args)[i] != NULL && !g_str_equal ((*args)[i], "--"); i++)
    if (is_help ((*args)[i]))
      ctl->help = TRUE;
  if (ctl->help)
    {
      print_command_help (command, entries);
      return ST_CLI_EXIT_OK;
    }

  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_add_main_entries (context, global_entries, NULL);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse_strv (context, args, &error))
    return st_cli_usage_error (command, "%s", error->message);

  /* GOption stops at "--" but leaves it in place */
  for (guint i = 1; (*args)[i] != NULL; i++)
    if (g_str_equal ((*args)[i], "--"))
      {
        g_free ((*args)[i]);
        memmove (*args + i, *args + i + 1, (g_strv_length (*args + i + 1) + 1) * sizeof (char *));
        break;
      }

  n_args = g_strv_length (*args) - 1;
  if (n_args < n_names)
    {
      g_autofree char *missing = g_strjoinv (" ", names + n_args);

      return st_cli_usage_error (command, "missing %s", missing);
    }
  if (n_args > n_names)
    return st_cli_usage_error (command, "unexpected argument '%s'", (*args)[n_names + 1]);
  return -1;
}

/* ---- talking to stewardd ---- */

static gboolean
is_not_running (const GError *error)
{
  if (error->domain != G_DBUS_ERROR)
    return FALSE;
  switch (error->code)
    {
    case G_DBUS_ERROR_SERVICE_UNKNOWN:
    case G_DBUS_ERROR_NAME_HAS_NO_OWNER:
    case G_DBUS_ERROR_SPAWN_EXEC_FAILED:
    case G_DBUS_ERROR_SPAWN_FORK_FAILED:
    case G_DBUS_ERROR_SPAWN_CHILD_EXITED:
    case G_DBUS_ERROR_SPAWN_CHILD_SIGNALED:
    case G_DBUS_ERROR_SPAWN_FAILED:
    case G_DBUS_ERROR_SPAWN_SETUP_FAILED:
    case G_DBUS_ERROR_SPAWN_CONFIG_INVALID:
    case G_DBUS_ERROR_SPAWN_SERVICE_INVALID:
    case G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND:
    case G_DBUS_ERROR_SPAWN_PERMISSIONS_INVALID:
    case G_DBUS_ERROR_SPAWN_FILE_INVALID:
    case G_DBUS_ERROR_SPAWN_NO_MEMORY:
      return TRUE;
    default:
      return FALSE;
    }
}

static int
report_unreachable (StCtl *ctl, const char *why)
{
  fprintf (stderr,
           "stewardctl: cannot reach stewardd on the %s bus (%s). Is it running? %s\n",
           bus_word (ctl), why,
           ctl->system ? "Start it with: systemctl start stewardd"
                       : "Start it with tools/run");
  return ST_CLI_EXIT_FAILURE;
}

/* Reports a failed call in one line: the daemon's own message without the
 * D-Bus error name, or what went wrong with the bus. */
static int
report_error (StCtl *ctl, GError *error, const char *method)
{
  g_autofree char *message = NULL;

  if (is_not_running (error))
    return report_unreachable (ctl, "no program owns the name " ST_BUS_NAME);
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT))
    {
      fprintf (stderr,
               "stewardctl: the stewardd on the %s bus does not offer %s; "
               "is it older than this stewardctl?\n",
               bus_word (ctl), method);
      return ST_CLI_EXIT_FAILURE;
    }
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      fprintf (stderr, "stewardctl: stewardd did not answer %s in time; it may be "
                       "overloaded or stuck (see its log)\n",
               method);
      return ST_CLI_EXIT_FAILURE;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    return report_unreachable (ctl, "the connection was closed");

  g_dbus_error_strip_remote_error (error);
  message = st_cli_one_line (error->message);
  fprintf (stderr, "stewardctl: %s\n", message);
  return ST_CLI_EXIT_FAILURE;
}

GVariant *
st_cli_call (StCtl *ctl, const char *iface, const char *method, GVariant *parameters,
             const char *reply_type, int *status)
{
  return st_cli_call_object (ctl, ST_OBJECT_PATH, iface, method, parameters, reply_type,
                             status);
}

GVariant *
st_cli_call_object (StCtl *ctl, const char *path, const char *iface, const char *method,
                    GVariant *parameters, const char *reply_type, int *status)
{
  return st_cli_call_object_timeout (ctl, path, iface, method, parameters, reply_type, -1,
                                     status);
}

GVariant *
st_cli_call_object_timeout (StCtl *ctl, const char *path, const char *iface,
                            const char *method, GVariant *parameters,
                            const char *reply_type, int timeout_ms, int *status)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *full_name = g_strdup_printf ("%s.%s", strrchr (iface, '.') + 1, method);
  GVariant *reply;

  if (!st_cli_connect (ctl, status))
    {
      if (parameters != NULL)
        g_variant_unref (g_variant_ref_sink (parameters));
      return NULL;
    }

  reply = g_dbus_connection_call_sync (ctl->bus, ST_BUS_NAME, path, iface, method,
                                       parameters, G_VARIANT_TYPE (reply_type),
                                       G_DBUS_CALL_FLAGS_NONE, timeout_ms, NULL, &error);
  if (reply == NULL)
    *status = report_error (ctl, error, full_name);
  return reply;
}

int
st_cli_report_call_error (StCtl *ctl, GError *error, const char *method)
{
  return report_error (ctl, error, method);
}

gboolean
st_cli_connect (StCtl *ctl, int *status)
{
  g_autoptr (GError) error = NULL;

  if (ctl->bus != NULL)
    return TRUE;
  ctl->bus = g_bus_get_sync (ctl->system ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, NULL,
                             &error);
  if (ctl->bus == NULL)
    {
      g_autofree char *reason = st_cli_one_line (error->message);
      g_autofree char *why = g_strdup_printf ("no %s bus: %s", bus_word (ctl), reason);

      *status = report_unreachable (ctl, why);
      return FALSE;
    }
  return TRUE;
}

/* ---- printing replies ---- */

char *
st_cli_local_time (StCtl *ctl, const char *iso)
{
  return st_cli_format_local (iso, ctl->local);
}

/* "2026-11-20 10:00:00 CET (4 days ago)" */
static char *
time_with_age (StCtl *ctl, const char *iso)
{
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr (GDateTime) time = st_cli_parse_time (iso, utc, NULL);
  g_autofree char *shown = st_cli_local_time (ctl, iso);
  g_autofree char *age = NULL;

  if (time == NULL)
    return g_steal_pointer (&shown);
  age = st_cli_format_age (time, ctl->now);
  return g_strdup_printf ("%s (%s)", shown, age);
}

static gboolean
has_member (GVariant *record, const char *key)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (record, key, NULL);

  return value != NULL;
}

/* "72 (low risk)": the score, and the risk level when the record has one */
static char *
health_text (GVariant *record, GVariant *score)
{
  g_autofree char *text = st_cli_variant_to_text (score);
  g_autofree char *risk = st_cli_lookup_text (record, "risk_level");

  if (risk == NULL || *risk == '\0')
    return g_steal_pointer (&text);
  return g_strdup_printf ("%s (%s risk)", text, risk);
}

/* @value, a field of @record, as one field shows it; NULL when there is
 * nothing to show. */
static char *
field_text (StCtl *ctl, GVariant *record, GVariant *value, StCliFieldKind kind)
{
  g_autofree char *text = NULL;

  if (kind == ST_CLI_FIELD_TIME && g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    text = time_with_age (ctl, g_variant_get_string (value, NULL));
  else if (kind == ST_CLI_FIELD_AMOUNT && g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    text = st_cli_format_amount (g_variant_get_double (value));
  else if (kind == ST_CLI_FIELD_DURATION && g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    text = st_cli_format_duration (g_variant_get_int64 (value));
  else if (kind == ST_CLI_FIELD_HEALTH)
    text = health_text (record, value);
  else if (kind == ST_CLI_FIELD_RISK && has_member (record, "health_score"))
    return NULL;
  else if (kind == ST_CLI_FIELD_FACTORS)
    text = st_cli_format_factors (value);
  else
    {
      g_autofree char *raw = st_cli_variant_to_text (value);

      text = st_cli_one_line (raw);
    }
  return *text != '\0' ? g_steal_pointer (&text) : NULL;
}

static gboolean
is_known_field (const StCliField *fields, const char *key)
{
  for (const StCliField *f = fields; f->key != NULL; f++)
    if (g_str_equal (f->key, key))
      return TRUE;
  return FALSE;
}

void
st_cli_print_record (StCtl *ctl, GVariant *record, const StCliField *fields)
{
  g_autoptr (StCliBlock) block = st_cli_block_new ();
  g_autofree char *text = NULL;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  for (const StCliField *f = fields; f->key != NULL; f++)
    {
      g_autoptr (GVariant) v = g_variant_lookup_value (record, f->key, NULL);

      if (v != NULL)
        st_cli_block_take (block, f->label, field_text (ctl, record, v, f->kind));
    }

  g_variant_iter_init (&iter, record);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      StCliFieldKind kind =
        g_str_has_suffix (key, "_at") ? ST_CLI_FIELD_TIME : ST_CLI_FIELD_TEXT;

      if (!is_known_field (fields, key))
        st_cli_block_take (block, key, field_text (ctl, record, value, kind));
      g_variant_unref (value);
    }

  text = st_cli_block_render (block);
  st_cli_out (text);
}

void
st_cli_print_json (GVariant *value)
{
  g_autofree char *text = st_json_variant_to_string (value, TRUE);

  st_cli_out (text);
  st_cli_out ("\n");
}

char *
st_cli_lookup_text (GVariant *record, const char *key)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (record, key, NULL);

  return value != NULL ? st_cli_variant_to_text (value) : NULL;
}

char *
st_cli_lookup_text_or (GVariant *record, const char *key, const char *fallback)
{
  char *text = st_cli_lookup_text (record, key);

  return text != NULL ? text : g_strdup (fallback);
}

int
st_cli_take_limit (const StCliCommand *command, const char *text,
                   GVariantDict *dict, guint32 *limit)
{
  g_autoptr (GError) error = NULL;

  if (text == NULL)
    return -1;
  if (!st_cli_parse_count (text, limit, &error))
    return st_cli_usage_error (command, "--limit: %s", error->message);
  g_variant_dict_insert (dict, "limit", "u", *limit);
  return -1;
}

void
st_cli_filter_add (GVariantDict *filter, const char *key, const char *value)
{
  if (value != NULL)
    g_variant_dict_insert (filter, key, "s", value);
}

GVariant *
st_cli_list_call (StCtl *ctl, const char *iface, const char *method,
                  GVariantDict *filter, int *status)
{
  g_autoptr (GVariant) reply = st_cli_call (
      ctl, iface, method, g_variant_new ("(@a{sv})", g_variant_dict_end (filter)),
      "(aa{sv})", status);
  g_autoptr (GVariant) list = NULL;

  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(@aa{sv})", &list);
  if (!ctl->json)
    return g_steal_pointer (&list);
  st_cli_print_json (list);
  *status = ST_CLI_EXIT_OK;
  return NULL;
}

int
st_cli_list_print (StCliTable *table, guint limit, const char *empty)
{
  g_autofree char *text = NULL;

  if (st_cli_table_get_n_rows (table) == 0)
    {
      st_cli_out (empty);
      return ST_CLI_EXIT_OK;
    }
  text = st_cli_table_render (table);
  st_cli_out (text);
  if (st_cli_table_get_n_rows (table) == limit)
    fprintf (stderr, "(the first %u shown; use --limit for more)\n", limit);
  return ST_CLI_EXIT_OK;
}
