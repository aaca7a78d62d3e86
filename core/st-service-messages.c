/* The Messages interface (List, Get, Retry): the outbox for people, over
 * st-messages.c. */

#include "st-service-private.h"

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
  StStore *store = st_call_store (call, error);
  g_autoptr (GVariant) resolved = NULL;

  if (store == NULL)
    return NULL;
  /* The id is the store's business: clients name the customer. */
  if (!g_variant_lookup (filter, "customer", "*", NULL)
      && g_variant_lookup (filter, "customer_id", "*", NULL))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "filter: unknown key 'customer_id'; give the customer as "
                   "'customer' (s: an id or a ref)");
      return NULL;
    }
  resolved = st_call_filter_by_id (store, filter, error);
  if (resolved == NULL)
    return NULL;
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
