/* Script files: loading and checking one in a throwaway sandboxed state,
 * and the set of the scripts of some folders. */

#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "st-audience.h"
#include "st-cron.h"
#include "st-error.h"
#include "st-lua-private.h"
#include "st-record.h"

static const char *const known_keys[]
    = { "name",     "description", "on",         "delay", "run",
        "schedule", "audience",    "local_time", NULL };

void
st_script_free (StScript *script)
{
  if (script == NULL)
    return;
  g_free (script->name);
  g_free (script->description);
  g_free (script->path);
  g_free (script->source);
  g_strfreev (script->on);
  g_free (script->schedule);
  g_free (script->audience_json);
  g_free (script->error);
  g_free (script);
}

static gboolean
name_valid (const char *name)
{
  gsize len = strlen (name);

  if (len == 0 || len > 64)
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '_'
        && *p != '-')
      return FALSE;
  return TRUE;
}

static gboolean
event_kind_valid (const char *kind)
{
  if (!g_ascii_islower (kind[0]) || strlen (kind) > 64)
    return FALSE;
  for (const char *p = kind; *p != '\0'; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '_'
        && *p != '.' && *p != '-')
      return FALSE;
  return TRUE;
}

/* As stage names in the configuration: [a-z][a-z0-9_]{0,62}. */
static gboolean
stage_valid (const char *stage)
{
  if (!g_ascii_islower (stage[0]) || strlen (stage) > 63)
    return FALSE;
  for (const char *p = stage; *p != '\0'; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean
trigger_valid (const char *trigger)
{
  if (g_str_has_prefix (trigger, "stage:"))
    return stage_valid (trigger + 6);
  return event_kind_valid (trigger);
}

/* The value at @idx for a message, in @buffer (no allocation: the check
 * runs where Lua errors may be raised, see check_returned). */
static const char *
describe (lua_State *L, int idx, char *buffer, gsize size)
{
  switch (lua_type (L, idx))
    {
    case LUA_TSTRING:
      g_snprintf (buffer, size, "'%.40s'", lua_tostring (L, idx));
      return buffer;
    case LUA_TNUMBER:
      if (lua_isinteger (L, idx))
        g_snprintf (buffer, size, "%" G_GINT64_FORMAT,
                    (gint64) lua_tointeger (L, idx));
      else
        g_snprintf (buffer, size, "%g", lua_tonumber (L, idx));
      return buffer;
    default:
      return luaL_typename (L, idx);
    }
}

static gboolean G_GNUC_PRINTF (4, 5)
    field_error (GError **error, const StScript *script, const char *field,
                 const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT, "%s: %s: %s",
               script->path, field, message);
  return FALSE;
}

/* Push the field @key of the table at @idx (raw); its type. */
static int
get_field (lua_State *L, int idx, const char *key)
{
  lua_pushstring (L, key);
  return lua_rawget (L, idx);
}

static gboolean
check_on (lua_State *L, int idx, StScript *script, GError **error)
{
  char buffer[64];
  lua_Unsigned n = lua_rawlen (L, idx);
  lua_Unsigned keys = 0;

  lua_pushnil (L);
  while (lua_next (L, idx) != 0)
    {
      keys++;
      lua_pop (L, 1);
    }
  if (n == 0 || keys != n || n > 256)
    return field_error (error, script, "on",
                        "must be a list of event kinds or 'stage:<stage>' "
                        "entries, e.g. { \"purchase\" }");
  script->on = g_new0 (char *, n + 1);
  for (lua_Unsigned i = 1; i <= n; i++)
    {
      lua_rawgeti (L, idx, (lua_Integer) i);
      if (lua_type (L, -1) != LUA_TSTRING
          || !trigger_valid (lua_tostring (L, -1)))
        return field_error (
            error, script, "on",
            "entry %u is %s, not an event kind (a lower-case letter, then "
            "letters, digits, '_', '.' or '-') or 'stage:<stage>'",
            (guint) i, describe (L, -1, buffer, sizeof buffer));
      script->on[i - 1] = g_strdup (lua_tostring (L, -1));
      lua_pop (L, 1);
    }
  return TRUE;
}

static gboolean
check_delay (lua_State *L, int idx, StScript *script, GError **error)
{
  char buffer[64];
  int isnum = 0;

  if (lua_type (L, idx) == LUA_TNUMBER)
    {
      lua_Integer seconds = lua_tointegerx (L, idx, &isnum);

      if (isnum && seconds >= 0 && seconds <= ST_LUA_MAX_SECONDS)
        {
          script->delay = seconds;
          return TRUE;
        }
    }
  else if (lua_type (L, idx) == LUA_TSTRING
           && st_lua_parse_duration (lua_tostring (L, idx), &script->delay))
    return TRUE;
  return field_error (error, script, "delay",
                      "must be a whole number of seconds up to 100 years, "
                      "or a duration such as '30s', '5m', '2h', '7d' or "
                      "'2w', got %s",
                      describe (L, idx, buffer, sizeof buffer));
}

static gboolean
check_audience (lua_State *L, int idx, StScript *script, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GVariant) audience = NULL;
  g_autoptr (StAudience) compiled = NULL;

  if (lua_type (L, idx) != LUA_TTABLE)
    return field_error (error, script, "audience",
                        "must be a table of filters, e.g. { stage = "
                        "\"active\" }");
  /* No Lua call from here on: the conversion never raises. */
  audience = st_lua_to_variant (L, idx, "audience", &local);
  if (audience == NULL)
    return field_error (error, script, "audience", "%s", local->message);
  if (!g_variant_is_of_type (audience, G_VARIANT_TYPE_VARDICT))
    return field_error (error, script, "audience",
                        "must be a table of named filters, not a list");
  /* Checked now, so a misspelt filter breaks the script at load time
   * rather than its first run (its messages name the key path). */
  compiled = st_audience_new (audience, &local);
  if (compiled == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT, "%s: %s",
                   script->path, local->message);
      return FALSE;
    }
  script->audience_json = st_record_to_json (audience);
  return TRUE;
}

void
st_script_check_stages (StScript *script, const StConfig *config)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GVariant) spec = NULL;
  g_autoptr (StAudience) audience = NULL;

  if (script->error != NULL)
    return;
  for (guint i = 0; script->on != NULL && script->on[i] != NULL; i++)
    {
      const char *trigger = script->on[i];
      g_autoptr (GString) names = NULL;

      if (!g_str_has_prefix (trigger, "stage:")
          || st_config_find_stage (config, trigger + 6) != NULL)
        continue;
      names = g_string_new (NULL);
      for (guint j = 0; j < config->stages->len; j++)
        g_string_append_printf (
            names, "%s%s", j > 0 ? ", " : "",
            ((StStage *) g_ptr_array_index (config->stages, j))->name);
      script->error = g_strdup_printf ("%s: on: '%s' names no stage; the "
                                       "stages are: %s", script->path,
                                       trigger, names->str);
      return;
    }
  if (script->audience_json == NULL)
    return;
  spec = st_record_from_json (script->audience_json, &local);
  if (spec != NULL)
    {
      g_variant_ref_sink (spec);
      audience = st_audience_new (spec, &local);
    }
  if (audience == NULL
      || !st_audience_check_stages (audience, config, &local))
    script->error = g_strdup_printf ("%s: %s", script->path, local->message);
}

static gboolean
check_schedule (StScript *script, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (StCron) cron = st_cron_parse (script->schedule, &local);

  if (cron == NULL)
    return field_error (error, script, "schedule", "%s", local->message);
  return TRUE;
}

static gboolean
check_string_field (lua_State *L, int idx, StScript *script, const char *field,
                    char **out, GError **error)
{
  char buffer[64];

  if (lua_type (L, idx) != LUA_TSTRING || lua_rawlen (L, idx) == 0
      || !g_utf8_validate (lua_tostring (L, idx), -1, NULL))
    return field_error (error, script, field,
                        "must be a non-empty string, got %s",
                        describe (L, idx, buffer, sizeof buffer));
  g_free (*out);
  *out = g_strdup (lua_tostring (L, idx));
  return TRUE;
}

/* The check of what a script file returned, called by st_lua_eval in a
 * critical section. Lua errors (out of memory) may be raised in it, so
 * everything allocated goes straight into @data, the script. */
static gboolean
check_returned (lua_State *L, int idx, gpointer data, GError **error)
{
  StScript *script = data;
  char buffer[64];
  gboolean has_run = FALSE;
  gboolean has_audience = FALSE;
  gboolean has_local_time = FALSE;
  int top = lua_gettop (L);
  int type;

  if (lua_type (L, idx) != LUA_TTABLE)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s: the file must return a table (with name, on and "
                   "run), got %s",
                   script->path, describe (L, idx, buffer, sizeof buffer));
      return FALSE;
    }
  type = get_field (L, idx, "name");
  if (type == LUA_TNIL)
    return field_error (error, script, "name",
                        "is required (1 to 64 lower-case letters, digits, "
                        "'_' or '-', unique among the scripts)");
  if (type != LUA_TSTRING || !name_valid (lua_tostring (L, -1)))
    return field_error (error, script, "name",
                        "must be 1 to 64 lower-case letters, digits, '_' or "
                        "'-', got %s",
                        describe (L, -1, buffer, sizeof buffer));
  g_free (script->name);
  script->name = g_strdup (lua_tostring (L, -1));
  lua_settop (L, top);

  lua_pushnil (L);
  while (lua_next (L, idx) != 0)
    {
      lua_pop (L, 1);
      if (lua_type (L, -1) != LUA_TSTRING
          || !g_strv_contains (known_keys, lua_tostring (L, -1)))
        {
          g_autofree char *known = g_strjoinv (", ", (char **) known_keys);

          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "%s: unknown key %s in the returned table (known "
                       "keys: %s)",
                       script->path, describe (L, -1, buffer, sizeof buffer),
                       known);
          return FALSE;
        }
    }

  if (get_field (L, idx, "description") != LUA_TNIL
      && !check_string_field (L, lua_gettop (L), script, "description",
                              &script->description, error))
    return FALSE;
  lua_settop (L, top);

  if ((type = get_field (L, idx, "on")) != LUA_TNIL)
    {
      if (type != LUA_TTABLE)
        return field_error (error, script, "on",
                            "must be a list of event kinds or "
                            "'stage:<stage>' entries, e.g. { \"purchase\" }, "
                            "got %s",
                            describe (L, -1, buffer, sizeof buffer));
      if (!check_on (L, lua_gettop (L), script, error))
        return FALSE;
    }
  lua_settop (L, top);

  if (get_field (L, idx, "delay") != LUA_TNIL
      && !check_delay (L, lua_gettop (L), script, error))
    return FALSE;
  lua_settop (L, top);

  if ((type = get_field (L, idx, "run")) != LUA_TNIL)
    {
      if (type != LUA_TFUNCTION)
        return field_error (error, script, "run",
                            "must be a function run(customer, event), got %s",
                            describe (L, -1, buffer, sizeof buffer));
      has_run = TRUE;
    }
  lua_settop (L, top);

  if (get_field (L, idx, "schedule") != LUA_TNIL
      && (!check_string_field (L, lua_gettop (L), script, "schedule",
                               &script->schedule, error)
          || !check_schedule (script, error)))
    return FALSE;
  lua_settop (L, top);

  if (get_field (L, idx, "audience") != LUA_TNIL)
    {
      if (!check_audience (L, lua_gettop (L), script, error))
        return FALSE;
      has_audience = TRUE;
    }
  lua_settop (L, top);

  if ((type = get_field (L, idx, "local_time")) != LUA_TNIL)
    {
      if (type != LUA_TBOOLEAN)
        return field_error (error, script, "local_time",
                            "must be true or false, got %s",
                            describe (L, -1, buffer, sizeof buffer));
      script->local_time = lua_toboolean (L, -1);
      has_local_time = TRUE;
    }
  lua_settop (L, top);

  if (script->schedule == NULL && (has_audience || has_local_time))
    return field_error (error, script, "schedule",
                        "is required with audience and local_time (a "
                        "campaign's cron schedule, e.g. \"0 9 * * 1\")");
  if (script->schedule != NULL && !has_audience)
    return field_error (error, script, "audience",
                        "is required with schedule (whom the campaign is "
                        "for, e.g. { stage = \"active\" })");
  if (script->schedule == NULL && script->on == NULL)
    return field_error (error, script, "on",
                        "is required (the event kinds or 'stage:<stage>' "
                        "entries that trigger the script, e.g. "
                        "{ \"purchase\" })");
  /* A campaign without run would fail every target of every run. */
  if (!has_run)
    return field_error (error, script, "run",
                        "is required (a function run(customer, event))");
  return TRUE;
}

static char *
name_from_path (const char *path)
{
  char *base = g_path_get_basename (path);

  if (g_str_has_suffix (base, ".lua"))
    base[strlen (base) - 4] = '\0';
  return base;
}

static StScript *
load_with (StLua *lua, const char *path, GError **error)
{
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);
  g_autofree char *source = NULL;
  g_autofree char *folder = NULL;
  g_autoptr (GError) local = NULL;
  const char *folders[2] = { NULL, NULL };
  StScript *script;
  gsize len;

  if (!g_file_get_contents (absolute, &source, &len, &local))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED, "%s: %s", absolute,
                   local->message);
      return NULL;
    }
  script = g_new0 (StScript, 1);
  script->path = g_steal_pointer (&absolute);
  script->source = g_steal_pointer (&source);
  script->name = name_from_path (script->path);
  if (strlen (script->source) != len)
    {
      script->error
          = g_strdup_printf ("%s: the file contains a NUL byte", script->path);
      return script;
    }
  /* While a file loads, require() looks beside it. */
  folder = g_path_get_dirname (script->path);
  folders[0] = folder;
  if (!st_lua_eval (lua, script->path, script->source, folders, check_returned,
                    script, &local))
    script->error = g_strdup (local->message);
  return script;
}

StScript *
st_script_load_file (const char *path, const StLuaLimits *limits,
                     GError **error)
{
  g_autoptr (StLua) lua = st_lua_new (limits);

  g_return_val_if_fail (path != NULL, NULL);
  return load_with (lua, path, error);
}

struct _StScriptSet
{
  gint ref_count;
  GStrv folders;
  GPtrArray *scripts; /* StScript, owned, sorted by name then path */
};

static int
compare_scripts (gconstpointer a, gconstpointer b)
{
  const StScript *x = *(StScript *const *) a;
  const StScript *y = *(StScript *const *) b;
  int order = strcmp (x->name, y->name);

  return order != 0 ? order : strcmp (x->path, y->path);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The *.lua files directly inside @folder, sorted. */
static GPtrArray *
list_files (const char *folder)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = g_dir_open (folder, 0, &error);
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
  const char *entry;

  if (dir == NULL)
    {
      g_warning ("scripts folder %s: %s", folder, error->message);
      return files;
    }
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;

      if (!g_str_has_suffix (entry, ".lua"))
        continue;
      path = g_build_filename (folder, entry, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (files, g_steal_pointer (&path));
    }
  g_ptr_array_sort (files, compare_strings);
  return files;
}

StScriptSet *
st_script_set_load (const char *const *folders, const StLuaLimits *limits)
{
  static const char *const none[] = { NULL };
  g_autoptr (StLua) lua = st_lua_new (limits);
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  StScriptSet *set = g_new0 (StScriptSet, 1);

  set->ref_count = 1;
  set->folders = g_strdupv ((char **) (folders != NULL ? folders : none));
  set->scripts
      = g_ptr_array_new_with_free_func ((GDestroyNotify) st_script_free);
  for (guint i = 0; set->folders[i] != NULL; i++)
    {
      g_autoptr (GPtrArray) files = list_files (set->folders[i]);

      for (guint j = 0; j < files->len; j++)
        {
          const char *path = files->pdata[j];
          g_autoptr (GError) error = NULL;
          StScript *script = load_with (lua, path, &error);
          StScript *first;

          if (script == NULL)
            {
              script = g_new0 (StScript, 1);
              script->path = g_canonicalize_filename (path, NULL);
              script->name = name_from_path (path);
              script->error = g_strdup (error->message);
            }
          first = g_hash_table_lookup (names, script->name);
          if (script->error == NULL && first != NULL)
            script->error
                = g_strdup_printf ("%s: name: '%s' is already the name of %s",
                                   script->path, script->name, first->path);
          else if (script->error == NULL)
            g_hash_table_insert (names, script->name, script);
          g_ptr_array_add (set->scripts, script);
        }
    }
  g_ptr_array_sort (set->scripts, compare_scripts);
  return set;
}

StScriptSet *
st_script_set_ref (StScriptSet *set)
{
  g_return_val_if_fail (set != NULL, NULL);
  g_atomic_int_inc (&set->ref_count);
  return set;
}

void
st_script_set_unref (StScriptSet *set)
{
  if (set == NULL || !g_atomic_int_dec_and_test (&set->ref_count))
    return;
  g_ptr_array_unref (set->scripts);
  g_strfreev (set->folders);
  g_free (set);
}

GPtrArray *
st_script_set_list (StScriptSet *set)
{
  GPtrArray *list = g_ptr_array_sized_new (set->scripts->len);

  for (guint i = 0; i < set->scripts->len; i++)
    g_ptr_array_add (list, set->scripts->pdata[i]);
  return list;
}

const StScript *
st_script_set_find (StScriptSet *set, const char *name)
{
  const StScript *found = NULL;

  for (guint i = 0; i < set->scripts->len; i++)
    {
      const StScript *script = set->scripts->pdata[i];

      if (strcmp (script->name, name) != 0)
        continue;
      if (script->error == NULL)
        return script;
      if (found == NULL)
        found = script;
    }
  return found;
}

GPtrArray *
st_script_set_for_trigger (StScriptSet *set, const char *trigger)
{
  GPtrArray *list = g_ptr_array_new ();

  for (guint i = 0; i < set->scripts->len; i++)
    {
      StScript *script = set->scripts->pdata[i];

      if (script->error == NULL && script->on != NULL
          && g_strv_contains ((const char *const *) script->on, trigger))
        g_ptr_array_add (list, script);
    }
  return list;
}

const char *const *
st_script_set_folders (StScriptSet *set)
{
  return (const char *const *) set->folders;
}
