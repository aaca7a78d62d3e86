#include "st-json.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* JSON text is written here rather than by json-glib's generator, which
 * prints doubles with 17 digits (19.99 as 19.989999999999998) and 1e20 as
 * the invalid 1e+20.0. */

char *
st_json_format_double (double value)
{
  static const char *const formats[] = { "%.15g", "%.16g", "%.17g" };
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      g_ascii_formatd (buf, sizeof buf, formats[i], value);
      if (g_ascii_strtod (buf, NULL) == value)
        break;
    }
  return g_strdup (buf);
}


static JsonNode *
dict_to_json (GVariant *value)
{
  JsonObject *object = json_object_new ();
  JsonNode *node = json_node_init_object (json_node_alloc (), object);
  GVariantIter iter;
  GVariant *entry;

  g_variant_iter_init (&iter, value);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr (GVariant) key = g_variant_get_child_value (entry, 0);
      g_autoptr (GVariant) member = g_variant_get_child_value (entry, 1);
      g_autofree char *name = g_variant_is_of_type (key, G_VARIANT_TYPE_STRING)
                                  ? g_variant_dup_string (key, NULL)
                                  : g_variant_print (key, FALSE);

      json_object_set_member (object, name, st_json_from_variant (member));
      g_variant_unref (entry);
    }
  json_object_unref (object);
  return node;
}

static JsonNode *
children_to_json (GVariant *value)
{
  JsonArray *array = json_array_new ();
  JsonNode *node = json_node_init_array (json_node_alloc (), array);
  gsize n = g_variant_n_children (value);

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) child = g_variant_get_child_value (value, i);

      json_array_add_element (array, st_json_from_variant (child));
    }
  json_array_unref (array);
  return node;
}

static JsonNode *
int_node (gint64 value)
{
  return json_node_init_int (json_node_alloc (), value);
}

JsonNode *
st_json_from_variant (GVariant *value)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      return json_node_init_boolean (json_node_alloc (), g_variant_get_boolean (value));
    case G_VARIANT_CLASS_BYTE:
      return int_node (g_variant_get_byte (value));
    case G_VARIANT_CLASS_INT16:
      return int_node (g_variant_get_int16 (value));
    case G_VARIANT_CLASS_UINT16:
      return int_node (g_variant_get_uint16 (value));
    case G_VARIANT_CLASS_INT32:
      return int_node (g_variant_get_int32 (value));
    case G_VARIANT_CLASS_UINT32:
      return int_node (g_variant_get_uint32 (value));
    case G_VARIANT_CLASS_INT64:
      return int_node (g_variant_get_int64 (value));
    case G_VARIANT_CLASS_HANDLE:
      return int_node (g_variant_get_handle (value));
    case G_VARIANT_CLASS_UINT64:
      {
        guint64 u = g_variant_get_uint64 (value);

        if (u <= G_MAXINT64)
          return int_node ((gint64) u);
        return json_node_init_double (json_node_alloc (), (double) u);
      }
    case G_VARIANT_CLASS_DOUBLE:
      {
        double d = g_variant_get_double (value);

        if (!isfinite (d))
          return json_node_init_null (json_node_alloc ());
        return json_node_init_double (json_node_alloc (), d);
      }
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      return json_node_init_string (json_node_alloc (), g_variant_get_string (value, NULL));
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr (GVariant) inner = g_variant_get_variant (value);

        return st_json_from_variant (inner);
      }
    case G_VARIANT_CLASS_MAYBE:
      {
        g_autoptr (GVariant) inner = g_variant_get_maybe (value);

        if (inner == NULL)
          return json_node_init_null (json_node_alloc ());
        return st_json_from_variant (inner);
      }
    case G_VARIANT_CLASS_ARRAY:
      if (g_variant_type_is_dict_entry (g_variant_type_element (g_variant_get_type (value))))
        return dict_to_json (value);
      return children_to_json (value);
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
    default:
      return children_to_json (value);
    }
}

static void
json_append_string (GString *out, const char *text)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    {
      switch (*p)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        case '\b':
          g_string_append (out, "\\b");
          break;
        case '\f':
          g_string_append (out, "\\f");
          break;
        default:
          if (*p < 0x20)
            g_string_append_printf (out, "\\u%04x", *p);
          else
            g_string_append_c (out, (char) *p);
        }
    }
  g_string_append_c (out, '"');
}

static void
json_newline (GString *out, gboolean pretty, guint depth)
{
  if (!pretty)
    return;
  g_string_append_c (out, '\n');
  for (guint i = 0; i < depth; i++)
    g_string_append (out, "  ");
}

static void
json_append_node (GString *out, JsonNode *node, gboolean pretty, guint depth)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        g_autoptr (GList) members = json_object_get_members (object);

        g_string_append_c (out, '{');
        for (GList *l = members; l != NULL; l = l->next)
          {
            json_newline (out, pretty, depth + 1);
            json_append_string (out, l->data);
            g_string_append (out, pretty ? ": " : ":");
            json_append_node (out, json_object_get_member (object, l->data), pretty, depth + 1);
            if (l->next != NULL)
              g_string_append_c (out, ',');
          }
        if (members != NULL)
          json_newline (out, pretty, depth);
        g_string_append_c (out, '}');
        break;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);

        g_string_append_c (out, '[');
        for (guint i = 0; i < n; i++)
          {
            json_newline (out, pretty, depth + 1);
            json_append_node (out, json_array_get_element (array, i), pretty, depth + 1);
            if (i + 1 < n)
              g_string_append_c (out, ',');
          }
        if (n > 0)
          json_newline (out, pretty, depth);
        g_string_append_c (out, ']');
        break;
      }
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
          break;
        case G_TYPE_INT64:
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
          break;
        case G_TYPE_DOUBLE:
          {
            double d = json_node_get_double (node);

            if (isfinite (d))
              {
                g_autofree char *text = st_json_format_double (d);

                g_string_append (out, text);
              }
            else
              g_string_append (out, "null");
            break;
          }
        case G_TYPE_STRING:
          json_append_string (out, json_node_get_string (node));
          break;
        default:
          g_string_append (out, "null");
        }
      break;
    case JSON_NODE_NULL:
    default:
      g_string_append (out, "null");
    }
}

char *
st_json_to_string (JsonNode *node, gboolean pretty)
{
  GString *out = g_string_new (NULL);

  json_append_node (out, node, pretty, 0);
  return g_string_free (out, FALSE);
}

char *
st_json_variant_to_string (GVariant *value, gboolean pretty)
{
  g_autoptr (JsonNode) node = st_json_from_variant (value);

  return st_json_to_string (node, pretty);
}


char *
st_json_widen_integers (const char *text)
{
  GString *out = NULL;
  const char *copied = text, *p = text;

  while (*p != '\0')
    {
      const char *start = p;

      if (*p == '"')
        {
          for (p++; *p != '\0' && *p != '"'; p++)
            if (*p == '\\' && p[1] != '\0')
              p++;
          if (*p == '"')
            p++;
          continue;
        }
      if (*p != '-' && !g_ascii_isdigit (*p))
        {
          p++;
          continue;
        }
      p += *p == '-';
      while (g_ascii_isdigit (*p))
        p++;
      if (*p == '.' || *p == 'e' || *p == 'E')
        {
          while (*p != '\0' && strchr ("0123456789.eE+-", *p) != NULL)
            p++;
          continue;
        }
      if (p - start < 19)
        continue;
      errno = 0;
      g_ascii_strtoll (start, NULL, 10);
      if (errno != ERANGE)
        continue;
      if (out == NULL)
        out = g_string_new (NULL);
      g_string_append_len (out, copied, p - copied);
      g_string_append (out, ".0");
      copied = p;
    }
  if (out == NULL)
    return NULL;
  g_string_append (out, copied);
  return g_string_free (out, FALSE);
}
