/* Conversions between GVariant records and Lua values, for the records a
 * script receives and the arguments it passes to the steward module. */

#include "st-lua-private.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "st-error.h"
#include "st-json.h"
#include "st-record.h"

/* Nesting of records and tables in conversions. */
#define ST_LUA_MAX_DEPTH 32

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

/* Row → Lua ------------------------------------------------------------- */

/* As st_record_from_json() then push_variant_at() would give it; a level
 * of JSON counts as the two levels (value, variant) it is in a record. */
static void
push_json_node (lua_State *L, JsonNode *node, int depth)
{
  if (depth > ST_LUA_MAX_DEPTH)
    luaL_error (L, "a record is nested too deeply");
  luaL_checkstack (L, 4, "a record is nested too deeply");
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        JsonObjectIter iter;
        const char *key;
        JsonNode *member;

        lua_createtable (L, 0, (int) MIN (json_object_get_size (object),
                                          G_MAXINT));
        json_object_iter_init (&iter, object);
        while (json_object_iter_next (&iter, &key, &member))
          if (!JSON_NODE_HOLDS_NULL (member))
            {
              lua_pushstring (L, key);
              push_json_node (L, member, depth + 2);
              lua_rawset (L, -3);
            }
        return;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);

        lua_createtable (L, (int) MIN (n, G_MAXINT), 0);
        for (guint i = 0; i < n; i++)
          {
            push_json_node (L, json_array_get_element (array, i), depth + 2);
            lua_rawseti (L, -2, (lua_Integer) i + 1);
          }
        return;
      }
    case JSON_NODE_NULL:
      lua_pushnil (L);
      return;
    case JSON_NODE_VALUE:
    default:
      break;
    }
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      lua_pushinteger (L, json_node_get_int (node));
      break;
    case G_TYPE_DOUBLE:
      lua_pushnumber (L, json_node_get_double (node));
      break;
    case G_TYPE_BOOLEAN:
      lua_pushboolean (L, json_node_get_boolean (node));
      break;
    default:
      lua_pushstring (L, json_node_get_string (node));
      break;
    }
}

/* JSON straight into Lua, for the canonical text PostgreSQL gives json
 * and jsonb columns: a customer's attrs and health factors in every
 * campaign target, where json-glib's parser (objects, nodes, then a
 * table) cost more than the script. It pushes what push_json_node()
 * would for the same text, or returns FALSE with the stack as it found it
 * for anything it does not expect (the caller then parses with
 * json-glib, which also reports the nesting limit). */
typedef struct {
  lua_State *L;
  const char *p;
} JsonText;

static gboolean fast_json_value (JsonText *j, int depth);

static void
fast_json_space (JsonText *j)
{
  while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
    j->p++;
}

static gboolean
fast_json_hex (const char *p, gunichar *out)
{
  *out = 0;
  for (int i = 0; i < 4; i++)
    {
      int digit = g_ascii_xdigit_value (p[i]);

      if (digit < 0)
        return FALSE;
      *out = *out * 16 + (gunichar) digit;
    }
  return TRUE;
}

/* A string at j->p (its opening quote), pushed. */
static gboolean
fast_json_string (JsonText *j)
{
  const char *p = j->p + 1;
  const char *run = p;
  luaL_Buffer buffer;

  luaL_buffinit (j->L, &buffer);
  for (;; p++)
    {
      char utf8[6];
      gunichar c;

      if ((guchar) *p < 0x20)
        return FALSE; /* the end of the text, or a raw control */
      if (*p == '"')
        break;
      if (*p != '\\')
        continue;
      luaL_addlstring (&buffer, run, (size_t) (p - run));
      switch (*++p)
        {
        case '"': case '\\': case '/':
          c = (gunichar) *p;
          break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u':
          if (!fast_json_hex (p + 1, &c))
            return FALSE;
          p += 4;
          if (c >= 0xD800 && c < 0xDC00)
            {
              gunichar low;

              if (p[1] != '\\' || p[2] != 'u' || !fast_json_hex (p + 3, &low)
                  || low < 0xDC00 || low >= 0xE000)
                return FALSE;
              c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
              p += 6;
            }
          else if ((c >= 0xDC00 && c < 0xE000) || c == 0)
            return FALSE;
          break;
        default:
          return FALSE;
        }
      luaL_addlstring (&buffer, utf8, (size_t) g_unichar_to_utf8 (c, utf8));
      run = p + 1;
    }
  luaL_addlstring (&buffer, run, (size_t) (p - run));
  luaL_pushresult (&buffer);
  j->p = p + 1;
  return TRUE;
}

static gboolean
fast_json_number (JsonText *j)
{
  const char *p = j->p;
  char *end;

  p += *p == '-';
  if (!g_ascii_isdigit (*p))
    return FALSE;
  while (g_ascii_isdigit (*p))
    p++;
  if (*p == '.' || *p == 'e' || *p == 'E')
    {
      double value = g_ascii_strtod (j->p, &end);

      lua_pushnumber (j->L, value);
    }
  else
    {
      gint64 value;

      errno = 0;
      value = g_ascii_strtoll (j->p, &end, 10);
      /* Beyond an integer: the float PostgreSQL wrote out in full (1e20
       * as 100000000000000000000), as st_record_from_json() reads it. */
      if (errno == ERANGE)
        lua_pushnumber (j->L, g_ascii_strtod (j->p, &end));
      else if (errno != 0)
        return FALSE;
      else
        lua_pushinteger (j->L, value);
    }
  j->p = end;
  return TRUE;
}

static gboolean
fast_json_word (JsonText *j, const char *word)
{
  gsize len = strlen (word);

  if (strncmp (j->p, word, len) != 0)
    return FALSE;
  j->p += len;
  return TRUE;
}

/* An object or array at j->p, pushed as a table. */
static gboolean
fast_json_container (JsonText *j, int depth)
{
  gboolean object = *j->p == '{';
  char close = object ? '}' : ']';
  lua_Integer n = 0;

  if (depth > ST_LUA_MAX_DEPTH)
    return FALSE;
  luaL_checkstack (j->L, 4, "a record is nested too deeply");
  lua_newtable (j->L);
  j->p++;
  fast_json_space (j);
  if (*j->p == close)
    {
      j->p++;
      return TRUE;
    }
  for (;;)
    {
      if (object)
        {
          if (*j->p != '"' || !fast_json_string (j))
            return FALSE;
          fast_json_space (j);
          if (*j->p++ != ':')
            return FALSE;
          fast_json_space (j);
        }
      if (!fast_json_value (j, depth + 2))
        return FALSE;
      if (!object)
        lua_rawseti (j->L, -2, ++n);
      else if (lua_isnil (j->L, -1)) /* a null member is left out */
        lua_pop (j->L, 2);
      else
        lua_rawset (j->L, -3);
      fast_json_space (j);
      if (*j->p == close)
        {
          j->p++;
          return TRUE;
        }
      if (*j->p++ != ',')
        return FALSE;
      fast_json_space (j);
    }
}

static gboolean
fast_json_value (JsonText *j, int depth)
{
  switch (*j->p)
    {
    case '{':
    case '[':
      return fast_json_container (j, depth);
    case '"':
      return fast_json_string (j);
    case 't':
      if (!fast_json_word (j, "true"))
        return FALSE;
      lua_pushboolean (j->L, 1);
      return TRUE;
    case 'f':
      if (!fast_json_word (j, "false"))
        return FALSE;
      lua_pushboolean (j->L, 0);
      return TRUE;
    case 'n':
      if (!fast_json_word (j, "null"))
        return FALSE;
      lua_pushnil (j->L);
      return TRUE;
    default:
      return fast_json_number (j);
    }
}

static gboolean
fast_json (lua_State *L, const char *text)
{
  JsonText j = { L, text };
  int top = lua_gettop (L);

  fast_json_space (&j);
  if (fast_json_value (&j, 2))
    {
      fast_json_space (&j);
      if (*j.p == '\0')
        return TRUE;
    }
  lua_settop (L, top);
  return FALSE;
}

/* A json/jsonb column: PostgreSQL's text by fast_json(), anything else
 * by json-glib; text that does not parse as itself, as
 * st_record_column_value() keeps it. */
static void
push_json_column (lua_State *L, const char *text)
{
  JsonParser *parser;
  char *widened;

  if (fast_json (L, text))
    return;
  parser = json_parser_new_immutable ();
  st_lua_hold (L, parser, g_object_unref);
  widened = st_json_widen_integers (text);
  if (widened != NULL)
    st_lua_hold (L, widened, g_free);
  if (json_parser_load_from_data (parser, widened != NULL ? widened : text,
                                  -1, NULL))
    push_json_node (L, json_parser_get_root (parser), 2);
  else
    lua_pushstring (L, text);
}

static void
push_column (lua_State *L, int kind, const char *text)
{
  switch (kind)
    {
    case ST_COLUMN_BOOL:
      lua_pushboolean (L, text[0] == 't');
      break;
    case ST_COLUMN_INT64:
    case ST_COLUMN_INT32:
      lua_pushinteger (L, g_ascii_strtoll (text, NULL, 10));
      break;
    case ST_COLUMN_DOUBLE:
      lua_pushnumber (L, g_ascii_strtod (text, NULL));
      break;
    case ST_COLUMN_TIME:
      {
        char *time = st_record_time_from_pg (text);

        st_lua_hold (L, time, g_free);
        lua_pushstring (L, time);
      }
      break;
    case ST_COLUMN_JSON:
      push_json_column (L, text);
      break;
    case ST_COLUMN_TEXT:
    default:
      lua_pushstring (L, text);
      break;
    }
}

void
st_lua_push_row (lua_State *L, const StLuaRow *row)
{
  g_assert (st_lua_from_state (L)->critical > 0);
  lua_createtable (L, 0, (int) MIN (row->n, G_MAXINT));
  for (guint i = 0; i < row->n; i++)
    if (row->values[i] != NULL)
      {
        lua_pushstring (L, row->names[i]);
        push_column (L, row->kinds[i], row->values[i]);
        lua_rawset (L, -3);
      }
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
  if (p[1] != '\0' || value * unit > (guint64) ST_LUA_MAX_SECONDS)
    return FALSE;
  *seconds = (gint64) (value * unit);
  return TRUE;
}
