/* Reading the configuration file. libyaml's events are read into a small
 * tree of nodes that remember where they were written, so every later
 * check can name file:line:column. The tree is walked with one key table
 * per section (st_parse_section); the value parsers here are shared by the
 * sections of st-config.c and st-config-delivery.c. */

#include "st-config-private.h"

#include <string.h>

#include "st-error.h"

#define ST_CONFIG_MAX_DEPTH 32

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (yaml_event_t, yaml_event_delete)

/* Nodes */

void
st_node_free (StNode *node)
{
  g_free (node->text);
  g_clear_pointer (&node->items, g_ptr_array_unref);
  g_free (node);
}

gboolean
st_node_is_null (const StNode *node)
{
  static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };

  return node->kind == ST_NODE_SCALAR && node->plain
         && g_strv_contains (nulls, node->text);
}

/* What the operator wrote, in a few words: "a list", "'foo'". */
static char *
st_node_describe (const StNode *node)
{
  if (node->kind != ST_NODE_SCALAR)
    return g_strdup (node->kind == ST_NODE_LIST ? "a list" : "a mapping");
  return st_node_is_null (node) ? g_strdup ("an empty value")
                                : g_strdup_printf ("'%s'", node->text);
}

const StNode *
st_map_lookup (const StNode *map, const char *key)
{
  for (guint i = 0; i < map->items->len; i += 2)
    if (g_str_equal (ST_ITEM (map, i)->text, key))
      return ST_ITEM (map, i + 1);
  return NULL;
}

/* Errors: every message is "NAME:LINE:COLUMN: what is wrong; what to do". */

gboolean G_GNUC_PRINTF (5, 6)
st_fail (const StParse *p, gsize line, gsize column, GError **error,
         const char *format, ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
               "%s:%" G_GSIZE_FORMAT ":%" G_GSIZE_FORMAT ": %s", p->name,
               line, column, what);
  return FALSE;
}

/* "'bus' must be session or system" + ", not a list": for wrong types and
 * wrong values alike, saying what was found. */
gboolean G_GNUC_PRINTF (4, 5)
st_fail_found (const StParse *p, const StNode *node, GError **error,
               const char *format, ...)
{
  g_autofree char *what = NULL;
  g_autofree char *found = st_node_describe (node);
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  return st_fail (p, ST_AT (node), error, "%s, not %s", what, found);
}

static gboolean
st_fail_syntax (const StParse *p, GError **error)
{
  const yaml_parser_t *y = &p->parser;
  const char *hint = "check the indentation and the quoting";
  gsize line = y->problem_mark.line + 1, column = y->problem_mark.column + 1;

  if (y->error == YAML_READER_ERROR)
    {
      /* Reader errors carry a byte offset, not a mark. */
      line = column = 1;
      for (gsize i = 0; i < y->problem_offset && i < p->len; i++)
        if (p->data[i] == '\n')
          line++, column = 1;
        else if (((guchar) p->data[i] & 0xc0) != 0x80)
          column++;
      hint = "save the file as UTF-8 text without control characters";
    }
  else if (y->problem_mark.index < p->len
           && p->data[y->problem_mark.index] == '\t')
    hint = "indent with spaces: YAML does not allow tabs";

  if (y->context != NULL)
    return st_fail (p, line, column, error,
                    "invalid YAML: %s, %s (started at line %" G_GSIZE_FORMAT
                    ", column %" G_GSIZE_FORMAT "); %s", y->context,
                    y->problem, y->context_mark.line + 1,
                    y->context_mark.column + 1, hint);
  return st_fail (p, line, column, error, "invalid YAML: %s; %s",
                  y->problem != NULL ? y->problem : "out of memory", hint);
}

/* Reading the YAML into nodes */

static gboolean
st_next_event (StParse *p, yaml_event_t *event, GError **error)
{
  return yaml_parser_parse (&p->parser, event) || st_fail_syntax (p, error);
}

static gboolean st_read_node (StParse *p, const yaml_event_t *event,
                              guint depth, StNode **out, GError **error);

static gboolean
st_read_children (StParse *p, StNode *node, yaml_event_type_t end,
                  guint depth, GError **error)
{
  for (;;)
    {
      g_auto (yaml_event_t) event = { 0 };
      StNode *child = NULL;

      if (!st_next_event (p, &event, error))
        return FALSE;
      if (event.type == end)
        return TRUE;
      if (!st_read_node (p, &event, depth + 1, &child, error))
        return FALSE;
      g_ptr_array_add (node->items, child);
    }
}

/* Anchors, aliases and tags would let one value stand for another or change
 * its type; a configuration reads more plainly without them. */
static gboolean
st_read_node (StParse *p, const yaml_event_t *event, guint depth,
              StNode **out, GError **error)
{
  const yaml_event_type_t type = event->type;
  gsize line = event->start_mark.line + 1;
  gsize column = event->start_mark.column + 1;
  const yaml_char_t *anchor = NULL, *tag = NULL;
  g_autoptr (StNode) node = NULL;

  switch (type)
    {
    case YAML_ALIAS_EVENT:
      return st_fail (p, line, column, error, "aliases (*%s) are not "
                      "supported; write the value out in full",
                      (const char *) event->data.alias.anchor);
    case YAML_SCALAR_EVENT:
      anchor = event->data.scalar.anchor;
      tag = event->data.scalar.tag;
      break;
    case YAML_SEQUENCE_START_EVENT:
      anchor = event->data.sequence_start.anchor;
      tag = event->data.sequence_start.tag;
      break;
    case YAML_MAPPING_START_EVENT:
      anchor = event->data.mapping_start.anchor;
      tag = event->data.mapping_start.tag;
      break;
    default:
      return st_fail (p, line, column, error, "unexpected YAML structure");
    }
  if (anchor != NULL)
    return st_fail (p, line, column, error, "anchors (&%s) are not supported; "
                    "write the value out in full", (const char *) anchor);
  if (tag != NULL)
    return st_fail (p, line, column, error, "tags (here %s) are not "
                    "supported; remove the tag and write the plain value",
                    (const char *) tag);
  if (depth > ST_CONFIG_MAX_DEPTH)
    return st_fail (p, line, column, error, "values are nested more than %d "
                    "levels deep; no key needs that", ST_CONFIG_MAX_DEPTH);

  node = g_new0 (StNode, 1);
  node->line = line;
  node->column = column;
  if (type == YAML_SCALAR_EVENT)
    {
      const char *text = (const char *) event->data.scalar.value;
      if (strlen (text) != event->data.scalar.length)
        return st_fail (p, line, column, error,
                        "this value contains a NUL character; remove it");
      node->kind = ST_NODE_SCALAR;
      node->text = g_strdup (text);
      node->plain = event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    }
  else
    {
      gboolean list = type == YAML_SEQUENCE_START_EVENT;
      node->kind = list ? ST_NODE_LIST : ST_NODE_MAP;
      node->items = g_ptr_array_new_with_free_func ((GDestroyNotify) st_node_free);
      if (!st_read_children (p, node, list ? YAML_SEQUENCE_END_EVENT
                                           : YAML_MAPPING_END_EVENT,
                             depth, error))
        return FALSE;
    }
  *out = g_steal_pointer (&node);
  return TRUE;
}

/* The file's one document; *root stays NULL when the file holds none. */
gboolean
st_read_document (StParse *p, StNode **root, GError **error)
{
  g_auto (yaml_event_t) event = { 0 };
  g_autoptr (StNode) node = NULL;

  for (int skip = 0; skip < 2; skip++) /* stream start, then document start */
    {
      yaml_event_delete (&event);
      if (!st_next_event (p, &event, error))
        return FALSE;
      if (event.type == YAML_STREAM_END_EVENT)
        return TRUE;
    }
  yaml_event_delete (&event);
  if (!st_next_event (p, &event, error)
      || !st_read_node (p, &event, 0, &node, error))
    return FALSE;
  for (int skip = 0; skip < 2; skip++) /* document end, then stream end */
    {
      yaml_event_delete (&event);
      if (!st_next_event (p, &event, error))
        return FALSE;
    }
  if (event.type == YAML_DOCUMENT_START_EVENT)
    return st_fail (p, event.start_mark.line + 1, event.start_mark.column + 1,
                    error, "a second YAML document starts here; the "
                    "configuration is one document: remove this '---' and "
                    "what follows, or merge it into the first");
  *root = g_steal_pointer (&node);
  return TRUE;
}

/* Sections: a table of known keys, each with its handler */

/* What every mapping needs: each key a name, written once. */
gboolean
st_check_keys (const StParse *p, const StNode *map, const char *where,
               GError **error)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < map->items->len; i += 2)
    {
      const StNode *key = ST_ITEM (map, i), *first;

      if (key->kind != ST_NODE_SCALAR || st_node_is_null (key))
        return st_fail_found (p, key, error, "each key %s must be a name",
                              where);
      first = g_hash_table_lookup (seen, key->text);
      if (first == NULL)
        {
          g_hash_table_insert (seen, key->text, (gpointer) key);
          continue;
        }
      return st_fail (p, ST_AT (key), error,
                      "key '%s' appears twice %s, at lines %" G_GSIZE_FORMAT
                      " and %" G_GSIZE_FORMAT "; keep only one",
                      key->text, where, first->line, key->line);
    }
  return TRUE;
}

/* @section is NULL for the top level, else the name of the key holding @map.
 * A key present with no value is refused: leaving it out gives the default. */
gboolean
st_parse_section (const StParse *p, const StNode *map, const char *section,
                  const StKey *keys, gsize n_keys, gpointer target,
                  GError **error)
{
  g_autofree char *where = section != NULL ? g_strdup_printf ("in '%s'", section)
                                           : g_strdup ("at the top level");

  if (map->kind != ST_NODE_MAP)
    return st_fail_found (p, map, error, "%s must be a mapping of keys such "
                          "as '%s: ...'", section != NULL ? section
                          : "the top level", keys[0].name);
  if (!st_check_keys (p, map, where, error))
    return FALSE;

  for (guint i = 0; i < map->items->len; i += 2)
    {
      const StNode *name = ST_ITEM (map, i), *value = ST_ITEM (map, i + 1);
      const StKey *key = NULL;

      for (gsize k = 0; k < n_keys && key == NULL; k++)
        if (g_str_equal (keys[k].name, name->text))
          key = &keys[k];
      if (key == NULL)
        {
          g_autoptr (GString) known = g_string_new (NULL);
          for (gsize k = 0; k < n_keys; k++)
            g_string_append_printf (known, "%s%s", k ? ", " : "", keys[k].name);
          return st_fail (p, ST_AT (name), error, "unknown key '%s' %s; known "
                          "keys: %s", name->text, where, known->str);
        }
      if (st_node_is_null (value))
        return st_fail (p, ST_AT (name), error, "'%s' has no value; give %s, "
                        "or remove the key to use the default", key->name,
                        key->expects);
      if (!key->parse (p, key, value, target, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
st_fail_expects (const StParse *p, const StKey *key, const StNode *value,
                 GError **error)
{
  return st_fail_found (p, value, error, "'%s' must be %s", key->name,
                        key->expects);
}

const char *
st_expect_text (const StParse *p, const StKey *key, const StNode *value,
                GError **error)
{
  if (value->kind == ST_NODE_SCALAR && !st_node_is_null (value))
    return value->text;
  st_fail_expects (p, key, value, error);
  return NULL;
}

/* Numbers, durations, sizes and clock times */

/* A whole number from @min to @max, written plainly. */
gboolean
st_parse_number (const StParse *p, const StKey *key, const StNode *value,
                 guint64 min, guint64 max, guint64 *out, GError **error)
{
  const char *text = st_expect_text (p, key, value, error);

  if (text == NULL)
    return FALSE;
  if (!value->plain)
    return st_fail (p, ST_AT (value), error, "'%s' must be %s written without "
                    "quotes, not the quoted string '%s'", key->name,
                    key->expects, text);
  /* Decimal digits only: no sign, exponent or hex, and no leading zero
   * (which YAML 1.1 reads as octal). */
  if (strspn (text, "0123456789") != strlen (text)
      || (text[0] == '0' && text[1] != '\0')
      || !g_ascii_string_to_unsigned (text, 10, min, max, out, NULL))
    return st_fail_expects (p, key, value, error);
  return TRUE;
}

static const struct {
  const char *suffix;
  guint64 ms;
} st_duration_units[] = {
  /* Ascending, for st_config_format_duration. */
  { "ms", 1 },
  { "s", 1000 },
  { "m", 60 * 1000 },
  { "h", 3600 * 1000 },
  { "d", 86400 * 1000 },
  { "w", 7 * 86400 * 1000 },
};

/* Digits then a unit ("500ms", "2s", "7d"): whole numbers only, so a
 * value reads the same to everyone. */
gboolean
st_parse_duration (const StParse *p, const StKey *key, const StNode *value,
                   guint64 min_ms, guint64 max_ms, guint64 *out,
                   GError **error)
{
  const char *text = st_expect_text (p, key, value, error);
  gsize digits;
  guint64 n = 0;

  if (text == NULL)
    return FALSE;
  digits = strspn (text, "0123456789");
  if (digits == 0 || digits > 15)
    return st_fail_expects (p, key, value, error);
  for (gsize i = 0; i < G_N_ELEMENTS (st_duration_units); i++)
    if (g_str_equal (text + digits, st_duration_units[i].suffix))
      {
        g_autofree char *number = g_strndup (text, digits);

        n = g_ascii_strtoull (number, NULL, 10);
        if (n > max_ms / st_duration_units[i].ms
            || n * st_duration_units[i].ms < min_ms)
          return st_fail_expects (p, key, value, error);
        *out = n * st_duration_units[i].ms;
        return TRUE;
      }
  return st_fail_expects (p, key, value, error);
}

/* Bytes, with an optional K, M or G suffix (powers of 1024). */
gboolean
st_parse_bytes (const StParse *p, const StKey *key, const StNode *value,
                guint64 min, guint64 max, guint64 *out, GError **error)
{
  static const char units[] = "KMG";
  const char *text = st_expect_text (p, key, value, error);
  gsize digits;
  guint64 unit = 1, n;
  g_autofree char *number = NULL;

  if (text == NULL)
    return FALSE;
  digits = strspn (text, "0123456789");
  if (digits == 0 || digits > 15 || (text[0] == '0' && digits > 1))
    return st_fail_expects (p, key, value, error);
  if (text[digits] != '\0')
    {
      const char *suffix = strchr (units, text[digits]);
      if (text[digits + 1] != '\0' || suffix == NULL)
        return st_fail_expects (p, key, value, error);
      unit = (guint64) 1 << (10 * (suffix - units + 1));
    }
  number = g_strndup (text, digits);
  n = g_ascii_strtoull (number, NULL, 10);
  if (n > max / unit || n * unit < min)
    return st_fail_expects (p, key, value, error);
  *out = n * unit;
  return TRUE;
}

/* "HH:MM" (or "H:MM"), 00:00 to 23:59, as minutes after midnight. */
gboolean
st_parse_clock_time (const StParse *p, const StKey *key, const StNode *value,
                     guint *out, GError **error)
{
  const char *text = st_expect_text (p, key, value, error);
  gsize hour_digits;
  guint hour, minute;

  if (text == NULL)
    return FALSE;
  hour_digits = strspn (text, "0123456789");
  if (hour_digits < 1 || hour_digits > 2 || text[hour_digits] != ':'
      || strspn (text + hour_digits + 1, "0123456789") != 2
      || text[hour_digits + 3] != '\0')
    return st_fail_expects (p, key, value, error);
  hour = (guint) g_ascii_strtoull (text, NULL, 10);
  minute = (guint) g_ascii_strtoull (text + hour_digits + 1, NULL, 10);
  if (hour > 23 || minute > 59)
    return st_fail_expects (p, key, value, error);
  *out = hour * 60 + minute;
  return TRUE;
}

/* Channel and plugin names: what scripts and file names may hold. */
gboolean
st_name_valid (const char *name)
{
  gsize len = strlen (name);

  return len >= 1 && len <= 63 && g_ascii_islower (name[0])
         && strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

char *
st_config_format_duration (guint64 ms)
{
  if (ms == 0)
    return g_strdup ("0s");
  for (gsize i = G_N_ELEMENTS (st_duration_units); i-- > 0;)
    if (ms % st_duration_units[i].ms == 0)
      return g_strdup_printf ("%" G_GUINT64_FORMAT "%s",
                              ms / st_duration_units[i].ms,
                              st_duration_units[i].suffix);
  g_assert_not_reached ();
}

gboolean
st_parse_key_field (const StParse *p, const StKey *key, const StNode *value,
                    gpointer target, GError **error)
{
  gpointer field = G_STRUCT_MEMBER_P (target, key->offset);
  guint64 n = 0;
  gboolean ok;

  switch (key->kind)
    {
    case ST_KEY_NUMBER:
      ok = st_parse_number (p, key, value, key->min, key->max, &n, error);
      break;
    case ST_KEY_DURATION:
      ok = st_parse_duration (p, key, value, key->min, key->max, &n, error);
      break;
    case ST_KEY_BYTES:
      ok = st_parse_bytes (p, key, value, key->min, key->max, &n, error);
      break;
    default:
      g_assert_not_reached ();
    }
  if (!ok)
    return FALSE;
  if (key->size == sizeof (guint))
    {
      g_assert (key->max <= G_MAXUINT);
      *(guint *) field = (guint) n;
    }
  else
    {
      g_assert (key->size == sizeof (guint64));
      *(guint64 *) field = n;
    }
  return TRUE;
}
