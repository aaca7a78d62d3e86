/* stewardctl event add and timeline: recording what happened to a customer
 * and reading it back, with the stage changes, newest first. */

#include "st-cli-event.h"

#include "st-cli-input.h"
#include "st-cli-output.h"

int
st_cli_event_add (StCtl *ctl, const StCliCommand *command, GStrv *args)
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

  status = st_cli_parse_command_line (ctl, command, entries, args, "ID|REF KIND");
  if (status >= 0)
    return status;
  kind = (*args)[2];

  if (at != NULL)
    {
      g_autoptr (GDateTime) time = st_cli_parse_time (at, ctl->local, &error);
      g_autofree char *utc = NULL;

      if (time == NULL)
        return st_cli_usage_error (command, "--at: %s", error->message);
      utc = st_cli_format_utc (time);
      g_variant_dict_insert (&options, "at", "s", utc);
    }
  if (amount_text != NULL)
    {
      double amount;

      if (!st_cli_parse_amount (amount_text, &amount, &error))
        return st_cli_usage_error (command, "--amount: %s", error->message);
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
            return st_cli_usage_error (command, "--data: %s", error->message);
          g_variant_builder_add (&payload, "{sv}", k, st_cli_coerce_value (v));
        }
      g_variant_dict_insert_value (&options, "data", g_variant_builder_end (&payload));
    }

  reply = st_cli_call (ctl, ST_CLI_CUSTOMERS_IFACE, "RecordEvent",
                       g_variant_new ("(ss@a{sv})", (*args)[1], kind,
                                      g_variant_dict_end (&options)),
                       "(a{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &event);
  if (ctl->json)
    {
      st_cli_print_json (event);
      return ST_CLI_EXIT_OK;
    }

  event_id = st_cli_lookup_text_or (event, "id", "?");
  customer_id = st_cli_lookup_text_or (event, "customer_id", (*args)[1]);
  g_variant_lookup (event, "duplicate", "b", &duplicate);
  if (duplicate)
    {
      g_autofree char *event_key = st_cli_lookup_text_or (event, "key", key != NULL ? key : "?");

      printf ("Already recorded: event %s (key %s)\n", event_id, event_key);
    }
  else
    printf ("Recorded %s event %s for customer %s\n", kind, event_id, customer_id);
  return ST_CLI_EXIT_OK;
}

/* WHAT and DETAIL of one timeline entry. */
static void
describe_entry (GVariant *entry, char **what, char **detail)
{
  g_autofree char *type = st_cli_lookup_text (entry, "type");
  g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);

  if (g_strcmp0 (type, "stage") == 0)
    {
      g_autofree char *from = st_cli_lookup_text (entry, "from");
      g_autofree char *to = st_cli_lookup_text (entry, "to");
      g_autofree char *actor = st_cli_lookup_text (entry, "actor");
      g_autofree char *reason = st_cli_lookup_text (entry, "reason");
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
      g_autofree char *key = st_cli_lookup_text (entry, "key");
      g_autofree char *data = st_cli_lookup_text (entry, "data");

      if (amount != NULL)
        {
          g_autofree char *text = st_cli_format_amount (g_variant_get_double (amount));

          g_ptr_array_add (parts, g_strdup_printf ("amount %s", text));
        }
      if (key != NULL && *key != '\0')
        g_ptr_array_add (parts, g_strdup_printf ("key %s", key));
      if (data != NULL && *data != '\0')
        g_ptr_array_add (parts, g_steal_pointer (&data));
      *what = st_cli_lookup_text (entry, "kind");
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

int
st_cli_timeline (StCtl *ctl, const StCliCommand *command, GStrv *args)
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

  status = st_cli_parse_command_line (ctl, command, entries, args, "ID|REF");
  if (status >= 0)
    return status;
  {
    guint32 limit;

    status = st_cli_take_limit (command, limit_text, &options, &limit);
    if (status >= 0)
      return status;
  }

  reply = st_cli_call (ctl, ST_CLI_CUSTOMERS_IFACE, "Timeline",
                       g_variant_new ("(s@a{sv})", (*args)[1], g_variant_dict_end (&options)),
                       "(aa{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@aa{sv})", &entries_value);
  if (ctl->json)
    {
      st_cli_print_json (entries_value);
      return ST_CLI_EXIT_OK;
    }

  table = st_cli_table_new ((const char *[]){ "WHEN", "WHAT", "DETAIL", NULL });
  g_variant_iter_init (&iter, entries_value);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *at = st_cli_lookup_text (entry, "at");
      g_autofree char *when = at != NULL ? st_cli_local_time (ctl, at) : NULL;
      g_autofree char *what = NULL;
      g_autofree char *detail = NULL;

      describe_entry (entry, &what, &detail);
      st_cli_table_add_row (table, (const char *[]){ when, what, detail });
      g_variant_unref (entry);
    }
  if (st_cli_table_get_n_rows (table) == 0)
    {
      printf ("Nothing in the timeline of customer %s yet.\n", (*args)[1]);
      return ST_CLI_EXIT_OK;
    }
  text = st_cli_table_render (table);
  st_cli_out (text);
  return ST_CLI_EXIT_OK;
}
