/* The `steward` module scripts see: actions (handed to the host, which
 * buffers them and commits them with the job), reads, and log.
 *
 * Each function exposed to Lua has a doc comment in a fixed form, from
 * which docs/lua.md is written:
 *
 *   /\*** @function steward.name(arguments)
 *    * What it does, in a sentence or two.
 *    * @arg name type, required|optional: meaning  → what the host receives
 *    * @return what the script gets back
 *    * @example
 *    *   steward.name(...)
 *    *\/
 *
 * Each one runs as a critical section (st_lua_critical), since it calls
 * GLib and the host; everything it allocates outside Lua is held
 * (st_lua_hold), so it may raise an error anywhere. Argument errors name
 * the function and the argument. Tables are read raw: no metamethod of the
 * script runs from here. */

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <string.h>

#include "st-error.h"
#include "st-lua-private.h"

typedef struct
{
  lua_State *L;
  const char *fn; /* "steward.send" */
  int table;      /* the table of named arguments, or 0 */
  GHashTable *out; /* name → GVariant, what the host receives */
} StArgs;

/* Raise "<where>MESSAGE", where is the script line calling the function
 * (level 2: level 0 is the implementation, 1 the registered function). */
static int
fail (lua_State *L, const char *format, ...)
{
  va_list args;

  luaL_where (L, 2);
  va_start (args, format);
  lua_pushvfstring (L, format, args);
  va_end (args);
  lua_concat (L, 2);
  return lua_error (L);
}

/* The value at @idx for a message: numbers and short strings as they are,
 * other values by their type. */
static const char *
describe (lua_State *L, int idx)
{
  idx = lua_absindex (L, idx);
  switch (lua_type (L, idx))
    {
    case LUA_TNUMBER:
      if (lua_isinteger (L, idx))
        return lua_pushfstring (L, "%I", lua_tointeger (L, idx));
      return lua_pushfstring (L, "%f", lua_tonumber (L, idx));
    case LUA_TSTRING:
      {
        size_t len;
        const char *text = lua_tolstring (L, idx, &len);

        if (len > 40)
          {
            lua_pushlstring (L, text, 40);
            return lua_pushfstring (L, "'%s...'", lua_tostring (L, -1));
          }
        return lua_pushfstring (L, "'%s'", text);
      }
    default:
      return luaL_typename (L, idx);
    }
}

static int
not_here (lua_State *L, const char *fn)
{
  if (st_lua_loading (st_lua_from_state (L)))
    return fail (L,
                 "%s: not available while the script file is loading "
                 "(call it from run)",
                 fn);
  return fail (L, "%s: not available here", fn);
}

static const char *
push_joined (lua_State *L, const char *const *list)
{
  luaL_Buffer buffer;

  luaL_buffinit (L, &buffer);
  for (guint i = 0; list[i] != NULL; i++)
    {
      if (i > 0)
        luaL_addstring (&buffer, ", ");
      luaL_addstring (&buffer, list[i]);
    }
  luaL_pushresult (&buffer);
  return lua_tostring (L, -1);
}

static void
args_begin (StArgs *a, lua_State *L, const char *fn, int table)
{
  a->L = L;
  a->fn = fn;
  a->table = table;
  a->out = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                  (GDestroyNotify) g_variant_unref);
  st_lua_hold (L, a->out, (GDestroyNotify) g_hash_table_unref);
}

/* As g_variant_dict_insert_value(); @name is a literal or the name of a
 * known argument, which outlive the call. */
static void
args_put (StArgs *a, const char *name, GVariant *value)
{
  g_hash_table_replace (a->out, (gpointer) name, g_variant_ref_sink (value));
}

/* The one argument must be a table whose keys are all in @known. */
static void
args_named (StArgs *a, lua_State *L, const char *fn, const char *const *known,
            const char *example)
{
  if (lua_gettop (L) != 1 || lua_type (L, 1) != LUA_TTABLE)
    fail (L, "%s: expects one table of named arguments, e.g. %s", fn, example);
  lua_pushnil (L);
  while (lua_next (L, 1) != 0)
    {
      lua_pop (L, 1);
      if (lua_type (L, -1) != LUA_TSTRING)
        fail (L, "%s: arguments must be named (name = value), got a %s key",
              fn, luaL_typename (L, -1));
      if (!g_strv_contains (known, lua_tostring (L, -1)))
        {
          const char *key = lua_tostring (L, -1);

          fail (L, "%s: unknown argument '%s' (known: %s)", fn, key,
                push_joined (L, known));
        }
    }
  args_begin (a, L, fn, 1);
}

/* Push the named argument @name (nil when absent); its stack index. */
static int
named (StArgs *a, const char *name)
{
  lua_pushstring (a->L, name);
  lua_rawget (a->L, a->table);
  return lua_gettop (a->L);
}

/* The arguments as a{sv}, built directly: a GVariantDict parses a format
 * per entry, and every action of every campaign target comes here. */
static GVariant *
args_end (StArgs *a)
{
  GVariantBuilder builder;
  GHashTableIter iter;
  gpointer name, value;
  GVariant *args;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_hash_table_iter_init (&iter, a->out);
  while (g_hash_table_iter_next (&iter, &name, &value))
    g_variant_builder_add_value (
        &builder, g_variant_new_dict_entry (g_variant_new_string (name),
                                            g_variant_new_variant (value)));
  args = g_variant_ref_sink (g_variant_builder_end (&builder));

  st_lua_hold (a->L, args, (GDestroyNotify) g_variant_unref);
  return args;
}

static gint64
check_customer (lua_State *L, const char *fn, int idx, const char *arg)
{
  lua_Integer id = 0;
  int isnum = 0;

  idx = lua_absindex (L, idx);
  switch (lua_type (L, idx))
    {
    case LUA_TNIL:
      fail (L,
            "%s: argument '%s' is required (the customer table run() "
            "received, or a customer id)",
            fn, arg);
      break;
    case LUA_TNUMBER:
      id = lua_tointegerx (L, idx, &isnum);
      if (isnum && id > 0)
        return id;
      break;
    case LUA_TTABLE:
      lua_pushliteral (L, "id");
      if (lua_rawget (L, idx) == LUA_TNUMBER)
        id = lua_tointegerx (L, -1, &isnum);
      if (isnum && id > 0)
        {
          lua_pop (L, 1);
          return id;
        }
      fail (L,
            "%s: argument '%s' is a table without a valid 'id' (pass "
            "the customer table run() received, or a customer id)",
            fn, arg);
      break;
    default:
      break;
    }
  fail (L,
        "%s: argument '%s' must be a customer table or a customer id, "
        "got %s",
        fn, arg, describe (L, idx));
  return 0;
}

/* customer_id (x), unless absent and optional. */
static void
put_customer (StArgs *a, int idx, const char *arg, gboolean required)
{
  if (!required && lua_isnil (a->L, idx))
    return;
  args_put (
      a, "customer_id",
      g_variant_new_int64 (check_customer (a->L, a->fn, idx, arg)));
}

/* A non-empty UTF-8 string. @hint completes "must be …" and "is required
 * (…)". Returns it, or NULL when absent and optional. */
static const char *
check_string (lua_State *L, const char *fn, int idx, const char *arg,
              const char *hint, gboolean required)
{
  size_t len;
  const char *text;

  if (lua_isnil (L, idx))
    {
      if (required)
        fail (L, "%s: argument '%s' is required (%s)", fn, arg, hint);
      return NULL;
    }
  if (lua_type (L, idx) != LUA_TSTRING || lua_rawlen (L, idx) == 0)
    fail (L, "%s: argument '%s' must be %s, got %s", fn, arg, hint,
          describe (L, idx));
  text = lua_tolstring (L, idx, &len);
  if (!g_utf8_validate_len (text, len, NULL))
    fail (L, "%s: argument '%s' must be valid UTF-8 text", fn, arg);
  return text;
}

static const char *
put_string (StArgs *a, int idx, const char *arg, const char *hint,
            gboolean required)
{
  const char *text = check_string (a->L, a->fn, idx, arg, hint, required);

  if (text != NULL)
    args_put (a, arg, g_variant_new_string (text));
  return text;
}

/* Keys are kept in unique indexes, whose entries hold at most 2704 bytes:
 * 500 characters of up to four bytes each fit with room to spare. */
#define ST_KEY_MAX_CHARS 500

static void
put_key (StArgs *a, const char *hint)
{
  const char *key = put_string (a, named (a, "key"), "key", hint, TRUE);
  glong n = g_utf8_strlen (key, -1);

  if (n > ST_KEY_MAX_CHARS)
    fail (a->L, "%s: argument 'key' must be at most %d characters, got %d",
          a->fn, ST_KEY_MAX_CHARS, (int) MIN (n, G_MAXINT));
}

/* Seconds as a whole number or a duration text ("30s" … "2w"). */
static gint64
check_seconds (lua_State *L, const char *fn, int idx, const char *arg,
               gboolean positive)
{
  gint64 seconds = -1;

  if (lua_type (L, idx) == LUA_TNUMBER)
    {
      int isnum;
      lua_Integer value = lua_tointegerx (L, idx, &isnum);

      if (isnum)
        seconds = value;
    }
  else if (lua_type (L, idx) == LUA_TSTRING
           && !st_lua_parse_duration (lua_tostring (L, idx), &seconds))
    seconds = -1;
  if ((seconds > 0 || (seconds == 0 && !positive))
      && seconds <= ST_LUA_MAX_SECONDS)
    return seconds;
  fail (L,
        "%s: argument '%s' must be a %s number of seconds up to 100 years, "
        "or a duration such as '30s', '5m', '2h', '7d' or '2w', got %s",
        fn, arg, positive ? "positive whole" : "whole", describe (L, idx));
  return 0;
}

static void
put_seconds (StArgs *a, int idx, const char *arg, gboolean positive,
             gboolean required, const char *hint)
{
  if (lua_isnil (a->L, idx))
    {
      if (required)
        fail (a->L, "%s: argument '%s' is required (%s)", a->fn, arg, hint);
      return;
    }
  args_put (
      a, arg,
      g_variant_new_int64 (check_seconds (a->L, a->fn, idx, arg, positive)));
}

/* A table of named values → a{sv}. */
static void
put_fields (StArgs *a, int idx, const char *arg)
{
  GError *error = NULL;
  GVariant *value;

  if (lua_isnil (a->L, idx))
    return;
  if (lua_type (a->L, idx) != LUA_TTABLE)
    fail (a->L, "%s: argument '%s' must be a table of named values, got %s",
          a->fn, arg, describe (a->L, idx));
  value = st_lua_to_variant (a->L, idx, arg, &error);
  if (value == NULL)
    {
      st_lua_hold (a->L, error, (GDestroyNotify) g_error_free);
      fail (a->L, "%s: argument '%s': %s", a->fn, arg, error->message);
    }
  st_lua_hold (a->L, value, (GDestroyNotify) g_variant_unref);
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT))
    fail (a->L,
          "%s: argument '%s' must be a table of named values (name = "
          "value), not a list",
          a->fn, arg);
  args_put (a, arg, value);
}

static void
do_action (StArgs *a, const char *name)
{
  lua_State *L = a->L;
  GVariant *args = args_end (a);
  gpointer data;
  const StLuaHost *host = st_lua_host (st_lua_from_state (L), &data);
  GError *error = NULL;

  if (host == NULL || host->action == NULL)
    {
      not_here (L, a->fn);
      return;
    }
  if (!host->action (data, name, args, &error))
    {
      if (error == NULL)
        fail (L, "%s: failed", a->fn);
      st_lua_hold (L, error, (GDestroyNotify) g_error_free);
      fail (L, "%s: %s", a->fn, error->message);
    }
}

#define KEY_HINT                                                              \
  "a string that makes the message unique, e.g. 'thanks:' .. event.id"
#define CHANNEL_HINT "a channel name, e.g. 'email'"

/*** @function steward.send{customer, channel, key, template | body,
 *                           subject, data, delay}
 * Queue a message to the customer. It is written to the outbox when the
 * call's actions are committed; the key makes it unique, so a replayed
 * event never sends it twice.
 * @arg customer table or integer, required: the customer table run()
 *      received, or a customer id  → customer_id (x)
 * @arg channel string, required: the channel, e.g. "email"  → channel (s)
 * @arg key string, required, at most 500 characters: makes the message
 *      unique among the customer's messages, e.g. "thanks:" .. event.id
 *      → key (s)
 * @arg template string: the template to render (give template or body)
 *      → template (s)
 * @arg body string: the text itself (give template or body)  → body (s)
 * @arg subject string, optional: the subject  → subject (s)
 * @arg data table, optional: template variables  → data (a{sv})
 * @arg delay integer seconds or duration text ("30s", "5m", "2h", "7d",
 *      "2w"), optional: send that much later  → delay (x, seconds)
 * @return nothing
 * @example
 *   steward.send{ customer = customer, channel = "email",
 *                 template = "thank_you", key = "thanks:" .. event.id,
 *                 data = { amount = event.amount }, delay = "2h" }
 */
static int
send_impl (lua_State *L)
{
  static const char *const known[]
      = { "customer", "template", "body",  "subject", "channel",
          "key",      "data",     "delay", NULL };
  StArgs a;
  int template_idx;
  int body_idx;

  args_named (&a, L, "steward.send", known,
              "steward.send{customer = customer, channel = 'email', "
              "template = 'thank_you', key = 'thanks:' .. event.id}");
  put_customer (&a, named (&a, "customer"), "customer", TRUE);
  put_string (&a, named (&a, "channel"), "channel", CHANNEL_HINT, TRUE);
  put_key (&a, KEY_HINT);
  template_idx = named (&a, "template");
  body_idx = named (&a, "body");
  if (!lua_isnil (L, template_idx) && !lua_isnil (L, body_idx))
    fail (L, "steward.send: give argument 'template' or 'body', not both");
  if (lua_isnil (L, template_idx) && lua_isnil (L, body_idx))
    fail (L, "steward.send: argument 'template' or 'body' is required (the "
             "template's name, or the text itself)");
  put_string (&a, template_idx, "template", "a template name", FALSE);
  put_string (&a, body_idx, "body", "the message text", FALSE);
  put_string (&a, named (&a, "subject"), "subject", "the subject text", FALSE);
  put_fields (&a, named (&a, "data"), "data");
  put_seconds (&a, named (&a, "delay"), "delay", FALSE, FALSE, NULL);
  do_action (&a, "send");
  return 0;
}

static int
l_send (lua_State *L)
{
  return st_lua_critical (L, send_impl);
}

/*** @function steward.alert{customer, kind, message, severity, data}
 * Raise an alert for an account manager to look at.
 * @arg customer table or integer, optional: whom it is about (absent:
 *      no customer_id key)  → customer_id (x)
 * @arg kind string, required: what kind of alert, e.g. "churn_risk"
 *      → kind (s)
 * @arg message string, required: what the manager reads  → message (s)
 * @arg severity string, optional: "info", "warning" (the default) or
 *      "critical"  → severity (s, always present)
 * @arg data table, optional: details  → data (a{sv})
 * @return nothing
 * @example
 *   steward.alert{ customer = customer, kind = "churn_risk",
 *                  message = "No login for 30 days", severity = "critical" }
 */
static int
alert_impl (lua_State *L)
{
  static const char *const known[]
      = { "customer", "kind", "message", "severity", "data", NULL };
  static const char *const severities[]
      = { "info", "warning", "critical", NULL };
  StArgs a;
  int severity_idx;
  const char *severity;

  args_named (&a, L, "steward.alert", known,
              "steward.alert{customer = customer, kind = 'churn_risk', "
              "message = 'No login for 30 days'}");
  put_customer (&a, named (&a, "customer"), "customer", FALSE);
  put_string (&a, named (&a, "kind"), "kind",
              "the kind of alert, e.g. 'churn_risk'", TRUE);
  put_string (&a, named (&a, "message"), "message",
              "the text the manager reads", TRUE);
  severity_idx = named (&a, "severity");
  severity = check_string (L, a.fn, severity_idx, "severity",
                           "'info', 'warning' or 'critical'", FALSE);
  if (severity == NULL)
    severity = "warning";
  if (!g_strv_contains (severities, severity))
    fail (L,
          "steward.alert: argument 'severity' must be 'info', 'warning' "
          "or 'critical', got %s",
          describe (L, severity_idx));
  args_put (&a, "severity",
                               g_variant_new_string (severity));
  put_fields (&a, named (&a, "data"), "data");
  do_action (&a, "alert");
  return 0;
}

static int
l_alert (lua_State *L)
{
  return st_lua_critical (L, alert_impl);
}

/*** @function steward.set_stage(customer, stage [, reason])
 *            or steward.set_stage{customer, stage, reason}
 * Move the customer to another lifecycle stage. The transition is checked
 * against the configured ones when the actions are committed.
 * @arg customer table or integer, required  → customer_id (x)
 * @arg stage string, required: the new stage, e.g. "at_risk"  → stage (s)
 * @arg reason string, optional: why, kept in the customer's history
 *      → reason (s)
 * @return nothing
 * @example
 *   steward.set_stage(customer, "at_risk", "no login for 30 days")
 */
/* One table without an id is the named form; a customer table (it has
 * an id) starts the positional one. */
static gboolean
is_named_form (lua_State *L)
{
  gboolean named;

  if (lua_gettop (L) != 1 || lua_type (L, 1) != LUA_TTABLE)
    return FALSE;
  lua_pushliteral (L, "id");
  named = lua_rawget (L, 1) == LUA_TNIL;
  lua_pop (L, 1);
  return named;
}

static int
set_stage_impl (lua_State *L)
{
  static const char *const known[] = { "customer", "stage", "reason", NULL };
  StArgs a;
  int customer_idx = 1;
  int stage_idx = 2;
  int reason_idx = 3;

  if (is_named_form (L))
    {
      args_named (&a, L, "steward.set_stage", known,
                  "steward.set_stage{customer = customer, stage = "
                  "'active'}");
      customer_idx = named (&a, "customer");
      stage_idx = named (&a, "stage");
      reason_idx = named (&a, "reason");
    }
  else
    {
      lua_settop (L, 3);
      args_begin (&a, L, "steward.set_stage", 0);
    }
  put_customer (&a, customer_idx, "customer", TRUE);
  put_string (&a, stage_idx, "stage", "a stage name, e.g. 'at_risk'", TRUE);
  put_string (&a, reason_idx, "reason", "a text saying why", FALSE);
  do_action (&a, "set_stage");
  return 0;
}

static int
l_set_stage (lua_State *L)
{
  return st_lua_critical (L, set_stage_impl);
}

static int
tag_common (lua_State *L, const char *fn, const char *action)
{
  StArgs a;

  lua_settop (L, 2);
  args_begin (&a, L, fn, 0);
  put_customer (&a, 1, "customer", TRUE);
  put_string (&a, 2, "tag", "a tag, e.g. 'vip'", TRUE);
  do_action (&a, action);
  return 0;
}

/*** @function steward.tag(customer, tag)
 * Add a tag to the customer (nothing happens if it is there already).
 * @arg customer table or integer, required  → customer_id (x)
 * @arg tag string, required  → tag (s)
 * @return nothing
 * @example
 *   steward.tag(customer, "vip")
 */
static int
tag_impl (lua_State *L)
{
  return tag_common (L, "steward.tag", "tag");
}

static int
l_tag (lua_State *L)
{
  return st_lua_critical (L, tag_impl);
}

/*** @function steward.untag(customer, tag)
 * Remove a tag from the customer (nothing happens if it is absent).
 * @arg customer table or integer, required  → customer_id (x)
 * @arg tag string, required  → tag (s)
 * @return nothing
 * @example
 *   steward.untag(customer, "trial")
 */
static int
untag_impl (lua_State *L)
{
  return tag_common (L, "steward.untag", "untag");
}

static int
l_untag (lua_State *L)
{
  return st_lua_critical (L, untag_impl);
}

/*** @function steward.follow_up{customer, after, key, data}
 * Ask for a "follow_up" trigger for this script and customer later; the
 * key makes it unique, so a replay does not schedule it twice.
 * @arg customer table or integer, required  → customer_id (x)
 * @arg after integer seconds or duration text, required, > 0: how long
 *      from now  → after (x, seconds)
 * @arg key string, required, at most 500 characters: makes the
 *      follow-up unique, e.g. "survey:" .. event.id  → key (s)
 * @arg data table, optional: given back with the follow-up  → data (a{sv})
 * @return nothing
 * @example
 *   steward.follow_up{ customer = customer, after = "7d",
 *                      key = "survey:" .. event.id }
 */
static int
follow_up_impl (lua_State *L)
{
  static const char *const known[]
      = { "customer", "after", "key", "data", NULL };
  StArgs a;

  args_named (&a, L, "steward.follow_up", known,
              "steward.follow_up{customer = customer, after = '7d', key = "
              "'survey:' .. event.id}");
  put_customer (&a, named (&a, "customer"), "customer", TRUE);
  put_seconds (&a, named (&a, "after"), "after", TRUE, TRUE,
               "how long from now, e.g. '7d' or 3600");
  put_key (&a, "a string that makes the follow-up unique, e.g. 'survey:' .. "
               "event.id");
  put_fields (&a, named (&a, "data"), "data");
  do_action (&a, "follow_up");
  return 0;
}

static int
l_follow_up (lua_State *L)
{
  return st_lua_critical (L, follow_up_impl);
}

/* 1 to 32 characters (put_string checked the UTF-8), none a control. */
static gboolean
risk_valid (const char *risk)
{
  glong n = g_utf8_strlen (risk, -1);

  if (n < 1 || n > 32)
    return FALSE;
  for (const char *p = risk; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

/*** @function steward.set_health{customer, score, factors, risk}
 * Record the customer's health score and what made it.
 * @arg customer table or integer, required  → customer_id (x)
 * @arg score integer from 0 to 100, required  → score (i)
 * @arg factors table, optional: factor name → contribution (a finite
 *      number)  → factors (a{sv} of d)
 * @arg risk string, optional: the risk level, 1 to 32 characters without
 *      control characters, e.g. "high"  → risk (s)
 * @return nothing
 * @example
 *   steward.set_health{ customer = customer, score = 42,
 *                       factors = { recency = -30, nps = 12 },
 *                       risk = "high" }
 */
static int
set_health_impl (lua_State *L)
{
  static const char *const known[]
      = { "customer", "score", "factors", "risk", NULL };
  StArgs a;
  int score_idx;
  int factors_idx;
  const char *risk;
  lua_Integer score = -1;
  int isnum = 0;

  args_named (&a, L, "steward.set_health", known,
              "steward.set_health{customer = customer, score = 80}");
  put_customer (&a, named (&a, "customer"), "customer", TRUE);
  score_idx = named (&a, "score");
  if (lua_isnil (L, score_idx))
    fail (L, "steward.set_health: argument 'score' is required (an integer "
             "from 0 to 100)");
  if (lua_type (L, score_idx) == LUA_TNUMBER)
    score = lua_tointegerx (L, score_idx, &isnum);
  if (!isnum || score < 0 || score > 100)
    fail (L,
          "steward.set_health: argument 'score' must be an integer from "
          "0 to 100, got %s",
          describe (L, score_idx));
  args_put (&a, "score",
                               g_variant_new_int32 ((gint32) score));
  factors_idx = named (&a, "factors");
  if (!lua_isnil (L, factors_idx))
    {
      GVariantBuilder *builder;

      if (lua_type (L, factors_idx) != LUA_TTABLE)
        fail (L,
              "steward.set_health: argument 'factors' must be a table "
              "of factor names to numbers, got %s",
              describe (L, factors_idx));
      builder = g_variant_builder_new (G_VARIANT_TYPE_VARDICT);
      st_lua_hold (L, builder, (GDestroyNotify) g_variant_builder_unref);
      lua_pushnil (L);
      while (lua_next (L, factors_idx) != 0)
        {
          if (lua_type (L, -2) != LUA_TSTRING
              || !g_utf8_validate (lua_tostring (L, -2), -1, NULL))
            fail (L,
                  "steward.set_health: argument 'factors' must map "
                  "factor names to numbers, got a %s key",
                  luaL_typename (L, -2));
          if (lua_type (L, -1) != LUA_TNUMBER)
            {
              const char *name = lua_tostring (L, -2);

              fail (L,
                    "steward.set_health: argument 'factors' must map "
                    "factor names to numbers, got %s for '%s'",
                    describe (L, -1), name);
            }
          if (!isfinite (lua_tonumber (L, -1)))
            fail (L,
                  "steward.set_health: argument 'factors' must map factor "
                  "names to finite numbers, not NaN or an infinity as for "
                  "'%s'", lua_tostring (L, -2));
          g_variant_builder_add (builder, "{sv}", lua_tostring (L, -2),
                                 g_variant_new_double (lua_tonumber (L, -1)));
          lua_pop (L, 1);
        }
      args_put (&a, "factors",
                                   g_variant_builder_end (builder));
    }
  risk = put_string (&a, named (&a, "risk"), "risk",
                     "a risk level, e.g. 'high'", FALSE);
  /* A short label: report health groups by it, in a table column. */
  if (risk != NULL && !risk_valid (risk))
    fail (L,
          "steward.set_health: argument 'risk' must be a risk level of 1 to "
          "32 characters without control characters, e.g. 'high', got %s",
          describe (L, named (&a, "risk")));
  do_action (&a, "set_health");
  return 0;
}

static int
l_set_health (lua_State *L)
{
  return st_lua_critical (L, set_health_impl);
}

/*** @function steward.customer(id)
 * Read a customer's record as it is now.
 * @arg id integer or customer table, required
 * @return the customer table, or nil when there is no such customer
 * @example
 *   local c = steward.customer(event.data.referrer_id)
 *   if c and c.stage == "active" then ... end
 */
static int
customer_impl (lua_State *L)
{
  StLua *lua = st_lua_from_state (L);
  gpointer data;
  const StLuaHost *host = st_lua_host (lua, &data);
  gint64 id;
  GError *error = NULL;
  GVariant *record;

  lua_settop (L, 1);
  id = check_customer (L, "steward.customer", 1, "id");
  if (host == NULL || host->customer == NULL)
    return not_here (L, "steward.customer");
  record = host->customer (data, id, &error);
  if (error != NULL)
    {
      st_lua_hold (L, error, (GDestroyNotify) g_error_free);
      if (record != NULL)
        st_lua_hold (L, g_variant_take_ref (record),
                     (GDestroyNotify) g_variant_unref);
      return fail (L, "steward.customer: %s", error->message);
    }
  if (record == NULL)
    {
      lua_pushnil (L);
      return 1;
    }
  record = g_variant_take_ref (record);
  st_lua_hold (L, record, (GDestroyNotify) g_variant_unref);
  st_lua_push_variant (L, record);
  return 1;
}

static int
l_customer (lua_State *L)
{
  return st_lua_critical (L, customer_impl);
}

/*** @function steward.events(id [, filter])
 * Read a customer's events, newest first.
 * @arg id integer or customer table, required
 * @arg filter table, optional: kind (string: only this kind), since
 *      (number, seconds since the epoch: only events at or after it),
 *      limit (integer > 0: at most this many)  → the host's filter a{sv}:
 *      kind (s), since (x), limit (x)
 * @return a list of event tables (empty when there is none)
 * @example
 *   local recent = steward.events(customer, { kind = "purchase",
 *                                            since = steward.now() - 86400 *
 * 30 }) if #recent == 0 then ... end
 */
static int
events_impl (lua_State *L)
{
  static const char *const known[] = { "kind", "since", "limit", NULL };
  StLua *lua = st_lua_from_state (L);
  gpointer data;
  const StLuaHost *host = st_lua_host (lua, &data);
  StArgs a;
  gint64 id;
  GError *error = NULL;
  GVariant *events;

  lua_settop (L, 2);
  id = check_customer (L, "steward.events", 1, "id");
  args_begin (&a, L, "steward.events", 2);
  if (!lua_isnil (L, 2))
    {
      int idx;

      if (lua_type (L, 2) != LUA_TTABLE)
        fail (L,
              "steward.events: argument 'filter' must be a table such as "
              "{kind = 'purchase', limit = 10}, got %s",
              describe (L, 2));
      lua_pushnil (L);
      while (lua_next (L, 2) != 0)
        {
          lua_pop (L, 1);
          if (lua_type (L, -1) != LUA_TSTRING
              || !g_strv_contains (known, lua_tostring (L, -1)))
            {
              const char *key = describe (L, -1);

              fail (L, "steward.events: unknown filter %s (known: %s)", key,
                    push_joined (L, known));
            }
        }
      put_string (&a, named (&a, "kind"), "kind",
                  "an event kind, e.g. 'purchase'", FALSE);
      idx = named (&a, "since");
      if (!lua_isnil (L, idx))
        {
          if (lua_type (L, idx) != LUA_TNUMBER)
            fail (L,
                  "steward.events: filter 'since' must be a time in "
                  "seconds since the epoch, such as steward.now() - "
                  "86400, got %s",
                  describe (L, idx));
          args_put (
              &a, "since",
              g_variant_new_int64 ((gint64) floor (lua_tonumber (L, idx))));
        }
      idx = named (&a, "limit");
      if (!lua_isnil (L, idx))
        {
          int isnum = 0;
          lua_Integer limit = 0;

          if (lua_type (L, idx) == LUA_TNUMBER)
            limit = lua_tointegerx (L, idx, &isnum);
          if (!isnum || limit <= 0)
            fail (L,
                  "steward.events: filter 'limit' must be a positive "
                  "integer, got %s",
                  describe (L, idx));
          args_put (&a, "limit",
                                       g_variant_new_int64 (limit));
        }
    }
  if (host == NULL || host->events == NULL)
    return not_here (L, "steward.events");
  events = host->events (data, id, args_end (&a), &error);
  if (events != NULL)
    {
      events = g_variant_take_ref (events);
      st_lua_hold (L, events, (GDestroyNotify) g_variant_unref);
    }
  if (error != NULL)
    {
      st_lua_hold (L, error, (GDestroyNotify) g_error_free);
      return fail (L, "steward.events: %s", error->message);
    }
  if (events == NULL)
    lua_newtable (L);
  else
    st_lua_push_variant (L, events);
  return 1;
}

static int
l_events (lua_State *L)
{
  return st_lua_critical (L, events_impl);
}

/*** @function steward.now()
 * The current time. In a backtest it is the cut-off time, so use it
 * rather than os.time().
 * @return seconds since the epoch (a number with a fraction)
 * @example
 *   local days = (steward.now() - customer.last_login_epoch) / 86400
 */
static int
now_impl (lua_State *L)
{
  gpointer data;
  const StLuaHost *host = st_lua_host (st_lua_from_state (L), &data);

  if (host != NULL && host->now != NULL)
    lua_pushnumber (L, host->now (data));
  else
    lua_pushnumber (L, (double) g_get_real_time () / G_USEC_PER_SEC);
  return 1;
}

static int
l_now (lua_State *L)
{
  return st_lua_critical (L, now_impl);
}

/*** @function steward.log(level, message)
 * Write to the daemon's log, with the script's name.
 * @arg level string, required: "debug", "info", "warning" or "error"
 * @arg message string or number, required
 * @return nothing
 * @example
 *   steward.log("info", "skipped: no e-mail address")
 */
static int
log_impl (lua_State *L)
{
  static const char *const levels[]
      = { "debug", "info", "warning", "error", NULL };
  StLua *lua = st_lua_from_state (L);
  gpointer data;
  const StLuaHost *host = st_lua_host (lua, &data);
  const char *level;
  const char *message;

  lua_settop (L, 2);
  level = check_string (L, "steward.log", 1, "level",
                        "'debug', 'info', 'warning' or 'error'", TRUE);
  if (!g_strv_contains (levels, level))
    fail (L,
          "steward.log: argument 'level' must be 'debug', 'info', "
          "'warning' or 'error', got %s",
          describe (L, 1));
  if (lua_type (L, 2) != LUA_TSTRING && lua_type (L, 2) != LUA_TNUMBER)
    fail (L, "steward.log: argument 'message' must be a string, got %s",
          describe (L, 2));
  message = lua_tostring (L, 2);
  if (host != NULL && host->log != NULL)
    host->log (data, level, message);
  else
    g_log ("steward-lua",
           level[0] == 'd'   ? G_LOG_LEVEL_DEBUG
           : level[0] == 'i' ? G_LOG_LEVEL_INFO
                             : G_LOG_LEVEL_MESSAGE,
           "%s: %s: %s", st_lua_label (lua), level, message);
  return 0;
}

static int
l_log (lua_State *L)
{
  return st_lua_critical (L, log_impl);
}

void
st_lua_steward_open (lua_State *L)
{
  static const luaL_Reg functions[] = {
    { "send", l_send },
    { "alert", l_alert },
    { "set_stage", l_set_stage },
    { "tag", l_tag },
    { "untag", l_untag },
    { "follow_up", l_follow_up },
    { "set_health", l_set_health },
    { "customer", l_customer },
    { "events", l_events },
    { "now", l_now },
    { "log", l_log },
    { NULL, NULL },
  };

  luaL_newlib (L, functions);
}
