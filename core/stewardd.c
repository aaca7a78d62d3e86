/* stewardd: the Steward daemon. Small on purpose: the engine is a library. */
#include <gio/gio.h>
#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>

#include "st-build-config.h"
#include "st-campaigns.h"
#include "st-care.h"
#include "st-config.h"
#include "st-engine.h"
#include "st-error.h"
#include "st-outbox.h"
#include "st-plugins.h"
#include "st-service.h"
#include "st-store.h"

#define ST_DEFAULT_CONFIG ST_SYSCONFDIR "/steward/steward.yaml"

typedef struct {
  GMainLoop *loop;
  StEngine *engine;
  StService *service;
  StCare *care;
  StCampaigns *campaigns;
  StDelivery *delivery;
  int exit_code;
} Daemon;

static gboolean
on_quit_signal (gpointer user_data)
{
  Daemon *daemon = user_data;

  g_message ("stopping");
  g_main_loop_quit (daemon->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_hangup (gpointer user_data)
{
  Daemon *daemon = user_data;
  g_autoptr (GError) error = NULL;

  if (st_engine_reload (daemon->engine, &error))
    g_message ("configuration reloaded");
  else
    g_warning ("configuration not reloaded, keeping the running one: %s",
               error->message);
  return G_SOURCE_CONTINUE;
}

static void
on_bus_acquired (GDBusConnection *connection, const char *name,
                 gpointer user_data)
{
  Daemon *daemon = user_data;
  g_autoptr (GError) error = NULL;

  (void) name;
  if (!st_service_register (daemon->service, connection, &error))
    {
      g_printerr ("stewardd: cannot export %s: %s\n", ST_OBJECT_PATH,
                  error->message);
      daemon->exit_code = 1;
      g_main_loop_quit (daemon->loop);
    }
}

static void
on_name_acquired (GDBusConnection *connection, const char *name,
                  gpointer user_data)
{
  (void) connection, (void) user_data;
  g_message ("ready: %s on the bus", name);
}

static void
on_name_lost (GDBusConnection *connection, const char *name,
              gpointer user_data)
{
  Daemon *daemon = user_data;

  if (connection == NULL)
    g_printerr ("stewardd: cannot connect to the D-Bus bus; is one running? "
                "(tools/run starts one)\n");
  else
    g_printerr ("stewardd: %s is already owned on this bus: another stewardd "
                "is running there; stop it first\n", name);
  daemon->exit_code = 1;
  g_main_loop_quit (daemon->loop);
}

static void
delivery_alert (GVariant *alert, gpointer user_data)
{
  st_engine_alert_raised (user_data, alert);
}

static StConfig *
load_config (const char *path, GError **error)
{
  if (path != NULL)
    return st_config_load (path, error);
  if (g_file_test (ST_DEFAULT_CONFIG, G_FILE_TEST_EXISTS))
    return st_config_load (ST_DEFAULT_CONFIG, error);
  g_message ("no %s: running with the built-in defaults", ST_DEFAULT_CONFIG);
  return st_config_new_default ();
}

int
main (int argc, char **argv)
{
  g_autofree char *config_path = NULL;
  g_autofree char *check_path = NULL;
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "Configuration file (default " ST_DEFAULT_CONFIG ")", "FILE" },
    { "check-config", 0, 0, G_OPTION_ARG_FILENAME, &check_path,
      "Check a configuration file and exit", "FILE" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) config = NULL;
  Daemon daemon = { 0 };
  guint owner;

  setlocale (LC_ALL, "");
  context = g_option_context_new ("- the Steward customer-lifecycle daemon");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("stewardd: %s\nTry 'stewardd --help'.\n", error->message);
      return 2;
    }
  /* `stewardd steward.yaml` would otherwise run on the defaults. */
  for (int i = 1; i < argc; i++)
    if (!g_str_equal (argv[i], "--"))
      {
        g_printerr ("stewardd: unexpected argument '%s'; give the "
                    "configuration file with --config FILE\nTry 'stewardd "
                    "--help'.\n", argv[i]);
        return 2;
      }
  if (version)
    {
      printf ("stewardd %s (schema %d)\n", ST_VERSION,
              st_store_known_schema_version ());
      return 0;
    }
  if (check_path != NULL)
    {
      config = st_config_load (check_path, &error);
      if (config != NULL && !st_plugins_check_channels (config, &error))
        g_clear_pointer (&config, st_config_free);
      if (config == NULL)
        {
          g_printerr ("%s\n", error->message);
          return 1;
        }
      printf ("%s: ok\n", check_path);
      return 0;
    }

  config = load_config (config_path, &error);
  if (config == NULL)
    {
      g_printerr ("stewardd: %s\n", error->message);
      return 1;
    }
  {
    StBusType bus = config->bus;
    daemon.engine = st_engine_new (g_steal_pointer (&config), &error);
    if (daemon.engine == NULL)
      {
        g_printerr ("stewardd: %s\n", error->message);
        return 1;
      }
    daemon.loop = g_main_loop_new (NULL, FALSE);
    daemon.service = st_service_new (daemon.engine);
    daemon.delivery = st_delivery_new (st_engine_conninfo (daemon.engine),
                                       st_engine_get_config (daemon.engine),
                                       delivery_alert, daemon.engine, &error);
    if (daemon.delivery == NULL)
      {
        g_printerr ("stewardd: %s\n", error->message);
        st_service_free (daemon.service);
        st_engine_free (daemon.engine);
        return 1;
      }
    daemon.care = st_care_new (daemon.engine);
    st_care_start (daemon.care);
    daemon.campaigns = st_campaigns_new (daemon.engine);
    st_service_set_campaigns (daemon.service, daemon.campaigns);
    st_campaigns_start (daemon.campaigns);
    st_delivery_start (daemon.delivery);
    owner = g_bus_own_name (bus == ST_BUS_SYSTEM ? G_BUS_TYPE_SYSTEM
                                                 : G_BUS_TYPE_SESSION,
                            ST_BUS_NAME, G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                            on_bus_acquired, on_name_acquired, on_name_lost,
                            &daemon, NULL);
  }
  g_unix_signal_add (SIGINT, on_quit_signal, &daemon);
  g_unix_signal_add (SIGTERM, on_quit_signal, &daemon);
  g_unix_signal_add (SIGHUP, on_hangup, &daemon);

  g_message ("stewardd %s started, schema version %d", ST_VERSION,
             st_engine_schema_version (daemon.engine));
  g_main_loop_run (daemon.loop);

  g_bus_unown_name (owner);
  st_care_free (daemon.care);
  st_campaigns_free (daemon.campaigns);
  st_delivery_free (daemon.delivery);
  st_service_free (daemon.service);
  st_engine_free (daemon.engine);
  g_main_loop_unref (daemon.loop);
  return daemon.exit_code;
}
