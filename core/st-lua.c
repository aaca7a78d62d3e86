/* Lua care scripts: one sandboxed state and the calls into it. A call
 * runs the script's main chunk in a fresh _ENV (st-lua-sandbox.c) under
 * the limits (st-lua-limits.c); records cross over as Lua values
 * (st-lua-convert.c). */

#include "st-lua-private.h"

#include <lauxlib.h>
#include <lua.h>
#include <string.h>
#include <time.h>

#include "st-error.h"

#define ST_LUA_DEFAULT_INSTRUCTIONS G_GUINT64_CONSTANT (10000000)
#define ST_LUA_DEFAULT_TIMEOUT_MS 2000
#define ST_LUA_DEFAULT_MEMORY ((gsize) 32 * 1024 * 1024)
#define ST_LUA_MIN_MEMORY ((gsize) 256 * 1024)
/* VM instructions between two hook calls while no limit is reached. */
#define ST_LUA_HOOK_STEP 1000
/* Compiled script chunks kept per state. */
#define ST_LUA_CACHE_MAX 64

StLua *
st_lua_from_state (lua_State *L)
{
  return *(StLua **) lua_getextraspace (L);
}

const StLuaHost *
st_lua_host (StLua *lua, gpointer *host_data)
{
  if (host_data != NULL)
    *host_data = lua->host_data;
  return lua->host;
}

gboolean
st_lua_loading (StLua *lua)
{
  return lua->loading;
}

const char *
st_lua_label (StLua *lua)
{
  return lua->label != NULL ? lua->label : "lua";
}

/* ---- states ------------------------------------------------------------- */

static int
on_panic (lua_State *L)
{
  g_error ("Lua panic: %s", lua_type (L, -1) == LUA_TSTRING
                                ? lua_tostring (L, -1)
                                : "(no message)");
  return 0;
}

char *
st_lua_error_text (lua_State *L, int idx)
{
  switch (lua_type (L, idx))
    {
    case LUA_TSTRING:
      return g_strdup (lua_tostring (L, idx));
    case LUA_TNUMBER:
      if (lua_isinteger (L, idx))
        return g_strdup_printf ("%" G_GINT64_FORMAT,
                                (gint64) lua_tointeger (L, idx));
      return g_strdup_printf ("%.14g", lua_tonumber (L, idx));
    default:
      /* No __tostring: it would run script code outside the limits. */
      return g_strdup_printf ("error object is a %s value",
                              luaL_typename (L, idx));
    }
}

gboolean
st_lua_state_open (StLua *lua, GError **error)
{
  lua_State *L = lua_newstate (st_lua_alloc, lua);

  if (L == NULL)
    {
      st_lua_state_discard (lua);
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                   "cannot create a Lua state within %" G_GSIZE_FORMAT
                   " bytes",
                   lua->limits.memory);
      return FALSE;
    }
  *(StLua **) lua_getextraspace (L) = lua;
  lua_atpanic (L, on_panic);
  lua_pushcfunction (L, st_lua_sandbox_open);
  if (lua_pcall (L, 0, 0, 0) != LUA_OK)
    {
      g_autofree char *message = st_lua_error_text (L, -1);

      lua_close (L);
      st_lua_state_discard (lua);
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                   "cannot set up the Lua sandbox: %s", message);
      return FALSE;
    }
  lua_settop (L, 0);
  lua_gc (L, LUA_GCCOLLECT);
  lua->gc_baseline = lua->used;
  lua->L = L;
  return TRUE;
}

/* A full collection after every call cost as much as a campaign target's
 * whole script. It runs when the calls since the last one left more than
 * a 64th of the memory limit, or one hit the limit: a call starts with at
 * most that much garbage counted against its limit. */
void
st_lua_collect_if_due (lua_State *L)
{
  StLua *lua = st_lua_from_state (L);

  if (lua->memory_hit
      || lua->used > lua->gc_baseline + lua->limits.memory / 64)
    {
      lua_gc (L, LUA_GCCOLLECT);
      lua->gc_baseline = lua->used;
    }
}

StLua *
st_lua_new (const StLuaLimits *limits)
{
  StLua *lua = g_new0 (StLua, 1);

  if (limits != NULL)
    lua->limits = *limits;
  if (lua->limits.instructions == 0)
    lua->limits.instructions = ST_LUA_DEFAULT_INSTRUCTIONS;
  if (lua->limits.timeout_ms == 0)
    lua->limits.timeout_ms = ST_LUA_DEFAULT_TIMEOUT_MS;
  if (lua->limits.memory == 0)
    lua->limits.memory = ST_LUA_DEFAULT_MEMORY;
  lua->limits.memory = MAX (lua->limits.memory, ST_LUA_MIN_MEMORY);
  lua->step = (int) MIN (lua->limits.instructions, (guint64) ST_LUA_HOOK_STEP);
  lua->blocks.next = lua->blocks.prev = &lua->blocks;
  lua->held = g_array_new (FALSE, FALSE, sizeof (StLuaHeld));
  /* A failure here is reported by the first call. */
  st_lua_state_open (lua, NULL);
  return lua;
}

void
st_lua_free (StLua *lua)
{
  if (lua == NULL)
    return;
  if (lua->L != NULL)
    lua_close (lua->L);
  st_lua_state_discard (lua);
  if (lua->has_timer)
    timer_delete (lua->timer);
  st_lua_held_release (lua, 0);
  g_array_unref (lua->held);
  g_free (lua);
}

/* ---- calls -------------------------------------------------------------- */

static int
push_variant_critical (lua_State *L)
{
  st_lua_push_variant (L, lua_touserdata (L, 1));
  return 1;
}

static void
push_record (lua_State *L, GVariant *record)
{
  if (record == NULL)
    {
      lua_pushnil (L);
      return;
    }
  lua_pushcfunction (L, push_variant_critical);
  lua_pushlightuserdata (L, record);
  st_lua_critical_pcall (L, 1, 1);
}

static int
push_row_critical (lua_State *L)
{
  st_lua_push_row (L, lua_touserdata (L, 1));
  return 1;
}

/* One of run()'s arguments: a row, else a record. */
static void
push_argument (lua_State *L, const StLuaRow *row, GVariant *record)
{
  if (row == NULL)
    {
      push_record (L, record);
      return;
    }
  lua_pushcfunction (L, push_row_critical);
  lua_pushlightuserdata (L, (gpointer) row);
  st_lua_critical_pcall (L, 1, 1);
}

/* The compiled main chunk of @script (pushed), from the cache when its
 * name and text are those it was compiled from. */
static void
push_script_chunk (lua_State *L, const StScript *script)
{
  StLua *lua = st_lua_from_state (L);
  size_t len = strlen (script->source);
  lua_Integer hash = (lua_Integer) g_str_hash (script->source);
  int cache;

  lua_rawgetp (L, LUA_REGISTRYINDEX, &st_lua_key_cache);
  cache = lua_gettop (L);
  if (lua_rawgetp (L, cache, script) == LUA_TTABLE)
    {
      gboolean same;

      lua_rawgeti (L, -1, 2);
      lua_rawgeti (L, -2, 3);
      lua_rawgeti (L, -3, 4);
      same = g_strcmp0 (lua_tostring (L, -3), script->name) == 0
             && lua_tointeger (L, -2) == hash
             && lua_tointeger (L, -1) == (lua_Integer) len;
      lua_pop (L, 3);
      if (same)
        {
          lua_rawgeti (L, -1, 1);
          lua_replace (L, cache);
          lua_settop (L, cache);
          return;
        }
    }
  lua_settop (L, cache);
  if (lua->cache_entries >= ST_LUA_CACHE_MAX)
    {
      lua_pop (L, 1);
      lua_newtable (L);
      lua_pushvalue (L, -1);
      lua_rawsetp (L, LUA_REGISTRYINDEX, &st_lua_key_cache);
      lua->cache_entries = 0;
    }
  lua_pushfstring (L, "@%s", script->path);
  if (luaL_loadbufferx (L, script->source, len, lua_tostring (L, -1), "t")
      != LUA_OK)
    lua_error (L);
  lua_remove (L, -2);
  lua_createtable (L, 4, 0);
  lua_pushvalue (L, -2);
  lua_rawseti (L, -2, 1);
  lua_pushstring (L, script->name);
  lua_rawseti (L, -2, 2);
  lua_pushinteger (L, hash);
  lua_rawseti (L, -2, 3);
  lua_pushinteger (L, (lua_Integer) len);
  lua_rawseti (L, -2, 4);
  lua_rawsetp (L, cache, script);
  lua->cache_entries++;
  lua_replace (L, cache);
}

static int
run_main (lua_State *L)
{
  StLua *lua = st_lua_from_state (L);
  const StScript *script = lua->script;

  lua_settop (L, 0);
  st_lua_call_begin (L);                /* 1: _ENV */
  push_script_chunk (L, script); /* 2 */
  lua_pushvalue (L, 2);
  lua_rawsetp (L, LUA_REGISTRYINDEX, &st_lua_key_chunk);
  lua_pushvalue (L, 1);
  lua_setupvalue (L, 2, 1);
  lua_call (L, 0, 1);
  if (lua_type (L, 2) != LUA_TTABLE)
    return luaL_error (L, "%s: the script must return a table, got %s",
                       script->path, luaL_typename (L, 2));
  lua_pushliteral (L, "run");
  if (lua_rawget (L, 2) != LUA_TFUNCTION)
    return luaL_error (L, "%s: run: must be a function", script->path);
  push_argument (L, lua->customer_row, lua->customer);
  push_argument (L, lua->event_row, lua->event);
  lua_call (L, 2, 0);
  return 0;
}

static int
eval_check (lua_State *L)
{
  StLua *lua = st_lua_from_state (L);

  if (lua->check != NULL)
    lua->check (L, 1, lua->check_data, &lua->check_error);
  return 0;
}

static int
eval_main (lua_State *L)
{
  StLua *lua = st_lua_from_state (L);

  lua_settop (L, 0);
  st_lua_call_begin (L);                        /* 1: _ENV */
  lua_pushfstring (L, "@%s", lua->path); /* 2 */
  if (luaL_loadbufferx (L, lua->source, strlen (lua->source),
                        lua_tostring (L, 2), "t")
      != LUA_OK)
    return lua_error (L);
  lua_pushvalue (L, 1);
  lua_setupvalue (L, -2, 1);
  lua_call (L, 0, 1); /* 3: what the file returned */
  lua_pushcfunction (L, eval_check);
  lua_pushvalue (L, 3);
  st_lua_critical_pcall (L, 1, 0);
  return 0;
}

/* Lua shortens long chunk names ("...ipts/thank-you.lua:3: ..."); put the
 * whole path back at the start of @message. */
static char *
restore_path (const char *path, char *message)
{
  const char *colon;
  g_autofree char *tail = NULL;

  if (!g_str_has_prefix (message, "..."))
    return message;
  colon = strchr (message + 3, ':');
  if (colon == NULL)
    return message;
  tail = g_strndup (message + 3, (gsize) (colon - message - 3));
  if (!g_str_has_suffix (path, tail))
    return message;
  {
    char *whole = g_strconcat (path, colon, NULL);

    g_free (message);
    return whole;
  }
}

static gboolean run_script (StLua *lua, const StScript *script,
                            const char *const *module_folders,
                            GVariant *customer, const StLuaRow *row,
                            GVariant *event, const StLuaRow *event_row,
                            const StLuaHost *host, gpointer host_data,
                            GError **error);

gboolean
st_lua_run (StLua *lua, const StScript *script,
            const char *const *module_folders, GVariant *customer,
            GVariant *event, const StLuaHost *host, gpointer host_data,
            GError **error)
{
  return run_script (lua, script, module_folders, customer, NULL, event,
                     NULL, host, host_data, error);
}

gboolean
st_lua_run_row (StLua *lua, const StScript *script,
                const char *const *module_folders, const StLuaRow *customer,
                const StLuaRow *event_row, GVariant *event,
                const StLuaHost *host, gpointer host_data, GError **error)
{
  return run_script (lua, script, module_folders, NULL, customer, event,
                     event_row, host, host_data, error);
}

static gboolean
run_script (StLua *lua, const StScript *script,
            const char *const *module_folders, GVariant *customer,
            const StLuaRow *row, GVariant *event, const StLuaRow *event_row,
            const StLuaHost *host, gpointer host_data, GError **error)
{
  g_autofree char *message = NULL;
  gboolean limit;
  gboolean ok;

  g_return_val_if_fail (lua != NULL, FALSE);
  g_return_val_if_fail (script != NULL, FALSE);
  if (script->error != NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                   "%s: the script is broken: %s", script->name,
                   script->error);
      return FALSE;
    }
  if (script->name == NULL || script->source == NULL || script->path == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "the script has no name, path or text");
      return FALSE;
    }
  lua->script = script;
  lua->customer = customer;
  lua->customer_row = row;
  lua->event = event;
  lua->event_row = event_row;
  lua->host = host;
  lua->host_data = host_data;
  lua->folders = module_folders;
  lua->label = script->name;
  lua->loading = FALSE;
  ok = st_lua_call_protected (lua, run_main, &message, &limit, error);
  lua->script = NULL;
  lua->customer = lua->event = NULL;
  lua->customer_row = lua->event_row = NULL;
  lua->host = NULL;
  lua->host_data = NULL;
  lua->folders = NULL;
  lua->label = NULL;
  if (!ok && message != NULL)
    {
      message = restore_path (script->path, g_steal_pointer (&message));
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED, "%s: %s", script->name,
                   message);
    }
  return ok;
}

gboolean
st_lua_eval (StLua *lua, const char *path, const char *source,
             const char *const *module_folders, StLuaCheckFunc check,
             gpointer data, GError **error)
{
  g_autofree char *message = NULL;
  gboolean limit;
  gboolean ok;

  lua->path = path;
  lua->source = source;
  lua->check = check;
  lua->check_data = data;
  lua->folders = module_folders;
  lua->label = path;
  lua->loading = TRUE;
  ok = st_lua_call_protected (lua, eval_main, &message, &limit, error);
  lua->path = lua->source = NULL;
  lua->check = NULL;
  lua->check_data = NULL;
  lua->folders = NULL;
  lua->label = NULL;
  lua->loading = FALSE;
  if (!ok && message != NULL)
    {
      message = restore_path (path, g_steal_pointer (&message));
      if (limit || !g_str_has_prefix (message, path))
        g_set_error (error, ST_ERROR, ST_ERROR_FAILED, "%s: %s", path,
                     message);
      else
        g_set_error_literal (error, ST_ERROR, ST_ERROR_FAILED, message);
      return FALSE;
    }
  if (ok && lua->check_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&lua->check_error));
      return FALSE;
    }
  return ok;
}
