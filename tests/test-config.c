/* Tests for core/st-config.c: defaults, good files, lifecycle lookups, and
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
  for (gsize i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    g_test_add_data_func (bad_cases[i].path, &bad_cases[i], test_bad);
  g_test_add_func ("/config/bad/nesting", test_bad_nesting);
  g_test_add_func ("/config/file/good", test_file_good);
  g_test_add_func ("/config/file/empty", test_file_empty);
  g_test_add_func ("/config/file/bad", test_file_bad);
  g_test_add_func ("/config/file/missing", test_file_missing);
  g_test_add_func ("/config/file/directory", test_file_directory);
  g_test_add_func ("/config/example", test_example);

  return g_test_run ();
}
