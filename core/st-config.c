/* The configuration file. libyaml's events are read into a small tree of
 * nodes that remember where they were written, so every later check can
 * name file:line:column. The tree is walked with one key table per section:
 * a new section is a table row, a handler, and (if nested) its own table. */

#include "st-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include <glib/gstdio.h>
#include <libpq-fe.h>
#include <yaml.h>

#include "st-error.h"
#include "st-validate.h"

#define ST_CONFIG_MAX_DEPTH 32
#define ST_STAGE_NAME_MAX 63

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (yaml_event_t, yaml_event_delete)

/* Nodes */

typedef enum {
  ST_NODE_SCALAR,
  ST_NODE_LIST,
  ST_NODE_MAP,
} StNodeKind;

typedef struct {
  StNodeKind kind;
  char *text;       /* scalars */
  gboolean plain;   /* a scalar written without quotes */
  gsize line;       /* 1-based */
  gsize column;     /* 1-based */
  GPtrArray *items; /* lists: the values; maps: key, value, key, value… */
} StNode;

static void
st_node_free (StNode *node)
{
  g_free (node->text);
  g_clear_pointer (&node->items, g_ptr_array_unref);
  g_free (node);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StNode, st_node_free)

#define ST_ITEM(node, i) ((const StNode *) g_ptr_array_index ((node)->items, (i)))

static gboolean
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

static const StNode *
st_map_lookup (const StNode *map, const char *key)
{
  for (guint i = 0; i < map->items->len; i += 2)
    if (g_str_equal (ST_ITEM (map, i)->text, key))
      return ST_ITEM (map, i + 1);
  return NULL;
}

/* Errors: every message is "NAME:LINE:COLUMN: what is wrong; what to do". */

typedef struct {
  const char *name;     /* the path, or the name given, used in messages */
  const char *base_dir; /* where relative script folders are; NULL: as written */
  const char *data;
  gsize len;
  yaml_parser_t parser;
} StParse;

static gboolean G_GNUC_PRINTF (5, 6)
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

#define ST_AT(node) (node)->line, (node)->column

/* "'bus' must be session or system" + ", not a list": for wrong types and
 * wrong values alike, saying what was found. */
static gboolean G_GNUC_PRINTF (4, 5)
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
static gboolean
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

typedef struct _StKey StKey;
typedef gboolean (*StKeyParse) (const StParse *p, const StKey *key,
                                const StNode *value, gpointer target,
                                GError **error);
struct _StKey {
  const char *name;
  const char *expects; /* for messages: "session or system" */
  StKeyParse parse;
};

/* What every mapping needs: each key a name, written once. */
static gboolean
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
static gboolean
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

static gboolean
st_fail_expects (const StParse *p, const StKey *key, const StNode *value,
                 GError **error)
{
  return st_fail_found (p, value, error, "'%s' must be %s", key->name,
                        key->expects);
}

static const char *
st_expect_text (const StParse *p, const StKey *key, const StNode *value,
                GError **error)
{
  if (value->kind == ST_NODE_SCALAR && !st_node_is_null (value))
    return value->text;
  st_fail_expects (p, key, value, error);
  return NULL;
}

/* Top-level keys */

static gboolean
st_parse_database (const StParse *p, const StKey *key, const StNode *value,
                   gpointer target, GError **error)
{
  StConfig *config = target;
  const char *text = st_expect_text (p, key, value, error);
  PQconninfoOption *options;
  char *problem = NULL;

  if (text == NULL)
    return FALSE;
  if (*text != '\0')
    {
      /* Caught here, a typo names its line; caught at connect, it would not. */
      options = PQconninfoParse (text, &problem);
      if (options == NULL)
        {
          g_autofree char *reason = g_strdup (problem ? problem : "out of memory");
          PQfreemem (problem);
          return st_fail (p, ST_AT (value), error, "'%s' is not a valid libpq "
                          "connection string (%s); write it like 'host=/run/"
                          "postgresql dbname=steward' or 'postgresql://"
                          "steward@localhost/steward'", key->name,
                          g_strchomp (reason));
        }
      PQconninfoFree (options);
    }
  g_free (config->database);
  config->database = *text != '\0' ? g_strdup (text) : NULL;
  return TRUE;
}

static gboolean
st_parse_bus (const StParse *p, const StKey *key, const StNode *value,
              gpointer target, GError **error)
{
  StConfig *config = target;
  const char *text = st_expect_text (p, key, value, error);

  if (text == NULL)
    return FALSE;
  if (g_str_equal (text, "session"))
    config->bus = ST_BUS_SESSION;
  else if (g_str_equal (text, "system"))
    config->bus = ST_BUS_SYSTEM;
  else
    return st_fail_expects (p, key, value, error);
  return TRUE;
}

/* A whole number from @min to @max, written plainly. */
static gboolean
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

static gboolean
st_parse_workers (const StParse *p, const StKey *key, const StNode *value,
                  gpointer target, GError **error)
{
  StConfig *config = target;
  guint64 n = 0;

  if (!st_parse_number (p, key, value, 1, 256, &n, error))
    return FALSE;
  config->workers = (guint) n;
  return TRUE;
}

static gboolean
st_parse_scripts (const StParse *p, const StKey *key, const StNode *value,
                  gpointer target, GError **error)
{
  StConfig *config = target;
  g_autoptr (GStrvBuilder) folders = g_strv_builder_new ();

  if (value->kind != ST_NODE_LIST)
    return st_fail_expects (p, key, value, error);
  for (guint i = 0; i < value->items->len; i++)
    {
      const StNode *item = ST_ITEM (value, i);
      g_autofree char *folder = NULL;

      if (item->kind != ST_NODE_SCALAR || st_node_is_null (item)
          || *item->text == '\0')
        return st_fail_found (p, item, error, "each entry of '%s' must be a "
                              "folder path", key->name);
      if (p->base_dir != NULL && !g_path_is_absolute (item->text))
        folder = g_build_filename (p->base_dir, item->text, NULL);
      else
        folder = g_strdup (item->text);
      g_strv_builder_add (folders, folder);
    }
  g_strfreev (config->scripts);
  config->scripts = g_strv_builder_end (folders);
  return TRUE;
}

static void
st_stage_free (StStage *stage)
{
  g_free (stage->name);
  g_strfreev (stage->next);
  g_free (stage);
}

static StStage *
st_stage_new (const char *name, GStrv next)
{
  StStage *stage = g_new0 (StStage, 1);

  stage->name = g_strdup (name);
  stage->next = next;
  return stage;
}

/* One stage and where it may go; every stage name is already checked. */
static gboolean
st_parse_stage (const StParse *p, const StNode *stages, const StNode *name,
                const StNode *moves, StStage **out, GError **error)
{
  g_autoptr (GStrvBuilder) next = g_strv_builder_new ();

  if (st_node_is_null (moves))
    return st_fail (p, ST_AT (name), error, "stage '%s' has no list of next "
                    "stages; write [] if customers never leave it",
                    name->text);
  if (moves->kind != ST_NODE_LIST)
    return st_fail_found (p, moves, error, "the next stages of '%s' must be "
                          "a list such as [active, churned]", name->text);
  for (guint i = 0; i < moves->items->len; i++)
    {
      const StNode *to = ST_ITEM (moves, i);

      if (to->kind != ST_NODE_SCALAR || st_node_is_null (to))
        return st_fail_found (p, to, error, "each next stage of '%s' must be "
                              "a stage name", name->text);
      if (g_str_equal (to->text, name->text))
        return st_fail (p, ST_AT (to), error, "stage '%s' lists itself; a "
                        "stage cannot move to itself, remove '%s' from its "
                        "list", name->text, to->text);
      if (st_map_lookup (stages, to->text) == NULL)
        {
          g_autoptr (GString) declared = g_string_new (NULL);
          for (guint j = 0; j < stages->items->len; j += 2)
            g_string_append_printf (declared, "%s%s", j ? ", " : "",
                                    ST_ITEM (stages, j)->text);
          return st_fail_found (p, to, error, "stage '%s' may only move to "
                                "a declared stage (%s)", name->text,
                                declared->str);
        }
      for (guint j = 0; j < i; j++)
        if (g_str_equal (ST_ITEM (moves, j)->text, to->text))
          return st_fail (p, ST_AT (to), error, "stage '%s' lists '%s' "
                          "twice, at lines %" G_GSIZE_FORMAT " and %"
                          G_GSIZE_FORMAT "; remove one", name->text, to->text,
                          ST_ITEM (moves, j)->line, to->line);
      g_strv_builder_add (next, to->text);
    }
  *out = st_stage_new (name->text, g_strv_builder_end (next));
  return TRUE;
}

static gboolean
st_parse_stages (const StParse *p, const StKey *key, const StNode *value,
                 gpointer target, GError **error)
{
  StConfig *config = target;
  g_autoptr (GPtrArray) stages = NULL;

  if (value->kind != ST_NODE_MAP)
    return st_fail_expects (p, key, value, error);
  if (value->items->len == 0)
    return st_fail (p, ST_AT (value), error, "'%s' declares no stage; declare "
                    "at least one (the first is where new customers start)",
                    key->name);
  if (!st_check_keys (p, value, "in 'stages'", error))
    return FALSE;
  /* All names first: a stage may move to one declared after it. */
  for (guint i = 0; i < value->items->len; i += 2)
    if (!st_config_stage_name_valid (ST_ITEM (value, i)->text))
      return st_fail_found (p, ST_ITEM (value, i), error, "a stage name must "
                            "be a lower-case letter then up to %d lower-case "
                            "letters, digits or '_'", ST_STAGE_NAME_MAX - 1);

  stages = g_ptr_array_new_with_free_func ((GDestroyNotify) st_stage_free);
  for (guint i = 0; i < value->items->len; i += 2)
    {
      StStage *stage = NULL;
      if (!st_parse_stage (p, value, ST_ITEM (value, i), ST_ITEM (value, i + 1),
                           &stage, error))
        return FALSE;
      g_ptr_array_add (stages, stage);
    }
  g_ptr_array_unref (config->stages);
  config->stages = g_steal_pointer (&stages);
  return TRUE;
}

/* Durations, sizes and clock times */

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
static gboolean
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
static gboolean
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
static gboolean
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
static gboolean
st_name_valid (const char *name)
{
  gsize len = strlen (name);

  return len >= 1 && len <= 63 && g_ascii_islower (name[0])
         && strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

#define ST_NAME_RULE "a lower-case letter then up to 62 lower-case letters, " \
                     "digits, '_' or '-'"

/* lua */

static gboolean
st_parse_lua_instructions (const StParse *p, const StKey *key,
                           const StNode *value, gpointer target,
                           GError **error)
{
  StConfig *config = target;

  return st_parse_number (p, key, value, 1000, G_GUINT64_CONSTANT (1000000000000),
                          &config->lua_instructions, error);
}

static gboolean
st_parse_lua_timeout (const StParse *p, const StKey *key, const StNode *value,
                      gpointer target, GError **error)
{
  StConfig *config = target;
  guint64 ms = 0;

  if (!st_parse_duration (p, key, value, 10, 3600 * 1000, &ms, error))
    return FALSE;
  config->lua_timeout_ms = (guint) ms;
  return TRUE;
}

static gboolean
st_parse_lua_memory (const StParse *p, const StKey *key, const StNode *value,
                     gpointer target, GError **error)
{
  StConfig *config = target;
  guint64 bytes = 0;

  if (!st_parse_bytes (p, key, value, 1 << 20,
                       MIN ((guint64) G_MAXSIZE, (guint64) 64 << 30), &bytes,
                       error))
    return FALSE;
  config->lua_memory = (gsize) bytes;
  return TRUE;
}

static const StKey st_lua_keys[] = {
  { "instructions", "a whole number from 1000 to 1000000000000",
    st_parse_lua_instructions },
  { "timeout", "a duration from 10ms to 1h such as 500ms or 2s",
    st_parse_lua_timeout },
  { "memory", "a size from 1M to 64G in bytes, with an optional K, M or G "
              "suffix, such as 32M", st_parse_lua_memory },
};

static gboolean
st_parse_lua (const StParse *p, const StKey *key, const StNode *value,
              gpointer target, GError **error)
{
  return st_parse_section (p, value, key->name, st_lua_keys,
                           G_N_ELEMENTS (st_lua_keys), target, error);
}

/* care */

static gboolean
st_parse_care_workers (const StParse *p, const StKey *key, const StNode *value,
                       gpointer target, GError **error)
{
  StConfig *config = target;
  guint64 n = 0;

  if (!st_parse_number (p, key, value, 1, 64, &n, error))
    return FALSE;
  config->care_workers = (guint) n;
  return TRUE;
}

static const StKey st_care_keys[] = {
  { "workers", "a whole number from 1 to 64", st_parse_care_workers },
};

static gboolean
st_parse_care (const StParse *p, const StKey *key, const StNode *value,
               gpointer target, GError **error)
{
  return st_parse_section (p, value, key->name, st_care_keys,
                           G_N_ELEMENTS (st_care_keys), target, error);
}

/* delivery */

#define ST_BACKOFF_MIN_MS 100
#define ST_BACKOFF_MAX_MS (G_GUINT64_CONSTANT (30) * 86400 * 1000)

static gboolean
st_parse_delivery_workers (const StParse *p, const StKey *key,
                           const StNode *value, gpointer target,
                           GError **error)
{
  StConfig *config = target;
  guint64 n = 0;

  if (!st_parse_number (p, key, value, 1, 64, &n, error))
    return FALSE;
  config->delivery_workers = (guint) n;
  return TRUE;
}

static gboolean
st_parse_max_attempts (const StParse *p, const StKey *key, const StNode *value,
                       gpointer target, GError **error)
{
  StConfig *config = target;
  guint64 n = 0;

  if (!st_parse_number (p, key, value, 1, 1000, &n, error))
    return FALSE;
  config->delivery_max_attempts = (guint) n;
  return TRUE;
}

static gboolean
st_parse_backoff (const StParse *p, const StKey *key, const StNode *value,
                  gpointer target, GError **error)
{
  StConfig *config = target;

  return st_parse_duration (p, key, value, ST_BACKOFF_MIN_MS,
                            ST_BACKOFF_MAX_MS, &config->delivery_backoff_ms,
                            error);
}

static gboolean
st_parse_max_backoff (const StParse *p, const StKey *key, const StNode *value,
                      gpointer target, GError **error)
{
  StConfig *config = target;

  return st_parse_duration (p, key, value, ST_BACKOFF_MIN_MS,
                            ST_BACKOFF_MAX_MS,
                            &config->delivery_max_backoff_ms, error);
}

static const StKey st_delivery_keys[] = {
  { "workers", "a whole number from 1 to 64", st_parse_delivery_workers },
  { "max_attempts", "a whole number from 1 to 1000", st_parse_max_attempts },
  { "backoff", "a duration from 100ms to 30d such as 30s",
    st_parse_backoff },
  { "max_backoff", "a duration from 100ms to 30d such as 6h",
    st_parse_max_backoff },
};

static gboolean
st_parse_delivery (const StParse *p, const StKey *key, const StNode *value,
                   gpointer target, GError **error)
{
  StConfig *config = target;
  const StNode *at;
  g_autofree char *backoff = NULL, *max_backoff = NULL;

  if (!st_parse_section (p, value, key->name, st_delivery_keys,
                         G_N_ELEMENTS (st_delivery_keys), target, error))
    return FALSE;
  if (config->delivery_max_backoff_ms >= config->delivery_backoff_ms)
    return TRUE;
  /* Point at what was written: max_backoff if given, else backoff. */
  at = st_map_lookup (value, "max_backoff");
  if (at == NULL)
    at = st_map_lookup (value, "backoff");
  backoff = st_config_format_duration (config->delivery_backoff_ms);
  max_backoff = st_config_format_duration (config->delivery_max_backoff_ms);
  return st_fail (p, ST_AT (at), error, "'max_backoff' (%s) is shorter than "
                  "'backoff' (%s); make max_backoff at least as long as "
                  "backoff", max_backoff, backoff);
}

/* plugin_dir */

static gboolean
st_parse_plugin_dir (const StParse *p, const StKey *key, const StNode *value,
                     gpointer target, GError **error)
{
  StConfig *config = target;
  const char *text = st_expect_text (p, key, value, error);

  if (text == NULL)
    return FALSE;
  if (*text == '\0')
    return st_fail_expects (p, key, value, error);
  g_free (config->plugin_dir);
  if (p->base_dir != NULL && !g_path_is_absolute (text))
    config->plugin_dir = g_build_filename (p->base_dir, text, NULL);
  else
    config->plugin_dir = g_strdup (text);
  return TRUE;
}

/* channels */

void
st_channel_config_free (StChannelConfig *channel)
{
  if (channel == NULL)
    return;
  g_free (channel->name);
  g_free (channel->plugin);
  g_clear_pointer (&channel->settings, g_hash_table_unref);
  g_free (channel);
}


static gboolean
st_parse_channel (const StParse *p, const StNode *name, const StNode *entry,
                  StChannelConfig **out, GError **error)
{
  g_autofree char *where = g_strdup_printf ("in channel '%s'", name->text);
  g_autoptr (StChannelConfig) channel = g_new0 (StChannelConfig, 1);

  if (entry->kind != ST_NODE_MAP)
    return st_fail_found (p, entry, error, "channel '%s' must be a mapping "
                          "with its plugin and settings, such as {plugin: "
                          "log, path: messages.jsonl}", name->text);
  if (!st_check_keys (p, entry, where, error))
    return FALSE;
  channel->name = g_strdup (name->text);
  channel->settings = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                             g_free);
  for (guint i = 0; i < entry->items->len; i += 2)
    {
      const StNode *key = ST_ITEM (entry, i), *value = ST_ITEM (entry, i + 1);

      if (st_node_is_null (value))
        return st_fail (p, ST_AT (key), error, "'%s' %s has no value; give "
                        "one, or remove the key", key->text, where);
      if (value->kind != ST_NODE_SCALAR)
        return st_fail_found (p, value, error, "'%s' %s must be a text value",
                              key->text, where);
      if (!g_str_equal (key->text, "plugin"))
        {
          g_hash_table_insert (channel->settings, g_strdup (key->text),
                               g_strdup (value->text));
          continue;
        }
      if (!st_name_valid (value->text))
        return st_fail_found (p, value, error, "the plugin of channel '%s' "
                              "must be a plugin name (" ST_NAME_RULE ")",
                              name->text);
      channel->plugin = g_strdup (value->text);
    }
  if (channel->plugin == NULL)
    return st_fail (p, ST_AT (name), error, "channel '%s' names no plugin; "
                    "add 'plugin: log' (or the plugin that delivers it)",
                    name->text);
  *out = g_steal_pointer (&channel);
  return TRUE;
}

static gboolean
st_parse_channels (const StParse *p, const StKey *key, const StNode *value,
                   gpointer target, GError **error)
{
  StConfig *config = target;
  g_autoptr (GPtrArray) channels = NULL;

  if (value->kind != ST_NODE_MAP)
    return st_fail_expects (p, key, value, error);
  if (!st_check_keys (p, value, "in 'channels'", error))
    return FALSE;
  channels =
      g_ptr_array_new_with_free_func ((GDestroyNotify) st_channel_config_free);
  for (guint i = 0; i < value->items->len; i += 2)
    {
      const StNode *name = ST_ITEM (value, i);
      StChannelConfig *channel = NULL;

      if (!g_str_equal (name->text, "*") && !st_name_valid (name->text))
        return st_fail_found (p, name, error, "a channel name must be '*' "
                              "or " ST_NAME_RULE);
      if (!st_parse_channel (p, name, ST_ITEM (value, i + 1), &channel, error))
        return FALSE;
      g_ptr_array_add (channels, channel);
    }
  g_ptr_array_unref (config->channels);
  config->channels = g_steal_pointer (&channels);
  return TRUE;
}

/* quiet_hours */

typedef struct {
  const StNode *start, *end;
  guint start_minute, end_minute;
  GStrv channels;
} StQuietParse;

static gboolean
st_parse_quiet_start (const StParse *p, const StKey *key, const StNode *value,
                      gpointer target, GError **error)
{
  StQuietParse *quiet = target;

  quiet->start = value;
  return st_parse_clock_time (p, key, value, &quiet->start_minute, error);
}

static gboolean
st_parse_quiet_end (const StParse *p, const StKey *key, const StNode *value,
                    gpointer target, GError **error)
{
  StQuietParse *quiet = target;

  quiet->end = value;
  return st_parse_clock_time (p, key, value, &quiet->end_minute, error);
}

static gboolean
st_parse_quiet_channels (const StParse *p, const StKey *key,
                         const StNode *value, gpointer target, GError **error)
{
  StQuietParse *quiet = target;
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();

  if (value->kind != ST_NODE_LIST)
    return st_fail_expects (p, key, value, error);
  if (value->items->len == 0)
    return st_fail (p, ST_AT (value), error, "'%s' lists no channel; name "
                    "the channels to hold, or remove the key to hold all",
                    key->name);
  for (guint i = 0; i < value->items->len; i++)
    {
      const StNode *item = ST_ITEM (value, i);

      if (item->kind != ST_NODE_SCALAR || st_node_is_null (item)
          || !st_name_valid (item->text))
        return st_fail_found (p, item, error, "each entry of '%s' must be a "
                              "channel name (" ST_NAME_RULE ")", key->name);
      g_strv_builder_add (names, item->text);
    }
  g_strfreev (quiet->channels);
  quiet->channels = g_strv_builder_end (names);
  return TRUE;
}

static const StKey st_quiet_keys[] = {
  { "start", "a time of day such as \"21:00\"", st_parse_quiet_start },
  { "end", "a time of day such as \"08:00\"", st_parse_quiet_end },
  { "channels", "a list of channels such as [email, sms]",
    st_parse_quiet_channels },
};

static gboolean
st_parse_quiet_hours (const StParse *p, const StKey *key, const StNode *value,
                      gpointer target, GError **error)
{
  StConfig *config = target;
  StQuietParse quiet = { 0 };
  gboolean ok;

  ok = st_parse_section (p, value, key->name, st_quiet_keys,
                         G_N_ELEMENTS (st_quiet_keys), &quiet, error);
  if (ok && (quiet.start == NULL || quiet.end == NULL))
    ok = st_fail (p, ST_AT (value), error, "'quiet_hours' needs both 'start' "
                  "and 'end' (it has no '%s'); write them like start: "
                  "\"21:00\" and end: \"08:00\"",
                  quiet.start == NULL ? "start" : "end");
  if (ok && quiet.start_minute == quiet.end_minute)
    ok = st_fail (p, ST_AT (quiet.end), error, "'end' is the same time as "
                  "'start' (%s), which makes an empty window; give a "
                  "different end, or remove 'quiet_hours'", quiet.end->text);
  if (!ok)
    {
      g_strfreev (quiet.channels);
      return FALSE;
    }
  config->quiet_hours = TRUE;
  config->quiet_start = quiet.start_minute;
  config->quiet_end = quiet.end_minute;
  g_strfreev (config->quiet_channels);
  config->quiet_channels = quiet.channels;
  return TRUE;
}

/* default_tz */

static gboolean
st_parse_default_tz (const StParse *p, const StKey *key, const StNode *value,
                     gpointer target, GError **error)
{
  StConfig *config = target;
  const char *text = st_expect_text (p, key, value, error);
  g_autoptr (GError) invalid = NULL;
  const char *reason;

  if (text == NULL)
    return FALSE;
  if (!st_validate_tz (text, &invalid))
    {
      reason = invalid->message;
      if (g_str_has_prefix (reason, "tz: "))
        reason += strlen ("tz: ");
      return st_fail (p, ST_AT (value), error, "'%s' is not usable: %s",
                      key->name, reason);
    }
  g_free (config->default_tz);
  config->default_tz = g_strdup (text);
  return TRUE;
}

/* caps */

void
st_cap_config_free (StCapConfig *cap)
{
  if (cap == NULL)
    return;
  g_free (cap->channel);
  g_free (cap->per);
  g_free (cap);
}


static gboolean
st_parse_cap_channel (const StParse *p, const StKey *key, const StNode *value,
                      gpointer target, GError **error)
{
  StCapConfig *cap = target;
  const char *text = st_expect_text (p, key, value, error);

  if (text == NULL)
    return FALSE;
  if (!g_str_equal (text, "*") && !st_name_valid (text))
    return st_fail_expects (p, key, value, error);
  g_free (cap->channel);
  cap->channel = g_strdup (text);
  return TRUE;
}

static gboolean
st_parse_cap_max (const StParse *p, const StKey *key, const StNode *value,
                  gpointer target, GError **error)
{
  StCapConfig *cap = target;
  guint64 n = 0;

  if (!st_parse_number (p, key, value, 1, 1000000, &n, error))
    return FALSE;
  cap->max = (guint) n;
  return TRUE;
}

static gboolean
st_parse_cap_per (const StParse *p, const StKey *key, const StNode *value,
                  gpointer target, GError **error)
{
  StCapConfig *cap = target;
  guint64 ms = 0;

  if (!st_parse_duration (p, key, value, 1000,
                          G_GUINT64_CONSTANT (366) * 86400 * 1000, &ms, error))
    return FALSE;
  if (ms % 1000 != 0)
    return st_fail_expects (p, key, value, error);
  cap->per_seconds = (gint64) (ms / 1000);
  g_free (cap->per);
  cap->per = g_strdup (value->text);
  return TRUE;
}

static gboolean
st_parse_cap_action (const StParse *p, const StKey *key, const StNode *value,
                     gpointer target, GError **error)
{
  StCapConfig *cap = target;
  const char *text = st_expect_text (p, key, value, error);

  if (text == NULL)
    return FALSE;
  if (g_str_equal (text, "defer"))
    cap->suppress = FALSE;
  else if (g_str_equal (text, "suppress"))
    cap->suppress = TRUE;
  else
    return st_fail_expects (p, key, value, error);
  return TRUE;
}

static const StKey st_cap_keys[] = {
  { "channel", "a channel name or '*'", st_parse_cap_channel },
  { "max", "a whole number from 1 to 1000000", st_parse_cap_max },
  { "per", "a whole number of seconds or more, up to 366d, such as 1d or "
           "7d", st_parse_cap_per },
  { "action", "defer or suppress", st_parse_cap_action },
};

static gboolean
st_parse_caps (const StParse *p, const StKey *key, const StNode *value,
               gpointer target, GError **error)
{
  StConfig *config = target;
  g_autoptr (GPtrArray) caps = NULL;

  if (value->kind != ST_NODE_LIST)
    return st_fail_expects (p, key, value, error);
  caps = g_ptr_array_new_with_free_func ((GDestroyNotify) st_cap_config_free);
  for (guint i = 0; i < value->items->len; i++)
    {
      const StNode *item = ST_ITEM (value, i);
      g_autoptr (StCapConfig) cap = g_new0 (StCapConfig, 1);
      const char *missing;

      if (item->kind != ST_NODE_MAP)
        return st_fail_found (p, item, error, "each entry of 'caps' must be a "
                              "mapping such as {channel: email, max: 3, per: "
                              "7d}");
      if (!st_parse_section (p, item, "caps", st_cap_keys,
                             G_N_ELEMENTS (st_cap_keys), cap, error))
        return FALSE;
      missing = cap->channel == NULL ? "channel"
                : cap->max == 0      ? "max"
                : cap->per_seconds == 0 ? "per"
                                        : NULL;
      if (missing != NULL)
        return st_fail (p, ST_AT (item), error, "this entry of 'caps' has no "
                        "'%s'; each cap needs channel, max and per, such as "
                        "{channel: email, max: 3, per: 7d}", missing);
      g_ptr_array_add (caps, g_steal_pointer (&cap));
    }
  g_ptr_array_unref (config->caps);
  config->caps = g_steal_pointer (&caps);
  return TRUE;
}

static const StKey st_top_keys[] = {
  { "database", "a libpq connection string", st_parse_database },
  { "bus", "session or system", st_parse_bus },
  { "workers", "a whole number from 1 to 256", st_parse_workers },
  { "scripts", "a list of folders such as [scripts, /etc/steward/scripts]",
    st_parse_scripts },
  { "stages", "a mapping from each stage to the list of stages it may move "
              "to, such as {lead: [active], active: []}", st_parse_stages },
  { "lua", "a mapping of limits such as {timeout: 2s, memory: 32M}",
    st_parse_lua },
  { "care", "a mapping such as {workers: 2}", st_parse_care },
  { "delivery", "a mapping such as {workers: 2, max_attempts: 8}",
    st_parse_delivery },
  { "plugin_dir", "a folder path", st_parse_plugin_dir },
  { "channels", "a mapping from each channel to its plugin and settings, "
                "such as {email: {plugin: log, path: messages.jsonl}}",
    st_parse_channels },
  { "quiet_hours", "a mapping such as {start: \"21:00\", end: \"08:00\"}",
    st_parse_quiet_hours },
  { "default_tz", "a time zone name such as UTC or Europe/Paris",
    st_parse_default_tz },
  { "caps", "a list of caps such as [{channel: email, max: 3, per: 7d}]",
    st_parse_caps },
};

/* Public API */

gboolean
st_config_stage_name_valid (const char *name)
{
  gsize len = name != NULL ? strlen (name) : 0;

  return len >= 1 && len <= ST_STAGE_NAME_MAX && g_ascii_islower (name[0])
         && strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789_") == len;
}

StConfig *
st_config_new_default (void)
{
  static const char *const lifecycle[][4] = {
    { "lead", "onboarding", NULL },
    { "onboarding", "active", NULL },
    { "active", "at_risk", NULL },
    { "at_risk", "active", "churned", NULL },
    { "churned", "active", NULL },
  };
  StConfig *config = g_new0 (StConfig, 1);

  config->bus = ST_BUS_SESSION;
  config->workers = 4;
  config->lua_instructions = 10000000;
  config->lua_timeout_ms = 2000;
  config->lua_memory = 32 * 1024 * 1024;
  config->care_workers = 2;
  config->delivery_workers = 2;
  config->delivery_max_attempts = 8;
  config->delivery_backoff_ms = 30 * 1000;
  config->delivery_max_backoff_ms = 6 * 3600 * 1000;
  config->channels =
      g_ptr_array_new_with_free_func ((GDestroyNotify) st_channel_config_free);
  config->default_tz = g_strdup ("UTC");
  config->caps =
      g_ptr_array_new_with_free_func ((GDestroyNotify) st_cap_config_free);
  config->scripts = g_new0 (char *, 1);
  config->stages = g_ptr_array_new_with_free_func ((GDestroyNotify) st_stage_free);
  for (gsize i = 0; i < G_N_ELEMENTS (lifecycle); i++)
    g_ptr_array_add (config->stages,
                     st_stage_new (lifecycle[i][0],
                                   g_strdupv ((char **) &lifecycle[i][1])));
  return config;
}

void
st_config_free (StConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->path);
  g_free (config->database);
  g_strfreev (config->scripts);
  g_clear_pointer (&config->stages, g_ptr_array_unref);
  g_free (config->plugin_dir);
  g_clear_pointer (&config->channels, g_ptr_array_unref);
  g_strfreev (config->quiet_channels);
  g_free (config->default_tz);
  g_clear_pointer (&config->caps, g_ptr_array_unref);
  g_free (config);
}

static StConfig *
st_config_parse (const char *data, gsize len, const char *name,
                 const char *base_dir, GError **error)
{
  StParse p = { .name = name, .base_dir = base_dir, .data = data, .len = len };
  g_autoptr (StConfig) config = st_config_new_default ();
  g_autoptr (StNode) root = NULL;
  gboolean ok;

  if (!yaml_parser_initialize (&p.parser))
    g_error ("out of memory starting the YAML parser");
  yaml_parser_set_input_string (&p.parser, (const unsigned char *) data, len);
  ok = st_read_document (&p, &root, error);
  yaml_parser_delete (&p.parser);
  if (!ok)
    return NULL;
  /* No document, or an empty one (only comments, '---'): the defaults. */
  if (root != NULL && !st_node_is_null (root)
      && !st_parse_section (&p, root, NULL, st_top_keys,
                            G_N_ELEMENTS (st_top_keys), config, error))
    return NULL;
  return g_steal_pointer (&config);
}

StConfig *
st_config_load_from_data (const char *data, gssize len, const char *name,
                          GError **error)
{
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (data == NULL)
    data = "";
  return st_config_parse (data, len < 0 ? strlen (data) : (gsize) len, name,
                          NULL, error);
}

StConfig *
st_config_load (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  g_autofree char *absolute = NULL;
  g_autofree char *base_dir = NULL;
  g_autoptr (GError) local = NULL;
  gsize len = 0;
  StConfig *config;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Opened first to report the OS's own reason (errno) when it cannot be. */
  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      int errsv = errno;
      StError code = errsv == ENOENT || errsv == ENOTDIR ? ST_ERROR_NOT_FOUND
                     : errsv == EACCES ? ST_ERROR_PERMISSION_DENIED
                     : ST_ERROR_FAILED;
      g_set_error (error, ST_ERROR, code, "%s: cannot read the configuration "
                   "file: %s; give the path of a readable YAML file", path,
                   g_strerror (errsv));
      return NULL;
    }
  g_close (fd, NULL);
  if (!g_file_get_contents (path, &data, &len, &local))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED, "%s: cannot read the "
                   "configuration file: %s; give the path of a readable YAML "
                   "file", path, local->message);
      return NULL;
    }
  absolute = g_canonicalize_filename (path, NULL);
  base_dir = g_path_get_dirname (absolute);
  config = st_config_parse (data, len, path, base_dir, error);
  if (config != NULL)
    config->path = g_strdup (path);
  return config;
}

const StStage *
st_config_find_stage (const StConfig *config, const char *name)
{
  g_return_val_if_fail (config != NULL, NULL);

  for (guint i = 0; name != NULL && i < config->stages->len; i++)
    {
      const StStage *stage = g_ptr_array_index (config->stages, i);
      if (g_str_equal (stage->name, name))
        return stage;
    }
  return NULL;
}

const char *
st_config_initial_stage (const StConfig *config)
{
  g_return_val_if_fail (config != NULL && config->stages->len > 0, NULL);

  return ((const StStage *) g_ptr_array_index (config->stages, 0))->name;
}

gboolean
st_config_transition_allowed (const StConfig *config, const char *from,
                              const char *to)
{
  const StStage *stage = st_config_find_stage (config, from);

  return stage != NULL && to != NULL
         && g_strv_contains ((const char *const *) stage->next, to);
}

const StChannelConfig *
st_config_find_channel (const StConfig *config, const char *name)
{
  const StChannelConfig *any = NULL;

  g_return_val_if_fail (config != NULL, NULL);

  for (guint i = 0; name != NULL && i < config->channels->len; i++)
    {
      const StChannelConfig *channel = g_ptr_array_index (config->channels, i);
      if (g_str_equal (channel->name, name))
        return channel;
      if (g_str_equal (channel->name, "*"))
        any = channel;
    }
  return any;
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
