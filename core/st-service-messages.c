/* The Messages interface (List, Get, Retry): the outbox for people, over
 * st-messages.c. */

#include "st-service-private.h"

#include "st-customers.h"
#include "st-error.h"
#include "st-messages.h"

/* A record as the reply tuple "(a{sv})" (taking @record), or NULL. */
static GVariant *
reply_message (GVariant *record)
{
  GVariant *reply;

  if (record == NULL)
    return NULL;
  reply = g_variant_new ("(@a{sv})", record);
  g_variant_unref (record);
  return reply;
}

GVariant *
st_service_message_list (StCall *call, GVariant *params, GError **error)
{
  g_autoptr (GVariant) filter = g_variant_get_child_value (params, 0);
  g_autoptr (GVariant) customer = g_variant_lookup_value (filter, "customer",
                                                          NULL);
  StStore *store = st_call_store (call, error);
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (filter);
  g_autoptr (GVariant) resolved = NULL;

  if (store == NULL)
    return NULL;
  if (customer != NULL
      && !g_variant_is_of_type (customer, G_VARIANT_TYPE_STRING))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "customer: expected a string (an id or a ref), not %s",
                   g_variant_get_type_string (customer));
      return NULL;
    }
  /* Clients name customers as everywhere else; the store wants the id. */
  if (customer != NULL)
    {
      gint64 id;
      gboolean found;

      if (!st_store_begin (store, error))
        return NULL;
      found = st_customers_resolve (store, g_variant_get_string (customer,
                                                                 NULL),
                                    FALSE, &id, error);
      st_store_rollback (store);
      if (!found)
        return NULL;
      g_variant_dict_remove (&dict, "customer");
      g_variant_dict_insert (&dict, "customer_id", "x", id);
    }
  else if (g_variant_dict_contains (&dict, "customer_id"))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "filter: unknown key 'customer_id'; give the customer as "
                   "'customer' (s: an id or a ref)");
      return NULL;
    }
  resolved = g_variant_ref_sink (g_variant_dict_end (&dict));
  return st_reply_list (st_messages_list (store, resolved, error));
}

GVariant *
st_service_message_get (StCall *call, GVariant *params, GError **error)
{
  StStore *store = st_call_store (call, error);
  gint64 id;

  if (store == NULL)
    return NULL;
  g_variant_get (params, "(x)", &id);
  return reply_message (st_messages_get (store, id, error));
}

GVariant *
st_service_message_retry (StCall *call, GVariant *params, GError **error)
{
  g_autofree char *actor = st_call_actor (call);
  StStore *store = st_call_store (call, error);
  gint64 id;

  if (store == NULL)
    return NULL;
  g_variant_get (params, "(x)", &id);
  return reply_message (st_messages_retry (store, id, actor, error));
}
