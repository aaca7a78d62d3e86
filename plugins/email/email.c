/* The email channel: each message becomes one RFC 5322 mail (UTF-8 text,
 * optionally with an HTML alternative), handed to an SMTP server with
 * libcurl. See README.md for the settings and how outcomes are reported.
 *
 * The mail is a pure function of the message (and the send time, for
 * Date:): a retry or a repeat after a crash carries the same Message-ID,
 * so receivers and mail stores that deduplicate on it see one mail. */

#include <string.h>

#include <curl/curl.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "email-message.h"
#include "plugin-settings.h"
#include "steward/channel.h"

/* Not g_quark_from_static_string: the daemon may unload the plugin, and
 * the quark table would keep a pointer into its unmapped string. */
#define EMAIL_ERROR (g_quark_from_string ("steward-email-plugin"))

typedef enum {
  STARTTLS_NO,
  STARTTLS_TRY,
  STARTTLS_REQUIRED,
} Starttls;

typedef struct {
  char *url;       /* what libcurl connects to, with the EHLO name as path */
  char *shown_url; /* for details: no path, never credentials */
  Starttls starttls;
  char *username;
  char *password; /* a secret: never copied into a detail or a log */
  EmailMailbox from;
  EmailMailbox reply_to; /* address NULL when not configured */
  char *domain;     /* the right-hand side of Message-IDs */
  char *ca_file;
  gint64 timeout_ms;
  gboolean curl_ready; /* curl_global_init() was called for it */
} EmailChannel;

static const char *const known_settings[] = {
  "url", "starttls", "username", "password_file", "password_env", "from",
  "reply_to", "domain", "helo", "timeout", "ca_file", NULL,
};

/* Settings ---------------------------------------------------------------- */

/* "Name <local@domain>" or "local@domain", as in from and reply_to. */
static gboolean
parse_mailbox (const char *setting, const char *text, EmailMailbox *mailbox,
               GError **error)
{
  g_autofree char *name = NULL, *address = NULL;
  const char *open = strrchr (text, '<');

  if (open != NULL && g_str_has_suffix (text, ">"))
    {
      name = g_strndup (text, open - text);
      g_strstrip (name);
      if (name[0] == '"' && strlen (name) >= 2 && g_str_has_suffix (name, "\""))
        {
          char *unquoted = g_strndup (name + 1, strlen (name) - 2);
          g_free (name);
          name = unquoted;
        }
      address = g_strndup (open + 1, strlen (open + 1) - 1);
    }
  else
    address = g_strstrip (g_strdup (text));
  if (!email_address_valid (address))
    {
      g_set_error (error, EMAIL_ERROR, 0, "'%s' must be an e-mail address such "
                   "as care@example.com or \"Example Care <care@example.com>\""
                   ", not '%s'", setting, text);
      return FALSE;
    }
  if (name != NULL && *name != '\0')
    mailbox->display = g_steal_pointer (&name);
  mailbox->address = g_steal_pointer (&address);
  return TRUE;
}

/* Opening ----------------------------------------------------------------- */

static gboolean
helo_valid (const char *helo)
{
  return *helo != '\0' && strlen (helo) <= 253
         && strspn (helo, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789.-[]:") == strlen (helo);
}

static gboolean
parse_url (EmailChannel *channel, const char *text, const char *helo,
           GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);
  const char *scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  const char *path = uri != NULL ? g_uri_get_path (uri) : NULL;

  if (uri == NULL || g_uri_get_host (uri) == NULL
      || (g_strcmp0 (scheme, "smtp") != 0 && g_strcmp0 (scheme, "smtps") != 0))
    {
      g_set_error (error, EMAIL_ERROR, 0, "'url' must be smtp://HOST[:PORT] "
                   "or smtps://HOST[:PORT], not '%s'", text);
      return FALSE;
    }
  if (g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error (error, EMAIL_ERROR, 0, "'url' must not hold a user or a "
                   "password; give them in 'username' and 'password_file' "
                   "(or 'password_env')");
      return FALSE;
    }
  if ((path != NULL && *path != '\0' && !g_str_equal (path, "/"))
      || g_uri_get_query (uri) != NULL)
    {
      g_set_error (error, EMAIL_ERROR, 0, "'url' must be only a scheme, a host "
                   "and a port, such as smtp://mail.example.com:587; give the "
                   "EHLO name in 'helo'");
      return FALSE;
    }
  if (helo != NULL && !helo_valid (helo))
    {
      g_set_error (error, EMAIL_ERROR, 0, "'helo' must be a host name such as "
                   "mail.example.com, not '%s'", helo);
      return FALSE;
    }
  channel->shown_url = g_uri_to_string_partial (uri, G_URI_HIDE_USERINFO);
  if (g_str_has_suffix (channel->shown_url, "/"))
    channel->shown_url[strlen (channel->shown_url) - 1] = '\0';
  /* libcurl sends the URL's path as the EHLO name. */
  channel->url = g_strdup_printf ("%s/%s", channel->shown_url,
                                  helo != NULL ? helo : "");
  return TRUE;
}

static gboolean
parse_starttls (EmailChannel *channel, const char *text, GError **error)
{
  gboolean smtps = g_str_has_prefix (channel->url, "smtps:");

  if (text == NULL)
    channel->starttls = smtps ? STARTTLS_NO : STARTTLS_TRY;
  else if (g_str_equal (text, "no"))
    channel->starttls = STARTTLS_NO;
  else if (g_str_equal (text, "try"))
    channel->starttls = STARTTLS_TRY;
  else if (g_str_equal (text, "required"))
    channel->starttls = STARTTLS_REQUIRED;
  else
    {
      g_set_error (error, EMAIL_ERROR, 0, "'starttls' must be no, try or "
                   "required, not '%s'", text);
      return FALSE;
    }
  if (smtps && channel->starttls != STARTTLS_NO)
    {
      g_set_error (error, EMAIL_ERROR, 0, "'starttls' applies to smtp:// only: "
                   "smtps:// is encrypted from the first byte; remove it");
      return FALSE;
    }
  return TRUE;
}

static void email_close (gpointer instance);

static void
email_channel_free (EmailChannel *channel)
{
  email_close (channel);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EmailChannel, email_channel_free)

static gpointer
email_open (GHashTable *settings, GError **error)
{
  const char *url = g_hash_table_lookup (settings, "url");
  const char *from = g_hash_table_lookup (settings, "from");
  const char *reply_to = g_hash_table_lookup (settings, "reply_to");
  const char *domain = g_hash_table_lookup (settings, "domain");
  const char *timeout = g_hash_table_lookup (settings, "timeout");
  const char *ca_file = g_hash_table_lookup (settings, "ca_file");
  g_autoptr (EmailChannel) channel = NULL;

  if (!plugin_check_known (settings, known_settings, "email", EMAIL_ERROR,
                           error))
    return NULL;
  if (url == NULL || from == NULL)
    {
      g_set_error (error, EMAIL_ERROR, 0, "the email plugin needs '%s', %s",
                   url == NULL ? "url" : "from",
                   url == NULL ? "the SMTP server (smtp://HOST:PORT or "
                                 "smtps://HOST:PORT)"
                               : "the sender's address (\"Example Care "
                                 "<care@example.com>\")");
      return NULL;
    }
  channel = g_new0 (EmailChannel, 1);
  channel->timeout_ms = 30000;
  if (!parse_url (channel, url, g_hash_table_lookup (settings, "helo"), error)
      || !parse_starttls (channel, g_hash_table_lookup (settings, "starttls"),
                          error)
      || !parse_mailbox ("from", from, &channel->from, error)
      || (reply_to != NULL
          && !parse_mailbox ("reply_to", reply_to, &channel->reply_to, error))
      || !plugin_read_secret (settings, "password_file", "password_env",
                              "the SMTP password", EMAIL_ERROR,
                              &channel->password, error))
    return NULL;
  channel->username = g_strdup (g_hash_table_lookup (settings, "username"));
  if ((channel->password != NULL) != (channel->username != NULL))
    {
      g_set_error (error, EMAIL_ERROR, 0, channel->username != NULL
                   ? "'username' needs a password: give 'password_file' or "
                     "'password_env'"
                   : "a password needs 'username'");
      return NULL;
    }
  if (timeout != NULL
      && (!plugin_parse_duration_ms (timeout, &channel->timeout_ms)
          || channel->timeout_ms < 100 || channel->timeout_ms > 600000))
    {
      g_set_error (error, EMAIL_ERROR, 0, "'timeout' must be a duration from "
                   "100ms to 10m such as 30s, not '%s'", timeout);
      return NULL;
    }
  if (domain != NULL && !helo_valid (domain))
    {
      g_set_error (error, EMAIL_ERROR, 0, "'domain' must be a domain name such "
                   "as example.com, not '%s'", domain);
      return NULL;
    }
  if (ca_file != NULL && !g_file_test (ca_file, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, EMAIL_ERROR, 0, "'ca_file' %s is not a readable "
                   "file", ca_file);
      return NULL;
    }
  channel->domain = g_strdup (domain != NULL
                                  ? domain
                                  : strchr (channel->from.address, '@') + 1);
  channel->ca_file = g_strdup (ca_file);
  if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK)
    {
      g_set_error (error, EMAIL_ERROR, 0, "libcurl could not be initialised");
      return NULL;
    }
  channel->curl_ready = TRUE;
  return g_steal_pointer (&channel);
}

static void
email_close (gpointer instance)
{
  EmailChannel *channel = instance;

  if (channel->curl_ready)
    curl_global_cleanup ();
  plugin_secret_free (channel->password);
  g_free (channel->url);
  g_free (channel->shown_url);
  g_free (channel->username);
  g_free (channel->from.address);
  g_free (channel->from.display);
  g_free (channel->reply_to.address);
  g_free (channel->reply_to.display);
  g_free (channel->domain);
  g_free (channel->ca_file);
  g_free (channel);
}

/* The same for every try of one message: a hash of customer and key. */
static char *
message_hash (const StChannelMessage *m)
{
  g_autofree char *seed = g_strdup_printf ("%" G_GINT64_FORMAT ":%s",
                                           m->customer_id, m->key);
  char *hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256, seed, -1);

  hex[32] = '\0';
  return hex;
}

/* The recipient: the message's own, else the customer's email; the
 * customer's name goes with the customer's address. FALSE with *detail set
 * when there is none. */
static gboolean
pick_recipient (const StChannelMessage *m, EmailMailbox *to, char **detail)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *customer = NULL;
  const char *address = m->recipient, *name = NULL;

  if (json_parser_load_from_data (parser, m->customer_json, -1, NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    customer = json_node_get_object (json_parser_get_root (parser));
  if (customer != NULL)
    {
      const char *email = json_object_get_string_member_with_default (
          customer, "email", NULL);
      /* The customer's own address (given or not) goes with their name. */
      if (address == NULL || *address == '\0')
        address = email;
      if (email != NULL && g_ascii_strcasecmp (address, email) == 0)
        name = json_object_get_string_member_with_default (customer, "name",
                                                           NULL);
    }
  if (address == NULL || *address == '\0')
    {
      *detail = g_strdup_printf ("customer %" G_GINT64_FORMAT " has no email "
                                 "address and the message names no recipient; "
                                 "add an email to the customer, then retry "
                                 "the message", m->customer_id);
      return FALSE;
    }
  if (!email_address_valid (address))
    {
      *detail = g_strdup_printf ("'%s' is not an e-mail address this plugin "
                                 "can send to (ASCII local@domain, without "
                                 "spaces)", address);
      return FALSE;
    }
  to->address = g_strdup (address);
  to->display = g_strdup (name);
  return TRUE;
}

/* Sending ----------------------------------------------------------------- */

typedef struct {
  const char *data;
  gsize len, pos;
} Upload;

static size_t
read_upload (char *buffer, size_t size, size_t n, void *user_data)
{
  Upload *upload = user_data;
  gsize len = MIN (size * n, upload->len - upload->pos);

  memcpy (buffer, upload->data + upload->pos, len);
  upload->pos += len;
  return len;
}

/* 4xx replies and anything that is not an answer (no connection, a
 * time-out, a broken TLS handshake) may pass; a 5xx reply will not. */
static StDeliveryResult
classify (EmailChannel *channel, CURLcode code, long reply,
          const char *errbuf, char **detail)
{
  const char *what = *errbuf != '\0' ? errbuf : curl_easy_strerror (code);

  if (code == CURLE_USE_SSL_FAILED)
    {
      *detail = g_strdup_printf ("%s: the server does not offer STARTTLS, and "
                                 "starttls is required: nothing was sent",
                                 channel->shown_url);
      return ST_DELIVERY_RETRY;
    }
  if (reply > 0)
    *detail = g_strdup_printf ("%s: %s (SMTP reply %ld)", channel->shown_url,
                               what, reply);
  else
    *detail = g_strdup_printf ("%s: %s", channel->shown_url, what);
  return reply >= 500 && reply <= 599 ? ST_DELIVERY_FAILED
                                      : ST_DELIVERY_RETRY;
}

/* One SMTP transaction: MAIL FROM, RCPT TO, DATA @mail. */
static CURLcode
send_mail (EmailChannel *channel, const char *recipient, const char *mail,
           long *reply, char *errbuf)
{
  g_autofree char *sender = g_strdup_printf ("<%s>", channel->from.address);
  g_autofree char *rcpt = g_strdup_printf ("<%s>", recipient);
  struct curl_slist *recipients = curl_slist_append (NULL, rcpt);
  Upload upload = { .data = mail, .len = strlen (mail) };
  CURL *curl = curl_easy_init ();
  CURLcode code = CURLE_OUT_OF_MEMORY;

  if (curl == NULL || recipients == NULL)
    goto out;
  curl_easy_setopt (curl, CURLOPT_URL, channel->url);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long) channel->timeout_ms);
  curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt (curl, CURLOPT_USE_SSL,
                    channel->starttls == STARTTLS_REQUIRED ? CURLUSESSL_ALL
                    : channel->starttls == STARTTLS_TRY    ? CURLUSESSL_TRY
                                                           : CURLUSESSL_NONE);
  if (channel->ca_file != NULL)
    curl_easy_setopt (curl, CURLOPT_CAINFO, channel->ca_file);
  if (channel->username != NULL)
    {
      curl_easy_setopt (curl, CURLOPT_USERNAME, channel->username);
      curl_easy_setopt (curl, CURLOPT_PASSWORD, channel->password);
    }
  curl_easy_setopt (curl, CURLOPT_MAIL_FROM, sender);
  curl_easy_setopt (curl, CURLOPT_MAIL_RCPT, recipients);
  curl_easy_setopt (curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt (curl, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt (curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt (curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t) upload.len);
  code = curl_easy_perform (curl);
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, reply);

out:
  if (curl != NULL)
    curl_easy_cleanup (curl);
  curl_slist_free_all (recipients);
  return code;
}

static StDeliveryResult
email_deliver (gpointer instance, const StChannelMessage *message,
               char **detail)
{
  EmailChannel *channel = instance;
  g_autofree char *hash = message_hash (message);
  g_autofree char *message_id = NULL, *mail = NULL;
  EmailMailbox to = { NULL, NULL };
  char errbuf[CURL_ERROR_SIZE] = "";
  CURLcode code;
  long reply = 0;

  if (!pick_recipient (message, &to, detail))
    return ST_DELIVERY_FAILED;
  message_id = g_strdup_printf ("<steward.%" G_GINT64_FORMAT ".%s@%s>",
                                message->customer_id, hash, channel->domain);
  mail = email_message_build (&(EmailMessage){
      .from = &channel->from,
      .reply_to = &channel->reply_to,
      .to = &to,
      .subject = message->subject,
      .message_id = message_id,
      .boundary = hash,
      .text = message->body,
      .html = message->html,
  });
  code = send_mail (channel, to.address, mail, &reply, errbuf);
  g_free (to.address);
  g_free (to.display);
  if (code == CURLE_OK)
    {
      *detail = g_strdup_printf ("accepted by %s as %s", channel->shown_url,
                                 message_id);
      return ST_DELIVERY_SENT;
    }
  return classify (channel, code, reply, errbuf, detail);
}

ST_CHANNEL_PLUGIN_EXPORT const StChannelPlugin steward_channel_plugin = {
  .abi_version = ST_CHANNEL_ABI_VERSION,
  .flags = ST_CHANNEL_PLUGIN_THREAD_SAFE,
  .name = "email",
  .open = email_open,
  .deliver = email_deliver,
  .close = email_close,
};
