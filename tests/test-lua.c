/* Tests for core/st-lua*.c and core/st-script.c: the
 * sandbox (escape and exhaustion attempts, each followed by a clean run of
 * a good script on the same state), the limits, the steward module's
 * argument checks and conversions, and loading scripts and sets. */

#include <glib/gstdio.h>
#include <string.h>

#include "st-error.h"
#include "st-lua-private.h"
#include "st-record.h"
#include "st-test-util.h"

static char *test_dir;

#define MIB ((gsize) 1024 * 1024)

static const StLuaLimits test_limits = { 2000000, 2000, 16 * MIB };

/* ---- helpers --------------------------------------------------------------
 */

static void
assert_contains (const char *haystack, const char *needle)
{
  if (haystack == NULL || strstr (haystack, needle) == NULL)
    g_error ("expected “%s” in “%s”", needle,
             haystack != NULL ? haystack : "(null)");
}

static char *
write_file (const char *relative, const char *text)
{
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (test_dir, relative, NULL);
  g_autofree char *folder = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (folder, 0700), ==, 0);
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  return path;
}

static StScript *
load_script (const char *file, const char *source)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = write_file (file, source);
  StScript *script = st_script_load_file (path, &test_limits, &error);

  g_assert_no_error (error);
  g_assert_nonnull (script);
  return script;
}

static StScript *
load_good_script (const char *file, const char *source)
{
  StScript *script = load_script (file, source);

  if (script->error != NULL)
    g_error ("%s: unexpected load error: %s", file, script->error);
  return script;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* a{sv} with its entries sorted by key, recursively, so two records can be
 * compared as printed text. */
static GVariant *
canonical (GVariant *value)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr (GVariant) inner = g_variant_get_variant (value);
      g_autoptr (GVariant) sorted = canonical (inner);

      return g_variant_ref_sink (g_variant_new_variant (sorted));
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT))
    {
      g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
      GVariantIter iter;
      const char *key;
      GVariantBuilder builder;

      g_variant_iter_init (&iter, value);
      while (g_variant_iter_next (&iter, "{&sv}", &key, NULL))
        g_ptr_array_add (keys, g_strdup (key));
      g_ptr_array_sort (keys, compare_strings);
      g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
      for (guint i = 0; i < keys->len; i++)
        {
          g_autoptr (GVariant) child
              = g_variant_lookup_value (value, keys->pdata[i], NULL);
          g_autoptr (GVariant) sorted = canonical (child);

          g_variant_builder_add (&builder, "{sv}", keys->pdata[i], sorted);
        }
      return g_variant_ref_sink (g_variant_builder_end (&builder));
    }
  if (g_variant_is_container (value))
    {
      GVariantBuilder builder;
      gsize n = g_variant_n_children (value);

      g_variant_builder_init (&builder, g_variant_get_type (value));
      for (gsize i = 0; i < n; i++)
        {
          g_autoptr (GVariant) child = g_variant_get_child_value (value, i);
          g_autoptr (GVariant) sorted = canonical (child);

          g_variant_builder_add_value (&builder, sorted);
        }
      return g_variant_ref_sink (g_variant_builder_end (&builder));
    }
  return g_variant_ref (value);
}

static char *
canonical_text (GVariant *value)
{
  g_autoptr (GVariant) sorted = canonical (value);

  return g_variant_print (sorted, TRUE);
}

/* ---- a host that records what scripts do ------------------------------ */

typedef struct
{
  GPtrArray *actions; /* "name {canonical args}" */
  GPtrArray *logs;    /* "level message" */
  char *filter;       /* the last events() filter */
  guint slow_done;    /* slow host calls that returned */
} TestHost;

static TestHost *
test_host_new (void)
{
  TestHost *host = g_new0 (TestHost, 1);

  host->actions = g_ptr_array_new_with_free_func (g_free);
  host->logs = g_ptr_array_new_with_free_func (g_free);
  return host;
}

static void
test_host_free (TestHost *host)
{
  g_ptr_array_unref (host->actions);
  g_ptr_array_unref (host->logs);
  g_free (host->filter);
  g_free (host);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestHost, test_host_free)

static gboolean
host_action (gpointer data, const char *name, GVariant *args, GError **error)
{
  TestHost *host = data;
  const char *key = NULL;
  g_autofree char *text = NULL;

  if (g_variant_lookup (args, "key", "&s", &key)
      && g_strcmp0 (key, "fail") == 0)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED, "the outbox is closed");
      return FALSE;
    }
  text = canonical_text (args);
  g_ptr_array_add (host->actions, g_strdup_printf ("%s %s", name, text));
  return TRUE;
}

static GVariant *
host_customer (gpointer data, gint64 id, GError **error)
{
  TestHost *host = data;

  if (id == 21)
    {
      /* Slow (a busy database): well past the time limit. */
      g_usleep (600 * 1000);
      host->slow_done++;
    }
  if (id == 13)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_UNAVAILABLE,
                   "the database is away");
      return NULL;
    }
  if (id != 7)
    return NULL;
  return g_variant_new_parsed ("{'id': <int64 7>, 'name': <'Ada'>, "
                               "'stage': <'active'>}");
}

static GVariant *
host_events (gpointer data, gint64 id, GVariant *filter, GError **error)
{
  TestHost *host = data;

  (void) error;
  g_free (host->filter);
  host->filter = canonical_text (filter);
  if (id != 7)
    return g_variant_new_parsed ("@aa{sv} []");
  return g_variant_new_parsed (
      "[{'id': <int64 2>, 'kind': <'purchase'>, 'amount': <19.5>}, "
      "{'id': <int64 1>, 'kind': <'login'>}]");
}

static double
host_now (gpointer data)
{
  (void) data;
  return 1700000000.5;
}

static void
host_log (gpointer data, const char *level, const char *message)
{
  TestHost *host = data;

  g_ptr_array_add (host->logs, g_strdup_printf ("%s %s", level, message));
}

static const StLuaHost test_host
    = { host_action, host_customer, host_events, host_now, host_log };

static GVariant *
test_customer (void)
{
  return g_variant_parse (
      G_VARIANT_TYPE_VARDICT,
      "{'id': <int64 7>, 'name': <'Ada'>, 'stage': <'active'>, "
      "'tags': <['vip', 'beta']>, 'score': <int32 80>, "
      "'revenue': <1234.5>, 'active': <true>, "
      "'attributes': <{'plan': <'pro'>, 'seats': <int64 5>}>, "
      "'mixed': <[<int64 1>, <'two'>]>, 'nothing': <@ms nothing>}",
      NULL, NULL, NULL);
}

static GVariant *
test_event (void)
{
  return g_variant_parse (G_VARIANT_TYPE_VARDICT,
                          "{'id': <int64 42>, 'kind': <'purchase'>, "
                          "'amount': <19.99>}",
                          NULL, NULL, NULL);
}

/* Run @script with the test customer and event. */
static gboolean
run_script (StLua *lua, const StScript *script, TestHost *host, GError **error)
{
  const char *const folders[] = { test_dir, NULL };
  g_autoptr (GVariant) customer = test_customer ();
  g_autoptr (GVariant) event = test_event ();

  return st_lua_run (lua, script, folders, customer, event, &test_host, host,
                     error);
}

/* A script that fails if anything of an earlier call is visible, or if the
 * libraries are not what they should be. */
static const char good_source[]
    = "return {\n"
      "  name = 'good',\n"
      "  on = { 'purchase' },\n"
      "  run = function(customer, event)\n"
      "    assert(leaked == nil and leaked2 == nil and leaked3 == nil,\n"
      "           'a global leaked')\n"
      "    assert(string.format('%d-%s', 3, 'x') == '3-x', 'string.format')\n"
      "    assert(('abc'):upper() == 'ABC', 'string methods')\n"
      "    assert(string.rep('ab', 3) == 'ababab', 'string.rep')\n"
      "    local t = {}\n"
      "    table.insert(t, 1) table.insert(t, 2)\n"
      "    assert(table.concat(t, ',') == '1,2', 'table.insert')\n"
      "    assert(math.floor(2.5) == 2 and math.pi > 3.14, 'math')\n"
      "    assert(utf8.char(233) == '\\u{e9}' and utf8.len('h\\u{e9}llo') == "
      "5)\n"
      "    assert(getmetatable('') == false, 'string metatable')\n"
      "    assert(getmetatable(_G) == false, '_G metatable')\n"
      "    assert(os.date('!%Y', 0) == '1970', 'os.date')\n"
      "    assert(customer.name == 'Ada' and customer.tags[1] == 'vip',\n"
      "           'customer changed')\n"
      "    assert(event.kind == 'purchase', 'event')\n"
      "    assert(io == nil and debug == nil and package == nil\n"
      "           and coroutine == nil and collectgarbage == nil\n"
      "           and print == nil and dofile == nil and loadfile == nil\n"
      "           and string.dump == nil, 'forbidden globals')\n"
      "    assert(load('return 1 + 1')() == 2, 'load')\n"
      "    steward.send{ customer = customer, channel = 'email',\n"
      "                  template = 'thanks', key = 'good:' .. event.id }\n"
      "  end,\n"
      "}\n";

static void
assert_good_run (StLua *lua)
{
  g_autoptr (StScript) good = load_good_script ("good.lua", good_source);
  g_autoptr (TestHost) host = test_host_new ();
  g_autoptr (GError) error = NULL;

  if (!run_script (lua, good, host, &error))
    g_error ("the good script failed after the attempt: %s", error->message);
  g_assert_cmpuint (host->actions->len, ==, 1);
  g_assert_cmpstr (host->actions->pdata[0], ==,
                   "send {'channel': <'email'>, 'customer_id': <int64 7>, "
                   "'key': <'good:42'>, 'template': <'thanks'>}");
}

/* ---- escape and exhaustion attempts ---------------------------------------
 */

typedef struct
{
  const char *name;
  const char *body;   /* the body of run(customer, event) */
  const char *expect; /* NULL: the run succeeds; "": any failure */
  guint timeout_ms;   /* 0: the test default; likewise below */
  guint64 instructions;
} EscapeCase;

#define PATTERN_BOMB "string.find(string.rep('a', 40000), '.-.-.-.-.-.-.-b')"

static const EscapeCase escape_cases[] = {
  { "global-leak",
    "leaked = 'yes'; _G.leaked2 = 1; _ENV.leaked3 = 1; rawset(_G, 'x', 1)",
    NULL },
  { "clear-globals",
    "local assert, G = assert, _G\n"
    "for k in pairs(G) do G[k] = nil end\n"
    "assert(string == nil)",
    NULL },
  { "replace-string-format", "string.format = function() return 'pwned' end",
    "string is read-only" },
  { "replace-table-insert", "table.insert = nil", "table is read-only" },
  { "replace-math-floor", "math.floor = function() return 0 end",
    "math is read-only" },
  { "replace-steward-send", "steward.send = function() end",
    "steward is read-only" },
  { "table-insert-into-library", "table.insert(string, 'x')", "read-only" },
  { "setmetatable-globals",
    "setmetatable(_G, { __index = function() return 'pwned' end })",
    "protected metatable" },
  { "setmetatable-library", "setmetatable(string, nil)",
    "protected metatable" },
  { "env-metatable", "getmetatable(_ENV).__newindex = print",
    "index a boolean" },
  { "string-metatable-index",
    "getmetatable('').__index = { upper = function() return 'pwned' end }",
    "index a boolean" },
  { "string-metatable-set", "setmetatable('', {})", "table expected" },
  { "string-value-field", "local s = 'x'; s.upper = nil", "index a string" },
  { "rawset-library", "rawset(string, 'format', function() end)",
    "read-only" },
  { "rawset-via-pairs",
    "local iter, t = pairs(string)\n"
    "assert(t == string)\n"
    "local n = 0 for k in pairs(string) do n = n + 1 end\n"
    "assert(n > 10, 'pairs sees the library')\n"
    "rawset(t, 'upper', nil)",
    "read-only" },
  { "binary-chunk",
    "local bytes = '\\27Lua\\84\\0\\25\\147\\13\\10\\26\\10\\4\\8\\8'\n"
    "  .. '\\120\\86\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\40\\119\\64\\1\\0'\n"
    "local f, err = load(bytes)\n"
    "assert(f == nil, 'a binary chunk was loaded')\n"
    "assert(err:find('binary'), err)",
    NULL },
  { "load-mode-b", "load('return 1', 'x', 'b')", "only text chunks" },
  { "load-mode-bt", "load('\\27Lua', 'x', 'bt')", "only text chunks" },
  { "load-reader-function", "load(function() return nil end)",
    "only a string" },
  { "load-env",
    "local f = load('leaked = 1; return _G')\n"
    "assert(f() == _G, 'load runs in the call environment')",
    NULL },
  { "forbidden-names",
    "for _, name in ipairs{ 'loadfile', 'dofile', 'print', 'collectgarbage',\n"
    "    'io', 'debug', 'package', 'coroutine', 'warn', 'module',\n"
    "    'setfenv', 'getfenv', 'newproxy', 'loadstring' } do\n"
    "  assert(_G[name] == nil, name)\n"
    "end\n"
    "for _, name in ipairs{ 'execute', 'getenv', 'remove', 'rename', 'exit',\n"
    "    'tmpname', 'setlocale', 'difftime' } do\n"
    "  assert(os[name] == nil, 'os.' .. name)\n"
    "end\n"
    "assert(string.dump == nil and math.randomseed == nil)",
    NULL },
  { "os-execute", "os.execute('touch /tmp/steward-pwned')",
    "field 'execute'" },
  { "io-open", "io.open('/etc/passwd')", "global 'io'" },
  { "require-os", "require('os')", "module 'os' not found" },
  { "require-parent", "require('../x')", "not allowed" },
  { "require-absolute", "require('/etc/passwd')", "not allowed" },
  { "os-date-long-format", "os.date(string.rep('%c', 1000))",
    "format is too long" },
  { "infinite-loop", "while true do end",
    "escape: instruction limit of 2000000 reached" },
  { "goto-loop", "::top:: goto top", "instruction limit" },
  { "loop-in-pcall",
    "while true do pcall(function() while true do end end) end",
    "instruction limit" },
  { "limit-caught-by-pcall",
    "pcall(function() while true do end end)\n"
    "steward.send{ customer = customer, channel = 'email', key = 'after',\n"
    "              body = 'the limit was swallowed' }",
    "instruction limit" },
  { "xpcall-looping-handler",
    "xpcall(function() while true do end end,\n"
    "       function() while true do end end)\n"
    "while true do end",
    "instruction limit" },
  { "close-handler-loop",
    "do local x <close> = setmetatable({}, {\n"
    "  __close = function() while true do end end }) end\n"
    "while true do end",
    "instruction limit" },
  { "tail-recursion", "local function f() return f() end return f()",
    "instruction limit" },
  { "time-limit", "while true do end", "escape: time limit of 300 ms reached",
    300, G_GUINT64_CONSTANT (1000000000000) },
  { "pathological-pattern", PATTERN_BOMB,
    "escape: time limit of 300 ms reached", 300,
    G_GUINT64_CONSTANT (1000000000000) },
  { "pathological-pattern-in-pcall",
    "while true do pcall(string.find, string.rep('a', 40000),\n"
    "                    '.-.-.-.-.-.-.-b') end",
    "time limit of 300 ms", 300, G_GUINT64_CONSTANT (1000000000000) },
  { "pathological-gsub",
    "string.gsub(string.rep('a', 40000), '.-.-.-.-.-.-.-b', 'x')",
    "time limit of 300 ms", 300, G_GUINT64_CONSTANT (1000000000000) },
  { "table-move-huge", "table.move({}, 1, math.maxinteger - 1, 2)",
    "time limit of 300 ms", 300, G_GUINT64_CONSTANT (1000000000000) },
  /* Memory cases get a long time limit: on a loaded machine (a sanitizer
   * build, two cores) the clock must not win the race to the allocator. */
  { "memory-table-growth", "local t = {} for i = 1, 1e9 do t[i] = { i } end",
    "escape: memory limit of 16777216 bytes reached", 30000 },
  { "memory-caught-by-pcall",
    "pcall(function() local t = {} for i = 1, 1e9 do t[i] = i end end)\n"
    "steward.send{ customer = customer, channel = 'email', key = 'after',\n"
    "              body = 'the limit was swallowed' }",
    "memory limit", 30000 },
  { "string-rep-growth", "local s = string.rep('x', 1e9)", "memory limit" },
  { "string-rep-separator", "local s = string.rep('x', 1e7, 'yy')",
    "memory limit" },
  { "string-rep-empty",
    "assert(string.rep('', math.maxinteger) == '')\n"
    "assert(string.rep('', 1e15, '') == '')",
    NULL },
  { "concat-doubling", "local s = 'x' while true do s = s .. s end",
    "memory limit" },
  { "table-concat",
    "local t = {} for i = 1, 1e5 do t[i] = string.rep('x', 100) end\n"
    "local s = '' for i = 1, 100 do s = s .. table.concat(t) end",
    "memory limit" },
  { "huge-load", "load(string.rep('x = 1 ', 3e6))", "memory limit" },
  { "deep-recursion", "local function f(n) return 1 + f(n + 1) end f(1)", "" },
  { "c-stack-recursion",
    "local function g() return tostring(setmetatable({}, { __tostring = g "
    "}))\n"
    "end g()",
    "stack overflow" },
  { "pcall-recursion", "local function f() pcall(f) end f()", NULL },
  { "coroutine", "coroutine.wrap(function() coroutine.yield() end)()",
    "global 'coroutine'" },
  { "error-object-tostring-loop",
    "error(setmetatable({}, { __tostring = function() while true do end end "
    "}))",
    "error object is a table value" },
  { "error-object-gc",
    "error(setmetatable({}, { __gc = function() leaked = 1 end }))",
    "__gc metamethods are not allowed" },
  { "gc-metamethod",
    "setmetatable({}, { __gc = function()\n"
    "  steward.send{ customer = 7, channel = 'email', key = 'gc',\n"
    "                body = 'from a finalizer' } end })",
    "__gc metamethods are not allowed" },
  { "gc-added-later",
    "local mt = {}\n"
    "local t = setmetatable({}, mt)\n"
    "mt.__gc = function()\n"
    "  steward.send{ customer = 7, channel = 'email', key = 'gc',\n"
    "                body = 'from a finalizer' } end\n"
    "t = nil",
    NULL },
  { "collectgarbage-stop", "collectgarbage('stop')",
    "global 'collectgarbage'" },
  { "modify-records",
    "customer.name = 'Eve'; customer.tags[1] = 'x'; event.kind = 'y'", NULL },
  { "math-utf8-usable",
    "assert(math.type(1) == 'integer' and math.type(1.5) == 'float')\n"
    "assert(math.max(1, 5, 3) == 5 and math.tointeger(3.0) == 3)\n"
    "local r = math.random(1, 10) assert(r >= 1 and r <= 10)\n"
    "assert(utf8.len('\\u{e9}t\\u{e9}') == 3)\n"
    "for p, c in utf8.codes('ab') do assert(c == 96 + p) end\n"
    "assert(('x'):rep(2) == 'xx' and #string.format('%5d', 1) == 5)",
    NULL },
};

static const char escape_template[] = "return {\n"
                                      "  name = 'escape',\n"
                                      "  on = { 'purchase' },\n"
                                      "  run = function(customer, event)\n"
                                      "%s\n"
                                      "  end,\n"
                                      "}\n";

static void
test_escape (gconstpointer data)
{
  const EscapeCase *c = data;
  StLuaLimits limits = test_limits;
  g_autoptr (StLua) lua = NULL;
  g_autofree char *source = g_strdup_printf (escape_template, c->body);
  g_autofree char *file = g_strdup_printf ("escape-%s.lua", c->name);
  g_autoptr (StScript) script = load_good_script (file, source);
  g_autoptr (TestHost) host = test_host_new ();
  g_autoptr (GError) error = NULL;
  gint64 start;
  gint64 elapsed_ms;
  gboolean ok;

  if (c->timeout_ms != 0)
    limits.timeout_ms = c->timeout_ms;
  if (c->instructions != 0)
    limits.instructions = c->instructions;
  lua = st_lua_new (&limits);
  start = g_get_monotonic_time ();
  ok = run_script (lua, script, host, &error);
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  if (error != NULL)
    g_test_message ("%s (%" G_GINT64_FORMAT " ms)", error->message,
                    elapsed_ms);
  if (c->expect == NULL)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
    }
  else
    {
      g_assert_false (ok);
      g_assert_error (error, ST_ERROR, ST_ERROR_FAILED);
      g_assert_true (g_str_has_prefix (error->message, "escape: "));
      assert_contains (error->message, c->expect);
    }
  /* Nothing done after a limit, nothing done by a finalizer. */
  g_assert_cmpuint (host->actions->len, ==, 0);
  /* Stopped, not left to run on: the bound is generous on purpose (loaded
   * CI machines, sanitizer builds); this is "it stops", not a speed test. */
  g_assert_cmpint (elapsed_ms, <, (gint64) limits.timeout_ms + 10000);
  assert_good_run (lua);
  assert_good_run (lua);
}

/* Two threads, each with its own state, stuck in C at once: each timer
 * stops its own thread. */
static gpointer
stuck_thread (gpointer data)
{
  StLuaLimits limits = { G_GUINT64_CONSTANT (1000000000000), 300, 16 * MIB };
  g_autoptr (StLua) lua = st_lua_new (&limits);
  g_autoptr (TestHost) host = test_host_new ();
  g_autoptr (GError) error = NULL;

  if (run_script (lua, data, host, &error))
    return g_strdup ("the stuck script succeeded");
  if (strstr (error->message, "time limit of 300 ms") == NULL)
    return g_strdup (error->message);
  assert_good_run (lua);
  return NULL;
}

static void
test_escape_threads (void)
{
  g_autofree char *source = g_strdup_printf (escape_template, PATTERN_BOMB);
  g_autoptr (StScript) script = load_good_script ("stuck.lua", source);
  GThread *threads[3];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("stuck", stuck_thread, script);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      g_autofree char *failure = g_thread_join (threads[i]);

      g_assert_null (failure);
    }
}

/* A host call outlasting the time limit is not interrupted (it may hold
 * locks, or be inside libpq): the call is stopped when it returns. */
static void
test_escape_slow_host (void)
{
  StLuaLimits limits = { G_GUINT64_CONSTANT (1000000000000), 200, 16 * MIB };
  g_autoptr (StLua) lua = st_lua_new (&limits);
  g_autofree char *source = g_strdup_printf (
      escape_template, "steward.customer(21)\n"
                       "steward.tag(customer, 'after-slow-call')");
  g_autoptr (StScript) script = load_good_script ("slow.lua", source);
  g_autoptr (TestHost) host = test_host_new ();
  g_autoptr (GError) error = NULL;

  g_assert_false (run_script (lua, script, host, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_FAILED);
  assert_contains (error->message, "escape: time limit of 200 ms reached");
  g_assert_cmpuint (host->slow_done, ==, 1);
  g_assert_cmpuint (host->actions->len, ==, 0);
  assert_good_run (lua);
}

/* Zero limits are the defaults (10M instructions, 2 s, 32 MiB). */
static void
test_escape_default_limits (void)
{
  g_autoptr (StLua) lua = st_lua_new (NULL);
  g_autofree char *source = g_strdup_printf (
      escape_template, "local t = {} for i = 1, 1e9 do t[i] = i end");
  g_autoptr (StScript) script = load_good_script ("defaults.lua", source);
  g_autoptr (TestHost) host = test_host_new ();
  g_autoptr (GError) error = NULL;

  g_assert_false (run_script (lua, script, host, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_FAILED);
  assert_contains (error->message, "memory limit of 33554432 bytes reached");
  assert_good_run (lua);
}

/* ---- fresh state per run --------------------------------------------------
 */

static void
test_run_top_level_local (void)
{
  g_autoptr (StScript) script = load_good_script (
      "counter.lua",
      "local count = 0\n"
      "counter_global = (counter_global or 0) + 1\n"
      "return {\n"
      "  name = 'counter',\n"
      "  on = { 'purchase' },\n"
      "  run = function(customer, event)\n"
      "    count = count + 1\n"
      "    steward.log('info', count .. ' ' .. counter_global)\n"
      "  end,\n"
      "}\n");
  g_autoptr (StLua) lua = st_lua_new (&test_limits);
  g_autoptr (TestHost) host = test_host_new ();

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_true (run_script (lua, script, host, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (host->logs->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpstr (host->logs->pdata[i], ==, "info 1 1");
}

static void
test_run_error_line (void)
{
  g_autoptr (StScript) script
      = load_good_script ("fails.lua", "return {\n"
                                       "  name = 'fails',\n"
                                       "  on = { 'purchase' },\n"
                                       "  run = function(customer, event)\n"
                                       "    local x = nil\n"
                                       "    return x.field\n"
                                       "  end,\n"
                                       "}\n");
  g_autoptr (StLua) lua = st_lua_new (&test_limits);
  g_autoptr (TestHost) host = test_host_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *prefix = g_strdup_printf ("fails: %s:6: ", script->path);

  g_assert_false (run_script (lua, script, host, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  assert_contains (error->message, "attempt to index a nil value");
}

static void
test_run_broken (void)
{
  g_autoptr (StScript) script
      = load_script ("broken.lua", "return { name = 'broken' }");
  g_autoptr (StLua) lua = st_lua_new (&test_limits);
  g_autoptr (TestHost) host = test_host_new ();
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (script->error);
  g_assert_false (run_script (lua, script, host, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_FAILED);
  assert_contains (error->message, "broken: the script is broken");
}

/* The compiled chunk is cached per script; a changed text is compiled
 * again, and several scripts share a state. */
static void
test_run_cache (void)
{
  g_autoptr (StLua) lua = st_lua_new (&test_limits);
  g_autoptr (TestHost) host = test_host_new ();
  g_autoptr (StScript) a = load_good_script (
      "cache-a.lua", "return { name = 'cache-a', on = { 'purchase' },\n"
                     "  run = function() steward.log('info', 'a') end }\n");
  g_autoptr (StScript) b = load_good_script (
      "cache-b.lua", "return { name = 'cache-b', on = { 'purchase' },\n"
                     "  run = function() steward.log('info', 'b') end }\n");

  for (guint i = 0; i < 2; i++)
    {
      g_assert_true (run_script (lua, a, host, NULL));
      g_assert_true (run_script (lua, b, host, NULL));
    }
  g_free (a->source);
  a->source
      = g_strdup ("return { name = 'cache-a', on = { 'purchase' },\n"
                  "  run = function() steward.log('info', 'a2') end }\n");
  g_assert_true (run_script (lua, a, host, NULL));
  g_assert_cmpuint (host->logs->len, ==, 5);
  g_assert_cmpstr (host->logs->pdata[3], ==, "info b");
  g_assert_cmpstr (host->logs->pdata[4], ==, "info a2");
}

static void
test_run_require (void)
{
  g_autoptr (StLua) lua = st_lua_new (&test_limits);
  g_autoptr (TestHost) host = test_host_new ();
  g_autoptr (StScript) script = NULL;
  g_autofree char *util = NULL;
  g_autofree char *broken = NULL;
  g_autofree char *loop_a = NULL;
  g_autofree char *loop_b = NULL;

  util = write_file ("lib/util.lua",
                     "local loads = 0\n"
                     "loads = loads + 1\n"
                     "return { loads = loads, greet = function(name)\n"
                     "  return 'hello ' .. name end }\n");
  broken = write_file ("lib/broken.lua", "return {\n");
  loop_a = write_file ("lib/loop_a.lua", "return require('lib.loop_b')\n");
  loop_b = write_file ("lib/loop_b.lua", "return require('lib.loop_a')\n");
  script = load_good_script (
      "requires.lua",
      "return { name = 'requires', on = { 'purchase' },\n"
      "  run = function(customer)\n"
      "    local util = require('lib.util')\n"
      "    assert(require('lib.util') == util, 'cached within the call')\n"
      "    steward.log('info', util.greet(customer.name) .. ' ' .. "
      "util.loads)\n"
      "    local ok, err = pcall(require, 'lib.missing')\n"
      "    assert(not ok and err:find('not found'), err)\n"
      "    ok, err = pcall(require, 'lib.broken')\n"
      "    assert(not ok and err:find('broken.lua:2:'), err)\n"
      "    ok, err = pcall(require, 'lib.loop_a')\n"
      "    assert(not ok and err:find('requires itself'), err)\n"
      "    ok, err = pcall(require, 'Lib.Util')\n"
      "    assert(not ok and err:find('not allowed'), err)\n"
      "  end }\n");
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (GError) error = NULL;

      if (!run_script (lua, script, host, &error))
        g_error ("%s", error->message);
    }
  g_assert_cmpuint (host->logs->len, ==, 2);
  g_assert_cmpstr (host->logs->pdata[0], ==, "info hello Ada 1");
  g_assert_cmpstr (host->logs->pdata[1], ==, "info hello Ada 1");
}

/* ---- the steward module: argument checks -------------------------------- */

typedef struct
{
  const char *name;
  const char *body;
  const char *expect;
} ArgCase;

static const ArgCase arg_cases[] = {
  { "send-no-table", "steward.send()",
    "steward.send: expects one table of named arguments" },
  { "send-key-missing",
    "steward.send{ customer = customer, channel = 'email', template = 't' }",
    "steward.send: argument 'key' is required (a string that makes the "
    "message unique, e.g. 'thanks:' .. event.id)" },
  { "send-key-number",
    "steward.send{ customer = customer, channel = 'email', template = 't',\n"
    "              key = 5 }",
    "steward.send: argument 'key' must be a string that makes the message "
    "unique, e.g. 'thanks:' .. event.id, got 5" },
  { "send-unknown",
    "steward.send{ customer = customer, channel = 'email', templte = 't',\n"
    "              key = 'k' }",
    "steward.send: unknown argument 'templte' (known: customer, template, "
    "body, subject, channel, key, data, delay)" },
  { "send-positional", "steward.send{ customer, 'email' }",
    "steward.send: arguments must be named (name = value), got a number key" },
  { "send-both",
    "steward.send{ customer = customer, channel = 'email', key = 'k',\n"
    "              template = 't', body = 'b' }",
    "steward.send: give argument 'template' or 'body', not both" },
  { "send-neither",
    "steward.send{ customer = customer, channel = 'email', key = 'k' }",
    "steward.send: argument 'template' or 'body' is required" },
  { "send-customer-string",
    "steward.send{ customer = 'abc', channel = 'email', key = 'k', body = "
    "'b' }",
    "steward.send: argument 'customer' must be a customer table or a "
    "customer id, got 'abc'" },
  { "send-customer-no-id",
    "steward.send{ customer = { name = 'x' }, channel = 'email', key = 'k',\n"
    "              body = 'b' }",
    "steward.send: argument 'customer' is a table without a valid 'id'" },
  { "send-customer-missing",
    "steward.send{ channel = 'email', key = 'k', body = 'b' }",
    "steward.send: argument 'customer' is required" },
  { "send-channel-missing",
    "steward.send{ customer = customer, key = 'k', body = 'b' }",
    "steward.send: argument 'channel' is required" },
  { "send-data-function",
    "steward.send{ customer = customer, channel = 'email', key = 'k',\n"
    "              body = 'b', data = { cb = print or function() end } }",
    "steward.send: argument 'data': data.cb is a function, which cannot be "
    "passed on" },
  { "send-data-cycle",
    "local t = { a = {} } t.a.back = t\n"
    "steward.send{ customer = customer, channel = 'email', key = 'k',\n"
    "              body = 'b', data = t }",
    "steward.send: argument 'data': data.a.back contains itself (a cycle)" },
  { "send-data-list",
    "steward.send{ customer = customer, channel = 'email', key = 'k',\n"
    "              body = 'b', data = { 1, 2 } }",
    "steward.send: argument 'data' must be a table of named values (name = "
    "value), not a list" },
  { "send-data-mixed",
    "steward.send{ customer = customer, channel = 'email', key = 'k',\n"
    "              body = 'b', data = { 1, x = 2 } }",
    "steward.send: argument 'data': data is neither a list" },
  { "send-data-holes",
    "steward.send{ customer = customer, channel = 'email', key = 'k',\n"
    "              body = 'b', data = { list = { 1, nil, 3 } } }",
    "data.list is neither a list" },
  { "send-data-utf8",
    "steward.send{ customer = customer, channel = 'email', key = 'k',\n"
    "              body = 'b', data = { x = '\\255' } }",
    "steward.send: argument 'data': data.x is not valid UTF-8 text" },
  { "send-delay-text",
    "steward.send{ customer = customer, channel = 'email', key = 'k',\n"
    "              body = 'b', delay = '5x' }",
    "steward.send: argument 'delay' must be a whole number of seconds up to "
    "100 years, or a duration such as '30s', '5m', '2h', '7d' or '2w', got "
    "'5x'" },
  { "send-delay-negative",
    "steward.send{ customer = customer, channel = 'email', key = 'k',\n"
    "              body = 'b', delay = -1 }",
    "steward.send: argument 'delay' must be a whole number of seconds" },
  /* Beyond 100 years a delay is a mistake, and PostgreSQL's interval
   * would fail the whole call at commit with no argument named. */
  { "send-delay-huge",
    "steward.send{ customer = customer, channel = 'email', key = 'k',\n"
    "              body = 'b', delay = math.maxinteger }",
    "steward.send: argument 'delay' must be a whole number of seconds up to "
    "100 years" },
  { "send-delay-huge-text",
    "steward.send{ customer = customer, channel = 'email', key = 'k',\n"
    "              body = 'b', delay = '99999999w' }",
    "steward.send: argument 'delay' must be a whole number of seconds up to "
    "100 years" },
  { "follow-up-after-huge",
    "steward.follow_up{ customer = customer, after = '36501d', key = 'k' }",
    "steward.follow_up: argument 'after' must be a positive whole number of "
    "seconds up to 100 years" },
  /* Keys live in unique indexes, whose rows hold at most 2704 bytes:
   * longer keys failed at commit with PostgreSQL's words, no argument named. */
  { "send-key-long",
    "steward.send{ customer = customer, channel = 'email',\n"
    "              key = string.rep('k', 501), body = 'b' }",
    "steward.send: argument 'key' must be at most 500 characters, got 501" },
  { "follow-up-key-long",
    "steward.follow_up{ customer = customer, after = '1d',\n"
    "                   key = string.rep('k', 501) }",
    "steward.follow_up: argument 'key' must be at most 500 characters, got "
    "501" },
  { "send-host-fails",
    "steward.send{ customer = customer, channel = 'email', key = 'fail',\n"
    "              body = 'b' }",
    "steward.send: the outbox is closed" },
  { "alert-severity",
    "steward.alert{ kind = 'x', message = 'm', severity = 'urgent' }",
    "steward.alert: argument 'severity' must be 'info', 'warning' or "
    "'critical', got 'urgent'" },
  { "alert-kind-missing", "steward.alert{ message = 'm' }",
    "steward.alert: argument 'kind' is required" },
  { "alert-message-missing", "steward.alert{ kind = 'churn_risk' }",
    "steward.alert: argument 'message' is required" },
  { "set-stage-missing", "steward.set_stage(customer)",
    "steward.set_stage: argument 'stage' is required" },
  { "set-stage-unknown",
    "steward.set_stage{ customer = customer, stag = 'active' }",
    "steward.set_stage: unknown argument 'stag'" },
  { "set-stage-customer-zero", "steward.set_stage(0, 'active')",
    "steward.set_stage: argument 'customer' must be a customer table or a "
    "customer id, got 0" },
  { "set-stage-reason-number", "steward.set_stage(customer, 'active', 5)",
    "steward.set_stage: argument 'reason' must be a text saying why, got 5" },
  { "tag-missing", "steward.tag(customer)",
    "steward.tag: argument 'tag' is required" },
  { "untag-number", "steward.untag(customer, 5)",
    "steward.untag: argument 'tag' must be a tag, e.g. 'vip', got 5" },
  { "follow-up-after-zero",
    "steward.follow_up{ customer = customer, after = 0, key = 'k' }",
    "steward.follow_up: argument 'after' must be a positive whole number of "
    "seconds up to 100 years, or a duration" },
  { "follow-up-after-missing",
    "steward.follow_up{ customer = customer, key = 'k' }",
    "steward.follow_up: argument 'after' is required" },
  { "follow-up-key-missing",
    "steward.follow_up{ customer = customer, after = '1d' }",
    "steward.follow_up: argument 'key' is required" },
  { "set-health-score",
    "steward.set_health{ customer = customer, score = 140 }",
    "steward.set_health: argument 'score' must be an integer from 0 to 100, "
    "got 140" },
  { "set-health-score-float",
    "steward.set_health{ customer = customer, score = 1.5 }",
    "steward.set_health: argument 'score' must be an integer from 0 to 100, "
    "got 1.5" },
  /* A risk level is a short label: report health groups by it and prints
   * it in a table column. */
  { "set-health-risk-long",
    "steward.set_health{ customer = customer, score = 50,\n"
    "                    risk = string.rep('r', 33) }",
    "steward.set_health: argument 'risk' must be a risk level of 1 to 32 "
    "characters without control characters, e.g. 'high'" },
  { "set-health-risk-newline",
    "steward.set_health{ customer = customer, score = 50, risk = 'hi\\ngh' }",
    "steward.set_health: argument 'risk' must be a risk level of 1 to 32 "
    "characters" },
  /* NaN and infinities would be stored as null, a factor with no value. */
  { "set-health-factor-nan",
    "steward.set_health{ customer = customer, score = 50,\n"
    "                    factors = { recency = 0/0 } }",
    "steward.set_health: argument 'factors' must map factor names to finite "
    "numbers, not NaN or an infinity as for 'recency'" },
  { "set-health-factors",
    "steward.set_health{ customer = customer, score = 50,\n"
    "                    factors = { nps = 'high' } }",
    "steward.set_health: argument 'factors' must map factor names to "
    "numbers, got 'high' for 'nps'" },
  { "customer-string", "steward.customer('x')",
    "steward.customer: argument 'id' must be a customer table or a customer "
    "id, got 'x'" },
  { "customer-host-error", "steward.customer(13)",
    "steward.customer: the database is away" },
  { "events-unknown-filter", "steward.events(customer, { kinds = 'x' })",
    "steward.events: unknown filter 'kinds' (known: kind, since, limit)" },
  { "events-limit", "steward.events(customer, { limit = 0 })",
    "steward.events: filter 'limit' must be a positive integer, got 0" },
  { "log-level", "steward.log('loud', 'x')",
    "steward.log: argument 'level' must be 'debug', 'info', 'warning' or "
    "'error', got 'loud'" },
  { "log-message", "steward.log('info', {})",
    "steward.log: argument 'message' must be a string, got table" },
};

static void
test_arg (gconstpointer data)
{
  const ArgCase *c = data;
  g_autofree char *source = g_strdup_printf (escape_template, c->body);
  g_autofree char *file = g_strdup_printf ("args-%s.lua", c->name);
  g_autoptr (StScript) script = load_good_script (file, source);
  g_autoptr (StLua) lua = st_lua_new (&test_limits);
  g_autoptr (TestHost) host = test_host_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *where = g_strdup_printf ("%s:", script->path);

  g_assert_false (run_script (lua, script, host, &error));
  g_assert_error (error, ST_ERROR, ST_ERROR_FAILED);
  assert_contains (error->message, c->expect);
  /* The line of the call in the script. */
  assert_contains (error->message, where);
  g_assert_cmpuint (host->actions->len, ==, 0);
}

/* ---- the steward module: what the host receives --------------------------
 */

static void
run_body_expect (const char *body, const char *const *expected)
{
  g_autofree char *source = g_strdup_printf (escape_template, body);
  g_autoptr (StScript) script = load_good_script ("actions.lua", source);
  g_autoptr (StLua) lua = st_lua_new (&test_limits);
  g_autoptr (TestHost) host = test_host_new ();
  g_autoptr (GError) error = NULL;
  guint n = g_strv_length ((char **) expected);

  if (!run_script (lua, script, host, &error))
    g_error ("%s", error->message);
  g_assert_cmpuint (host->actions->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      const char *space = strchr (expected[i], ' ');
      g_autofree char *name = g_strndup (expected[i], space - expected[i]);
      g_autoptr (GVariant) args = g_variant_parse (
          G_VARIANT_TYPE_VARDICT, space + 1, NULL, NULL, &error);
      g_autofree char *text = NULL;
      g_autofree char *want = NULL;

      g_assert_no_error (error);
      text = canonical_text (args);
      want = g_strdup_printf ("%s %s", name, text);
      g_assert_cmpstr (host->actions->pdata[i], ==, want);
    }
}

static void
test_steward_send (void)
{
  const char *const expected[] = {
    "send {'customer_id': <int64 7>, 'channel': <'email'>, "
    "'key': <'thanks:42'>, 'template': <'thank_you'>, "
    "'data': <{'amount': <19.99>, 'items': <[<'a'>, <int64 2>]>, "
    "'vip': <true>, 'nested': <{'deep': <'x'>}>, 'empty': <@a{sv} {}>}>, "
    "'delay': <int64 7200>}",
    "send {'customer_id': <int64 12>, 'channel': <'sms'>, 'key': <'k2'>, "
    "'body': <'Hi'>, 'subject': <'Hello'>, 'delay': <int64 90>}",
    "send {'customer_id': <int64 7>, 'channel': <'email'>, 'key': <'k3'>, "
    "'template': <'t'>, 'delay': <int64 1209600>}",
    NULL
  };

  run_body_expect (
      "steward.send{ customer = customer, channel = 'email',\n"
      "  template = 'thank_you', key = 'thanks:' .. event.id,\n"
      "  data = { amount = event.amount, items = { 'a', 2 }, vip = true,\n"
      "           nested = { deep = 'x' }, empty = {} }, delay = '2h' }\n"
      "steward.send{ customer = 12, channel = 'sms', key = 'k2',\n"
      "  body = 'Hi', subject = 'Hello', delay = 90 }\n"
      "steward.send{ customer = customer, channel = 'email', key = 'k3',\n"
      "  template = 't', delay = '2w' }",
      expected);
}

static void
test_steward_actions (void)
{
  const char *const expected[] = {
    "alert {'kind': <'churn_risk'>, 'message': <'quiet'>, "
    "'severity': <'warning'>}",
    "alert {'customer_id': <int64 7>, 'kind': <'x'>, 'message': <'m'>, "
    "'severity': <'critical'>, 'data': <{'days': <int64 30>}>}",
    "set_stage {'customer_id': <int64 7>, 'stage': <'at_risk'>, "
    "'reason': <'quiet'>}",
    "set_stage {'customer_id': <int64 7>, 'stage': <'active'>}",
    "set_stage {'customer_id': <int64 8>, 'stage': <'churned'>, "
    "'reason': <'r'>}",
    "tag {'customer_id': <int64 7>, 'tag': <'vip'>}",
    "untag {'customer_id': <int64 7>, 'tag': <'trial'>}",
    "follow_up {'customer_id': <int64 7>, 'after': <int64 604800>, "
    "'key': <'survey:42'>, 'data': <{'n': <int64 1>}>}",
    "follow_up {'customer_id': <int64 7>, 'after': <int64 60>, "
    "'key': <'k'>}",
    "set_health {'customer_id': <int64 7>, 'score': <int32 42>, "
    "'factors': <{'nps': <12.0>, 'recency': <-30.0>}>, 'risk': <'high'>}",
    "set_health {'customer_id': <int64 7>, 'score': <int32 0>}",
    NULL
  };

  run_body_expect (
      "steward.alert{ kind = 'churn_risk', message = 'quiet' }\n"
      "steward.alert{ customer = customer, kind = 'x', message = 'm',\n"
      "  severity = 'critical', data = { days = 30 } }\n"
      "steward.set_stage(customer, 'at_risk', 'quiet')\n"
      "steward.set_stage(7, 'active')\n"
      "steward.set_stage{ customer = 8, stage = 'churned', reason = 'r' }\n"
      "steward.tag(customer, 'vip')\n"
      "steward.untag(customer.id, 'trial')\n"
      "steward.follow_up{ customer = customer, after = '7d',\n"
      "  key = 'survey:' .. event.id, data = { n = 1 } }\n"
      "steward.follow_up{ customer = customer, after = 60, key = 'k' }\n"
      "steward.set_health{ customer = customer, score = 42,\n"
      "  factors = { recency = -30, nps = 12 }, risk = 'high' }\n"
      "steward.set_health{ customer = customer, score = 0.0 }",
      expected);
}

static void
test_steward_reads (void)
{
  g_autofree char *source = g_strdup_printf (
      escape_template,
      "local c = steward.customer(7)\n"
      "assert(c.name == 'Ada' and math.type(c.id) == 'integer')\n"
      "assert(steward.customer(customer).stage == 'active')\n"
      "assert(steward.customer(99) == nil)\n"
      "local ok, err = pcall(steward.customer, 13)\n"
      "assert(not ok and err:find('the database is away'), err)\n"
      "local list = steward.events(customer, { kind = 'purchase',\n"
      "  since = 1700000000.7, limit = 5 })\n"
      "assert(#list == 2 and list[1].kind == 'purchase')\n"
      "assert(list[1].amount == 19.5 and list[2].id == 1)\n"
      "assert(#steward.events(99) == 0)\n"
      "assert(steward.now() == 1700000000.5)\n"
      "steward.log('warning', 'careful')\n"
      "steward.log('debug', 12)\n");
  g_autoptr (StScript) script = load_good_script ("reads.lua", source);
  g_autoptr (StLua) lua = st_lua_new (&test_limits);
  g_autoptr (TestHost) host = test_host_new ();
  g_autoptr (GError) error = NULL;

  if (!run_script (lua, script, host, &error))
    g_error ("%s", error->message);
  g_assert_cmpstr (host->filter, ==, "@a{sv} {}");
  g_assert_cmpuint (host->logs->len, ==, 2);
  g_assert_cmpstr (host->logs->pdata[0], ==, "warning careful");
  g_assert_cmpstr (host->logs->pdata[1], ==, "debug 12");
}

static void
test_steward_events_filter (void)
{
  g_autofree char *source = g_strdup_printf (
      escape_template, "steward.events(customer, { kind = 'purchase',\n"
                       "  since = 1700000000.7, limit = 5 })\n");
  g_autoptr (StScript) script = load_good_script ("filter.lua", source);
  g_autoptr (StLua) lua = st_lua_new (&test_limits);
  g_autoptr (TestHost) host = test_host_new ();

  g_assert_true (run_script (lua, script, host, NULL));
  g_assert_cmpstr (host->filter, ==,
                   "{'kind': <'purchase'>, 'limit': <int64 5>, "
                   "'since': <int64 1700000000>}");
}

/* Argument errors are ordinary Lua errors: pcall catches them. */
static void
test_steward_pcall (void)
{
  const char *const expected[]
      = { "tag {'customer_id': <int64 7>, 'tag': <'after'>}", NULL };

  run_body_expect ("local ok, err = pcall(steward.send, {})\n"
                   "assert(not ok and err:find('steward.send'), err)\n"
                   "steward.tag(customer, 'after')",
                   expected);
}

/* ---- conversions ------------------------------------------------------- */

static void
test_convert_to_lua (void)
{
  const char *const expected[] = { NULL };

  run_body_expect (
      "assert(math.type(customer.id) == 'integer' and customer.id == 7)\n"
      "assert(math.type(customer.score) == 'integer')\n"
      "assert(math.type(customer.revenue) == 'float')\n"
      "assert(customer.active == true)\n"
      "assert(#customer.tags == 2 and customer.tags[2] == 'beta')\n"
      "assert(customer.attributes.plan == 'pro')\n"
      "assert(math.type(customer.attributes.seats) == 'integer')\n"
      "assert(customer.mixed[1] == 1 and customer.mixed[2] == 'two')\n"
      "assert(customer.nothing == nil)\n"
      "assert(math.type(event.id) == 'integer' and event.amount == 19.99)\n",
      expected);
}

/* A row's jsonb as PostgreSQL writes it: a number beyond a 64-bit integer
 * (a 1e20 comes as 100000000000000000000) is the float it was, not a
 * wrapped-around integer. */
static void
test_convert_row_big_numbers (void)
{
  static const char source[] =
      "return { name = 'big', on = { 'purchase' },\n"
      "  run = function(customer, event)\n"
      "    local a = customer.attrs\n"
      "    assert(math.type(a.big) == 'float' and a.big == 1e20, 'big')\n"
      "    assert(a.neg == -1e19, 'neg')\n"
      "    assert(math.type(a.max) == 'integer' and a.max == math.maxinteger)\n"
      "    assert(a.list[1] == 1e20 and a.list[2] == 'x 100000000000000000000')\n"
      "    assert(event.data.huge == 1.5e30, 'huge')\n"
      "  end }\n";
  static const char *const names[] = { "id", "attrs" };
  static const int kinds[] = { ST_COLUMN_INT64, ST_COLUMN_JSON };
  static const char *const values[] = {
    "7", "{\"big\": 100000000000000000000, \"neg\": -10000000000000000000,"
         " \"max\": 9223372036854775807,"
         " \"list\": [100000000000000000000, \"x 100000000000000000000\"]}"
  };
  static const char *const event_names[] = { "id", "kind", "data" };
  static const int event_kinds[] = { ST_COLUMN_INT64, ST_COLUMN_TEXT,
                                     ST_COLUMN_JSON };
  static const char *const event_values[] = {
    "42", "purchase", "{\"huge\": 1500000000000000000000000000000}"
  };
  const StLuaRow customer = { 2, names, kinds, values };
  const StLuaRow event = { 3, event_names, event_kinds, event_values };
  const char *const folders[] = { test_dir, NULL };
  g_autoptr (StScript) script = load_good_script ("big.lua", source);
  g_autoptr (StLua) lua = st_lua_new (&test_limits);
  g_autoptr (TestHost) host = test_host_new ();
  g_autoptr (GError) error = NULL;

  if (!st_lua_run_row (lua, script, folders, &customer, &event, NULL,
                       &test_host, host, &error))
    g_error ("%s", error->message);
}

static void
test_convert_round_trip (void)
{
  const char *const expected[] = {
    "send {'customer_id': <int64 7>, 'channel': <'email'>, 'key': <'k'>, "
    "'body': <'b'>, 'data': <{'id': <int64 7>, 'name': <'Ada'>, "
    "'stage': <'active'>, 'tags': <[<'vip'>, <'beta'>]>, "
    "'score': <int64 80>, 'revenue': <1234.5>, 'active': <true>, "
    "'attributes': <{'plan': <'pro'>, 'seats': <int64 5>}>, "
    "'mixed': <[<int64 1>, <'two'>]>}>}",
    NULL
  };

  run_body_expect ("steward.send{ customer = customer, channel = 'email',\n"
                   "  key = 'k', body = 'b', data = customer }",
                   expected);
}

static void
test_convert_refused (void)
{
  /* A table used twice is not a cycle. */
  const char *const expected[] = {
    "send {'customer_id': <int64 7>, 'channel': <'email'>, 'key': <'k'>, "
    "'body': <'b'>, 'data': <{'a': <[<int64 1>]>, 'b': <[<int64 1>]>}>}",
    NULL
  };

  run_body_expect (
      "local function try(data)\n"
      "  local ok, err = pcall(steward.send, { customer = customer,\n"
      "    channel = 'email', key = 'k', body = 'b', data = data })\n"
      "  assert(not ok) return err\n"
      "end\n"
      "assert(try({ f = try }):find('data.f is a function'))\n"
      "assert(try({ t = { [true] = 1 } }):find('data.t is neither'))\n"
      "assert(try({ t = { [1.5] = 1 } }):find('data.t is neither'))\n"
      "local deep = {} local t = deep\n"
      "for i = 1, 40 do t.x = {} t = t.x end\n"
      "assert(try(deep):find('nested too deeply'))\n"
      "local shared = { 1 }\n"
      "steward.send{ customer = customer, channel = 'email', key = 'k',\n"
      "  body = 'b', data = { a = shared, b = shared } }\n",
      expected);
}

/* ---- loading scripts -------------------------------------------------------
 */

static void
assert_broken (const char *file, const char *source, const char *suffix)
{
  g_autoptr (StScript) script = load_script (file, source);
  g_autofree char *prefix = g_strdup_printf ("%s%s", script->path, suffix);

  g_assert_nonnull (script->error);
  if (!g_str_has_prefix (script->error, prefix))
    g_error ("expected “%s…”, got “%s”", prefix, script->error);
}

static void
test_script_load (void)
{
  g_autoptr (StScript) script = load_good_script (
      "thank-you.lua",
      "-- a comment\n"
      "return {\n"
      "  name = 'thank-you',\n"
      "  description = 'Thank the customer after each purchase',\n"
      "  on = { 'purchase', 'stage:onboarding', 'ticket.closed-2' },\n"
      "  delay = '2h',\n"
      "  run = function(customer, event) end,\n"
      "}\n");

  g_assert_cmpstr (script->name, ==, "thank-you");
  g_assert_cmpstr (script->description, ==,
                   "Thank the customer after each purchase");
  g_assert_true (g_path_is_absolute (script->path));
  g_assert_true (g_str_has_suffix (script->path, "/thank-you.lua"));
  g_assert_cmpuint (g_strv_length (script->on), ==, 3);
  g_assert_cmpstr (script->on[1], ==, "stage:onboarding");
  g_assert_cmpint (script->delay, ==, 7200);
  g_assert_null (script->schedule);
  g_assert_null (script->error);
  assert_contains (script->source, "a comment");
}

static void
test_script_campaign (void)
{
  g_autoptr (StScript) script = load_good_script (
      "win-back.lua", "return {\n"
                      "  name = 'win_back',\n"
                      "  schedule = '0 9 * * 1',\n"
                      "  local_time = true,\n"
                      "  audience = { stage = 'churned', tags = { 'vip' },\n"
                      "               events = { purchase = {\n"
                      "                 older_than = '30d' } } },\n"
                      "  run = function() end,\n"
                      "}\n");

  g_assert_cmpstr (script->schedule, ==, "0 9 * * 1");
  g_assert_true (script->local_time);
  g_assert_cmpstr (
      script->audience_json, ==,
      "{\"events\":{\"purchase\":{\"older_than\":\"30d\"}},"
      "\"stage\":\"churned\",\"tags\":[\"vip\"]}");
  g_assert_null (script->on);
}

static void
test_script_errors (void)
{
  assert_broken ("syntax.lua", "return {\n  name = 'x'\n  on = { 'a' },\n}\n",
                 ":3: ");
  assert_broken ("runtime.lua", "local x = 1\nerror('boom')\n", ":2: boom");
  assert_broken ("not-table.lua", "return 42",
                 ": the file must return a table");
  assert_broken ("no-name.lua", "return { on = { 'a' }, run = print }",
                 ": name: is required");
  assert_broken ("bad-name.lua",
                 "return { name = 'Thank You', on = { 'a' }, run = function() "
                 "end }",
                 ": name: must be 1 to 64");
  assert_broken ("bad-on.lua",
                 "return { name = 'x', on = { 'purchase', 'Purchase' },\n"
                 "  run = function() end }",
                 ": on: entry 2 is 'Purchase'");
  assert_broken ("bad-stage.lua",
                 "return { name = 'x', on = { 'stage:Active' },\n"
                 "  run = function() end }",
                 ": on: entry 1 is 'stage:Active'");
  assert_broken ("on-string.lua",
                 "return { name = 'x', on = 'purchase', run = function() end "
                 "}",
                 ": on: must be a list");
  assert_broken ("no-on.lua", "return { name = 'x', run = function() end }",
                 ": on: is required");
  assert_broken ("no-run.lua", "return { name = 'x', on = { 'a' } }",
                 ": run: is required");
  assert_broken ("run-string.lua",
                 "return { name = 'x', on = { 'a' }, run = 'go' }",
                 ": run: must be a function");
  assert_broken ("bad-delay.lua",
                 "return { name = 'x', on = { 'a' }, delay = '2 hours',\n"
                 "  run = function() end }",
                 ": delay: must be a whole number");
  assert_broken ("huge-delay.lua",
                 "return { name = 'x', on = { 'a' }, delay = '5000000w',\n"
                 "  run = function() end }",
                 ": delay: must be a whole number of seconds up to 100 years");
  assert_broken ("unknown-key.lua",
                 "return { name = 'x', on = { 'a' }, runn = function() end }",
                 ": unknown key 'runn' in the returned table (known keys: "
                 "name, description, on, delay, run, schedule, audience, "
                 "local_time)");
  assert_broken ("schedule-alone.lua",
                 "return { name = 'x', schedule = '@daily' }",
                 ": audience: is required with schedule");
  assert_broken ("campaign-without-run.lua",
                 "return { name = 'x', schedule = '@daily',\n"
                 "  audience = { stage = 'active' } }",
                 ": run: is required");
  assert_broken ("audience-alone.lua",
                 "return { name = 'x', on = { 'a' }, run = print,\n"
                 "  audience = { stage = 'x' } }",
                 ": schedule: is required");
  assert_broken ("audience-typo.lua",
                 "return { name = 'x', schedule = '@daily',\n"
                 "  audience = { stage = 'active', min_days = 30 },\n"
                 "  run = function() end }",
                 ": audience: unknown key 'min_days'");
  assert_broken ("audience-bad-duration.lua",
                 "return { name = 'x', schedule = '@daily',\n"
                 "  audience = { events = { purchase = { older_than = '3 "
                 "months' } } },\n"
                 "  run = function() end }",
                 ": audience.events.purchase.older_than: ");
  assert_broken ("bad-schedule.lua",
                 "return { name = 'x', schedule = '0 9 32 * *',\n"
                 "  audience = { all = true }, run = function() end }",
                 ": schedule: day-of-month: 32 is out of range 1-31");
  assert_broken ("load-loop.lua", "while true do end",
                 ": instruction limit of 2000000 reached");
  assert_broken ("load-action.lua",
                 "steward.tag(1, 'x')\nreturn { name = 'x' }",
                 ":1: steward.tag: not available while the script file is "
                 "loading");
}

static void
test_script_long_path (void)
{
  g_autofree char *file = g_strdup_printf (
      "%s/%s/%s.lua", "a-rather-long-folder-name-for-scripts",
      "and-another-one-to-pass-sixty-characters", "deep");
  g_autoptr (StScript) script
      = load_script (file, "return {\n  name = 'deep',\n  on = {\n");
  g_autofree char *prefix = g_strdup_printf ("%s:4: ", script->path);

  g_assert_nonnull (script->error);
  g_assert_true (g_str_has_prefix (script->error, prefix));
}

static void
test_script_unreadable (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (test_dir, "missing.lua", NULL);
  g_autoptr (StScript) script
      = st_script_load_file (path, &test_limits, &error);

  g_assert_null (script);
  g_assert_error (error, ST_ERROR, ST_ERROR_FAILED);
  assert_contains (error->message, path);
}

static void
test_script_set (void)
{
  g_autofree char *one = g_build_filename (test_dir, "set-one", NULL);
  g_autofree char *two = g_build_filename (test_dir, "set-two", NULL);
  const char *const folders[] = { one, two, NULL };
  g_autoptr (StScriptSet) set = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GPtrArray) triggered = NULL;
  g_autoptr (GPtrArray) staged = NULL;
  const StScript *found;
  StScriptSet *extra;
  const char *const paths[] = {
    "set-one/b-welcome.lua", "set-one/a-thanks.lua",
    "set-one/c-broken.lua",  "set-one/d-dup.lua",
    "set-one/lib/mod.lua",   "set-one/notes.txt",
    "set-two/a-dup.lua",     NULL,
  };
  const char *const texts[] = {
    "return { name = 'welcome', on = { 'stage:onboarding' }, run = function() "
    "end }",
    "return { name = 'thanks', on = { 'purchase' }, run = function() end }",
    "return { name = 'thanks2', on = { 'purchase' }",
    "return { name = 'thanks', on = { 'purchase', 'login' }, run = function() "
    "end }",
    "return {}",
    "not lua",
    "return { name = 'welcome', on = { 'purchase' }, run = function() end }",
  };

  for (guint i = 0; paths[i] != NULL; i++)
    g_free (write_file (paths[i], texts[i]));
  set = st_script_set_load (folders, &test_limits);
  list = st_script_set_list (set);
  g_assert_cmpuint (list->len, ==, 5);
  /* Sorted by name (then path); the broken are listed. */
  g_assert_cmpstr (((StScript *) list->pdata[0])->name, ==, "c-broken");
  g_assert_cmpstr (((StScript *) list->pdata[1])->name, ==, "thanks");
  g_assert_cmpstr (((StScript *) list->pdata[2])->name, ==, "thanks");
  g_assert_cmpstr (((StScript *) list->pdata[3])->name, ==, "welcome");
  g_assert_cmpstr (((StScript *) list->pdata[4])->name, ==, "welcome");
  g_assert_nonnull (((StScript *) list->pdata[0])->error);
  /* d-dup.lua comes after a-thanks.lua: it is the duplicate. */
  g_assert_null (((StScript *) list->pdata[1])->error);
  g_assert_true (
      g_str_has_suffix (((StScript *) list->pdata[1])->path, "a-thanks.lua"));
  assert_contains (((StScript *) list->pdata[2])->error,
                   "name: 'thanks' is already the name of ");
  /* The second folder's welcome comes after the first's. */
  g_assert_true (g_str_has_suffix (((StScript *) list->pdata[3])->path,
                                   "set-one/b-welcome.lua"));
  g_assert_null (((StScript *) list->pdata[3])->error);
  assert_contains (((StScript *) list->pdata[4])->error, "already the name");

  found = st_script_set_find (set, "thanks");
  g_assert_nonnull (found);
  g_assert_null (found->error);
  g_assert_null (st_script_set_find (set, "nobody"));

  triggered = st_script_set_for_trigger (set, "purchase");
  g_assert_cmpuint (triggered->len, ==, 1);
  g_assert_true (triggered->pdata[0] == found);
  staged = st_script_set_for_trigger (set, "stage:onboarding");
  g_assert_cmpuint (staged->len, ==, 1);
  g_assert_cmpstr (((StScript *) staged->pdata[0])->name, ==, "welcome");
  g_ptr_array_unref (triggered);
  triggered = st_script_set_for_trigger (set, "login");
  g_assert_cmpuint (triggered->len, ==, 0);

  g_assert_cmpstr (st_script_set_folders (set)[1], ==, two);
  extra = st_script_set_ref (set);
  g_assert_true (extra == set);
  st_script_set_unref (extra);
  g_assert_cmpstr (st_script_set_find (set, "welcome")->name, ==, "welcome");
}

/* A folder that cannot be read is skipped with a warning (fatal in tests,
 * so in a subprocess). */
static void
test_script_set_missing_folder (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *missing = g_build_filename (test_dir, "nowhere", NULL);
      const char *const folders[] = { missing, NULL };
      g_autoptr (StScriptSet) set = NULL;
      g_autoptr (GPtrArray) list = NULL;

      g_log_set_always_fatal (G_LOG_FATAL_MASK);
      set = st_script_set_load (folders, NULL);
      list = st_script_set_list (set);
      g_assert_cmpuint (list->len, ==, 0);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*scripts folder */nowhere*");
}

/* The scripts and templates a script set hands to require(). */
static void
test_script_set_require (void)
{
  g_autofree char *folder = g_build_filename (test_dir, "set-req", NULL);
  const char *const folders[] = { folder, NULL };
  g_autoptr (StScriptSet) set = NULL;
  g_autoptr (StLua) lua = st_lua_new (&test_limits);
  g_autoptr (TestHost) host = test_host_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) customer = test_customer ();

  g_free (write_file ("set-req/helpers/text.lua",
                      "return { shout = string.upper }\n"));
  g_free (write_file (
      "set-req/shout.lua",
      "local text = require('helpers.text')\n"
      "return { name = 'shout', on = { 'purchase' },\n"
      "  run = function(c) steward.log('info', text.shout(c.name)) end }\n"));
  set = st_script_set_load (folders, &test_limits);
  g_assert_null (st_script_set_find (set, "shout")->error);
  g_assert_true (st_lua_run (lua, st_script_set_find (set, "shout"),
                             st_script_set_folders (set), customer, NULL,
                             &test_host, host, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (host->logs->pdata[0], ==, "info ADA");
}

static void
test_duration (void)
{
  gint64 seconds = -1;

  g_assert_true (st_lua_parse_duration ("30s", &seconds));
  g_assert_cmpint (seconds, ==, 30);
  g_assert_true (st_lua_parse_duration ("5m", &seconds));
  g_assert_cmpint (seconds, ==, 300);
  g_assert_true (st_lua_parse_duration ("2h", &seconds));
  g_assert_cmpint (seconds, ==, 7200);
  g_assert_true (st_lua_parse_duration ("7d", &seconds));
  g_assert_cmpint (seconds, ==, 604800);
  g_assert_true (st_lua_parse_duration ("2w", &seconds));
  g_assert_cmpint (seconds, ==, 1209600);
  g_assert_false (st_lua_parse_duration ("", &seconds));
  g_assert_false (st_lua_parse_duration ("5", &seconds));
  g_assert_false (st_lua_parse_duration ("h", &seconds));
  g_assert_false (st_lua_parse_duration ("-5m", &seconds));
  g_assert_false (st_lua_parse_duration ("5mm", &seconds));
  g_assert_false (st_lua_parse_duration ("1.5h", &seconds));
  g_assert_false (st_lua_parse_duration ("99999999999999w", &seconds));
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  test_dir = g_dir_make_tmp ("steward-lua-XXXXXX", &error);
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (escape_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/lua/escape/%s", escape_cases[i].name);

      g_test_add_data_func (path, &escape_cases[i], test_escape);
    }
  g_test_add_func ("/lua/escape/threads", test_escape_threads);
  g_test_add_func ("/lua/escape/slow-host", test_escape_slow_host);
  g_test_add_func ("/lua/escape/default-limits", test_escape_default_limits);
  g_test_add_func ("/lua/run/top-level-local", test_run_top_level_local);
  g_test_add_func ("/lua/run/error-line", test_run_error_line);
  g_test_add_func ("/lua/run/broken", test_run_broken);
  g_test_add_func ("/lua/run/cache", test_run_cache);
  g_test_add_func ("/lua/run/require", test_run_require);
  for (guint i = 0; i < G_N_ELEMENTS (arg_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/lua/steward/args/%s", arg_cases[i].name);

      g_test_add_data_func (path, &arg_cases[i], test_arg);
    }
  g_test_add_func ("/lua/steward/send", test_steward_send);
  g_test_add_func ("/lua/steward/actions", test_steward_actions);
  g_test_add_func ("/lua/steward/reads", test_steward_reads);
  g_test_add_func ("/lua/steward/events-filter", test_steward_events_filter);
  g_test_add_func ("/lua/steward/pcall", test_steward_pcall);
  g_test_add_func ("/lua/convert/to-lua", test_convert_to_lua);
  g_test_add_func ("/lua/convert/row-big-numbers",
                   test_convert_row_big_numbers);
  g_test_add_func ("/lua/convert/round-trip", test_convert_round_trip);
  g_test_add_func ("/lua/convert/refused", test_convert_refused);
  g_test_add_func ("/lua/script/load", test_script_load);
  g_test_add_func ("/lua/script/campaign", test_script_campaign);
  g_test_add_func ("/lua/script/errors", test_script_errors);
  g_test_add_func ("/lua/script/long-path", test_script_long_path);
  g_test_add_func ("/lua/script/unreadable", test_script_unreadable);
  g_test_add_func ("/lua/script/duration", test_duration);
  g_test_add_func ("/lua/set/load", test_script_set);
  g_test_add_func ("/lua/set/missing-folder", test_script_set_missing_folder);
  g_test_add_func ("/lua/set/require", test_script_set_require);

  status = g_test_run ();
  st_test_remove_tree (test_dir);
  g_free (test_dir);
  return status;
}
