#pragma once

/* Private to the configuration reader (st-config*.c): the tree of YAML
 * nodes, the key tables that walk it, and the value parsers sections
 * share. */

#include <glib.h>
#include <yaml.h>

#include "st-config.h"

G_BEGIN_DECLS

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

void st_node_free (StNode *node);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StNode, st_node_free)

#define ST_ITEM(node, i) ((const StNode *) g_ptr_array_index ((node)->items, (i)))

/* A plain empty value: "", "~" or null. */
gboolean st_node_is_null (const StNode *node);
/* The value of @key in the mapping @map, or NULL. */
const StNode *st_map_lookup (const StNode *map, const char *key);

/* Errors: every message is "NAME:LINE:COLUMN: what is wrong; what to do". */

typedef struct {
  const char *name;     /* the path, or the name given, used in messages */
  const char *base_dir; /* where relative script folders are; NULL: as written */
  const char *data;
  gsize len;
  yaml_parser_t parser;
} StParse;

gboolean st_fail (const StParse *p, gsize line, gsize column, GError **error,
                  const char *format, ...) G_GNUC_PRINTF (5, 6);

#define ST_AT(node) (node)->line, (node)->column

/* "'bus' must be session or system" + ", not a list": for wrong types and
 * wrong values alike, saying what was found. */
gboolean st_fail_found (const StParse *p, const StNode *node, GError **error,
                        const char *format, ...) G_GNUC_PRINTF (4, 5);

/* Read the file's one document; *root stays NULL when the file holds
 * none. */
gboolean st_read_document (StParse *p, StNode **root, GError **error);

/* Sections: a table of known keys, each with its handler */

typedef struct _StKey StKey;
typedef gboolean (*StKeyParse) (const StParse *p, const StKey *key,
                                const StNode *value, gpointer target,
                                GError **error);
/* What a field key's value is (st_parse_key_field). */
typedef enum {
  ST_KEY_NUMBER = 1, /* st_parse_number */
  ST_KEY_DURATION,   /* st_parse_duration, in milliseconds */
  ST_KEY_BYTES,      /* st_parse_bytes */
} StKeyKind;

struct _StKey {
  const char *name;
  const char *expects; /* for messages: "session or system" */
  StKeyParse parse;
  /* A field key's: what its value is, the field of the target it is
   * stored in (offset, and size: a guint or a guint64) and its range. */
  StKeyKind kind;
  gsize offset, size;
  guint64 min, max;
};

/* A key whose value is stored as it is in field @f of the target, a @T:
 * a whole number, a duration or a size (@k) from @lo to @hi. Keys with a
 * handler of their own are rows { name, expects, handler }. */
#define ST_KEY_FIELD(n, e, k, T, f, lo, hi)                               \
  { .name = (n), .expects = (e), .parse = st_parse_key_field,            \
    .kind = (k), .offset = G_STRUCT_OFFSET (T, f),                       \
    .size = sizeof (((T *) 0)->f), .min = (lo), .max = (hi) }

gboolean st_parse_key_field (const StParse *p, const StKey *key,
                             const StNode *value, gpointer target,
                             GError **error);

/* What every mapping needs: each key a name, written once. */
gboolean st_check_keys (const StParse *p, const StNode *map,
                        const char *where, GError **error);
/* @section is NULL for the top level, else the name of the key holding
 * @map. A key present with no value is refused: leaving it out gives the
 * default. */
gboolean st_parse_section (const StParse *p, const StNode *map,
                           const char *section, const StKey *keys,
                           gsize n_keys, gpointer target, GError **error);
/* "'KEY' must be EXPECTS, not FOUND". */
gboolean st_fail_expects (const StParse *p, const StKey *key,
                          const StNode *value, GError **error);
/* The text of a scalar, or NULL after st_fail_expects. */
const char *st_expect_text (const StParse *p, const StKey *key,
                            const StNode *value, GError **error);

/* Values */

/* A whole number from @min to @max, written plainly. */
gboolean st_parse_number (const StParse *p, const StKey *key,
                          const StNode *value, guint64 min, guint64 max,
                          guint64 *out, GError **error);
/* Digits then a unit ("500ms", "2s", "7d"), in milliseconds. */
gboolean st_parse_duration (const StParse *p, const StKey *key,
                            const StNode *value, guint64 min_ms,
                            guint64 max_ms, guint64 *out, GError **error);
/* Bytes, with an optional K, M or G suffix (powers of 1024). */
gboolean st_parse_bytes (const StParse *p, const StKey *key,
                         const StNode *value, guint64 min, guint64 max,
                         guint64 *out, GError **error);
/* "HH:MM" (or "H:MM"), 00:00 to 23:59, as minutes after midnight. */
gboolean st_parse_clock_time (const StParse *p, const StKey *key,
                              const StNode *value, guint *out,
                              GError **error);

/* Channel and plugin names: what scripts and file names may hold. */
gboolean st_name_valid (const char *name);

#define ST_NAME_RULE "a lower-case letter then up to 62 lower-case letters, " \
                     "digits, '_' or '-'"

/* Top-level keys handled in st-config-delivery.c */

gboolean st_parse_delivery (const StParse *p, const StKey *key,
                            const StNode *value, gpointer target,
                            GError **error);
gboolean st_parse_plugin_dir (const StParse *p, const StKey *key,
                              const StNode *value, gpointer target,
                              GError **error);
gboolean st_parse_channels (const StParse *p, const StKey *key,
                            const StNode *value, gpointer target,
                            GError **error);
gboolean st_parse_quiet_hours (const StParse *p, const StKey *key,
                               const StNode *value, gpointer target,
                               GError **error);
gboolean st_parse_default_tz (const StParse *p, const StKey *key,
                              const StNode *value, gpointer target,
                              GError **error);
gboolean st_parse_caps (const StParse *p, const StKey *key,
                        const StNode *value, gpointer target, GError **error);

/* The top-level key handled in st-config-campaigns.c */

gboolean st_parse_campaigns (const StParse *p, const StKey *key,
                             const StNode *value, gpointer target,
                             GError **error);

/* The top-level key handled in st-config-access.c */

gboolean st_parse_access (const StParse *p, const StKey *key,
                          const StNode *value, gpointer target,
                          GError **error);

G_END_DECLS
