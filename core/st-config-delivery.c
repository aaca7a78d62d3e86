/* The sections of the configuration about delivering messages: delivery
 * (the outbox workers), plugin_dir, channels, quiet_hours, default_tz and
 * caps. The top-level table in st-config.c calls them. */

#include "st-config-private.h"

#include <string.h>

#include "st-validate.h"

/* delivery */

#define ST_BACKOFF_MIN_MS 100
#define ST_BACKOFF_MAX_MS (G_GUINT64_CONSTANT (30) * 86400 * 1000)

static const StKey st_delivery_keys[] = {
  ST_KEY_FIELD ("workers", "a whole number from 1 to 64", ST_KEY_NUMBER,
                StConfig, delivery_workers, 1, 64),
  ST_KEY_FIELD ("max_attempts", "a whole number from 1 to 1000",
                ST_KEY_NUMBER, StConfig, delivery_max_attempts, 1, 1000),
  ST_KEY_FIELD ("backoff", "a duration from 100ms to 30d such as 30s",
                ST_KEY_DURATION, StConfig, delivery_backoff_ms,
                ST_BACKOFF_MIN_MS, ST_BACKOFF_MAX_MS),
  ST_KEY_FIELD ("max_backoff", "a duration from 100ms to 30d such as 6h",
                ST_KEY_DURATION, StConfig, delivery_max_backoff_ms,
                ST_BACKOFF_MIN_MS, ST_BACKOFF_MAX_MS),
};

gboolean
st_parse_delivery (const StParse *p, const StKey *key, const StNode *value,
                   gpointer target, GError **error)
{
  StConfig *config = target;
  const StNode *at;
  g_autofree char *backoff = NULL, *max_backoff = NULL;

  if (!st_parse_section (p, value, key->name, st_delivery_keys,
                         G_N_ELEMENTS (st_delivery_keys), target, error))
    return FALSE;
  if (config->delivery_max_backoff_ms >= config->delivery_backoff_ms)
    return TRUE;
  /* Point at what was written: max_backoff if given, else backoff. */
  at = st_map_lookup (value, "max_backoff");
  if (at == NULL)
    at = st_map_lookup (value, "backoff");
  backoff = st_config_format_duration (config->delivery_backoff_ms);
  max_backoff = st_config_format_duration (config->delivery_max_backoff_ms);
  return st_fail (p, ST_AT (at), error, "'max_backoff' (%s) is shorter than "
                  "'backoff' (%s); make max_backoff at least as long as "
                  "backoff", max_backoff, backoff);
}

/* plugin_dir */

gboolean
st_parse_plugin_dir (const StParse *p, const StKey *key, const StNode *value,
                     gpointer target, GError **error)
{
  StConfig *config = target;
  const char *text = st_expect_text (p, key, value, error);

  if (text == NULL)
    return FALSE;
  if (*text == '\0')
    return st_fail_expects (p, key, value, error);
  g_free (config->plugin_dir);
  if (p->base_dir != NULL && !g_path_is_absolute (text))
    config->plugin_dir = g_build_filename (p->base_dir, text, NULL);
  else
    config->plugin_dir = g_strdup (text);
  return TRUE;
}

/* channels */

void
st_channel_config_free (StChannelConfig *channel)
{
  if (channel == NULL)
    return;
  g_free (channel->name);
  g_free (channel->plugin);
  g_clear_pointer (&channel->settings, g_hash_table_unref);
  g_free (channel->rate_limit_text);
  g_free (channel);
}

/* A channel's own delivery policy: keys of a channel's entry that the
 * daemon keeps for itself, so they never reach the plugin. */

static const struct {
  const char *suffix;
  double per_hour; /* how many of that unit make an hour */
} st_rate_units[] = {
  { "s", 3600 },
  { "m", 60 },
  { "h", 1 },
};

/* Messages per second: "10", "0.5" (written without quotes), or a count
 * per unit, "10/s", "600/m", "100/h"; from 1/h to 10000/s. */
static gboolean
st_parse_rate_limit (const StParse *p, const StKey *key, const StNode *value,
                     gpointer target, GError **error)
{
  StChannelConfig *channel = target;
  const char *text = st_expect_text (p, key, value, error);
  const char *end;
  gsize digits, fraction = 0;
  double per_hour = 3600, n;
  gboolean unit_ok = FALSE;

  if (text == NULL)
    return FALSE;
  digits = strspn (text, "0123456789");
  if (digits == 0 || digits > 9 || (text[0] == '0' && digits > 1))
    return st_fail_expects (p, key, value, error);
  end = text + digits;
  if (*end == '.')
    {
      fraction = strspn (end + 1, "0123456789");
      if (fraction == 0 || fraction > 6)
        return st_fail_expects (p, key, value, error);
      end += fraction + 1;
    }
  if (*end == '/')
    {
      for (gsize i = 0; i < G_N_ELEMENTS (st_rate_units) && !unit_ok; i++)
        if (g_str_equal (end + 1, st_rate_units[i].suffix))
          per_hour = st_rate_units[i].per_hour, unit_ok = TRUE;
      if (!unit_ok)
        return st_fail_expects (p, key, value, error);
    }
  else if (*end != '\0')
    return st_fail_expects (p, key, value, error);
  else if (!value->plain)
    return st_fail (p, ST_AT (value), error, "'%s' must be a number "
                    "written without quotes (10), or a count with its unit "
                    "(10/s), not the quoted string '%s'", key->name, text);
  n = g_ascii_strtod (text, NULL) * per_hour;
  if (n < 1 || n > 10000.0 * 3600)
    return st_fail_expects (p, key, value, error);
  channel->rate_limit = n / 3600;
  g_free (channel->rate_limit_text);
  channel->rate_limit_text = g_strdup (text);
  return TRUE;
}

static const StKey st_channel_policy_keys[] = {
  ST_KEY_FIELD ("max_attempts", "a whole number from 1 to 1000",
                ST_KEY_NUMBER, StChannelConfig, max_attempts, 1, 1000),
  ST_KEY_FIELD ("backoff", "a duration from 100ms to 30d such as 30s",
                ST_KEY_DURATION, StChannelConfig, backoff_ms,
                ST_BACKOFF_MIN_MS, ST_BACKOFF_MAX_MS),
  ST_KEY_FIELD ("max_backoff", "a duration from 100ms to 30d such as 6h",
                ST_KEY_DURATION, StChannelConfig, max_backoff_ms,
                ST_BACKOFF_MIN_MS, ST_BACKOFF_MAX_MS),
  { "rate_limit", "a rate such as 10 (messages per second), 0.5, 10/s, "
                  "600/m or 100/h, from 1/h to 10000/s", st_parse_rate_limit },
};

static const StKey *
st_channel_policy_key (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (st_channel_policy_keys); i++)
    if (g_str_equal (st_channel_policy_keys[i].name, name))
      return &st_channel_policy_keys[i];
  return NULL;
}

static gboolean
st_check_channel_backoff (const StParse *p, const StChannelConfig *channel,
                          const StNode *entry, GError **error)
{
  g_autofree char *backoff = NULL, *max_backoff = NULL;

  if (channel->backoff_ms == 0 || channel->max_backoff_ms == 0
      || channel->max_backoff_ms >= channel->backoff_ms)
    return TRUE;
  backoff = st_config_format_duration (channel->backoff_ms);
  max_backoff = st_config_format_duration (channel->max_backoff_ms);
  return st_fail (p, ST_AT (st_map_lookup (entry, "max_backoff")), error,
                  "'max_backoff' (%s) of channel '%s' is shorter than its "
                  "'backoff' (%s); make max_backoff at least as long as "
                  "backoff", max_backoff, channel->name, backoff);
}

void
st_config_channel_policy (const StConfig *config,
                          const StChannelConfig *channel,
                          StDeliveryPolicy *policy)
{
  g_return_if_fail (config != NULL && policy != NULL);

  policy->max_attempts = config->delivery_max_attempts;
  policy->backoff_ms = config->delivery_backoff_ms;
  policy->max_backoff_ms = config->delivery_max_backoff_ms;
  policy->rate_limit = 0;
  if (channel != NULL)
    {
      if (channel->max_attempts != 0)
        policy->max_attempts = channel->max_attempts;
      if (channel->backoff_ms != 0)
        policy->backoff_ms = channel->backoff_ms;
      if (channel->max_backoff_ms != 0)
        policy->max_backoff_ms = channel->max_backoff_ms;
      /* One of the two written: the other one gives way. */
      if (channel->backoff_ms != 0 && channel->max_backoff_ms == 0)
        policy->max_backoff_ms = MAX (policy->max_backoff_ms,
                                      policy->backoff_ms);
      if (channel->max_backoff_ms != 0 && channel->backoff_ms == 0)
        policy->backoff_ms = MIN (policy->backoff_ms, policy->max_backoff_ms);
      policy->rate_limit = channel->rate_limit;
    }
  policy->max_attempts = MAX (policy->max_attempts, 1);
  policy->backoff_ms = MAX (policy->backoff_ms, 1);
  policy->max_backoff_ms = MAX (policy->max_backoff_ms, policy->backoff_ms);
}

static gboolean
st_parse_channel (const StParse *p, const StNode *name, const StNode *entry,
                  StChannelConfig **out, GError **error)
{
  g_autofree char *where = g_strdup_printf ("in channel '%s'", name->text);
  g_autoptr (StChannelConfig) channel = g_new0 (StChannelConfig, 1);

  if (entry->kind != ST_NODE_MAP)
    return st_fail_found (p, entry, error, "channel '%s' must be a mapping "
                          "with its plugin and settings, such as {plugin: "
                          "log, path: messages.jsonl}", name->text);
  if (!st_check_keys (p, entry, where, error))
    return FALSE;
  channel->name = g_strdup (name->text);
  channel->line = name->line;
  channel->column = name->column;
  channel->settings = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                             g_free);
  for (guint i = 0; i < entry->items->len; i += 2)
    {
      const StNode *key = ST_ITEM (entry, i), *value = ST_ITEM (entry, i + 1);
      const StKey *policy = st_channel_policy_key (key->text);

      if (st_node_is_null (value))
        return st_fail (p, ST_AT (key), error, "'%s' %s has no value; give "
                        "one, or remove the key", key->text, where);
      if (policy != NULL)
        {
          if (!policy->parse (p, policy, value, channel, error))
            return FALSE;
          continue;
        }
      if (value->kind != ST_NODE_SCALAR)
        return st_fail_found (p, value, error, "'%s' %s must be a text value",
                              key->text, where);
      if (!g_str_equal (key->text, "plugin"))
        {
          g_hash_table_insert (channel->settings, g_strdup (key->text),
                               g_strdup (value->text));
          continue;
        }
      if (!st_name_valid (value->text))
        return st_fail_found (p, value, error, "the plugin of channel '%s' "
                              "must be a plugin name (" ST_NAME_RULE ")",
                              name->text);
      channel->plugin = g_strdup (value->text);
    }
  if (channel->plugin == NULL)
    return st_fail (p, ST_AT (name), error, "channel '%s' names no plugin; "
                    "add 'plugin: log' (or the plugin that delivers it)",
                    name->text);
  if (!st_check_channel_backoff (p, channel, entry, error))
    return FALSE;
  *out = g_steal_pointer (&channel);
  return TRUE;
}

gboolean
st_parse_channels (const StParse *p, const StKey *key, const StNode *value,
                   gpointer target, GError **error)
{
  StConfig *config = target;
  g_autoptr (GPtrArray) channels = NULL;

  if (value->kind != ST_NODE_MAP)
    return st_fail_expects (p, key, value, error);
  if (!st_check_keys (p, value, "in 'channels'", error))
    return FALSE;
  channels =
      g_ptr_array_new_with_free_func ((GDestroyNotify) st_channel_config_free);
  for (guint i = 0; i < value->items->len; i += 2)
    {
      const StNode *name = ST_ITEM (value, i);
      StChannelConfig *channel = NULL;

      if (!g_str_equal (name->text, "*") && !st_name_valid (name->text))
        return st_fail_found (p, name, error, "a channel name must be '*' "
                              "or " ST_NAME_RULE);
      if (!st_parse_channel (p, name, ST_ITEM (value, i + 1), &channel, error))
        return FALSE;
      g_ptr_array_add (channels, channel);
    }
  g_ptr_array_unref (config->channels);
  config->channels = g_steal_pointer (&channels);
  return TRUE;
}

/* quiet_hours */

typedef struct {
  const StNode *start, *end;
  guint start_minute, end_minute;
  GStrv channels;
} StQuietParse;

static gboolean
st_parse_quiet_start (const StParse *p, const StKey *key, const StNode *value,
                      gpointer target, GError **error)
{
  StQuietParse *quiet = target;

  quiet->start = value;
  return st_parse_clock_time (p, key, value, &quiet->start_minute, error);
}

static gboolean
st_parse_quiet_end (const StParse *p, const StKey *key, const StNode *value,
                    gpointer target, GError **error)
{
  StQuietParse *quiet = target;

  quiet->end = value;
  return st_parse_clock_time (p, key, value, &quiet->end_minute, error);
}

static gboolean
st_parse_quiet_channels (const StParse *p, const StKey *key,
                         const StNode *value, gpointer target, GError **error)
{
  StQuietParse *quiet = target;
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();

  if (value->kind != ST_NODE_LIST)
    return st_fail_expects (p, key, value, error);
  if (value->items->len == 0)
    return st_fail (p, ST_AT (value), error, "'%s' lists no channel; name "
                    "the channels to hold, or remove the key to hold all",
                    key->name);
  for (guint i = 0; i < value->items->len; i++)
    {
      const StNode *item = ST_ITEM (value, i);

      if (item->kind != ST_NODE_SCALAR || st_node_is_null (item)
          || !st_name_valid (item->text))
        return st_fail_found (p, item, error, "each entry of '%s' must be a "
                              "channel name (" ST_NAME_RULE ")", key->name);
      g_strv_builder_add (names, item->text);
    }
  g_strfreev (quiet->channels);
  quiet->channels = g_strv_builder_end (names);
  return TRUE;
}

static const StKey st_quiet_keys[] = {
  { "start", "a time of day such as \"21:00\"", st_parse_quiet_start },
  { "end", "a time of day such as \"08:00\"", st_parse_quiet_end },
  { "channels", "a list of channels such as [email, sms]",
    st_parse_quiet_channels },
};

gboolean
st_parse_quiet_hours (const StParse *p, const StKey *key, const StNode *value,
                      gpointer target, GError **error)
{
  StConfig *config = target;
  StQuietParse quiet = { 0 };
  gboolean ok;

  ok = st_parse_section (p, value, key->name, st_quiet_keys,
                         G_N_ELEMENTS (st_quiet_keys), &quiet, error);
  if (ok && (quiet.start == NULL || quiet.end == NULL))
    ok = st_fail (p, ST_AT (value), error, "'quiet_hours' needs both 'start' "
                  "and 'end' (it has no '%s'); write them like start: "
                  "\"21:00\" and end: \"08:00\"",
                  quiet.start == NULL ? "start" : "end");
  if (ok && quiet.start_minute == quiet.end_minute)
    ok = st_fail (p, ST_AT (quiet.end), error, "'end' is the same time as "
                  "'start' (%s), which makes an empty window; give a "
                  "different end, or remove 'quiet_hours'", quiet.end->text);
  if (!ok)
    {
      g_strfreev (quiet.channels);
      return FALSE;
    }
  config->quiet_hours = TRUE;
  config->quiet_start = quiet.start_minute;
  config->quiet_end = quiet.end_minute;
  g_strfreev (config->quiet_channels);
  config->quiet_channels = quiet.channels;
  return TRUE;
}

/* default_tz */

gboolean
st_parse_default_tz (const StParse *p, const StKey *key, const StNode *value,
                     gpointer target, GError **error)
{
  StConfig *config = target;
  const char *text = st_expect_text (p, key, value, error);
  g_autoptr (GError) invalid = NULL;
  const char *reason;

  if (text == NULL)
    return FALSE;
  if (!st_validate_tz (text, &invalid))
    {
      reason = invalid->message;
      if (g_str_has_prefix (reason, "tz: "))
        reason += strlen ("tz: ");
      return st_fail (p, ST_AT (value), error, "'%s' is not usable: %s",
                      key->name, reason);
    }
  g_free (config->default_tz);
  config->default_tz = g_strdup (text);
  return TRUE;
}

/* caps */

void
st_cap_config_free (StCapConfig *cap)
{
  if (cap == NULL)
    return;
  g_free (cap->channel);
  g_free (cap->per);
  g_free (cap);
}

static gboolean
st_parse_cap_channel (const StParse *p, const StKey *key, const StNode *value,
                      gpointer target, GError **error)
{
  StCapConfig *cap = target;
  const char *text = st_expect_text (p, key, value, error);

  if (text == NULL)
    return FALSE;
  if (!g_str_equal (text, "*") && !st_name_valid (text))
    return st_fail_expects (p, key, value, error);
  g_free (cap->channel);
  cap->channel = g_strdup (text);
  return TRUE;
}

static gboolean
st_parse_cap_per (const StParse *p, const StKey *key, const StNode *value,
                  gpointer target, GError **error)
{
  StCapConfig *cap = target;
  guint64 ms = 0;

  if (!st_parse_duration (p, key, value, 1000,
                          G_GUINT64_CONSTANT (366) * 86400 * 1000, &ms, error))
    return FALSE;
  if (ms % 1000 != 0)
    return st_fail_expects (p, key, value, error);
  cap->per_seconds = (gint64) (ms / 1000);
  g_free (cap->per);
  cap->per = g_strdup (value->text);
  return TRUE;
}

static gboolean
st_parse_cap_action (const StParse *p, const StKey *key, const StNode *value,
                     gpointer target, GError **error)
{
  StCapConfig *cap = target;
  const char *text = st_expect_text (p, key, value, error);

  if (text == NULL)
    return FALSE;
  if (g_str_equal (text, "defer"))
    cap->suppress = FALSE;
  else if (g_str_equal (text, "suppress"))
    cap->suppress = TRUE;
  else
    return st_fail_expects (p, key, value, error);
  return TRUE;
}

static const StKey st_cap_keys[] = {
  { "channel", "a channel name or '*'", st_parse_cap_channel },
  ST_KEY_FIELD ("max", "a whole number from 1 to 1000000", ST_KEY_NUMBER,
                StCapConfig, max, 1, 1000000),
  { "per", "a whole number of seconds or more, up to 366d, such as 1d or "
           "7d", st_parse_cap_per },
  { "action", "defer or suppress", st_parse_cap_action },
};

gboolean
st_parse_caps (const StParse *p, const StKey *key, const StNode *value,
               gpointer target, GError **error)
{
  StConfig *config = target;
  g_autoptr (GPtrArray) caps = NULL;

  if (value->kind != ST_NODE_LIST)
    return st_fail_expects (p, key, value, error);
  caps = g_ptr_array_new_with_free_func ((GDestroyNotify) st_cap_config_free);
  for (guint i = 0; i < value->items->len; i++)
    {
      const StNode *item = ST_ITEM (value, i);
      g_autoptr (StCapConfig) cap = g_new0 (StCapConfig, 1);
      const char *missing;

      if (item->kind != ST_NODE_MAP)
        return st_fail_found (p, item, error, "each entry of 'caps' must be a "
                              "mapping such as {channel: email, max: 3, per: "
                              "7d}");
      if (!st_parse_section (p, item, "caps", st_cap_keys,
                             G_N_ELEMENTS (st_cap_keys), cap, error))
        return FALSE;
      missing = cap->channel == NULL ? "channel"
                : cap->max == 0      ? "max"
                : cap->per_seconds == 0 ? "per"
                                        : NULL;
      if (missing != NULL)
        return st_fail (p, ST_AT (item), error, "this entry of 'caps' has no "
                        "'%s'; each cap needs channel, max and per, such as "
                        "{channel: email, max: 3, per: 7d}", missing);
      g_ptr_array_add (caps, g_steal_pointer (&cap));
    }
  g_ptr_array_unref (config->caps);
  config->caps = g_steal_pointer (&caps);
  return TRUE;
}
