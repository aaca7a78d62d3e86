/* stewardctl alert list|ack: what an account manager must look at (the
 * Alerts calls), and saying it has been looked at. */

#include "st-cli-alert.h"

#include "st-cli-input.h"
#include "st-cli-output.h"

/* List's default page size, from the D-Bus API. */
#define ST_ALERT_LIST_DEFAULT_LIMIT 100

/* The MESSAGE column is cut to this many columns; --json has it whole. */
#define ST_ALERT_MESSAGE_WIDTH 60

static const StCliField alert_fields[] = {
  { "id", "ID", ST_CLI_FIELD_TEXT },
  { "state", "State", ST_CLI_FIELD_TEXT },
  { "severity", "Severity", ST_CLI_FIELD_TEXT },
  { "customer_id", "Customer", ST_CLI_FIELD_TEXT },
  { "kind", "Kind", ST_CLI_FIELD_TEXT },
  { "message", "Message", ST_CLI_FIELD_TEXT },
  { "data", "Data", ST_CLI_FIELD_TEXT },
  { "source", "Source", ST_CLI_FIELD_TEXT },
  { "count", "Count", ST_CLI_FIELD_TEXT },
  { "first_raised_at", "First raised", ST_CLI_FIELD_TIME },
  { "last_raised_at", "Last raised", ST_CLI_FIELD_TIME },
  { "acknowledged_by", "Acknowledged by", ST_CLI_FIELD_TEXT },
  { "acknowledged_at", "Acknowledged", ST_CLI_FIELD_TIME },
  { "note", "Note", ST_CLI_FIELD_TEXT },
  { NULL },
};

int
st_cli_alert_list (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  gboolean open = FALSE;
  g_autofree char *customer = NULL, *kind = NULL, *limit_text = NULL;
  const GOptionEntry entries[] = {
    { "open", 0, 0, G_OPTION_ARG_NONE, &open, "Only the alerts not acknowledged yet", NULL },
    { "customer", 0, 0, G_OPTION_ARG_FILENAME, &customer, "Only the alerts of this customer",
      "ID|REF" },
    { "kind", 0, 0, G_OPTION_ARG_FILENAME, &kind,
      "Only the alerts of this kind (churn_risk, delivery_failed...)", "K" },
    { "limit", 0, 0, G_OPTION_ARG_FILENAME, &limit_text, "At most N alerts (default 100)",
      "N" },
    { NULL },
  };
  g_auto (GVariantDict) filter = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GVariant) alerts = NULL;
  g_autoptr (StCliTable) table = NULL;
  guint32 limit = ST_ALERT_LIST_DEFAULT_LIMIT;
  GVariantIter iter;
  GVariant *alert;
  int status;

  status = st_cli_parse_command_line (ctl, command, entries, args, "");
  if (status >= 0)
    return status;
  status = st_cli_take_limit (command, limit_text, &filter, &limit);
  if (status >= 0)
    return status;
  if (open)
    g_variant_dict_insert (&filter, "open", "b", TRUE);
  st_cli_filter_add (&filter, "customer", customer);
  st_cli_filter_add (&filter, "kind", kind);
  alerts = st_cli_list_call (ctl, ST_CLI_ALERTS_IFACE, "List", &filter, &status);
  if (alerts == NULL)
    return status;

  table = st_cli_table_new ((const char *[]){ "ID", "WHEN", "SEVERITY", "CUSTOMER", "KIND",
                                              "COUNT", "STATE", "MESSAGE", NULL });
  g_variant_iter_init (&iter, alerts);
  while ((alert = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *id = st_cli_lookup_text (alert, "id");
      g_autofree char *at = st_cli_lookup_text (alert, "last_raised_at");
      g_autofree char *when = at != NULL ? st_cli_local_time (ctl, at) : NULL;
      g_autofree char *severity = st_cli_lookup_text (alert, "severity");
      g_autofree char *customer_id = st_cli_lookup_text (alert, "customer_id");
      g_autofree char *alert_kind = st_cli_lookup_text (alert, "kind");
      g_autofree char *count = st_cli_lookup_text (alert, "count");
      g_autofree char *state = st_cli_lookup_text (alert, "state");
      g_autofree char *raw = st_cli_lookup_text_or (alert, "message", "");
      g_autofree char *line = st_cli_one_line (raw);
      g_autofree char *message = st_cli_truncate (line, ST_ALERT_MESSAGE_WIDTH);

      st_cli_table_add_row (table, (const char *[]){ id, when, severity, customer_id,
                                                     alert_kind, count, state, message });
      g_variant_unref (alert);
    }
  return st_cli_list_print (table, limit,
                            open || customer != NULL || kind != NULL ? "No alerts match.\n"
                                                                     : "No alerts.\n");
}

int
st_cli_alert_ack (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autofree char *note = NULL;
  const GOptionEntry entries[] = {
    { "note", 0, 0, G_OPTION_ARG_FILENAME, &note,
      "What was done, kept with the alert (2000 characters at most)", "TEXT" },
    { NULL },
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) alert = NULL;
  g_autofree char *shown_id = NULL;
  gint64 id;
  int status;

  status = st_cli_parse_command_line (ctl, command, entries, args, "ID");
  if (status >= 0)
    return status;
  if (!st_cli_parse_id ((*args)[1], &id, &error))
    return st_cli_usage_error (command, "ID: %s", error->message);

  reply = st_cli_call (ctl, ST_CLI_ALERTS_IFACE, "Acknowledge",
                       g_variant_new ("(xs)", id, note != NULL ? note : ""), "(a{sv})",
                       &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &alert);
  if (ctl->json)
    {
      st_cli_print_json (alert);
      return ST_CLI_EXIT_OK;
    }
  shown_id = st_cli_lookup_text_or (alert, "id", (*args)[1]);
  printf ("Acknowledged alert %s\n\n", shown_id);
  st_cli_print_record (ctl, alert, alert_fields);
  return ST_CLI_EXIT_OK;
}
