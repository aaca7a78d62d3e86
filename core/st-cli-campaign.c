/* stewardctl campaign list|run|runs|show|cancel: scheduled campaigns (the
 * Campaigns calls) and their runs (the run objects' properties). `run
 * --wait` follows a run to its end through the run object's signals; see
 * st-cli-campaign-wait.c. */

#include "st-cli-campaign.h"

#include <string.h>

#include "st-campaign-runs.h"
#include "st-cli-campaign-private.h"
#include "st-cli-input.h"
#include "st-cli-output.h"

/* Runs' default page size, and the widths cut to in tables. */
#define ST_RUNS_DEFAULT_LIMIT 20
#define ST_AUDIENCE_WIDTH 40
#define ST_SAMPLE_WIDTH 60

#define ST_RUNS_PATH "/org/steward/Steward1/runs/"

static const StCliField run_fields[] = {
  { "id", "ID", ST_CLI_FIELD_TEXT },
  { "campaign", "Campaign", ST_CLI_FIELD_TEXT },
  { "state", "State", ST_CLI_FIELD_TEXT },
  { "dry_run", "Dry run", ST_CLI_FIELD_TEXT },
  { "occurrence", "Occurrence", ST_CLI_FIELD_TIME },
  { "zone", "Zone", ST_CLI_FIELD_TEXT },
  { "requested_by", "Requested by", ST_CLI_FIELD_TEXT },
  { "created_at", "Created", ST_CLI_FIELD_TIME },
  { "started_at", "Started", ST_CLI_FIELD_TIME },
  { "finished_at", "Finished", ST_CLI_FIELD_TIME },
  { "total", "Total", ST_CLI_FIELD_TEXT },
  { "done", "Done", ST_CLI_FIELD_TEXT },
  { "sent", "Sent", ST_CLI_FIELD_TEXT },
  { "skipped", "Skipped", ST_CLI_FIELD_TEXT },
  { "failed", "Failed", ST_CLI_FIELD_TEXT },
  { "actions", "Actions", ST_CLI_FIELD_TEXT },
  { "channels", "Messages by channel", ST_CLI_FIELD_TEXT },
  { "last_error", "Last error", ST_CLI_FIELD_TEXT },
  { "cancelled_by", "Cancelled by", ST_CLI_FIELD_TEXT },
  { "path", "Path", ST_CLI_FIELD_TEXT },
  { NULL },
};

/* ---- a run as a record ---- */

gint64
st_cli_run_count (GVariant *record, const char *key)
{
  gint64 n = 0;

  g_variant_lookup (record, key, "x", &n);
  return n;
}

/* The run object's properties (CamelCase) as a record (snake_case, as
 * Runs gives them), leaving out the empty strings and summary. */
GVariant *
st_cli_run_record (GVariant *properties, const char *path)
{
  GVariantBuilder record;
  GVariantIter iter;
  const char *name;
  GVariant *value;

  /* A builder, not a dictionary: the daemon's order is kept. */
  g_variant_builder_init (&record, G_VARIANT_TYPE_VARDICT);
  g_variant_iter_init (&iter, properties);
  while (g_variant_iter_next (&iter, "{&sv}", &name, &value))
    {
      g_autoptr (GString) key = g_string_new (NULL);
      gboolean empty = (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
                        && *g_variant_get_string (value, NULL) == '\0')
                       || (g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT)
                           && g_variant_n_children (value) == 0);

      for (const char *p = name; *p != '\0'; p++)
        {
          if (g_ascii_isupper (*p) && p != name)
            g_string_append_c (key, '_');
          g_string_append_c (key, g_ascii_tolower (*p));
        }
      if (!empty)
        g_variant_builder_add (&record, "{sv}", key->str, value);
      g_variant_unref (value);
    }
  if (path != NULL)
    g_variant_builder_add (&record, "{sv}", "path", g_variant_new_string (path));
  return g_variant_ref_sink (g_variant_builder_end (&record));
}

/* "send 7, tag 3", largest first; "" for none. */
static char *
format_counts (GVariant *counts)
{
  g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) text = g_string_new (NULL);
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&iter, counts);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autofree char *n = st_cli_variant_to_text (value);
      g_ptr_array_add (parts, g_strdup_printf ("%s %s", key, n));
      g_variant_unref (value);
    }
  g_ptr_array_sort (parts, (GCompareFunc) g_strcmp0);
  for (guint i = 0; i < parts->len; i++)
    g_string_append_printf (text, "%s%s", i ? ", " : "",
                            (const char *) g_ptr_array_index (parts, i));
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* One sample: "customer 3: send email "News": Hello Ada..." */
static char *
format_sample (GVariant *sample)
{
  g_autofree char *customer = st_cli_lookup_text_or (sample, "customer_id", "?");
  g_autofree char *action = st_cli_lookup_text_or (sample, "action", "?");
  g_autofree char *channel = st_cli_lookup_text (sample, "channel");
  g_autofree char *subject = st_cli_lookup_text (sample, "subject");
  g_autofree char *body = st_cli_lookup_text (sample, "body");
  g_autofree char *args = st_cli_lookup_text (sample, "args");
  g_autofree char *error = st_cli_lookup_text (sample, "error");
  g_autofree char *what = NULL, *line = NULL;

  if (error != NULL)
    what = g_strdup (error);
  else if (channel != NULL)
    what = g_strdup_printf ("%s %s%s%s%s: %s", action, channel, subject ? " \"" : "",
                            subject ? subject : "", subject ? "\"" : "", body ? body : "");
  else
    what = g_strdup_printf ("%s %s", action, args ? args : "");
  line = st_cli_one_line (what);
  return g_strdup_printf ("customer %s: %s", customer, line);
}

static void
print_samples (GVariant *summary, const char *key, const char *heading)
{
  g_autoptr (GVariant) list = g_variant_lookup_value (summary, key, NULL);
  GVariantIter iter;
  GVariant *item;

  if (list == NULL || !g_variant_is_container (list) || g_variant_n_children (list) == 0)
    return;
  printf ("\n%s:\n", heading);
  g_variant_iter_init (&iter, list);
  while ((item = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr (GVariant) sample = g_variant_is_of_type (item, G_VARIANT_TYPE_VARIANT)
                                        ? g_variant_get_variant (item)
                                        : g_variant_ref (item);
      g_autofree char *text = NULL, *cut = NULL;

      if (g_variant_is_of_type (sample, G_VARIANT_TYPE_VARDICT))
        {
          text = format_sample (sample);
          cut = st_cli_truncate (text, ST_SAMPLE_WIDTH + 20);
          printf ("  %s\n", cut);
        }
      g_variant_unref (item);
    }
}

/* A run for people: its fields, then what it did (counts, samples,
 * errors) when it has ended. */
void
st_cli_print_run (StCtl *ctl, GVariant *record)
{
  g_autoptr (GVariant) summary = g_variant_lookup_value (record, "summary",
                                                         G_VARIANT_TYPE_VARDICT);
  GVariantDict shown;
  g_autoptr (GVariant) fields = NULL;

  g_variant_dict_init (&shown, record);
  g_variant_dict_remove (&shown, "summary");
  if (summary != NULL)
    {
      g_autoptr (GVariant) actions = g_variant_lookup_value (summary, "actions",
                                                             G_VARIANT_TYPE_VARDICT);
      g_autoptr (GVariant) channels = g_variant_lookup_value (summary, "channels",
                                                              G_VARIANT_TYPE_VARDICT);

      if (actions != NULL && g_variant_n_children (actions) > 0)
        g_variant_dict_insert_value (&shown, "actions",
                                     g_variant_new_take_string (format_counts (actions)));
      if (channels != NULL && g_variant_n_children (channels) > 0)
        g_variant_dict_insert_value (&shown, "channels",
                                     g_variant_new_take_string (format_counts (channels)));
    }
  fields = g_variant_ref_sink (g_variant_dict_end (&shown));
  st_cli_print_record (ctl, fields, run_fields);
  if (summary == NULL)
    return;
  print_samples (summary, "samples", "Samples");
  print_samples (summary, "errors", "Errors");
}

/* The properties of the run at @path as a record, or NULL (reported). */
GVariant *
st_cli_fetch_run (StCtl *ctl, const char *path, int *status)
{
  g_autoptr (GVariant) reply = st_cli_call_object (
      ctl, path, "org.freedesktop.DBus.Properties", "GetAll",
      g_variant_new ("(s)", ST_CLI_RUN_IFACE), "(a{sv})", status);
  g_autoptr (GVariant) properties = NULL;

  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(@a{sv})", &properties);
  return st_cli_run_record (properties, path);
}

/* ---- list ---- */

int
st_cli_campaign_list (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) campaigns = NULL;
  g_autoptr (StCliTable) table = NULL;
  g_autofree char *text = NULL;
  GVariantIter iter;
  GVariant *campaign;
  int status;

  status = st_cli_parse_command_line (ctl, command, NULL, args, "");
  if (status >= 0)
    return status;
  reply = st_cli_call (ctl, ST_CLI_CAMPAIGNS_IFACE, "List", NULL, "(aa{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@aa{sv})", &campaigns);
  if (ctl->json)
    {
      st_cli_print_json (campaigns);
      return ST_CLI_EXIT_OK;
    }

  table = st_cli_table_new ((const char *[]){ "NAME", "SCHEDULE", "LOCAL TIME", "NEXT FIRE",
                                              "STATE", "AUDIENCE", NULL });
  g_variant_iter_init (&iter, campaigns);
  while ((campaign = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *name = st_cli_lookup_text (campaign, "name");
      g_autofree char *schedule = st_cli_lookup_text (campaign, "schedule");
      gboolean local_time = FALSE;
      const char *local = g_variant_lookup (campaign, "local_time", "b", &local_time)
                              && local_time ? "yes" : "-";
      g_autofree char *next_iso = st_cli_lookup_text (campaign, "next_fire");
      g_autofree char *next = next_iso ? st_cli_local_time (ctl, next_iso) : NULL;
      g_autofree char *state = st_cli_lookup_text (campaign, "state");
      g_autofree char *audience = st_cli_lookup_text_or (campaign, "audience", "");
      g_autofree char *cut = st_cli_truncate (audience, ST_AUDIENCE_WIDTH);

      st_cli_table_add_row (table, (const char *[]){ name, schedule, local, next, state, cut });
      g_variant_unref (campaign);
    }
  if (st_cli_table_get_n_rows (table) == 0)
    {
      st_cli_out ("No campaigns (a campaign is a script with schedule and audience).\n");
      return ST_CLI_EXIT_OK;
    }
  text = st_cli_table_render (table);
  st_cli_out (text);
  return ST_CLI_EXIT_OK;
}

/* ---- runs ---- */

static void
add_run_row (StCtl *ctl, StCliTable *table, GVariant *run)
{
  static const char *const keys[] = { "id", "campaign", "occurrence", "zone", "dry_run",
                                      "state", "total", "done", "sent", "skipped", "failed" };
  char *cells[G_N_ELEMENTS (keys)] = { NULL };

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    cells[i] = st_cli_lookup_text (run, keys[i]);
  if (cells[2] != NULL)
    {
      char *local = st_cli_local_time (ctl, cells[2]);
      g_free (cells[2]);
      cells[2] = local;
    }
  {
    gboolean dry_run = FALSE;

    g_free (cells[4]);
    cells[4] = g_variant_lookup (run, "dry_run", "b", &dry_run) && dry_run ? g_strdup ("yes")
                                                                           : NULL;
  }
  st_cli_table_add_row (table, (const char *const *) cells);
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    g_free (cells[i]);
}

/* Take runs' optional NAME out of @args: the first word that is not an
 * option or the value of --limit. */
static char *
take_optional_name (GStrv *args)
{
  GStrv words = *args;

  for (guint i = 1; words[i] != NULL; i++)
    {
      char *name;

      if (g_str_equal (words[i], "--"))
        return NULL;
      if (words[i][0] == '-' || g_str_equal (words[i - 1], "--limit"))
        continue;
      name = words[i];
      memmove (words + i, words + i + 1, (g_strv_length (words + i + 1) + 1) * sizeof (char *));
      return name;
    }
  return NULL;
}

int
st_cli_campaign_runs (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autofree char *limit_text = NULL;
  const GOptionEntry entries[] = {
    { "limit", 0, 0, G_OPTION_ARG_FILENAME, &limit_text, "At most N runs (default 20)", "N" },
    { NULL },
  };
  g_auto (GVariantDict) unused = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) runs = NULL;
  g_autoptr (StCliTable) table = NULL;
  g_autofree char *text = NULL;
  guint32 limit = ST_RUNS_DEFAULT_LIMIT;
  g_autofree char *name = NULL;
  GVariantIter iter;
  GVariant *run;
  int status;

  name = take_optional_name (args);
  status = st_cli_parse_command_line (ctl, command, entries, args, "");
  if (status < 0)
    status = st_cli_take_limit (command, limit_text, &unused, &limit);
  if (status >= 0)
    return status;

  reply = st_cli_call (ctl, ST_CLI_CAMPAIGNS_IFACE, "Runs",
                       g_variant_new ("(su)", name ? name : "", limit), "(aa{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@aa{sv})", &runs);
  if (ctl->json)
    {
      st_cli_print_json (runs);
      return ST_CLI_EXIT_OK;
    }
  table = st_cli_table_new ((const char *[]){ "ID", "CAMPAIGN", "OCCURRENCE", "ZONE", "DRY RUN",
                                              "STATE", "TOTAL", "DONE", "SENT", "SKIPPED",
                                              "FAILED", NULL });
  g_variant_iter_init (&iter, runs);
  while ((run = g_variant_iter_next_value (&iter)) != NULL)
    {
      add_run_row (ctl, table, run);
      g_variant_unref (run);
    }
  if (st_cli_table_get_n_rows (table) == 0)
    {
      st_cli_out ("No runs.\n");
      return ST_CLI_EXIT_OK;
    }
  text = st_cli_table_render (table);
  st_cli_out (text);
  if (st_cli_table_get_n_rows (table) == limit)
    fprintf (stderr, "(the newest %u shown; use --limit for more)\n", limit);
  return ST_CLI_EXIT_OK;
}

/* ---- show ---- */

/* RUN is a run id or its object path. */
static char *
run_path_of (const char *text, GError **error)
{
  gint64 id;

  if (g_str_has_prefix (text, ST_RUNS_PATH))
    text += strlen (ST_RUNS_PATH);
  if (!st_cli_parse_id (text, &id, error))
    return NULL;
  return g_strdup_printf (ST_RUNS_PATH "%" G_GINT64_FORMAT, id);
}

/* The command line of a command on one run: the run's path, or NULL
 * with *status the exit status (a usage error, --help). */
static char *
run_path_argument (StCtl *ctl, const StCliCommand *command, GStrv *args,
                   int *status)
{
  g_autoptr (GError) error = NULL;
  char *path;

  *status = st_cli_parse_command_line (ctl, command, NULL, args, "RUN");
  if (*status >= 0)
    return NULL;
  path = run_path_of ((*args)[1], &error);
  if (path == NULL)
    *status = st_cli_usage_error (command, "RUN: %s", error->message);
  return path;
}

int
st_cli_campaign_show (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autoptr (GVariant) run = NULL;
  int status;
  g_autofree char *path = run_path_argument (ctl, command, args, &status);

  if (path == NULL)
    return status;
  run = st_cli_fetch_run (ctl, path, &status);
  if (run == NULL)
    return status;
  if (ctl->json)
    st_cli_print_json (run);
  else
    st_cli_print_run (ctl, run);
  return ST_CLI_EXIT_OK;
}

/* ---- cancel ---- */

int
st_cli_campaign_cancel (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autoptr (GVariant) reply = NULL, run = NULL;
  const char *state, *campaign = "";
  int status;
  g_autofree char *path = run_path_argument (ctl, command, args, &status);

  if (path == NULL)
    return status;
  /* Cancel waits for the batches in progress; the daemon gives up on them
   * after a minute (its statement timeout), not D-Bus after 25 s. */
  reply = st_cli_call_object_timeout (ctl, path, ST_CLI_RUN_IFACE, "Cancel", NULL,
                                      "(s)", G_MAXINT, &status);
  if (reply == NULL)
    return status;
  run = st_cli_fetch_run (ctl, path, &status);
  if (run == NULL)
    return status;
  if (ctl->json)
    {
      st_cli_print_json (run);
      return ST_CLI_EXIT_OK;
    }
  state = st_campaign_run_state (run);
  g_variant_lookup (run, "campaign", "&s", &campaign);
  if (g_str_equal (state, "cancelled"))
    printf ("run %" G_GINT64_FORMAT " of %s cancelled", st_cli_run_count (run, "id"),
            campaign);
  else
    printf ("run %" G_GINT64_FORMAT " of %s ended (%s) before the cancel "
            "took effect", st_cli_run_count (run, "id"), campaign, state);
  printf (": %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " targets done (%"
          G_GINT64_FORMAT " sent, %" G_GINT64_FORMAT " skipped, %"
          G_GINT64_FORMAT " failed)\n",
          st_cli_run_count (run, "done"), st_cli_run_count (run, "total"),
          st_cli_run_count (run, "sent"), st_cli_run_count (run, "skipped"),
          st_cli_run_count (run, "failed"));
  return ST_CLI_EXIT_OK;
}
