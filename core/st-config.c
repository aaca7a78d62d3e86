/* The configuration file: its top-level keys, the lifecycle (stages), the
 * lua and care sections, and the public API. Every section is a table of
 * keys walked by st_parse_section (st-config-parse.c, with the YAML reader
 * and the shared value parsers); the delivery sections (delivery,
 * plugin_dir, channels, quiet_hours, default_tz, caps) are in
 * st-config-delivery.c, campaigns in st-config-campaigns.c, access in
 * st-config-access.c. */

#include "st-config-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include <glib/gstdio.h>
#include <libpq-fe.h>

#include "st-error.h"

#define ST_STAGE_NAME_MAX 63

/* Top-level keys */

static gboolean
st_parse_database (const StParse *p, const StKey *key, const StNode *value,
                   gpointer target, GError **error)
{
  StConfig *config = target;
  const char *text = st_expect_text (p, key, value, error);
  PQconninfoOption *options;
  char *problem = NULL;

  if (text == NULL)
    return FALSE;
  if (*text != '\0')
    {
      /* Caught here, a typo names its line; caught at connect, it would not. */
      options = PQconninfoParse (text, &problem);
      if (options == NULL)
        {
          g_autofree char *reason = g_strdup (problem ? problem : "out of memory");
          PQfreemem (problem);
          return st_fail (p, ST_AT (value), error, "'%s' is not a valid libpq "
                          "connection string (%s); write it like 'host=/run/"
                          "postgresql dbname=steward' or 'postgresql://"
                          "steward@localhost/steward'", key->name,
                          g_strchomp (reason));
        }
      PQconninfoFree (options);
    }
  g_free (config->database);
  config->database = *text != '\0' ? g_strdup (text) : NULL;
  return TRUE;
}

static gboolean
st_parse_bus (const StParse *p, const StKey *key, const StNode *value,
              gpointer target, GError **error)
{
  StConfig *config = target;
  const char *text = st_expect_text (p, key, value, error);

  if (text == NULL)
    return FALSE;
  if (g_str_equal (text, "session"))
    config->bus = ST_BUS_SESSION;
  else if (g_str_equal (text, "system"))
    config->bus = ST_BUS_SYSTEM;
  else
    return st_fail_expects (p, key, value, error);
  return TRUE;
}

static gboolean
st_parse_scripts (const StParse *p, const StKey *key, const StNode *value,
                  gpointer target, GError **error)
{
  StConfig *config = target;
  g_autoptr (GStrvBuilder) folders = g_strv_builder_new ();

  if (value->kind != ST_NODE_LIST)
    return st_fail_expects (p, key, value, error);
  for (guint i = 0; i < value->items->len; i++)
    {
      const StNode *item = ST_ITEM (value, i);
      g_autofree char *folder = NULL;

      if (item->kind != ST_NODE_SCALAR || st_node_is_null (item)
          || *item->text == '\0')
        return st_fail_found (p, item, error, "each entry of '%s' must be a "
                              "folder path", key->name);
      if (p->base_dir != NULL && !g_path_is_absolute (item->text))
        folder = g_build_filename (p->base_dir, item->text, NULL);
      else
        folder = g_strdup (item->text);
      g_strv_builder_add (folders, folder);
    }
  g_strfreev (config->scripts);
  config->scripts = g_strv_builder_end (folders);
  return TRUE;
}

static void
st_stage_free (StStage *stage)
{
  g_free (stage->name);
  g_strfreev (stage->next);
  g_free (stage);
}

static StStage *
st_stage_new (const char *name, GStrv next)
{
  StStage *stage = g_new0 (StStage, 1);

  stage->name = g_strdup (name);
  stage->next = next;
  return stage;
}

/* One stage and where it may go; every stage name is already checked. */
static gboolean
st_parse_stage (const StParse *p, const StNode *stages, const StNode *name,
                const StNode *moves, StStage **out, GError **error)
{
  g_autoptr (GStrvBuilder) next = g_strv_builder_new ();

  if (st_node_is_null (moves))
    return st_fail (p, ST_AT (name), error, "stage '%s' has no list of next "
                    "stages; write [] if customers never leave it",
                    name->text);
  if (moves->kind != ST_NODE_LIST)
    return st_fail_found (p, moves, error, "the next stages of '%s' must be "
                          "a list such as [active, churned]", name->text);
  for (guint i = 0; i < moves->items->len; i++)
    {
      const StNode *to = ST_ITEM (moves, i);

      if (to->kind != ST_NODE_SCALAR || st_node_is_null (to))
        return st_fail_found (p, to, error, "each next stage of '%s' must be "
                              "a stage name", name->text);
      if (g_str_equal (to->text, name->text))
        return st_fail (p, ST_AT (to), error, "stage '%s' lists itself; a "
                        "stage cannot move to itself, remove '%s' from its "
                        "list", name->text, to->text);
      if (st_map_lookup (stages, to->text) == NULL)
        {
          g_autoptr (GString) declared = g_string_new (NULL);
          for (guint j = 0; j < stages->items->len; j += 2)
            g_string_append_printf (declared, "%s%s", j ? ", " : "",
                                    ST_ITEM (stages, j)->text);
          return st_fail_found (p, to, error, "stage '%s' may only move to "
                                "a declared stage (%s)", name->text,
                                declared->str);
        }
      for (guint j = 0; j < i; j++)
        if (g_str_equal (ST_ITEM (moves, j)->text, to->text))
          return st_fail (p, ST_AT (to), error, "stage '%s' lists '%s' "
                          "twice, at lines %" G_GSIZE_FORMAT " and %"
                          G_GSIZE_FORMAT "; remove one", name->text, to->text,
                          ST_ITEM (moves, j)->line, to->line);
      g_strv_builder_add (next, to->text);
    }
  *out = st_stage_new (name->text, g_strv_builder_end (next));
  return TRUE;
}

static gboolean
st_parse_stages (const StParse *p, const StKey *key, const StNode *value,
                 gpointer target, GError **error)
{
  StConfig *config = target;
  g_autoptr (GPtrArray) stages = NULL;

  if (value->kind != ST_NODE_MAP)
    return st_fail_expects (p, key, value, error);
  if (value->items->len == 0)
    return st_fail (p, ST_AT (value), error, "'%s' declares no stage; declare "
                    "at least one (the first is where new customers start)",
                    key->name);
  if (!st_check_keys (p, value, "in 'stages'", error))
    return FALSE;
  /* All names first: a stage may move to one declared after it. */
  for (guint i = 0; i < value->items->len; i += 2)
    if (!st_config_stage_name_valid (ST_ITEM (value, i)->text))
      return st_fail_found (p, ST_ITEM (value, i), error, "a stage name must "
                            "be a lower-case letter then up to %d lower-case "
                            "letters, digits or '_'", ST_STAGE_NAME_MAX - 1);

  stages = g_ptr_array_new_with_free_func ((GDestroyNotify) st_stage_free);
  for (guint i = 0; i < value->items->len; i += 2)
    {
      StStage *stage = NULL;
      if (!st_parse_stage (p, value, ST_ITEM (value, i), ST_ITEM (value, i + 1),
                           &stage, error))
        return FALSE;
      g_ptr_array_add (stages, stage);
    }
  g_ptr_array_unref (config->stages);
  config->stages = g_steal_pointer (&stages);
  return TRUE;
}

/* lua */

static const StKey st_lua_keys[] = {
  ST_KEY_FIELD ("instructions", "a whole number from 1000 to 1000000000000",
                ST_KEY_NUMBER, StConfig, lua_instructions, 1000,
                G_GUINT64_CONSTANT (1000000000000)),
  ST_KEY_FIELD ("timeout", "a duration from 10ms to 1h such as 500ms or 2s",
                ST_KEY_DURATION, StConfig, lua_timeout_ms, 10, 3600 * 1000),
  ST_KEY_FIELD ("memory", "a size from 1M to 64G in bytes, with an optional "
                "K, M or G suffix, such as 32M",
                ST_KEY_BYTES, StConfig, lua_memory, 1 << 20,
                MIN ((guint64) G_MAXSIZE, (guint64) 64 << 30)),
};

static gboolean
st_parse_lua (const StParse *p, const StKey *key, const StNode *value,
              gpointer target, GError **error)
{
  return st_parse_section (p, value, key->name, st_lua_keys,
                           G_N_ELEMENTS (st_lua_keys), target, error);
}

/* care */

static const StKey st_care_keys[] = {
  ST_KEY_FIELD ("workers", "a whole number from 1 to 64", ST_KEY_NUMBER,
                StConfig, care_workers, 1, 64),
  ST_KEY_FIELD ("recent", "a duration from 1m to 36500d such as 7d",
                ST_KEY_DURATION, StConfig, care_recent_ms, 60 * 1000,
                G_GUINT64_CONSTANT (36500) * 86400 * 1000),
};

static gboolean
st_parse_care (const StParse *p, const StKey *key, const StNode *value,
               gpointer target, GError **error)
{
  return st_parse_section (p, value, key->name, st_care_keys,
                           G_N_ELEMENTS (st_care_keys), target, error);
}

static const StKey st_top_keys[] = {
  { "database", "a libpq connection string", st_parse_database },
  { "bus", "session or system", st_parse_bus },
  ST_KEY_FIELD ("workers", "a whole number from 1 to 256",
                ST_KEY_NUMBER, StConfig, workers, 1, 256),
  { "scripts", "a list of folders such as [scripts, /etc/steward/scripts]",
    st_parse_scripts },
  { "stages", "a mapping from each stage to the list of stages it may move "
              "to, such as {lead: [active], active: []}", st_parse_stages },
  { "lua", "a mapping of limits such as {timeout: 2s, memory: 32M}",
    st_parse_lua },
  { "care", "a mapping such as {workers: 2, recent: 7d}", st_parse_care },
  { "delivery", "a mapping such as {workers: 2, max_attempts: 8}",
    st_parse_delivery },
  { "plugin_dir", "a folder path", st_parse_plugin_dir },
  { "channels", "a mapping from each channel to its plugin and settings, "
                "such as {email: {plugin: log, path: messages.jsonl}}",
    st_parse_channels },
  { "quiet_hours", "a mapping such as {start: \"21:00\", end: \"08:00\"}",
    st_parse_quiet_hours },
  { "default_tz", "a time zone name such as UTC or Europe/Paris",
    st_parse_default_tz },
  { "caps", "a list of caps such as [{channel: email, max: 3, per: 7d}]",
    st_parse_caps },
  { "campaigns", "a mapping such as {workers: 2, batch_size: 1000}",
    st_parse_campaigns },
  { "access", "a mapping such as {default: viewer, users: {alice: admin}}",
    st_parse_access },
};

/* Public API */

gboolean
st_config_stage_name_valid (const char *name)
{
  gsize len = name != NULL ? strlen (name) : 0;

  return len >= 1 && len <= ST_STAGE_NAME_MAX && g_ascii_islower (name[0])
         && strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789_") == len;
}

StConfig *
st_config_new_default (void)
{
  static const char *const lifecycle[][4] = {
    { "lead", "onboarding", NULL },
    { "onboarding", "active", NULL },
    { "active", "at_risk", NULL },
    { "at_risk", "active", "churned", NULL },
    { "churned", "active", NULL },
  };
  StConfig *config = g_new0 (StConfig, 1);

  config->bus = ST_BUS_SESSION;
  config->workers = 4;
  config->lua_instructions = 10000000;
  config->lua_timeout_ms = 2000;
  config->lua_memory = 32 * 1024 * 1024;
  config->care_workers = 2;
  config->care_recent_ms = G_GUINT64_CONSTANT (7) * 86400 * 1000;
  config->delivery_workers = 2;
  config->delivery_max_attempts = 8;
  config->delivery_backoff_ms = 30 * 1000;
  config->delivery_max_backoff_ms = 6 * 3600 * 1000;
  config->channels =
      g_ptr_array_new_with_free_func ((GDestroyNotify) st_channel_config_free);
  config->default_tz = g_strdup ("UTC");
  config->caps =
      g_ptr_array_new_with_free_func ((GDestroyNotify) st_cap_config_free);
  config->campaign_workers = 2;
  config->campaign_batch_size = 1000;
  config->campaign_catch_up = ST_CATCH_UP_LATEST;
  config->campaign_check_ms = 5000;
  config->access = FALSE;
  config->access_default = ST_ROLE_NONE;
  config->access_users =
      g_ptr_array_new_with_free_func ((GDestroyNotify) st_access_rule_free);
  config->access_groups =
      g_ptr_array_new_with_free_func ((GDestroyNotify) st_access_rule_free);
  config->scripts = g_new0 (char *, 1);
  config->stages = g_ptr_array_new_with_free_func ((GDestroyNotify) st_stage_free);
  for (gsize i = 0; i < G_N_ELEMENTS (lifecycle); i++)
    g_ptr_array_add (config->stages,
                     st_stage_new (lifecycle[i][0],
                                   g_strdupv ((char **) &lifecycle[i][1])));
  return config;
}

void
st_config_free (StConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->path);
  g_free (config->database);
  g_strfreev (config->scripts);
  g_clear_pointer (&config->stages, g_ptr_array_unref);
  g_free (config->plugin_dir);
  g_clear_pointer (&config->channels, g_ptr_array_unref);
  g_strfreev (config->quiet_channels);
  g_free (config->default_tz);
  g_clear_pointer (&config->caps, g_ptr_array_unref);
  g_clear_pointer (&config->access_users, g_ptr_array_unref);
  g_clear_pointer (&config->access_groups, g_ptr_array_unref);
  g_free (config);
}

static StConfig *
st_config_parse (const char *data, gsize len, const char *name,
                 const char *base_dir, GError **error)
{
  StParse p = { .name = name, .base_dir = base_dir, .data = data, .len = len };
  g_autoptr (StConfig) config = st_config_new_default ();
  g_autoptr (StNode) root = NULL;
  gboolean ok;

  if (!yaml_parser_initialize (&p.parser))
    g_error ("out of memory starting the YAML parser");
  yaml_parser_set_input_string (&p.parser, (const unsigned char *) data, len);
  ok = st_read_document (&p, &root, error);
  yaml_parser_delete (&p.parser);
  if (!ok)
    return NULL;
  /* No document, or an empty one (only comments, '---'): the defaults. */
  if (root != NULL && !st_node_is_null (root)
      && !st_parse_section (&p, root, NULL, st_top_keys,
                            G_N_ELEMENTS (st_top_keys), config, error))
    return NULL;
  return g_steal_pointer (&config);
}

StConfig *
st_config_load_from_data (const char *data, gssize len, const char *name,
                          GError **error)
{
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (data == NULL)
    data = "";
  return st_config_parse (data, len < 0 ? strlen (data) : (gsize) len, name,
                          NULL, error);
}

StConfig *
st_config_load (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  g_autofree char *absolute = NULL;
  g_autofree char *base_dir = NULL;
  g_autoptr (GError) local = NULL;
  gsize len = 0;
  StConfig *config;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Opened first to report the OS's own reason (errno) when it cannot be. */
  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      int errsv = errno;
      StError code = errsv == ENOENT || errsv == ENOTDIR ? ST_ERROR_NOT_FOUND
                     : errsv == EACCES ? ST_ERROR_PERMISSION_DENIED
                     : ST_ERROR_FAILED;
      g_set_error (error, ST_ERROR, code, "%s: cannot read the configuration "
                   "file: %s; give the path of a readable YAML file", path,
                   g_strerror (errsv));
      return NULL;
    }
  g_close (fd, NULL);
  if (!g_file_get_contents (path, &data, &len, &local))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED, "%s: cannot read the "
                   "configuration file: %s; give the path of a readable YAML "
                   "file", path, local->message);
      return NULL;
    }
  absolute = g_canonicalize_filename (path, NULL);
  base_dir = g_path_get_dirname (absolute);
  config = st_config_parse (data, len, path, base_dir, error);
  if (config != NULL)
    config->path = g_strdup (path);
  return config;
}

const StStage *
st_config_find_stage (const StConfig *config, const char *name)
{
  g_return_val_if_fail (config != NULL, NULL);

  for (guint i = 0; name != NULL && i < config->stages->len; i++)
    {
      const StStage *stage = g_ptr_array_index (config->stages, i);
      if (g_str_equal (stage->name, name))
        return stage;
    }
  return NULL;
}

const char *
st_config_initial_stage (const StConfig *config)
{
  g_return_val_if_fail (config != NULL && config->stages->len > 0, NULL);

  return ((const StStage *) g_ptr_array_index (config->stages, 0))->name;
}

gboolean
st_config_transition_allowed (const StConfig *config, const char *from,
                              const char *to)
{
  const StStage *stage = st_config_find_stage (config, from);

  return stage != NULL && to != NULL
         && g_strv_contains ((const char *const *) stage->next, to);
}

const StChannelConfig *
st_config_find_channel (const StConfig *config, const char *name)
{
  const StChannelConfig *any = NULL;

  g_return_val_if_fail (config != NULL, NULL);

  for (guint i = 0; name != NULL && i < config->channels->len; i++)
    {
      const StChannelConfig *channel = g_ptr_array_index (config->channels, i);
      if (g_str_equal (channel->name, name))
        return channel;
      if (g_str_equal (channel->name, "*"))
        any = channel;
    }
  return any;
}

void
st_config_prefix_channel_error (const StConfig *config,
                                const StChannelConfig *channel,
                                GError **error)
{
  if (config->path == NULL || channel->line == 0)
    return;
  g_prefix_error (error, "%s:%" G_GSIZE_FORMAT ":%" G_GSIZE_FORMAT ": ",
                  config->path, channel->line, channel->column);
}
