/* stewardctl: the command-line client of stewardd. It speaks D-Bus only:
 * each command reads its options, makes one call (two for `customer stage`,
 * which first reads the stage it moves from) and prints the reply for
 * people or, with --json, as JSON. Exit status: 0 ok, 1 failure, 2 usage. */

#include <errno.h>
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>

#include "st-cli-output.h"
#include "st-error.h"

#define ST_BUS_NAME "org.steward.Steward1"
#define ST_OBJECT_PATH "/org/steward/Steward1"
#define ST_CUSTOMERS_IFACE "org.steward.Steward1.Customers"
#define ST_MANAGER_IFACE "org.steward.Steward1.Manager"

/* Find's default page size, from the D-Bus API. */
#define ST_FIND_DEFAULT_LIMIT 100

enum
{
  ST_EXIT_OK = 0,
  ST_EXIT_FAILURE = 1,
  ST_EXIT_USAGE = 2,
};

typedef struct
{
  gboolean json;
  gboolean system;
  gboolean help;
  GDBusConnection *bus;
  GTimeZone *local;
  GDateTime *now;
} StCtl;

typedef struct _StCommand StCommand;
/* @args: "stewardctl" then the words after the command's; the command
 * parses its options out of it. */
typedef int (*StCommandFunc) (StCtl *ctl, const StCommand *command, GStrv *args);

struct _StCommand
{
  const char *noun;
  const char *verb; /* NULL when the noun alone is the command */
  const char *usage;
  const char *summary;
  StCommandFunc run;
};

static const StCommand *find_command (const char *noun, const char *verb);

static void
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

static void
out (const char *text)
{
  fputs (text, stdout);
}

/* ---- help and usage ---- */

static char *
command_words (const StCommand *command)
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
usage_text (const StCommand *command, const char *prefix)
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
append_commands (GString *text, const char *noun)
{
  for (const StCommand *c = find_command (NULL, NULL); c->noun != NULL; c++)
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

static void
print_top_help (FILE *stream)
{
  g_autoptr (GString) text = g_string_new (NULL);

  g_string_append (text,
                   "Usage: stewardctl [--json] [--system] COMMAND [ARGUMENTS...]\n"
                   "\n"
                   "Look up and change customers and record what happens to them, through\n"
                   "the stewardd daemon.\n"
                   "\n"
                   "Commands:\n");
  append_commands (text, NULL);
  g_string_append (text, "\n");
  g_string_append (text, global_help);
  g_string_append (text,
                   "\n"
                   "ID|REF is a customer's numeric id or its ref; write id:N or ref:R when\n"
                   "a ref looks like a number. Exit status: 0 ok, 1 failure, 2 usage error.\n");
  fputs (text->str, stream);
}

static void
print_noun_help (FILE *stream, const char *noun)
{
  g_autoptr (GString) text = g_string_new (NULL);

  g_string_append_printf (text, "Usage: stewardctl %s VERB [ARGUMENTS...]\n\nVerbs:\n", noun);
  append_commands (text, noun);
  g_string_append (text, "\n");
  g_string_append (text, global_help);
  fputs (text->str, stream);
}

static void
print_command_help (const StCommand *command, const GOptionEntry *entries)
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
  out (text->str);
}

/* Reports a usage error of @command (NULL: of the command line as a whole)
 * and returns the usage exit status. */
G_GNUC_PRINTF (2, 3)
static int
usage_error (const StCommand *command, const char *format, ...)
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
  return ST_EXIT_USAGE;
}

/* ---- command-line parsing ---- */

static gboolean
is_help (const char *arg)
{
  return g_str_equal (arg, "--help") || g_str_equal (arg, "-h");
}

/* Takes a global flag given before the command words. */
static gboolean
take_global_flag (StCtl *ctl, const char *arg)
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

/* Parses @args (its first element names the program) against @entries and
 * the global options, leaving the positional arguments in @args[1..], and
 * checks that there are as many as @positional names ("ID|REF STAGE").
 * Returns -1 to go on, else the exit status (help printed, or usage error
 * reported). */
static int
parse_command_line (StCtl *ctl, const StCommand *command, const GOptionEntry *entries,
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
      return ST_EXIT_OK;
    }

  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_add_main_entries (context, global_entries, NULL);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse_strv (context, args, &error))
    return usage_error (command, "%s", error->message);

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

      return usage_error (command, "missing %s", missing);
    }
  if (n_args > n_names)
    return usage_error (command, "unexpected argument '%s'", (*args)[n_names + 1]);
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
  return ST_EXIT_FAILURE;
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
      return ST_EXIT_FAILURE;
    }
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      fprintf (stderr, "stewardctl: stewardd did not answer %s in time; it may be "
                       "overloaded or stuck (see its log)\n",
               method);
      return ST_EXIT_FAILURE;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    return report_unreachable (ctl, "the connection was closed");

  g_dbus_error_strip_remote_error (error);
  message = st_cli_one_line (error->message);
  fprintf (stderr, "stewardctl: %s\n", message);
  return ST_EXIT_FAILURE;
}

/* Calls @method of @iface; on failure reports it and returns NULL with
 * *status set to the exit status. */
static GVariant *
call (StCtl *ctl, const char *iface, const char *method, GVariant *parameters,
      const char *reply_type, int *status)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *full_name = g_strdup_printf ("%s.%s", strrchr (iface, '.') + 1, method);
  GVariant *reply;

  if (ctl->bus == NULL)
    {
      ctl->bus = g_bus_get_sync (ctl->system ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, NULL,
                                 &error);
      if (ctl->bus == NULL)
        {
          g_autofree char *reason = st_cli_one_line (error->message);
          g_autofree char *why = g_strdup_printf ("no %s bus: %s", bus_word (ctl), reason);

          if (parameters != NULL)
            g_variant_unref (g_variant_ref_sink (parameters));
          *status = report_unreachable (ctl, why);
          return NULL;
        }
    }

  reply = g_dbus_connection_call_sync (ctl->bus, ST_BUS_NAME, ST_OBJECT_PATH, iface, method,
                                       parameters, G_VARIANT_TYPE (reply_type),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  if (reply == NULL)
    *status = report_error (ctl, error, full_name);
  return reply;
}

/* ---- output ---- */

typedef enum
{
  ST_FIELD_TEXT,
  ST_FIELD_TIME,     /* local time and how long ago */
  ST_FIELD_AMOUNT,   /* money: two decimals */
  ST_FIELD_DURATION, /* seconds as "3h 12m" */
} StFieldKind;

typedef struct
{
  const char *key;
  const char *label;
  StFieldKind kind;
} StField;

static const StField customer_fields[] = {
  { "id", "ID", ST_FIELD_TEXT },
  { "ref", "Ref", ST_FIELD_TEXT },
  { "name", "Name", ST_FIELD_TEXT },
  { "email", "Email", ST_FIELD_TEXT },
  { "phone", "Phone", ST_FIELD_TEXT },
  { "stage", "Stage", ST_FIELD_TEXT },
  { "stage_since", "Stage since", ST_FIELD_TIME },
  { "owner", "Owner", ST_FIELD_TEXT },
  { "locale", "Locale", ST_FIELD_TEXT },
  { "tz", "Time zone", ST_FIELD_TEXT },
  { "tags", "Tags", ST_FIELD_TEXT },
  { "attrs", "Attributes", ST_FIELD_TEXT },
  { "purchase_count", "Purchases", ST_FIELD_TEXT },
  { "revenue", "Revenue", ST_FIELD_AMOUNT },
  { "first_purchase_at", "First purchase", ST_FIELD_TIME },
  { "last_purchase_at", "Last purchase", ST_FIELD_TIME },
  { "event_count", "Events", ST_FIELD_TEXT },
  { "last_event_at", "Last event", ST_FIELD_TIME },
  { "last_contact_at", "Last contact", ST_FIELD_TIME },
  { "open_tickets", "Open tickets", ST_FIELD_TEXT },
  { "last_nps", "Last NPS", ST_FIELD_TEXT },
  { "created_at", "Created", ST_FIELD_TIME },
  { "updated_at", "Updated", ST_FIELD_TIME },
  { NULL },
};

static const StField status_fields[] = {
  { "version", "Version", ST_FIELD_TEXT },
  { "schema_version", "Schema version", ST_FIELD_TEXT },
  { "database", "Database", ST_FIELD_TEXT },
  { "database_error", "Database error", ST_FIELD_TEXT },
  { "bus", "Bus", ST_FIELD_TEXT },
  { "workers", "Workers", ST_FIELD_TEXT },
  { "customers", "Customers", ST_FIELD_TEXT },
  { "events", "Events", ST_FIELD_TEXT },
  { "started_at", "Started", ST_FIELD_TIME },
  { "uptime_seconds", "Uptime", ST_FIELD_DURATION },
  { "config", "Config", ST_FIELD_TEXT },
  { NULL },
};

static char *
local_time (StCtl *ctl, const char *iso)
{
  return st_cli_format_local (iso, ctl->local);
}

/* "2026-11-20 10:00:00 CET (4 days ago)" */
static char *
time_with_age (StCtl *ctl, const char *iso)
{
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr (GDateTime) time = st_cli_parse_time (iso, utc, NULL);
  g_autofree char *shown = local_time (ctl, iso);
  g_autofree char *age = NULL;

  if (time == NULL)
    return g_steal_pointer (&shown);
  age = st_cli_format_age (time, ctl->now);
  return g_strdup_printf ("%s (%s)", shown, age);
}

/* @value as one field shows it; NULL when there is nothing to show. */
static char *
field_text (StCtl *ctl, GVariant *value, StFieldKind kind)
{
  g_autofree char *text = NULL;

  if (kind == ST_FIELD_TIME && g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    text = time_with_age (ctl, g_variant_get_string (value, NULL));
  else if (kind == ST_FIELD_AMOUNT && g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    text = st_cli_format_amount (g_variant_get_double (value));
  else if (kind == ST_FIELD_DURATION && g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    text = st_cli_format_duration (g_variant_get_int64 (value));
  else
    {
      g_autofree char *raw = st_cli_variant_to_text (value);

      text = st_cli_one_line (raw);
    }
  return *text != '\0' ? g_steal_pointer (&text) : NULL;
}

static gboolean
is_known_field (const StField *fields, const char *key)
{
  for (const StField *f = fields; f->key != NULL; f++)
    if (g_str_equal (f->key, key))
      return TRUE;
  return FALSE;
}

/* The record as a key: value block, @fields in their order, then any field
 * a newer daemon sends under its own name. */
static void
print_record (StCtl *ctl, GVariant *record, const StField *fields)
{
  g_autoptr (StCliBlock) block = st_cli_block_new ();
  g_autofree char *text = NULL;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  for (const StField *f = fields; f->key != NULL; f++)
    {
      g_autoptr (GVariant) v = g_variant_lookup_value (record, f->key, NULL);

      if (v != NULL)
        st_cli_block_take (block, f->label, field_text (ctl, v, f->kind));
    }

  g_variant_iter_init (&iter, record);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      StFieldKind kind = g_str_has_suffix (key, "_at") ? ST_FIELD_TIME : ST_FIELD_TEXT;

      if (!is_known_field (fields, key))
        st_cli_block_take (block, key, field_text (ctl, value, kind));
      g_variant_unref (value);
    }

  text = st_cli_block_render (block);
  out (text);
}

static void
print_json (GVariant *value)
{
  g_autofree char *text = st_cli_variant_to_json_string (value, TRUE);

  out (text);
  out ("\n");
}

static char *
lookup_text (GVariant *record, const char *key)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (record, key, NULL);

  return value != NULL ? st_cli_variant_to_text (value) : NULL;
}

/* The text of @key in @record, or @fallback when it has none. */
static char *
lookup_text_or (GVariant *record, const char *key, const char *fallback)
{
  char *text = lookup_text (record, key);

  return text != NULL ? text : g_strdup (fallback);
}

/* A customer after a change: one line saying what happened, then the record;
 * with --json only the record. */
static void
print_changed_customer (StCtl *ctl, GVariant *record, const char *headline)
{
  if (ctl->json)
    {
      print_json (record);
      return;
    }
  out (headline);
  out ("\n\n");
  print_record (ctl, record, customer_fields);
}

/* ---- customer fields (add, edit) ---- */

typedef struct
{
  char *name, *email, *phone, *ref, *owner, *locale, *tz;
  char **tags, **untags, **attrs;
} StFieldOptions;

static void
st_field_options_clear (StFieldOptions *o)
{
  g_free (o->name);
  g_free (o->email);
  g_free (o->phone);
  g_free (o->ref);
  g_free (o->owner);
  g_free (o->locale);
  g_free (o->tz);
  g_strfreev (o->tags);
  g_strfreev (o->untags);
  g_strfreev (o->attrs);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (StFieldOptions, st_field_options_clear)

/* The options of `customer add`, and for @edit those of `customer edit`. */
static GArray *
field_entries (StFieldOptions *o, gboolean edit)
{
  GArray *entries = g_array_new (TRUE, TRUE, sizeof (GOptionEntry));
  const GOptionEntry common[] = {
    { "name", 0, 0, G_OPTION_ARG_FILENAME, &o->name,
      edit ? "New name" : "Name of the person or account (required)", "NAME" },
    { "email", 0, 0, G_OPTION_ARG_FILENAME, &o->email, "E-mail address", "E" },
    { "phone", 0, 0, G_OPTION_ARG_FILENAME, &o->phone, "Phone number", "P" },
    { "ref", 0, 0, G_OPTION_ARG_FILENAME, &o->ref,
      "External reference, unique (e.g. the billing system's id)", "REF" },
    { "owner", 0, 0, G_OPTION_ARG_FILENAME, &o->owner, "Account manager", "USER" },
    { "locale", 0, 0, G_OPTION_ARG_FILENAME, &o->locale, "Language, e.g. fr or en-GB", "fr" },
    { "tz", 0, 0, G_OPTION_ARG_FILENAME, &o->tz, "Time zone, e.g. Europe/Paris",
      "Europe/Paris" },
    { "tag", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->tags,
      edit ? "Add a tag (repeatable)" : "Tag (repeatable)", "T" },
    { "attr", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->attrs,
      edit ? "Set an attribute; k= (empty) removes it (repeatable)"
           : "Attribute, a string (repeatable)",
      "k=v" },
  };
  const GOptionEntry untag = { "untag", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->untags,
                               "Remove a tag (repeatable)", "T" };

  g_array_append_vals (entries, common, G_N_ELEMENTS (common));
  if (edit)
    g_array_append_val (entries, untag);
  return entries;
}

/* Puts the given fields in @dict. Create leaves empty optional values out;
 * Update sends them, since there an empty string clears the field. Returns FALSE
 * after reporting a usage error. */
static gboolean
build_fields (const StCommand *command, StFieldOptions *o, gboolean edit, GVariantDict *dict)
{
  const struct
  {
    const char *key;
    const char *value;
  } strings[] = {
    { "name", o->name },     { "email", o->email },   { "phone", o->phone }, { "ref", o->ref },
    { "owner", o->owner },   { "locale", o->locale }, { "tz", o->tz },
  };

  /* name is never left out, so that an empty one meets the daemon's check */
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    if (strings[i].value != NULL && (edit || i == 0 || *strings[i].value != '\0'))
      g_variant_dict_insert (dict, strings[i].key, "s", strings[i].value);

  if (o->tags != NULL)
    g_variant_dict_insert_value (dict, edit ? "add_tags" : "tags",
                                 g_variant_new_strv ((const char *const *) o->tags, -1));
  if (o->untags != NULL)
    g_variant_dict_insert_value (dict, "remove_tags",
                                 g_variant_new_strv ((const char *const *) o->untags, -1));
  if (o->attrs != NULL)
    {
      g_auto (GVariantDict) attrs = G_VARIANT_DICT_INIT (NULL);
      g_autoptr (GVariant) value = NULL;

      for (guint i = 0; o->attrs[i] != NULL; i++)
        {
          g_autoptr (GError) error = NULL;
          g_autofree char *k = NULL;
          g_autofree char *v = NULL;

          if (!st_cli_parse_kv (o->attrs[i], &k, &v, &error))
            {
              usage_error (command, "--attr: %s", error->message);
              return FALSE;
            }
          /* the last one wins; Create leaves empty ones out */
          if (edit || *v != '\0')
            g_variant_dict_insert (&attrs, k, "s", v);
          else
            g_variant_dict_remove (&attrs, k);
        }
      value = g_variant_ref_sink (g_variant_dict_end (&attrs));
      if (g_variant_n_children (value) > 0)
        g_variant_dict_insert_value (dict, "attrs", value);
    }
  return TRUE;
}

/* ---- commands ---- */

static int
cmd_customer_add (StCtl *ctl, const StCommand *command, GStrv *args)
{
  g_auto (StFieldOptions) o = { 0 };
  g_autoptr (GArray) entries = field_entries (&o, FALSE);
  g_auto (GVariantDict) fields = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) record = NULL;
  g_autofree char *id = NULL;
  g_autofree char *headline = NULL;
  int status;

  status = parse_command_line (ctl, command, (GOptionEntry *) entries->data, args, "");
  if (status >= 0)
    return status;
  if (o.name == NULL)
    return usage_error (command, "--name is required");
  if (!build_fields (command, &o, FALSE, &fields))
    return ST_EXIT_USAGE;

  reply = call (ctl, ST_CUSTOMERS_IFACE, "Create",
                g_variant_new ("(@a{sv})", g_variant_dict_end (&fields)), "(a{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &record);
  id = lookup_text_or (record, "id", "?");
  headline = g_strdup_printf ("Created customer %s", id);
  print_changed_customer (ctl, record, headline);
  return ST_EXIT_OK;
}

static int
cmd_customer_show (StCtl *ctl, const StCommand *command, GStrv *args)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) record = NULL;
  int status;

  status = parse_command_line (ctl, command, NULL, args, "ID|REF");
  if (status >= 0)
    return status;

  reply = call (ctl, ST_CUSTOMERS_IFACE, "Get", g_variant_new ("(s)", (*args)[1]), "(a{sv})",
                &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &record);
  if (ctl->json)
    print_json (record);
  else
    print_record (ctl, record, customer_fields);
  return ST_EXIT_OK;
}

static int
cmd_customer_list (StCtl *ctl, const StCommand *command, GStrv *args)
{
  g_autofree char *stage = NULL, *owner = NULL, *tag = NULL, *limit_text = NULL;
  const GOptionEntry entries[] = {
    { "stage", 0, 0, G_OPTION_ARG_FILENAME, &stage, "Only customers in this stage", "S" },
    { "owner", 0, 0, G_OPTION_ARG_FILENAME, &owner, "Only customers of this account manager",
      "U" },
    { "tag", 0, 0, G_OPTION_ARG_FILENAME, &tag, "Only customers with this tag", "T" },
    { "limit", 0, 0, G_OPTION_ARG_FILENAME, &limit_text, "At most N customers (default 100)",
      "N" },
    { NULL },
  };
  g_auto (GVariantDict) filter = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) customers = NULL;
  g_autoptr (StCliTable) table = NULL;
  g_autofree char *text = NULL;
  guint32 limit = ST_FIND_DEFAULT_LIMIT;
  GVariantIter iter;
  GVariant *record;
  int status;

  status = parse_command_line (ctl, command, entries, args, "");
  if (status >= 0)
    return status;
  if (limit_text != NULL)
    {
      g_autoptr (GError) error = NULL;

      if (!st_cli_parse_count (limit_text, &limit, &error))
        return usage_error (command, "--limit: %s", error->message);
      g_variant_dict_insert (&filter, "limit", "u", limit);
    }
  if (stage != NULL)
    g_variant_dict_insert (&filter, "stage", "s", stage);
  if (owner != NULL)
    g_variant_dict_insert (&filter, "owner", "s", owner);
  if (tag != NULL)
    g_variant_dict_insert (&filter, "tag", "s", tag);

  reply = call (ctl, ST_CUSTOMERS_IFACE, "Find",
                g_variant_new ("(@a{sv})", g_variant_dict_end (&filter)), "(aa{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@aa{sv})", &customers);
  if (ctl->json)
    {
      print_json (customers);
      return ST_EXIT_OK;
    }

  table = st_cli_table_new ((const char *[]){ "ID", "REF", "NAME", "EMAIL", "STAGE", "OWNER",
                                              NULL });
  g_variant_iter_init (&iter, customers);
  while ((record = g_variant_iter_next_value (&iter)) != NULL)
    {
      static const char *const keys[] = { "id", "ref", "name", "email", "stage", "owner" };
      char *cells[G_N_ELEMENTS (keys)];

      for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
        cells[i] = lookup_text (record, keys[i]);
      st_cli_table_add_row (table, (const char *const *) cells);
      for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
        g_free (cells[i]);
      g_variant_unref (record);
    }
  if (st_cli_table_get_n_rows (table) == 0)
    {
      out ("No customers match.\n");
      return ST_EXIT_OK;
    }
  text = st_cli_table_render (table);
  out (text);
  if (st_cli_table_get_n_rows (table) == limit)
    fprintf (stderr, "(the first %u shown; use --limit for more)\n", limit);
  return ST_EXIT_OK;
}

static int
cmd_customer_edit (StCtl *ctl, const StCommand *command, GStrv *args)
{
  g_auto (StFieldOptions) o = { 0 };
  g_autoptr (GArray) entries = field_entries (&o, TRUE);
  g_auto (GVariantDict) fields = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GVariant) field_values = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) record = NULL;
  g_autofree char *id = NULL;
  g_autofree char *headline = NULL;
  int status;

  status = parse_command_line (ctl, command, (GOptionEntry *) entries->data, args, "ID|REF");
  if (status >= 0)
    return status;
  if (!build_fields (command, &o, TRUE, &fields))
    return ST_EXIT_USAGE;
  field_values = g_variant_ref_sink (g_variant_dict_end (&fields));
  if (g_variant_n_children (field_values) == 0)
    return usage_error (command, "nothing to change; give at least one of --name, --email, "
                                 "--phone, --ref, --owner, --locale, --tz, --tag, --untag, "
                                 "--attr");

  reply = call (ctl, ST_CUSTOMERS_IFACE, "Update",
                g_variant_new ("(s@a{sv})", (*args)[1], field_values), "(a{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &record);
  id = lookup_text_or (record, "id", (*args)[1]);
  headline = g_strdup_printf ("Updated customer %s", id);
  print_changed_customer (ctl, record, headline);
  return ST_EXIT_OK;
}

static int
cmd_customer_stage (StCtl *ctl, const StCommand *command, GStrv *args)
{
  g_autofree char *reason = NULL;
  const GOptionEntry entries[] = {
    { "reason", 0, 0, G_OPTION_ARG_FILENAME, &reason, "Why, kept in the customer's timeline",
      "TEXT" },
    { NULL },
  };
  g_autoptr (GVariant) before = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) record = NULL;
  g_autofree char *from = NULL;
  g_autofree char *to = NULL;
  g_autofree char *id = NULL;
  g_autofree char *headline = NULL;
  int status;

  status = parse_command_line (ctl, command, entries, args, "ID|REF STAGE");
  if (status >= 0)
    return status;

  /* Only for the message: SetStage replies with the customer as it is now. */
  if (!ctl->json)
    {
      before = call (ctl, ST_CUSTOMERS_IFACE, "Get", g_variant_new ("(s)", (*args)[1]),
                     "(a{sv})", &status);
      if (before == NULL)
        return status;
      g_variant_get (before, "(@a{sv})", &record);
      from = lookup_text (record, "stage");
      g_clear_pointer (&record, g_variant_unref);
    }

  reply = call (ctl, ST_CUSTOMERS_IFACE, "SetStage",
                g_variant_new ("(sss)", (*args)[1], (*args)[2], reason != NULL ? reason : ""),
                "(a{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &record);
  id = lookup_text_or (record, "id", (*args)[1]);
  to = lookup_text_or (record, "stage", (*args)[2]);
  if (from == NULL || g_str_equal (from, to))
    headline = g_strdup_printf ("Customer %s is in %s", id, to);
  else
    headline = g_strdup_printf ("Customer %s moved from %s to %s", id, from, to);
  print_changed_customer (ctl, record, headline);
  return ST_EXIT_OK;
}

static int
cmd_event_add (StCtl *ctl, const StCommand *command, GStrv *args)
{
  g_autofree char *amount_text = NULL, *at = NULL, *key = NULL;
  g_auto (GStrv) data = NULL;
  const GOptionEntry entries[] = {
    { "amount", 0, 0, G_OPTION_ARG_FILENAME, &amount_text,
      "Amount, e.g. 12.50 or -3 (a purchase's value, a refund)", "X" },
    { "at", 0, 0, G_OPTION_ARG_FILENAME, &at,
      "When it happened (default now): 2024-05-01, 2024-05-01T14:30 (local time), "
      "2024-05-01T14:30:00Z or with an offset like +02:00",
      "ISO-8601" },
    { "key", 0, 0, G_OPTION_ARG_FILENAME, &key,
      "Idempotency key: an event with the same key for this customer is recorded once",
      "KEY" },
    { "data", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &data,
      "Payload field (repeatable); 42 is an integer, 4.5 a decimal, true/false a "
      "boolean, anything else text",
      "k=v" },
    { NULL },
  };
  g_auto (GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) event = NULL;
  g_autofree char *event_id = NULL;
  g_autofree char *customer_id = NULL;
  const char *kind;
  gboolean duplicate = FALSE;
  int status;

  status = parse_command_line (ctl, command, entries, args, "ID|REF KIND");
  if (status >= 0)
    return status;
  kind = (*args)[2];

  if (at != NULL)
    {
      g_autoptr (GDateTime) time = st_cli_parse_time (at, ctl->local, &error);
      g_autofree char *utc = NULL;

      if (time == NULL)
        return usage_error (command, "--at: %s", error->message);
      utc = st_cli_format_utc (time);
      g_variant_dict_insert (&options, "at", "s", utc);
    }
  if (amount_text != NULL)
    {
      double amount;

      if (!st_cli_parse_amount (amount_text, &amount, &error))
        return usage_error (command, "--amount: %s", error->message);
      g_variant_dict_insert (&options, "amount", "d", amount);
    }
  if (key != NULL)
    g_variant_dict_insert (&options, "key", "s", key);
  if (data != NULL)
    {
      g_auto (GVariantBuilder) payload = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

      for (guint i = 0; data[i] != NULL; i++)
        {
          g_autofree char *k = NULL;
          g_autofree char *v = NULL;

          if (!st_cli_parse_kv (data[i], &k, &v, &error))
            return usage_error (command, "--data: %s", error->message);
          g_variant_builder_add (&payload, "{sv}", k, st_cli_coerce_value (v));
        }
      g_variant_dict_insert_value (&options, "data", g_variant_builder_end (&payload));
    }

  reply = call (ctl, ST_CUSTOMERS_IFACE, "RecordEvent",
                g_variant_new ("(ss@a{sv})", (*args)[1], kind, g_variant_dict_end (&options)),
                "(a{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &event);
  if (ctl->json)
    {
      print_json (event);
      return ST_EXIT_OK;
    }

  event_id = lookup_text_or (event, "id", "?");
  customer_id = lookup_text_or (event, "customer_id", (*args)[1]);
  g_variant_lookup (event, "duplicate", "b", &duplicate);
  if (duplicate)
    {
      g_autofree char *event_key = lookup_text_or (event, "key", key != NULL ? key : "?");

      printf ("Already recorded: event %s (key %s)\n", event_id, event_key);
    }
  else
    printf ("Recorded %s event %s for customer %s\n", kind, event_id, customer_id);
  return ST_EXIT_OK;
}

/* WHAT and DETAIL of one timeline entry. */
static void
describe_entry (GVariant *entry, char **what, char **detail)
{
  g_autofree char *type = lookup_text (entry, "type");
  g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);

  if (g_strcmp0 (type, "stage") == 0)
    {
      g_autofree char *from = lookup_text (entry, "from");
      g_autofree char *to = lookup_text (entry, "to");
      g_autofree char *actor = lookup_text (entry, "actor");
      g_autofree char *reason = lookup_text (entry, "reason");
      GString *text = g_string_new (NULL);

      if (from == NULL || *from == '\0')
        g_string_append_printf (text, "entered %s", to != NULL ? to : "?");
      else
        g_string_append_printf (text, "%s -> %s", from, to != NULL ? to : "?");
      if (actor != NULL && *actor != '\0')
        g_string_append_printf (text, " by %s", actor);
      if (reason != NULL && *reason != '\0')
        g_string_append_printf (text, ": %s", reason);
      *what = g_strdup ("stage");
      *detail = g_string_free (text, FALSE);
      return;
    }

  if (g_strcmp0 (type, "event") == 0)
    {
      g_autoptr (GVariant) amount = g_variant_lookup_value (entry, "amount", G_VARIANT_TYPE_DOUBLE);
      g_autofree char *key = lookup_text (entry, "key");
      g_autofree char *data = lookup_text (entry, "data");

      if (amount != NULL)
        {
          g_autofree char *text = st_cli_format_amount (g_variant_get_double (amount));

          g_ptr_array_add (parts, g_strdup_printf ("amount %s", text));
        }
      if (key != NULL && *key != '\0')
        g_ptr_array_add (parts, g_strdup_printf ("key %s", key));
      if (data != NULL && *data != '\0')
        g_ptr_array_add (parts, g_steal_pointer (&data));
      *what = lookup_text (entry, "kind");
    }
  else
    {
      /* an entry type this stewardctl does not know yet: show its fields */
      GVariantIter iter;
      const char *k;
      GVariant *v;

      g_variant_iter_init (&iter, entry);
      while (g_variant_iter_next (&iter, "{&sv}", &k, &v))
        {
          g_autofree char *text = st_cli_variant_to_text (v);

          if (!g_str_equal (k, "type") && !g_str_equal (k, "at") && !g_str_equal (k, "id"))
            g_ptr_array_add (parts, g_strdup_printf ("%s=%s", k, text));
          g_variant_unref (v);
        }
      *what = g_strdup (type);
    }
  g_ptr_array_add (parts, NULL);
  *detail = g_strjoinv ("; ", (char **) parts->pdata);
}

static int
cmd_timeline (StCtl *ctl, const StCommand *command, GStrv *args)
{
  g_autofree char *limit_text = NULL;
  const GOptionEntry entries[] = {
    { "limit", 0, 0, G_OPTION_ARG_FILENAME, &limit_text, "At most N entries (default 50)",
      "N" },
    { NULL },
  };
  g_auto (GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) entries_value = NULL;
  g_autoptr (StCliTable) table = NULL;
  g_autofree char *text = NULL;
  GVariantIter iter;
  GVariant *entry;
  int status;

  status = parse_command_line (ctl, command, entries, args, "ID|REF");
  if (status >= 0)
    return status;
  if (limit_text != NULL)
    {
      g_autoptr (GError) error = NULL;
      guint32 limit;

      if (!st_cli_parse_count (limit_text, &limit, &error))
        return usage_error (command, "--limit: %s", error->message);
      g_variant_dict_insert (&options, "limit", "u", limit);
    }

  reply = call (ctl, ST_CUSTOMERS_IFACE, "Timeline",
                g_variant_new ("(s@a{sv})", (*args)[1], g_variant_dict_end (&options)),
                "(aa{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@aa{sv})", &entries_value);
  if (ctl->json)
    {
      print_json (entries_value);
      return ST_EXIT_OK;
    }

  table = st_cli_table_new ((const char *[]){ "WHEN", "WHAT", "DETAIL", NULL });
  g_variant_iter_init (&iter, entries_value);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *at = lookup_text (entry, "at");
      g_autofree char *when = at != NULL ? local_time (ctl, at) : NULL;
      g_autofree char *what = NULL;
      g_autofree char *detail = NULL;

      describe_entry (entry, &what, &detail);
      st_cli_table_add_row (table, (const char *[]){ when, what, detail });
      g_variant_unref (entry);
    }
  if (st_cli_table_get_n_rows (table) == 0)
    {
      printf ("Nothing in the timeline of customer %s yet.\n", (*args)[1]);
      return ST_EXIT_OK;
    }
  text = st_cli_table_render (table);
  out (text);
  return ST_EXIT_OK;
}

static int
cmd_status (StCtl *ctl, const StCommand *command, GStrv *args)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) record = NULL;
  int status;

  status = parse_command_line (ctl, command, NULL, args, "");
  if (status >= 0)
    return status;

  reply = call (ctl, ST_MANAGER_IFACE, "Status", NULL, "(a{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &record);
  if (ctl->json)
    print_json (record);
  else
    print_record (ctl, record, status_fields);
  return ST_EXIT_OK;
}

/* ---- dispatch ---- */

static const StCommand commands[] = {
  { "customer", "add",
    "--name NAME [--email E] [--phone P] [--ref REF] [--owner USER] [--locale fr] "
    "[--tz Europe/Paris] [--tag T]... [--attr k=v]...",
    "Create a customer", cmd_customer_add },
  { "customer", "show", "ID|REF", "Show a customer", cmd_customer_show },
  { "customer", "list", "[--stage S] [--owner U] [--tag T] [--limit N]",
    "List customers, optionally only those of a stage, owner or tag", cmd_customer_list },
  { "customer", "edit", "ID|REF [options of add] [--untag T]...",
    "Change a customer: --tag adds a tag, --untag removes one, --attr k= removes an "
    "attribute, an empty value (--email \"\") clears a field",
    cmd_customer_edit },
  { "customer", "stage", "ID|REF STAGE [--reason TEXT]",
    "Move a customer to another stage of the lifecycle", cmd_customer_stage },
  { "event", "add", "ID|REF KIND [--amount X] [--at ISO-8601] [--key KEY] [--data k=v]...",
    "Record something that happened to a customer (purchase, login, survey...)",
    cmd_event_add },
  { "timeline", NULL, "ID|REF [--limit N]",
    "Show a customer's events and stage changes, newest first", cmd_timeline },
  { "status", NULL, "", "Show the daemon's version, database state and counts",
    cmd_status },
  { NULL },
};

/* find_command (NULL, NULL) is the whole table. */
static const StCommand *
find_command (const char *noun, const char *verb)
{
  if (noun == NULL)
    return commands;
  for (const StCommand *c = commands; c->noun != NULL; c++)
    if (g_str_equal (c->noun, noun) && g_strcmp0 (c->verb, verb) == 0)
      return c;
  return NULL;
}

static gboolean
noun_has_verbs (const char *noun)
{
  for (const StCommand *c = commands; c->noun != NULL; c++)
    if (g_str_equal (c->noun, noun))
      return c->verb != NULL;
  return FALSE;
}

static gboolean
is_noun (const char *noun)
{
  for (const StCommand *c = commands; c->noun != NULL; c++)
    if (g_str_equal (c->noun, noun))
      return TRUE;
  return FALSE;
}

static int
run (StCtl *ctl, int argc, char **argv)
{
  const StCommand *command;
  const char *noun;
  const char *verb = NULL;
  g_auto (GStrv) args = NULL;
  GStrvBuilder *builder;
  int i = 1;

  for (int a = 1; a < argc; a++)
    if (!g_utf8_validate (argv[a], -1, NULL))
      return usage_error (NULL, "argument %d is not valid UTF-8", a);

  while (i < argc && take_global_flag (ctl, argv[i]))
    i++;
  if (i == argc)
    {
      if (ctl->help)
        {
          print_top_help (stdout);
          return ST_EXIT_OK;
        }
      return usage_error (NULL, "no command given");
    }
  noun = argv[i++];
  if (noun[0] == '-')
    return usage_error (NULL, "unknown option %s", noun);
  if (!is_noun (noun))
    return usage_error (NULL, "unknown command '%s'", noun);

  if (noun_has_verbs (noun))
    {
      while (i < argc && take_global_flag (ctl, argv[i]))
        i++;
      if (i == argc || argv[i][0] == '-')
        {
          if (ctl->help)
            {
              print_noun_help (stdout, noun);
              return ST_EXIT_OK;
            }
          fprintf (stderr, "stewardctl: %s: %s\n", noun,
                   i == argc ? "missing verb" : "a verb must come before the options");
          print_noun_help (stderr, noun);
          return ST_EXIT_USAGE;
        }
      verb = argv[i++];
      if (find_command (noun, verb) == NULL)
        {
          fprintf (stderr, "stewardctl: %s: unknown verb '%s'\n", noun, verb);
          print_noun_help (stderr, noun);
          return ST_EXIT_USAGE;
        }
    }
  command = find_command (noun, verb);

  builder = g_strv_builder_new ();
  g_strv_builder_add (builder, "stewardctl");
  for (; i < argc; i++)
    g_strv_builder_add (builder, argv[i]);
  args = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);

  return command->run (ctl, command, &args);
}

int
main (int argc, char **argv)
{
  StCtl ctl = { 0 };
  int status;

  /* Registers org.steward.Steward1.Error.* so replies map to ST_ERROR. */
  (void) ST_ERROR;

  ctl.local = g_time_zone_new_local ();
  ctl.now = g_date_time_new_now_utc ();
  status = run (&ctl, argc, argv);
  st_ctl_clear (&ctl);

  if (fflush (stdout) != 0 || ferror (stdout))
    {
      fprintf (stderr, "stewardctl: cannot write the output: %s\n", g_strerror (errno));
      return ST_EXIT_FAILURE;
    }
  return status;
}
