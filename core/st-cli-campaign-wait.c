/* stewardctl campaign run NAME [--dry-run] [--wait]: start a run and, with
 * --wait, follow it to its end. The run object's signals are subscribed
 * to before its properties are first read, so an end that comes between
 * the two is not missed. On a terminal the progress is one line redrawn
 * in place; elsewhere (a pipe, a log) each change is a line of its own. */

#include "st-cli-campaign.h"

#include <string.h>
#include <unistd.h>

#include "st-campaign-runs.h"
#include "st-cli-campaign-private.h"
#include "st-cli-output.h"

#define ST_BAR_WIDTH 30

typedef struct {
  GMainLoop *loop;
  FILE *out;         /* where progress goes; NULL: nowhere (--json, no tty) */
  gboolean tty;
  gboolean drawn;    /* a progress line is on the terminal, unfinished */
  gboolean finished;
  gboolean vanished;
  int shown_rank;    /* how far the progress shown is: signals queued */
  gint64 shown_done; /* before the first read must not take it back */
  char *id;
} StWait;

static int
state_rank (const char *state)
{
  return g_str_equal (state, "pending") ? 0 : g_str_equal (state, "running") ? 1 : 2;
}

static void
draw (StWait *wait, const char *state, gint64 total, gint64 done, gint64 sent,
      gint64 skipped, gint64 failed)
{
  /* Nothing new, or older than what is shown. */
  if (wait->out == NULL || state_rank (state) < wait->shown_rank
      || (state_rank (state) == wait->shown_rank && done <= wait->shown_done))
    return;
  wait->shown_rank = state_rank (state);
  wait->shown_done = done;
  if (wait->tty)
    {
      double part = total > 0 ? (double) done / (double) total : 0;
      int filled = (int) (CLAMP (part, 0, 1) * ST_BAR_WIDTH);
      char bar[ST_BAR_WIDTH + 1];

      memset (bar, '#', (size_t) filled);
      memset (bar + filled, '-', (size_t) (ST_BAR_WIDTH - filled));
      bar[ST_BAR_WIDTH] = '\0';
      fprintf (wait->out,
               "\r\033[K[%s] %3d%%  %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT
               "  sent %" G_GINT64_FORMAT "  skipped %" G_GINT64_FORMAT
               "  failed %" G_GINT64_FORMAT "  %s",
               bar, (int) (part * 100), done, total, sent, skipped, failed, state);
      wait->drawn = TRUE;
    }
  else
    fprintf (wait->out,
             "run %s: %s, %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " (sent %" G_GINT64_FORMAT
             ", skipped %" G_GINT64_FORMAT ", failed %" G_GINT64_FORMAT ")\n",
             wait->id, state, done, total, sent, skipped, failed);
  fflush (wait->out);
}

static void
end_line (StWait *wait)
{
  if (wait->drawn)
    fputc ('\n', wait->out);
  wait->drawn = FALSE;
}

static void
on_signal (GDBusConnection *connection, const char *sender, const char *path,
           const char *interface, const char *signal, GVariant *params, gpointer user_data)
{
  StWait *wait = user_data;

  (void) connection, (void) sender, (void) path, (void) interface;
  if (g_str_equal (signal, "Progress") && g_variant_is_of_type (params, G_VARIANT_TYPE ("(sxxxxx)")))
    {
      const char *state;
      gint64 total, done, sent, skipped, failed;

      g_variant_get (params, "(&sxxxxx)", &state, &total, &done, &sent, &skipped, &failed);
      draw (wait, state, total, done, sent, skipped, failed);
    }
  else if (g_str_equal (signal, "Finished"))
    {
      wait->finished = TRUE;
      g_main_loop_quit (wait->loop);
    }
}

static void
on_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  StWait *wait = user_data;

  (void) connection, (void) name;
  wait->vanished = TRUE;
  g_main_loop_quit (wait->loop);
}

static void
draw_run (StWait *wait, GVariant *run)
{
  draw (wait, st_campaign_run_state (run), st_cli_run_count (run, "total"), st_cli_run_count (run, "done"),
        st_cli_run_count (run, "sent"), st_cli_run_count (run, "skipped"), st_cli_run_count (run, "failed"));
}

/* Follow the run at @path until it ends; its final record, or NULL with
 * *status set. */
static GVariant *
follow (StCtl *ctl, StWait *wait, const char *path, int *status)
{
  g_autoptr (GVariant) run = NULL;
  guint subscription, watch;

  subscription = g_dbus_connection_signal_subscribe (ctl->bus, NULL, ST_CLI_RUN_IFACE, NULL,
                                                     path, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                     on_signal, wait, NULL);
  watch = g_bus_watch_name_on_connection (ctl->bus, "org.steward.Steward1",
                                          G_BUS_NAME_WATCHER_FLAGS_NONE, NULL, on_vanished,
                                          wait, NULL);
  run = st_cli_fetch_run (ctl, path, status);
  if (run != NULL && !st_campaign_run_state_is_final (st_campaign_run_state (run)))
    {
      draw_run (wait, run);
      g_main_loop_run (wait->loop);
      g_clear_pointer (&run, g_variant_unref);
      if (!wait->vanished)
        run = st_cli_fetch_run (ctl, path, status);
    }
  g_bus_unwatch_name (watch);
  g_dbus_connection_signal_unsubscribe (ctl->bus, subscription);
  if (wait->vanished && run == NULL)
    {
      end_line (wait);
      fprintf (stderr,
               "stewardctl: stewardd left the bus before run %s ended; the run goes on in any "
               "daemon on the database: 'stewardctl campaign show %s' later\n",
               wait->id, wait->id);
      *status = ST_CLI_EXIT_FAILURE;
    }
  return g_steal_pointer (&run);
}

/* The end of a followed run, for people or as JSON; 0 when it is done
 * with no failed target. */
static int
report_end (StCtl *ctl, StWait *wait, GVariant *run)
{
  const char *state = st_campaign_run_state (run);
  gint64 failed = st_cli_run_count (run, "failed");
  gboolean dry_run = FALSE;
  const char *last_error = NULL;

  g_variant_lookup (run, "dry_run", "b", &dry_run);
  g_variant_lookup (run, "last_error", "&s", &last_error);
  if (wait->tty)
    draw_run (wait, run);
  end_line (wait);
  if (ctl->json)
    st_cli_print_json (run);
  else
    {
      printf ("Run %s %s: %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " targets, sent %"
              G_GINT64_FORMAT ", skipped %" G_GINT64_FORMAT ", failed %" G_GINT64_FORMAT "%s\n",
              wait->id, state, st_cli_run_count (run, "done"), st_cli_run_count (run, "total"),
              st_cli_run_count (run, "sent"), st_cli_run_count (run, "skipped"), failed,
              dry_run ? " (dry run: nothing was written)" : "");
      if (dry_run)
        {
          printf ("\n");
          st_cli_print_run (ctl, run);
        }
    }
  if (!g_str_equal (state, "done"))
    {
      fprintf (stderr, "stewardctl: run %s %s%s%s\n", wait->id, state,
               last_error ? ": " : "", last_error ? last_error : "");
      return ST_CLI_EXIT_FAILURE;
    }
  if (failed > 0)
    {
      fprintf (stderr,
               "stewardctl: run %s: %" G_GINT64_FORMAT " targets failed; 'stewardctl campaign "
               "show %s' shows the errors\n",
               wait->id, failed, wait->id);
      return ST_CLI_EXIT_FAILURE;
    }
  return ST_CLI_EXIT_OK;
}

static void
print_started (StCtl *ctl, const char *id, const char *path, gboolean dry_run)
{
  if (ctl->json)
    {
      /* A builder, not a GVariantDict, so that id comes first. */
      g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
      g_autoptr (GVariant) record = NULL;

      g_variant_builder_add (&builder, "{sv}", "id",
                             g_variant_new_int64 (g_ascii_strtoll (id, NULL, 10)));
      g_variant_builder_add (&builder, "{sv}", "path", g_variant_new_string (path));
      record = g_variant_ref_sink (g_variant_builder_end (&builder));
      st_cli_print_json (record);
    }
  else
    printf ("Run %s started%s: %s\n", id, dry_run ? " (dry run)" : "", path);
}

int
st_cli_campaign_run (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  gboolean dry_run = FALSE, wait_end = FALSE;
  const GOptionEntry entries[] = {
    { "dry-run", 0, 0, G_OPTION_ARG_NONE, &dry_run,
      "Write nothing; show what the run would do", NULL },
    { "wait", 0, 0, G_OPTION_ARG_NONE, &wait_end,
      "Follow the run to its end; exit 1 if it failed", NULL },
    { NULL },
  };
  g_auto (GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GVariant) reply = NULL, run = NULL;
  g_autofree char *path = NULL;
  StWait wait = { 0 };
  int status;

  status = st_cli_parse_command_line (ctl, command, entries, args, "NAME");
  if (status >= 0)
    return status;
  if (dry_run)
    g_variant_dict_insert (&options, "dry_run", "b", TRUE);
  reply = st_cli_call (ctl, ST_CLI_CAMPAIGNS_IFACE, "Run",
                       g_variant_new ("(s@a{sv})", (*args)[1], g_variant_dict_end (&options)),
                       "(o)", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(o)", &path);
  wait.id = g_strdup (strrchr (path, '/') + 1);
  if (!wait_end)
    {
      print_started (ctl, wait.id, path, dry_run);
      g_free (wait.id);
      return ST_CLI_EXIT_OK;
    }

  /* --json keeps stdout for the result: progress goes to a terminal on
   * stderr, if any. */
  wait.out = !ctl->json ? stdout : isatty (STDERR_FILENO) ? stderr : NULL;
  wait.tty = wait.out != NULL && isatty (fileno (wait.out));
  wait.shown_rank = 0;
  wait.shown_done = -1;
  wait.loop = g_main_loop_new (NULL, FALSE);
  run = follow (ctl, &wait, path, &status);
  if (run != NULL)
    status = report_end (ctl, &wait, run);
  g_main_loop_unref (wait.loop);
  g_free (wait.id);
  return status;
}
