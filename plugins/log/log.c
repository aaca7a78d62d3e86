/* The log channel: each message becomes one line of JSON appended to a
 * file. It is the development default (everything a script sends is visible
 * in one file) and a template for real channels. See README.md. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "steward/channel.h"

/* Not g_quark_from_static_string: the daemon may unload the plugin, and
 * the quark table would keep a pointer into its unmapped string. */
#define LOG_ERROR (g_quark_from_string ("steward-log-plugin"))

typedef struct {
  char *path;
  gboolean fsync;
} LogChannel;

static void
json_string (GString *out, const char *text)
{
  g_autofree char *valid = NULL;

  if (text == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  valid = g_utf8_make_valid (text, -1);
  g_string_append_c (out, '"');
  for (const char *p = valid; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      switch (c)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          if (c < 0x20 || c == 0x7f)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_c (out, (char) c);
        }
    }
  g_string_append_c (out, '"');
}

/* The daemon hands over JSON it produced itself (jsonb text: one line). */
static void
json_raw (GString *out, const char *json)
{
  g_string_append (out, json != NULL && *json != '\0' ? json : "null");
}

static char *
format_line (const StChannelMessage *m)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *at = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");
  GString *line = g_string_sized_new (256 + (m->body ? strlen (m->body) : 0));

  g_string_append_printf (line, "{\"at\":\"%s.%03dZ\"", at,
                          g_date_time_get_microsecond (now) / 1000);
  g_string_append_printf (line, ",\"message_id\":%" G_GINT64_FORMAT
                          ",\"customer_id\":%" G_GINT64_FORMAT,
                          m->id, m->customer_id);
  g_string_append (line, ",\"channel\":");
  json_string (line, m->channel);
  g_string_append (line, ",\"script\":");
  json_string (line, m->script);
  g_string_append (line, ",\"key\":");
  json_string (line, m->key);
  g_string_append (line, ",\"template\":");
  json_string (line, m->template_name);
  g_string_append (line, ",\"locale\":");
  json_string (line, m->locale);
  g_string_append (line, ",\"recipient\":");
  json_string (line, m->recipient);
  g_string_append (line, ",\"subject\":");
  json_string (line, m->subject);
  g_string_append (line, ",\"body\":");
  json_string (line, m->body);
  g_string_append (line, ",\"data\":");
  json_raw (line, m->data_json);
  g_string_append (line, ",\"customer\":");
  json_raw (line, m->customer_json);
  g_string_append_printf (line, ",\"attempt\":%u}\n", m->attempt);
  return g_string_free (line, FALSE);
}

static gboolean
make_parent (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);

  if (g_mkdir_with_parents (dir, 0750) == 0)
    return TRUE;
  g_set_error (error, LOG_ERROR, 0, "cannot create the folder %s for the "
               "log channel's file: %s", dir, g_strerror (errno));
  return FALSE;
}

static gpointer
log_open (GHashTable *settings, GError **error)
{
  const char *path = g_hash_table_lookup (settings, "path");
  const char *fsync_text = g_hash_table_lookup (settings, "fsync");
  GHashTableIter iter;
  gpointer key;
  LogChannel *channel;

  g_hash_table_iter_init (&iter, settings);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_str_equal (key, "path") && !g_str_equal (key, "fsync"))
      {
        g_set_error (error, LOG_ERROR, 0, "unknown setting '%s'; the log "
                     "plugin knows path and fsync", (const char *) key);
        return NULL;
      }
  if (path == NULL || !g_path_is_absolute (path))
    {
      g_set_error (error, LOG_ERROR, 0, "the log plugin needs 'path', the "
                   "absolute path of the file to append messages to%s%s%s",
                   path != NULL ? " (not '" : "", path != NULL ? path : "",
                   path != NULL ? "')" : "");
      return NULL;
    }
  if (fsync_text != NULL && !g_str_equal (fsync_text, "true")
      && !g_str_equal (fsync_text, "false"))
    {
      g_set_error (error, LOG_ERROR, 0, "'fsync' must be true or false, not "
                   "'%s'", fsync_text);
      return NULL;
    }
  if (!make_parent (path, error))
    return NULL;
  channel = g_new0 (LogChannel, 1);
  channel->path = g_strdup (path);
  channel->fsync = g_strcmp0 (fsync_text, "true") == 0;
  return channel;
}

/* Opened for each message, so a rotated or removed file is simply created
 * again. O_APPEND and one write() per line: lines from several threads or
 * processes never interleave. */
static StDeliveryResult
log_deliver (gpointer instance, const StChannelMessage *message, char **detail)
{
  LogChannel *channel = instance;
  g_autofree char *line = format_line (message);
  gsize len = strlen (line);
  gssize written;
  int fd, errsv;

  fd = g_open (channel->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0 && errno == ENOENT && make_parent (channel->path, NULL))
    fd = g_open (channel->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                 0640);
  if (fd < 0)
    {
      *detail = g_strdup_printf ("cannot open %s: %s", channel->path,
                                 g_strerror (errno));
      return ST_DELIVERY_RETRY;
    }
  do
    written = write (fd, line, len);
  while (written < 0 && errno == EINTR);
  errsv = errno;
  if (written == (gssize) len && channel->fsync && fdatasync (fd) != 0)
    {
      errsv = errno;
      written = -1;
    }
  g_close (fd, NULL);
  if (written < 0)
    {
      *detail = g_strdup_printf ("cannot write to %s: %s", channel->path,
                                 g_strerror (errsv));
      return ST_DELIVERY_RETRY;
    }
  if (written != (gssize) len)
    {
      /* The disk is full: a partial line is there, and the retry writes a
       * whole one after it. Readers skip lines that do not parse. */
      *detail = g_strdup_printf ("short write to %s (%" G_GSSIZE_FORMAT
                                 " of %" G_GSIZE_FORMAT " bytes)",
                                 channel->path, written, len);
      return ST_DELIVERY_RETRY;
    }
  return ST_DELIVERY_SENT;
}

static void
log_close (gpointer instance)
{
  LogChannel *channel = instance;

  g_free (channel->path);
  g_free (channel);
}

ST_CHANNEL_PLUGIN_EXPORT const StChannelPlugin steward_channel_plugin = {
  .abi_version = ST_CHANNEL_ABI_VERSION,
  .flags = ST_CHANNEL_PLUGIN_THREAD_SAFE,
  .name = "log",
  .open = log_open,
  .deliver = log_deliver,
  .close = log_close,
};
