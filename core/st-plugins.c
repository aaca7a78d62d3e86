/* Channel plugins. A module is loaded once and stays until the registry
 * is freed: instances hold pointers into it (their vtable, their code). */

#include "st-plugins.h"

#include <gmodule.h>
#include <string.h>

#include "st-build-config.h"
#include "st-error.h"

struct _StPlugins {
  char *dir;
  GHashTable *modules; /* name → StPluginModule* */
};

typedef struct {
  GModule *module;
  const StChannelPlugin *vtable;
} StPluginModule;

struct _StChannel {
  char *name;
  const StChannelPlugin *plugin;
  gpointer instance;
  GHashTable *settings; /* the instance may point into it until close */
  gboolean serialize;
  GMutex lock;
};

const char *
st_plugins_default_dir (void)
{
  const char *dir = g_getenv ("STEWARD_PLUGIN_DIR");

  return dir != NULL && *dir != '\0' ? dir : ST_PLUGIN_DIR;
}

static void
st_plugin_module_free (StPluginModule *module)
{
  g_module_close (module->module);
  g_free (module);
}

StPlugins *
st_plugins_new (const char *dir)
{
  StPlugins *plugins = g_new0 (StPlugins, 1);

  g_return_val_if_fail (dir != NULL, NULL);

  plugins->dir = g_strdup (dir);
  plugins->modules = g_hash_table_new_full (
      g_str_hash, g_str_equal, g_free, (GDestroyNotify) st_plugin_module_free);
  return plugins;
}

void
st_plugins_free (StPlugins *plugins)
{
  if (plugins == NULL)
    return;
  g_hash_table_unref (plugins->modules);
  g_free (plugins->dir);
  g_free (plugins);
}

const char *
st_plugins_get_dir (StPlugins *plugins)
{
  return plugins->dir;
}

/* Names become file names: nothing that could leave the folder. */
static gboolean
plugin_name_valid (const char *name)
{
  gsize len = name != NULL ? strlen (name) : 0;

  return len >= 1 && len <= 63 && g_ascii_islower (name[0])
         && strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

static char *
find_module (StPlugins *plugins, const char *name, GError **error)
{
  g_autofree char *file = g_strdup_printf ("lib%s.so", name);
  g_autofree char *flat = g_build_filename (plugins->dir, file, NULL);
  g_autofree char *nested = g_build_filename (plugins->dir, name, file, NULL);

  if (g_file_test (flat, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&flat);
  if (g_file_test (nested, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&nested);
  g_set_error (error, ST_ERROR, ST_ERROR_NOT_FOUND,
               "no channel plugin '%s': neither %s nor %s exists; install the "
               "plugin there, or set plugin_dir to the folder that holds it",
               name, flat, nested);
  return NULL;
}

static const StChannelPlugin *
check_vtable (const char *name, const char *path, const StChannelPlugin *vtable,
              GError **error)
{
  /* abi_version is the first field in every version: read it alone first. */
  if (vtable->abi_version != ST_CHANNEL_ABI_VERSION)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                   "channel plugin '%s' (%s) was built for channel ABI "
                   "version %u, but this stewardd speaks version %u; rebuild "
                   "the plugin against this version's steward/channel.h",
                   name, path, (guint) vtable->abi_version,
                   (guint) ST_CHANNEL_ABI_VERSION);
      return NULL;
    }
  if (vtable->open == NULL || vtable->deliver == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                   "channel plugin '%s' (%s) has no %s function; it is not "
                   "a usable channel plugin", name, path,
                   vtable->open == NULL ? "open" : "deliver");
      return NULL;
    }
  return vtable;
}

const StChannelPlugin *
st_plugins_load (StPlugins *plugins, const char *name, GError **error)
{
  StPluginModule *loaded;
  g_autofree char *path = NULL;
  GModule *module;
  gpointer symbol = NULL;
  const StChannelPlugin *vtable;

  g_return_val_if_fail (plugins != NULL, NULL);

  if (!plugin_name_valid (name))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "'%s' is not a plugin name; a plugin name is a lower-case "
                   "letter then lower-case letters, digits, '_' or '-'",
                   name != NULL ? name : "");
      return NULL;
    }
  loaded = g_hash_table_lookup (plugins->modules, name);
  if (loaded != NULL)
    return loaded->vtable;

  path = find_module (plugins, name, error);
  if (path == NULL)
    return NULL;
  /* Local binding: two plugins may define the same helper names. */
  module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                   "channel plugin '%s' cannot be loaded: %s", name,
                   g_module_error ());
      return NULL;
    }
  if (!g_module_symbol (module, ST_CHANNEL_PLUGIN_SYMBOL, &symbol)
      || symbol == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                   "%s is not a channel plugin: it does not export the "
                   "symbol " ST_CHANNEL_PLUGIN_SYMBOL, path);
      g_module_close (module);
      return NULL;
    }
  vtable = check_vtable (name, path, symbol, error);
  if (vtable == NULL)
    {
      g_module_close (module);
      return NULL;
    }
  loaded = g_new0 (StPluginModule, 1);
  loaded->module = module;
  loaded->vtable = vtable;
  g_hash_table_insert (plugins->modules, g_strdup (name), loaded);
  g_debug ("loaded channel plugin '%s' from %s", name, path);
  return vtable;
}

static GHashTable *
copy_settings (GHashTable *settings)
{
  GHashTable *copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            g_free);
  GHashTableIter iter;
  gpointer key, value;

  if (settings == NULL)
    return copy;
  g_hash_table_iter_init (&iter, settings);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy, g_strdup (key), g_strdup (value));
  return copy;
}

StChannel *
st_channel_open (StPlugins *plugins, const StChannelConfig *config,
                 GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (StChannel) channel = g_new0 (StChannel, 1);

  g_return_val_if_fail (plugins != NULL && config != NULL, NULL);

  g_mutex_init (&channel->lock);
  channel->name = g_strdup (config->name);
  channel->settings = copy_settings (config->settings);
  channel->plugin = st_plugins_load (plugins, config->plugin, &local);
  if (channel->plugin == NULL)
    {
      g_set_error (error, ST_ERROR, local->code, "channel '%s' (plugin %s): %s",
                   config->name, config->plugin, local->message);
      return NULL;
    }
  channel->serialize =
      (channel->plugin->flags & ST_CHANNEL_PLUGIN_THREAD_SAFE) == 0;
  channel->instance = channel->plugin->open (channel->settings, &local);
  if (channel->instance == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                   "channel '%s' (plugin %s): %s", config->name,
                   config->plugin,
                   local != NULL ? local->message
                                 : "the plugin could not start and gave no "
                                   "reason");
      return NULL;
    }
  return g_steal_pointer (&channel);
}

gboolean
st_plugins_check_channels (const StConfig *config, GError **error)
{
  g_autoptr (StPlugins) plugins = st_plugins_new (
      config->plugin_dir != NULL ? config->plugin_dir
                                 : st_plugins_default_dir ());

  for (guint i = 0; i < config->channels->len; i++)
    {
      const StChannelConfig *entry = g_ptr_array_index (config->channels, i);
      g_autoptr (StChannel) channel = st_channel_open (plugins, entry, error);

      if (channel == NULL)
        {
          st_config_prefix_channel_error (config, entry, error);
          return FALSE;
        }
    }
  return TRUE;
}

StDeliveryResult
st_channel_deliver (StChannel *channel, const StChannelMessage *message,
                    char **detail)
{
  StDeliveryResult result;

  g_return_val_if_fail (channel != NULL && detail != NULL, ST_DELIVERY_RETRY);

  *detail = NULL;
  if (channel->serialize)
    g_mutex_lock (&channel->lock);
  result = channel->plugin->deliver (channel->instance, message, detail);
  if (channel->serialize)
    g_mutex_unlock (&channel->lock);
  switch (result)
    {
    case ST_DELIVERY_SENT:
    case ST_DELIVERY_RETRY:
    case ST_DELIVERY_FAILED:
      return result;
    default:
      g_free (*detail);
      *detail = g_strdup_printf ("plugin %s returned %d, which is not a "
                                 "delivery result",
                                 st_channel_get_plugin_name (channel),
                                 (int) result);
      return ST_DELIVERY_RETRY;
    }
}

const char *
st_channel_get_name (StChannel *channel)
{
  return channel->name;
}

const char *
st_channel_get_plugin_name (StChannel *channel)
{
  return channel->plugin != NULL && channel->plugin->name != NULL
             ? channel->plugin->name
             : "(unnamed)";
}

void
st_channel_close (StChannel *channel)
{
  if (channel == NULL)
    return;
  if (channel->instance != NULL && channel->plugin->close != NULL)
    channel->plugin->close (channel->instance);
  g_clear_pointer (&channel->settings, g_hash_table_unref);
  g_mutex_clear (&channel->lock);
  g_free (channel->name);
  g_free (channel);
}
