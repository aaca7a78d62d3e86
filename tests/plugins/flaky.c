/* A TEST FIXTURE, not a channel: a plugin whose deliver() answers what the
 * test asks for, to drive the outbox's retry, backoff and dead paths.
 *
 * Settings (any other is refused, as real plugins do, so a test sees that
 * the daemon keeps its own keys — max_attempts, rate_limit… — to itself):
 *   result       sent (default), retry, failed or bogus (an out-of-range value)
 *   result_file  a file whose first word, read at each call, overrides result
 *   detail       the text returned with retry/failed (default
 *                "flaky says <result>")
 *   open         "fail": open() refuses, with the message "asked to fail"
 *   count        a file that gets "KEY ATTEMPT" for each call
 *   record       a file that gets "KEY<TAB>ATTEMPT<TAB>HTML" for each call, the
 *                HTML C-escaped (g_strescape), "-" when the message has none
 *   secret       ignored: a value tests look for where it must not be
 * A message's template overrides both results when it is one of those
 * words, so one channel can serve several outcomes in one test.
 *
 * It does not set ST_CHANNEL_PLUGIN_THREAD_SAFE, so the daemon serialises
 * its calls; every call is counted in a file when `count` names one. */

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "steward/channel.h"

#ifndef FLAKY_ABI_SHIFT
#define FLAKY_ABI_SHIFT 0
#endif

#define FLAKY_ERROR (g_quark_from_static_string ("flaky-test-plugin"))

typedef struct {
  char *result;
  char *result_file;
  char *detail;
  char *count;
  char *record;
  gboolean inside; /* catches a concurrent call, which must not happen */
} Flaky;

static const char *const flaky_settings[] = { "result", "result_file", "detail",
                                              "open", "count", "record",
                                              "secret", NULL };

static gboolean
result_valid (const char *result)
{
  static const char *const known[] = { "sent", "retry", "failed", "bogus",
                                       NULL };

  return result != NULL && g_strv_contains (known, result);
}

/* Unused in the nosym build, which exports none of them. */
G_GNUC_UNUSED static gpointer
flaky_open (GHashTable *settings, GError **error)
{
  const char *result = g_hash_table_lookup (settings, "result");
  GHashTableIter iter;
  gpointer key;
  Flaky *flaky;

  g_hash_table_iter_init (&iter, settings);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_strv_contains (flaky_settings, key))
      {
        g_set_error (error, FLAKY_ERROR, 0, "unknown setting '%s'",
                     (const char *) key);
        return NULL;
      }
  if (g_strcmp0 (g_hash_table_lookup (settings, "open"), "fail") == 0)
    {
      g_set_error_literal (error, FLAKY_ERROR, 0, "asked to fail");
      return NULL;
    }
  if (result != NULL && !result_valid (result))
    {
      g_set_error (error, FLAKY_ERROR, 0, "'result' must be sent, retry, "
                   "failed or bogus, not '%s'", result);
      return NULL;
    }
  flaky = g_new0 (Flaky, 1);
  flaky->result = g_strdup (result != NULL ? result : "sent");
  flaky->result_file = g_strdup (g_hash_table_lookup (settings,
                                                      "result_file"));
  flaky->detail = g_strdup (g_hash_table_lookup (settings, "detail"));
  flaky->count = g_strdup (g_hash_table_lookup (settings, "count"));
  flaky->record = g_strdup (g_hash_table_lookup (settings, "record"));
  return flaky;
}

G_GNUC_UNUSED static void
append_line (const char *path, const char *line)
{
  int fd = g_open (path, O_WRONLY | O_APPEND | O_CREAT, 0644);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, line, strlen (line)), ==, strlen (line));
  g_close (fd, NULL);
}

/* The answer asked for: the template's word, else result_file's, else
 * the result setting. */
G_GNUC_UNUSED static char *
flaky_result (Flaky *flaky, const StChannelMessage *message)
{
  g_autofree char *text = NULL;

  if (result_valid (message->template_name))
    return g_strdup (message->template_name);
  if (flaky->result_file != NULL
      && g_file_get_contents (flaky->result_file, &text, NULL, NULL))
    {
      g_strstrip (text);
      if (result_valid (text))
        return g_steal_pointer (&text);
    }
  return g_strdup (flaky->result);
}

G_GNUC_UNUSED static StDeliveryResult
flaky_deliver (gpointer instance, const StChannelMessage *message,
               char **detail)
{
  Flaky *flaky = instance;
  g_autofree char *result = flaky_result (flaky, message);

  g_assert_false (flaky->inside);
  flaky->inside = TRUE;
  if (flaky->count != NULL)
    {
      g_autofree char *line = g_strdup_printf ("%s %u\n", message->key,
                                               message->attempt);
      append_line (flaky->count, line);
    }
  if (flaky->record != NULL)
    {
      g_autofree char *html = message->html != NULL
                                  ? g_strescape (message->html, NULL)
                                  : g_strdup ("-");
      g_autofree char *line = g_strdup_printf ("%s\t%u\t%s\n", message->key,
                                               message->attempt, html);
      append_line (flaky->record, line);
    }
  g_usleep (1000); /* widen the window for an overlapping call */
  flaky->inside = FALSE;
  if (g_str_equal (result, "sent"))
    return ST_DELIVERY_SENT;
  *detail = flaky->detail != NULL ? g_strdup (flaky->detail)
                                  : g_strdup_printf ("flaky says %s", result);
  if (g_str_equal (result, "bogus"))
    return (StDeliveryResult) 42;
  return g_str_equal (result, "retry") ? ST_DELIVERY_RETRY
                                       : ST_DELIVERY_FAILED;
}

G_GNUC_UNUSED static void
flaky_close (gpointer instance)
{
  Flaky *flaky = instance;

  g_free (flaky->result);
  g_free (flaky->result_file);
  g_free (flaky->detail);
  g_free (flaky->count);
  g_free (flaky->record);
  g_free (flaky);
}

#ifndef FLAKY_NO_SYMBOL
ST_CHANNEL_PLUGIN_EXPORT const StChannelPlugin steward_channel_plugin = {
  .abi_version = ST_CHANNEL_ABI_VERSION + FLAKY_ABI_SHIFT,
  .name = "flaky",
  .open = flaky_open,
  .deliver = flaky_deliver,
  .close = flaky_close,
};
#else
/* Something exported, so the module is otherwise a normal one. */
ST_CHANNEL_PLUGIN_EXPORT const int steward_not_a_plugin = 1;
#endif
