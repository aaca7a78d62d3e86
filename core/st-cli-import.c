/* stewardctl import customers|events FILE: the file is opened here, with
 * the user's permissions, and its descriptor handed to stewardd, which
 * reads it; so is an anonymous temporary file for the rejects, copied to
 * the rejects file afterwards only when some row was not imported. The
 * call runs asynchronously so that the daemon's Progress signals can be
 * drawn as a bar while it works (on a terminal). */

#include "st-cli-import.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "st-cli-input.h"
#include "st-cli-output.h"

#define ST_CLI_IMPORT_IFACE "org.steward.Steward1.Import"
#define ST_BAR_WIDTH 30

typedef struct {
  GStrv map;
  GStrv kind_if;
  char *date_format, *tz, *decimal, *delimiter, *encoding, *kind, *chunk, *rejects;
  gboolean no_create, raw_refs;
} StImportArgs;

static void
st_import_args_clear (StImportArgs *a)
{
  g_strfreev (a->map);
  g_strfreev (a->kind_if);
  g_free (a->date_format);
  g_free (a->tz);
  g_free (a->decimal);
  g_free (a->delimiter);
  g_free (a->encoding);
  g_free (a->kind);
  g_free (a->chunk);
  g_free (a->rejects);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (StImportArgs, st_import_args_clear)

/* Options ------------------------------------------------------------------- */

static int
add_map (const StCliCommand *command, GStrv map, GVariantDict *options)
{
  g_auto (GVariantBuilder) pairs = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a{ss}"));

  for (guint i = 0; map != NULL && map[i] != NULL; i++)
    {
      g_autofree char *column = NULL, *field = NULL;
      g_autoptr (GError) error = NULL;

      if (!st_cli_parse_kv (map[i], &column, &field, &error))
        return st_cli_usage_error (command, "--map: %s (write column=field)", error->message);
      g_variant_builder_add (&pairs, "{ss}", column, field);
    }
  if (map != NULL)
    g_variant_dict_insert_value (options, "map", g_variant_builder_end (&pairs));
  return -1;
}

/* KIND:COLUMN=PATTERN, e.g. refund:invoice_id=C* */
static int
add_kind_rules (const StCliCommand *command, GStrv rules, GVariantDict *options)
{
  g_auto (GVariantBuilder) list = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(sss)"));

  for (guint i = 0; rules != NULL && rules[i] != NULL; i++)
    {
      const char *colon = strchr (rules[i], ':');
      const char *equals = colon != NULL ? strchr (colon, '=') : NULL;
      g_autofree char *kind = NULL, *column = NULL;

      if (colon == NULL || equals == NULL || colon == rules[i] || equals == colon + 1)
        return st_cli_usage_error (command,
                                   "--kind-if: '%s' is not KIND:COLUMN=PATTERN "
                                   "(e.g. refund:invoice_id=C*)",
                                   rules[i]);
      kind = g_strndup (rules[i], (gsize) (colon - rules[i]));
      column = g_strndup (colon + 1, (gsize) (equals - colon - 1));
      g_variant_builder_add (&list, "(sss)", kind, column, equals + 1);
    }
  if (rules != NULL)
    g_variant_dict_insert_value (options, "kind_if", g_variant_builder_end (&list));
  return -1;
}

static int
add_text_options (const StCliCommand *command, const StImportArgs *a, GVariantDict *options)
{
  if (a->decimal != NULL && !g_str_equal (a->decimal, ".") && !g_str_equal (a->decimal, ","))
    return st_cli_usage_error (command, "--decimal: give . or , (not '%s')", a->decimal);
  if (a->delimiter != NULL && strlen (a->delimiter) != 1 && !g_str_equal (a->delimiter, "tab")
      && !g_str_equal (a->delimiter, "\\t"))
    return st_cli_usage_error (command, "--delimiter: give one character, or tab (not '%s')",
                               a->delimiter);
  if (a->date_format != NULL)
    g_variant_dict_insert (options, "date_format", "s", a->date_format);
  if (a->tz != NULL)
    g_variant_dict_insert (options, "tz", "s", a->tz);
  if (a->decimal != NULL)
    g_variant_dict_insert (options, "decimal", "s", a->decimal);
  if (a->delimiter != NULL)
    g_variant_dict_insert (options, "delimiter", "s", a->delimiter);
  if (a->encoding != NULL)
    g_variant_dict_insert (options, "encoding", "s", a->encoding);
  if (a->kind != NULL)
    g_variant_dict_insert (options, "kind", "s", a->kind);
  return -1;
}

static int
build_options (const StCliCommand *command, const StImportArgs *a, GVariantDict *options)
{
  int status;

  if ((status = add_map (command, a->map, options)) >= 0
      || (status = add_kind_rules (command, a->kind_if, options)) >= 0
      || (status = add_text_options (command, a, options)) >= 0)
    return status;
  if (a->chunk != NULL)
    {
      g_autoptr (GError) error = NULL;
      guint32 chunk;

      if (!st_cli_parse_count (a->chunk, &chunk, &error))
        return st_cli_usage_error (command, "--chunk: %s", error->message);
      g_variant_dict_insert (options, "chunk", "u", chunk);
    }
  if (a->no_create)
    g_variant_dict_insert (options, "create_customers", "b", FALSE);
  if (a->raw_refs)
    g_variant_dict_insert (options, "raw_refs", "b", TRUE);
  return -1;
}

/* Files --------------------------------------------------------------------- */

static int
open_input (const char *path)
{
  int fd = g_str_equal (path, "-") ? dup (STDIN_FILENO)
                                   : open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    fprintf (stderr, "stewardctl: cannot open %s: %s\n", path, g_strerror (errno));
  return fd;
}

/* NAME.rejects.csv in the current folder: the input's own folder may be
 * read-only or shared. */
static char *
default_rejects_path (const char *input)
{
  g_autofree char *base = g_str_equal (input, "-") ? g_strdup ("stdin")
                                                   : g_path_get_basename (input);
  gsize len = strlen (base);

  if (len > 4 && g_ascii_strcasecmp (base + len - 4, ".csv") == 0)
    base[len - 4] = '\0';
  return g_strconcat (base, ".rejects.csv", NULL);
}

/* The rejects the daemon wrote to @tmp, copied to @path when there are
 * any. Returns the exit status on failure, else -1. */
static int
save_rejects (FILE *tmp, const char *path, gboolean *written)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  struct stat st;
  gsize len;

  *written = FALSE;
  if (fstat (fileno (tmp), &st) != 0 || st.st_size == 0)
    return -1;
  len = (gsize) st.st_size;
  data = g_malloc (len);
  if (pread (fileno (tmp), data, len, 0) != (gssize) len
      || !g_file_set_contents (path, data, (gssize) len, &error))
    {
      fprintf (stderr, "stewardctl: the import ran, but its rejects could not be written to %s: %s\n",
               path, error != NULL ? error->message : g_strerror (errno));
      return ST_CLI_EXIT_FAILURE;
    }
  *written = TRUE;
  return -1;
}

/* The call, with progress ----------------------------------------------------- */

typedef struct {
  GMainLoop *loop;
  gboolean tty;      /* draw a bar */
  gboolean drawn;
  GVariant *reply;
  GError *error;
} StImportCall;

static void
draw_progress (StImportCall *call, guint64 read, guint64 total, guint64 rows)
{
  if (total > 0)
    {
      double part = CLAMP ((double) read / (double) total, 0, 1);
      int filled = (int) (part * ST_BAR_WIDTH);
      char bar[ST_BAR_WIDTH + 1];

      memset (bar, '#', (size_t) filled);
      memset (bar + filled, '-', (size_t) (ST_BAR_WIDTH - filled));
      bar[ST_BAR_WIDTH] = '\0';
      printf ("\r\033[K[%s] %3d%%  %" G_GUINT64_FORMAT " rows", bar, (int) (part * 100), rows);
    }
  else
    printf ("\r\033[K%" G_GUINT64_FORMAT " rows, %.1f MB read", rows, (double) read / 1e6);
  fflush (stdout);
  call->drawn = TRUE;
}

static void
on_progress (GDBusConnection *connection, const char *sender, const char *path,
             const char *interface, const char *signal, GVariant *params, gpointer user_data)
{
  StImportCall *call = user_data;
  guint64 read, total, rows;

  (void) connection, (void) sender, (void) path, (void) interface, (void) signal;
  if (!call->tty || !g_variant_is_of_type (params, G_VARIANT_TYPE ("(ttt)")))
    return;
  g_variant_get (params, "(ttt)", &read, &total, &rows);
  draw_progress (call, read, total, rows);
}

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  StImportCall *call = user_data;

  call->reply = g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source),
                                                                 NULL, result, &call->error);
  g_main_loop_quit (call->loop);
}

/* Import.@method with @fds; the summary, or NULL with *status set. */
static GVariant *
call_import (StCtl *ctl, const char *method, GVariant *parameters, GUnixFDList *fds,
             int *status)
{
  StImportCall call = { g_main_loop_new (NULL, FALSE), !ctl->json && isatty (STDOUT_FILENO),
                        FALSE, NULL, NULL };
  g_autofree char *name = g_strconcat ("Import.", method, NULL);
  GVariant *summary = NULL;
  guint subscription;

  subscription = g_dbus_connection_signal_subscribe (
    ctl->bus, NULL, ST_CLI_IMPORT_IFACE, "Progress", "/org/steward/Steward1", NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, on_progress, &call, NULL);
  g_dbus_connection_call_with_unix_fd_list (
    ctl->bus, "org.steward.Steward1", "/org/steward/Steward1", ST_CLI_IMPORT_IFACE, method,
    parameters, G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, G_MAXINT, fds, NULL,
    on_done, &call);
  g_main_loop_run (call.loop);
  g_dbus_connection_signal_unsubscribe (ctl->bus, subscription);
  if (call.drawn)
    printf ("\r\033[K");
  if (call.reply != NULL)
    {
      g_variant_get (call.reply, "(@a{sv})", &summary);
      g_variant_unref (call.reply);
    }
  else
    {
      *status = st_cli_report_call_error (ctl, call.error, name);
      g_error_free (call.error);
    }
  g_main_loop_unref (call.loop);
  return summary;
}

/* The summary --------------------------------------------------------------- */

static gint64
count (GVariant *summary, const char *key)
{
  gint64 value = 0;

  g_variant_lookup (summary, key, "x", &value);
  return value;
}

static void
print_summary (GVariant *summary, const char *what, const char *input, const char *rejects)
{
  g_autoptr (StCliBlock) block = st_cli_block_new ();
  g_autofree char *text = NULL;
  double seconds = 0, rate = 0;
  gint64 not_imported = count (summary, "rejected") + count (summary, "skipped");

  g_variant_lookup (summary, "seconds", "d", &seconds);
  g_variant_lookup (summary, "rows_per_second", "d", &rate);
  printf ("Imported %s from %s in %.2f s (%.0f rows/s)\n", what,
          g_str_equal (input, "-") ? "standard input" : input, seconds, rate);
  static const char *const keys[][2] = {
    { "rows", "Rows" },         { "new", "New" },           { "updated", "Updated" },
    { "duplicate", "Duplicate" }, { "rejected", "Rejected" }, { "skipped", "Skipped (no customer)" },
    { "customers_created", "Customers created" },           { "jobs", "Care jobs" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (!g_str_equal (keys[i][0], "customers_created") || g_str_equal (what, "events"))
      st_cli_block_take (block, keys[i][1],
                         g_strdup_printf ("%" G_GINT64_FORMAT, count (summary, keys[i][0])));
  text = st_cli_block_render (block);
  st_cli_out (text);
  if (rejects != NULL)
    printf ("%" G_GINT64_FORMAT " rows not imported (rejected or skipped): see %s\n",
            not_imported, rejects);
}

/* The summary in the daemon's order, with rejects_file after it when the
 * rejects were written (a builder: a dictionary would shuffle the keys). */
static void
print_json (GVariant *summary, const char *rejects)
{
  g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autoptr (GVariant) out = NULL;
  GVariantIter iter;
  GVariant *entry;

  g_variant_iter_init (&iter, summary);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_variant_builder_add_value (&builder, entry);
      g_variant_unref (entry);
    }
  if (rejects != NULL)
    g_variant_builder_add (&builder, "{sv}", "rejects_file", g_variant_new_string (rejects));
  out = g_variant_ref_sink (g_variant_builder_end (&builder));
  st_cli_print_json (out);
}

/* The command --------------------------------------------------------------- */

static int
run_import (StCtl *ctl, const StCliCommand *command, const char *method, const char *input,
            GVariantDict *options, const char *rejects_path)
{
  g_autoptr (GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr (GVariant) summary = NULL;
  g_autoptr (GError) error = NULL;
  FILE *tmp = NULL;
  int fd, status = ST_CLI_EXIT_OK;
  gboolean written = FALSE;

  (void) command;
  if (!st_cli_connect (ctl, &status))
    return status;
  if ((fd = open_input (input)) < 0)
    return ST_CLI_EXIT_FAILURE;
  tmp = tmpfile ();
  if (tmp == NULL || g_unix_fd_list_append (fds, fd, &error) != 0
      || g_unix_fd_list_append (fds, fileno (tmp), &error) != 1)
    {
      fprintf (stderr, "stewardctl: cannot prepare the import: %s\n",
               error != NULL ? error->message : g_strerror (errno));
      close (fd);
      if (tmp != NULL)
        fclose (tmp);
      return ST_CLI_EXIT_FAILURE;
    }
  close (fd);
  g_variant_dict_insert (options, "rejects", "h", 1);
  summary = call_import (ctl, method, g_variant_new ("(h@a{sv})", 0, g_variant_dict_end (options)),
                         fds, &status);
  if (summary != NULL)
    {
      int saved = save_rejects (tmp, rejects_path, &written);
      if (ctl->json)
        print_json (summary, written ? rejects_path : NULL);
      else
        print_summary (summary, method[0] == 'E' ? "events" : "customers", input,
                       written ? rejects_path : NULL);
      status = saved >= 0 ? saved : ST_CLI_EXIT_OK;
    }
  fclose (tmp);
  return status;
}

static int
cmd_import (StCtl *ctl, const StCliCommand *command, GStrv *args, gboolean events)
{
  g_auto (StImportArgs) a = { 0 };
  const GOptionEntry common[] = {
    { "map", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &a.map,
      "Read field FIELD from column COLUMN (repeatable); COLUMN= ignores a column", "COLUMN=FIELD" },
    { "date-format", 0, 0, G_OPTION_ARG_FILENAME, &a.date_format,
      "How times are written, strptime-like (default ISO-8601), e.g. '%m/%d/%Y %H:%M'", "FORMAT" },
    { "tz", 0, 0, G_OPTION_ARG_FILENAME, &a.tz, "Zone of times without an offset (default UTC)",
      "ZONE" },
    { "decimal", 0, 0, G_OPTION_ARG_FILENAME, &a.decimal, "Decimal separator: . (default) or ,",
      "SEP" },
    { "delimiter", 0, 0, G_OPTION_ARG_FILENAME, &a.delimiter,
      "Field delimiter: , (default), ; | or tab", "CHAR" },
    { "encoding", 0, 0, G_OPTION_ARG_FILENAME, &a.encoding,
      "The file's encoding when it is not UTF-8, e.g. windows-1252 (Excel's plain CSV)",
      "NAME" },
    { "raw-refs", 0, 0, G_OPTION_ARG_NONE, &a.raw_refs,
      "Keep refs such as 13085.0 as written (by default they read 13085)", NULL },
    { "chunk", 0, 0, G_OPTION_ARG_FILENAME, &a.chunk, "Rows per transaction (default 50000)",
      "N" },
    { "rejects", 0, 0, G_OPTION_ARG_FILENAME, &a.rejects,
      "Where rows not imported go, with line and reason (default NAME.rejects.csv here)",
      "FILE" },
  };
  const GOptionEntry event_only[] = {
    { "kind", 0, 0, G_OPTION_ARG_FILENAME, &a.kind, "Kind of rows no column or rule gives one",
      "KIND" },
    { "kind-if", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &a.kind_if,
      "Kind KIND when COLUMN is PATTERN, or starts with it if PATTERN ends in * (repeatable)",
      "KIND:COLUMN=PATTERN" },
    { "no-create", 0, 0, G_OPTION_ARG_NONE, &a.no_create,
      "Reject rows of unknown customers instead of creating them", NULL },
  };
  g_autoptr (GArray) entries = g_array_new (TRUE, TRUE, sizeof (GOptionEntry));
  g_auto (GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  g_autofree char *rejects_path = NULL;
  int status;

  g_array_append_vals (entries, common, G_N_ELEMENTS (common));
  if (events)
    g_array_append_vals (entries, event_only, G_N_ELEMENTS (event_only));
  status = st_cli_parse_command_line (ctl, command, (const GOptionEntry *) entries->data, args,
                                      "FILE");
  if (status >= 0 || (status = build_options (command, &a, &options)) >= 0)
    return status;
  rejects_path = a.rejects != NULL ? g_strdup (a.rejects) : default_rejects_path ((*args)[1]);
  return run_import (ctl, command, events ? "Events" : "Customers", (*args)[1], &options,
                     rejects_path);
}

int
st_cli_import_customers (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  return cmd_import (ctl, command, args, FALSE);
}

int
st_cli_import_events (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  return cmd_import (ctl, command, args, TRUE);
}
