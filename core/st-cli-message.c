/* stewardctl message list|show|retry: the outbox (the Messages calls) —
 * what was sent, what waits and why, what could not be delivered — and
 * putting a message back to be delivered again. */

#include "st-cli-message.h"

#include <string.h>

#include "st-cli-input.h"
#include "st-cli-output.h"

/* List's default page size, from the D-Bus API. */
#define ST_MESSAGE_LIST_DEFAULT_LIMIT 100

/* The DETAIL column is cut to this many columns; show and --json have it
 * whole. */
#define ST_MESSAGE_DETAIL_WIDTH 60

static const char *const message_states[] = { "pending", "retry", "sent", "dead", "suppressed",
                                              NULL };

static const StCliField message_fields[] = {
  { "id", "ID", ST_CLI_FIELD_TEXT },
  { "customer_id", "Customer", ST_CLI_FIELD_TEXT },
  { "channel", "Channel", ST_CLI_FIELD_TEXT },
  { "key", "Key", ST_CLI_FIELD_TEXT },
  { "state", "State", ST_CLI_FIELD_TEXT },
  { "attempts", "Attempts", ST_CLI_FIELD_TEXT },
  { "held_reason", "Held", ST_CLI_FIELD_TEXT },
  { "last_error", "Last error", ST_CLI_FIELD_TEXT },
  { "due_at", "Due", ST_CLI_FIELD_TIME },
  { "sent_at", "Sent", ST_CLI_FIELD_TIME },
  { "created_at", "Created", ST_CLI_FIELD_TIME },
  { "script", "Script", ST_CLI_FIELD_TEXT },
  { "template", "Template", ST_CLI_FIELD_TEXT },
  { "locale", "Locale", ST_CLI_FIELD_TEXT },
  { "recipient", "Recipient", ST_CLI_FIELD_TEXT },
  { "subject", "Subject", ST_CLI_FIELD_TEXT },
  { "data", "Data", ST_CLI_FIELD_TEXT },
  { "html", "HTML", ST_CLI_FIELD_TEXT },
  { "body", "Body", ST_CLI_FIELD_TEXT },
  /* Retry's reply: said in its first lines. */
  { "previous_state", NULL, ST_CLI_FIELD_TEXT },
  { "acknowledged_alert", NULL, ST_CLI_FIELD_TEXT },
  { NULL },
};

/* The message as a block; the HTML, which is long, only as its size
 * (--json has it whole). Fields without a label are left out. */
static void
print_message (StCtl *ctl, GVariant *message)
{
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (message);
  g_autoptr (GVariant) html = g_variant_lookup_value (message, "html", G_VARIANT_TYPE_STRING);
  g_autoptr (GVariant) shown = NULL;
  StCliField fields[G_N_ELEMENTS (message_fields)];
  guint n = 0;

  if (html != NULL)
    {
      gsize size = strlen (g_variant_get_string (html, NULL));

      g_variant_dict_insert_value (&dict, "html",
                                   g_variant_new_take_string (g_strdup_printf (
                                     "%" G_GSIZE_FORMAT " bytes (--json shows it)", size)));
    }
  for (const StCliField *f = message_fields; f->key != NULL; f++)
    if (f->label == NULL)
      g_variant_dict_remove (&dict, f->key);
    else
      fields[n++] = *f;
  fields[n] = (StCliField){ NULL };
  shown = g_variant_ref_sink (g_variant_dict_end (&dict));
  st_cli_print_record (ctl, shown, fields);
}

/* What the DETAIL column says: why it failed, else why it waits, else its
 * subject. */
static char *
message_detail (GVariant *message)
{
  g_autofree char *state = st_cli_lookup_text_or (message, "state", "");
  char *text = NULL;

  if (g_str_equal (state, "dead") || g_str_equal (state, "retry"))
    text = st_cli_lookup_text (message, "last_error");
  if (text == NULL && !g_str_equal (state, "sent"))
    text = st_cli_lookup_text (message, "held_reason");
  if (text == NULL)
    text = st_cli_lookup_text (message, "subject");
  return text;
}

int
st_cli_message_list (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autofree char *customer = NULL, *state = NULL, *channel = NULL, *limit_text = NULL;
  const GOptionEntry entries[] = {
    { "customer", 0, 0, G_OPTION_ARG_FILENAME, &customer, "Only the messages of this customer",
      "ID|REF" },
    { "state", 0, 0, G_OPTION_ARG_FILENAME, &state,
      "Only this state: pending, retry, sent, dead or suppressed", "S" },
    { "channel", 0, 0, G_OPTION_ARG_FILENAME, &channel, "Only the messages of this channel",
      "C" },
    { "limit", 0, 0, G_OPTION_ARG_FILENAME, &limit_text, "At most N messages (default 100)",
      "N" },
    { NULL },
  };
  g_auto (GVariantDict) filter = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GVariant) messages = NULL;
  g_autoptr (StCliTable) table = NULL;
  guint32 limit = ST_MESSAGE_LIST_DEFAULT_LIMIT;
  GVariantIter iter;
  GVariant *message;
  int status;

  status = st_cli_parse_command_line (ctl, command, entries, args, "");
  if (status >= 0)
    return status;
  status = st_cli_take_limit (command, limit_text, &filter, &limit);
  if (status >= 0)
    return status;
  if (state != NULL && !g_strv_contains (message_states, state))
    return st_cli_usage_error (command, "--state: '%s' is not a message state; use pending, "
                               "retry, sent, dead or suppressed", state);
  st_cli_filter_add (&filter, "customer", customer);
  st_cli_filter_add (&filter, "state", state);
  st_cli_filter_add (&filter, "channel", channel);
  messages = st_cli_list_call (ctl, ST_CLI_MESSAGES_IFACE, "List", &filter, &status);
  if (messages == NULL)
    return status;

  table = st_cli_table_new ((const char *[]){ "ID", "CREATED", "CUSTOMER", "CHANNEL", "KEY",
                                              "STATE", "TRIES", "DETAIL", NULL });
  g_variant_iter_init (&iter, messages);
  while ((message = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *id = st_cli_lookup_text (message, "id");
      g_autofree char *at = st_cli_lookup_text (message, "created_at");
      g_autofree char *when = at != NULL ? st_cli_local_time (ctl, at) : NULL;
      g_autofree char *customer_id = st_cli_lookup_text (message, "customer_id");
      g_autofree char *message_channel = st_cli_lookup_text (message, "channel");
      g_autofree char *key = st_cli_lookup_text (message, "key");
      g_autofree char *message_state = st_cli_lookup_text (message, "state");
      g_autofree char *attempts = st_cli_lookup_text (message, "attempts");
      g_autofree char *raw = message_detail (message);
      g_autofree char *line = raw != NULL ? st_cli_one_line (raw) : NULL;
      g_autofree char *detail = line != NULL ? st_cli_truncate (line, ST_MESSAGE_DETAIL_WIDTH)
                                             : NULL;

      st_cli_table_add_row (table, (const char *[]){ id, when, customer_id, message_channel, key,
                                                     message_state, attempts, detail });
      g_variant_unref (message);
    }
  return st_cli_list_print (table, limit,
                            customer != NULL || state != NULL || channel != NULL
                                ? "No messages match.\n"
                                : "No messages.\n");
}

/* The ID argument of show and retry; -1 when fine, else the exit status. */
static int
take_id (StCtl *ctl, const StCliCommand *command, GStrv *args, gint64 *id)
{
  g_autoptr (GError) error = NULL;
  int status = st_cli_parse_command_line (ctl, command, NULL, args, "ID");

  if (status >= 0)
    return status;
  if (!st_cli_parse_id ((*args)[1], id, &error))
    return st_cli_usage_error (command, "ID: %s", error->message);
  return -1;
}

int
st_cli_message_show (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) message = NULL;
  gint64 id;
  int status;

  status = take_id (ctl, command, args, &id);
  if (status >= 0)
    return status;
  reply = st_cli_call (ctl, ST_CLI_MESSAGES_IFACE, "Get", g_variant_new ("(x)", id), "(a{sv})",
                       &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &message);
  if (ctl->json)
    st_cli_print_json (message);
  else
    print_message (ctl, message);
  return ST_CLI_EXIT_OK;
}

int
st_cli_message_retry (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) message = NULL;
  g_autofree char *previous = NULL, *alert = NULL;
  gint64 id;
  int status;

  status = take_id (ctl, command, args, &id);
  if (status >= 0)
    return status;
  reply = st_cli_call (ctl, ST_CLI_MESSAGES_IFACE, "Retry", g_variant_new ("(x)", id),
                       "(a{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &message);
  if (ctl->json)
    {
      st_cli_print_json (message);
      return ST_CLI_EXIT_OK;
    }
  previous = st_cli_lookup_text_or (message, "previous_state", "?");
  alert = st_cli_lookup_text (message, "acknowledged_alert");
  printf ("Message %" G_GINT64_FORMAT " is due again now (it was %s); quiet hours, "
          "frequency caps and rate limits still apply\n", id, previous);
  if (alert != NULL)
    printf ("Acknowledged alert %s: no message of this customer is dead any more\n", alert);
  printf ("\n");
  print_message (ctl, message);
  return ST_CLI_EXIT_OK;
}
