/* stewardctl report backtest: does the health script find the customers
 * who leave? (Reports.Backtest; the method is docs/backtest.md.) */

#include "st-cli-report.h"

#include <math.h>

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
  return isnan (value) ? g_strdup ("n/a") : g_strdup_printf ("%.1f%%", 100 * value);
}

/* "2011-09-01 00:00 UTC": the cut-off is an instant in UTC, so it is shown so. */
static char *
format_cutoff (const char *iso)
{
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr (GDateTime) at = iso != NULL ? g_date_time_new_from_iso8601 (iso, utc) : NULL;

  return at != NULL ? g_date_time_format (at, "%Y-%m-%d %H:%M UTC") : g_strdup (iso);
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
  g_autofree char *recency_auc = format_auc (lookup_double (report, "recency_auc"));
  g_autofree char *top = format_percent (lookup_double (report, "top_decile_precision"));
  g_autofree char *recency_top
      = format_percent (lookup_double (report, "recency_top_decile_precision"));
  g_autofree char *base = format_percent (lookup_double (report, "base_rate"));
  g_autofree char *first_failure = st_cli_lookup_text_or (report, "first_failure", "?");

  g_variant_lookup (report, "horizon_days", "u", &horizon);
  st_cli_block_take (block, "Script", st_cli_lookup_text (report, "script"));
  st_cli_block_take (block, "Cut-off", format_cutoff (cutoff));
  st_cli_block_take (block, "Horizon", g_strdup_printf ("%u days", horizon));
  st_cli_block_take (block, "Customers",
                     g_strdup_printf ("%" G_GINT64_FORMAT " (%" G_GINT64_FORMAT
                                      " did not buy again: base rate %s)",
                                      customers, lookup_int (report, "churned"), base));
  st_cli_block_take (block, "AUC", g_strdup_printf ("%s (recency alone: %s)", auc,
                                                    recency_auc));
  st_cli_block_take (block, "Top-decile precision",
                     g_strdup_printf ("%s of the %" G_GINT64_FORMAT
                                      " riskiest did not buy again (recency alone: %s)",
                                      top, lookup_int (report, "top_decile_size"),
                                      recency_top));
  if (unscored > 0)
    st_cli_block_take (block, "Not scored",
                       g_strdup_printf ("%" G_GINT64_FORMAT " (the script set no health)",
                                        unscored));
  if (failed > 0)
    st_cli_block_take (block, "Failed",
                       g_strdup_printf ("%" G_GINT64_FORMAT " (first: %s)", failed,
                                        first_failure));
  st_cli_block_take (block, "Warning", st_cli_lookup_text (report, "warning"));
  st_cli_block_take (block, "Took",
                     g_strdup_printf ("%.1f s", lookup_double (report, "seconds")));
  text = st_cli_block_render (block);
  st_cli_out (text);
}

/* The factors as the daemon ranks them: the most telling alone first. */
static void
print_factors (GVariant *report)
{
  g_autoptr (GVariant) factors = g_variant_lookup_value (report, "factors",
                                                         G_VARIANT_TYPE ("aa{sv}"));
  g_autoptr (StCliTable) table = NULL;
  g_autofree char *text = NULL;
  GVariantIter iter;
  GVariant *factor;

  if (factors == NULL || g_variant_n_children (factors) == 0)
    return;
  table = st_cli_table_new ((const char *[]){ "FACTOR", "AUC ALONE", "MEAN", NULL });
  g_variant_iter_init (&iter, factors);
  while ((factor = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *name = st_cli_lookup_text (factor, "name");
      g_autofree char *auc = format_auc (lookup_double (factor, "auc"));
      double mean = lookup_double (factor, "mean");
      g_autofree char *mean_text = isnan (mean) ? NULL : g_strdup_printf ("%+.1f", mean);

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
  reply = g_dbus_connection_call_sync (ctl->bus, ST_BACKTEST_BUS_NAME, ST_BACKTEST_PATH,
                                       ST_CLI_REPORTS_IFACE, "Backtest", parameters,
                                       G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                                       ST_BACKTEST_TIMEOUT_MS, NULL, &error);
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
      "Score the customers as they were at this date (2011-09-01: midnight UTC)", "DATE" },
    { "horizon", 0, 0, G_OPTION_ARG_FILENAME, &horizon_text,
      "Count as lost who did not buy again within this many days after it", "DAYS" },
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
    return st_cli_usage_error (command, "--horizon: %s (the number of days, e.g. 90)",
                               error->message);
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
