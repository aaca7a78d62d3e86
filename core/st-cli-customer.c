/* stewardctl customer add|show|list|edit|stage: the Customers calls that
 * create, read and change one customer or find several. */

#include "st-cli-customer.h"

#include "st-cli-input.h"
#include "st-cli-output.h"

/* Find's default page size, from the D-Bus API. */
#define ST_FIND_DEFAULT_LIMIT 100

static const StCliField customer_fields[] = {
  { "id", "ID", ST_CLI_FIELD_TEXT },
  { "ref", "Ref", ST_CLI_FIELD_TEXT },
  { "name", "Name", ST_CLI_FIELD_TEXT },
  { "email", "Email", ST_CLI_FIELD_TEXT },
  { "phone", "Phone", ST_CLI_FIELD_TEXT },
  { "stage", "Stage", ST_CLI_FIELD_TEXT },
  { "stage_since", "Stage since", ST_CLI_FIELD_TIME },
  { "owner", "Owner", ST_CLI_FIELD_TEXT },
  { "locale", "Locale", ST_CLI_FIELD_TEXT },
  { "tz", "Time zone", ST_CLI_FIELD_TEXT },
  { "tags", "Tags", ST_CLI_FIELD_TEXT },
  { "attrs", "Attributes", ST_CLI_FIELD_TEXT },
  { "purchase_count", "Purchases", ST_CLI_FIELD_TEXT },
  { "revenue", "Revenue", ST_CLI_FIELD_AMOUNT },
  { "first_purchase_at", "First purchase", ST_CLI_FIELD_TIME },
  { "last_purchase_at", "Last purchase", ST_CLI_FIELD_TIME },
  { "event_count", "Events", ST_CLI_FIELD_TEXT },
  { "last_event_at", "Last event", ST_CLI_FIELD_TIME },
  { "last_contact_at", "Last contact", ST_CLI_FIELD_TIME },
  { "open_tickets", "Open tickets", ST_CLI_FIELD_TEXT },
  { "last_nps", "Last NPS", ST_CLI_FIELD_TEXT },
  { "health_score", "Health", ST_CLI_FIELD_HEALTH },
  { "risk_level", "Risk", ST_CLI_FIELD_RISK },
  { "health_factors", "Health factors", ST_CLI_FIELD_FACTORS },
  { "health_updated_at", "Health updated", ST_CLI_FIELD_TIME },
  { "created_at", "Created", ST_CLI_FIELD_TIME },
  { "updated_at", "Updated", ST_CLI_FIELD_TIME },
  { NULL },
};

/* A customer after a change: one line saying what happened, then the record;
 * with --json only the record. */
static void
print_changed_customer (StCtl *ctl, GVariant *record, const char *headline)
{
  if (ctl->json)
    {
      st_cli_print_json (record);
      return;
    }
  st_cli_out (headline);
  st_cli_out ("\n\n");
  st_cli_print_record (ctl, record, customer_fields);
}

/* ---- customer fields (add, edit) ---- */

typedef struct
{
  char *name, *email, *phone, *ref, *owner, *locale, *tz;
  char **tags, **untags, **attrs;
} StFieldOptions;

static void
st_field_options_clear (StFieldOptions *o)
{
  g_free (o->name);
  g_free (o->email);
  g_free (o->phone);
  g_free (o->ref);
  g_free (o->owner);
  g_free (o->locale);
  g_free (o->tz);
  g_strfreev (o->tags);
  g_strfreev (o->untags);
  g_strfreev (o->attrs);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (StFieldOptions, st_field_options_clear)

/* The options of `customer add`, and for @edit those of `customer edit`. */
static GArray *
field_entries (StFieldOptions *o, gboolean edit)
{
  GArray *entries = g_array_new (TRUE, TRUE, sizeof (GOptionEntry));
  const GOptionEntry common[] = {
    { "name", 0, 0, G_OPTION_ARG_FILENAME, &o->name,
      edit ? "New name" : "Name of the person or account (required)", "NAME" },
    { "email", 0, 0, G_OPTION_ARG_FILENAME, &o->email, "E-mail address", "E" },
    { "phone", 0, 0, G_OPTION_ARG_FILENAME, &o->phone, "Phone number", "P" },
    { "ref", 0, 0, G_OPTION_ARG_FILENAME, &o->ref,
      "External reference, unique (e.g. the billing system's id)", "REF" },
    { "owner", 0, 0, G_OPTION_ARG_FILENAME, &o->owner, "Account manager", "USER" },
    { "locale", 0, 0, G_OPTION_ARG_FILENAME, &o->locale, "Language, e.g. fr or en-GB", "fr" },
    { "tz", 0, 0, G_OPTION_ARG_FILENAME, &o->tz, "Time zone, e.g. Europe/Paris",
      "Europe/Paris" },
    { "tag", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->tags,
      edit ? "Add a tag (repeatable)" : "Tag (repeatable)", "T" },
    { "attr", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->attrs,
      edit ? "Set an attribute; k= (empty) removes it (repeatable)"
           : "Attribute, a string (repeatable)",
      "k=v" },
  };
  const GOptionEntry untag = { "untag", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->untags,
                               "Remove a tag (repeatable)", "T" };

  g_array_append_vals (entries, common, G_N_ELEMENTS (common));
  if (edit)
    g_array_append_val (entries, untag);
  return entries;
}

/* Puts the given fields in @dict. Create leaves empty optional values out;
 * Update sends them, since there an empty string clears the field. Returns FALSE
 * after reporting a usage error. */
static gboolean
build_fields (const StCliCommand *command, StFieldOptions *o, gboolean edit, GVariantDict *dict)
{
  const struct
  {
    const char *key;
    const char *value;
  } strings[] = {
    { "name", o->name },     { "email", o->email },   { "phone", o->phone }, { "ref", o->ref },
    { "owner", o->owner },   { "locale", o->locale }, { "tz", o->tz },
  };

  /* name is never left out, so that an empty one meets the daemon's check */
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    if (strings[i].value != NULL && (edit || i == 0 || *strings[i].value != '\0'))
      g_variant_dict_insert (dict, strings[i].key, "s", strings[i].value);

  if (o->tags != NULL)
    g_variant_dict_insert_value (dict, edit ? "add_tags" : "tags",
                                 g_variant_new_strv ((const char *const *) o->tags, -1));
  if (o->untags != NULL)
    g_variant_dict_insert_value (dict, "remove_tags",
                                 g_variant_new_strv ((const char *const *) o->untags, -1));
  if (o->attrs != NULL)
    {
      g_auto (GVariantDict) attrs = G_VARIANT_DICT_INIT (NULL);
      g_autoptr (GVariant) value = NULL;

      for (guint i = 0; o->attrs[i] != NULL; i++)
        {
          g_autoptr (GError) error = NULL;
          g_autofree char *k = NULL;
          g_autofree char *v = NULL;

          if (!st_cli_parse_kv (o->attrs[i], &k, &v, &error))
            {
              st_cli_usage_error (command, "--attr: %s", error->message);
              return FALSE;
            }
          /* the last one wins; Create leaves empty ones out */
          if (edit || *v != '\0')
            g_variant_dict_insert (&attrs, k, "s", v);
          else
            g_variant_dict_remove (&attrs, k);
        }
      value = g_variant_ref_sink (g_variant_dict_end (&attrs));
      if (g_variant_n_children (value) > 0)
        g_variant_dict_insert_value (dict, "attrs", value);
    }
  return TRUE;
}

/* ---- the commands ---- */

int
st_cli_customer_add (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_auto (StFieldOptions) o = { 0 };
  g_autoptr (GArray) entries = field_entries (&o, FALSE);
  g_auto (GVariantDict) fields = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) record = NULL;
  g_autofree char *id = NULL;
  g_autofree char *headline = NULL;
  int status;

  status = st_cli_parse_command_line (ctl, command, (GOptionEntry *) entries->data, args, "");
  if (status >= 0)
    return status;
  if (o.name == NULL)
    return st_cli_usage_error (command, "--name is required");
  if (!build_fields (command, &o, FALSE, &fields))
    return ST_CLI_EXIT_USAGE;

  reply = st_cli_call (ctl, ST_CLI_CUSTOMERS_IFACE, "Create",
                       g_variant_new ("(@a{sv})", g_variant_dict_end (&fields)), "(a{sv})",
                       &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &record);
  id = st_cli_lookup_text_or (record, "id", "?");
  headline = g_strdup_printf ("Created customer %s", id);
  print_changed_customer (ctl, record, headline);
  return ST_CLI_EXIT_OK;
}

int
st_cli_customer_show (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) record = NULL;
  int status;

  status = st_cli_parse_command_line (ctl, command, NULL, args, "ID|REF");
  if (status >= 0)
    return status;

  reply = st_cli_call (ctl, ST_CLI_CUSTOMERS_IFACE, "Get", g_variant_new ("(s)", (*args)[1]),
                       "(a{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &record);
  if (ctl->json)
    st_cli_print_json (record);
  else
    st_cli_print_record (ctl, record, customer_fields);
  return ST_CLI_EXIT_OK;
}

int
st_cli_customer_list (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autofree char *stage = NULL, *owner = NULL, *tag = NULL, *limit_text = NULL;
  const GOptionEntry entries[] = {
    { "stage", 0, 0, G_OPTION_ARG_FILENAME, &stage, "Only customers in this stage", "S" },
    { "owner", 0, 0, G_OPTION_ARG_FILENAME, &owner, "Only customers of this account manager",
      "U" },
    { "tag", 0, 0, G_OPTION_ARG_FILENAME, &tag, "Only customers with this tag", "T" },
    { "limit", 0, 0, G_OPTION_ARG_FILENAME, &limit_text, "At most N customers (default 100)",
      "N" },
    { NULL },
  };
  g_auto (GVariantDict) filter = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GVariant) customers = NULL;
  g_autoptr (StCliTable) table = NULL;
  guint32 limit = ST_FIND_DEFAULT_LIMIT;
  GVariantIter iter;
  GVariant *record;
  int status;

  status = st_cli_parse_command_line (ctl, command, entries, args, "");
  if (status >= 0)
    return status;
  status = st_cli_take_limit (command, limit_text, &filter, &limit);
  if (status >= 0)
    return status;
  st_cli_filter_add (&filter, "stage", stage);
  st_cli_filter_add (&filter, "owner", owner);
  st_cli_filter_add (&filter, "tag", tag);
  customers = st_cli_list_call (ctl, ST_CLI_CUSTOMERS_IFACE, "Find", &filter, &status);
  if (customers == NULL)
    return status;

  table = st_cli_table_new ((const char *[]){ "ID", "REF", "NAME", "EMAIL", "STAGE", "OWNER",
                                              NULL });
  g_variant_iter_init (&iter, customers);
  while ((record = g_variant_iter_next_value (&iter)) != NULL)
    {
      static const char *const keys[] = { "id", "ref", "name", "email", "stage", "owner" };
      char *cells[G_N_ELEMENTS (keys)];

      for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
        cells[i] = st_cli_lookup_text (record, keys[i]);
      st_cli_table_add_row (table, (const char *const *) cells);
      for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
        g_free (cells[i]);
      g_variant_unref (record);
    }
  return st_cli_list_print (table, limit, "No customers match.\n");
}

int
st_cli_customer_edit (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_auto (StFieldOptions) o = { 0 };
  g_autoptr (GArray) entries = field_entries (&o, TRUE);
  g_auto (GVariantDict) fields = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GVariant) field_values = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) record = NULL;
  g_autofree char *id = NULL;
  g_autofree char *headline = NULL;
  int status;

  status = st_cli_parse_command_line (ctl, command, (GOptionEntry *) entries->data, args, "ID|REF");
  if (status >= 0)
    return status;
  if (!build_fields (command, &o, TRUE, &fields))
    return ST_CLI_EXIT_USAGE;
  field_values = g_variant_ref_sink (g_variant_dict_end (&fields));
  if (g_variant_n_children (field_values) == 0)
    return st_cli_usage_error (command, "nothing to change; give at least one of --name, --email, "
                                        "--phone, --ref, --owner, --locale, --tz, --tag, --untag, "
                                        "--attr");

  reply = st_cli_call (ctl, ST_CLI_CUSTOMERS_IFACE, "Update",
                       g_variant_new ("(s@a{sv})", (*args)[1], field_values), "(a{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &record);
  id = st_cli_lookup_text_or (record, "id", (*args)[1]);
  headline = g_strdup_printf ("Updated customer %s", id);
  print_changed_customer (ctl, record, headline);
  return ST_CLI_EXIT_OK;
}

int
st_cli_customer_stage (StCtl *ctl, const StCliCommand *command, GStrv *args)
{
  g_autofree char *reason = NULL;
  const GOptionEntry entries[] = {
    { "reason", 0, 0, G_OPTION_ARG_FILENAME, &reason, "Why, kept in the customer's timeline",
      "TEXT" },
    { NULL },
  };
  g_autoptr (GVariant) before = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) record = NULL;
  g_autofree char *from = NULL;
  g_autofree char *to = NULL;
  g_autofree char *id = NULL;
  g_autofree char *headline = NULL;
  int status;

  status = st_cli_parse_command_line (ctl, command, entries, args, "ID|REF STAGE");
  if (status >= 0)
    return status;

  /* Only for the message: SetStage replies with the customer as it is now. */
  if (!ctl->json)
    {
      before = st_cli_call (ctl, ST_CLI_CUSTOMERS_IFACE, "Get", g_variant_new ("(s)", (*args)[1]),
                            "(a{sv})", &status);
      if (before == NULL)
        return status;
      g_variant_get (before, "(@a{sv})", &record);
      from = st_cli_lookup_text (record, "stage");
      g_clear_pointer (&record, g_variant_unref);
    }

  reply = st_cli_call (ctl, ST_CLI_CUSTOMERS_IFACE, "SetStage",
                       g_variant_new ("(sss)", (*args)[1], (*args)[2],
                                      reason != NULL ? reason : ""),
                       "(a{sv})", &status);
  if (reply == NULL)
    return status;
  g_variant_get (reply, "(@a{sv})", &record);
  id = st_cli_lookup_text_or (record, "id", (*args)[1]);
  to = st_cli_lookup_text_or (record, "stage", (*args)[2]);
  if (from == NULL || g_str_equal (from, to))
    headline = g_strdup_printf ("Customer %s is in %s", id, to);
  else
    headline = g_strdup_printf ("Customer %s moved from %s to %s", id, from, to);
  print_changed_customer (ctl, record, headline);
  return ST_CLI_EXIT_OK;
}
