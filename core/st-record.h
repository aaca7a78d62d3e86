#pragma once

#include <glib.h>
#include <libpq-fe.h>

G_BEGIN_DECLS

/* Records cross the bus as a{sv}. These turn result rows into records,
 * keyed by column name, typed by column type, NULLs left out:
 * bigint → x, integer → i, numeric/float → d, boolean → b, timestamptz →
 * ISO-8601 UTC string, json/jsonb objects → a{sv}, JSON arrays of strings →
 * as, text → s. */
GVariant *st_record_from_row (PGresult *res, int row);

/* How a column becomes a record's value (st_record_from_row): the same
 * rule for scripts that get a row directly (st_lua_push_row), so both
 * see the same values. */
typedef enum {
  ST_COLUMN_TEXT,   /* s */
  ST_COLUMN_BOOL,   /* b */
  ST_COLUMN_INT64,  /* x: bigint */
  ST_COLUMN_INT32,  /* i: integer, smallint */
  ST_COLUMN_DOUBLE, /* d: numeric, double precision */
  ST_COLUMN_TIME,   /* s: timestamptz as st_record_time_from_pg() */
  ST_COLUMN_JSON,   /* json, jsonb: as st_record_from_json() (text when
                     * it does not parse) */
} StColumnKind;

StColumnKind st_record_column_kind (PGresult *res, int col);

/* The value of one column of a row, as st_record_from_row() puts it in the
 * record (floating); NULL for SQL NULL. */
GVariant *st_record_column_value (PGresult *res, int row, int col);

/* The same from a column's kind and text. */
GVariant *st_record_value_from_text (StColumnKind kind, const char *text);

/* A record (floating) from @n columns given as names, kinds
 * (StColumnKind) and texts (NULL: left out), as st_record_from_row() makes
 * it from a result row. */
GVariant *st_record_from_texts (guint n, const char *const *names,
                                const int *kinds, const char *const *values);

/* The same with only the first @n_columns columns: the others are for the
 * caller (a statement's flags), not for the record. */
GVariant *st_record_from_columns (PGresult *res, int row, int n_columns);

/* All rows as aa{sv}. */
GVariant *st_record_list_from_result (PGresult *res);

/* "2026-11-24 21:13:19.5+00" (PostgreSQL in UTC) → "2026-11-24T21:13:19.5Z". */
char *st_record_time_from_pg (const char *value);

/* A JSON text for a GVariant (a{sv} → object), for jsonb parameters. */
char *st_record_to_json (GVariant *value);

/* @record (a{sv}) with @key set to @value (floating is sunk): in @key's
 * place when @record has it, else at the end. The other members keep
 * their order, which a GVariantDict would lose. */
GVariant *st_record_with (GVariant *record, const char *key, GVariant *value);

/* A JSON text → GVariant (floating): objects a{sv}, arrays of strings as,
 * other arrays av, integers x, other numbers d. */
GVariant *st_record_from_json (const char *json, GError **error);

/* Typed lookups in an a{sv} that fail with ST_ERROR_INVALID_ARGUMENT naming
 * the key when the value has another type. A missing key leaves *out
 * untouched and returns TRUE. */
/* What @value is, in words for an error message: "a boolean", "text",
 * "a number", "a record", "a list" (through variants). */
const char *st_record_kind_of (GVariant *value);
gboolean st_record_get_string (GVariant *dict, const char *key,
                               const char **out, GError **error);
gboolean st_record_get_strv (GVariant *dict, const char *key, GStrv *out,
                             GError **error);
gboolean st_record_get_double (GVariant *dict, const char *key,
                               gboolean *present, double *out, GError **error);
gboolean st_record_get_uint (GVariant *dict, const char *key, guint *out,
                             GError **error);
gboolean st_record_get_dict (GVariant *dict, const char *key, GVariant **out,
                             GError **error);

/* Refuse keys of @dict that are not in @known (NULL-terminated), naming the
 * first unknown key and the known ones. */
gboolean st_record_check_keys (GVariant *dict, const char *const *known,
                               const char *what, GError **error);

G_END_DECLS
