/* Settings the channel plugins read alike: durations, unknown keys and
 * secrets from a file or the environment. */

#include "plugin-settings.h"

#include <string.h>

gboolean
plugin_parse_duration_ms (const char *text, gint64 *ms)
{
  static const struct {
    const char *unit;
    gint64 ms;
  } units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
  char *end = NULL;
  guint64 n;

  if (text == NULL || !g_ascii_isdigit (text[0]))
    return FALSE;
  n = g_ascii_strtoull (text, &end, 10);
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (g_str_equal (end, units[i].unit) && n <= G_MAXINT32)
      {
        *ms = (gint64) n * units[i].ms;
        return TRUE;
      }
  return FALSE;
}

gboolean
plugin_check_known (GHashTable *settings, const char *const *known,
                    const char *plugin, GQuark domain, GError **error)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, settings);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_strv_contains (known, key))
      {
        g_autofree char *list = g_strjoinv (", ", (char **) known);
        g_set_error (error, domain, 0, "unknown setting '%s'; the %s plugin "
                     "knows %s", (const char *) key, plugin, list);
        return FALSE;
      }
  return TRUE;
}

void
plugin_secret_free (char *secret)
{
  if (secret == NULL)
    return;
  memset (secret, 0, strlen (secret));
  g_free (secret);
}

gboolean
plugin_read_secret (GHashTable *settings, const char *file_key,
                    const char *env_key, const char *what, GQuark domain,
                    char **secret, GError **error)
{
  const char *file = g_hash_table_lookup (settings, file_key);
  const char *env = g_hash_table_lookup (settings, env_key);
  g_autoptr (GError) local = NULL;
  char *text = NULL;

  *secret = NULL;
  if (file != NULL && env != NULL)
    {
      g_set_error (error, domain, 0, "give either '%s' or '%s', not both",
                   file_key, env_key);
      return FALSE;
    }
  if (file != NULL)
    {
      if (!g_path_is_absolute (file))
        {
          g_set_error (error, domain, 0, "'%s' must be an absolute path, not "
                       "'%s'", file_key, file);
          return FALSE;
        }
      if (!g_file_get_contents (file, &text, NULL, &local))
        {
          g_set_error (error, domain, 0, "cannot read '%s': %s", file_key,
                       local->message);
          return FALSE;
        }
      text[strcspn (text, "\r\n")] = '\0';
    }
  else if (env != NULL)
    {
      const char *value = g_getenv (env);
      text = g_strdup (value != NULL ? value : "");
    }
  else
    return TRUE;
  if (*text == '\0')
    {
      plugin_secret_free (text);
      g_set_error (error, domain, 0, "%s is empty: %s%s%s", what,
                   file != NULL ? "the file " : "the environment variable ",
                   file != NULL ? file : env,
                   file != NULL ? " has an empty first line" : " is unset or "
                   "empty");
      return FALSE;
    }
  *secret = text;
  return TRUE;
}
