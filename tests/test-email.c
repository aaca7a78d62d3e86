/* The email channel plugin (plugins/email) against a real SMTP server:
 * tests/servers/smtp-receiver.py (aiosmtpd, Debian's python3-aiosmtpd) on
 * loopback, which stores every mail's bytes as received. The plugin is the
 * one built in the build tree, loaded with GModule as the daemon does; the
 * last cases run the real stewardd with the shipped scripts. */

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gmodule.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

#include "st-test-util.h"
#include "steward/channel.h"

#define DEADLINE_USEC (60 * G_TIME_SPAN_SECOND)

/* The receiver ------------------------------------------------------------ */

typedef struct {
  GSubprocess *process;
  char *dir; /* the received mails, and the server's stderr */
  guint16 port;
} Receiver;

/* Debian's python3, which has python3-aiosmtpd (tools/deps installs it);
 * a python3 first in PATH may be another one. */
static const char *
python (void)
{
  const char *python = g_getenv ("STEWARD_PYTHON");

  if (python != NULL && *python != '\0')
    return python;
  return g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE)
             ? "/usr/bin/python3"
             : "python3";
}

static char *
read_file (const char *path)
{
  char *text = NULL;

  g_file_get_contents (path, &text, NULL, NULL);
  return text;
}

/* Starts the SMTP receiver with the given options (a NULL-terminated list,
 * possibly empty) and waits for its port. */
static Receiver *
receiver_start (const char *first_option, ...)
{
  Receiver *r = g_new0 (Receiver, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDataInputStream) out = NULL;
  g_autofree char *line = NULL, *err_path = NULL;
  va_list args;

  r->dir = g_dir_make_tmp ("steward-smtp-XXXXXX", &error);
  g_assert_no_error (error);
  err_path = g_build_filename (r->dir, "stderr.txt", NULL);
  g_ptr_array_add (argv, g_strdup (python ()));
  g_ptr_array_add (argv,
                   st_test_source_path ("tests/servers/smtp-receiver.py"));
  g_ptr_array_add (argv, g_strdup (r->dir));
  va_start (args, first_option);
  for (const char *a = first_option; a != NULL; a = va_arg (args, const char *))
    g_ptr_array_add (argv, g_strdup (a));
  va_end (args);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_stderr_file_path (launcher, err_path);
  g_subprocess_launcher_set_child_setup (launcher, st_test_die_with_parent,
                                         NULL, NULL);
  r->process = g_subprocess_launcher_spawnv (
      launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (r->process));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  if (line == NULL)
    {
      g_autofree char *err = read_file (err_path);
      g_error ("the SMTP receiver did not start (is python3-aiosmtpd "
               "installed? tools/deps installs it): %s",
               err != NULL ? err : "(no output)");
    }
  r->port = (guint16) g_ascii_strtoull (line, NULL, 10);
  g_assert_cmpuint (r->port, >, 0);
  return r;
}

static void
receiver_free (Receiver *r)
{
  g_subprocess_send_signal (r->process, SIGTERM);
  g_subprocess_wait (r->process, NULL, NULL);
  g_object_unref (r->process);
  st_test_remove_tree (r->dir);
  g_free (r->dir);
  g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Receiver, receiver_free)

static char *
receiver_url (Receiver *r)
{
  return g_strdup_printf ("smtp://127.0.0.1:%u", r->port);
}

/* How many mails the receiver has stored (N.json is written last). */
static guint
received_count (Receiver *r)
{
  guint n = 0;

  for (;; n++)
    {
      g_autofree char *name = g_strdup_printf ("%u.json", n + 1);
      g_autofree char *path = g_build_filename (r->dir, name, NULL);
      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        return n;
    }
}

static void
wait_received (Receiver *r, guint n)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_USEC;

  while (received_count (r) < n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }
}

/* Mail @n's bytes, as received. */
static char *
received_mail (Receiver *r, guint n)
{
  g_autofree char *name = g_strdup_printf ("%u.eml", n);
  g_autofree char *path = g_build_filename (r->dir, name, NULL);
  char *text = read_file (path);

  g_assert_nonnull (text);
  return text;
}

static JsonObject *
received_envelope (Receiver *r, guint n)
{
  g_autofree char *name = g_strdup_printf ("%u.json", n);
  g_autofree char *path = g_build_filename (r->dir, name, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* A port on which nothing listens: taken, then released. */
static guint16
closed_port (void)
{
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4,
                                             G_SOCKET_TYPE_STREAM,
                                             G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (
      G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  guint16 port;

  g_assert_true (g_socket_bind (socket, any, FALSE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (socket, NULL);
  return port;
}

/* The plugin -------------------------------------------------------------- */

typedef struct {
  GModule *module;
  const StChannelPlugin *vtable;
} Plugin;

static Plugin
plugin_load (void)
{
  g_autofree char *path = st_test_build_path ("plugins/email/libemail.so");
  Plugin p = { 0 };
  gpointer symbol = NULL;

  p.module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (p.module == NULL)
    g_error ("cannot load %s: %s", path, g_module_error ());
  g_assert_true (g_module_symbol (p.module, ST_CHANNEL_PLUGIN_SYMBOL,
                                  &symbol));
  p.vtable = symbol;
  return p;
}

static GHashTable *
settings_new (const char *first_key, ...) G_GNUC_NULL_TERMINATED;

static GHashTable *
settings_new (const char *first_key, ...)
{
  GHashTable *settings = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                g_free, g_free);
  va_list args;

  va_start (args, first_key);
  for (const char *k = first_key; k != NULL; k = va_arg (args, const char *))
    g_hash_table_insert (settings, g_strdup (k),
                         g_strdup (va_arg (args, const char *)));
  va_end (args);
  return settings;
}

/* An instance, or the test stops with open()'s error. */
static gpointer
open_ok (Plugin *p, GHashTable *settings)
{
  g_autoptr (GError) error = NULL;
  gpointer instance = p->vtable->open (settings, &error);

  g_assert_no_error (error);
  g_assert_nonnull (instance);
  return instance;
}

static StDeliveryResult
deliver (Plugin *p, gpointer instance, const StChannelMessage *m,
         char **detail)
{
  *detail = NULL;
  return p->vtable->deliver (instance, m, detail);
}

static const char ada_json[] =
    "{\"id\": 42, \"name\": \"H\u00e9l\u00e8ne Dupr\u00e9\", \"email\": "
    "\"helene@example.fr\", \"phone\": null, \"locale\": \"fr\", "
    "\"tz\": \"Europe/Paris\"}";

static StChannelMessage
message_new (const char *key, const char *subject, const char *body)
{
  return (StChannelMessage){
    .id = 7,
    .customer_id = 42,
    .key = key,
    .channel = "email",
    .script = "thank-you",
    .template_name = "thank_you",
    .locale = "fr",
    .subject = subject,
    .body = body,
    .data_json = "{}",
    .attempt = 1,
    .customer_json = ada_json,
  };
}

/* Reading mails ----------------------------------------------------------- */

/* The header block and the body of a mail, split at the first empty line. */
static void
split_mail (const char *mail, char **headers, char **body)
{
  const char *blank = strstr (mail, "\r\n\r\n");

  g_assert_nonnull (blank);
  *headers = g_strndup (mail, blank - mail + 2);
  *body = g_strdup (blank + 4);
}

/* Header @name's value, unfolded (CRLF before a space removed); NULL when
 * absent. */
static char *
header (const char *headers, const char *name)
{
  g_autofree char *needle = g_strdup_printf ("\r\n%s: ", name);
  g_autofree char *prefixed = g_strconcat ("\r\n", headers, NULL);
  const char *start = strstr (prefixed, needle), *end;
  GString *value;

  if (start == NULL)
    return NULL;
  start += strlen (needle);
  end = start;
  while ((end = strstr (end, "\r\n")) != NULL && (end[2] == ' '
                                                  || end[2] == '\t'))
    end += 2;
  g_assert_nonnull (end);
  value = g_string_new_len (start, end - start);
  g_string_replace (value, "\r\n", "", 0);
  return g_string_free (value, FALSE);
}

/* RFC 2047: UTF-8 B encoded words decoded, the space between two of them
 * dropped; other text kept. */
static char *
decode_words (const char *value)
{
  GString *out = g_string_new (NULL);
  const char *p = value;
  gboolean after_word = FALSE;

  while (*p != '\0')
    {
      if (g_str_has_prefix (p, "=?UTF-8?B?"))
        {
          const char *start = p + 10, *end = strstr (start, "?=");
          g_autofree char *b64 = NULL;
          g_autofree guchar *bytes = NULL;
          gsize len;

          g_assert_nonnull (end);
          b64 = g_strndup (start, end - start);
          bytes = g_base64_decode (b64, &len);
          g_string_append_len (out, (const char *) bytes, len);
          p = end + 2;
          after_word = TRUE;
          continue;
        }
      if (after_word && *p == ' ')
        {
          const char *q = p + strspn (p, " ");
          if (g_str_has_prefix (q, "=?UTF-8?B?"))
            {
              p = q;
              continue;
            }
        }
      after_word = FALSE;
      g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}

/* Quoted-printable decoded, with line ends as LF. */
static char *
decode_qp (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text; *p != '\0';)
    {
      if (g_str_has_prefix (p, "=\r\n"))
        p += 3;
      else if (*p == '=')
        {
          g_assert_true (g_ascii_isxdigit (p[1]) && g_ascii_isxdigit (p[2]));
          g_string_append_c (out, (char) (g_ascii_xdigit_value (p[1]) * 16
                                          + g_ascii_xdigit_value (p[2])));
          p += 3;
        }
      else if (g_str_has_prefix (p, "\r\n"))
        {
          g_string_append_c (out, '\n');
          p += 2;
        }
      else
        g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}

/* What every mail must be: ASCII only, CRLF line ends, no line over 78
 * characters. */
static void
assert_well_formed (const char *mail)
{
  const char *line = mail;

  for (const char *p = mail; *p != '\0'; p++)
    {
      g_assert_cmpint ((guchar) *p, <, 0x80);
      if (*p == '\n')
        {
          g_assert_true (p > mail && p[-1] == '\r');
          g_assert_cmpint (p - line - 1, <=, 78);
          line = p + 1;
        }
      else
        g_assert_true (*p != '\r' || p[1] == '\n');
    }
  g_assert_true (g_str_has_suffix (mail, "\r\n"));
}

/* <steward.CUSTOMER.HASH@DOMAIN>, HASH the first 32 hex digits of SHA-256
 * of "CUSTOMER:KEY": what docs/plugins.md promises. */
static char *
expected_message_id (gint64 customer, const char *key, const char *domain)
{
  g_autofree char *seed = g_strdup_printf ("%" G_GINT64_FORMAT ":%s", customer,
                                           key);
  g_autofree char *hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
                                                        seed, -1);

  hex[32] = '\0';
  return g_strdup_printf ("<steward.%" G_GINT64_FORMAT ".%s@%s>", customer,
                          hex, domain);
}

/* Plugin-level tests ------------------------------------------------------ */

static void
expect_open_error (Plugin *p, GHashTable *settings, const char *needle)
{
  g_autoptr (GError) error = NULL;
  gpointer instance = p->vtable->open (settings, &error);

  g_assert_null (instance);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  st_test_assert_contains (error->message, needle);
  g_hash_table_unref (settings);
}

static void
test_settings (void)
{
  Plugin p = plugin_load ();
  g_autoptr (GError) error = NULL;
  g_autofree char *pw_path = NULL, *dir = NULL;

  g_assert_cmpuint (p.vtable->abi_version, ==, ST_CHANNEL_ABI_VERSION);
  g_assert_cmpstr (p.vtable->name, ==, "email");
  g_assert_true (p.vtable->flags & ST_CHANNEL_PLUGIN_THREAD_SAFE);

  /* Unknown keys are named, with the known ones. */
  expect_open_error (&p, settings_new ("url", "smtp://127.0.0.1:25", "from",
                                       "a@example.com", "hots", "x", NULL),
                     "unknown setting 'hots'; the email plugin knows url, "
                     "starttls, username, password_file, password_env");
  expect_open_error (&p, settings_new ("from", "a@example.com", NULL),
                     "needs 'url'");
  expect_open_error (&p, settings_new ("url", "smtp://127.0.0.1", NULL),
                     "needs 'from'");
  expect_open_error (&p, settings_new ("url", "http://mail.example.com",
                                       "from", "a@example.com", NULL),
                     "'url' must be smtp://HOST[:PORT] or smtps://HOST[:PORT]");
  expect_open_error (&p, settings_new ("url", "smtp://127.0.0.1", "from",
                                       "not an address", NULL),
                     "'from' must be an e-mail address");
  expect_open_error (&p, settings_new ("url", "smtp://127.0.0.1", "from",
                                       "a@example.com", "starttls", "maybe",
                                       NULL),
                     "'starttls' must be no, try or required, not 'maybe'");
  expect_open_error (&p, settings_new ("url", "smtps://127.0.0.1", "from",
                                       "a@example.com", "starttls", "required",
                                       NULL),
                     "smtps:// is encrypted from the first byte");
  expect_open_error (&p, settings_new ("url", "smtp://127.0.0.1", "from",
                                       "a@example.com", "timeout", "30", NULL),
                     "'timeout' must be a duration from 100ms to 10m");
  expect_open_error (&p, settings_new ("url", "smtp://127.0.0.1", "from",
                                       "a@example.com", "username", "u", NULL),
                     "'username' needs a password");
  expect_open_error (&p, settings_new ("url", "smtp://127.0.0.1", "from",
                                       "a@example.com", "username", "u",
                                       "password_file", "/nonexistent/pw",
                                       NULL),
                     "/nonexistent/pw");
  expect_open_error (&p, settings_new ("url", "smtp://127.0.0.1", "from",
                                       "a@example.com", "username", "u",
                                       "password_env", "STEWARD_TEST_EMPTY_PW",
                                       NULL),
                     "STEWARD_TEST_EMPTY_PW is unset or empty");

  /* A password in the URL is refused, and not repeated in the message. */
  {
    GHashTable *s = settings_new ("url", "smtp://u:Hunter2-secret@127.0.0.1",
                                  "from", "a@example.com", NULL);
    gpointer instance = p.vtable->open (s, &error);
    g_assert_null (instance);
    st_test_assert_contains (error->message, "must not hold a user or a "
                                             "password");
    g_assert_null (strstr (error->message, "Hunter2"));
    g_clear_error (&error);
    g_hash_table_unref (s);
  }
  /* Nor is a password file's content, whatever goes wrong. */
  dir = g_dir_make_tmp ("steward-email-XXXXXX", &error);
  g_assert_no_error (error);
  pw_path = g_build_filename (dir, "password", NULL);
  g_assert_true (g_file_set_contents (pw_path, "Hunter2-secret\n", -1, NULL));
  {
    GHashTable *s = settings_new ("url", "smtp://127.0.0.1", "from",
                                  "a@example.com", "password_file", pw_path,
                                  NULL);
    gpointer instance = p.vtable->open (s, &error);
    g_assert_null (instance);
    st_test_assert_contains (error->message, "a password needs 'username'");
    g_assert_null (strstr (error->message, "Hunter2"));
    g_clear_error (&error);
    g_hash_table_unref (s);
  }
  g_unlink (pw_path);
  g_rmdir (dir);
  g_module_close (p.module);
}

static const char body_fr[] =
    "Bonjour Hélène,\n"
    "\n"
    "Merci pour votre achat de 49,90 €. Nous espérons qu'il vous donnera "
    "entière satisfaction — à bientôt !\n"
    ".une ligne qui commence par un point\n"
    "From the team, with a long line: "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
    "end\n"
    "trailing space and = sign \n"
    "Équipe Steward";

/* A French mail arrives as a well-formed RFC 5322 message that decodes back
 * to exactly what was sent; a retry carries the same Message-ID. */
static void
test_plain_mail (void)
{
  g_autoptr (Receiver) r = receiver_start (NULL);
  g_autofree char *url = receiver_url (r);
  Plugin p = plugin_load ();
  g_autoptr (GHashTable) settings = settings_new (
      "url", url, "starttls", "no", "from",
      "Équipe Steward <care@example.com>", "reply_to",
      "support@example.com", "timeout", "10s", "helo", "steward.example.com",
      NULL);
  gpointer instance = open_ok (&p, settings);
  const char *subject = "Merci pour votre commande, Hélène — à très bientôt "
                        "chez nous, avec toute notre gratitude !";
  StChannelMessage m = message_new ("thanks:311", subject, body_fr);
  g_autofree char *detail = NULL, *mail = NULL, *heads = NULL, *body = NULL;
  g_autofree char *id = expected_message_id (42, "thanks:311", "example.com");
  g_autofree char *from = NULL, *subj = NULL, *text = NULL, *mid = NULL;
  g_autofree char *expected_body = NULL;
  g_autoptr (JsonObject) envelope = NULL;
  JsonArray *rcpt;

  m.recipient = "camille@example.org";
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==, ST_DELIVERY_SENT);
  st_test_assert_contains (detail, id);
  wait_received (r, 1);

  mail = received_mail (r, 1);
  g_test_message ("%s", mail);
  assert_well_formed (mail);
  split_mail (mail, &heads, &body);

  /* The envelope: the configured sender and EHLO name, the message's
   * recipient. */
  envelope = received_envelope (r, 1);
  g_assert_cmpstr (json_object_get_string_member (envelope, "helo"), ==,
                   "steward.example.com");
  g_assert_cmpstr (json_object_get_string_member (envelope, "mail_from"), ==,
                   "care@example.com");
  rcpt = json_object_get_array_member (envelope, "rcpt_tos");
  g_assert_cmpuint (json_array_get_length (rcpt), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (rcpt, 0), ==,
                   "camille@example.org");

  /* The headers. */
  from = header (heads, "From");
  g_autofree char *from_decoded = decode_words (from);
  g_assert_cmpstr (from_decoded, ==, "Équipe Steward <care@example.com>");
  g_autofree char *reply_to = header (heads, "Reply-To");
  g_assert_cmpstr (reply_to, ==, "support@example.com");
  g_autofree char *to = header (heads, "To");
  g_assert_cmpstr (to, ==, "camille@example.org");
  subj = header (heads, "Subject");
  g_assert_true (g_str_has_prefix (subj, "=?UTF-8?B?"));
  g_autofree char *subj_decoded = decode_words (subj);
  g_assert_cmpstr (subj_decoded, ==, subject);
  mid = header (heads, "Message-ID");
  g_assert_cmpstr (mid, ==, id);
  g_autofree char *date = header (heads, "Date");
  g_assert_true (g_regex_match_simple (
      "^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|"
      "Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} \\+0000$",
      date, 0, 0));
  g_autofree char *mime = header (heads, "MIME-Version");
  g_assert_cmpstr (mime, ==, "1.0");
  g_autofree char *type = header (heads, "Content-Type");
  g_assert_cmpstr (type, ==, "text/plain; charset=utf-8");
  g_autofree char *cte = header (heads, "Content-Transfer-Encoding");
  g_assert_cmpstr (cte, ==, "quoted-printable");

  /* The body decodes back to the text, accents and all. */
  text = decode_qp (body);
  expected_body = g_strconcat (body_fr, "\n", NULL);
  g_assert_cmpstr (text, ==, expected_body);

  /* A retry (or a repeat after a crash) is the same mail. */
  m.attempt = 2;
  g_clear_pointer (&detail, g_free);
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==, ST_DELIVERY_SENT);
  wait_received (r, 2);
  {
    g_autofree char *again = received_mail (r, 2);
    g_autofree char *h2 = NULL, *b2 = NULL, *mid2 = NULL;
    split_mail (again, &h2, &b2);
    mid2 = header (h2, "Message-ID");
    g_assert_cmpstr (mid2, ==, id);
    g_assert_cmpstr (b2, ==, body);
  }
  p.vtable->close (instance);
  g_module_close (p.module);
}

/* Mail @mail's MIME part that follows "--@boundary" @n times (from 1). */
static char *
mime_part (const char *mail, const char *boundary, guint n)
{
  g_autofree char *delimiter = g_strdup_printf ("\r\n--%s", boundary);
  const char *start = mail, *end;

  for (guint i = 0; i < n; i++)
    {
      start = strstr (start, delimiter);
      g_assert_nonnull (start);
      start += strlen (delimiter) + 2;
    }
  end = strstr (start, delimiter);
  g_assert_nonnull (end);
  return g_strndup (start, end - start + 2);
}

/* With an HTML rendering, the mail is multipart/alternative: the text, then
 * the HTML, both intact. */
static void
test_html_mail (void)
{
  g_autoptr (Receiver) r = receiver_start (NULL);
  g_autofree char *url = receiver_url (r);
  Plugin p = plugin_load ();
  g_autoptr (GHashTable) settings = settings_new (
      "url", url, "from", "care@example.com", "domain", "mail.example.net",
      NULL);
  gpointer instance = open_ok (&p, settings);
  const char *html = "<!DOCTYPE html>\n<html><body><p>Bonjour "
                     "<b>Hélène</b>,</p>\n<p style=\"color: red\">Merci "
                     "— 49,90&nbsp;€</p></body></html>";
  /* A line break in the subject cannot add a header. */
  StChannelMessage m = message_new ("thanks:html",
                                    "Merci !\r\nBcc: evil@example.com",
                                    "Bonjour Hélène,\nMerci — 49,90 €");
  g_autofree char *detail = NULL, *mail = NULL, *heads = NULL, *body = NULL;
  g_autofree char *type = NULL, *boundary = NULL, *mid = NULL;
  g_autofree char *part1 = NULL, *part2 = NULL;
  g_autofree char *h1 = NULL, *b1 = NULL, *h2 = NULL, *b2 = NULL;
  g_autofree char *t1 = NULL, *t2 = NULL, *text = NULL, *markup = NULL;
  g_autofree char *id = expected_message_id (42, "thanks:html",
                                             "mail.example.net");
  char *q;

  m.html = html;
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==, ST_DELIVERY_SENT);
  wait_received (r, 1);
  mail = received_mail (r, 1);
  g_test_message ("%s", mail);
  assert_well_formed (mail);
  split_mail (mail, &heads, &body);
  mid = header (heads, "Message-ID");
  g_assert_cmpstr (mid, ==, id);
  /* The customer's address, with the name encoded. */
  g_autofree char *to = header (heads, "To");
  g_autofree char *to_decoded = decode_words (to);
  g_assert_cmpstr (to_decoded, ==, "Hélène Dupré <helene@example.fr>");
  g_autofree char *subject = header (heads, "Subject");
  g_assert_cmpstr (subject, ==, "Merci !  Bcc: evil@example.com");
  g_assert_null (strstr (heads, "\r\nBcc:"));
  type = header (heads, "Content-Type");
  g_assert_true (g_str_has_prefix (type, "multipart/alternative;"));
  q = strstr (type, "boundary=\"");
  g_assert_nonnull (q);
  boundary = g_strdup (q + 10);
  *strchr (boundary, '"') = '\0';
  st_test_assert_contains (mail, "\r\n--");
  g_autofree char *closing = g_strdup_printf ("\r\n--%s--\r\n", boundary);
  g_assert_true (g_str_has_suffix (mail, closing));

  part1 = mime_part (mail, boundary, 1);
  part2 = mime_part (mail, boundary, 2);
  split_mail (part1, &h1, &b1);
  split_mail (part2, &h2, &b2);
  t1 = header (h1, "Content-Type");
  t2 = header (h2, "Content-Type");
  g_assert_cmpstr (t1, ==, "text/plain; charset=utf-8");
  g_assert_cmpstr (t2, ==, "text/html; charset=utf-8");
  text = decode_qp (b1);
  markup = decode_qp (b2);
  g_assert_cmpstr (text, ==, "Bonjour Hélène,\nMerci — 49,90 €\n");
  g_autofree char *html_nl = g_strconcat (html, "\n", NULL);
  g_assert_cmpstr (markup, ==, html_nl);
  p.vtable->close (instance);
  g_module_close (p.module);
}

/* A message with no recipient goes to the customer's address; a customer
 * with none is a permanent failure that says so, and nothing is sent. */
static void
test_no_address (void)
{
  g_autoptr (Receiver) r = receiver_start (NULL);
  g_autofree char *url = receiver_url (r);
  Plugin p = plugin_load ();
  g_autoptr (GHashTable) settings = settings_new ("url", url, "from",
                                                  "care@example.com", NULL);
  gpointer instance = open_ok (&p, settings);
  StChannelMessage m = message_new ("thanks:none", "Merci", "Merci");
  g_autofree char *detail = NULL;

  m.customer_json = "{\"id\": 42, \"name\": \"Ada\", \"email\": null}";
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==,
                   ST_DELIVERY_FAILED);
  st_test_assert_contains (detail, "customer 42 has no email address");
  g_clear_pointer (&detail, g_free);
  m.recipient = "not an address";
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==,
                   ST_DELIVERY_FAILED);
  st_test_assert_contains (detail, "'not an address' is not an e-mail "
                                   "address");
  g_assert_cmpuint (received_count (r), ==, 0);
  p.vtable->close (instance);
  g_module_close (p.module);
}

/* AUTH with the password from a file; a wrong password (from the
 * environment) is a permanent failure whose detail does not show it. */
static void
test_auth (void)
{
  g_autoptr (Receiver) r = receiver_start ("--auth", "steward:Corr3ct-Horse",
                                           NULL);
  g_autofree char *url = receiver_url (r);
  Plugin p = plugin_load ();
  g_autofree char *pw_path = g_build_filename (r->dir, "password", NULL);
  g_autoptr (GHashTable) good = NULL, bad = NULL;
  StChannelMessage m = message_new ("thanks:auth", "Merci", "Merci");
  g_autofree char *detail = NULL;
  g_autoptr (JsonObject) envelope = NULL;
  gpointer instance;

  m.recipient = "camille@example.org";
  g_assert_true (g_file_set_contents (pw_path, "Corr3ct-Horse\n", -1, NULL));
  good = settings_new ("url", url, "from", "care@example.com", "username",
                       "steward", "password_file", pw_path, NULL);
  instance = open_ok (&p, good);
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==, ST_DELIVERY_SENT);
  wait_received (r, 1);
  envelope = received_envelope (r, 1);
  g_assert_true (json_object_get_boolean_member (envelope, "authenticated"));
  p.vtable->close (instance);

  bad = settings_new ("url", url, "from", "care@example.com", "username",
                      "steward", "password_env", "STEWARD_TEST_SMTP_PW", NULL);
  instance = open_ok (&p, bad);
  g_clear_pointer (&detail, g_free);
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==,
                   ST_DELIVERY_FAILED);
  g_test_message ("%s", detail);
  st_test_assert_contains (detail, "535");
  g_assert_null (strstr (detail, "Wr0ng"));
  g_assert_null (strstr (detail, "Corr3ct"));
  g_assert_cmpuint (received_count (r), ==, 1);
  p.vtable->close (instance);
  g_module_close (p.module);
}

/* A 4xx answer is retried, a 5xx one is not; a server that is down or
 * silent, or one without STARTTLS when it is required, is retried. */
static void
test_failures (void)
{
  g_autoptr (Receiver) r = receiver_start ("--reply", "451,550", NULL);
  g_autofree char *url = receiver_url (r);
  g_autofree char *down_url = g_strdup_printf ("smtp://127.0.0.1:%u",
                                               closed_port ());
  Plugin p = plugin_load ();
  g_autoptr (GHashTable) settings = settings_new ("url", url, "from",
                                                  "care@example.com", NULL);
  g_autoptr (GHashTable) down = settings_new ("url", down_url, "from",
                                              "care@example.com", NULL);
  g_autoptr (GHashTable) tls = settings_new ("url", url, "from",
                                             "care@example.com", "starttls",
                                             "required", NULL);
  StChannelMessage m = message_new ("thanks:fail", "Merci", "Merci");
  g_autofree char *detail = NULL;
  gpointer instance = open_ok (&p, settings);

  m.recipient = "camille@example.org";
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==, ST_DELIVERY_RETRY);
  st_test_assert_contains (detail, "451");
  g_clear_pointer (&detail, g_free);
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==,
                   ST_DELIVERY_FAILED);
  st_test_assert_contains (detail, "550");
  g_clear_pointer (&detail, g_free);
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==, ST_DELIVERY_SENT);
  wait_received (r, 1);
  p.vtable->close (instance);

  /* Nothing listens. */
  instance = open_ok (&p, down);
  g_clear_pointer (&detail, g_free);
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==, ST_DELIVERY_RETRY);
  g_test_message ("%s", detail);
  st_test_assert_contains (detail, down_url);
  st_test_assert_contains (detail, "onnect");
  p.vtable->close (instance);

  /* STARTTLS required, and the server has none: nothing goes in clear. */
  instance = open_ok (&p, tls);
  g_clear_pointer (&detail, g_free);
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==, ST_DELIVERY_RETRY);
  st_test_assert_contains (detail, "does not offer STARTTLS");
  g_assert_cmpuint (received_count (r), ==, 1);
  p.vtable->close (instance);

  /* A server that accepts the connection and never speaks. */
  {
    g_autoptr (GSocket) silent = g_socket_new (G_SOCKET_FAMILY_IPV4,
                                               G_SOCKET_TYPE_STREAM,
                                               G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (
        G_SOCKET_FAMILY_IPV4);
    g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
    g_autoptr (GSocketAddress) bound = NULL;
    g_autofree char *silent_url = NULL;
    g_autoptr (GHashTable) slow = NULL;
    gint64 start;

    g_assert_true (g_socket_bind (silent, any, FALSE, NULL));
    g_assert_true (g_socket_listen (silent, NULL));
    bound = g_socket_get_local_address (silent, NULL);
    silent_url = g_strdup_printf (
        "smtp://127.0.0.1:%u",
        g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
    slow = settings_new ("url", silent_url, "from", "care@example.com",
                         "timeout", "500ms", NULL);
    instance = open_ok (&p, slow);
    g_clear_pointer (&detail, g_free);
    start = g_get_monotonic_time ();
    g_assert_cmpint (deliver (&p, instance, &m, &detail), ==,
                     ST_DELIVERY_RETRY);
    g_test_message ("%s", detail);
    st_test_assert_contains (detail, "timed out");
    g_assert_cmpint (g_get_monotonic_time () - start, <,
                     20 * G_TIME_SPAN_SECOND);
    p.vtable->close (instance);
  }
  g_module_close (p.module);
}

/* Through the real daemon -------------------------------------------------- */

static GVariant *
call (StTestDaemon *daemon, const char *interface, const char *method,
      GVariant *params)
{
  g_autoptr (GError) error = NULL;
  GVariant *reply = st_test_daemon_call (daemon, interface, method, params,
                                         &error);

  g_assert_no_error (error);
  return reply;
}

static gint64
create_customer (StTestDaemon *daemon, const char *name, const char *email,
                 const char *locale)
{
  g_autoptr (GVariant) reply = NULL, record = NULL;
  GVariantDict fields;

  g_variant_dict_init (&fields, NULL);
  g_variant_dict_insert (&fields, "name", "s", name);
  g_variant_dict_insert (&fields, "email", "s", email);
  g_variant_dict_insert (&fields, "locale", "s", locale);
  reply = call (daemon, "Customers", "Create",
                g_variant_new ("(@a{sv})", g_variant_dict_end (&fields)));
  record = g_variant_get_child_value (reply, 0);
  return st_test_rec_int64 (record, "id");
}

static gint64
record_purchase (StTestDaemon *daemon, gint64 customer, double amount)
{
  g_autofree char *address = g_strdup_printf ("id:%" G_GINT64_FORMAT,
                                              customer);
  g_autoptr (GVariant) reply = NULL, record = NULL;
  GVariantDict data;

  g_variant_dict_init (&data, NULL);
  g_variant_dict_insert (&data, "amount", "d", amount);
  reply = call (daemon, "Customers", "RecordEvent",
                g_variant_new ("(ss@a{sv})", address, "purchase",
                               g_variant_dict_end (&data)));
  record = g_variant_get_child_value (reply, 0);
  return st_test_rec_int64 (record, "id");
}

/* Waits until message @key of @customer is in @state; returns its row as
 * "state|attempts|last_error". */
static char *
wait_message_state (StTestDaemon *daemon, gint64 customer, const char *key,
                    const char *state)
{
  g_autofree char *sql = g_strdup_printf (
      "SELECT state || '|' || attempts || '|' || COALESCE(last_error, '')"
      " FROM messages WHERE customer_id = %" G_GINT64_FORMAT " AND key = '%s'",
      customer, key);
  gint64 deadline = g_get_monotonic_time () + DEADLINE_USEC;
  g_autofree char *prefix = g_strdup_printf ("%s|", state);

  for (;;)
    {
      char *row = st_test_db_query (daemon->db, sql);
      if (row != NULL && g_str_has_prefix (row, prefix))
        return row;
      if (g_get_monotonic_time () > deadline)
        g_error ("message %s of customer %" G_GINT64_FORMAT " is not %s "
                 "after 60 s: %s", key, customer, state, row ? row : "(none)");
      g_free (row);
      g_usleep (50 * 1000);
    }
}

static char *
daemon_yaml (const char *channels, const char *delivery)
{
  g_autofree char *plugins = st_test_build_path ("plugins");
  g_autofree char *scripts = st_test_source_path ("scripts");

  return g_strdup_printf ("scripts: [%s]\n"
                          "plugin_dir: %s\n"
                          "delivery: %s\n"
                          "channels:\n%s",
                          scripts, plugins, delivery, channels);
}

/* @db_text as the mail carries it once decoded: LF line ends, and a final
 * one. */
static char *
as_mailed (const char *db_text)
{
  GString *expected = g_string_new (db_text);

  g_string_replace (expected, "\r\n", "\n", 0);
  if (!g_str_has_suffix (expected->str, "\n"))
    g_string_append_c (expected, '\n');
  return g_string_free (expected, FALSE);
}

/* A French customer's purchase: the shipped thank-you script's mail reaches
 * the SMTP server once, as the templates rendered it, accents intact: the
 * text (thank_you.fr.txt) and its HTML alternative (thank_you.fr.html). */
static void
test_daemon_thank_you (void)
{
  g_autoptr (Receiver) r = receiver_start (NULL);
  g_autofree char *url = receiver_url (r);
  g_autofree char *log_dir = g_dir_make_tmp ("steward-email-log-XXXXXX",
                                             NULL);
  g_autofree char *channels = g_strdup_printf (
      "  email: { plugin: email, url: \"%s\", starttls: \"no\",\n"
      "           from: \"Équipe Steward <care@example.com>\",\n"
      "           reply_to: \"support@example.com\", timeout: 10s }\n"
      "  \"*\": { plugin: log, path: \"%s/other.jsonl\" }\n",
      url, log_dir);
  g_autofree char *yaml = daemon_yaml (channels, "{ workers: 2 }");
  g_autoptr (StTestDaemon) daemon = st_test_daemon_start (yaml);
  gint64 customer = create_customer (daemon, "Hélène Dupré",
                                     "helene.dupre@example.fr", "fr");
  gint64 event = record_purchase (daemon, customer, 49.9);
  g_autofree char *key = g_strdup_printf ("thanks:%" G_GINT64_FORMAT, event);
  g_autofree char *row = wait_message_state (daemon, customer, key, "sent");
  g_autofree char *mail = NULL, *heads = NULL, *body = NULL, *text = NULL;
  g_autofree char *sql = NULL, *db_body = NULL, *db_subject = NULL;
  g_autofree char *id = expected_message_id (customer, key, "example.com");
  g_autofree char *log = NULL, *type = NULL, *boundary = NULL;
  g_autofree char *part1 = NULL, *part2 = NULL, *h1 = NULL, *b1 = NULL;
  g_autofree char *h2 = NULL, *b2 = NULL, *markup = NULL, *db_html = NULL;
  g_autofree char *expected_text = NULL, *expected_html = NULL;
  char *q;

  /* Recorded as sent after the hand-over: exactly one mail arrived. */
  g_assert_cmpuint (received_count (r), ==, 1);
  mail = received_mail (r, 1);
  g_test_message ("%s", mail);
  assert_well_formed (mail);
  split_mail (mail, &heads, &body);
  g_autofree char *to = header (heads, "To");
  g_autofree char *to_decoded = decode_words (to);
  g_assert_cmpstr (to_decoded, ==, "Hélène Dupré <helene.dupre@example.fr>");
  g_autofree char *mid = header (heads, "Message-ID");
  g_assert_cmpstr (mid, ==, id);
  g_autofree char *subject = header (heads, "Subject");
  g_autofree char *subject_decoded = decode_words (subject);
  g_assert_cmpstr (subject_decoded, ==, "Merci pour votre commande");

  /* The text, then the HTML the shipped template adds. */
  type = header (heads, "Content-Type");
  g_assert_true (g_str_has_prefix (type, "multipart/alternative;"));
  q = strstr (type, "boundary=\"");
  g_assert_nonnull (q);
  boundary = g_strdup (q + 10);
  *strchr (boundary, '"') = '\0';
  part1 = mime_part (mail, boundary, 1);
  part2 = mime_part (mail, boundary, 2);
  split_mail (part1, &h1, &b1);
  split_mail (part2, &h2, &b2);
  text = decode_qp (b1);
  markup = decode_qp (b2);
  st_test_assert_contains (text, "Bonjour Hélène Dupré,");
  st_test_assert_contains (text, "€. Nous espérons qu'il vous");
  st_test_assert_contains (text, "entière satisfaction");
  st_test_assert_contains (markup, "<p>Bonjour Hélène Dupré,</p>");
  st_test_assert_contains (markup, "<strong>49.90&nbsp;€</strong>");
  /* Byte for byte what the templates rendered. */
  sql = g_strdup_printf ("SELECT body FROM messages WHERE customer_id = %"
                         G_GINT64_FORMAT " AND key = '%s'", customer, key);
  db_body = st_test_db_query (daemon->db, sql);
  expected_text = as_mailed (db_body);
  g_assert_cmpstr (text, ==, expected_text);
  g_clear_pointer (&sql, g_free);
  sql = g_strdup_printf ("SELECT html FROM messages WHERE customer_id = %"
                         G_GINT64_FORMAT " AND key = '%s'", customer, key);
  db_html = st_test_db_query (daemon->db, sql);
  g_assert_nonnull (db_html);
  expected_html = as_mailed (db_html);
  g_assert_cmpstr (markup, ==, expected_html);

  st_test_daemon_stop_process (daemon);
  log = read_file (daemon->log_path);
  g_assert_false (st_test_log_has_problem (log != NULL ? log : ""));
  st_test_remove_tree (log_dir);
}

/* The SMTP server is down: the mail is retried on the delivery schedule,
 * then dead with a delivery_failed alert; the SMTP password appears
 * neither in the alert (stewardctl --json) nor in the daemon's log. */
static void
test_daemon_server_down (void)
{
  g_autofree char *url = g_strdup_printf ("smtp://127.0.0.1:%u",
                                          closed_port ());
  g_autofree char *channels = g_strdup_printf (
      "  email: { plugin: email, url: \"%s\", from: care@example.com,\n"
      "           username: steward, password_env: STEWARD_TEST_SMTP_SECRET,\n"
      "           timeout: 5s }\n", url);
  g_autofree char *yaml = NULL;
  g_autoptr (StTestDaemon) daemon = NULL;
  g_autofree char *row = NULL, *key = NULL, *out = NULL, *err = NULL;
  g_autofree char *log = NULL, *customer_text = NULL;
  g_auto (GStrv) fields = NULL;
  gint64 customer, event;

  yaml = daemon_yaml (channels, "{ workers: 1, max_attempts: 3, "
                                "backoff: 200ms, max_backoff: 400ms }");
  daemon = st_test_daemon_start (yaml);
  customer = create_customer (daemon, "Anaïs", "anais@example.fr", "fr");
  event = record_purchase (daemon, customer, 12);
  key = g_strdup_printf ("thanks:%" G_GINT64_FORMAT, event);
  row = wait_message_state (daemon, customer, key, "dead");
  g_test_message ("%s", row);
  fields = g_strsplit (row, "|", 3);
  g_assert_cmpstr (fields[1], ==, "3");
  st_test_assert_contains (fields[2], url);
  st_test_assert_contains (fields[2], "gave up after 3 attempts");

  g_assert_cmpint (st_test_ctl (daemon, &out, &err, "alert", "list", "--open",
                                "--json", NULL), ==, 0);
  g_test_message ("%s", out);
  st_test_assert_contains (out, "delivery_failed");
  customer_text = g_strdup_printf ("\"customer_id\":%" G_GINT64_FORMAT,
                                   customer);
  {
    g_autoptr (GString) compact = g_string_new (out);
    g_string_replace (compact, " ", "", 0);
    st_test_assert_contains (compact->str, customer_text);
  }
  g_assert_null (strstr (out, "S3cret"));

  st_test_daemon_stop_process (daemon);
  log = read_file (daemon->log_path);
  g_assert_nonnull (log);
  g_assert_null (strstr (log, "S3cret"));
  g_assert_false (st_test_log_has_problem (log));
}

int
main (int argc, char **argv)
{
  /* Before any thread starts (setenv is not thread-safe): loopback is
   * reached directly whatever proxy the environment names, and the
   * passwords some cases read from the environment (the daemon inherits
   * them). */
  g_setenv ("NO_PROXY", "127.0.0.1,localhost", TRUE);
  g_setenv ("no_proxy", "127.0.0.1,localhost", TRUE);
  g_setenv ("STEWARD_TEST_EMPTY_PW", "", TRUE);
  g_setenv ("STEWARD_TEST_SMTP_PW", "Wr0ng-Battery", TRUE);
  g_setenv ("STEWARD_TEST_SMTP_SECRET", "S3cret-Do-Not-Show", TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/email/settings", test_settings);
  g_test_add_func ("/email/plain", test_plain_mail);
  g_test_add_func ("/email/html", test_html_mail);
  g_test_add_func ("/email/no-address", test_no_address);
  g_test_add_func ("/email/auth", test_auth);
  g_test_add_func ("/email/failures", test_failures);
  g_test_add_func ("/email/daemon/thank-you", test_daemon_thank_you);
  g_test_add_func ("/email/daemon/server-down", test_daemon_server_down);
  return g_test_run ();
}
