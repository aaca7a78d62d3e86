#pragma once

#include <glib.h>

#include "st-config.h"
#include "steward/channel.h"

G_BEGIN_DECLS

/* Channel plugins: shared modules found by name in one folder, loaded once
 * each, and opened once per configured channel.
 *
 * Where a plugin is: for plugin NAME in folder DIR, the first that exists of
 *   DIR/libNAME.so        (an installed tree: <libdir>/steward/plugins)
 *   DIR/NAME/libNAME.so   (a build tree: <builddir>/plugins/NAME/)
 * so the build's plugins/ folder works as plugin_dir without installing. */

/* The folder used when the configuration names none: $STEWARD_PLUGIN_DIR
 * when set and not empty, else the compiled-in <libdir>/steward/plugins. */
const char *st_plugins_default_dir (void);

/* The loaded modules of one folder. Not thread-safe: load and open from
 * one thread; the instances it opens may then be used from any thread. */
typedef struct _StPlugins StPlugins;

StPlugins *st_plugins_new (const char *dir);
/* Unloads the modules: close every channel first. */
void st_plugins_free (StPlugins *plugins);
const char *st_plugins_get_dir (StPlugins *plugins);

/* Load plugin @name (once; later calls return the same vtable). Fails with
 * ST_ERROR_NOT_FOUND naming the paths tried when there is no such file,
 * ST_ERROR_FAILED when it cannot be loaded, has no steward_channel_plugin
 * symbol, lacks deliver/open, or was built for another ABI version (the
 * message names both versions). */
const StChannelPlugin *st_plugins_load (StPlugins *plugins, const char *name,
                                        GError **error);

/* One configured channel, opened on its plugin. */
typedef struct _StChannel StChannel;

/* Load @config's plugin and open an instance with its settings. Errors are
 * prefixed "channel 'NAME' (plugin PLUGIN): ". */
StChannel *st_channel_open (StPlugins *plugins, const StChannelConfig *config,
                            GError **error);
/* Safe from several threads at once: calls are serialised per instance
 * unless the plugin is ST_CHANNEL_PLUGIN_THREAD_SAFE. *detail is NULL or
 * g_malloc'd. A result outside the enum counts as RETRY. */
StDeliveryResult st_channel_deliver (StChannel *channel,
                                     const StChannelMessage *message,
                                     char **detail);
/* Open and close each channel of @config on its plugin, as the daemon does
 * at start: fails as st_channel_open() does, the message prefixed with
 * the channel's place in the file. For stewardd --check-config. */
gboolean st_plugins_check_channels (const StConfig *config, GError **error);

const char *st_channel_get_name (StChannel *channel);
const char *st_channel_get_plugin_name (StChannel *channel);
void st_channel_close (StChannel *channel);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StPlugins, st_plugins_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StChannel, st_channel_close)

G_END_DECLS
