/* The sandbox a script runs in. It follows Redis' scripting without
 * patching Lua:
 * - Each call gets a fresh global table (_ENV), filled from a whitelist and
 *   dropped afterwards, and runs the script's compiled main chunk again, so
 *   neither globals nor top-level locals survive a call.
 * - The library tables in it are empty proxies: their metatables, locked
 *   with __metatable and known only to C, read from the real tables and
 *   refuse writes in C (__newindex). Our rawset refuses them; __pairs
 *   iterates through a C closure, so the real table is never handed out.
 * - setmetatable refuses __gc: a finalizer would run during a later call,
 *   for another customer. The string metatable is locked. No coroutine,
 *   io, debug, package, print, collectgarbage, dofile or loadfile; os has
 *   time, date and clock; math has no randomseed (reseeded per call).
 * - load compiles text only, with the call's _ENV; require reads only
 *   <folder>/<a/b>.lua from the given folders, afresh in each call.
 *
 * Where a call begins and ends (st_lua_call_begin, st_lua_call_cleanup)
 * lives here too: it is the sandbox's fresh _ENV and require cache. */

#include "st-lua-private.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <string.h>

#define ST_LUA_DATE_FORMAT_MAX 256

/* Registry keys (their addresses). */
static const char key_globals = 0;   /* whitelist copied into each _ENV */
static const char key_env = 0;       /* the call's _ENV, or false */
static const char key_env_mt = 0;    /* the locked metatable of each _ENV */
static const char key_protected = 0; /* set of the proxies' metatables */
const char st_lua_key_cache = 0;     /* script pointer → compiled chunk */
const char st_lua_key_chunk = 0;     /* the chunk of the call, or false */
static const char key_loaded = 0;    /* the call's require cache, or false */
static const char key_loading = 0;   /* marks a module being loaded */
static const char key_randomseed = 0;

/* ---- the sandbox -------------------------------------------------------- */

static int
proxy_newindex (lua_State *L)
{
  return luaL_error (L, "%s is read-only: cannot set '%s'",
                     lua_tostring (L, lua_upvalueindex (1)),
                     luaL_tolstring (L, 2, NULL));
}

static int
proxy_next (lua_State *L)
{
  lua_settop (L, 2);
  lua_pushvalue (L, lua_upvalueindex (1));
  lua_pushvalue (L, 2);
  if (lua_next (L, -2) == 0)
    return 0;
  return 2;
}

static int
proxy_pairs (lua_State *L)
{
  lua_pushvalue (L, lua_upvalueindex (1));
  lua_pushcclosure (L, proxy_next, 1);
  lua_pushvalue (L, 1);
  lua_pushnil (L);
  return 3;
}

/* An empty table reading from the table at @real, refusing writes. */
static void
push_proxy (lua_State *L, int real, const char *name)
{
  real = lua_absindex (L, real);
  lua_newtable (L);
  lua_createtable (L, 0, 4);
  lua_pushvalue (L, real);
  lua_setfield (L, -2, "__index");
  lua_pushstring (L, name);
  lua_pushcclosure (L, proxy_newindex, 1);
  lua_setfield (L, -2, "__newindex");
  lua_pushvalue (L, real);
  lua_pushcclosure (L, proxy_pairs, 1);
  lua_setfield (L, -2, "__pairs");
  lua_pushboolean (L, 0);
  lua_setfield (L, -2, "__metatable");
  lua_rawgetp (L, LUA_REGISTRYINDEX, &key_protected);
  lua_pushvalue (L, -2);
  lua_pushboolean (L, 1);
  lua_rawset (L, -3);
  lua_pop (L, 1);
  lua_setmetatable (L, -2);
}

static gboolean
is_protected (lua_State *L, int idx)
{
  gboolean result;

  if (!lua_getmetatable (L, idx))
    return FALSE;
  lua_rawgetp (L, LUA_REGISTRYINDEX, &key_protected);
  lua_pushvalue (L, -2);
  result = lua_rawget (L, -2) != LUA_TNIL;
  lua_pop (L, 3);
  return result;
}

static int
l_rawset (lua_State *L)
{
  luaL_checktype (L, 1, LUA_TTABLE);
  luaL_checkany (L, 2);
  luaL_checkany (L, 3);
  if (is_protected (L, 1))
    return luaL_error (L, "rawset: this table is read-only");
  lua_settop (L, 3);
  lua_rawset (L, 1);
  return 1;
}

static int
l_setmetatable (lua_State *L)
{
  int type = lua_type (L, 2);

  luaL_checktype (L, 1, LUA_TTABLE);
  luaL_argexpected (L, type == LUA_TNIL || type == LUA_TTABLE, 2,
                    "nil or table");
  if (luaL_getmetafield (L, 1, "__metatable") != LUA_TNIL)
    return luaL_error (L, "cannot change a protected metatable");
  if (type == LUA_TTABLE)
    {
      lua_pushliteral (L, "__gc");
      if (lua_rawget (L, 2) != LUA_TNIL)
        return luaL_error (L, "setmetatable: __gc metamethods are not "
                              "allowed (nothing may run after the call)");
      lua_pop (L, 1);
    }
  lua_settop (L, 2);
  lua_setmetatable (L, 1);
  return 1;
}

/* The message handler of xpcall runs where the error was raised; for an
 * error raised by the hook, that is inside the hook, where Lua runs no
 * hook: a looping handler could not be stopped. So once a limit is
 * reached, the script's handler is not called at all. */
static int
xpcall_handler (lua_State *L)
{
  if (st_lua_from_state (L)->limit != ST_LUA_LIMIT_NONE)
    return 1;
  lua_pushvalue (L, lua_upvalueindex (1));
  lua_insert (L, 1);
  lua_call (L, lua_gettop (L) - 1, 1);
  return 1;
}

/* xpcall (f, handler, ...): no continuation needed, there are no
 * coroutines to yield across it. */
static int
l_xpcall (lua_State *L)
{
  int nargs = lua_gettop (L) - 2;

  luaL_checktype (L, 2, LUA_TFUNCTION);
  lua_pushvalue (L, 2);
  lua_pushcclosure (L, xpcall_handler, 1);
  lua_replace (L, 2); /* f, handler, args */
  lua_pushvalue (L, 1);
  lua_pushvalue (L, 2);
  lua_replace (L, 1);
  lua_replace (L, 2); /* handler, f, args */
  lua_pushboolean (L, lua_pcall (L, nargs, LUA_MULTRET, 1) == LUA_OK);
  lua_replace (L, 1);
  return lua_gettop (L);
}

static int
l_load (lua_State *L)
{
  int nargs = lua_gettop (L);
  size_t len;
  const char *chunk;
  const char *name;
  const char *mode;

  if (lua_type (L, 1) != LUA_TSTRING)
    return luaL_error (L,
                       "load: only a string of Lua text can be loaded, "
                       "got %s",
                       luaL_typename (L, 1));
  chunk = lua_tolstring (L, 1, &len);
  name = luaL_optstring (L, 2, "=(load)");
  mode = luaL_optstring (L, 3, "t");
  if (strcmp (mode, "t") != 0)
    return luaL_error (L,
                       "load: only text chunks may be loaded (mode 't'), "
                       "not mode '%s'",
                       mode);
  if (luaL_loadbufferx (L, chunk, len, name, "t") != LUA_OK)
    {
      luaL_pushfail (L);
      lua_insert (L, -2);
      return 2;
    }
  if (nargs >= 4)
    lua_pushvalue (L, 4);
  else
    lua_rawgetp (L, LUA_REGISTRYINDEX, &key_env);
  if (lua_setupvalue (L, -2, 1) == NULL)
    lua_pop (L, 1);
  return 1;
}

static gboolean
module_name_valid (const char *name)
{
  gboolean part_empty = TRUE;

  if (strlen (name) > 128)
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    {
      if (*p == '.')
        {
          if (part_empty)
            return FALSE;
          part_empty = TRUE;
        }
      else if (g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '_')
        part_empty = FALSE;
      else
        return FALSE;
    }
  return !part_empty;
}

static void
string_free (gpointer string)
{
  g_string_free (string, TRUE);
}

/* (name) → path, text of the first <folder>/<a/b>.lua; or nil, the list
 * of the places looked at. */
static int
require_find (lua_State *L)
{
  StLua *lua = st_lua_from_state (L);
  char *relative = g_strconcat (lua_tostring (L, 1), ".lua", NULL);
  GString *tried = g_string_new (NULL);

  st_lua_hold (L, tried, string_free);
  g_strdelimit (relative, ".", '/');
  relative[strlen (relative) - 4] = '.'; /* the extension */
  st_lua_hold (L, relative, g_free);
  for (guint i = 0; lua->folders != NULL && lua->folders[i] != NULL; i++)
    {
      char *path = g_build_filename (lua->folders[i], relative, NULL);
      char *text = NULL;
      gsize len;

      st_lua_hold (L, path, g_free);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR)
          && g_file_get_contents (path, &text, &len, NULL))
        {
          st_lua_hold (L, text, g_free);
          lua_pushstring (L, path);
          lua_pushlstring (L, text, len);
          return 2;
        }
      g_string_append_printf (tried, "%s%s", tried->len > 0 ? ", " : "", path);
    }
  lua_pushnil (L);
  lua_pushstring (L, tried->len > 0 ? tried->str : "no module folder");
  return 2;
}

static int
l_require (lua_State *L)
{
  const char *name = luaL_checkstring (L, 1);
  size_t len;
  const char *text;

  if (!module_name_valid (name))
    return luaL_error (L,
                       "require: module name '%s' is not allowed (lower-"
                       "case letters, digits and '_', in parts joined by "
                       "'.')",
                       name);
  lua_settop (L, 1);
  if (lua_rawgetp (L, LUA_REGISTRYINDEX, &key_loaded) != LUA_TTABLE) /* 2 */
    return luaL_error (L, "require: not available here");
  lua_pushvalue (L, 1);
  lua_rawget (L, 2); /* 3 */
  if (lua_touserdata (L, 3) == &key_loading)
    return luaL_error (L,
                       "require: module '%s' requires itself while "
                       "loading",
                       name);
  if (!lua_isnil (L, 3))
    return 1;
  lua_pop (L, 1);
  lua_pushcfunction (L, require_find);
  lua_pushvalue (L, 1);
  st_lua_critical_pcall (L, 1, 2); /* 3: path, 4: text */
  if (lua_isnil (L, 3))
    return luaL_error (L, "require: module '%s' not found (looked for %s)",
                       name, lua_tostring (L, 4));
  text = lua_tolstring (L, 4, &len);
  lua_pushfstring (L, "@%s", lua_tostring (L, 3)); /* 5 */
  if (luaL_loadbufferx (L, text, len, lua_tostring (L, 5), "t") != LUA_OK)
    return lua_error (L);
  lua_rawgetp (L, LUA_REGISTRYINDEX, &key_env);
  if (lua_setupvalue (L, -2, 1) == NULL)
    lua_pop (L, 1);
  lua_pushvalue (L, 1);
  lua_pushlightuserdata (L, (void *) &key_loading);
  lua_rawset (L, 2);
  if (lua_pcall (L, 0, 1, 0) != LUA_OK)
    {
      lua_pushvalue (L, 1);
      lua_pushnil (L);
      lua_rawset (L, 2);
      return lua_error (L);
    }
  if (lua_isnil (L, -1))
    {
      lua_pop (L, 1);
      lua_pushboolean (L, 1);
    }
  lua_pushvalue (L, 1);
  lua_pushvalue (L, -2);
  lua_rawset (L, 2);
  return 1;
}

static int
l_string_rep (lua_State *L)
{
  StLua *lua = st_lua_from_state (L);
  size_t len;
  size_t sep_len;
  lua_Integer n;

  luaL_checklstring (L, 1, &len);
  n = luaL_checkinteger (L, 2);
  luaL_optlstring (L, 3, "", &sep_len);
  if (n <= 0 || (len == 0 && sep_len == 0))
    {
      lua_pushliteral (L, "");
      return 1;
    }
  if (len + sep_len > lua->limits.memory / (guint64) n)
    {
      st_lua_trip_soon (lua);
      return luaL_error (L, "string.rep: the result would not fit in the "
                            "memory limit");
    }
  lua_pushvalue (L, lua_upvalueindex (1));
  lua_insert (L, 1);
  lua_call (L, lua_gettop (L) - 1, 1);
  return 1;
}

/* Call upvalue 1 (a library function) with the arguments, critically. */
static int
call_upvalue_critical (lua_State *L)
{
  int nargs = lua_gettop (L);

  luaL_checkstack (L, 1, NULL);
  lua_pushvalue (L, lua_upvalueindex (1));
  lua_insert (L, 1);
  st_lua_critical_pcall (L, nargs, LUA_MULTRET);
  return lua_gettop (L);
}

static int
l_os_date (lua_State *L)
{
  size_t len = 0;

  if (lua_type (L, 1) == LUA_TSTRING)
    lua_tolstring (L, 1, &len);
  if (len > ST_LUA_DATE_FORMAT_MAX)
    return luaL_error (L,
                       "os.date: the format is too long (at most %d "
                       "characters)",
                       ST_LUA_DATE_FORMAT_MAX);
  return call_upvalue_critical (L);
}

typedef struct
{
  const char *name;
  lua_CFunction wrapper; /* called with the original as upvalue 1 */
} StLuaWrap;

/* Copy the @names of the table at @from, and the @wraps around the
 * original functions, into a new table (pushed). */
static void
push_whitelist (lua_State *L, int from, const char *const *names,
                const StLuaWrap *wraps)
{
  from = lua_absindex (L, from);
  lua_newtable (L);
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      lua_getfield (L, from, names[i]);
      lua_setfield (L, -2, names[i]);
    }
  for (guint i = 0; wraps != NULL && wraps[i].name != NULL; i++)
    {
      lua_getfield (L, from, wraps[i].name);
      lua_pushcclosure (L, wraps[i].wrapper, 1);
      lua_setfield (L, -2, wraps[i].name);
    }
}

/* Open a standard library and put the proxy of its whitelisted part into
 * the table at @globals. Leaves the real table and the original pushed. */
static void
open_library (lua_State *L, int globals, const char *name,
              lua_CFunction opener, const char *const *names,
              const StLuaWrap *wraps)
{
  luaL_requiref (L, name, opener, 0);
  push_whitelist (L, -1, names, wraps);
  push_proxy (L, -1, name);
  lua_setfield (L, globals, name);
}

static const char *const base_names[]
    = { "assert",   "error",    "getmetatable", "ipairs", "next",   "pairs",
        "pcall",    "rawequal", "rawget",       "rawlen", "select", "tonumber",
        "tostring", "type",     "_VERSION",     NULL };
static const char *const string_names[]
    = { "byte", "char",   "find",  "format", "gmatch",   "gsub",
        "len",  "lower",  "match", "pack",   "packsize", "reverse",
        "sub",  "unpack", "upper", NULL };
static const StLuaWrap string_wraps[] = { { "rep", l_string_rep }, { NULL } };
static const char *const table_names[]
    = { "concat", "insert", "move", "pack", "remove", "sort", "unpack", NULL };
static const char *const math_names[]
    = { "abs",  "acos",       "asin",  "atan",       "ceil", "cos",
        "deg",  "exp",        "floor", "fmod",       "huge", "log",
        "max",  "maxinteger", "min",   "mininteger", "modf", "pi",
        "rad",  "random",     "sin",   "sqrt",       "tan",  "tointeger",
        "type", "ult",        NULL };
static const char *const utf8_names[]
    = { "char", "charpattern", "codes", "codepoint", "len", "offset", NULL };
static const char *const os_names[] = { "clock", NULL };
static const StLuaWrap os_wraps[]
    = { { "date", l_os_date }, { "time", call_upvalue_critical }, { NULL } };

int
st_lua_sandbox_open (lua_State *L)
{
  static const char *const empty_keys[]
      = { &key_env, &key_loaded, &st_lua_key_chunk };
  int globals;

  for (guint i = 0; i < G_N_ELEMENTS (empty_keys); i++)
    {
      /* false, not nil: replacing a value never allocates, so the
       * cleanup after a call cannot fail (see st_lua_call_cleanup). */
      lua_pushboolean (L, 0);
      lua_rawsetp (L, LUA_REGISTRYINDEX, empty_keys[i]);
    }
  lua_newtable (L);
  lua_rawsetp (L, LUA_REGISTRYINDEX, &st_lua_key_cache);
  lua_newtable (L);
  lua_rawsetp (L, LUA_REGISTRYINDEX, &key_protected);
  lua_createtable (L, 0, 1);
  lua_pushboolean (L, 0);
  lua_setfield (L, -2, "__metatable");
  lua_rawsetp (L, LUA_REGISTRYINDEX, &key_env_mt);

  lua_createtable (L, 0, 32);
  globals = lua_gettop (L);

  luaL_requiref (L, "_G", luaopen_base, 0);
  push_whitelist (L, -1, base_names, NULL);
  {
    static const luaL_Reg ours[] = { { "setmetatable", l_setmetatable },
                                     { "rawset", l_rawset },
                                     { "load", l_load },
                                     { "require", l_require },
                                     { "xpcall", l_xpcall },
                                     { NULL, NULL } };
    int base = lua_gettop (L);

    luaL_setfuncs (L, ours, 0);
    lua_pushnil (L);
    while (lua_next (L, base) != 0)
      {
        lua_pushvalue (L, -2);
        lua_insert (L, -2);
        lua_rawset (L, globals);
      }
    lua_pop (L, 2);
  }

  /* What a chunk sees before its _ENV is set: nothing, read-only. */
  lua_newtable (L);
  push_proxy (L, -1, "_G");
  lua_rawseti (L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  lua_pop (L, 1);

  open_library (L, globals, "string", luaopen_string, string_names,
                string_wraps);
  /* Strings index the whitelisted table; their metatable is locked. */
  lua_pushliteral (L, "");
  lua_getmetatable (L, -1);
  lua_pushvalue (L, -3);
  lua_setfield (L, -2, "__index");
  lua_pushboolean (L, 0);
  lua_setfield (L, -2, "__metatable");
  lua_pop (L, 4);

  open_library (L, globals, "table", luaopen_table, table_names, NULL);
  lua_pop (L, 2);
  open_library (L, globals, "math", luaopen_math, math_names, NULL);
  lua_getfield (L, -2, "randomseed");
  lua_rawsetp (L, LUA_REGISTRYINDEX, &key_randomseed);
  lua_pop (L, 2);
  open_library (L, globals, "utf8", luaopen_utf8, utf8_names, NULL);
  lua_pop (L, 2);
  open_library (L, globals, "os", luaopen_os, os_names, os_wraps);
  lua_pop (L, 2);

  st_lua_steward_open (L);
  push_proxy (L, -1, "steward");
  lua_setfield (L, globals, "steward");
  lua_pop (L, 1);

  /* Drop the original library tables (dump, execute, getenv…). */
  lua_pushnil (L);
  lua_setfield (L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);

  lua_pushvalue (L, globals);
  lua_rawsetp (L, LUA_REGISTRYINDEX, &key_globals);
  return 0;
}

/* ---- the call's _ENV ---------------------------------------------------- */

/* A fresh _ENV from the whitelist (pushed, and kept for load and
 * require), a fresh require cache and a fresh random seed. */
void
st_lua_call_begin (lua_State *L)
{
  int env;

  lua_rawgetp (L, LUA_REGISTRYINDEX, &key_globals);
  lua_createtable (L, 0, 32);
  env = lua_gettop (L);
  lua_pushnil (L);
  while (lua_next (L, env - 1) != 0)
    {
      lua_pushvalue (L, -2);
      lua_insert (L, -2);
      lua_rawset (L, env);
    }
  lua_pushvalue (L, env);
  lua_setfield (L, env, "_G");
  lua_rawgetp (L, LUA_REGISTRYINDEX, &key_env_mt);
  lua_setmetatable (L, env);
  lua_remove (L, env - 1);
  lua_pushvalue (L, -1);
  lua_rawsetp (L, LUA_REGISTRYINDEX, &key_env);

  lua_newtable (L);
  lua_rawsetp (L, LUA_REGISTRYINDEX, &key_loaded);
  lua_rawgetp (L, LUA_REGISTRYINDEX, &key_randomseed);
  lua_call (L, 0, 0);
}

/* Unprotected: only replaces existing registry values, which never
 * allocates, so it cannot raise. */
void
st_lua_call_cleanup (lua_State *L)
{
  lua_settop (L, 0);
  if (lua_rawgetp (L, LUA_REGISTRYINDEX, &st_lua_key_chunk) == LUA_TFUNCTION)
    {
      lua_pushboolean (L, 0);
      lua_setupvalue (L, -2, 1);
    }
  lua_pop (L, 1);
  lua_pushboolean (L, 0);
  lua_rawsetp (L, LUA_REGISTRYINDEX, &st_lua_key_chunk);
  lua_pushboolean (L, 0);
  lua_rawsetp (L, LUA_REGISTRYINDEX, &key_env);
  lua_pushboolean (L, 0);
  lua_rawsetp (L, LUA_REGISTRYINDEX, &key_loaded);
  lua_sethook (L, NULL, 0, 0);
  st_lua_collect_if_due (L);
}
