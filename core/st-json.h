#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* JSON for records: GVariant values to JSON trees and text. */

/* The shortest decimal text that reads back as exactly @value. */
char *st_json_format_double (double value);

/* A JSON tree for @value: a{sv} and other dictionaries → objects, arrays
 * and tuples → arrays, integers → integers, doubles → numbers (non-finite
 * → null), strings → strings, maybe → the value or null. */
JsonNode *st_json_from_variant (GVariant *value);

/* JSON text for @node, indented by two spaces when @pretty. */
char *st_json_to_string (JsonNode *node, gboolean pretty);

char *st_json_variant_to_string (GVariant *value, gboolean pretty);

/* @text with ".0" after each integer that a gint64 cannot hold, so that
 * json-glib reads it as the double it is rather than wrapping it around
 * (PostgreSQL writes a jsonb 1e20 as 100000000000000000000); NULL when
 * every integer fits, which is nearly always. */
char *st_json_widen_integers (const char *text);

G_END_DECLS
