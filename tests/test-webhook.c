/* The webhook channel plugin (plugins/webhook) against a real HTTP server:
 * tests/servers/http-receiver.py on loopback, which records every request
 * and answers as the test scripts it ("429,200", "hang"…). The plugin is
 * the one built in the build tree, loaded with GModule as the daemon does;
 * the last cases run the real stewardd, one of them killed with SIGKILL
 * while a request is in flight. */

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gmodule.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

#include "st-test-util.h"
#include "steward/channel.h"

#define DEADLINE_USEC (60 * G_TIME_SPAN_SECOND)
#define SECRET "whsec-Tr0ub4dor-&-3"

/* The receiver ------------------------------------------------------------ */

typedef struct {
  GSubprocess *process;
  char *dir; /* the recorded requests, and the server's stderr */
  guint16 port;
} Receiver;

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

/* Starts the HTTP receiver answering as @script says; waits for its port. */
static Receiver *
receiver_start (const char *script)
{
  Receiver *r = g_new0 (Receiver, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autofree char *line = NULL, *err_path = NULL, *server = NULL;

  r->dir = g_dir_make_tmp ("steward-http-XXXXXX", &error);
  g_assert_no_error (error);
  err_path = g_build_filename (r->dir, "stderr.txt", NULL);
  server = st_test_source_path ("tests/servers/http-receiver.py");
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_stderr_file_path (launcher, err_path);
  g_subprocess_launcher_set_child_setup (launcher, st_test_die_with_parent,
                                         NULL, NULL);
  r->process = g_subprocess_launcher_spawn (launcher, &error, python (),
                                            server, r->dir,
                                            script != NULL ? script : "",
                                            NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (r->process));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  if (line == NULL)
    {
      g_autofree char *err = read_file (err_path);
      g_error ("the HTTP receiver did not start: %s",
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
receiver_url (Receiver *r, const char *path)
{
  return g_strdup_printf ("http://127.0.0.1:%u%s", r->port, path);
}

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

/* One recorded request. */
typedef struct {
  char *method;
  char *path;
  GHashTable *headers; /* lower-case name → value */
  char *body;
  double received_at;
} Request;

static void
request_free (Request *q)
{
  g_free (q->method);
  g_free (q->path);
  g_hash_table_unref (q->headers);
  g_free (q->body);
  g_free (q);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Request, request_free)

static Request *
received_request (Receiver *r, guint n)
{
  g_autofree char *json_name = g_strdup_printf ("%u.json", n);
  g_autofree char *body_name = g_strdup_printf ("%u.body", n);
  g_autofree char *json_path = g_build_filename (r->dir, json_name, NULL);
  g_autofree char *body_path = g_build_filename (r->dir, body_name, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  Request *q = g_new0 (Request, 1);
  JsonObject *o;
  JsonArray *headers;

  json_parser_load_from_file (parser, json_path, &error);
  g_assert_no_error (error);
  o = json_node_get_object (json_parser_get_root (parser));
  q->method = g_strdup (json_object_get_string_member (o, "method"));
  q->path = g_strdup (json_object_get_string_member (o, "path"));
  q->received_at = json_object_get_double_member (o, "received_at");
  q->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      g_free);
  headers = json_object_get_array_member (o, "headers");
  for (guint i = 0; i < json_array_get_length (headers); i++)
    {
      JsonArray *pair = json_array_get_array_element (headers, i);
      g_hash_table_insert (
          q->headers,
          g_ascii_strdown (json_array_get_string_element (pair, 0), -1),
          g_strdup (json_array_get_string_element (pair, 1)));
    }
  q->body = read_file (body_path);
  g_assert_nonnull (q->body);
  return q;
}

static const char *
request_header (Request *q, const char *name)
{
  g_autofree char *lower = g_ascii_strdown (name, -1);

  return g_hash_table_lookup (q->headers, lower);
}

/* What a receiver does with the signature: the timestamp header and the
 * t= of the signature agree, are recent, and v1 is the HMAC-SHA256 of
 * "<t>.<body>" with the shared secret. */
static void
assert_signed (Request *q, const char *header_name, const char *secret)
{
  const char *signature = request_header (q, header_name);
  const char *timestamp = request_header (q, "Steward-Timestamp");
  g_autofree char *expected_t = NULL, *message = NULL, *hex = NULL;
  g_auto (GStrv) parts = NULL;
  gint64 t;

  g_assert_nonnull (signature);
  g_assert_nonnull (timestamp);
  parts = g_strsplit (signature, ",", -1);
  g_assert_cmpuint (g_strv_length (parts), ==, 2);
  expected_t = g_strdup_printf ("t=%s", timestamp);
  g_assert_cmpstr (parts[0], ==, expected_t);
  t = g_ascii_strtoll (timestamp, NULL, 10);
  g_assert_cmpint (ABS (t - g_get_real_time () / G_USEC_PER_SEC), <, 300);
  message = g_strdup_printf ("%s.%s", timestamp, q->body);
  hex = g_compute_hmac_for_string (G_CHECKSUM_SHA256, (const guchar *) secret,
                                   strlen (secret), message, -1);
  g_assert_true (g_str_has_prefix (parts[1], "v1="));
  g_assert_cmpstr (parts[1] + 3, ==, hex);
}

static JsonObject *
parse_object (const char *json)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

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

/* A file holding the secret, in @dir. */
static char *
write_secret (const char *dir)
{
  char *path = g_build_filename (dir, "webhook-secret", NULL);

  g_assert_true (g_file_set_contents (path, SECRET "\n", -1, NULL));
  return path;
}

/* The plugin -------------------------------------------------------------- */

typedef struct {
  GModule *module;
  const StChannelPlugin *vtable;
} Plugin;

static Plugin
plugin_load (void)
{
  g_autofree char *path = st_test_build_path ("plugins/webhook/libwebhook.so");
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
  g_free (*detail);
  *detail = NULL;
  return p->vtable->deliver (instance, m, detail);
}

static StChannelMessage
message_new (const char *key)
{
  return (StChannelMessage){
    .id = 7,
    .customer_id = 42,
    .key = key,
    .channel = "webhook",
    .script = "thank-you",
    .template_name = "thank_you",
    .locale = "fr",
    .subject = "Merci pour votre commande",
    .body = "Bonjour Hélène,\nMerci pour votre achat de 49,90 € !",
    .data_json = "{\"amount\": 49.9, \"items\": [\"thé\", \"café\"]}",
    .attempt = 1,
    .customer_json = "{\"id\": 42, \"name\": \"Hélène Dupré\", \"email\": "
                     "\"helene@example.fr\", \"phone\": null, \"locale\": "
                     "\"fr\", \"tz\": \"Europe/Paris\"}",
  };
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
  g_assert_null (strstr (error->message, SECRET));
  g_hash_table_unref (settings);
}

static void
test_settings (void)
{
  Plugin p = plugin_load ();
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("steward-webhook-XXXXXX", &error);
  g_autofree char *secret = write_secret (dir);
  g_autofree char *empty = g_build_filename (dir, "empty", NULL);

  g_assert_cmpuint (p.vtable->abi_version, ==, ST_CHANNEL_ABI_VERSION);
  g_assert_cmpstr (p.vtable->name, ==, "webhook");
  g_assert_true (p.vtable->flags & ST_CHANNEL_PLUGIN_THREAD_SAFE);

  expect_open_error (&p, settings_new ("url", "http://127.0.0.1/",
                                       "secret_file", secret, "timout", "5s",
                                       NULL),
                     "unknown setting 'timout'; the webhook plugin knows url, "
                     "secret_file, secret_env, signature_header, timeout");
  expect_open_error (&p, settings_new ("secret_file", secret, NULL),
                     "the webhook plugin needs 'url'");
  expect_open_error (&p, settings_new ("url", "ftp://example.com/x",
                                       "secret_file", secret, NULL),
                     "(not 'ftp://example.com/x')");
  expect_open_error (&p, settings_new ("url", "https://u:" SECRET
                                       "@example.com/x", "secret_file", secret,
                                       NULL),
                     "'url' must not hold a user or a password");
  expect_open_error (&p, settings_new ("url", "http://127.0.0.1/", NULL),
                     "needs exactly one of 'secret_file'");
  expect_open_error (&p, settings_new ("url", "http://127.0.0.1/",
                                       "secret_file", secret, "secret_env",
                                       "X", NULL),
                     "needs exactly one of 'secret_file'");
  expect_open_error (&p, settings_new ("url", "http://127.0.0.1/",
                                       "secret_file", "relative/secret", NULL),
                     "'secret_file' must be an absolute path");
  g_assert_true (g_file_set_contents (empty, "\n", -1, NULL));
  expect_open_error (&p, settings_new ("url", "http://127.0.0.1/",
                                       "secret_file", empty, NULL),
                     "has an empty first line");
  expect_open_error (&p, settings_new ("url", "http://127.0.0.1/",
                                       "secret_env",
                                       "STEWARD_TEST_NO_SUCH_SECRET", NULL),
                     "STEWARD_TEST_NO_SUCH_SECRET is unset or empty");
  expect_open_error (&p, settings_new ("url", "http://127.0.0.1/",
                                       "secret_file", secret, "timeout", "10",
                                       NULL),
                     "'timeout' must be a duration from 100ms to 10m such as "
                     "10s, not '10'");
  expect_open_error (&p, settings_new ("url", "http://127.0.0.1/",
                                       "secret_file", secret,
                                       "signature_header", "Bad Header:",
                                       NULL),
                     "'signature_header' must be an HTTP header name");
  g_unlink (secret);
  g_unlink (empty);
  g_rmdir (dir);
  g_module_close (p.module);
}

/* A delivered message: a signed POST of the message as JSON, keyed by
 * customer and key, accents intact; the signature header's name is a
 * setting. */
static void
test_signed_post (void)
{
  g_autoptr (Receiver) r = receiver_start ("200,204");
  g_autofree char *url = receiver_url (r, "/hooks/steward?token=abc");
  g_autofree char *secret = write_secret (r->dir);
  Plugin p = plugin_load ();
  g_autoptr (GHashTable) settings = settings_new ("url", url, "secret_file",
                                                  secret, "timeout", "5s",
                                                  NULL);
  g_autoptr (GHashTable) custom = settings_new ("url", url, "secret_env",
                                                "STEWARD_TEST_HOOK_SECRET",
                                                "signature_header",
                                                "X-Hub-Signature", NULL);
  gpointer instance = open_ok (&p, settings);
  StChannelMessage m = message_new ("thanks:311");
  g_autofree char *detail = NULL;
  g_autoptr (Request) q = NULL, q2 = NULL;
  g_autoptr (JsonObject) body = NULL;
  JsonObject *data, *customer;

  m.html = "<p>Merci — 49,90 €</p>";
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==, ST_DELIVERY_SENT);
  /* Details name where it went, without the query (it may hold a token). */
  g_assert_null (strstr (detail, "token"));
  wait_received (r, 1);
  q = received_request (r, 1);
  g_test_message ("%s", q->body);
  g_assert_cmpstr (q->method, ==, "POST");
  g_assert_cmpstr (q->path, ==, "/hooks/steward?token=abc");
  g_assert_cmpstr (request_header (q, "Content-Type"), ==, "application/json");
  g_assert_cmpstr (request_header (q, "Idempotency-Key"), ==, "42:thanks:311");
  assert_signed (q, "Steward-Signature", SECRET);

  /* One line; the script's data exactly as the daemon wrote it. */
  g_assert_null (strchr (q->body, '\n'));
  st_test_assert_contains (q->body, ",\"data\":{\"amount\": 49.9, \"items\": "
                                    "[\"thé\", \"café\"]},");
  body = parse_object (q->body);
  g_assert_cmpint (json_object_get_int_member (body, "id"), ==, 7);
  g_assert_cmpstr (json_object_get_string_member (body, "key"), ==,
                   "thanks:311");
  g_assert_cmpint (json_object_get_int_member (body, "customer_id"), ==, 42);
  g_assert_cmpstr (json_object_get_string_member (body, "channel"), ==,
                   "webhook");
  g_assert_cmpstr (json_object_get_string_member (body, "script"), ==,
                   "thank-you");
  g_assert_cmpstr (json_object_get_string_member (body, "template"), ==,
                   "thank_you");
  g_assert_cmpstr (json_object_get_string_member (body, "locale"), ==, "fr");
  g_assert_true (json_object_get_null_member (body, "recipient"));
  g_assert_cmpstr (json_object_get_string_member (body, "subject"), ==,
                   m.subject);
  g_assert_cmpstr (json_object_get_string_member (body, "body"), ==, m.body);
  g_assert_cmpstr (json_object_get_string_member (body, "html"), ==, m.html);
  g_assert_cmpint (json_object_get_int_member (body, "attempt"), ==, 1);
  data = json_object_get_object_member (body, "data");
  g_assert_cmpfloat (json_object_get_double_member (data, "amount"), ==, 49.9);
  g_assert_cmpstr (json_array_get_string_element (
                       json_object_get_array_member (data, "items"), 0),
                   ==, "thé");
  customer = json_object_get_object_member (body, "customer");
  g_assert_cmpstr (json_object_get_string_member (customer, "name"), ==,
                   "Hélène Dupré");
  p.vtable->close (instance);

  /* The secret from the environment; another header name; a key with
   * characters a header cannot carry is percent-encoded. */
  instance = open_ok (&p, custom);
  m.key = "promo: été 100%";
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==, ST_DELIVERY_SENT);
  wait_received (r, 2);
  q2 = received_request (r, 2);
  assert_signed (q2, "X-Hub-Signature", SECRET);
  g_assert_null (request_header (q2, "Steward-Signature"));
  g_assert_cmpstr (request_header (q2, "Idempotency-Key"), ==,
                   "42:promo:%20%C3%A9t%C3%A9%20100%25");
  p.vtable->close (instance);
  g_module_close (p.module);
}

/* HTTP statuses: 2xx sent; 408, 429 and 5xx retried; other 4xx (and 3xx)
 * dead, with the status and the start of the answer in the detail. */
static void
test_statuses (void)
{
  static const struct {
    const char *status;
    StDeliveryResult result;
  } cases[] = {
    { "200", ST_DELIVERY_SENT },   { "201", ST_DELIVERY_SENT },
    { "202", ST_DELIVERY_SENT },   { "204", ST_DELIVERY_SENT },
    { "408", ST_DELIVERY_RETRY },  { "429", ST_DELIVERY_RETRY },
    { "500", ST_DELIVERY_RETRY },  { "502", ST_DELIVERY_RETRY },
    { "503", ST_DELIVERY_RETRY },  { "504", ST_DELIVERY_RETRY },
    { "400", ST_DELIVERY_FAILED }, { "401", ST_DELIVERY_FAILED },
    { "403", ST_DELIVERY_FAILED }, { "404", ST_DELIVERY_FAILED },
    { "410", ST_DELIVERY_FAILED }, { "422", ST_DELIVERY_FAILED },
    { "301", ST_DELIVERY_FAILED },
  };
  g_autoptr (GString) script = g_string_new (NULL);
  g_autoptr (Receiver) r = NULL;
  g_autofree char *url = NULL, *secret = NULL, *detail = NULL;
  g_autoptr (GHashTable) settings = NULL;
  Plugin p = plugin_load ();
  StChannelMessage m = message_new ("thanks:status");
  gpointer instance;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_string_append_printf (script, "%s%s", i > 0 ? "," : "",
                            cases[i].status);
  r = receiver_start (script->str);
  url = receiver_url (r, "/hook");
  secret = write_secret (r->dir);
  settings = settings_new ("url", url, "secret_file", secret, NULL);
  instance = open_ok (&p, settings);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      StDeliveryResult result = deliver (&p, instance, &m, &detail);
      g_test_message ("%s: %d %s", cases[i].status, result, detail);
      g_assert_cmpint (result, ==, cases[i].result);
      st_test_assert_contains (detail, cases[i].status);
      if (result != ST_DELIVERY_SENT)
        {
          g_autofree char *answer = g_strdup_printf (
              "scripted answer %s to request %u", cases[i].status, i + 1);
          st_test_assert_contains (detail, answer);
        }
    }
  st_test_assert_contains (detail, "redirects are not followed");
  g_assert_cmpuint (received_count (r), ==, G_N_ELEMENTS (cases));
  p.vtable->close (instance);
  g_module_close (p.module);
}

/* 429, then 200: the retry is the same request (same Idempotency-Key and
 * body), signed again. */
static void
test_429_then_200 (void)
{
  g_autoptr (Receiver) r = receiver_start ("429,200");
  g_autofree char *url = receiver_url (r, "/hook");
  g_autofree char *secret = write_secret (r->dir);
  Plugin p = plugin_load ();
  g_autoptr (GHashTable) settings = settings_new ("url", url, "secret_file",
                                                  secret, NULL);
  gpointer instance = open_ok (&p, settings);
  StChannelMessage m = message_new ("thanks:429");
  g_autofree char *detail = NULL;
  g_autoptr (Request) q1 = NULL, q2 = NULL;
  g_autoptr (JsonObject) b1 = NULL, b2 = NULL;

  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==, ST_DELIVERY_RETRY);
  st_test_assert_contains (detail, "answered 429");
  m.attempt = 2;
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==, ST_DELIVERY_SENT);
  wait_received (r, 2);
  q1 = received_request (r, 1);
  q2 = received_request (r, 2);
  g_assert_cmpstr (request_header (q1, "Idempotency-Key"), ==,
                   "42:thanks:429");
  g_assert_cmpstr (request_header (q2, "Idempotency-Key"), ==,
                   "42:thanks:429");
  assert_signed (q1, "Steward-Signature", SECRET);
  assert_signed (q2, "Steward-Signature", SECRET);
  b1 = parse_object (q1->body);
  b2 = parse_object (q2->body);
  g_assert_cmpint (json_object_get_int_member (b1, "attempt"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (b2, "attempt"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (b2, "key"), ==,
                   "thanks:429");
  p.vtable->close (instance);
  g_module_close (p.module);
}

/* Nothing listening, or a receiver that never answers: retried, within the
 * configured time-out. */
static void
test_down_and_timeout (void)
{
  g_autoptr (Receiver) r = receiver_start ("hang");
  g_autofree char *url = receiver_url (r, "/hook");
  g_autofree char *down = g_strdup_printf ("http://127.0.0.1:%u/hook",
                                           closed_port ());
  g_autofree char *secret = write_secret (r->dir);
  Plugin p = plugin_load ();
  g_autoptr (GHashTable) hang = settings_new ("url", url, "secret_file",
                                              secret, "timeout", "300ms",
                                              NULL);
  g_autoptr (GHashTable) gone = settings_new ("url", down, "secret_file",
                                              secret, NULL);
  StChannelMessage m = message_new ("thanks:hang");
  g_autofree char *detail = NULL;
  gpointer instance = open_ok (&p, gone);
  gint64 start;

  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==, ST_DELIVERY_RETRY);
  g_test_message ("%s", detail);
  st_test_assert_contains (detail, down);
  st_test_assert_contains (detail, "onnect");
  p.vtable->close (instance);

  instance = open_ok (&p, hang);
  start = g_get_monotonic_time ();
  g_assert_cmpint (deliver (&p, instance, &m, &detail), ==, ST_DELIVERY_RETRY);
  g_test_message ("%s", detail);
  st_test_assert_contains (detail, "timed out");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 20 * G_TIME_SPAN_SECOND);
  g_assert_cmpuint (received_count (r), ==, 1);
  p.vtable->close (instance);
  g_module_close (p.module);
}

/* Through the real daemon -------------------------------------------------- */

static const char notify_script[] =
    "return {\n"
    "  name = 'notify', on = { 'purchase' },\n"
    "  run = function(customer, event)\n"
    "    steward.send{ customer = customer, channel = 'webhook',\n"
    "                  key = 'order:' .. event.id,\n"
    "                  subject = 'Commande reçue',\n"
    "                  body = 'Merci ' .. customer.name .. ' — à bientôt',\n"
    "                  data = { amount = event.amount } }\n"
    "  end,\n"
    "}\n";

typedef struct {
  char *dir; /* scripts and the secret */
  char *secret;
  StTestDaemon *daemon;
} Daemon;

static Daemon *
daemon_start (Receiver *r, const char *channel_extra, const char *delivery)
{
  Daemon *d = g_new0 (Daemon, 1);
  g_autoptr (GError) error = NULL;
  g_autofree char *plugins = st_test_build_path ("plugins");
  g_autofree char *script = NULL, *url = receiver_url (r, "/hook");
  g_autofree char *yaml = NULL;

  d->dir = g_dir_make_tmp ("steward-webhook-XXXXXX", &error);
  g_assert_no_error (error);
  script = g_build_filename (d->dir, "notify.lua", NULL);
  g_assert_true (g_file_set_contents (script, notify_script, -1, NULL));
  d->secret = write_secret (d->dir);
  yaml = g_strdup_printf ("scripts: [%s]\n"
                          "plugin_dir: %s\n"
                          "delivery: %s\n"
                          "channels:\n"
                          "  webhook: { plugin: webhook, url: \"%s\",\n"
                          "             secret_file: \"%s\", %s }\n",
                          d->dir, plugins, delivery, url, d->secret,
                          channel_extra);
  d->daemon = st_test_daemon_start (yaml);
  return d;
}

static void
daemon_free (Daemon *d)
{
  g_autofree char *log = NULL;

  st_test_daemon_stop_process (d->daemon);
  log = read_file (d->daemon->log_path);
  g_assert_false (st_test_log_has_problem (log != NULL ? log : ""));
  /* The secret is never logged. */
  g_assert_null (strstr (log != NULL ? log : "", SECRET));
  st_test_daemon_free (d->daemon);
  st_test_remove_tree (d->dir);
  g_free (d->dir);
  g_free (d->secret);
  g_free (d);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Daemon, daemon_free)

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
create_customer (StTestDaemon *daemon, const char *name)
{
  g_autoptr (GVariant) reply = NULL, record = NULL;
  g_autofree char *email = g_strdup_printf ("c%u@example.fr", g_random_int ());
  GVariantDict fields;

  g_variant_dict_init (&fields, NULL);
  g_variant_dict_insert (&fields, "name", "s", name);
  g_variant_dict_insert (&fields, "email", "s", email);
  g_variant_dict_insert (&fields, "locale", "s", "fr");
  reply = call (daemon, "Customers", "Create",
                g_variant_new ("(@a{sv})", g_variant_dict_end (&fields)));
  record = g_variant_get_child_value (reply, 0);
  return st_test_rec_int64 (record, "id");
}

static gint64
record_purchase (StTestDaemon *daemon, gint64 customer)
{
  g_autofree char *address = g_strdup_printf ("id:%" G_GINT64_FORMAT,
                                              customer);
  g_autoptr (GVariant) reply = NULL, record = NULL;
  GVariantDict data;

  g_variant_dict_init (&data, NULL);
  g_variant_dict_insert (&data, "amount", "d", 25.0);
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

/* A receiver that answers 503: the message is retried after backoff, then
 * twice that, then dead with a delivery_failed alert that names the status
 * and not the secret. */
static void
test_daemon_retry_then_dead (void)
{
  g_autoptr (Receiver) r = receiver_start ("503,503,503");
  g_autoptr (Daemon) d = daemon_start (
      r, "timeout: 5s", "{ workers: 1, max_attempts: 3, backoff: 1s, "
                        "max_backoff: 10s }");
  gint64 customer = create_customer (d->daemon, "Zoé");
  gint64 event = record_purchase (d->daemon, customer);
  g_autofree char *key = g_strdup_printf ("order:%" G_GINT64_FORMAT, event);
  g_autofree char *row = wait_message_state (d->daemon, customer, key, "dead");
  g_autofree char *out = NULL, *err = NULL, *idem = NULL;
  g_auto (GStrv) fields = g_strsplit (row, "|", 3);
  g_autoptr (Request) q1 = NULL, q2 = NULL, q3 = NULL;
  double gap1, gap2;

  g_test_message ("%s", row);
  g_assert_cmpstr (fields[1], ==, "3");
  st_test_assert_contains (fields[2], "answered 503");
  st_test_assert_contains (fields[2], "gave up after 3 attempts");
  g_assert_cmpuint (received_count (r), ==, 3);
  q1 = received_request (r, 1);
  q2 = received_request (r, 2);
  q3 = received_request (r, 3);
  idem = g_strdup_printf ("%" G_GINT64_FORMAT ":%s", customer, key);
  g_assert_cmpstr (request_header (q1, "Idempotency-Key"), ==, idem);
  g_assert_cmpstr (request_header (q3, "Idempotency-Key"), ==, idem);
  assert_signed (q3, "Steward-Signature", SECRET);
  /* The schedule: backoff (1 s), then twice that, each ± 20 %. */
  gap1 = q2->received_at - q1->received_at;
  gap2 = q3->received_at - q2->received_at;
  g_test_message ("gaps: %.3f s, %.3f s", gap1, gap2);
  g_assert_cmpfloat (gap1, >=, 0.8 - 0.05);
  g_assert_cmpfloat (gap1, <, 1.2 + 3.0);
  g_assert_cmpfloat (gap2, >=, 1.6 - 0.05);
  g_assert_cmpfloat (gap2, <, 2.4 + 3.0);

  g_assert_cmpint (st_test_ctl (d->daemon, &out, &err, "alert", "list",
                                "--open", "--json", NULL), ==, 0);
  g_test_message ("%s", out);
  st_test_assert_contains (out, "delivery_failed");
  st_test_assert_contains (out, "answered 503");
  g_assert_null (strstr (out, SECRET));
}

/* kill -9 while the request is in flight (the receiver holds it without
 * answering): after a restart the same message is posted again with the
 * same Idempotency-Key, and ends sent. */
static void
test_daemon_kill_in_flight (void)
{
  g_autoptr (Receiver) r = receiver_start ("hang,200");
  g_autoptr (Daemon) d = daemon_start (r, "timeout: 2m", "{ workers: 1 }");
  gint64 customer = create_customer (d->daemon, "Maëlle");
  gint64 event = record_purchase (d->daemon, customer);
  g_autofree char *key = g_strdup_printf ("order:%" G_GINT64_FORMAT, event);
  g_autofree char *idem = g_strdup_printf ("%" G_GINT64_FORMAT ":%s", customer,
                                           key);
  g_autofree char *row = NULL, *state = NULL, *sql = NULL;
  g_autoptr (Request) q1 = NULL, q2 = NULL;
  g_autoptr (JsonObject) b1 = NULL, b2 = NULL;

  /* The first request has arrived and is held open. */
  wait_received (r, 1);
  sql = g_strdup_printf ("SELECT state FROM messages WHERE customer_id = %"
                         G_GINT64_FORMAT " AND key = '%s'", customer, key);
  state = st_test_db_query (d->daemon->db, sql);
  g_assert_cmpstr (state, ==, "pending");
  g_subprocess_send_signal (d->daemon->process, SIGKILL);
  st_test_daemon_restart (d->daemon);

  row = wait_message_state (d->daemon, customer, key, "sent");
  g_test_message ("%s", row);
  g_assert_cmpuint (received_count (r), ==, 2);
  q1 = received_request (r, 1);
  q2 = received_request (r, 2);
  g_assert_cmpstr (request_header (q1, "Idempotency-Key"), ==, idem);
  g_assert_cmpstr (request_header (q2, "Idempotency-Key"), ==, idem);
  assert_signed (q2, "Steward-Signature", SECRET);
  b1 = parse_object (q1->body);
  b2 = parse_object (q2->body);
  g_assert_cmpstr (json_object_get_string_member (b2, "key"), ==, key);
  g_assert_cmpint (json_object_get_int_member (b1, "id"), ==,
                   json_object_get_int_member (b2, "id"));
  g_assert_cmpstr (json_object_get_string_member (b2, "body"), ==,
                   "Merci Maëlle — à bientôt");
}

int
main (int argc, char **argv)
{
  /* Before any thread starts (setenv is not thread-safe): loopback is
   * reached directly whatever proxy the environment names, and a secret
   * one case reads from the environment. */
  g_setenv ("NO_PROXY", "127.0.0.1,localhost", TRUE);
  g_setenv ("no_proxy", "127.0.0.1,localhost", TRUE);
  g_setenv ("STEWARD_TEST_HOOK_SECRET", SECRET, TRUE);
  g_unsetenv ("STEWARD_TEST_NO_SUCH_SECRET");
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/webhook/settings", test_settings);
  g_test_add_func ("/webhook/signed-post", test_signed_post);
  g_test_add_func ("/webhook/statuses", test_statuses);
  g_test_add_func ("/webhook/429-then-200", test_429_then_200);
  g_test_add_func ("/webhook/down-and-timeout", test_down_and_timeout);
  g_test_add_func ("/webhook/daemon/retry-then-dead",
                   test_daemon_retry_then_dead);
  g_test_add_func ("/webhook/daemon/kill-in-flight",
                   test_daemon_kill_in_flight);
  return g_test_run ();
}
