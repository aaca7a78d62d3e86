/* Tests for core/st-config*.c: defaults, good files, lifecycle lookups, and
 * every class of bad input with the exact "name:line:column: " it names. */

#include <errno.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "st-config.h"
#include "st-error.h"

static void
assert_default_lifecycle (const StConfig *config)
{
  static const char *const names[] = { "lead", "onboarding", "active",
                                       "at_risk", "churned" };

  g_assert_cmpuint (config->stages->len, ==, G_N_ELEMENTS (names));
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      const StStage *stage = g_ptr_array_index (config->stages, i);
      g_assert_cmpstr (stage->name, ==, names[i]);
    }
  g_assert_cmpstr (st_config_initial_stage (config), ==, "lead");
  g_assert_true (st_config_transition_allowed (config, "lead", "onboarding"));
  g_assert_true (st_config_transition_allowed (config, "at_risk", "churned"));
  g_assert_true (st_config_transition_allowed (config, "churned", "active"));
  g_assert_false (st_config_transition_allowed (config, "lead", "active"));
}

static void
assert_defaults (const StConfig *config)
{
  g_assert_null (config->database);
  g_assert_cmpint (config->bus, ==, ST_BUS_SESSION);
  g_assert_cmpuint (config->workers, ==, 4);
  g_assert_nonnull (config->scripts);
  g_assert_cmpuint (g_strv_length (config->scripts), ==, 0);
  assert_default_lifecycle (config);
  g_assert_cmpuint (config->lua_instructions, ==, 10000000);
  g_assert_cmpuint (config->lua_timeout_ms, ==, 2000);
  g_assert_cmpuint (config->lua_memory, ==, 32 * 1024 * 1024);
  g_assert_cmpuint (config->care_workers, ==, 2);
  g_assert_cmpuint (config->delivery_workers, ==, 2);
  g_assert_cmpuint (config->delivery_max_attempts, ==, 8);
  g_assert_cmpuint (config->delivery_backoff_ms, ==, 30000);
  g_assert_cmpuint (config->delivery_max_backoff_ms, ==, 6 * 3600 * 1000);
  g_assert_null (config->plugin_dir);
  g_assert_cmpuint (config->channels->len, ==, 0);
  g_assert_false (config->quiet_hours);
  g_assert_null (config->quiet_channels);
  g_assert_cmpstr (config->default_tz, ==, "UTC");
  g_assert_cmpuint (config->caps->len, ==, 0);
  g_assert_null (st_config_find_channel (config, "email"));
  /* No access section: everyone on the bus is admin, as before roles. */
  g_assert_false (config->access);
  g_assert_cmpuint (config->access_users->len, ==, 0);
  g_assert_cmpuint (config->access_groups->len, ==, 0);
  g_assert_false (config->access_managers_own);
}

static void
test_defaults (void)
{
  g_autoptr (StConfig) config = st_config_new_default ();

  g_assert_null (config->path);
  assert_defaults (config);
}

static void
test_empty (void)
{
  static const char *const inputs[] = {
    "", "\n\n", "# only a comment\n", "---\n", "--- # empty\n...\n", "{}\n",
    "~\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (StConfig) config =
          st_config_load_from_data (inputs[i], -1, "empty.yaml", &error);

      g_assert_no_error (error);
      g_assert_nonnull (config);
      assert_defaults (config);
    }
}

static void
test_partial (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) config =
      st_config_load_from_data ("workers: 8\n", -1, "partial.yaml", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (config->workers, ==, 8);
  g_assert_null (config->database);
  g_assert_cmpint (config->bus, ==, ST_BUS_SESSION);
  g_assert_cmpuint (g_strv_length (config->scripts), ==, 0);
  assert_default_lifecycle (config);
}

static const char good_yaml[] =
    "# a complete configuration\n"
    "database: \"host=/tmp port=5433 dbname=steward user=steward\"\n"
    "bus: system\n"
    "workers: 16\n"
    "scripts:\n"
    "  - /srv/steward/scripts\n"
    "  - local\n"
    "stages:\n"
    "  prospect: [trial, lost]\n"
    "  trial:\n"
    "    - customer\n"
    "    - lost\n"
    "  customer: [lost]\n"
    "  lost: []\n";

static void
assert_good_stages (const StConfig *config)
{
  const StStage *trial = st_config_find_stage (config, "trial");
  const StStage *lost = st_config_find_stage (config, "lost");

  g_assert_cmpuint (config->stages->len, ==, 4);
  g_assert_cmpstr (st_config_initial_stage (config), ==, "prospect");
  g_assert_nonnull (trial);
  g_assert_cmpstr (trial->name, ==, "trial");
  g_assert_cmpuint (g_strv_length (trial->next), ==, 2);
  g_assert_cmpstr (trial->next[0], ==, "customer");
  g_assert_cmpstr (trial->next[1], ==, "lost");
  g_assert_nonnull (lost);
  g_assert_nonnull (lost->next);
  g_assert_cmpuint (g_strv_length (lost->next), ==, 0);
}

static void
test_good (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) config =
      st_config_load_from_data (good_yaml, -1, "good.yaml", &error);

  g_assert_no_error (error);
  g_assert_null (config->path);
  g_assert_cmpstr (config->database, ==,
                   "host=/tmp port=5433 dbname=steward user=steward");
  g_assert_cmpint (config->bus, ==, ST_BUS_SYSTEM);
  g_assert_cmpuint (config->workers, ==, 16);
  g_assert_cmpuint (g_strv_length (config->scripts), ==, 2);
  g_assert_cmpstr (config->scripts[0], ==, "/srv/steward/scripts");
  g_assert_cmpstr (config->scripts[1], ==, "local"); /* as written */
  assert_good_stages (config);
}

static void
test_good_values (void)
{
  static const struct {
    const char *yaml;
    guint workers;
    const char *database;
  } cases[] = {
    { "workers: 1\n", 1, NULL },
    { "workers: 256\n", 256, NULL },
    { "database: \"\"\n", 4, NULL },
    { "database: postgresql://steward@db.example.com:5432/steward\n", 4,
      "postgresql://steward@db.example.com:5432/steward" },
    { "database: dbname=steward\nscripts: []\n", 4, "dbname=steward" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (StConfig) config =
          st_config_load_from_data (cases[i].yaml, -1, "v.yaml", &error);

      g_assert_no_error (error);
      g_assert_cmpuint (config->workers, ==, cases[i].workers);
      g_assert_cmpstr (config->database, ==, cases[i].database);
    }
}

/* A stage may move to one declared after it, and a single-stage lifecycle
 * with no way out is valid. */
static void
test_good_stages (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) single = NULL;
  g_autoptr (StConfig) config = st_config_load_from_data (
      "stages:\n  a: [b_2]\n  b_2: [a]\n", -1, "s.yaml", &error);

  g_assert_no_error (error);
  g_assert_true (st_config_transition_allowed (config, "a", "b_2"));
  g_assert_true (st_config_transition_allowed (config, "b_2", "a"));

  single = st_config_load_from_data ("stages: {only: []}\n", -1, "s.yaml",
                                     &error);
  g_assert_no_error (error);
  g_assert_cmpstr (st_config_initial_stage (single), ==, "only");
  g_assert_false (st_config_transition_allowed (single, "only", "only"));
}

static void
test_lookups (void)
{
  g_autoptr (StConfig) config = st_config_new_default ();
  const StStage *at_risk = st_config_find_stage (config, "at_risk");

  g_assert_cmpstr (st_config_initial_stage (config), ==, "lead");
  g_assert_nonnull (at_risk);
  g_assert_cmpuint (g_strv_length (at_risk->next), ==, 2);
  g_assert_null (st_config_find_stage (config, "nope"));
  g_assert_null (st_config_find_stage (config, NULL));
  g_assert_null (st_config_find_stage (config, "Lead"));

  g_assert_true (st_config_transition_allowed (config, "active", "at_risk"));
  g_assert_true (st_config_transition_allowed (config, "at_risk", "active"));
  g_assert_false (st_config_transition_allowed (config, "active", "churned"));
  g_assert_false (st_config_transition_allowed (config, "active", "active"));
  g_assert_false (st_config_transition_allowed (config, "churned", "lead"));
  g_assert_false (st_config_transition_allowed (config, "nope", "active"));
  g_assert_false (st_config_transition_allowed (config, "lead", "nope"));
  g_assert_false (st_config_transition_allowed (config, NULL, "active"));
  g_assert_false (st_config_transition_allowed (config, "lead", NULL));
}

static void
test_stage_name_valid (void)
{
  g_autofree char *longest = g_strnfill (63, 'a');
  g_autofree char *too_long = g_strnfill (64, 'a');

  g_assert_true (st_config_stage_name_valid ("a"));
  g_assert_true (st_config_stage_name_valid ("at_risk"));
  g_assert_true (st_config_stage_name_valid ("tier2_"));
  g_assert_true (st_config_stage_name_valid (longest));
  g_assert_false (st_config_stage_name_valid (too_long));
  g_assert_false (st_config_stage_name_valid (""));
  g_assert_false (st_config_stage_name_valid (NULL));
  g_assert_false (st_config_stage_name_valid ("Lead"));
  g_assert_false (st_config_stage_name_valid ("_x"));
  g_assert_false (st_config_stage_name_valid ("2nd"));
  g_assert_false (st_config_stage_name_valid ("at-risk"));
  g_assert_false (st_config_stage_name_valid ("at risk"));
  g_assert_false (st_config_stage_name_valid ("étape"));
}

/* The care and delivery sections, as data/steward.yaml documents them. */
static const char care_yaml[] =
    "lua:\n"
    "  instructions: 5000000\n"
    "  timeout: 500ms\n"
    "  memory: 64M\n"
    "care:\n"
    "  workers: 3\n"
    "delivery:\n"
    "  workers: 4\n"
    "  max_attempts: 5\n"
    "  backoff: 1m\n"
    "  max_backoff: 2h\n"
    "plugin_dir: /opt/steward/plugins\n"
    "channels:\n"
    "  email: { plugin: log, path: /var/lib/steward/messages.jsonl }\n"
    "  sms:\n"
    "    plugin: flaky\n"
    "    result: retry\n"
    "    port: 25\n"
    "  \"*\": { plugin: log, path: other.jsonl, fsync: true }\n"
    "quiet_hours:\n"
    "  start: \"21:30\"\n"
    "  end: 8:00\n"
    "  channels: [email, sms]\n"
    "default_tz: Europe/Paris\n"
    "caps:\n"
    "  - { channel: email, max: 3, per: 7d, action: defer }\n"
    "  - channel: \"*\"\n"
    "    max: 10\n"
    "    per: 1d\n"
    "    action: suppress\n"
    "  - { channel: sms, max: 1, per: 90s }\n";

static void
test_care (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) config =
      st_config_load_from_data (care_yaml, -1, "care.yaml", &error);
  const StChannelConfig *email, *sms, *any;
  const StCapConfig *cap;

  g_assert_no_error (error);
  g_assert_cmpuint (config->lua_instructions, ==, 5000000);
  g_assert_cmpuint (config->lua_timeout_ms, ==, 500);
  g_assert_cmpuint (config->lua_memory, ==, 64 * 1024 * 1024);
  g_assert_cmpuint (config->care_workers, ==, 3);
  g_assert_cmpuint (config->delivery_workers, ==, 4);
  g_assert_cmpuint (config->delivery_max_attempts, ==, 5);
  g_assert_cmpuint (config->delivery_backoff_ms, ==, 60000);
  g_assert_cmpuint (config->delivery_max_backoff_ms, ==, 2 * 3600 * 1000);
  g_assert_cmpstr (config->plugin_dir, ==, "/opt/steward/plugins");

  g_assert_cmpuint (config->channels->len, ==, 3);
  email = st_config_find_channel (config, "email");
  g_assert_nonnull (email);
  g_assert_cmpstr (email->name, ==, "email");
  g_assert_cmpstr (email->plugin, ==, "log");
  g_assert_cmpuint (g_hash_table_size (email->settings), ==, 1);
  g_assert_cmpstr (g_hash_table_lookup (email->settings, "path"), ==,
                   "/var/lib/steward/messages.jsonl");
  sms = st_config_find_channel (config, "sms");
  g_assert_cmpstr (sms->plugin, ==, "flaky");
  g_assert_cmpstr (g_hash_table_lookup (sms->settings, "result"), ==, "retry");
  g_assert_cmpstr (g_hash_table_lookup (sms->settings, "port"), ==, "25");
  g_assert_null (g_hash_table_lookup (sms->settings, "plugin"));
  any = st_config_find_channel (config, "push");
  g_assert_nonnull (any);
  g_assert_cmpstr (any->name, ==, "*");
  g_assert_cmpstr (g_hash_table_lookup (any->settings, "fsync"), ==, "true");
  g_assert_true (st_config_find_channel (config, "*") == any);
  g_assert_null (st_config_find_channel (config, NULL));

  g_assert_true (config->quiet_hours);
  g_assert_cmpuint (config->quiet_start, ==, 21 * 60 + 30);
  g_assert_cmpuint (config->quiet_end, ==, 8 * 60);
  g_assert_cmpuint (g_strv_length (config->quiet_channels), ==, 2);
  g_assert_cmpstr (config->quiet_channels[1], ==, "sms");
  g_assert_cmpstr (config->default_tz, ==, "Europe/Paris");

  g_assert_cmpuint (config->caps->len, ==, 3);
  cap = g_ptr_array_index (config->caps, 0);
  g_assert_cmpstr (cap->channel, ==, "email");
  g_assert_cmpuint (cap->max, ==, 3);
  g_assert_cmpint (cap->per_seconds, ==, 7 * 86400);
  g_assert_cmpstr (cap->per, ==, "7d"); /* as written, not "1w" */
  g_assert_false (cap->suppress);
  cap = g_ptr_array_index (config->caps, 1);
  g_assert_cmpstr (cap->channel, ==, "*");
  g_assert_cmpuint (cap->max, ==, 10);
  g_assert_cmpint (cap->per_seconds, ==, 86400);
  g_assert_true (cap->suppress);
  cap = g_ptr_array_index (config->caps, 2);
  g_assert_cmpint (cap->per_seconds, ==, 90);
  g_assert_false (cap->suppress); /* defer is the default */
}

/* Units, bounds and the forms each value may take. */
static void
test_care_values (void)
{
  static const struct {
    const char *yaml;
    guint64 timeout_ms, memory, backoff_ms, max_backoff_ms;
  } cases[] = {
    { "lua: {timeout: 10ms}\n", 10, 32 << 20, 30000, 21600000 },
    { "lua: {timeout: 1h, memory: 1048576}\n", 3600000, 1 << 20, 30000,
      21600000 },
    { "lua: {memory: 1024K}\n", 2000, 1 << 20, 30000, 21600000 },
    { "lua: {memory: \"2G\"}\n", 2000, (guint64) 2 << 30, 30000, 21600000 },
    { "delivery: {backoff: 100ms, max_backoff: 100ms}\n", 2000, 32 << 20, 100,
      100 },
    { "delivery: {backoff: 2w, max_backoff: 30d}\n", 2000, 32 << 20,
      14 * 86400000ull, 30 * 86400000ull },
    { "delivery: {max_backoff: 30s}\n", 2000, 32 << 20, 30000, 30000 },
    { "delivery: {backoff: 5m}\n", 2000, 32 << 20, 300000, 21600000 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (StConfig) config =
          st_config_load_from_data (cases[i].yaml, -1, "v.yaml", &error);

      g_assert_no_error (error);
      g_assert_cmpuint (config->lua_timeout_ms, ==, cases[i].timeout_ms);
      g_assert_cmpuint (config->lua_memory, ==, cases[i].memory);
      g_assert_cmpuint (config->delivery_backoff_ms, ==, cases[i].backoff_ms);
      g_assert_cmpuint (config->delivery_max_backoff_ms, ==,
                        cases[i].max_backoff_ms);
    }
}

/* A channel's delivery policy: its keys never reach the plugin's settings;
 * what a channel leaves out comes from `delivery`, and a lone backoff or
 * max_backoff makes the other give way. */
static const char policy_yaml[] =
    "delivery: { max_attempts: 4, backoff: 10s, max_backoff: 1h }\n"
    "channels:\n"
    "  email:\n"
    "    plugin: email\n"
    "    url: smtp://mail.example.com\n"
    "    max_attempts: 6\n"
    "    backoff: 1m\n"
    "    max_backoff: 2h\n"
    "    rate_limit: 10\n"
    "  sms: { plugin: log, path: /x, rate_limit: 600/m }\n"
    "  push: { plugin: log, path: /x, backoff: 2h }\n"
    "  fax: { plugin: log, path: /x, max_backoff: 5s }\n"
    "  slow: { plugin: log, path: /x, rate_limit: \"0.5/s\" }\n"
    "  hourly: { plugin: log, path: /x, rate_limit: 100/h }\n"
    "  half: { plugin: log, path: /x, rate_limit: 0.5 }\n"
    "  \"*\": { plugin: log, path: /x }\n";

static void
test_channel_policy (void)
{
  static const char *const reserved[] = { "max_attempts", "backoff",
                                          "max_backoff", "rate_limit", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) config =
      st_config_load_from_data (policy_yaml, -1, "policy.yaml", &error);
  const StChannelConfig *email;
  StDeliveryPolicy policy;

  g_assert_no_error (error);
  for (guint i = 0; i < config->channels->len; i++)
    {
      const StChannelConfig *channel = g_ptr_array_index (config->channels, i);
      for (guint k = 0; reserved[k] != NULL; k++)
        g_assert_false (g_hash_table_contains (channel->settings,
                                               reserved[k]));
    }
  email = st_config_find_channel (config, "email");
  g_assert_cmpuint (g_hash_table_size (email->settings), ==, 1);
  g_assert_cmpstr (g_hash_table_lookup (email->settings, "url"), ==,
                   "smtp://mail.example.com");
  g_assert_cmpuint (email->max_attempts, ==, 6);
  g_assert_cmpstr (email->rate_limit_text, ==, "10");

  st_config_channel_policy (config, email, &policy);
  g_assert_cmpuint (policy.max_attempts, ==, 6);
  g_assert_cmpuint (policy.backoff_ms, ==, 60 * 1000);
  g_assert_cmpuint (policy.max_backoff_ms, ==, 2 * 3600 * 1000);
  g_assert_cmpfloat_with_epsilon (policy.rate_limit, 10, 1e-9);

  st_config_channel_policy (config, st_config_find_channel (config, "sms"),
                            &policy);
  g_assert_cmpuint (policy.max_attempts, ==, 4);
  g_assert_cmpuint (policy.backoff_ms, ==, 10 * 1000);
  g_assert_cmpuint (policy.max_backoff_ms, ==, 3600 * 1000);
  g_assert_cmpfloat_with_epsilon (policy.rate_limit, 10, 1e-9);

  /* backoff 2h alone, over the global max_backoff 1h: max_backoff 2h. */
  st_config_channel_policy (config, st_config_find_channel (config, "push"),
                            &policy);
  g_assert_cmpuint (policy.backoff_ms, ==, 2 * 3600 * 1000);
  g_assert_cmpuint (policy.max_backoff_ms, ==, 2 * 3600 * 1000);
  g_assert_cmpfloat (policy.rate_limit, ==, 0);

  /* max_backoff 5s alone, under the global backoff 10s: backoff 5s. */
  st_config_channel_policy (config, st_config_find_channel (config, "fax"),
                            &policy);
  g_assert_cmpuint (policy.backoff_ms, ==, 5 * 1000);
  g_assert_cmpuint (policy.max_backoff_ms, ==, 5 * 1000);

  st_config_channel_policy (config, st_config_find_channel (config, "slow"),
                            &policy);
  g_assert_cmpfloat_with_epsilon (policy.rate_limit, 0.5, 1e-9);
  st_config_channel_policy (config, st_config_find_channel (config, "hourly"),
                            &policy);
  g_assert_cmpfloat_with_epsilon (policy.rate_limit, 100.0 / 3600, 1e-12);
  st_config_channel_policy (config, st_config_find_channel (config, "half"),
                            &policy);
  g_assert_cmpfloat_with_epsilon (policy.rate_limit, 0.5, 1e-9);

  /* "*" and no channel at all: the delivery section alone. */
  st_config_channel_policy (config, st_config_find_channel (config, "other"),
                            &policy);
  g_assert_cmpuint (policy.max_attempts, ==, 4);
  g_assert_cmpfloat (policy.rate_limit, ==, 0);
  st_config_channel_policy (config, NULL, &policy);
  g_assert_cmpuint (policy.max_attempts, ==, 4);
  g_assert_cmpuint (policy.backoff_ms, ==, 10 * 1000);
}

/* A quiet window may span midnight or not, and stands without channels. */
static void
test_quiet_hours (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) config = st_config_load_from_data (
      "quiet_hours: {start: \"00:00\", end: \"23:59\"}\n", -1, "q.yaml",
      &error);

  g_assert_no_error (error);
  g_assert_true (config->quiet_hours);
  g_assert_cmpuint (config->quiet_start, ==, 0);
  g_assert_cmpuint (config->quiet_end, ==, 23 * 60 + 59);
  g_assert_null (config->quiet_channels);
}

static const StAccessRule *
access_rule (GPtrArray *rules, guint i)
{
  g_assert_cmpuint (i, <, rules->len);
  return g_ptr_array_index (rules, i);
}

/* Users and groups by name or id, each to its role, in file order. */
static void
test_access (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) config = st_config_load_from_data (
      "access:\n"
      "  default: viewer\n"
      "  users:\n"
      "    alice: admin\n"
      "    1001: manager\n"
      "    \"0\": none\n"
      "    svc.backup-2: viewer\n"
      "  groups: {steward: manager, 100: viewer}\n"
      "  manager_scope: own\n", -1, "a.yaml", &error);
  const StAccessRule *rule;

  g_assert_no_error (error);
  g_assert_true (config->access);
  g_assert_cmpint (config->access_default, ==, ST_ROLE_VIEWER);
  g_assert_true (config->access_managers_own);
  g_assert_cmpuint (config->access_users->len, ==, 4);
  rule = access_rule (config->access_users, 0);
  g_assert_cmpstr (rule->name, ==, "alice");
  g_assert_false (rule->numeric);
  g_assert_cmpint (rule->role, ==, ST_ROLE_ADMIN);
  rule = access_rule (config->access_users, 1);
  g_assert_true (rule->numeric);
  g_assert_cmpuint (rule->id, ==, 1001);
  g_assert_cmpint (rule->role, ==, ST_ROLE_MANAGER);
  rule = access_rule (config->access_users, 2);
  g_assert_true (rule->numeric);
  g_assert_cmpuint (rule->id, ==, 0);
  g_assert_cmpint (rule->role, ==, ST_ROLE_NONE);
  g_assert_cmpstr (access_rule (config->access_users, 3)->name, ==,
                   "svc.backup-2");
  g_assert_cmpuint (config->access_groups->len, ==, 2);
  rule = access_rule (config->access_groups, 1);
  g_assert_true (rule->numeric);
  g_assert_cmpuint (rule->id, ==, 100);
  g_assert_cmpint (rule->role, ==, ST_ROLE_VIEWER);
}

/* Written at all, even empty, the section refuses whom it does not name. */
static void
test_access_empty (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) config =
      st_config_load_from_data ("access: {}\n", -1, "a.yaml", &error);

  g_assert_no_error (error);
  g_assert_true (config->access);
  g_assert_cmpint (config->access_default, ==, ST_ROLE_NONE);
  g_assert_false (config->access_managers_own);
}

static void
test_role_names (void)
{
  StRole role = ST_ROLE_NONE;

  for (StRole r = ST_ROLE_NONE; r <= ST_ROLE_ADMIN; r++)
    {
      g_assert_true (st_role_from_name (st_role_name (r), &role));
      g_assert_cmpint (role, ==, r);
    }
  g_assert_false (st_role_from_name ("Admin", &role));
  g_assert_false (st_role_from_name ("root", &role));
  g_assert_false (st_role_from_name (NULL, &role));
}

static void
test_format_duration (void)
{
  static const struct {
    guint64 ms;
    const char *text;
  } cases[] = {
    { 0, "0s" }, { 1, "1ms" }, { 1500, "1500ms" }, { 2000, "2s" },
    { 90000, "90s" }, { 300000, "5m" }, { 7200000, "2h" },
    { 86400000, "1d" }, { 604800000, "1w" }, { 8 * 86400000ull, "8d" },
    { 14 * 86400000ull, "2w" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = st_config_format_duration (cases[i].ms);
      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

/* Bad input: the message must start with exactly @prefix and contain each
 * of @needles (the key or value it names, and what to do). */
typedef struct {
  const char *path;
  const char *yaml;
  const char *prefix;
  const char *needles[3];
} BadCase;

static const BadCase bad_cases[] = {
  { "/config/bad/unknown-key", "bus: session\nworker: 3\n", "t.yaml:2:1: ",
    { "unknown key 'worker'",
      "known keys: database, bus, workers, scripts, stages" } },
  { "/config/bad/access/unknown-role",
    "bus: session\naccess:\n  users:\n    alice: boss\n", "t.yaml:4:12: ",
    { "the role of user 'alice' must be admin, manager, viewer or none",
      "not 'boss'" } },
  { "/config/bad/access/unknown-key",
    "access:\n  default: viewer\n  user: {alice: admin}\n", "t.yaml:3:3: ",
    { "unknown key 'user' in 'access'",
      "known keys: default, users, groups, manager_scope" } },
  { "/config/bad/access/default",
    "access: {default: root}\n", "t.yaml:1:19: ",
    { "'default' must be admin, manager, viewer or none", "not 'root'" } },
  { "/config/bad/access/group-role",
    "access:\n  groups:\n    staff: [viewer]\n", "t.yaml:3:12: ",
    { "the role of group 'staff' must be", "not a list" } },
  { "/config/bad/access/no-role",
    "access:\n  users:\n    alice:\n", "t.yaml:3:5: ",
    { "user 'alice' has no role", "admin, manager, viewer or none" } },
  { "/config/bad/access/user-name",
    "access:\n  users: {\"bob smith\": viewer}\n", "t.yaml:2:11: ",
    { "each key of 'access.users' must be a user name", "numeric uid" } },
  { "/config/bad/access/uid-range",
    "access:\n  users: {4294967295: viewer}\n", "t.yaml:2:11: ",
    { "user id 4294967295 is out of range", "0 to 4294967294" } },
  { "/config/bad/access/duplicate-user",
    "access:\n  users:\n    bob: viewer\n    bob: admin\n", "t.yaml:4:5: ",
    { "'bob' appears twice in 'access.users'", "lines 3 and 4" } },
  { "/config/bad/access/users-list",
    "access:\n  users: [alice, bob]\n", "t.yaml:2:10: ",
    { "'users' must be a mapping from user names (or uids) to roles",
      "not a list" } },
  { "/config/bad/access/scope",
    "access:\n  manager_scope: mine\n", "t.yaml:2:18: ",
    { "'manager_scope' must be all or own", "not 'mine'" } },
  { "/config/bad/access/no-value", "access:\nbus: session\n", "t.yaml:1:1: ",
    { "'access' has no value", "remove the key" } },
  { "/config/bad/duplicate-key", "bus: session\nworkers: 2\nbus: system\n",
    "t.yaml:3:1: ", { "'bus' appears twice", "lines 1 and 3" } },
  { "/config/bad/duplicate-stage",
    "stages:\n  lead: [won]\n  won: []\n  lead: []\n", "t.yaml:4:3: ",
    { "'lead' appears twice in 'stages'", "lines 2 and 4" } },
  { "/config/bad/empty-key", "bus: session\n?\n: x\n", "t.yaml:2:2: ",
    { "each key at the top level must be a name", "an empty value" } },
  { "/config/bad/complex-key", "? [a, b]\n: x\n", "t.yaml:1:3: ",
    { "each key at the top level must be a name", "not a list" } },
  { "/config/bad/no-value", "workers: 3\nbus:\n", "t.yaml:2:1: ",
    { "'bus' has no value", "session or system", "remove the key" } },
  { "/config/bad/type/top-level", "- bus\n- session\n", "t.yaml:1:1: ",
    { "the top level must be a mapping", "not a list" } },
  { "/config/bad/type/top-level-scalar", "bus session\n", "t.yaml:1:1: ",
    { "the top level must be a mapping", "not 'bus session'" } },
  { "/config/bad/type/bus", "bus: [session]\n", "t.yaml:1:6: ",
    { "'bus' must be session or system", "not a list" } },
  { "/config/bad/type/database", "database: {host: db}\n", "t.yaml:1:11: ",
    { "'database' must be", "not a mapping" } },
  { "/config/bad/type/workers", "workers: [4]\n", "t.yaml:1:10: ",
    { "'workers' must be a whole number from 1 to 256", "not a list" } },
  { "/config/bad/type/scripts", "scripts: /etc/steward/scripts\n",
    "t.yaml:1:10: ",
    { "'scripts' must be a list", "not '/etc/steward/scripts'" } },
  { "/config/bad/type/scripts-entry", "scripts:\n  - a\n  - {b: c}\n",
    "t.yaml:3:5: ", { "each entry of 'scripts' must be a folder path",
                      "not a mapping" } },
  { "/config/bad/type/scripts-empty-entry", "scripts: [a, \"\"]\n",
    "t.yaml:1:14: ", { "each entry of 'scripts'", "not ''" } },
  { "/config/bad/type/stages", "stages: [lead, active]\n", "t.yaml:1:9: ",
    { "'stages' must be a mapping", "not a list" } },
  { "/config/bad/type/stage-moves", "stages:\n  lead: active\n",
    "t.yaml:2:9: ", { "next stages of 'lead' must be a list",
                      "not 'active'" } },
  { "/config/bad/type/stage-target",
    "stages:\n  lead: [won, [lost]]\n  won: []\n", "t.yaml:2:15: ",
    { "each next stage of 'lead' must be a stage name", "not a list" } },
  { "/config/bad/stage-without-list", "stages:\n  lead: [won]\n  won:\n",
    "t.yaml:3:3: ", { "stage 'won' has no list", "write []" } },
  { "/config/bad/bus", "bus: user\n", "t.yaml:1:6: ",
    { "'bus' must be session or system", "not 'user'" } },
  { "/config/bad/workers/suffix", "workers: 4x\n", "t.yaml:1:10: ",
    { "'workers' must be a whole number from 1 to 256", "not '4x'" } },
  { "/config/bad/workers/negative", "workers: -1\n", "t.yaml:1:10: ",
    { "'workers'", "not '-1'" } },
  { "/config/bad/workers/zero", "workers: 0\n", "t.yaml:1:10: ",
    { "'workers'", "not '0'" } },
  { "/config/bad/workers/exponent", "workers: 1e3\n", "t.yaml:1:10: ",
    { "'workers'", "not '1e3'" } },
  { "/config/bad/workers/too-many", "workers: 257\n", "t.yaml:1:10: ",
    { "'workers'", "not '257'" } },
  { "/config/bad/workers/overflow", "workers: 18446744073709551617\n",
    "t.yaml:1:10: ", { "'workers'", "not '18446744073709551617'" } },
  { "/config/bad/workers/octal", "workers: 010\n", "t.yaml:1:10: ",
    { "'workers'", "not '010'" } },
  { "/config/bad/workers/hex", "workers: 0x10\n", "t.yaml:1:10: ",
    { "'workers'", "not '0x10'" } },
  { "/config/bad/workers/float", "workers: 4.0\n", "t.yaml:1:10: ",
    { "'workers'", "not '4.0'" } },
  { "/config/bad/workers/quoted", "workers: \"4\"\n", "t.yaml:1:10: ",
    { "'workers'", "without quotes", "'4'" } },
  { "/config/bad/stage-name/upper", "stages:\n  Lead: []\n", "t.yaml:2:3: ",
    { "stage name must be a lower-case letter", "not 'Lead'" } },
  { "/config/bad/stage-name/digit", "stages:\n  lead: []\n  2nd: []\n",
    "t.yaml:3:3: ", { "stage name", "not '2nd'" } },
  { "/config/bad/stage-name/dash", "stages: {lead: [], at-risk: []}\n",
    "t.yaml:1:20: ", { "stage name", "not 'at-risk'" } },
  { "/config/bad/stage-name/too-long",
    "stages:\n  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: []\n",
    "t.yaml:2:3: ", { "stage name", "up to 62" } },
  { "/config/bad/undeclared-target",
    "stages:\n  lead: [active]\n  active: [churn]\n  churned: []\n",
    "t.yaml:3:12: ", { "stage 'active' may only move to a declared stage "
                       "(lead, active, churned)", "not 'churn'" } },
  { "/config/bad/self-transition", "stages:\n  lead: [won]\n  won: [won]\n",
    "t.yaml:3:9: ", { "stage 'won' lists itself", "remove 'won'" } },
  { "/config/bad/duplicate-target",
    "stages:\n  lead:\n    - won\n    - lost\n    - won\n  won: []\n"
    "  lost: []\n",
    "t.yaml:5:7: ", { "stage 'lead' lists 'won' twice", "lines 3 and 5" } },
  { "/config/bad/no-stages", "bus: session\nstages: {}\n", "t.yaml:2:9: ",
    { "'stages' declares no stage", "at least one" } },
  { "/config/bad/database", "database: \"host=/tmp dbname\"\n",
    "t.yaml:1:11: ", { "'database' is not a valid libpq connection string",
                       "dbname" } },
  { "/config/bad/syntax/unclosed-quote", "bus: session\ndatabase: \"host\n",
    "t.yaml:3:1: ", { "invalid YAML", "quoted scalar",
                      "started at line 2, column 11" } },
  { "/config/bad/syntax/indentation", "bus: session\n  workers: 3\n",
    "t.yaml:2:10: ", { "invalid YAML", "mapping values are not allowed" } },
  { "/config/bad/syntax/tab", "stages:\n\tlead: []\n", "t.yaml:2:1: ",
    { "invalid YAML", "YAML does not allow tabs" } },
  { "/config/bad/syntax/unclosed-list", "scripts: [a, b\nbus: system\n",
    "t.yaml:2:4: ", { "invalid YAML", "flow sequence",
                      "started at line 1, column 10" } },
  { "/config/bad/syntax/utf8", "bus: session\nworkers: \xff\n",
    "t.yaml:2:10: ", { "invalid YAML", "UTF-8" } },
  { "/config/bad/nul", "bus: \"sess\\0ion\"\n", "t.yaml:1:6: ",
    { "NUL character" } },
  { "/config/bad/anchor", "bus: &b session\n", "t.yaml:1:6: ",
    { "anchors (&b) are not supported" } },
  { "/config/bad/alias", "stages:\n  lead: &next [won]\n  won: *next\n",
    "t.yaml:2:9: ", { "anchors (&next)" } },
  { "/config/bad/alias-only", "bus: *b\n", "t.yaml:1:6: ",
    { "aliases (*b) are not supported" } },
  { "/config/bad/tag", "workers: !!int 4\n", "t.yaml:1:10: ",
    { "tags", "not supported", "tag:yaml.org,2002:int" } },
  { "/config/bad/tag-local", "scripts: !folders [a]\n", "t.yaml:1:10: ",
    { "tags", "!folders" } },
  { "/config/bad/two-documents", "bus: session\n---\nbus: system\n",
    "t.yaml:2:1: ", { "second YAML document", "remove this '---'" } },
  /* lua */
  { "/config/bad/lua/type", "lua: 2s\n", "t.yaml:1:6: ",
    { "lua must be a mapping", "not '2s'" } },
  { "/config/bad/lua/unknown", "lua:\n  timeout: 2s\n  memroy: 32M\n",
    "t.yaml:3:3: ", { "unknown key 'memroy' in 'lua'",
                      "known keys: instructions, timeout, memory" } },
  { "/config/bad/lua/instructions-low", "lua: {instructions: 999}\n",
    "t.yaml:1:21: ", { "'instructions' must be a whole number from 1000",
                       "not '999'" } },
  { "/config/bad/lua/instructions-suffix", "lua: {instructions: 10M}\n",
    "t.yaml:1:21: ", { "'instructions'", "not '10M'" } },
  { "/config/bad/lua/timeout-unit", "lua:\n  timeout: 2\n", "t.yaml:2:12: ",
    { "'timeout' must be a duration", "500ms or 2s", "not '2'" } },
  { "/config/bad/lua/timeout-fraction", "lua: {timeout: 1.5s}\n",
    "t.yaml:1:16: ", { "'timeout' must be a duration", "not '1.5s'" } },
  { "/config/bad/lua/timeout-space", "lua: {timeout: 2 s}\n", "t.yaml:1:16: ",
    { "'timeout'", "not '2 s'" } },
  { "/config/bad/lua/timeout-unknown-unit", "lua: {timeout: 2sec}\n",
    "t.yaml:1:16: ", { "'timeout'", "not '2sec'" } },
  { "/config/bad/lua/timeout-too-long", "lua: {timeout: 2h}\n",
    "t.yaml:1:16: ", { "from 10ms to 1h", "not '2h'" } },
  { "/config/bad/lua/timeout-too-short", "lua: {timeout: 5ms}\n",
    "t.yaml:1:16: ", { "'timeout'", "not '5ms'" } },
  { "/config/bad/lua/timeout-overflow",
    "lua: {timeout: 999999999999999w}\n", "t.yaml:1:16: ",
    { "'timeout'", "not '999999999999999w'" } },
  { "/config/bad/lua/memory-suffix", "lua: {memory: 32MB}\n", "t.yaml:1:15: ",
    { "'memory' must be a size", "K, M or G", "not '32MB'" } },
  { "/config/bad/lua/memory-lower", "lua: {memory: 32m}\n", "t.yaml:1:15: ",
    { "'memory'", "not '32m'" } },
  { "/config/bad/lua/memory-small", "lua: {memory: 512K}\n", "t.yaml:1:15: ",
    { "from 1M to 64G", "not '512K'" } },
  { "/config/bad/lua/memory-large", "lua: {memory: 65G}\n", "t.yaml:1:15: ",
    { "'memory'", "not '65G'" } },
  { "/config/bad/lua/memory-negative", "lua: {memory: -1M}\n",
    "t.yaml:1:15: ", { "'memory'", "not '-1M'" } },
  { "/config/bad/lua/no-value", "lua:\n  timeout:\n", "t.yaml:2:3: ",
    { "'timeout' has no value", "remove the key" } },
  /* care */
  { "/config/bad/care/workers", "care: {workers: 65}\n", "t.yaml:1:17: ",
    { "'workers' must be a whole number from 1 to 64", "not '65'" } },
  { "/config/bad/care/unknown", "care: {threads: 2}\n", "t.yaml:1:8: ",
    { "unknown key 'threads' in 'care'", "known keys: workers" } },
  /* delivery */
  { "/config/bad/delivery/workers", "delivery: {workers: 0}\n",
    "t.yaml:1:21: ", { "'workers' must be a whole number from 1 to 64",
                       "not '0'" } },
  { "/config/bad/delivery/max-attempts", "delivery: {max_attempts: \"8\"}\n",
    "t.yaml:1:26: ", { "'max_attempts'", "without quotes" } },
  { "/config/bad/delivery/backoff", "delivery: {backoff: 10}\n",
    "t.yaml:1:21: ", { "'backoff' must be a duration", "not '10'" } },
  { "/config/bad/delivery/backoff-too-long", "delivery: {backoff: 31d}\n",
    "t.yaml:1:21: ", { "from 100ms to 30d", "not '31d'" } },
  { "/config/bad/delivery/max-below-backoff",
    "delivery:\n  backoff: 1h\n  max_backoff: 30m\n", "t.yaml:3:16: ",
    { "'max_backoff' (30m) is shorter than 'backoff' (1h)",
      "at least as long" } },
  { "/config/bad/delivery/backoff-above-default-max",
    "delivery:\n  workers: 2\n  backoff: 7h\n", "t.yaml:3:12: ",
    { "'max_backoff' (6h) is shorter than 'backoff' (7h)" } },
  { "/config/bad/delivery/type", "delivery: [2]\n", "t.yaml:1:11: ",
    { "delivery must be a mapping", "not a list" } },
  /* plugin_dir */
  { "/config/bad/plugin-dir/type", "plugin_dir: [a]\n", "t.yaml:1:13: ",
    { "'plugin_dir' must be a folder path", "not a list" } },
  { "/config/bad/plugin-dir/empty", "plugin_dir: \"\"\n", "t.yaml:1:13: ",
    { "'plugin_dir' must be a folder path", "not ''" } },
  /* channels */
  { "/config/bad/channels/type", "channels: [email]\n", "t.yaml:1:11: ",
    { "'channels' must be a mapping", "not a list" } },
  { "/config/bad/channels/name", "channels:\n  E-mail: {plugin: log}\n",
    "t.yaml:2:3: ", { "a channel name must be '*' or a lower-case letter",
                      "not 'E-mail'" } },
  { "/config/bad/channels/entry-type", "channels:\n  email: log\n",
    "t.yaml:2:10: ", { "channel 'email' must be a mapping", "not 'log'" } },
  { "/config/bad/channels/no-plugin",
    "channels:\n  email: {path: /tmp/x}\n", "t.yaml:2:3: ",
    { "channel 'email' names no plugin", "plugin: log" } },
  { "/config/bad/channels/plugin-name",
    "channels:\n  email: {plugin: ../evil}\n", "t.yaml:2:19: ",
    { "the plugin of channel 'email' must be a plugin name",
      "not '../evil'" } },
  { "/config/bad/channels/setting-type",
    "channels:\n  email:\n    plugin: log\n    path: [a, b]\n",
    "t.yaml:4:11: ", { "'path' in channel 'email' must be a text value",
                       "not a list" } },
  { "/config/bad/channels/setting-empty",
    "channels:\n  email:\n    plugin: log\n    path:\n", "t.yaml:4:5: ",
    { "'path' in channel 'email' has no value" } },
  { "/config/bad/channels/duplicate-setting",
    "channels:\n  email: {plugin: log, path: a, path: b}\n", "t.yaml:2:33: ",
    { "'path' appears twice in channel 'email'" } },
  { "/config/bad/channels/duplicate",
    "channels:\n  email: {plugin: log}\n  email: {plugin: log}\n",
    "t.yaml:3:3: ", { "'email' appears twice in 'channels'" } },
  { "/config/bad/channels/no-value", "channels:\n  email:\n",
    "t.yaml:2:9: ", { "channel 'email' must be a mapping",
                       "an empty value" } },
  /* channels: the delivery policy the daemon keeps for itself */
  { "/config/bad/channels/policy/max-attempts-zero",
    "channels:\n  email: {plugin: log, max_attempts: 0}\n", "t.yaml:2:38: ",
    { "'max_attempts' must be a whole number from 1 to 1000", "not '0'" } },
  { "/config/bad/channels/policy/max-attempts-quoted",
    "channels:\n  email: {plugin: log, max_attempts: \"5\"}\n",
    "t.yaml:2:38: ", { "'max_attempts'", "without quotes" } },
  { "/config/bad/channels/policy/backoff-unit",
    "channels:\n  email: {plugin: log, backoff: 30}\n", "t.yaml:2:33: ",
    { "'backoff' must be a duration from 100ms to 30d", "not '30'" } },
  { "/config/bad/channels/policy/backoff-short",
    "channels:\n  email: {plugin: log, backoff: 50ms}\n", "t.yaml:2:33: ",
    { "'backoff'", "not '50ms'" } },
  { "/config/bad/channels/policy/max-backoff-shorter",
    "channels:\n  email:\n    plugin: log\n    backoff: 1h\n"
    "    max_backoff: 30m\n", "t.yaml:5:18: ",
    { "'max_backoff' (30m) of channel 'email' is shorter than its 'backoff' "
      "(1h)", "at least as long" } },
  { "/config/bad/channels/policy/rate-zero",
    "channels:\n  email: {plugin: log, rate_limit: 0}\n", "t.yaml:2:36: ",
    { "'rate_limit' must be a rate such as 10 (messages per second)",
      "10/s, 600/m or 100/h", "not '0'" } },
  { "/config/bad/channels/policy/rate-negative",
    "channels:\n  email: {plugin: log, rate_limit: -5}\n", "t.yaml:2:36: ",
    { "'rate_limit'", "not '-5'" } },
  { "/config/bad/channels/policy/rate-unit",
    "channels:\n  email: {plugin: log, rate_limit: 10/d}\n", "t.yaml:2:36: ",
    { "'rate_limit'", "not '10/d'" } },
  { "/config/bad/channels/policy/rate-quoted",
    "channels:\n  email: {plugin: log, rate_limit: \"10\"}\n",
    "t.yaml:2:36: ", { "'rate_limit'", "without quotes", "'10'" } },
  { "/config/bad/channels/policy/rate-high",
    "channels:\n  email: {plugin: log, rate_limit: 20000/s}\n",
    "t.yaml:2:36: ", { "from 1/h to 10000/s", "not '20000/s'" } },
  { "/config/bad/channels/policy/rate-low",
    "channels:\n  email: {plugin: log, rate_limit: 0.5/h}\n", "t.yaml:2:36: ",
    { "'rate_limit'", "not '0.5/h'" } },
  { "/config/bad/channels/policy/rate-fraction",
    "channels:\n  email: {plugin: log, rate_limit: 1.1234567}\n",
    "t.yaml:2:36: ", { "'rate_limit'", "not '1.1234567'" } },
  { "/config/bad/channels/policy/rate-text",
    "channels:\n  email: {plugin: log, rate_limit: fast}\n", "t.yaml:2:36: ",
    { "'rate_limit'", "not 'fast'" } },
  { "/config/bad/channels/policy/rate-list",
    "channels:\n  email: {plugin: log, rate_limit: [10]}\n", "t.yaml:2:36: ",
    { "'rate_limit'", "not a list" } },
  { "/config/bad/channels/policy/empty",
    "channels:\n  email:\n    plugin: log\n    max_attempts:\n", "t.yaml:4:5: ",
    { "'max_attempts' in channel 'email' has no value" } },
  /* quiet_hours */
  { "/config/bad/quiet/type", "quiet_hours: 21:00-08:00\n", "t.yaml:1:14: ",
    { "quiet_hours must be a mapping", "not '21:00-08:00'" } },
  { "/config/bad/quiet/no-end", "quiet_hours:\n  start: \"21:00\"\n",
    "t.yaml:2:3: ", { "'quiet_hours' needs both 'start' and 'end'",
                      "no 'end'" } },
  { "/config/bad/quiet/no-start", "quiet_hours: {end: \"08:00\"}\n",
    "t.yaml:1:14: ", { "needs both", "no 'start'" } },
  { "/config/bad/quiet/hour", "quiet_hours: {start: \"24:00\", end: 8:00}\n",
    "t.yaml:1:22: ", { "'start' must be a time of day", "not '24:00'" } },
  { "/config/bad/quiet/minute", "quiet_hours: {start: \"21:60\", end: 8:00}\n",
    "t.yaml:1:22: ", { "'start'", "not '21:60'" } },
  { "/config/bad/quiet/format", "quiet_hours: {start: 9pm, end: 8:00}\n",
    "t.yaml:1:22: ", { "'start'", "not '9pm'" } },
  { "/config/bad/quiet/seconds",
    "quiet_hours: {start: \"21:00:00\", end: 8:00}\n", "t.yaml:1:22: ",
    { "'start'", "not '21:00:00'" } },
  { "/config/bad/quiet/same", "quiet_hours:\n  start: \"21:00\"\n"
    "  end: \"21:00\"\n", "t.yaml:3:8: ",
    { "'end' is the same time as 'start' (21:00)", "empty window" } },
  { "/config/bad/quiet/channels-type",
    "quiet_hours: {start: \"21:00\", end: \"08:00\", channels: email}\n",
    "t.yaml:1:55: ", { "'channels' must be a list", "not 'email'" } },
  { "/config/bad/quiet/channels-empty",
    "quiet_hours: {start: \"21:00\", end: \"08:00\", channels: []}\n",
    "t.yaml:1:55: ", { "'channels' lists no channel", "remove the key" } },
  { "/config/bad/quiet/channels-star",
    "quiet_hours: {start: \"21:00\", end: \"08:00\", channels: [\"*\"]}\n",
    "t.yaml:1:56: ", { "each entry of 'channels' must be a channel name",
                       "not '*'" } },
  { "/config/bad/quiet/unknown",
    "quiet_hours: {start: \"21:00\", end: \"08:00\", zone: UTC}\n",
    "t.yaml:1:45: ", { "unknown key 'zone' in 'quiet_hours'",
                       "known keys: start, end, channels" } },
  /* default_tz */
  { "/config/bad/default-tz/unknown", "default_tz: Mars/Olympus\n",
    "t.yaml:1:13: ", { "'default_tz' is not usable", "'Mars/Olympus'" } },
  { "/config/bad/default-tz/posix", "default_tz: CET-1CEST\n",
    "t.yaml:1:13: ", { "'default_tz' is not usable", "POSIX" } },
  { "/config/bad/default-tz/type", "default_tz: [UTC]\n", "t.yaml:1:13: ",
    { "'default_tz' must be a time zone name", "not a list" } },
  /* caps */
  { "/config/bad/caps/type", "caps: {channel: email}\n", "t.yaml:1:7: ",
    { "'caps' must be a list", "not a mapping" } },
  { "/config/bad/caps/entry-type", "caps: [email]\n", "t.yaml:1:8: ",
    { "each entry of 'caps' must be a mapping", "not 'email'" } },
  { "/config/bad/caps/missing-per", "caps:\n  - {channel: email, max: 3}\n",
    "t.yaml:2:5: ", { "this entry of 'caps' has no 'per'",
                      "channel, max and per" } },
  { "/config/bad/caps/missing-channel", "caps:\n  - {max: 3, per: 1d}\n",
    "t.yaml:2:5: ", { "has no 'channel'" } },
  { "/config/bad/caps/max-zero", "caps: [{channel: email, max: 0, per: 1d}]\n",
    "t.yaml:1:30: ", { "'max' must be a whole number from 1", "not '0'" } },
  { "/config/bad/caps/per-ms",
    "caps: [{channel: email, max: 1, per: 1500ms}]\n", "t.yaml:1:38: ",
    { "'per' must be a whole number of seconds", "not '1500ms'" } },
  { "/config/bad/caps/per-unit", "caps: [{channel: email, max: 1, per: 7}]\n",
    "t.yaml:1:38: ", { "'per'", "not '7'" } },
  { "/config/bad/caps/action",
    "caps:\n  - {channel: email, max: 1, per: 1d, action: drop}\n",
    "t.yaml:2:47: ", { "'action' must be defer or suppress", "not 'drop'" } },
  { "/config/bad/caps/channel", "caps: [{channel: Email, max: 1, per: 1d}]\n",
    "t.yaml:1:18: ", { "'channel' must be a channel name or '*'",
                       "not 'Email'" } },
  { "/config/bad/caps/unknown",
    "caps: [{channel: email, max: 1, per: 1d, window: 2}]\n", "t.yaml:1:42: ",
    { "unknown key 'window' in 'caps'",
      "known keys: channel, max, per, action" } },
};

static void
test_bad (gconstpointer data)
{
  const BadCase *bad = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) config =
      st_config_load_from_data (bad->yaml, -1, "t.yaml", &error);

  g_assert_null (config);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_test_message ("%s", error->message);
  if (!g_str_has_prefix (error->message, bad->prefix))
    g_test_fail_printf ("expected prefix \"%s\" in: %s", bad->prefix,
                        error->message);
  for (gsize i = 0; i < G_N_ELEMENTS (bad->needles) && bad->needles[i]; i++)
    if (strstr (error->message, bad->needles[i]) == NULL)
      g_test_fail_printf ("expected \"%s\" in: %s", bad->needles[i],
                          error->message);
  g_assert_null (strchr (error->message, '\n'));
}

static void
test_bad_nesting (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) yaml = g_string_new ("scripts: ");
  g_autoptr (StConfig) config = NULL;

  for (int i = 0; i < 10000; i++)
    g_string_append_c (yaml, '[');
  config = st_config_load_from_data (yaml->str, yaml->len, "t.yaml", &error);
  g_assert_null (config);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_assert_true (g_str_has_prefix (error->message, "t.yaml:1:"));
  g_assert_nonnull (strstr (error->message, "nested"));
}

/* Files on disk */

static char *
write_temp (const char *dir, const char *name, const char *contents)
{
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

static void
test_file_good (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("steward-config-XXXXXX", &error);
  g_autofree char *path = write_temp (dir, "steward.yaml", good_yaml);
  g_autofree char *local = g_build_filename (dir, "local", NULL);
  g_autoptr (StConfig) config = st_config_load (path, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (config->path, ==, path);
  g_assert_cmpstr (config->scripts[0], ==, "/srv/steward/scripts");
  g_assert_cmpstr (config->scripts[1], ==, local); /* next to the file */
  assert_good_stages (config);
  g_unlink (path);
  g_rmdir (dir);
}

/* A relative plugin_dir is next to the file, like scripts. */
static void
test_file_plugin_dir (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("steward-config-XXXXXX", &error);
  g_autofree char *path = write_temp (dir, "steward.yaml",
                                      "plugin_dir: plugins\n");
  g_autofree char *plugins = g_build_filename (dir, "plugins", NULL);
  g_autoptr (StConfig) config = st_config_load (path, &error);
  g_autoptr (StConfig) as_written = st_config_load_from_data (
      "plugin_dir: plugins\n", -1, "d.yaml", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (config->plugin_dir, ==, plugins);
  g_assert_cmpstr (as_written->plugin_dir, ==, "plugins");
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_file_empty (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("steward-config-XXXXXX", &error);
  g_autofree char *path = write_temp (dir, "empty.yaml", "");
  g_autoptr (StConfig) config = st_config_load (path, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (config->path, ==, path);
  assert_defaults (config);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_file_bad (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("steward-config-XXXXXX", &error);
  g_autofree char *path = write_temp (dir, "bad.yaml",
                                      "bus: session\nworkers: 0\n");
  g_autofree char *prefix = g_strdup_printf ("%s:2:10: ", path);
  g_autoptr (StConfig) config = st_config_load (path, &error);

  g_assert_null (config);
  g_assert_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_file_missing (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) config =
      st_config_load ("/nonexistent/steward/steward.yaml", &error);

  g_assert_null (config);
  g_assert_error (error, ST_ERROR, ST_ERROR_NOT_FOUND);
  g_assert_true (g_str_has_prefix (error->message,
                                   "/nonexistent/steward/steward.yaml: "));
  g_assert_nonnull (strstr (error->message, g_strerror (ENOENT)));
}

static void
test_file_directory (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("steward-config-XXXXXX", &error);
  g_autoptr (StConfig) config = st_config_load (dir, &error);
  g_autofree char *prefix = g_strdup_printf ("%s: ", dir);

  g_assert_null (config);
  g_assert_error (error, ST_ERROR, ST_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_rmdir (dir);
}

/* The example operators copy must itself be valid. */
static void
test_example (void)
{
  const char *srcdir = g_getenv ("STEWARD_SRCDIR");
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (StConfig) config = NULL;

  if (srcdir == NULL)
    {
      g_test_skip ("STEWARD_SRCDIR is not set (run through meson test)");
      return;
    }
  path = g_build_filename (srcdir, "data", "steward.yaml", NULL);
  config = st_config_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (config);
  g_assert_cmpstr (config->path, ==, path);
  g_assert_cmpuint (config->workers, >=, 1);
  assert_default_lifecycle (config);
  /* Every channel goes somewhere. */
  g_assert_nonnull (st_config_find_channel (config, "email"));
  g_assert_cmpstr (st_config_find_channel (config, "email")->plugin, ==,
                   "log");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/empty", test_empty);
  g_test_add_func ("/config/partial", test_partial);
  g_test_add_func ("/config/good", test_good);
  g_test_add_func ("/config/good/values", test_good_values);
  g_test_add_func ("/config/good/stages", test_good_stages);
  g_test_add_func ("/config/lookups", test_lookups);
  g_test_add_func ("/config/stage-name-valid", test_stage_name_valid);
  g_test_add_func ("/config/care", test_care);
  g_test_add_func ("/config/care/values", test_care_values);
  g_test_add_func ("/config/channels/policy", test_channel_policy);
  g_test_add_func ("/config/quiet-hours", test_quiet_hours);
  g_test_add_func ("/config/format-duration", test_format_duration);
  g_test_add_func ("/config/access", test_access);
  g_test_add_func ("/config/access/empty", test_access_empty);
  g_test_add_func ("/config/access/role-names", test_role_names);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    g_test_add_data_func (bad_cases[i].path, &bad_cases[i], test_bad);
  g_test_add_func ("/config/bad/nesting", test_bad_nesting);
  g_test_add_func ("/config/file/good", test_file_good);
  g_test_add_func ("/config/file/plugin-dir", test_file_plugin_dir);
  g_test_add_func ("/config/file/empty", test_file_empty);
  g_test_add_func ("/config/file/bad", test_file_bad);
  g_test_add_func ("/config/file/missing", test_file_missing);
  g_test_add_func ("/config/file/directory", test_file_directory);
  g_test_add_func ("/config/example", test_example);

  return g_test_run ();
}
