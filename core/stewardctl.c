/* stewardctl: the command-line client of stewardd. It speaks D-Bus only:
 * each command reads its options, makes one call (two for `customer stage`,
 * which first reads the stage it moves from) and prints the reply for
 * people or, with --json, as JSON. Exit status: 0 ok, 1 failure, 2 usage.
 *
 * This file holds the command table, the dispatch from the words of the
 * command line to a command, and `status`; the other commands are
 * st-cli-<noun>.c (customer, event, alert, message, script), what they share
 * st-cli.c. */

#include <errno.h>
#include <gio/gio.h>
#include <stdio.h>

#include "st-cli-alert.h"
#include "st-cli-campaign.h"
#include "st-cli-customer.h"
#include "st-cli-event.h"
#include "st-cli-import.h"
#include "st-cli-message.h"
#include "st-cli-report.h"
#include "st-cli-schedule.h"
#include "st-cli-script.h"
#include "st-cli.h"
#include "st-error.h"

/* ---- status: the daemon itself ---- */

static const StCliField status_fields[] = {
  { "version", "Version", ST_CLI_FIELD_TEXT },
  { "schema_version", "Schema version", ST_CLI_FIELD_TEXT },
  { "database", "Database", ST_CLI_FIELD_TEXT },
  { "database_error", "Database error", ST_CLI_FIELD_TEXT },
  { "bus", "Bus", ST_CLI_FIELD_TEXT },
  { "workers", "Workers", ST_CLI_FIELD_TEXT },
  { "customers", "Customers", ST_CLI_FIELD_TEXT },
  { "events", "Events", ST_CLI_FIELD_TEXT },
  { "started_at", "Started", ST_CLI_FIELD_TIME },
  { "uptime_seconds", "Uptime", ST_CLI_FIELD_DURATION },
  { "config", "Config", ST_CLI_FIELD_TEXT },
  { "scheduler", "Scheduler", ST_CLI_FIELD_TEXT },
  { NULL },
};

static int
cmd_status (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) record = NULL;
  int status;

  status = st_cli_parse_command_line (ctl, command, NULL, args, "");
  if (status >= 0)
    return status;

  reply = st_cli_call (ctl, ST_CLI_MANAGER_IFACE, "Status", NULL, "(a{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &record);
  if (ctl->json)
    st_cli_print_json (record);
  else
    st_cli_print_record (ctl, record, status_fields);
  return ST_CLI_EXIT_OK;
}

/* ---- dispatch ---- */

static const StCliCommand commands[] = {
  { "customer", "add",
    "--name NAME [--email E] [--phone P] [--ref REF] [--owner USER] [--locale fr] "
    "[--tz Europe/Paris] [--tag T]... [--attr k=v]...",
    "Create a customer", st_cli_customer_add },
  { "customer", "show", "ID|REF", "Show a customer", st_cli_customer_show },
  { "customer", "list", "[--stage S] [--owner U] [--tag T] [--limit N]",
    "List customers, optionally only those of a stage, owner or tag", st_cli_customer_list },
  { "customer", "edit", "ID|REF [options of add] [--untag T]...",
    "Change a customer: --tag adds a tag, --untag removes one, --attr k= removes an "
    "attribute, an empty value (--email \"\") clears a field",
    st_cli_customer_edit },
  { "customer", "stage", "ID|REF STAGE [--reason TEXT]",
    "Move a customer to another stage of the lifecycle", st_cli_customer_stage },
  { "event", "add", "ID|REF KIND [--amount X] [--at ISO-8601] [--key KEY] [--data k=v]...",
    "Record something that happened to a customer (purchase, login, survey...)",
    st_cli_event_add },
  { "import", "customers", "FILE.csv [--map column=field]... [--date-format F] [--rejects FILE]",
    "Import customers from a CSV file (or - for standard input): new ones are created, "
    "existing ones (by ref, else e-mail) updated; see docs/import.md",
    st_cli_import_customers },
  { "import", "events",
    "FILE.csv [--map column=field]... [--kind KIND] [--kind-if KIND:COLUMN=PATTERN]... "
    "[--date-format F] [--rejects FILE]",
    "Import events from a CSV file (or -); customers named by ref are created when new; "
    "a row seen before (same key) is a duplicate; see docs/import.md",
    st_cli_import_events },
  { "timeline", NULL, "ID|REF [--limit N]",
    "Show a customer's events and stage changes, newest first", st_cli_timeline },
  { "campaign", "list", "", "List the campaigns (scheduled scripts), when each fires next and whom for",
    st_cli_campaign_list },
  { "campaign", "run", "NAME [--dry-run] [--wait]",
    "Run a campaign now; --dry-run writes nothing and shows what it would do, --wait follows "
    "the run to its end",
    st_cli_campaign_run },
  { "campaign", "runs", "[NAME] [--limit N]", "List the runs of a campaign, or of all, newest first",
    st_cli_campaign_runs },
  { "campaign", "show", "RUN",
    "Show a run: its state, counts and, once ended, what it did (samples, errors)",
    st_cli_campaign_show },
  { "campaign", "cancel", "RUN",
    "Cancel a run: no batch starts any more, those in progress finish (their messages "
    "stay), and the run ends as cancelled",
    st_cli_campaign_cancel },
  { "schedule", "next", "EXPR [--tz ZONE] [--from ISO-8601] [--count N]",
    "Show the next times a cron schedule fires (quote EXPR: '0 9 * * mon'); works without "
    "the daemon",
    st_cli_schedule_next },
  { "alert", "list", "[--open] [--customer ID|REF] [--kind K] [--limit N]",
    "List alerts, newest first: all of them, or with --open only those not acknowledged yet",
    st_cli_alert_list },
  { "alert", "ack", "ID [--note TEXT]",
    "Acknowledge an open alert; your user name and the note are kept with it",
    st_cli_alert_ack },
  { "message", "list", "[--customer ID|REF] [--state S] [--channel C] [--limit N]",
    "List outgoing messages, newest first: what was sent, what waits and why, what failed",
    st_cli_message_list },
  { "message", "show", "ID", "Show a message: its state, attempts, last error, times and text",
    st_cli_message_show },
  { "message", "retry", "ID",
    "Deliver a dead, waiting or suppressed message again now (never a sent one)",
    st_cli_message_retry },
  { "script", "list", "", "List the care scripts the daemon has loaded, and the broken ones",
    st_cli_script_list },
  { "script", "check", "FILE",
    "Check that a script file loads, without installing it; exit 1 when it is broken",
    st_cli_script_check },
  { "script", "reload", "", "Re-read the scripts folders and list the scripts now loaded",
    st_cli_script_reload },
  { "report", "funnel", "[--since ISO-8601 | --days N] [--owner U] [--tag T]",
    "How customers move through the stages: in each now, how many entered it in the period "
    "(default the last 30 days) and where they went next",
    st_cli_report_funnel },
  { "report", "health", "[--owner U] [--tag T] [--risk LEVEL] [--limit N]",
    "Health scores and risk levels now: their spread, what weighs on the customers at risk, "
    "the lowest scores",
    st_cli_report_health },
  { "report", "nps", "[--since ISO-8601 | --days N] [--owner U] [--tag T] [--monthly] "
    "[--per-customer]",
    "Net Promoter Score from the NPS surveys of the period (default the last 90 days)",
    st_cli_report_nps },
  { "report", "backtest", "--cutoff DATE --horizon DAYS [--script NAME]",
    "Check how well the health script ranks who leaves: score everyone as at DATE, compare "
    "with who did not buy again within DAYS",
    st_cli_report_backtest },
  { "status", NULL, "", "Show the daemon's version, database state and counts",
    cmd_status },
  { NULL },
};

static const StCliCommand *
find_command (const char *noun, const char *verb)
{
  for (const StCliCommand *c = commands; c->noun != NULL; c++)
    if (g_str_equal (c->noun, noun) && g_strcmp0 (c->verb, verb) == 0)
      return c;
  return NULL;
}

static gboolean
noun_has_verbs (const char *noun)
{
  for (const StCliCommand *c = commands; c->noun != NULL; c++)
    if (g_str_equal (c->noun, noun))
      return c->verb != NULL;
  return FALSE;
}

static gboolean
is_noun (const char *noun)
{
  for (const StCliCommand *c = commands; c->noun != NULL; c++)
    if (g_str_equal (c->noun, noun))
      return TRUE;
  return FALSE;
}

static int
run (StCtl *ctl, int argc, char **argv)
{
  const StCliCommand *command;
  const char *noun;
  const char *verb = NULL;
  g_auto (GStrv) args = NULL;
  GStrvBuilder *builder;
  int i = 1;

  for (int a = 1; a < argc; a++)
    if (!g_utf8_validate (argv[a], -1, NULL))
      return st_cli_usage_error (NULL, "argument %d is not valid UTF-8", a);

  while (i < argc && st_cli_take_global_flag (ctl, argv[i]))
    i++;
  if (i == argc)
    {
      if (ctl->help)
        {
          st_cli_print_top_help (stdout, commands);
          return ST_CLI_EXIT_OK;
        }
      return st_cli_usage_error (NULL, "no command given");
    }
  noun = argv[i++];
  if (noun[0] == '-')
    return st_cli_usage_error (NULL, "unknown option %s", noun);
  if (!is_noun (noun))
    return st_cli_usage_error (NULL, "unknown command '%s'", noun);

  if (noun_has_verbs (noun))
    {
      while (i < argc && st_cli_take_global_flag (ctl, argv[i]))
        i++;
      if (i == argc || argv[i][0] == '-')
        {
          if (ctl->help)
            {
              st_cli_print_noun_help (stdout, commands, noun);
              return ST_CLI_EXIT_OK;
            }
          fprintf (stderr, "stewardctl: %s: %s\n", noun,
                   i == argc ? "missing verb" : "a verb must come before the options");
          st_cli_print_noun_help (stderr, commands, noun);
          return ST_CLI_EXIT_USAGE;
        }
      verb = argv[i++];
      if (find_command (noun, verb) == NULL)
        {
          fprintf (stderr, "stewardctl: %s: unknown verb '%s'\n", noun, verb);
          st_cli_print_noun_help (stderr, commands, noun);
          return ST_CLI_EXIT_USAGE;
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
      return ST_CLI_EXIT_FAILURE;
    }
  return status;
}
