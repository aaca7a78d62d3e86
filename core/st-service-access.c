/* Who may call what: before a worker runs a method, the caller's Unix user
 * (as the bus daemon vouches for it) gets its role from the access section
 * of the configuration (st-access.c), which must reach the role the
 * dispatch table (st-service.c) gives the method; a manager restricted to
 * own customers (access.manager_scope: own) is further kept to the
 * customers whose owner they are. Callers are remembered per unique bus
 * name until they leave the bus. */

#include "st-service-private.h"

#include <string.h>

#include "st-alerts.h"
#include "st-customers.h"
#include "st-error.h"
#include "st-messages.h"
#include "st-record.h"

#define ST_IFACE_PREFIX "org.steward.Steward1."
/* Callers remembered at most; past it the cache starts again, so names
 * whose NameOwnerChanged was missed cannot pile up. */
#define ST_CALLERS_MAX 1024
/* How long the bus daemon may take to say who a caller is. */
#define ST_CREDENTIALS_TIMEOUT_MS 5000

struct _StCallers {
  GMutex lock;
  GHashTable *by_name; /* unique bus name → StCaller* */
  guint subscription;
};

StCallers *
st_callers_new (void)
{
  StCallers *callers = g_new0 (StCallers, 1);

  g_mutex_init (&callers->lock);
  callers->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify) st_caller_free);
  return callers;
}

void
st_callers_free (StCallers *callers)
{
  if (callers == NULL)
    return;
  g_hash_table_unref (callers->by_name);
  g_mutex_clear (&callers->lock);
  g_free (callers);
}

static void
on_name_owner_changed (GDBusConnection *connection, const char *sender,
                       const char *path, const char *interface,
                       const char *signal, GVariant *params,
                       gpointer user_data)
{
  StCallers *callers = user_data;
  const char *name, *old_owner, *new_owner;

  (void) connection, (void) sender, (void) path, (void) interface;
  (void) signal;
  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(sss)")))
    return;
  g_variant_get (params, "(&s&s&s)", &name, &old_owner, &new_owner);
  /* A unique name is never reused: once gone, it is gone. */
  if (name[0] == ':' && new_owner[0] == '\0')
    {
      g_mutex_lock (&callers->lock);
      g_hash_table_remove (callers->by_name, name);
      g_mutex_unlock (&callers->lock);
    }
}

void
st_callers_watch (StCallers *callers, GDBusConnection *connection)
{
  /* A peer connection has no bus daemon to tell who leaves. */
  if (g_dbus_connection_get_unique_name (connection) == NULL)
    return;
  callers->subscription = g_dbus_connection_signal_subscribe (
      connection, "org.freedesktop.DBus", "org.freedesktop.DBus",
      "NameOwnerChanged", "/org/freedesktop/DBus", NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_name_owner_changed, callers, NULL);
}

void
st_callers_unwatch (StCallers *callers, GDBusConnection *connection)
{
  if (callers->subscription != 0)
    g_dbus_connection_signal_unsubscribe (connection, callers->subscription);
  callers->subscription = 0;
}

/* The uid behind a peer-to-peer call: the socket's credentials. Without
 * them, asking again will not help: PERMISSION_DENIED. */
static gboolean
peer_uid (GDBusConnection *connection, guint32 *uid, GError **error)
{
  GCredentials *credentials =
      g_dbus_connection_get_peer_credentials (connection);
  g_autoptr (GError) local = NULL;
  uid_t found;

  if (credentials == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_PERMISSION_DENIED,
                   "the peer-to-peer connection carries no Unix "
                   "credentials, so the caller's role cannot be known; "
                   "call through a bus");
      return FALSE;
    }
  found = g_credentials_get_unix_user (credentials, &local);
  if (found == (uid_t) -1)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_PERMISSION_DENIED,
                   "the peer-to-peer connection's credentials carry no Unix "
                   "user (%s), so the caller's role cannot be known; call "
                   "through a bus",
                   local != NULL ? local->message : "no reason given");
      return FALSE;
    }
  *uid = found;
  return TRUE;
}

/* The uid behind the call: the bus daemon's word for a bus connection,
 * the socket's credentials for a peer-to-peer one. A bus daemon that does
 * not answer is UNAVAILABLE: the next call may well get through. */
static gboolean
call_uid (StCall *call, guint32 *uid, GError **error)
{
  GDBusConnection *connection =
      g_dbus_method_invocation_get_connection (call->invocation);
  const char *sender = g_dbus_method_invocation_get_sender (call->invocation);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) local = NULL;

  if (sender == NULL)
    return peer_uid (connection, uid, error);
  reply = g_dbus_connection_call_sync (
      connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
      "org.freedesktop.DBus", "GetConnectionUnixUser",
      g_variant_new ("(s)", sender), G_VARIANT_TYPE ("(u)"),
      G_DBUS_CALL_FLAGS_NONE, ST_CREDENTIALS_TIMEOUT_MS, NULL, &local);
  if (reply == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_UNAVAILABLE,
                   "the bus could not say which Unix user is calling (%s); "
                   "try again", local->message);
      return FALSE;
    }
  g_variant_get (reply, "(u)", uid);
  return TRUE;
}

/* The caller, from the cache or looked up (in this worker thread, never
 * the main loop: the bus and NSS may take their time). */
static StCaller *
call_caller (StCall *call, GError **error)
{
  StCallers *callers = call->service->callers;
  const char *sender = g_dbus_method_invocation_get_sender (call->invocation);
  StCaller *caller = NULL, *found;
  guint32 uid;

  if (sender != NULL)
    {
      g_mutex_lock (&callers->lock);
      found = g_hash_table_lookup (callers->by_name, sender);
      if (found != NULL)
        caller = st_caller_copy (found);
      g_mutex_unlock (&callers->lock);
      if (caller != NULL)
        return caller;
    }
  if (!call_uid (call, &uid, error))
    return NULL;
  caller = st_caller_new (uid, error);
  if (caller == NULL)
    return NULL;
  if (sender != NULL)
    {
      g_mutex_lock (&callers->lock);
      if (g_hash_table_size (callers->by_name) >= ST_CALLERS_MAX)
        g_hash_table_remove_all (callers->by_name);
      g_hash_table_replace (callers->by_name, g_strdup (sender),
                            st_caller_copy (caller));
      g_mutex_unlock (&callers->lock);
    }
  return caller;
}

char *
st_call_actor (StCall *call)
{
  const char *sender = g_dbus_method_invocation_get_sender (call->invocation);
  g_autoptr (StCaller) caller = call_caller (call, NULL);

  if (caller == NULL)
    return g_strdup (sender != NULL ? sender : "unknown");
  if (caller->user != NULL)
    return g_strdup (caller->user);
  return g_strdup_printf ("uid %u", caller->uid);
}

/* Refusals --------------------------------------------------------------- */

/* "Customers.Update" for the steward interfaces, else the full name. */
static char *
method_name (StCall *call)
{
  const char *interface =
      g_dbus_method_invocation_get_interface_name (call->invocation);
  const char *method =
      g_dbus_method_invocation_get_method_name (call->invocation);

  if (g_str_has_prefix (interface, ST_IFACE_PREFIX))
    interface += strlen (ST_IFACE_PREFIX);
  return g_strdup_printf ("%s.%s", interface, method);
}

static const char *
config_path (StCall *call)
{
  const char *path = st_engine_get_config (call->service->engine)->path;

  return path != NULL ? path : "the configuration file";
}

/* A restricted manager reached past their own customers. */
static gboolean
deny_not_own (const StCaller *caller, const char *what, const char *owner,
              GError **error)
{
  g_autofree char *who = st_caller_describe (caller);
  g_autofree char *whose = owner != NULL ? g_strdup_printf ("belongs to '%s'",
                                                            owner)
                                         : g_strdup ("has no owner");

  g_set_error (error, ST_ERROR, ST_ERROR_PERMISSION_DENIED,
               "%s %s, and %s is a manager restricted to the customers they "
               "own (access.manager_scope: own); ask an admin, or have an "
               "admin give the customer to them (owner)", what, whose, who);
  return FALSE;
}

static gboolean
is_own (const StCaller *caller, const char *owner)
{
  return caller->user != NULL && g_strcmp0 (owner, caller->user) == 0;
}

/* Ownership --------------------------------------------------------------- */

static gboolean
own_customer (StCall *call, const StCaller *caller, const char *address,
              GError **error)
{
  StStore *store = st_call_store (call, error);
  g_autofree char *owner = NULL;
  g_autofree char *what = NULL;
  gint64 id = 0;

  if (store == NULL || !st_customers_owner (store, address, &id, &owner, error))
    return FALSE;
  if (is_own (caller, owner))
    return TRUE;
  what = g_strdup_printf ("customer %" G_GINT64_FORMAT, id);
  return deny_not_own (caller, what, owner, error);
}

/* An alert's or a message's customer. A system alert has none: it is
 * no manager's own, so only the unrestricted may act on it. */
static gboolean
own_record (StCall *call, const StCaller *caller, const char *kind,
            gboolean (*owner_of) (StStore *, gint64, gint64 *, char **,
                                  GError **),
            GError **error)
{
  StStore *store = st_call_store (call, error);
  g_autofree char *owner = NULL;
  g_autofree char *what = NULL;
  g_autofree char *who = NULL;
  gint64 id, customer = 0;

  g_variant_get_child (call->params, 0, "x", &id);
  if (store == NULL || !owner_of (store, id, &customer, &owner, error))
    return FALSE;
  if (customer != 0 && is_own (caller, owner))
    return TRUE;
  if (customer == 0)
    {
      who = st_caller_describe (caller);
      g_set_error (error, ST_ERROR, ST_ERROR_PERMISSION_DENIED,
                   "%s %" G_GINT64_FORMAT " is a system alert, about no "
                   "customer, which only unrestricted roles may act on, and "
                   "%s is a manager restricted to the customers they own "
                   "(access.manager_scope: own); ask an admin, or an "
                   "unrestricted manager", kind, id, who);
      return FALSE;
    }
  what = g_strdup_printf ("customer %" G_GINT64_FORMAT " (of %s %"
                          G_GINT64_FORMAT ")", customer, kind, id);
  return deny_not_own (caller, what, owner, error);
}

/* Fields that would give a customer to someone else are refused. */
static gboolean
own_owner_field (const StCaller *caller, GVariant *fields, GError **error)
{
  const char *owner = NULL;

  /* The wrong type is the caller's mistake, not a refusal. */
  if (!st_record_get_string (fields, "owner", &owner, error))
    return FALSE;
  if (owner == NULL || is_own (caller, owner))
    return TRUE;
  g_set_error (error, ST_ERROR, ST_ERROR_PERMISSION_DENIED,
               "owner: '%s' is not you; a manager restricted to the "
               "customers they own (access.manager_scope: own) may only "
               "give customers to themselves; leave owner out, or ask an "
               "admin", owner);
  return FALSE;
}

/* Parameter 0 replaced with @fields plus owner = the caller. */
static void
set_param0_owner (StCall *call, const StCaller *caller, GVariant *fields)
{
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (fields);
  gsize n = g_variant_n_children (call->params);
  g_autofree GVariant **children = g_new (GVariant *, n);

  g_variant_dict_insert (&dict, "owner", "s", caller->user);
  children[0] = g_variant_dict_end (&dict);
  for (gsize i = 1; i < n; i++)
    children[i] = g_variant_get_child_value (call->params, i);
  g_variant_unref (call->params);
  /* The tuple sinks the floating dictionary and refs the others. */
  call->params = g_variant_ref_sink (g_variant_new_tuple (children, n));
  for (gsize i = 1; i < n; i++)
    g_variant_unref (children[i]);
}

/* Every customer the events name, their owners found in one statement
 * (a batch may name thousands, most of them many times). */
static gboolean
own_events (StCall *call, const StCaller *caller, GError **error)
{
  g_autoptr (GVariant) events = g_variant_get_child_value (call->params, 0);
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_variant_unref);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) addresses = g_ptr_array_new ();
  g_autoptr (GPtrArray) owners = g_ptr_array_new_with_free_func (g_free);
  g_autofree gint64 *ids = NULL;
  g_autofree char *what = NULL;
  StStore *store;
  GVariantIter iter;
  GVariant *event;

  g_variant_iter_init (&iter, events);
  while ((event = g_variant_iter_next_value (&iter)) != NULL)
    {
      const char *customer;

      g_ptr_array_add (entries, event); /* keeps @customer alive */
      /* An entry without one is the handler's to refuse. */
      if (g_variant_lookup (event, "customer", "&s", &customer)
          && g_hash_table_add (seen, (gpointer) customer))
        g_ptr_array_add (addresses, (gpointer) customer);
    }
  if (addresses->len == 0)
    return TRUE;
  store = st_call_store (call, error);
  ids = g_new (gint64, addresses->len);
  g_ptr_array_set_size (owners, addresses->len);
  if (store == NULL
      || !st_customers_owners (store,
                               (const char *const *) addresses->pdata,
                               addresses->len, ids,
                               (char **) owners->pdata, error))
    return FALSE;
  for (guint i = 0; i < addresses->len; i++)
    if (!is_own (caller, owners->pdata[i]))
      {
        what = g_strdup_printf ("customer %" G_GINT64_FORMAT, ids[i]);
        return deny_not_own (caller, what, owners->pdata[i], error);
      }
  return TRUE;
}

/* A list: the customer it names must be theirs; it answers only theirs. */
static gboolean
own_filter (StCall *call, const StCaller *caller, GError **error)
{
  g_autoptr (GVariant) filter = g_variant_get_child_value (call->params, 0);
  const char *customer;

  if (!own_owner_field (caller, filter, error))
    return FALSE;
  if (g_variant_lookup (filter, "customer", "&s", &customer)
      && !own_customer (call, caller, customer, error))
    return FALSE;
  set_param0_owner (call, caller, filter);
  return TRUE;
}

static gboolean
check_scope (StCall *call, const StCaller *caller, GError **error)
{
  g_autoptr (GVariant) first = NULL;
  g_autoptr (GVariant) second = NULL;
  g_autofree char *who = NULL;
  g_autofree char *name = NULL;

  if (call->method->scope == ST_SCOPE_NONE)
    return TRUE;
  if (caller->user == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_PERMISSION_DENIED,
                   "uid %u has no user name, so it owns no customer, and it "
                   "is a manager restricted to the customers they own "
                   "(access.manager_scope: own); give the account a name, "
                   "or ask an admin", caller->uid);
      return FALSE;
    }
  switch (call->method->scope)
    {
    case ST_SCOPE_CUSTOMER:
      first = g_variant_get_child_value (call->params, 0);
      return own_customer (call, caller, g_variant_get_string (first, NULL),
                           error);
    case ST_SCOPE_UPDATE:
      first = g_variant_get_child_value (call->params, 0);
      second = g_variant_get_child_value (call->params, 1);
      return own_customer (call, caller, g_variant_get_string (first, NULL),
                           error)
             && own_owner_field (caller, second, error);
    case ST_SCOPE_CREATE:
      first = g_variant_get_child_value (call->params, 0);
      if (!own_owner_field (caller, first, error))
        return FALSE;
      set_param0_owner (call, caller, first);
      return TRUE;
    case ST_SCOPE_EVENTS:
      return own_events (call, caller, error);
    case ST_SCOPE_FILTER:
      return own_filter (call, caller, error);
    case ST_SCOPE_ALERT:
      return own_record (call, caller, "alert", st_alerts_owner, error);
    case ST_SCOPE_MESSAGE:
      return own_record (call, caller, "message", st_messages_owner, error);
    case ST_SCOPE_NONE:
    case ST_SCOPE_EVERYONE:
    default:
      break;
    }
  who = st_caller_describe (caller);
  name = method_name (call);
  g_set_error (error, ST_ERROR, ST_ERROR_PERMISSION_DENIED,
               "%s acts on the customers of every owner, and %s is a manager "
               "restricted to the customers they own (access.manager_scope: "
               "own); ask an admin, or an unrestricted manager", name, who);
  return FALSE;
}

gboolean
st_call_authorize (StCall *call, GError **error)
{
  const StConfig *config = st_engine_get_config (call->service->engine);
  g_autofree char *name = NULL; /* for refusals only: every call comes here */
  g_autoptr (StCaller) caller = NULL;
  g_autoptr (GError) local = NULL;
  g_autofree char *who = NULL;
  g_autofree char *source = NULL;
  StRole role;

  /* Not in the table, or in it without a role: refused, whoever asks. */
  if (call->method == NULL || call->method->role == ST_ROLE_NONE)
    {
      name = method_name (call);
      g_set_error (error, ST_ERROR, ST_ERROR_PERMISSION_DENIED,
                   "%s has no access rule in this stewardd, so it is refused "
                   "to everyone; this is a bug: report it", name);
      return FALSE;
    }
  if (!config->access)
    return TRUE; /* no access section: everyone is admin */

  caller = call_caller (call, &local);
  if (caller == NULL)
    {
      /* UNAVAILABLE when asking again may help, PERMISSION_DENIED when
       * not; never NULL without a reason, but never trusted to be. */
      if (local == NULL)
        g_set_error (&local, ST_ERROR, ST_ERROR_PERMISSION_DENIED,
                     "the caller's Unix user could not be found");
      name = method_name (call);
      g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                  "%s is refused: ", name);
      return FALSE;
    }
  role = st_access_role (config, caller, &source);
  if (role < call->method->role)
    {
      name = method_name (call);
      who = st_caller_describe (caller);
      g_set_error (error, ST_ERROR, ST_ERROR_PERMISSION_DENIED,
                   "%s has role %s (from %s); %s needs %s; an operator can "
                   "map the user (or one of its groups) to a role in the "
                   "access section of %s", who, st_role_name (role), source,
                   name, st_role_name (call->method->role),
                   config_path (call));
      return FALSE;
    }
  if (role == ST_ROLE_MANAGER && config->access_managers_own)
    return check_scope (call, caller, error);
  return TRUE;
}
