#pragma once

/* The Lua layer's private declarations: not for the care engine, which
 * sees st-lua.h only. */

#include <glib.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/types.h>
#include <time.h>

#include "st-lua.h"

G_BEGIN_DECLS

/* ---- For st-lua-steward.c and st-script.c ----------------------------
 * Functions taking a lua_State are called from C functions the sandbox
 * registers, during a call (st_lua_run or st_lua_eval). */

typedef struct lua_State lua_State; /* the same typedef as <lua.h> */

/* The StLua of @L. */
StLua *st_lua_from_state (lua_State *L);
/* The host of the call in progress; NULL while a script file is being
 * loaded (st_lua_eval) or when st_lua_run was given none. */
const StLuaHost *st_lua_host (StLua *lua, gpointer *host_data);
/* TRUE while a script file is being loaded (st_lua_eval). */
gboolean st_lua_loading (StLua *lua);
/* The script name (st_lua_run) or path (st_lua_eval) of the call. */
const char *st_lua_label (StLua *lua);

/* Call @fn with the whole stack as its arguments in a critical section:
 * the time-limit escape (see st-lua-limits.c) never jumps out of it, so
 * @fn may call GLib and the host. @fn may raise Lua errors, but then
 * everything it allocated outside Lua must already be held (st_lua_hold).
 * Returns the number of results @fn returned, for
 * `return st_lua_critical (L, impl);`. */
int st_lua_critical (lua_State *L, int (*fn) (lua_State *L));
/* Free @data with @notify when the innermost critical section ends,
 * however it ends (call it in a critical section only). */
void st_lua_hold (lua_State *L, gpointer data, GDestroyNotify notify);

/* GVariant → Lua (critical section; may raise): a{sv} and other
 * dictionaries → tables, arrays and tuples → sequences, integer types →
 * integers, d → float, b → boolean, s/o/g → string, ay → string, v and
 * maybes unwrapped (nothing → nil). Pushes one value. */
void st_lua_push_variant (lua_State *L, GVariant *value);
/* A row → a table (critical section; may raise): each column as
 * st_record_column_value() makes it, then as st_lua_push_variant() pushes
 * that. Pushes one value. */
void st_lua_push_row (lua_State *L, const StLuaRow *row);
/* Lua → GVariant (critical section; never raises): sequences → av,
 * string-keyed and empty tables → a{sv}, integers → x, floats → d,
 * booleans → b, strings → s (UTF-8 only). Functions, userdata, cycles and
 * mixed keys are refused with ST_ERROR_INVALID_ARGUMENT, the message
 * naming the place from @what ("data.items[2] is a function ..."). Returns
 * a new (non-floating) reference. */
GVariant *st_lua_to_variant (lua_State *L, int idx, const char *what,
                             GError **error);
/* "30s", "5m", "2h", "7d", "2w" → seconds. */
gboolean st_lua_parse_duration (const char *text, gint64 *seconds);

/* The longest delay or follow-up a script may ask for, in seconds: 100
 * years (36500 days), as far as anyone plans care. Beyond it PostgreSQL's
 * interval arithmetic fails the whole call at commit. */
#define ST_LUA_MAX_SECONDS (G_GINT64_CONSTANT (36500) * 86400)

/* After a call: a full garbage collection when enough garbage is left
 * (st-lua.c). */
void st_lua_collect_if_due (lua_State *L);

/* Push the `steward` module's table (st-lua-steward.c). */
void st_lua_steward_open (lua_State *L);

/* Called by st_lua_eval with the value the file returned at @idx, in a
 * critical section. */
typedef gboolean (*StLuaCheckFunc) (lua_State *L, int idx, gpointer data,
                                    GError **error);
/* Run the main chunk of @source (named @path in messages) with fresh
 * globals and the limits, then @check its result. Errors: the Lua message
 * ("PATH:LINE: message"), a limit ("PATH: time limit of 2000 ms
 * reached"), or @check's error as it set it. */
gboolean st_lua_eval (StLua *lua, const char *path, const char *source,
                      const char *const *module_folders, StLuaCheckFunc check,
                      gpointer data, GError **error);

/* ---- Between the files of the Lua layer --------------------------------
 * st-lua.c: states and calls; st-lua-limits.c: the allocator, the hook,
 * the timer and critical sections; st-lua-sandbox.c: the whitelist,
 * read-only proxies, load and require; st-lua-convert.c: GVariant ↔ Lua. */

typedef enum
{
  ST_LUA_LIMIT_NONE,
  ST_LUA_LIMIT_INSTRUCTIONS,
  ST_LUA_LIMIT_TIME,
  ST_LUA_LIMIT_MEMORY,
} StLuaLimit;

/* Every block Lua allocates is preceded by this header, so a state can be
 * freed without lua_close (see st_lua_state_discard). Two pointers keep the
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
  gsize gc_baseline; /* @used after the last full collection */
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
  const StLuaRow *customer_row; /* instead of @customer */
  GVariant *event;
  const StLuaRow *event_row; /* instead of @event */
  StLuaCheckFunc check;
  gpointer check_data;
  GError *check_error;

  gboolean has_timer;
  timer_t timer;
  pid_t timer_tid;
};


/* Registry keys shared by st-lua.c and st-lua-sandbox.c (their
 * addresses; the others are the sandbox's own). */
extern const char st_lua_key_cache; /* script pointer → compiled chunk */
extern const char st_lua_key_chunk; /* the chunk of the call, or false */

/* st-lua.c */

/* Create lua->L with the sandbox. */
gboolean st_lua_state_open (StLua *lua, GError **error);
/* The error object at @idx as text (no __tostring). */
char *st_lua_error_text (lua_State *L, int idx);

/* st-lua-limits.c */

/* The lua_Alloc of every state, counting against limits.memory (@ud is
 * the StLua). */
void *st_lua_alloc (void *ud, void *ptr, size_t osize, size_t nsize);
/* Free every block of the state at once (lua->L is then NULL). */
void st_lua_state_discard (StLua *lua);
/* Record a refused allocation and have the hook stop the call. */
void st_lua_trip_soon (StLua *lua);
/* Release what was held (st_lua_hold) above @mark. */
void st_lua_held_release (StLua *lua, guint mark);
/* lua_pcall in a critical section, raising its error again after it. */
void st_lua_critical_pcall (lua_State *L, int nargs, int nresults);
/* Run @main under the limits. On failure, *@message is the Lua error or
 * the limit reached (*@limit TRUE). */
gboolean st_lua_call_protected (StLua *lua, int (*main) (lua_State *L),
                                char **message, gboolean *limit,
                                GError **error);

/* st-lua-sandbox.c */

/* A lua_CFunction building the sandbox in a new state. */
int st_lua_sandbox_open (lua_State *L);
/* A fresh _ENV from the whitelist (pushed), a fresh require cache and
 * random seed. */
void st_lua_call_begin (lua_State *L);
/* Drop what the call left; never raises. */
void st_lua_call_cleanup (lua_State *L);

G_END_DECLS
