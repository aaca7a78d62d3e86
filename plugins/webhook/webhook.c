/* The webhook channel: each message becomes one HTTP POST of a JSON object,
 * signed with HMAC-SHA256 and carrying an Idempotency-Key, sent with
 * libcurl. See README.md for the settings, the body, the signature and how
 * HTTP statuses map to outcomes. */

#include <string.h>

#include <curl/curl.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "plugin-settings.h"
#include "steward/channel.h"

/* Not g_quark_from_static_string: the daemon may unload the plugin, and
 * the quark table would keep a pointer into its unmapped string. */
#define WEBHOOK_ERROR (g_quark_from_string ("steward-webhook-plugin"))

/* How much of a refusal's body is kept in the detail. */
#define SNIPPET_MAX 200

typedef struct {
  char *url;
  char *shown_url; /* for details: no user info, query or fragment */
  char *secret;    /* never copied into a detail or a log */
  char *signature_header;
  char *ca_file;
  gint64 timeout_ms;
  gboolean curl_ready; /* curl_global_init() was called for it */
} WebhookChannel;

static const char *const known_settings[] = {
  "url", "secret_file", "secret_env", "signature_header", "timeout",
  "ca_file", NULL,
};

/* Settings ---------------------------------------------------------------- */

static gboolean
parse_url (WebhookChannel *channel, const char *text, GError **error)
{
  g_autoptr (GUri) uri = text != NULL ? g_uri_parse (text, G_URI_FLAGS_NONE,
                                                     NULL)
                                      : NULL;
  const char *scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;

  if (uri == NULL || g_uri_get_host (uri) == NULL
      || *g_uri_get_host (uri) == '\0'
      || (g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0))
    {
      g_set_error (error, WEBHOOK_ERROR, 0, "the webhook plugin needs 'url', "
                   "an http:// or https:// address such as "
                   "https://hooks.example.com/steward%s%s%s",
                   text != NULL ? " (not '" : "", text != NULL ? text : "",
                   text != NULL ? "')" : "");
      return FALSE;
    }
  if (g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error (error, WEBHOOK_ERROR, 0, "'url' must not hold a user or a "
                   "password: requests are authenticated by their signature "
                   "(secret_file or secret_env)");
      return FALSE;
    }
  channel->url = g_strdup (text);
  /* A query may hold a token: details show only where the request went. */
  channel->shown_url = g_uri_to_string_partial (
      uri, G_URI_HIDE_USERINFO | G_URI_HIDE_QUERY | G_URI_HIDE_FRAGMENT);
  return TRUE;
}

/* The signing secret, from a file (its first line) or the environment;
 * exactly one of the two. */
static gboolean
read_secret (GHashTable *settings, char **secret, GError **error)
{
  gboolean file = g_hash_table_contains (settings, "secret_file");
  gboolean env = g_hash_table_contains (settings, "secret_env");

  if (file == env)
    {
      g_set_error (error, WEBHOOK_ERROR, 0, "the webhook plugin needs exactly "
                   "one of 'secret_file' (an absolute path) or 'secret_env' "
                   "(an environment variable's name): the secret that signs "
                   "each request");
      return FALSE;
    }
  return plugin_read_secret (settings, "secret_file", "secret_env",
                             "the webhook secret", WEBHOOK_ERROR, secret,
                             error);
}

/* An HTTP header name (RFC 9110 token). */
static gboolean
header_name_valid (const char *name)
{
  if (*name == '\0')
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("!#$%&'*+-.^_`|~", *p) == NULL)
      return FALSE;
  return TRUE;
}

static void webhook_close (gpointer instance);

static void
webhook_channel_free (WebhookChannel *channel)
{
  webhook_close (channel);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WebhookChannel, webhook_channel_free)

static gpointer
webhook_open (GHashTable *settings, GError **error)
{
  const char *timeout = g_hash_table_lookup (settings, "timeout");
  const char *header = g_hash_table_lookup (settings, "signature_header");
  const char *ca_file = g_hash_table_lookup (settings, "ca_file");
  g_autoptr (WebhookChannel) channel = NULL;

  if (!plugin_check_known (settings, known_settings, "webhook",
                           WEBHOOK_ERROR, error))
    return NULL;
  channel = g_new0 (WebhookChannel, 1);
  channel->timeout_ms = 10000;
  if (!parse_url (channel, g_hash_table_lookup (settings, "url"), error)
      || !read_secret (settings, &channel->secret, error))
    return NULL;
  if (timeout != NULL
      && (!plugin_parse_duration_ms (timeout, &channel->timeout_ms)
          || channel->timeout_ms < 100 || channel->timeout_ms > 600000))
    {
      g_set_error (error, WEBHOOK_ERROR, 0, "'timeout' must be a duration from "
                   "100ms to 10m such as 10s, not '%s'", timeout);
      return NULL;
    }
  if (header != NULL && !header_name_valid (header))
    {
      g_set_error (error, WEBHOOK_ERROR, 0, "'signature_header' must be an "
                   "HTTP header name such as X-Signature, not '%s'", header);
      return NULL;
    }
  if (ca_file != NULL && !g_file_test (ca_file, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, WEBHOOK_ERROR, 0, "'ca_file' %s is not a readable "
                   "file", ca_file);
      return NULL;
    }
  channel->signature_header = g_strdup (header != NULL ? header
                                                       : "Steward-Signature");
  channel->ca_file = g_strdup (ca_file);
  if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK)
    {
      g_set_error (error, WEBHOOK_ERROR, 0, "libcurl could not be "
                   "initialised");
      return NULL;
    }
  channel->curl_ready = TRUE;
  return g_steal_pointer (&channel);
}

static void
webhook_close (gpointer instance)
{
  WebhookChannel *channel = instance;

  if (channel->curl_ready)
    curl_global_cleanup ();
  plugin_secret_free (channel->secret);
  g_free (channel->url);
  g_free (channel->shown_url);
  g_free (channel->signature_header);
  g_free (channel->ca_file);
  g_free (channel);
}

/* The request ------------------------------------------------------------- */

static void
append_string (GString *out, const char *name, const char *text)
{
  g_autofree char *valid = text != NULL ? g_utf8_make_valid (text, -1) : NULL;

  g_string_append_printf (out, ",\"%s\":", name);
  if (valid == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  g_string_append_c (out, '"');
  for (const char *p = valid; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c == '"' || c == '\\')
        g_string_append_printf (out, "\\%c", c);
      else if (c == '\n')
        g_string_append (out, "\\n");
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char) c);
    }
  g_string_append_c (out, '"');
}

/* The daemon's own JSON (data, customer), as it wrote it, so numbers keep
 * their text; null if it does not parse. */
static void
append_json (GString *out, const char *name, const char *json)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  gboolean valid = json != NULL
                   && json_parser_load_from_data (parser, json, -1, NULL)
                   && json_parser_get_root (parser) != NULL;

  g_string_append_printf (out, ",\"%s\":%s", name, valid ? json : "null");
}

/* The message as one JSON object on one line. */
static char *
build_body (const StChannelMessage *m)
{
  GString *out = g_string_sized_new (512 + strlen (m->body));

  g_string_append_printf (out, "{\"id\":%" G_GINT64_FORMAT, m->id);
  append_string (out, "key", m->key);
  g_string_append_printf (out, ",\"customer_id\":%" G_GINT64_FORMAT,
                          m->customer_id);
  append_string (out, "channel", m->channel);
  append_string (out, "script", m->script);
  append_string (out, "template", m->template_name);
  append_string (out, "locale", m->locale);
  append_string (out, "recipient", m->recipient);
  append_string (out, "subject", m->subject);
  append_string (out, "body", m->body);
  append_string (out, "html", m->html);
  append_json (out, "data", m->data_json);
  append_json (out, "customer", m->customer_json);
  g_string_append_printf (out, ",\"attempt\":%u}", m->attempt);
  return g_string_free (out, FALSE);
}

/* "t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>'>" */
static char *
sign (WebhookChannel *channel, gint64 t, const char *body)
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256,
                                       (const guchar *) channel->secret,
                                       strlen (channel->secret));
  g_autofree char *prefix = g_strdup_printf ("%" G_GINT64_FORMAT ".", t);

  g_hmac_update (hmac, (const guchar *) prefix, -1);
  g_hmac_update (hmac, (const guchar *) body, -1);
  return g_strdup_printf ("t=%" G_GINT64_FORMAT ",v1=%s", t,
                          g_hmac_get_string (hmac));
}

static gboolean
add_header (struct curl_slist **headers, const char *format, ...)
    G_GNUC_PRINTF (2, 3);

static gboolean
add_header (struct curl_slist **headers, const char *format, ...)
{
  g_autofree char *line = NULL;
  struct curl_slist *more;
  va_list args;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  more = curl_slist_append (*headers, line);
  if (more == NULL)
    return FALSE;
  *headers = more;
  return TRUE;
}

/* "<customer_id>:<key>", the key's bytes outside printable ASCII (and '%')
 * percent-encoded, so a header line can hold any key and no two keys give
 * the same value. */
static char *
idempotency_key (const StChannelMessage *m)
{
  GString *out = g_string_new (NULL);

  g_string_append_printf (out, "%" G_GINT64_FORMAT ":", m->customer_id);
  for (const char *p = m->key; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;
      if (c <= ' ' || c >= 0x7f || c == '%')
        g_string_append_printf (out, "%%%02X", c);
      else
        g_string_append_c (out, (char) c);
    }
  return g_string_free (out, FALSE);
}

/* The start of the answer's body, for the detail of a refusal. */
static size_t
keep_snippet (char *data, size_t size, size_t n, void *user_data)
{
  GString *snippet = user_data;

  if (snippet->len < SNIPPET_MAX)
    g_string_append_len (snippet, data, MIN (size * n,
                                             SNIPPET_MAX - snippet->len));
  return size * n;
}

/* One line of valid UTF-8, for a detail. */
static char *
clean_snippet (GString *snippet)
{
  char *text = g_utf8_make_valid (snippet->str, snippet->len);

  for (char *p = text; *p != '\0'; p++)
    if ((guchar) *p < ' ')
      *p = ' ';
  return g_strstrip (text);
}

/* 2xx sent; 408, 429 and 5xx may pass later; any other answer will not. */
static StDeliveryResult
classify_status (WebhookChannel *channel, long status, curl_off_t retry_after,
                 GString *snippet, char **detail)
{
  g_autofree char *text = clean_snippet (snippet);
  g_autofree char *wait = retry_after > 0
      ? g_strdup_printf (" (Retry-After: %" CURL_FORMAT_CURL_OFF_T "s)",
                         retry_after)
      : g_strdup ("");
  gboolean temporary = status == 408 || status == 429
                       || (status >= 500 && status <= 599);

  if (status >= 200 && status <= 299)
    {
      *detail = g_strdup_printf ("%s answered %ld", channel->shown_url,
                                 status);
      return ST_DELIVERY_SENT;
    }
  *detail = g_strdup_printf ("%s answered %ld%s%s%s%s", channel->shown_url,
                             status, wait, *text != '\0' ? ": " : "", text,
                             status >= 300 && status <= 399
                                 ? "; redirects are not followed: set url to "
                                   "the final address"
                                 : "");
  return temporary ? ST_DELIVERY_RETRY : ST_DELIVERY_FAILED;
}

/* One POST of @body; the answer's status, Retry-After and start of body
 * land in @status, @retry_after and @snippet. */
static CURLcode
post (WebhookChannel *channel, const char *body, struct curl_slist *headers,
      long *status, curl_off_t *retry_after, GString *snippet, char *errbuf)
{
  CURL *curl = curl_easy_init ();
  CURLcode code;

  if (curl == NULL)
    return CURLE_OUT_OF_MEMORY;
  curl_easy_setopt (curl, CURLOPT_URL, channel->url);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long) channel->timeout_ms);
  curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt (curl, CURLOPT_USERAGENT, "steward-webhook/1");
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE_LARGE,
                    (curl_off_t) strlen (body));
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, keep_snippet);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, snippet);
  if (channel->ca_file != NULL)
    curl_easy_setopt (curl, CURLOPT_CAINFO, channel->ca_file);
  code = curl_easy_perform (curl);
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, status);
  curl_easy_getinfo (curl, CURLINFO_RETRY_AFTER, retry_after);
  curl_easy_cleanup (curl);
  return code;
}

static StDeliveryResult
webhook_deliver (gpointer instance, const StChannelMessage *message,
                 char **detail)
{
  WebhookChannel *channel = instance;
  g_autofree char *body = build_body (message);
  gint64 t = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *signature = sign (channel, t, body);
  g_autofree char *key = idempotency_key (message);
  g_autoptr (GString) snippet = g_string_new (NULL);
  char errbuf[CURL_ERROR_SIZE] = "";
  struct curl_slist *headers = NULL;
  curl_off_t retry_after = 0;
  CURLcode code = CURLE_OUT_OF_MEMORY;
  long status = 0;

  if (add_header (&headers, "Content-Type: application/json")
      && add_header (&headers, "Idempotency-Key: %s", key)
      && add_header (&headers, "Steward-Timestamp: %" G_GINT64_FORMAT, t)
      && add_header (&headers, "%s: %s", channel->signature_header, signature)
      /* No "100 Continue" round trip: bodies are small. */
      && add_header (&headers, "Expect:"))
    code = post (channel, body, headers, &status, &retry_after, snippet,
                 errbuf);
  curl_slist_free_all (headers);
  if (code != CURLE_OK)
    {
      /* No answer (no connection, a time-out, a reset): it may have been
       * received, so it is sent again with the same Idempotency-Key. */
      *detail = g_strdup_printf ("POST %s: %s", channel->shown_url,
                                 *errbuf != '\0' ? errbuf
                                                 : curl_easy_strerror (code));
      return ST_DELIVERY_RETRY;
    }
  return classify_status (channel, status, retry_after, snippet, detail);
}

ST_CHANNEL_PLUGIN_EXPORT const StChannelPlugin steward_channel_plugin = {
  .abi_version = ST_CHANNEL_ABI_VERSION,
  .flags = ST_CHANNEL_PLUGIN_THREAD_SAFE,
  .name = "webhook",
  .open = webhook_open,
  .deliver = webhook_deliver,
  .close = webhook_close,
};
