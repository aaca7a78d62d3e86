/* stewardctl script list|check|reload: the Lua care scripts the daemon has
 * loaded, whether a file would load, and re-reading the scripts folders
 * (the Scripts calls). */

#include "st-cli-script.h"

#include "st-cli-output.h"

static gboolean
is_broken (GVariant *script)
{
  g_autofree char *state = st_cli_lookup_text (script, "state");

  return g_strcmp0 (state, "broken") == 0;
}

/* "14d", or NULL (shown "-") when the script runs at once. */
static char *
delay_text (GVariant *script)
{
  gint64 delay = 0;

  if (!g_variant_lookup (script, "delay", "x", &delay) || delay <= 0)
    return NULL;
  return st_cli_format_delay (delay);
}

/* The scripts as a table, one per line in the daemon's order (by name). */
static void
print_scripts (GVariant *scripts)
{
  g_autoptr (StCliTable) table = NULL;
  g_autofree char *text = NULL;
  GVariantIter iter;
  GVariant *script;

  table = st_cli_table_new ((const char *[]){ "NAME", "STATE", "ON", "DELAY", "DESCRIPTION",
                                              NULL });
  g_variant_iter_init (&iter, scripts);
  while ((script = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *name = st_cli_lookup_text (script, "name");
      g_autofree char *state = st_cli_lookup_text (script, "state");
      g_autofree char *on = st_cli_lookup_text (script, "on");
      g_autofree char *delay = delay_text (script);
      g_autofree char *about = st_cli_lookup_text (script, is_broken (script) ? "error"
                                                                              : "description");
      g_autofree char *about_line = about != NULL ? st_cli_one_line (about) : NULL;

      st_cli_table_add_row (table, (const char *[]){ name, state, on, delay, about_line });
      g_variant_unref (script);
    }
  text = st_cli_table_render (table);
  st_cli_out (text);
}

static guint
count_broken (GVariant *scripts)
{
  GVariantIter iter;
  GVariant *script;
  guint n = 0;

  g_variant_iter_init (&iter, scripts);
  while ((script = g_variant_iter_next_value (&iter)) != NULL)
    {
      n += is_broken (script);
      g_variant_unref (script);
    }
  return n;
}

int
st_cli_script_list (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) scripts = NULL;
  int status;

  status = st_cli_parse_command_line (ctl, command, NULL, args, "");
  if (status >= 0)
    return status;

  reply = st_cli_call (ctl, ST_CLI_SCRIPTS_IFACE, "List", NULL, "(aa{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@aa{sv})", &scripts);
  if (ctl->json)
    st_cli_print_json (scripts);
  else if (g_variant_n_children (scripts) == 0)
    st_cli_out ("No scripts loaded (see scripts: in the daemon's configuration).\n");
  else
    print_scripts (scripts);
  return ST_CLI_EXIT_OK;
}

/* "tagger, on purchase, after 14d": what a script that loads is. */
static char *
script_summary (GVariant *script)
{
  g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *on = st_cli_lookup_text (script, "on");
  g_autofree char *schedule = st_cli_lookup_text (script, "schedule");
  g_autofree char *delay = delay_text (script);

  g_ptr_array_add (parts, st_cli_lookup_text_or (script, "name", "?"));
  if (on != NULL && *on != '\0')
    g_ptr_array_add (parts, g_strdup_printf ("on %s", on));
  if (schedule != NULL && *schedule != '\0')
    g_ptr_array_add (parts, g_strdup_printf ("schedule %s", schedule));
  if (delay != NULL)
    g_ptr_array_add (parts, g_strdup_printf ("after %s", delay));
  g_ptr_array_add (parts, NULL);
  return g_strjoinv (", ", (char **) parts->pdata);
}

int
st_cli_script_check (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) script = NULL;
  g_autofree char *path = NULL;
  const char *file;
  gboolean broken;
  int status;

  status = st_cli_parse_command_line (ctl, command, NULL, args, "FILE");
  if (status >= 0)
    return status;
  file = (*args)[1];
  if (*file == '\0')
    return st_cli_usage_error (command, "FILE is empty");
  /* The daemon has its own working directory: it needs the whole path. */
  path = g_canonicalize_filename (file, NULL);

  reply = st_cli_call (ctl, ST_CLI_SCRIPTS_IFACE, "Check", g_variant_new ("(s)", path),
                       "(a{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &script);
  broken = is_broken (script);
  if (ctl->json)
    st_cli_print_json (script);
  else if (broken)
    {
      g_autofree char *error = st_cli_lookup_text_or (script, "error", "it does not load");
      g_autofree char *line = st_cli_one_line (error);

      printf ("%s: broken: %s\n", file, line);
    }
  else
    {
      g_autofree char *summary = script_summary (script);

      printf ("%s: ok (%s)\n", file, summary);
    }
  return broken ? ST_CLI_EXIT_FAILURE : ST_CLI_EXIT_OK;
}

int
st_cli_script_reload (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) scripts = NULL;
  gsize n;
  int status;

  status = st_cli_parse_command_line (ctl, command, NULL, args, "");
  if (status >= 0)
    return status;

  reply = st_cli_call (ctl, ST_CLI_SCRIPTS_IFACE, "Reload", NULL, "(aa{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@aa{sv})", &scripts);
  if (ctl->json)
    {
      st_cli_print_json (scripts);
      return ST_CLI_EXIT_OK;
    }
  n = g_variant_n_children (scripts);
  printf ("Reloaded %" G_GSIZE_FORMAT " script%s (%u broken)\n", n, n == 1 ? "" : "s",
          count_broken (scripts));
  if (n > 0)
    {
      st_cli_out ("\n");
      print_scripts (scripts);
    }
  return ST_CLI_EXIT_OK;
}
