/* Reading the options and the header of an import, and converting each
 * record to COPY text. The per-row work is allocation-light: an import
 * reads hundreds of thousands of rows. */

#include "st-import-rows-private.h"

#include <string.h>

#include "st-error.h"
#include "st-import-values.h"
#include "st-record.h"
#include "st-validate.h"

/* Events may be recorded late, not early: a little clock skew is allowed
 * (as RecordEvent does). */
#define FUTURE_SKEW_USEC (300 * G_USEC_PER_SEC)
#define DEFAULT_CHUNK 50000

const char *const st_import_customer_fields[] = {
  "ref", "name", "email", "phone", "locale", "tz", "owner", "tags", NULL
};
const char *const st_import_event_fields[] = {
  "customer", "kind", "at", "amount", "key", NULL
};

static void
kind_rule_free (StImportKindRule *rule)
{
  g_free (rule->kind);
  g_free (rule->column);
  g_free (rule->pattern);
  g_free (rule);
}

static void
extra_clear (StImportExtra *extra)
{
  g_free (extra->key);
}

void
st_import_rows_free (StImportRows *rows)
{
  if (rows == NULL)
    return;
  g_clear_pointer (&rows->map, g_hash_table_unref);
  g_clear_pointer (&rows->time_format, st_import_time_format_free);
  g_free (rows->default_kind);
  g_free (rows->encoding);
  g_clear_pointer (&rows->rules, g_ptr_array_unref);
  g_clear_pointer (&rows->extras, g_array_unref);
  g_clear_pointer (&rows->ignored, g_ptr_array_unref);
  g_clear_pointer (&rows->kinds, g_hash_table_unref);
  g_clear_pointer (&rows->refs, g_hash_table_unref);
  g_clear_pointer (&rows->emails, g_hash_table_unref);
  g_string_free (rows->value, TRUE);
  g_string_free (rows->at_text, TRUE);
  g_string_free (rows->json, TRUE);
  g_string_free (rows->ref_scratch, TRUE);
  g_free (rows);
}

/* Options ------------------------------------------------------------------- */

/* A string option, copied at once: a later lookup may serialise @options
 * and free the child the pointer pointed into. */
static gboolean
get_text (GVariant *options, const char *key, char **out, GError **error)
{
  const char *text = NULL;

  if (!st_record_get_string (options, key, &text, error))
    return FALSE;
  *out = g_strdup (text);
  return TRUE;
}

static gboolean
read_char_option (GVariant *options, const char *key, const char *allowed,
                  char *out, GError **error)
{
  g_autofree char *text = NULL;

  if (!get_text (options, key, &text, error))
    return FALSE;
  if (text == NULL)
    return TRUE;
  if (g_str_equal (text, "\\t") || g_str_equal (text, "tab"))
    g_strlcpy (text, "\t", strlen (text) + 1);
  if (strlen (text) != 1 || strchr (allowed, text[0]) == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s: '%s' is not one of the characters it may be", key,
                   text);
      return FALSE;
    }
  *out = text[0];
  return TRUE;
}

gboolean
st_import_valid_kind (const char *kind)
{
  gsize len = strlen (kind);

  return len >= 1 && len <= 64 && g_ascii_islower (kind[0])
         && strspn (kind, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == len;
}

static gboolean
refuse_kind (const char *kind, GError **error)
{
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
               "kind: '%s' is not an event kind; use lower-case letters, "
               "digits, '_', '.' or '-', starting with a letter (e.g. "
               "purchase, ticket_opened)", kind);
  return FALSE;
}

static gboolean
read_kind_rules (StImportRows *rows, GVariant *options, GError **error)
{
  g_autoptr (GVariant) list = g_variant_lookup_value (options, "kind_if",
                                                      G_VARIANT_TYPE ("a(sss)"));
  GVariantIter iter;
  const char *kind, *column, *pattern;

  rows->rules = g_ptr_array_new_with_free_func ((GDestroyNotify) kind_rule_free);
  if (list == NULL)
    return TRUE;
  g_variant_iter_init (&iter, list);
  while (g_variant_iter_next (&iter, "(&s&s&s)", &kind, &column, &pattern))
    {
      StImportKindRule *rule = g_new0 (StImportKindRule, 1);
      gsize len = strlen (pattern);

      g_ptr_array_add (rows->rules, rule);
      if (!st_import_valid_kind (kind))
        return refuse_kind (kind, error);
      rule->kind = g_strdup (kind);
      rule->column = g_strdup (column);
      rule->prefix = len > 0 && pattern[len - 1] == '*';
      rule->pattern = g_strndup (pattern, rule->prefix ? len - 1 : len);
      rule->index = -1;
    }
  return TRUE;
}

static gboolean
read_map (StImportRows *rows, GVariant *options, GError **error)
{
  g_autoptr (GVariant) map = g_variant_lookup_value (options, "map", NULL);
  GVariantIter iter;
  const char *column, *field;

  rows->map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (map == NULL)
    return TRUE;
  if (!g_variant_is_of_type (map, G_VARIANT_TYPE ("a{ss}")))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "map: expected a{ss} (column → field), got '%s'",
                   g_variant_get_type_string (map));
      return FALSE;
    }
  g_variant_iter_init (&iter, map);
  while (g_variant_iter_next (&iter, "{&s&s}", &column, &field))
    g_hash_table_insert (rows->map, g_strdup (column), g_strdup (field));
  return TRUE;
}

static gboolean
read_time_format (StImportRows *rows, GVariant *options, GError **error)
{
  g_autofree char *pattern = NULL, *zone = NULL;
  g_autoptr (GTimeZone) tz = NULL;

  if (!get_text (options, "date_format", &pattern, error)
      || !get_text (options, "tz", &zone, error))
    return FALSE;
  if (pattern != NULL && (pattern[0] == '\0' || g_str_equal (pattern, "iso")))
    g_clear_pointer (&pattern, g_free);
  if (zone != NULL)
    {
      if (!st_validate_tz (zone, error))
        return FALSE;
      tz = g_time_zone_new_identifier (zone);
    }
  rows->time_format = st_import_time_format_new (pattern, tz, error);
  return rows->time_format != NULL;
}

/* An encoding iconv can convert to UTF-8; UTF-8 itself is none. */
static gboolean
read_encoding (StImportRows *rows, GVariant *options, GError **error)
{
  g_autofree char *name = NULL;
  GIConv converter;

  if (!get_text (options, "encoding", &name, error))
    return FALSE;
  if (name == NULL || g_ascii_strcasecmp (name, "utf-8") == 0
      || g_ascii_strcasecmp (name, "utf8") == 0)
    return TRUE;
  converter = g_iconv_open ("UTF-8", name);
  if (converter == (GIConv) -1)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "encoding: '%s' is not an encoding this system can read; "
                   "give e.g. windows-1252, latin1 or utf-16", name);
      return FALSE;
    }
  g_iconv_close (converter);
  rows->encoding = g_steal_pointer (&name);
  return TRUE;
}

static gboolean
read_options (StImportRows *rows, GVariant *options, GError **error)
{
  static const char *const known[] = {
    "map", "date_format", "tz", "decimal", "delimiter", "encoding", "kind",
    "kind_if", "create_customers", "raw_refs", "chunk", "rejects", NULL
  };
  g_autofree char *kind = NULL;

  if (!st_record_check_keys (options, known, "import options", error)
      || !read_map (rows, options, error)
      || !read_time_format (rows, options, error)
      || !read_char_option (options, "decimal", ".,", &rows->decimal, error)
      || !read_char_option (options, "delimiter", ",;|\t", &rows->delimiter,
                            error)
      || !read_encoding (rows, options, error)
      || !get_text (options, "kind", &kind, error)
      || !read_kind_rules (rows, options, error)
      || !st_record_get_uint (options, "chunk", &rows->chunk, error))
    return FALSE;
  g_variant_lookup (options, "create_customers", "b", &rows->create_customers);
  g_variant_lookup (options, "raw_refs", "b", &rows->raw_refs);
  if (kind != NULL && !st_import_valid_kind (kind))
    return refuse_kind (kind, error);
  rows->default_kind = g_steal_pointer (&kind);
  if (rows->chunk == 0 || rows->chunk > 1000000)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "chunk: give 1 to 1000000 rows per transaction");
      return FALSE;
    }
  return TRUE;
}

StImportRows *
st_import_rows_new (StImportKind kind, GVariant *options, gint64 now_usec,
                    GError **error)
{
  g_autoptr (StImportRows) rows = g_new0 (StImportRows, 1);

  rows->kind = kind;
  rows->decimal = '.';
  rows->delimiter = ',';
  rows->create_customers = TRUE;
  rows->chunk = DEFAULT_CHUNK;
  rows->latest_usec = now_usec + FUTURE_SKEW_USEC;
  rows->extras = g_array_new (FALSE, FALSE, sizeof (StImportExtra));
  g_array_set_clear_func (rows->extras, (GDestroyNotify) extra_clear);
  rows->ignored = g_ptr_array_new_with_free_func (g_free);
  rows->kinds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  rows->refs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  rows->emails = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  rows->value = g_string_new (NULL);
  rows->at_text = g_string_new (NULL);
  rows->json = g_string_new (NULL);
  rows->ref_scratch = g_string_new (NULL);
  for (guint i = 0; i < N_FIELDS; i++)
    rows->columns[i] = -1;
  if (!read_options (rows, options, error))
    return NULL;
  return g_steal_pointer (&rows);
}

char
st_import_rows_delimiter (const StImportRows *rows)
{
  return rows->delimiter;
}

const char *
st_import_rows_encoding (const StImportRows *rows)
{
  return rows->encoding;
}

gboolean
st_import_rows_set_delimiter (StImportRows *rows, char delimiter)
{
  if (delimiter == '\0' || strchr (",;|\t", delimiter) == NULL)
    return FALSE;
  rows->delimiter = delimiter;
  return TRUE;
}

guint
st_import_rows_chunk (const StImportRows *rows)
{
  return rows->chunk;
}

gboolean
st_import_rows_create_customers (const StImportRows *rows)
{
  return rows->create_customers;
}

GStrv
st_import_rows_kinds (const StImportRows *rows)
{
  g_autofree gpointer *keys = g_hash_table_get_keys_as_array (rows->kinds,
                                                               NULL);

  return g_strdupv ((char **) keys);
}

GStrv
st_import_rows_ignored_columns (const StImportRows *rows)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  GStrv list;

  for (guint i = 0; i < rows->ignored->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (rows->ignored, i));
  list = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return list;
}

/* The header ---------------------------------------------------------------- */

static const char *const *
field_names (const StImportRows *rows)
{
  return rows->kind == ST_IMPORT_CUSTOMERS ? st_import_customer_fields
                                           : st_import_event_fields;
}

static const char *
extra_prefix (const StImportRows *rows)
{
  return rows->kind == ST_IMPORT_CUSTOMERS ? "attr." : "data.";
}

static gboolean
valid_extra_key (const char *key)
{
  gsize len = strlen (key);

  return len >= 1 && len <= 64
         && strspn (key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_.-") == len;
}

static gboolean
fail_field (const StImportRows *rows, const char *column, const char *field,
            GError **error)
{
  g_autofree char *known = g_strjoinv (", ", (GStrv) field_names (rows));

  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
               "map: column '%s' goes to '%s', which is not a field; the "
               "fields are %s and %sNAME", column, field, known,
               extra_prefix (rows));
  return FALSE;
}

/* Give column @index to @field; a field fed by two columns is refused. */
static gboolean
assign (StImportRows *rows, guint index, const char *column,
        const char *field, GError **error)
{
  const char *const *names = field_names (rows);
  const char *prefix = extra_prefix (rows);

  for (guint f = 0; names[f] != NULL; f++)
    if (g_str_equal (names[f], field))
      {
        if (rows->columns[f] >= 0)
          {
            g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                         "map: two columns go to '%s'; map only one of "
                         "them", field);
            return FALSE;
          }
        rows->columns[f] = (int) index;
        return TRUE;
      }
  if (g_str_has_prefix (field, prefix) && valid_extra_key (field + 5))
    {
      StImportExtra extra = { (int) index, g_strdup (field + 5) };

      for (guint i = 0; i < rows->extras->len; i++)
        if (g_str_equal (g_array_index (rows->extras, StImportExtra, i).key, extra.key))
          {
            g_free (extra.key);
            g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                         "map: two columns go to '%s'; map only one of "
                         "them", field);
            return FALSE;
          }
      g_array_append_val (rows->extras, extra);
      return TRUE;
    }
  return fail_field (rows, column, field, error);
}

static gboolean
check_map_columns (StImportRows *rows, const char *const *fields, guint n,
                   GError **error)
{
  GHashTableIter iter;
  gpointer column;

  g_hash_table_iter_init (&iter, rows->map);
  while (g_hash_table_iter_next (&iter, &column, NULL))
    {
      gboolean found = FALSE;

      for (guint i = 0; i < n && !found; i++)
        found = g_str_equal (fields[i], column);
      if (!found)
        {
          g_autofree char *columns = g_strjoinv (", ", (GStrv) fields);

          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "map: the file has no column '%s'; its columns are: "
                       "%s", (const char *) column, columns);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
check_required (StImportRows *rows, GError **error)
{
  if (rows->kind == ST_IMPORT_CUSTOMERS)
    {
      if (rows->columns[F_REF] < 0 && rows->columns[F_EMAIL] < 0)
        {
          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "map: no column goes to ref or email; a re-import "
                       "finds customers by one of them (e.g. --map "
                       "id=ref)");
          return FALSE;
        }
      return TRUE;
    }
  if (rows->columns[F_CUSTOMER] < 0)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "map: no column goes to customer (the customer's ref), "
                   "e.g. --map customer_id=customer");
      return FALSE;
    }
  if (rows->columns[F_KIND] < 0 && rows->default_kind == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "kind: no column goes to kind and no --kind is given; "
                   "say what the rows are, e.g. --kind purchase");
      return FALSE;
    }
  return TRUE;
}

static gboolean
resolve_rules (StImportRows *rows, const char *const *fields, guint n,
               GError **error)
{
  for (guint r = 0; r < rows->rules->len; r++)
    {
      StImportKindRule *rule = g_ptr_array_index (rows->rules, r);

      for (guint i = 0; i < n && rule->index < 0; i++)
        if (g_str_equal (fields[i], rule->column))
          rule->index = (int) i;
      if (rule->index < 0)
        {
          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "kind_if: the file has no column '%s'", rule->column);
          return FALSE;
        }
    }
  return TRUE;
}

/* A header of one column that holds another delimiter: the file is
 * separated by that one. */
static gboolean
check_delimiter (const StImportRows *rows, const char *const *names, guint n,
                 GError **error)
{
  static const struct {
    char c;
    const char *name, *option;
  } others[] = {
    { ';', "';'", "';'" }, { '\t', "tabs", "tab" }, { '|', "'|'", "'|'" },
    { ',', "','", "," },
  };

  for (guint i = 0; n == 1 && i < G_N_ELEMENTS (others); i++)
    if (others[i].c != rows->delimiter && strchr (names[0], others[i].c))
      {
        g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                     "the header has one column, '%s': are the fields "
                     "separated by %s? Give --delimiter %s", names[0],
                     others[i].name, others[i].option);
        return FALSE;
      }
  return TRUE;
}

/* The field a column named @name feeds without a --map: a field's name or
 * attr./data.NAME, whatever its case (spreadsheets write "Email"). */
static char *
field_of_name (const StImportRows *rows, const char *name)
{
  const char *const *known = field_names (rows);
  const char *prefix = extra_prefix (rows);

  for (guint f = 0; known[f] != NULL; f++)
    if (g_ascii_strcasecmp (known[f], name) == 0)
      return g_strdup (known[f]);
  if (g_ascii_strncasecmp (name, prefix, 5) == 0 && valid_extra_key (name + 5))
    return g_strconcat (prefix, name + 5, NULL);
  return NULL;
}

/* Column @i, which feeds a field, must be the only one of its name: a
 * --map names columns, and could not tell two apart. */
static gboolean
check_unique_name (const char *const *names, guint i, GError **error)
{
  for (guint j = 0; names[j] != NULL; j++)
    if (j != i && g_str_equal (names[j], names[i]))
      {
        g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                     "the header names two columns '%s' (columns %u and "
                     "%u); rename one of them", names[i], MIN (i, j) + 1,
                     MAX (i, j) + 1);
        return FALSE;
      }
  return TRUE;
}

gboolean
st_import_rows_set_header (StImportRows *rows, const char *const *fields,
                           guint n, GError **error)
{
  g_auto (GStrv) names = g_new0 (char *, n + 1);

  for (guint i = 0; i < n; i++)
    names[i] = g_strstrip (g_strdup (fields[i]));
  if (!check_delimiter (rows, (const char *const *) names, n, error)
      || !check_map_columns (rows, (const char *const *) names, n, error))
    return FALSE;
  rows->n_columns = n;
  for (guint i = 0; i < n; i++)
    {
      const char *field = g_hash_table_lookup (rows->map, names[i]);
      g_autofree char *own = field == NULL ? field_of_name (rows, names[i])
                                           : NULL;

      if (own != NULL)
        field = own;
      if (field == NULL || field[0] == '\0')
        g_ptr_array_add (rows->ignored, g_strdup (names[i]));
      else if (!check_unique_name ((const char *const *) names, i, error)
               || !assign (rows, i, names[i], field, error))
        return FALSE;
    }
  return resolve_rules (rows, (const char *const *) names, n, error)
         && check_required (rows, error);
}
