#include "st-record.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "st-error.h"
#include "st-json.h"

/* PostgreSQL type oids (pg_type.dat); stable across versions. */
enum {
  OID_BOOL = 16,
  OID_INT8 = 20,
  OID_INT2 = 21,
  OID_INT4 = 23,
  OID_TEXT = 25,
  OID_JSON = 114,
  OID_FLOAT8 = 701,
  OID_VARCHAR = 1043,
  OID_TIMESTAMPTZ = 1184,
  OID_NUMERIC = 1700,
  OID_JSONB = 3802,
};

char *
st_record_time_from_pg (const char *value)
{
  GString *out = g_string_new (value);
  char *space = strchr (out->str, ' ');

  char *dot;

  if (space != NULL)
    *space = 'T';
  /* The session runs in UTC, so the offset is always "+00". */
  if (g_str_has_suffix (out->str, "+00"))
    g_string_truncate (out, out->len - 3);
  /* PostgreSQL drops trailing zeros; clients get microseconds always. */
  dot = strchr (out->str, '.');
  if (dot == NULL)
    g_string_append_c (out, '.');
  for (gsize digits = dot ? strlen (dot + 1) : 0; digits < 6; digits++)
    g_string_append_c (out, '0');
  g_string_append_c (out, 'Z');
  return g_string_free (out, FALSE);
}

static GVariant *variant_from_node (JsonNode *node);

/* {sv} without a format string to parse: records are built per row, and
 * g_variant_builder_add()'s parsing was a good part of their cost. */
static GVariant *
dict_entry (const char *key, GVariant *value)
{
  return g_variant_new_dict_entry (g_variant_new_string (key),
                                   g_variant_new_variant (value));
}

static GVariant *
variant_from_array (JsonArray *array)
{
  guint n = json_array_get_length (array);
  gboolean all_strings = TRUE;
  GVariantBuilder builder;

  for (guint i = 0; i < n && all_strings; i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      all_strings = JSON_NODE_HOLDS_VALUE (node)
                    && json_node_get_value_type (node) == G_TYPE_STRING;
    }
  if (all_strings)
    {
      g_variant_builder_init (&builder, G_VARIANT_TYPE_STRING_ARRAY);
      for (guint i = 0; i < n; i++)
        g_variant_builder_add_value (
            &builder,
            g_variant_new_string (json_array_get_string_element (array, i)));
    }
  else
    {
      g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
      for (guint i = 0; i < n; i++)
        g_variant_builder_add_value (
            &builder, g_variant_new_variant (variant_from_node (
                          json_array_get_element (array, i))));
    }
  return g_variant_builder_end (&builder);
}

static GVariant *
variant_from_object (JsonObject *object)
{
  GVariantBuilder builder;
  JsonObjectIter iter;
  const char *key;
  JsonNode *member;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  /* In the text's order: json_object_iter_next() goes by hash, and
   * --json output would change from one call to the next. */
  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &key, &member))
    {
      if (JSON_NODE_HOLDS_NULL (member))
        continue;
      g_variant_builder_add_value (
          &builder, dict_entry (key, variant_from_node (member)));
    }
  return g_variant_builder_end (&builder);
}

static GVariant *
variant_from_node (JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      return variant_from_object (json_node_get_object (node));
    case JSON_NODE_ARRAY:
      return variant_from_array (json_node_get_array (node));
    case JSON_NODE_NULL:
      return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
    case JSON_NODE_VALUE:
    default:
      break;
    }
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      return g_variant_new_int64 (json_node_get_int (node));
    case G_TYPE_DOUBLE:
      return g_variant_new_double (json_node_get_double (node));
    case G_TYPE_BOOLEAN:
      return g_variant_new_boolean (json_node_get_boolean (node));
    default:
      return g_variant_new_string (json_node_get_string (node));
    }
}

GVariant *
st_record_from_json (const char *json, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autofree char *widened = st_json_widen_integers (json);

  if (!json_parser_load_from_data (parser, widened != NULL ? widened : json,
                                   -1, error))
    return NULL;
  return variant_from_node (json_parser_get_root (parser));
}

GVariant *
st_record_with (GVariant *record, const char *key, GVariant *value)
{
  GVariantBuilder builder;
  GVariantIter iter;
  const char *name;
  GVariant *member;
  gboolean placed = FALSE;

  g_variant_ref_sink (value);
  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_iter_init (&iter, record);
  while (g_variant_iter_loop (&iter, "{&sv}", &name, &member))
    {
      gboolean here = g_str_equal (name, key);

      g_variant_builder_add (&builder, "{sv}", name, here ? value : member);
      placed |= here;
    }
  if (!placed)
    g_variant_builder_add (&builder, "{sv}", key, value);
  g_variant_unref (value);
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

char *
st_record_to_json (GVariant *value)
{
  return st_json_variant_to_string (value, FALSE);
}

static const char *
skip_space (const char *p)
{
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
    p++;
  return p;
}

/* The JSON texts every customer row has, read without a JSON parser:
 * "{}" gives 0; an array of strings without escapes (tags, as to_json()
 * gives them) gives 1, its items appended to @spans (into @text);
 * anything else -1. */
typedef struct {
  const char *text;
  gsize len;
} Span;

static int
scan_simple_json (const char *text, GArray *spans)
{
  const char *p = skip_space (text);

  if (p[0] == '{' && *skip_space (p + 1) == '}'
      && *skip_space (skip_space (p + 1) + 1) == '\0')
    return 0;
  if (*p != '[')
    return -1;
  p = skip_space (p + 1);
  while (*p != ']')
    {
      const char *end;
      Span span;

      if (*p != '"')
        return -1;
      end = strpbrk (p + 1, "\"\\");
      if (end == NULL || *end != '"')
        return -1;
      span.text = p + 1;
      span.len = (gsize) (end - p - 1);
      g_array_append_val (spans, span);
      p = skip_space (end + 1);
      if (*p == ',' && *skip_space (p + 1) == '"')
        p = skip_space (p + 1);
      else if (*p != ']')
        return -1;
    }
  return *skip_space (p + 1) == '\0' ? 1 : -1;
}

/* What st_record_from_json() makes of the texts above, without a JSON
 * parser: every customer row has both. NULL for anything else. */
static GVariant *
simple_json (const char *text)
{
  g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (Span));
  GVariantBuilder builder;

  switch (scan_simple_json (text, spans))
    {
    case 0:
      return g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0);
    case 1:
      break;
    default:
      return NULL;
    }
  g_variant_builder_init (&builder, G_VARIANT_TYPE_STRING_ARRAY);
  for (guint i = 0; i < spans->len; i++)
    {
      const Span *span = &g_array_index (spans, Span, i);
      g_autofree char *item = g_strndup (span->text, span->len);

      g_variant_builder_add_value (&builder, g_variant_new_string (item));
    }
  return g_variant_builder_end (&builder);
}

StColumnKind
st_record_column_kind (PGresult *res, int col)
{
  switch (PQftype (res, col))
    {
    case OID_BOOL:
      return ST_COLUMN_BOOL;
    case OID_INT8:
      return ST_COLUMN_INT64;
    case OID_INT2:
    case OID_INT4:
      return ST_COLUMN_INT32;
    case OID_FLOAT8:
    case OID_NUMERIC:
      return ST_COLUMN_DOUBLE;
    case OID_TIMESTAMPTZ:
      return ST_COLUMN_TIME;
    case OID_JSON:
    case OID_JSONB:
      return ST_COLUMN_JSON;
    default:
      return ST_COLUMN_TEXT;
    }
}

GVariant *
st_record_column_value (PGresult *res, int row, int col)
{
  if (PQgetisnull (res, row, col))
    return NULL;
  return st_record_value_from_text (st_record_column_kind (res, col),
                                    PQgetvalue (res, row, col));
}

GVariant *
st_record_value_from_text (StColumnKind kind, const char *text)
{
  switch (kind)
    {
    case ST_COLUMN_BOOL:
      return g_variant_new_boolean (text[0] == 't');
    case ST_COLUMN_INT64:
      return g_variant_new_int64 (g_ascii_strtoll (text, NULL, 10));
    case ST_COLUMN_INT32:
      return g_variant_new_int32 ((gint32) g_ascii_strtoll (text, NULL, 10));
    case ST_COLUMN_DOUBLE:
      return g_variant_new_double (g_ascii_strtod (text, NULL));
    case ST_COLUMN_TIME:
      return g_variant_new_take_string (st_record_time_from_pg (text));
    case ST_COLUMN_JSON:
      {
        GVariant *value = simple_json (text);

        if (value == NULL)
          value = st_record_from_json (text, NULL);
        return value != NULL ? value : g_variant_new_string (text);
      }
    case ST_COLUMN_TEXT:
    default:
      return g_variant_new_string (text);
    }
}

GVariant *
st_record_from_texts (guint n, const char *const *names, const int *kinds,
                      const char *const *values)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  for (guint i = 0; i < n; i++)
    if (values[i] != NULL)
      g_variant_builder_add_value (
          &builder, dict_entry (names[i], st_record_value_from_text (
                                              kinds[i], values[i])));
  return g_variant_builder_end (&builder);
}

GVariant *
st_record_from_row (PGresult *res, int row)
{
  return st_record_from_columns (res, row, PQnfields (res));
}

GVariant *
st_record_from_columns (PGresult *res, int row, int n_columns)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  for (int col = 0; col < n_columns; col++)
    {
      if (PQgetisnull (res, row, col))
        continue;
      g_variant_builder_add_value (
          &builder, dict_entry (PQfname (res, col),
                                st_record_column_value (res, row, col)));
    }
  return g_variant_builder_end (&builder);
}

GVariant *
st_record_list_from_result (PGresult *res)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (int row = 0; row < PQntuples (res); row++)
    g_variant_builder_add_value (&builder, st_record_from_row (res, row));
  return g_variant_builder_end (&builder);
}

/* Typed lookups ------------------------------------------------------- */

const char *
st_record_kind_of (GVariant *value)
{
  const char *type = g_variant_get_type_string (value);

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr (GVariant) inner = g_variant_get_variant (value);
      return st_record_kind_of (inner);
    }
  if (g_str_equal (type, "b"))
    return "a boolean";
  if (strchr ("sog", type[0]) != NULL)
    return "text";
  if (strchr ("ynqiuxtdh", type[0]) != NULL)
    return "a number";
  if (g_str_has_prefix (type, "a{"))
    return "a record";
  if (type[0] == 'a')
    return "a list";
  return "a tuple";
}

static GVariant *
lookup_typed (GVariant *dict, const char *key, const GVariantType *type,
              const char *type_name, GError **error)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (dict, key, NULL);

  if (value == NULL)
    return NULL;
  if (!g_variant_is_of_type (value, type))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s: expected %s (D-Bus type '%s'), got %s (type '%s')",
                   key, type_name, g_variant_type_peek_string (type),
                   st_record_kind_of (value), g_variant_get_type_string (value));
      return NULL;
    }
  return g_steal_pointer (&value);
}

gboolean
st_record_get_string (GVariant *dict, const char *key, const char **out,
                      GError **error)
{
  GError *local_error = NULL;
  g_autoptr (GVariant) value = lookup_typed (dict, key, G_VARIANT_TYPE_STRING,
                                             "a string", &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  /* The child is kept by @dict, so its string lives as long as @dict. */
  if (value != NULL)
    *out = g_variant_get_string (value, NULL);
  return TRUE;
}

gboolean
st_record_get_strv (GVariant *dict, const char *key, GStrv *out,
                    GError **error)
{
  GError *local_error = NULL;
  g_autoptr (GVariant) value = lookup_typed (
      dict, key, G_VARIANT_TYPE_STRING_ARRAY, "a list of strings",
      &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (value != NULL)
    *out = g_variant_dup_strv (value, NULL);
  return TRUE;
}

gboolean
st_record_get_double (GVariant *dict, const char *key, gboolean *present,
                      double *out, GError **error)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (dict, key, NULL);

  *present = FALSE;
  if (value == NULL)
    return TRUE;
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    *out = g_variant_get_double (value);
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    *out = (double) g_variant_get_int64 (value);
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
    *out = g_variant_get_int32 (value);
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    {
      const char *text = g_variant_get_string (value, NULL);
      char *end = NULL;
      *out = g_ascii_strtod (text, &end);
      if (text[0] == '\0' || *end != '\0')
        {
          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "%s: '%s' is not a number; write it like 12.50", key,
                       text);
          return FALSE;
        }
    }
  else
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s: expected a number, got %s (D-Bus type '%s')", key,
                   st_record_kind_of (value), g_variant_get_type_string (value));
      return FALSE;
    }
  if (!isfinite (*out))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s: must be a finite number", key);
      return FALSE;
    }
  *present = TRUE;
  return TRUE;
}

gboolean
st_record_get_uint (GVariant *dict, const char *key, guint *out,
                    GError **error)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (dict, key, NULL);
  gint64 n;

  if (value == NULL)
    return TRUE;
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
    n = g_variant_get_uint32 (value);
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
    n = g_variant_get_int32 (value);
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    n = g_variant_get_int64 (value);
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
    n = (gint64) MIN (g_variant_get_uint64 (value), G_MAXUINT32);
  else
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s: expected a whole number, got %s (D-Bus type '%s')",
                   key, st_record_kind_of (value),
                   g_variant_get_type_string (value));
      return FALSE;
    }
  if (n < 0 || n > G_MAXUINT32)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s: %" G_GINT64_FORMAT " is out of range", key, n);
      return FALSE;
    }
  *out = (guint) n;
  return TRUE;
}

gboolean
st_record_get_dict (GVariant *dict, const char *key, GVariant **out,
                    GError **error)
{
  GError *local_error = NULL;
  GVariant *value = lookup_typed (dict, key, G_VARIANT_TYPE_VARDICT,
                                  "a dictionary", &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (value != NULL)
    *out = value;
  return TRUE;
}

gboolean
st_record_check_keys (GVariant *dict, const char *const *known,
                      const char *what, GError **error)
{
  GVariantIter iter;
  const char *key;

  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{&sv}", &key, NULL))
    {
      if (g_strv_contains (known, key))
        continue;
      g_autofree char *list = g_strjoinv (", ", (GStrv) known);
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s: unknown field '%s'; known fields are: %s", what, key,
                   list);
      return FALSE;
    }
  return TRUE;
}
