/* stewardctl report: backtest, does the health script find the customers
 * who leave? (Reports.Backtest; the method is docs/backtest.md); funnel,
 * health and nps, what account managers read about their customers
 * (Reports.Funnel, Health, Nps). */

#include "st-cli-report.h"

#include <math.h>
#include <string.h>

#include "st-cli-input.h"
#include "st-cli-output.h"

/* A backtest scores every customer: let it take its time (an hour at
 * most) rather than the bus's default 25 seconds. */
#define ST_BACKTEST_TIMEOUT_MS (60 * 60 * 1000)
#define ST_BACKTEST_BUS_NAME "org.steward.Steward1"
#define ST_BACKTEST_PATH "/org/steward/Steward1"

static double
lookup_double (GVariant *record, const char *key)
{
  double value = NAN;

  g_variant_lookup (record, key, "d", &value);
  return value;
}

static gint64
lookup_int (GVariant *record, const char *key)
{
  gint64 value = 0;

  g_variant_lookup (record, key, "x", &value);
  return value;
}

/* "0.801", or "n/a" for a figure the daemon left out. */
static char *
format_auc (double value)
{
  return isnan (value) ? g_strdup ("n/a") : g_strdup_printf ("%.3f", value);
}

static char *
format_percent (double value)
{
  return isnan (value) ? g_strdup ("n/a")
                       : g_strdup_printf ("%.1f%%", 100 * value);
}

/* "2011-09-01 00:00 UTC": the cut-off is an instant in UTC, so it is shown
 * so. */
static char *
format_cutoff (const char *iso)
{
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr (GDateTime) at
      = iso != NULL ? g_date_time_new_from_iso8601 (iso, utc) : NULL;

  return at != NULL ? g_date_time_format (at, "%Y-%m-%d %H:%M UTC")
                    : g_strdup (iso);
}

static void
print_summary (GVariant *report)
{
  g_autoptr (StCliBlock) block = st_cli_block_new ();
  g_autofree char *cutoff = st_cli_lookup_text (report, "cutoff");
  g_autofree char *text = NULL;
  gint64 customers = lookup_int (report, "customers");
  gint64 unscored = lookup_int (report, "unscored");
  gint64 failed = lookup_int (report, "failed");
  guint32 horizon = 0;
  g_autofree char *auc = format_auc (lookup_double (report, "auc"));
  g_autofree char *recency_auc
      = format_auc (lookup_double (report, "recency_auc"));
  g_autofree char *top
      = format_percent (lookup_double (report, "top_decile_precision"));
  g_autofree char *recency_top
      = format_percent (lookup_double (report, "recency_top_decile_precision"));
  g_autofree char *base = format_percent (lookup_double (report, "base_rate"));
  g_autofree char *first_failure
      = st_cli_lookup_text_or (report, "first_failure", "?");

  g_variant_lookup (report, "horizon_days", "u", &horizon);
  st_cli_block_take (block, "Script", st_cli_lookup_text (report, "script"));
  st_cli_block_take (block, "Cut-off", format_cutoff (cutoff));
  st_cli_block_take (block, "Horizon", g_strdup_printf ("%u days", horizon));
  st_cli_block_take (block, "Customers",
                     g_strdup_printf ("%" G_GINT64_FORMAT " (%" G_GINT64_FORMAT
                                      " did not buy again: base rate %s)",
                                      customers, lookup_int (report, "churned"),
                                      base));
  st_cli_block_take (
      block, "AUC",
      g_strdup_printf ("%s (recency alone: %s)", auc, recency_auc));
  st_cli_block_take (
      block, "Top-decile precision",
      g_strdup_printf ("%s of the %" G_GINT64_FORMAT
                       " riskiest did not buy again (recency alone: %s)",
                       top, lookup_int (report, "top_decile_size"),
                       recency_top));
  if (unscored > 0)
    st_cli_block_take (block, "Not scored",
                       g_strdup_printf ("%" G_GINT64_FORMAT
                                        " (the script set no health)",
                                        unscored));
  if (failed > 0)
    st_cli_block_take (block, "Failed",
                       g_strdup_printf ("%" G_GINT64_FORMAT " (first: %s)",
                                        failed, first_failure));
  st_cli_block_take (block, "Warning", st_cli_lookup_text (report, "warning"));
  st_cli_block_take (
      block, "Took",
      g_strdup_printf ("%.1f s", lookup_double (report, "seconds")));
  text = st_cli_block_render (block);
  st_cli_out (text);
}

/* The factors as the daemon ranks them: the most telling alone first. */
static void
print_factors (GVariant *report)
{
  g_autoptr (GVariant) factors
      = g_variant_lookup_value (report, "factors", G_VARIANT_TYPE ("aa{sv}"));
  g_autoptr (StCliTable) table = NULL;
  g_autofree char *text = NULL;
  GVariantIter iter;
  GVariant *factor;

  if (factors == NULL || g_variant_n_children (factors) == 0)
    return;
  table = st_cli_table_new (
      (const char *[]){ "FACTOR", "AUC ALONE", "MEAN", NULL });
  g_variant_iter_init (&iter, factors);
  while ((factor = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *name = st_cli_lookup_text (factor, "name");
      g_autofree char *auc = format_auc (lookup_double (factor, "auc"));
      double mean = lookup_double (factor, "mean");
      g_autofree char *mean_text
          = isnan (mean) ? NULL : g_strdup_printf ("%+.1f", mean);

      st_cli_table_add_row (table, (const char *[]){ name, auc, mean_text });
      g_variant_unref (factor);
    }
  text = st_cli_table_render (table);
  st_cli_out ("\n");
  st_cli_out (text);
}

static GVariant *
call_backtest (StCtl *ctl, GVariant *parameters, int *status)
{
  g_autoptr (GError) error = NULL;
  GVariant *reply;

  if (!st_cli_connect (ctl, status))
    {
      g_variant_unref (g_variant_ref_sink (parameters));
      return NULL;
    }
  reply = g_dbus_connection_call_sync (
      ctl->bus, ST_BACKTEST_BUS_NAME, ST_BACKTEST_PATH, ST_CLI_REPORTS_IFACE,
      "Backtest", parameters, G_VARIANT_TYPE ("(a{sv})"),
      G_DBUS_CALL_FLAGS_NONE, ST_BACKTEST_TIMEOUT_MS, NULL, &error);
  if (reply == NULL)
    *status = st_cli_report_call_error (ctl, error, "Reports.Backtest");
  return reply;
}

int
st_cli_report_backtest (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autofree char *cutoff = NULL, *horizon_text = NULL, *script = NULL;
  const GOptionEntry entries[] = {
    { "cutoff", 0, 0, G_OPTION_ARG_FILENAME, &cutoff,
      "Score the customers as they were at this date (2011-09-01: "
      "midnight UTC)", "DATE" },
    { "horizon", 0, 0, G_OPTION_ARG_FILENAME, &horizon_text,
      "Count as lost who did not buy again within this many days after it",
      "DAYS" },
    { "script", 0, 0, G_OPTION_ARG_FILENAME, &script,
      "Score with this script rather than health", "NAME" },
    { NULL },
  };
  g_auto (GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) report = NULL;
  guint32 horizon;
  int status;

  status = st_cli_parse_command_line (ctl, command, entries, args, "");
  if (status >= 0)
    return status;
  if (cutoff == NULL)
    return st_cli_usage_error (command, "--cutoff DATE is required");
  if (horizon_text == NULL)
    return st_cli_usage_error (command, "--horizon DAYS is required");
  if (!st_cli_parse_count (horizon_text, &horizon, &error))
    return st_cli_usage_error (
        command, "--horizon: %s (the number of days, e.g. 90)", error->message);
  if (script != NULL)
    g_variant_dict_insert (&options, "script", "s", script);

  reply = call_backtest (ctl,
                         g_variant_new ("(su@a{sv})", cutoff, horizon,
                                        g_variant_dict_end (&options)),
                         &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &report);
  if (ctl->json)
    st_cli_print_json (report);
  else
    {
      print_summary (report);
      print_factors (report);
    }
  return ST_CLI_EXIT_OK;
}

/* report funnel | health | nps: what they share ------------------------- */

/* The options that narrow a report to some customers and a period, as
 * given on the command line (SCOPE_FILTER_ENTRIES and, for funnel and
 * nps, SCOPE_PERIOD_ENTRIES). */
typedef struct
{
  char *since, *days, *owner, *tag;
} Scope;

static void
scope_clear (Scope *scope)
{
  g_free (scope->since);
  g_free (scope->days);
  g_free (scope->owner);
  g_free (scope->tag);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Scope, scope_clear)

/* @scope read into the call's options. Returns -1 to go on, else the
 * usage exit status. */
static int
take_scope (StCtl *ctl, const StCliCommand *command, const Scope *scope,
            GVariantDict *options)
{
  g_autoptr (GError) error = NULL;

  if (scope->since != NULL && scope->days != NULL)
    return st_cli_usage_error (command,
                               "--since and --days both set the start of the "
                               "period; give one of them");
  if (scope->since != NULL)
    {
      g_autoptr (GDateTime) since
          = st_cli_parse_time (scope->since, ctl->local, &error);
      g_autofree char *utc = NULL;

      if (since == NULL)
        return st_cli_usage_error (command, "--since: %s", error->message);
      utc = st_cli_format_utc (since);
      g_variant_dict_insert (options, "since", "s", utc);
    }
  if (scope->days != NULL)
    {
      guint32 days;

      if (!st_cli_parse_count (scope->days, &days, &error))
        return st_cli_usage_error (
            command, "--days: %s (the length of the period, e.g. 30)",
            error->message);
      g_variant_dict_insert (options, "days", "u", days);
    }
  if (scope->owner != NULL)
    g_variant_dict_insert (options, "owner", "s", scope->owner);
  if (scope->tag != NULL)
    g_variant_dict_insert (options, "tag", "s", scope->tag);
  return -1;
}

#define SCOPE_FILTER_ENTRIES(scope)                                          \
  { "owner", 0, 0, G_OPTION_ARG_FILENAME, &(scope).owner,                    \
    "Only the customers of this account manager", "U" },                     \
  { "tag", 0, 0, G_OPTION_ARG_FILENAME, &(scope).tag,                        \
    "Only the customers with this tag", "T" }

#define SCOPE_PERIOD_ENTRIES(scope, default_days)                            \
  { "since", 0, 0, G_OPTION_ARG_FILENAME, &(scope).since,                    \
    "Start the period at this time (2026-01-01: local midnight)",            \
    "ISO-8601" },                                                            \
  { "days", 0, 0, G_OPTION_ARG_FILENAME, &(scope).days,                      \
    "Start the period N days ago (default " #default_days ")", "N" }

/* The command line of a report, then the options it shares with the
 * others into @options. Returns -1 to go on, else the exit status. */
static int
parse_report (StCtl *ctl, const StCliCommand *command,
              const GOptionEntry *entries, GStrv *args, const Scope *scope,
              GVariantDict *options)
{
  int status = st_cli_parse_command_line (ctl, command, entries, args, "");

  if (status >= 0)
    return status;
  return take_scope (ctl, command, scope, options);
}

typedef void (*PrintReport) (StCtl *ctl, GVariant *report);

/* Calls Reports.@method with @options and prints the report: as JSON, or
 * with @print. Returns the exit status. */
static int
show_report (StCtl *ctl, const char *method, GVariantDict *options,
             PrintReport print)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) report = NULL;
  int status;

  reply = st_cli_call (ctl, ST_CLI_REPORTS_IFACE, method,
                       g_variant_new ("(@a{sv})", g_variant_dict_end (options)),
                       "(a{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &report);
  if (ctl->json)
    st_cli_print_json (report);
  else
    print (ctl, report);
  return ST_CLI_EXIT_OK;
}

/* "2026-10-25 12:00:00 CET to 2026-11-24 12:00:00 CET" */
static char *
format_period (StCtl *ctl, GVariant *report)
{
  g_autofree char *since = st_cli_lookup_text (report, "since");
  g_autofree char *until = st_cli_lookup_text (report, "until");
  g_autofree char *since_local = st_cli_local_time (ctl, since ? since : "?");
  g_autofree char *until_local = st_cli_local_time (ctl, until ? until : "?");

  return g_strdup_printf ("%s to %s", since_local, until_local);
}

static char *
format_count (gint64 value)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, value);
}

static void
print_block (StCliBlock *block)
{
  g_autofree char *text = st_cli_block_render (block);

  st_cli_out (text);
}

static void
print_table (StCliTable *table)
{
  g_autofree char *text = st_cli_table_render (table);

  st_cli_out ("\n");
  st_cli_out (text);
}

/* report funnel ------------------------------------------------------------ */

/* "onboarding 6 (50%), churned 1 (8%)" */
static char *
format_next (GVariant *stage)
{
  g_autoptr (GVariant) next
      = g_variant_lookup_value (stage, "next", G_VARIANT_TYPE ("aa{sv}"));
  g_autoptr (GString) text = g_string_new (NULL);
  GVariantIter iter;
  GVariant *move;

  if (next == NULL)
    return NULL;
  g_variant_iter_init (&iter, next);
  while ((move = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *name = st_cli_lookup_text (move, "stage");

      g_string_append_printf (text, "%s%s %" G_GINT64_FORMAT " (%.0f%%)",
                              text->len ? ", " : "", name,
                              lookup_int (move, "customers"),
                              100 * lookup_double (move, "share"));
      g_variant_unref (move);
    }
  return text->len ? g_strdup (text->str) : NULL;
}

static void
print_funnel (StCtl *ctl, GVariant *report)
{
  g_autoptr (StCliBlock) block = st_cli_block_new ();
  g_autoptr (GVariant) stages
      = g_variant_lookup_value (report, "stages", G_VARIANT_TYPE ("aa{sv}"));
  g_autoptr (StCliTable) table = st_cli_table_new ((const char *[]){
      "STAGE", "NOW", "ENTERED", "STAYED", "MOVED ON TO", NULL });
  GVariantIter iter;
  GVariant *stage;

  st_cli_block_take (block, "Period", format_period (ctl, report));
  st_cli_block_take (block, "Customers",
                     format_count (lookup_int (report, "customers")));
  print_block (block);
  if (stages == NULL)
    return;
  g_variant_iter_init (&iter, stages);
  while ((stage = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *name = st_cli_lookup_text (stage, "stage");
      g_autofree char *now = format_count (lookup_int (stage, "customers"));
      g_autofree char *entered = format_count (lookup_int (stage, "entered"));
      g_autofree char *stayed = format_count (lookup_int (stage, "stayed"));
      g_autofree char *next = format_next (stage);
      gboolean configured = TRUE;

      g_variant_lookup (stage, "configured", "b", &configured);
      if (!configured)
        {
          g_autofree char *plain = g_steal_pointer (&name);
          name = g_strdup_printf ("%s (not configured)", plain);
        }
      st_cli_table_add_row (
          table, (const char *[]){ name, now, entered, stayed, next });
      g_variant_unref (stage);
    }
  print_table (table);
}

int
st_cli_report_funnel (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_auto (Scope) scope = { 0 };
  const GOptionEntry entries[] = {
    SCOPE_PERIOD_ENTRIES (scope, 30),
    SCOPE_FILTER_ENTRIES (scope),
    { NULL },
  };
  g_auto (GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  int status;

  status = parse_report (ctl, command, entries, args, &scope, &options);
  if (status >= 0)
    return status;
  return show_report (ctl, "Funnel", &options, print_funnel);
}

/* report health ------------------------------------------------------------ */

static void
print_health_summary (GVariant *report)
{
  g_autoptr (StCliBlock) block = st_cli_block_new ();
  gint64 customers = lookup_int (report, "customers");
  gint64 unscored = lookup_int (report, "unscored");

  st_cli_block_take (block, "Customers",
                     g_strdup_printf ("%" G_GINT64_FORMAT " (%" G_GINT64_FORMAT
                                      " scored, %" G_GINT64_FORMAT " not yet)",
                                      customers, lookup_int (report, "scored"),
                                      unscored));
  st_cli_block_take (
      block, "Score",
      g_strdup_printf (
          "mean %.1f, median %" G_GINT64_FORMAT ", lowest %" G_GINT64_FORMAT
          ", highest %" G_GINT64_FORMAT,
          lookup_double (report, "mean"), lookup_int (report, "median"),
          lookup_int (report, "min"), lookup_int (report, "max")));
  st_cli_block_take (
      block, "Percentiles",
      g_strdup_printf ("p10 %" G_GINT64_FORMAT ", p25 %" G_GINT64_FORMAT
                       ", p75 %" G_GINT64_FORMAT ", p90 %" G_GINT64_FORMAT,
                       lookup_int (report, "p10"), lookup_int (report, "p25"),
                       lookup_int (report, "p75"), lookup_int (report, "p90")));
  print_block (block);
}

static void
print_health_levels (GVariant *report)
{
  g_autoptr (GVariant) levels
      = g_variant_lookup_value (report, "levels", G_VARIANT_TYPE ("aa{sv}"));
  g_autoptr (StCliTable) table = st_cli_table_new ((const char *[]){
      "RISK", "CUSTOMERS", "SHARE", "MEAN SCORE", "RANGE", NULL });
  GVariantIter iter;
  GVariant *level;

  g_variant_iter_init (&iter, levels);
  while ((level = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *name
          = st_cli_lookup_text_or (level, "risk_level", "(none)");
      g_autofree char *count = format_count (lookup_int (level, "customers"));
      g_autofree char *share = format_percent (lookup_double (level, "share"));
      g_autofree char *mean
          = g_strdup_printf ("%.1f", lookup_double (level, "mean_score"));
      g_autofree char *range = g_strdup_printf (
          "%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT,
          lookup_int (level, "min_score"), lookup_int (level, "max_score"));

      st_cli_table_add_row (
          table, (const char *[]){ name, count, share, mean, range });
      g_variant_unref (level);
    }
  print_table (table);
}

static void
print_health_buckets (GVariant *report)
{
  g_autoptr (GVariant) buckets
      = g_variant_lookup_value (report, "buckets", G_VARIANT_TYPE ("aa{sv}"));
  g_autoptr (StCliTable) table = st_cli_table_new (
      (const char *[]){ "SCORE", "CUSTOMERS", "SHARE", NULL });
  gint64 scored = MAX (lookup_int (report, "scored"), 1);
  GVariantIter iter;
  GVariant *bucket;

  g_variant_iter_init (&iter, buckets);
  while ((bucket = g_variant_iter_next_value (&iter)) != NULL)
    {
      gint64 count = lookup_int (bucket, "customers");
      g_autofree char *range = g_strdup_printf (
          "%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT,
          lookup_int (bucket, "min_score"), lookup_int (bucket, "max_score"));
      g_autofree char *text = format_count (count);
      /* A bar of up to 40 marks, one at least for a bucket not empty. */
      gsize marks = count ? MAX (1, (gsize) (40 * count / scored)) : 0;
      g_autofree char *bar = g_strnfill (marks, '#');
      g_autofree char *share
          = g_strdup_printf ("%5.1f%% %s", 100.0 * count / scored, bar);

      st_cli_table_add_row (table, (const char *[]){ range, text, share });
      g_variant_unref (bucket);
    }
  print_table (table);
}

static void
print_health_factors (GVariant *report)
{
  g_autoptr (GVariant) factors
      = g_variant_lookup_value (report, "factors", G_VARIANT_TYPE ("aa{sv}"));
  g_autofree char *risk = st_cli_lookup_text (report, "risk");
  g_autoptr (StCliTable) table = NULL;
  g_autofree char *heading = NULL, *text = NULL;
  GVariantIter iter;
  GVariant *factor;

  if (g_variant_n_children (factors) == 0)
    return;
  heading = g_strdup_printf ("\nWhat weighs on the %" G_GINT64_FORMAT
                             " customers at %s risk (most first):\n",
                             lookup_int (report, "risk_customers"), risk);
  st_cli_out (heading);
  table = st_cli_table_new (
      (const char *[]){ "FACTOR", "MEAN", "PULLS DOWN", NULL });
  g_variant_iter_init (&iter, factors);
  while ((factor = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *name = st_cli_lookup_text (factor, "name");
      g_autofree char *mean
          = g_strdup_printf ("%+.1f", lookup_double (factor, "mean"));
      g_autofree char *down = g_strdup_printf (
          "%" G_GINT64_FORMAT " of %" G_GINT64_FORMAT,
          lookup_int (factor, "negative"), lookup_int (factor, "customers"));

      st_cli_table_add_row (table, (const char *[]){ name, mean, down });
      g_variant_unref (factor);
    }
  text = st_cli_table_render (table);
  st_cli_out (text);
}

/* The factor pulling the score down most: "recency -31.2". */
static char *
worst_factor (GVariant *customer)
{
  g_autoptr (GVariant) factors = g_variant_lookup_value (
      customer, "health_factors", G_VARIANT_TYPE_VARDICT);
  const char *worst = NULL;
  double lowest = 0;
  GVariantIter iter;
  const char *name;
  GVariant *value;

  if (factors == NULL)
    return NULL;
  g_variant_iter_init (&iter, factors);
  while (g_variant_iter_next (&iter, "{&sv}", &name, &value))
    {
      double number = g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE)
                          ? g_variant_get_double (value)
                      : g_variant_is_of_type (value, G_VARIANT_TYPE_INT64)
                          ? (double) g_variant_get_int64 (value)
                          : 0;

      if (number < lowest
          || (number == lowest && worst != NULL && strcmp (name, worst) < 0))
        worst = name, lowest = number;
      g_variant_unref (value);
    }
  return worst ? g_strdup_printf ("%s %+.1f", worst, lowest) : NULL;
}

static void
print_health_lowest (GVariant *report)
{
  g_autoptr (GVariant) lowest
      = g_variant_lookup_value (report, "lowest", G_VARIANT_TYPE ("aa{sv}"));
  g_autoptr (StCliTable) table = st_cli_table_new (
      (const char *[]){ "ID", "REF", "NAME", "OWNER", "STAGE", "HEALTH", "RISK",
                        "WORST FACTOR", NULL });
  g_autofree char *text = NULL;
  GVariantIter iter;
  GVariant *customer;

  st_cli_out ("\nLowest scores:\n");
  g_variant_iter_init (&iter, lowest);
  while ((customer = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *id = st_cli_lookup_text (customer, "id");
      g_autofree char *ref = st_cli_lookup_text (customer, "ref");
      g_autofree char *name = st_cli_lookup_text (customer, "name");
      g_autofree char *owner = st_cli_lookup_text (customer, "owner");
      g_autofree char *stage = st_cli_lookup_text (customer, "stage");
      g_autofree char *score = st_cli_lookup_text (customer, "health_score");
      g_autofree char *risk = st_cli_lookup_text (customer, "risk_level");
      g_autofree char *worst = worst_factor (customer);
      g_autofree char *shown = st_cli_truncate (name ? name : "", 30);

      st_cli_table_add_row (
          table,
          (const char *[]){ id, ref, shown, owner, stage, score, risk, worst });
      g_variant_unref (customer);
    }
  text = st_cli_table_render (table);
  st_cli_out (text);
}

static void
print_health (StCtl *ctl, GVariant *report)
{
  (void) ctl;
  if (lookup_int (report, "scored") == 0)
    {
      g_autofree char *text = g_strdup_printf (
          "No health scores yet among the %" G_GINT64_FORMAT
          " customers: the health script sets them as events are recorded.\n",
          lookup_int (report, "customers"));
      st_cli_out (text);
      return;
    }
  print_health_summary (report);
  print_health_levels (report);
  print_health_buckets (report);
  print_health_factors (report);
  print_health_lowest (report);
}

int
st_cli_report_health (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_auto (Scope) scope = { 0 };
  g_autofree char *risk = NULL, *limit_text = NULL;
  const GOptionEntry entries[] = {
    SCOPE_FILTER_ENTRIES (scope),
    { "risk", 0, 0, G_OPTION_ARG_FILENAME, &risk,
      "Rank the factors of the customers at this risk level (default high)",
      "LEVEL" },
    { "limit", 0, 0, G_OPTION_ARG_FILENAME, &limit_text,
      "Show the N lowest-scoring customers (default 10)", "N" },
    { NULL },
  };
  g_auto (GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  guint32 limit;
  int status;

  status = parse_report (ctl, command, entries, args, &scope, &options);
  if (status >= 0)
    return status;
  status = st_cli_take_limit (command, limit_text, &options, &limit);
  if (status >= 0)
    return status;
  if (risk != NULL)
    g_variant_dict_insert (&options, "risk", "s", risk);
  return show_report (ctl, "Health", &options, print_health);
}

/* report nps --------------------------------------------------------------- */

/* "+25", "-100", "0": NPS is read as a whole number. */
static char *
format_nps (double value)
{
  long rounded = lround (value);

  return rounded > 0 ? g_strdup_printf ("+%ld", rounded)
                     : g_strdup_printf ("%ld", rounded);
}

static char *
format_part (GVariant *report, const char *count_key, const char *share_key)
{
  g_autofree char *share = format_percent (lookup_double (report, share_key));

  return g_strdup_printf ("%" G_GINT64_FORMAT " (%s)",
                          lookup_int (report, count_key), share);
}

static void
print_nps_months (GVariant *report)
{
  g_autoptr (GVariant) months
      = g_variant_lookup_value (report, "months", G_VARIANT_TYPE ("aa{sv}"));
  g_autoptr (StCliTable) table = NULL;
  GVariantIter iter;
  GVariant *month;

  if (months == NULL)
    return;
  table = st_cli_table_new ((const char *[]){ "MONTH", "RESPONSES", "PROMOTERS",
                                              "PASSIVES", "DETRACTORS", "NPS",
                                              NULL });
  g_variant_iter_init (&iter, months);
  while ((month = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *name = st_cli_lookup_text (month, "month");
      g_autofree char *responses
          = format_count (lookup_int (month, "responses"));
      g_autofree char *promoters
          = format_count (lookup_int (month, "promoters"));
      g_autofree char *passives = format_count (lookup_int (month, "passives"));
      g_autofree char *detractors
          = format_count (lookup_int (month, "detractors"));
      g_autofree char *nps = format_nps (lookup_double (month, "nps"));

      st_cli_table_add_row (table,
                            (const char *[]){ name, responses, promoters,
                                              passives, detractors, nps });
      g_variant_unref (month);
    }
  print_table (table);
}

static void
print_nps (StCtl *ctl, GVariant *report)
{
  g_autoptr (StCliBlock) block = st_cli_block_new ();
  gint64 responses = lookup_int (report, "responses");
  gboolean per_customer = FALSE;

  g_variant_lookup (report, "per_customer", "b", &per_customer);
  st_cli_block_take (block, "Period", format_period (ctl, report));
  if (responses == 0)
    {
      st_cli_block_add (block, "Responses",
                        "none: no NPS survey was recorded in the period");
      print_block (block);
      return;
    }
  st_cli_block_take (block, "NPS", format_nps (lookup_double (report, "nps")));
  st_cli_block_take (
      block, "Responses",
      g_strdup_printf ("%" G_GINT64_FORMAT " from %" G_GINT64_FORMAT
                       " customers%s",
                       responses, lookup_int (report, "customers"),
                       per_customer ? " (each customer's latest)" : ""));
  st_cli_block_take (block, "Promoters",
                     format_part (report, "promoters", "promoters_share"));
  st_cli_block_take (block, "Passives",
                     format_part (report, "passives", "passives_share"));
  st_cli_block_take (block, "Detractors",
                     format_part (report, "detractors", "detractors_share"));
  st_cli_block_take (
      block, "Mean score",
      g_strdup_printf ("%.1f", lookup_double (report, "mean_score")));
  print_block (block);
  print_nps_months (report);
}

int
st_cli_report_nps (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_auto (Scope) scope = { 0 };
  gboolean monthly = FALSE, per_customer = FALSE;
  const GOptionEntry entries[] = {
    SCOPE_PERIOD_ENTRIES (scope, 90),
    SCOPE_FILTER_ENTRIES (scope),
    { "monthly", 0, 0, G_OPTION_ARG_NONE, &monthly,
      "Add a line per calendar month (UTC)", NULL },
    { "per-customer", 0, 0, G_OPTION_ARG_NONE, &per_customer,
      "Count only each customer's latest response in the period", NULL },
    { NULL },
  };
  g_auto (GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  int status;

  status = parse_report (ctl, command, entries, args, &scope, &options);
  if (status >= 0)
    return status;
  if (monthly)
    g_variant_dict_insert (&options, "by_month", "b", TRUE);
  if (per_customer)
    g_variant_dict_insert (&options, "per_customer", "b", TRUE);
  return show_report (ctl, "Nps", &options, print_nps);
}
