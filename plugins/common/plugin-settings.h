#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What the email and webhook plugins read alike from a channel's settings.
 * A static library linked into each plugin, not part of the SDK: a third
 * party's plugin needs only include/steward/. */

/* A duration written like the configuration's: 500ms, 10s, 2m, 1h. */
gboolean plugin_parse_duration_ms (const char *text, gint64 *ms);

/* FALSE, with an error in @domain naming the first unknown key and listing
 * @known (NULL-terminated), when @settings has a key @plugin does not know. */
gboolean plugin_check_known (GHashTable *settings, const char *const *known,
                             const char *plugin, GQuark domain,
                             GError **error);

/* A secret from the file named by setting @file_key (its first line, an
 * absolute path) or the environment variable named by @env_key; @what
 * names it in errors ("the SMTP password"), which never show its value.
 * Both keys given is an error; neither leaves *@secret NULL. */
gboolean plugin_read_secret (GHashTable *settings, const char *file_key,
                             const char *env_key, const char *what,
                             GQuark domain, char **secret, GError **error);

/* Wipe and free a secret; NULL is fine. */
void plugin_secret_free (char *secret);

G_END_DECLS
