/* The limits of a script call and how a call is stopped: the allocator
 * (memory), the count hook (instructions, time), the per-thread timer and
 * its siglongjmp (time spent inside one C function), and the critical
 * sections a jump never leaves. Each limit is explained at its code. */

#include "st-lua-private.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The real-time signal of the per-call timer (see timer_arm). */
#define ST_LUA_SIGNAL (SIGRTMAX - 3)

#ifndef sigev_notify_thread_id /* glibc < 2.37 */
#define sigev_notify_thread_id _sigev_un._tid
#endif

/* The StLua whose call runs on this thread, for the signal handler. */
static _Thread_local StLua *volatile st_lua_current;

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

void
st_lua_held_release (StLua *lua, guint mark)
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
void
st_lua_critical_pcall (lua_State *L, int nargs, int nresults)
{
  StLua *lua = st_lua_from_state (L);
  guint mark;
  int status;

  crit_enter (lua);
  mark = lua->held->len;
  status = lua_pcall (L, nargs, nresults, 0);
  st_lua_held_release (lua, mark);
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
  st_lua_critical_pcall (L, nargs, LUA_MULTRET);
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
void
st_lua_trip_soon (StLua *lua)
{
  lua->memory_hit = 1;
  if (lua->in_call && lua->L != NULL)
    lua_sethook (lua->L, on_hook, LUA_MASKCOUNT, 1);
}

void *
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
      st_lua_trip_soon (lua);
      return NULL;
    }
  crit_enter (lua);
  grown = realloc (block, sizeof (StLuaBlock) + nsize);
  if (grown == NULL)
    {
      st_lua_trip_soon (lua);
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
void
st_lua_state_discard (StLua *lua)
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
 * and siglongjmp()s back to st_lua_call_protected, which throws the whole
 * state away (freeing its blocks, see st_lua_state_discard) and builds a
 * fresh one: the state may be inconsistent, but it is only Lua memory.
 * The jump never leaves malloc, GLib, the host or libc code holding locks:
 * those run in critical sections (the allocator, every function we
 * register that calls out, os.date and os.time) and a jump falling due
 * inside one is taken at its end. The only cost of a jump is the cache of
 * compiled scripts. What remains outside critical sections is Lua's core
 * and standard library, whose only libc calls there are mem*, str*,
 * strtod, snprintf, strcoll and localeconv: in glibc these neither lock
 * nor allocate for the sizes Lua passes.
 *
 * ST_LUA_SIGNAL (SIGRTMAX - 3) is Steward's alone: its handler is
 * installed for the process on first use (SA_RESTART; libpq and GLib
 * retry on EINTR anyway), and unblocked in each thread that runs scripts.
 * Where timer_create fails, the hook still enforces all three limits for
 * Lua code; only a stuck C function is then not stopped.
 *
 * string.rep is wrapped besides (st-lua-sandbox.c): with an empty string
 * it loops for every repetition without allocating, so the memory check
 * cannot see it. */

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
gboolean
st_lua_call_protected (StLua *lua, lua_CFunction main, char **message,
                       gboolean *limit, GError **error)
{
  StLua *volatile previous = st_lua_current;
  volatile gboolean jumped = FALSE;
  volatile int status = LUA_OK;
  lua_State *L;

  *message = NULL;
  *limit = FALSE;
  if (lua->L == NULL && !st_lua_state_open (lua, error))
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
      st_lua_state_discard (lua);
      st_lua_held_release (lua, 0);
      *limit = TRUE;
      *message = limit_text (lua);
      st_lua_state_open (lua, NULL);
      return FALSE;
    }
  if (status != LUA_OK)
    {
      /* A refused allocation may end the call before the hook runs. */
      if (lua->limit == ST_LUA_LIMIT_NONE && lua->memory_hit)
        lua->limit = ST_LUA_LIMIT_MEMORY;
      *limit = lua->limit != ST_LUA_LIMIT_NONE;
      *message = *limit ? limit_text (lua) : st_lua_error_text (L, -1);
    }
  st_lua_call_cleanup (L);
  st_lua_held_release (lua, 0);
  return status == LUA_OK;
}
