/* Lua care scripts: one sandboxed state, its limits, and the conversions
 * between GVariant records and Lua values.
 *
 * The sandbox follows Redis' scripting without patching Lua:
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
 * The three limits and how a script is stopped are explained at the
 * allocator (memory), the hook (instructions, time) and the timer (time
 * spent inside one C function). */

#include "st-lua.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "st-error.h"

#define ST_LUA_DEFAULT_INSTRUCTIONS G_GUINT64_CONSTANT (10000000)
#define ST_LUA_DEFAULT_TIMEOUT_MS 2000
#define ST_LUA_DEFAULT_MEMORY ((gsize) 32 * 1024 * 1024)
#define ST_LUA_MIN_MEMORY ((gsize) 256 * 1024)
/* VM instructions between two hook calls while no limit is reached. */
#define ST_LUA_HOOK_STEP 1000
/* Nesting of records and tables in conversions. */
#define ST_LUA_MAX_DEPTH 32
/* Compiled script chunks kept per state. */
#define ST_LUA_CACHE_MAX 64
#define ST_LUA_DATE_FORMAT_MAX 256

/* The real-time signal of the per-call timer (see timer_arm). */
#define ST_LUA_SIGNAL (SIGRTMAX - 3)

#ifndef sigev_notify_thread_id /* glibc < 2.37 */
#define sigev_notify_thread_id _sigev_un._tid
#endif

typedef enum
{
  ST_LUA_LIMIT_NONE,
  ST_LUA_LIMIT_INSTRUCTIONS,
  ST_LUA_LIMIT_TIME,
  ST_LUA_LIMIT_MEMORY,
} StLuaLimit;

/* Every block Lua allocates is preceded by this header, so a state can be
 * freed without lua_close (see state_discard). Two pointers keep the
 * block as aligned as malloc's. */
typedef struct StLuaBlock StLuaBlock;
struct StLuaBlock
{
  StLuaBlock *prev;
  StLuaBlock *next;
};

typedef struct
{
  gpointer data;
  GDestroyNotify notify;
} StLuaHeld;

struct _StLua
{
  StLuaLimits limits;
  lua_State *L;
  StLuaBlock blocks; /* sentinel of the circular list of blocks */
  gsize used;        /* bytes Lua asked for */
  guint cache_entries;

  /* The call in progress. */
  const char *label;
  gboolean loading;
  const StLuaHost *host;
  gpointer host_data;
  const char *const *folders;
  GArray *held; /* StLuaHeld, released at the end of critical sections */
  guint64 count;
  gint64 deadline;
  int step;
  volatile sig_atomic_t limit; /* StLuaLimit */
  volatile sig_atomic_t memory_hit;
  volatile sig_atomic_t fires;
  volatile sig_atomic_t critical;
  volatile sig_atomic_t jump_armed;
  volatile sig_atomic_t jump_pending;
  gboolean in_call;
  sigjmp_buf recover;

  /* What the protected main functions work on. */
  const StScript *script;
  const char *path;
  const char *source;
  GVariant *customer;
  GVariant *event;
  StLuaCheckFunc check;
  gpointer check_data;
  GError *check_error;

  gboolean has_timer;
  timer_t timer;
  pid_t timer_tid;
};

/* The StLua whose call runs on this thread, for the signal handler. */
static _Thread_local StLua *volatile st_lua_current;

/* Registry keys (their addresses). */
static const char key_globals = 0;   /* whitelist copied into each _ENV */
static const char key_env = 0;       /* the call's _ENV, or false */
static const char key_env_mt = 0;    /* the locked metatable of each _ENV */
static const char key_protected = 0; /* set of the proxies' metatables */
static const char key_cache = 0;     /* script pointer → compiled chunk */
static const char key_chunk = 0;     /* the chunk of the call, or false */
static const char key_loaded = 0;    /* the call's require cache, or false */
static const char key_loading = 0;   /* marks a module being loaded */
static const char key_randomseed = 0;

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

/* ---- critical sections ------------------------------------------------
 *
 * The timer may leave a call by siglongjmp (see timer_arm). That is only
 * safe from Lua's own code, which touches nothing but Lua memory. Code
 * that calls malloc, GLib, libc functions taking locks (time zones) or the
 * host runs as a critical section: a jump that falls due inside one waits
 * for its end. */

static inline void
crit_enter (StLua *lua)
{
  lua->critical++;
}

static inline void
crit_exit (StLua *lua)
{
  if (--lua->critical == 0 && lua->jump_pending && lua->jump_armed)
    {
      lua->jump_armed = 0;
      siglongjmp (lua->recover, 1);
    }
}

static void
held_release (StLua *lua, guint mark)
{
  while (lua->held->len > mark)
    {
      StLuaHeld *held
          = &g_array_index (lua->held, StLuaHeld, lua->held->len - 1);
      StLuaHeld copy = *held;

      g_array_set_size (lua->held, lua->held->len - 1);
      copy.notify (copy.data);
    }
}

void
st_lua_hold (lua_State *L, gpointer data, GDestroyNotify notify)
{
  StLua *lua = st_lua_from_state (L);
  StLuaHeld held = { data, notify };

  g_assert (lua->critical > 0);
  g_array_append_val (lua->held, held);
}

/* Call the function below the @nargs arguments on the top of the stack in
 * a critical section. Errors are caught inside it and raised again after
 * it, so the section always ends, and what was held is released. */
static void
critical_pcall (lua_State *L, int nargs, int nresults)
{
  StLua *lua = st_lua_from_state (L);
  guint mark;
  int status;

  crit_enter (lua);
  mark = lua->held->len;
  status = lua_pcall (L, nargs, nresults, 0);
  held_release (lua, mark);
  crit_exit (lua);
  if (status != LUA_OK)
    lua_error (L);
}

int
st_lua_critical (lua_State *L, int (*fn) (lua_State *L))
{
  int nargs = lua_gettop (L);

  luaL_checkstack (L, 1, NULL);
  lua_pushcfunction (L, fn);
  lua_insert (L, 1);
  critical_pcall (L, nargs, LUA_MULTRET);
  return lua_gettop (L);
}

/* Call upvalue 1 (a library function) with the arguments, critically. */
static int
call_upvalue_critical (lua_State *L)
{
  int nargs = lua_gettop (L);

  luaL_checkstack (L, 1, NULL);
  lua_pushvalue (L, lua_upvalueindex (1));
  lua_insert (L, 1);
  critical_pcall (L, nargs, LUA_MULTRET);
  return lua_gettop (L);
}

/* ---- memory ------------------------------------------------------------
 *
 * The allocator counts what Lua asks for and refuses to grow past
 * limits.memory. A refusal is also recorded, so the hook stops the script
 * even if it catches the "not enough memory" error with pcall. */

static void on_hook (lua_State *L, lua_Debug *ar);

/* Have the hook run at the next instruction (it then sees memory_hit):
 * a script catching "not enough memory" with pcall must not go on. Safe
 * at any point: lua_sethook only sets fields (Lua's own interpreter calls
 * it from a signal handler). */
static void
trip_soon (StLua *lua)
{
  lua->memory_hit = 1;
  if (lua->in_call && lua->L != NULL)
    lua_sethook (lua->L, on_hook, LUA_MASKCOUNT, 1);
}

static void *
st_lua_alloc (void *ud, void *ptr, size_t osize, size_t nsize)
{
  StLua *lua = ud;
  StLuaBlock *block = ptr != NULL ? (StLuaBlock *) ptr - 1 : NULL;
  size_t old = ptr != NULL ? osize : 0; /* osize is a type tag for NULL */
  StLuaBlock *grown;

  if (nsize == 0)
    {
      if (block != NULL)
        {
          crit_enter (lua);
          block->prev->next = block->next;
          block->next->prev = block->prev;
          free (block);
          lua->used -= old;
          crit_exit (lua);
        }
      return NULL;
    }
  if (nsize > old && nsize - old > lua->limits.memory - lua->used)
    {
      trip_soon (lua);
      return NULL;
    }
  crit_enter (lua);
  grown = realloc (block, sizeof (StLuaBlock) + nsize);
  if (grown == NULL)
    {
      trip_soon (lua);
      crit_exit (lua);
      return NULL;
    }
  if (block == NULL)
    {
      grown->prev = &lua->blocks;
      grown->next = lua->blocks.next;
      lua->blocks.next->prev = grown;
      lua->blocks.next = grown;
    }
  else
    {
      grown->prev->next = grown;
      grown->next->prev = grown;
    }
  lua->used = lua->used - old + nsize;
  crit_exit (lua);
  return grown + 1;
}

/* Free every block of the state at once: the state is in an unknown
 * condition after a jump, so lua_close cannot be trusted with it. */
static void
state_discard (StLua *lua)
{
  StLuaBlock *block = lua->blocks.next;

  while (block != &lua->blocks)
    {
      StLuaBlock *next = block->next;

      free (block);
      block = next;
    }
  lua->blocks.next = lua->blocks.prev = &lua->blocks;
  lua->used = 0;
  lua->L = NULL;
  lua->cache_entries = 0;
}

/* ---- instructions and time ---------------------------------------------
 *
 * A count hook runs every ST_LUA_HOOK_STEP instructions; it counts them,
 * reads the clock and the allocator's refusal. Once a limit is reached it
 * is set to run at every instruction and raises each time, so pcall,
 * xpcall handlers and __close handlers cannot keep the script going: the
 * first instruction of any of them raises again. */

static void
push_limit_message (lua_State *L, StLua *lua)
{
  switch (lua->limit)
    {
    case ST_LUA_LIMIT_INSTRUCTIONS:
      lua_pushfstring (L, "%s: instruction limit of %I reached",
                       st_lua_label (lua),
                       (lua_Integer) lua->limits.instructions);
      break;
    case ST_LUA_LIMIT_TIME:
      lua_pushfstring (L, "%s: time limit of %I ms reached",
                       st_lua_label (lua),
                       (lua_Integer) lua->limits.timeout_ms);
      break;
    default:
      lua_pushfstring (L, "%s: memory limit of %I bytes reached",
                       st_lua_label (lua), (lua_Integer) lua->limits.memory);
      break;
    }
}

static char *
limit_text (StLua *lua)
{
  switch (lua->limit)
    {
    case ST_LUA_LIMIT_INSTRUCTIONS:
      return g_strdup_printf ("instruction limit of %" G_GUINT64_FORMAT
                              " reached",
                              lua->limits.instructions);
    case ST_LUA_LIMIT_TIME:
      return g_strdup_printf ("time limit of %u ms reached",
                              lua->limits.timeout_ms);
    default:
      return g_strdup_printf ("memory limit of %" G_GSIZE_FORMAT
                              " bytes reached",
                              lua->limits.memory);
    }
}

static void
on_hook (lua_State *L, lua_Debug *ar)
{
  StLua *lua = st_lua_from_state (L);

  (void) ar;
  if (lua->limit == ST_LUA_LIMIT_NONE)
    {
      lua->count += (guint64) lua->step;
      if (lua->memory_hit)
        lua->limit = ST_LUA_LIMIT_MEMORY;
      else if (lua->count >= lua->limits.instructions)
        lua->limit = ST_LUA_LIMIT_INSTRUCTIONS;
      else if (lua->fires > 0 || g_get_monotonic_time () >= lua->deadline)
        lua->limit = ST_LUA_LIMIT_TIME;
      else
        return;
      lua_sethook (L, on_hook, LUA_MASKCOUNT, 1);
    }
  push_limit_message (L, lua);
  lua_error (L);
}

/* ---- time spent inside one C function ------------------------------------
 *
 * The hook only runs between VM instructions. A single C function can run
 * far longer: string.find (string.rep ("a", 40000), ".-.-.-.-.-.-.-b")
 * backtracks for hours, table.move ({}, 1, math.maxinteger - 1, 2) loops
 * for ever without allocating, a default-order table.sort of a large table
 * or compiling a huge text with load take seconds. Wrapping the pattern
 * functions with a step budget would mean rewriting Lua's matcher, and
 * would leave the others. So each call arms a POSIX timer aimed at its own
 * thread (SIGEV_THREAD_ID): the first signal, at the time limit, only
 * marks the call (the hook then stops a script that is still running Lua
 * code); each later one, every grace period, finds the call still running
 * and siglongjmp()s back to call_protected, which throws the whole state
 * away (freeing its blocks, see state_discard) and builds a fresh one: the
 * state may be inconsistent, but it is only Lua memory. The jump never
 * leaves malloc, GLib, the host or libc code holding locks: those run in
 * critical sections (the allocator, every function we register that calls
 * out, os.date and os.time) and a jump falling due inside one is taken at
 * its end. The only cost of a jump is the cache of compiled scripts.
 * What remains outside critical sections is Lua's core and standard
 * library, whose only libc calls there are mem*, str*, strtod, snprintf,
 * strcoll and localeconv: in glibc these neither lock nor allocate for
 * the sizes Lua passes.
 *
 * ST_LUA_SIGNAL (SIGRTMAX - 3) is Steward's alone: its handler is
 * installed for the process on first use (SA_RESTART; libpq and GLib
 * retry on EINTR anyway), and unblocked in each thread that runs scripts.
 * Where timer_create fails, the hook still enforces all three limits for
 * Lua code; only a stuck C function is then not stopped.
 *
 * string.rep is wrapped besides: with an empty string it loops for every
 * repetition without allocating, so the memory check cannot see it. */

static void
on_timer_signal (int signo, siginfo_t *info, void *context)
{
  StLua *lua = st_lua_current;
  int saved_errno = errno;

  (void) signo;
  (void) context;
  if (lua != NULL && info->si_code == SI_TIMER
      && info->si_value.sival_ptr == (void *) lua)
    {
      lua->fires++;
      if (lua->fires >= 2 && lua->jump_armed)
        {
          if (lua->critical > 0)
            lua->jump_pending = 1;
          else
            {
              lua->jump_armed = 0;
              siglongjmp (lua->recover, 1);
            }
        }
    }
  errno = saved_errno;
}

static void
signal_setup (void)
{
  static gsize installed = 0;
  static _Thread_local gboolean unblocked = FALSE;

  if (g_once_init_enter (&installed))
    {
      struct sigaction action;

      memset (&action, 0, sizeof action);
      action.sa_sigaction = on_timer_signal;
      action.sa_flags = SA_SIGINFO | SA_RESTART;
      sigemptyset (&action.sa_mask);
      if (sigaction (ST_LUA_SIGNAL, &action, NULL) != 0)
        g_warning ("Lua time limit: sigaction: %s", g_strerror (errno));
      g_once_init_leave (&installed, 1);
    }
  if (!unblocked)
    {
      sigset_t set;

      sigemptyset (&set);
      sigaddset (&set, ST_LUA_SIGNAL);
      pthread_sigmask (SIG_UNBLOCK, &set, NULL);
      unblocked = TRUE;
    }
}

static struct timespec
timespec_from_ms (guint ms)
{
  struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };

  return ts;
}

static void
timer_arm (StLua *lua)
{
  pid_t tid = (pid_t) syscall (SYS_gettid);
  struct itimerspec spec;

  signal_setup ();
  if (lua->has_timer && lua->timer_tid != tid)
    {
      timer_delete (lua->timer);
      lua->has_timer = FALSE;
    }
  if (!lua->has_timer)
    {
      struct sigevent event;

      memset (&event, 0, sizeof event);
      event.sigev_notify = SIGEV_THREAD_ID;
      event.sigev_signo = ST_LUA_SIGNAL;
      event.sigev_value.sival_ptr = lua;
      event.sigev_notify_thread_id = tid;
      if (timer_create (CLOCK_MONOTONIC, &event, &lua->timer) != 0)
        {
          g_warning ("Lua time limit: timer_create: %s", g_strerror (errno));
          return;
        }
      lua->has_timer = TRUE;
      lua->timer_tid = tid;
    }
  memset (&spec, 0, sizeof spec);
  spec.it_value = timespec_from_ms (lua->limits.timeout_ms);
  spec.it_interval
      = timespec_from_ms (CLAMP (lua->limits.timeout_ms / 10, 20, 200));
  timer_settime (lua->timer, 0, &spec, NULL);
}

/* A signal generated before this is delivered when it returns, while the
 * call is still current but no longer armed for a jump: harmless. */
static void
timer_disarm (StLua *lua)
{
  struct itimerspec spec;

  if (!lua->has_timer)
    return;
  memset (&spec, 0, sizeof spec);
  timer_settime (lua->timer, 0, &spec, NULL);
}

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
  critical_pcall (L, 1, 2); /* 3: path, 4: text */
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
      trip_soon (lua);
      return luaL_error (L, "string.rep: the result would not fit in the "
                            "memory limit");
    }
  lua_pushvalue (L, lua_upvalueindex (1));
  lua_insert (L, 1);
  lua_call (L, lua_gettop (L) - 1, 1);
  return 1;
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

static int
sandbox_open (lua_State *L)
{
  static const char *const empty_keys[]
      = { &key_env, &key_loaded, &key_chunk };
  int globals;

  for (guint i = 0; i < G_N_ELEMENTS (empty_keys); i++)
    {
      /* false, not nil: replacing a value never allocates, so the
       * cleanup after a call cannot fail (see call_cleanup). */
      lua_pushboolean (L, 0);
      lua_rawsetp (L, LUA_REGISTRYINDEX, empty_keys[i]);
    }
  lua_newtable (L);
  lua_rawsetp (L, LUA_REGISTRYINDEX, &key_cache);
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

static int
on_panic (lua_State *L)
{
  g_error ("Lua panic: %s", lua_type (L, -1) == LUA_TSTRING
                                ? lua_tostring (L, -1)
                                : "(no message)");
  return 0;
}

static char *
error_text (lua_State *L, int idx)
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

static gboolean
state_open (StLua *lua, GError **error)
{
  lua_State *L = lua_newstate (st_lua_alloc, lua);

  if (L == NULL)
    {
      state_discard (lua);
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                   "cannot create a Lua state within %" G_GSIZE_FORMAT
                   " bytes",
                   lua->limits.memory);
      return FALSE;
    }
  *(StLua **) lua_getextraspace (L) = lua;
  lua_atpanic (L, on_panic);
  lua_pushcfunction (L, sandbox_open);
  if (lua_pcall (L, 0, 0, 0) != LUA_OK)
    {
      g_autofree char *message = error_text (L, -1);

      lua_close (L);
      state_discard (lua);
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                   "cannot set up the Lua sandbox: %s", message);
      return FALSE;
    }
  lua_settop (L, 0);
  lua_gc (L, LUA_GCCOLLECT);
  lua->L = L;
  return TRUE;
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
  state_open (lua, NULL);
  return lua;
}

void
st_lua_free (StLua *lua)
{
  if (lua == NULL)
    return;
  if (lua->L != NULL)
    lua_close (lua->L);
  state_discard (lua);
  if (lua->has_timer)
    timer_delete (lua->timer);
  held_release (lua, 0);
  g_array_unref (lua->held);
  g_free (lua);
}

/* ---- conversions -------------------------------------------------------- */

static void push_variant_at (lua_State *L, GVariant *value, int depth);

static GVariant *
hold_variant (lua_State *L, GVariant *value)
{
  if (value != NULL)
    st_lua_hold (L, value, (GDestroyNotify) g_variant_unref);
  return value;
}

static void
push_children (lua_State *L, GVariant *value, int depth)
{
  gsize n = g_variant_n_children (value);
  gboolean dict = g_variant_type_is_dict_entry (
      g_variant_type_element (g_variant_get_type (value)));

  lua_createtable (L, dict ? 0 : (int) MIN (n, G_MAXINT),
                   dict ? (int) MIN (n, G_MAXINT) : 0);
  for (gsize i = 0; i < n; i++)
    {
      GVariant *child = hold_variant (L, g_variant_get_child_value (value, i));

      if (dict)
        {
          push_variant_at (
              L, hold_variant (L, g_variant_get_child_value (child, 0)),
              depth + 1);
          push_variant_at (
              L, hold_variant (L, g_variant_get_child_value (child, 1)),
              depth + 1);
          if (lua_isnil (L, -2))
            lua_pop (L, 2);
          else
            lua_rawset (L, -3);
        }
      else
        {
          push_variant_at (L, child, depth + 1);
          lua_rawseti (L, -2, (lua_Integer) i + 1);
        }
    }
}

static void
push_variant_at (lua_State *L, GVariant *value, int depth)
{
  if (depth > ST_LUA_MAX_DEPTH)
    luaL_error (L, "a record is nested too deeply");
  luaL_checkstack (L, 4, "a record is nested too deeply");
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      lua_pushboolean (L, g_variant_get_boolean (value));
      break;
    case G_VARIANT_CLASS_BYTE:
      lua_pushinteger (L, g_variant_get_byte (value));
      break;
    case G_VARIANT_CLASS_INT16:
      lua_pushinteger (L, g_variant_get_int16 (value));
      break;
    case G_VARIANT_CLASS_UINT16:
      lua_pushinteger (L, g_variant_get_uint16 (value));
      break;
    case G_VARIANT_CLASS_INT32:
      lua_pushinteger (L, g_variant_get_int32 (value));
      break;
    case G_VARIANT_CLASS_HANDLE:
      lua_pushinteger (L, g_variant_get_handle (value));
      break;
    case G_VARIANT_CLASS_UINT32:
      lua_pushinteger (L, g_variant_get_uint32 (value));
      break;
    case G_VARIANT_CLASS_INT64:
      lua_pushinteger (L, g_variant_get_int64 (value));
      break;
    case G_VARIANT_CLASS_UINT64:
      {
        guint64 u = g_variant_get_uint64 (value);

        if (u <= G_MAXINT64)
          lua_pushinteger (L, (lua_Integer) u);
        else
          lua_pushnumber (L, (lua_Number) u);
      }
      break;
    case G_VARIANT_CLASS_DOUBLE:
      lua_pushnumber (L, g_variant_get_double (value));
      break;
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      {
        gsize len;
        const char *text = g_variant_get_string (value, &len);

        lua_pushlstring (L, text, len);
      }
      break;
    case G_VARIANT_CLASS_VARIANT:
      push_variant_at (L, hold_variant (L, g_variant_get_variant (value)),
                       depth + 1);
      break;
    case G_VARIANT_CLASS_MAYBE:
      {
        GVariant *child = hold_variant (L, g_variant_get_maybe (value));

        if (child == NULL)
          lua_pushnil (L);
        else
          push_variant_at (L, child, depth + 1);
      }
      break;
    case G_VARIANT_CLASS_ARRAY:
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
        {
          gsize len;
          const char *bytes = g_variant_get_fixed_array (value, &len, 1);

          if (len > 0 && bytes[len - 1] == '\0')
            len--;
          lua_pushlstring (L, bytes, len);
        }
      else
        push_children (L, value, depth);
      break;
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
    default:
      push_children (L, value, depth);
      break;
    }
}

void
st_lua_push_variant (lua_State *L, GVariant *value)
{
  g_assert (st_lua_from_state (L)->critical > 0);
  push_variant_at (L, value, 0);
}

static GVariant *to_variant_at (lua_State *L, int idx, GString *where,
                                GHashTable *open, int depth, GError **error);

typedef struct
{
  char *key;
  GVariant *value;
} StLuaEntry;

static void
entry_clear (gpointer data)
{
  StLuaEntry *entry = data;

  g_free (entry->key);
  g_variant_unref (entry->value);
}

static int
entry_compare (gconstpointer a, gconstpointer b)
{
  return strcmp (((const StLuaEntry *) a)->key, ((const StLuaEntry *) b)->key);
}

static gboolean
where_push_key (GString *where, lua_State *L, int idx, GError **error)
{
  size_t len;
  const char *key = lua_tolstring (L, idx, &len);

  if (!g_utf8_validate_len (key, len, NULL))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s has a key that is not valid UTF-8 text", where->str);
      return FALSE;
    }
  g_string_append_printf (where, ".%s", key);
  return TRUE;
}

/* The table at @idx as a{sv} (string keys, sorted) or av (a sequence). */
static GVariant *
table_to_variant (lua_State *L, int idx, GString *where, GHashTable *open,
                  int depth, GError **error)
{
  const void *self = lua_topointer (L, idx);
  gsize where_len = where->len;
  gsize n_strings = 0;
  gsize n_integers = 0;
  lua_Integer max = 0;
  int bad_type = LUA_TNIL;
  GVariant *result = NULL;

  if (depth >= ST_LUA_MAX_DEPTH || !lua_checkstack (L, 4))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s is nested too deeply (more than %d levels)", where->str,
                   ST_LUA_MAX_DEPTH);
      return NULL;
    }
  if (g_hash_table_contains (open, self))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s contains itself (a cycle), which cannot be passed on",
                   where->str);
      return NULL;
    }
  lua_pushnil (L);
  while (lua_next (L, idx) != 0)
    {
      lua_pop (L, 1);
      if (lua_type (L, -1) == LUA_TSTRING)
        n_strings++;
      else if (lua_isinteger (L, -1) && lua_tointeger (L, -1) > 0)
        {
          n_integers++;
          max = MAX (max, lua_tointeger (L, -1));
        }
      else
        {
          bad_type = lua_type (L, -1);
          lua_pop (L, 1);
          break;
        }
    }
  if (bad_type != LUA_TNIL || (n_strings > 0 && n_integers > 0)
      || (n_integers > 0 && (guint64) max != n_integers))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s is neither a list (keys 1, 2, 3…) nor a table of "
                   "named fields, so it cannot be passed on",
                   where->str);
      return NULL;
    }

  g_hash_table_add (open, (gpointer) self);
  if (n_integers > 0)
    {
      GVariantBuilder builder;

      g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
      for (gsize i = 1; i <= n_integers; i++)
        {
          GVariant *child;

          lua_rawgeti (L, idx, (lua_Integer) i);
          g_string_append_printf (where, "[%" G_GSIZE_FORMAT "]", i);
          child = to_variant_at (L, -1, where, open, depth + 1, error);
          g_string_truncate (where, where_len);
          lua_pop (L, 1);
          if (child == NULL)
            {
              g_variant_builder_clear (&builder);
              goto out;
            }
          g_variant_builder_add (&builder, "v", child);
          g_variant_unref (child);
        }
      result = g_variant_ref_sink (g_variant_builder_end (&builder));
    }
  else
    {
      g_autoptr (GArray) entries
          = g_array_new (FALSE, FALSE, sizeof (StLuaEntry));
      GVariantBuilder builder;

      g_array_set_clear_func (entries, entry_clear);
      lua_pushnil (L);
      while (lua_next (L, idx) != 0)
        {
          StLuaEntry entry = { NULL, NULL };

          if (!where_push_key (where, L, -2, error))
            {
              lua_pop (L, 2);
              goto out;
            }
          entry.value = to_variant_at (L, -1, where, open, depth + 1, error);
          g_string_truncate (where, where_len);
          lua_pop (L, 1);
          if (entry.value == NULL)
            {
              lua_pop (L, 1);
              goto out;
            }
          entry.key = g_strdup (lua_tostring (L, -1));
          g_array_append_val (entries, entry);
        }
      g_array_sort (entries, entry_compare);
      g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
      for (guint i = 0; i < entries->len; i++)
        {
          StLuaEntry *entry = &g_array_index (entries, StLuaEntry, i);

          g_variant_builder_add (&builder, "{sv}", entry->key, entry->value);
        }
      result = g_variant_ref_sink (g_variant_builder_end (&builder));
    }
out:
  g_hash_table_remove (open, self);
  return result;
}

static GVariant *
to_variant_at (lua_State *L, int idx, GString *where, GHashTable *open,
               int depth, GError **error)
{
  idx = lua_absindex (L, idx);
  switch (lua_type (L, idx))
    {
    case LUA_TBOOLEAN:
      return g_variant_ref_sink (
          g_variant_new_boolean (lua_toboolean (L, idx)));
    case LUA_TNUMBER:
      if (lua_isinteger (L, idx))
        return g_variant_ref_sink (
            g_variant_new_int64 (lua_tointeger (L, idx)));
      return g_variant_ref_sink (g_variant_new_double (lua_tonumber (L, idx)));
    case LUA_TSTRING:
      {
        size_t len;
        const char *text = lua_tolstring (L, idx, &len);

        if (!g_utf8_validate_len (text, len, NULL))
          {
            g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                         "%s is not valid UTF-8 text", where->str);
            return NULL;
          }
        return g_variant_ref_sink (g_variant_new_string (text));
      }
    case LUA_TTABLE:
      return table_to_variant (L, idx, where, open, depth, error);
    case LUA_TNIL:
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT, "%s is nil",
                   where->str);
      return NULL;
    default:
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s is a %s, which cannot be passed on (only booleans, "
                   "numbers, strings and tables can)",
                   where->str, luaL_typename (L, idx));
      return NULL;
    }
}

GVariant *
st_lua_to_variant (lua_State *L, int idx, const char *what, GError **error)
{
  g_autoptr (GHashTable) open = g_hash_table_new (NULL, NULL);
  g_autoptr (GString) where = g_string_new (what);

  return to_variant_at (L, idx, where, open, 0, error);
}

gboolean
st_lua_parse_duration (const char *text, gint64 *seconds)
{
  guint64 value = 0;
  guint64 unit;
  const char *p = text;

  if (text == NULL || !g_ascii_isdigit (*p))
    return FALSE;
  for (; g_ascii_isdigit (*p); p++)
    {
      value = value * 10 + (guint64) (*p - '0');
      if (value > G_GUINT64_CONSTANT (1000000000000))
        return FALSE;
    }
  switch (*p)
    {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'w':
      unit = 604800;
      break;
    default:
      return FALSE;
    }
  if (p[1] != '\0')
    return FALSE;
  *seconds = (gint64) (value * unit);
  return TRUE;
}

/* ---- calls -------------------------------------------------------------- */

/* A fresh _ENV from the whitelist (pushed, and kept for load and
 * require), a fresh require cache and a fresh random seed. */
static void
call_begin (lua_State *L)
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
static void
call_cleanup (lua_State *L)
{
  lua_settop (L, 0);
  if (lua_rawgetp (L, LUA_REGISTRYINDEX, &key_chunk) == LUA_TFUNCTION)
    {
      lua_pushboolean (L, 0);
      lua_setupvalue (L, -2, 1);
    }
  lua_pop (L, 1);
  lua_pushboolean (L, 0);
  lua_rawsetp (L, LUA_REGISTRYINDEX, &key_chunk);
  lua_pushboolean (L, 0);
  lua_rawsetp (L, LUA_REGISTRYINDEX, &key_env);
  lua_pushboolean (L, 0);
  lua_rawsetp (L, LUA_REGISTRYINDEX, &key_loaded);
  lua_sethook (L, NULL, 0, 0);
  lua_gc (L, LUA_GCCOLLECT);
}

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
  critical_pcall (L, 1, 1);
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

  lua_rawgetp (L, LUA_REGISTRYINDEX, &key_cache);
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
      lua_rawsetp (L, LUA_REGISTRYINDEX, &key_cache);
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
  call_begin (L);                /* 1: _ENV */
  push_script_chunk (L, script); /* 2 */
  lua_pushvalue (L, 2);
  lua_rawsetp (L, LUA_REGISTRYINDEX, &key_chunk);
  lua_pushvalue (L, 1);
  lua_setupvalue (L, 2, 1);
  lua_call (L, 0, 1);
  if (lua_type (L, 2) != LUA_TTABLE)
    return luaL_error (L, "%s: the script must return a table, got %s",
                       script->path, luaL_typename (L, 2));
  lua_pushliteral (L, "run");
  if (lua_rawget (L, 2) != LUA_TFUNCTION)
    return luaL_error (L, "%s: run: must be a function", script->path);
  push_record (L, lua->customer);
  push_record (L, lua->event);
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
  call_begin (L);                        /* 1: _ENV */
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
  critical_pcall (L, 1, 0);
  return 0;
}

static void
call_reset (StLua *lua)
{
  lua->limit = ST_LUA_LIMIT_NONE;
  lua->memory_hit = 0;
  lua->fires = 0;
  lua->critical = 0;
  lua->jump_armed = 0;
  lua->jump_pending = 0;
  lua->count = 0;
  g_clear_error (&lua->check_error);
}

/* Run @main under the limits. On failure, *@message is the Lua error or
 * the limit reached (*@limit TRUE). */
static gboolean
call_protected (StLua *lua, lua_CFunction main, char **message,
                gboolean *limit, GError **error)
{
  StLua *volatile previous = st_lua_current;
  volatile gboolean jumped = FALSE;
  volatile int status = LUA_OK;
  lua_State *L;

  *message = NULL;
  *limit = FALSE;
  if (lua->L == NULL && !state_open (lua, error))
    return FALSE;
  L = lua->L;
  call_reset (lua);
  lua_settop (L, 0);
  lua_sethook (L, on_hook, LUA_MASKCOUNT, lua->step);
  lua_pushcfunction (L, main);
  lua->deadline
      = g_get_monotonic_time () + (gint64) lua->limits.timeout_ms * 1000;
  st_lua_current = lua;
  timer_arm (lua);
  lua->in_call = TRUE;
  if (sigsetjmp (lua->recover, 1) == 0)
    {
      lua->jump_armed = 1;
      status = lua_pcall (L, 0, 0, 0);
      lua->jump_armed = 0;
    }
  else
    jumped = TRUE;
  lua->in_call = FALSE;
  timer_disarm (lua);
  st_lua_current = previous;

  if (jumped)
    {
      g_debug ("%s: still inside a C function past the time limit; its Lua "
               "state was dropped and replaced",
               st_lua_label (lua));
      lua->limit = ST_LUA_LIMIT_TIME;
      lua->critical = 0;
      state_discard (lua);
      held_release (lua, 0);
      *limit = TRUE;
      *message = limit_text (lua);
      state_open (lua, NULL);
      return FALSE;
    }
  if (status != LUA_OK)
    {
      /* A refused allocation may end the call before the hook runs. */
      if (lua->limit == ST_LUA_LIMIT_NONE && lua->memory_hit)
        lua->limit = ST_LUA_LIMIT_MEMORY;
      *limit = lua->limit != ST_LUA_LIMIT_NONE;
      *message = *limit ? limit_text (lua) : error_text (L, -1);
    }
  call_cleanup (L);
  held_release (lua, 0);
  return status == LUA_OK;
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

gboolean
st_lua_run (StLua *lua, const StScript *script,
            const char *const *module_folders, GVariant *customer,
            GVariant *event, const StLuaHost *host, gpointer host_data,
            GError **error)
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
  lua->event = event;
  lua->host = host;
  lua->host_data = host_data;
  lua->folders = module_folders;
  lua->label = script->name;
  lua->loading = FALSE;
  ok = call_protected (lua, run_main, &message, &limit, error);
  lua->script = NULL;
  lua->customer = lua->event = NULL;
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
  ok = call_protected (lua, eval_main, &message, &limit, error);
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
