/* One record of an import to one line of COPY text, checked as the
 * D-Bus calls check the same fields (st-customers.c, st-events.c), so an
 * imported row is what Create or RecordEvent would have accepted. */

#include "st-import-rows-private.h"

#include <stdlib.h>
#include <string.h>

#include "st-error.h"
#include "st-validate.h"

#define MAX_KEY_LENGTH 200

/* The trimmed cell of @field, "" when no column holds it. */
static const char *
cell (const StImportRows *rows, char **fields, int field)
{
  int column = rows->columns[field];

  return column >= 0 ? g_strstrip (fields[column]) : "";
}

static StImportRowOutcome
reject (char **reason, const char *format, ...) G_GNUC_PRINTF (2, 3);

static StImportRowOutcome
reject (char **reason, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  *reason = g_strdup_vprintf (format, args);
  va_end (args);
  return ST_IMPORT_ROW_REJECTED;
}

static StImportRowOutcome
reject_error (char **reason, const char *field, GError *error)
{
  StImportRowOutcome outcome;

  outcome = field != NULL ? reject (reason, "%s: %s", field, error->message)
                          : reject (reason, "%s", error->message);
  g_error_free (error);
  return outcome;
}

static void
append_field (GString *copy, const char *text)
{
  g_string_append_c (copy, '\t');
  st_import_append_copy_text (copy, text != NULL && text[0] != '\0' ? text
                                                                    : NULL);
}

/* The payload (data.*) or attributes (attr.*) as a JSON object, or NULL
 * when every cell is empty. Payload values are typed as --data types them;
 * attributes stay text, as --attr keeps them. */
static const char *
extras_json (StImportRows *rows, char **fields, gboolean typed)
{
  GString *json = rows->json;

  g_string_assign (json, "{");
  for (guint i = 0; i < rows->extras->len; i++)
    {
      const StImportExtra *extra = &g_array_index (rows->extras,
                                                   StImportExtra, i);
      const char *value = g_strstrip (fields[extra->column]);

      if (value[0] == '\0')
        continue;
      if (json->len > 1)
        g_string_append_c (json, ',');
      st_import_append_json_string (json, extra->key);
      g_string_append_c (json, ':');
      if (typed)
        st_import_append_json_value (json, value);
      else
        st_import_append_json_string (json, value);
    }
  if (json->len == 1)
    return NULL;
  g_string_append_c (json, '}');
  return json->str;
}

static const char *
extra_cell (StImportRows *rows, char **fields, const char *key)
{
  for (guint i = 0; i < rows->extras->len; i++)
    {
      const StImportExtra *extra = &g_array_index (rows->extras,
                                                   StImportExtra, i);

      if (g_str_equal (extra->key, key))
        return g_strstrip (fields[extra->column]);
    }
  return "";
}

static StImportRowOutcome
reject_rounded (char **reason, const char *field, const char *ref)
{
  return reject (reason, "%s: '%s' is a number a spreadsheet rounded to "
                         "scientific notation, not the ref: format the "
                         "column as text and export the file again", field,
                 ref);
}

static const char *
normalized_ref (StImportRows *rows, const char *ref)
{
  return rows->raw_refs ? ref : st_import_normalize_ref (ref,
                                                         rows->ref_scratch);
}

/* Events ---------------------------------------------------------------- */

static const char *
pick_kind (const StImportRows *rows, char **fields)
{
  const char *kind;

  for (guint r = 0; r < rows->rules->len; r++)
    {
      const StImportKindRule *rule = g_ptr_array_index (rows->rules, r);
      const char *value = g_strstrip (fields[rule->index]);

      if (rule->prefix ? g_str_has_prefix (value, rule->pattern)
                       : g_str_equal (value, rule->pattern))
        return rule->kind;
    }
  kind = cell (rows, fields, F_KIND);
  return kind[0] != '\0' ? kind : rows->default_kind;
}

/* Surveys carry a whole score on their type's scale; the aggregates read
 * it (as st-events.c checks it). */
static StImportRowOutcome
check_survey (StImportRows *rows, char **fields, char **reason)
{
  const char *type = extra_cell (rows, fields, "type");
  const char *score_text = extra_cell (rows, fields, "score");
  char *end = NULL;
  double score = g_ascii_strtod (score_text, &end);
  int low = 0, high = 10;

  if (type[0] == '\0' || g_str_equal (type, "nps"))
    type = "nps";
  else if (g_str_equal (type, "csat"))
    low = 1, high = 5;
  else if (g_str_equal (type, "ces"))
    low = 1, high = 7;
  else
    return reject (reason, "data.type: '%s' is not a survey type; use nps, "
                           "csat or ces", type);
  if (score_text[0] == '\0' || end == NULL || *end != '\0' || score < low
      || score > high || score != (int) score)
    return reject (reason, "data.score: a %s survey needs a whole score from "
                           "%d to %d", type, low, high);
  return ST_IMPORT_ROW_STAGED;
}

static StImportRowOutcome
convert_time (StImportRows *rows, char **fields, GString *at,
              char **reason)
{
  const char *text = cell (rows, fields, F_AT);
  GError *error = NULL;
  gint64 usec;

  if (rows->columns[F_AT] < 0)
    return ST_IMPORT_ROW_STAGED; /* recorded now, as RecordEvent does */
  if (text[0] == '\0')
    return reject (reason, "at: the time is empty; every event needs the "
                           "time it happened");
  if (!st_import_parse_time (rows->time_format, text, &usec, &error))
    return reject_error (reason, "at", error);
  if (usec > rows->latest_usec)
    return reject (reason, "at: '%s' is in the future; events record what "
                           "has happened", text);
  st_import_append_time (at, usec);
  return ST_IMPORT_ROW_STAGED;
}

/* A row without a key is known by what it says: identical rows are one
 * event, and importing the file again finds them. */
static char *
row_key (const char *ref, const char *kind, const char *at,
         const char *amount, const char *data)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  const char *parts[] = { ref, kind, at, amount, data };

  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    {
      g_checksum_update (sum, (const guchar *) (parts[i] ? parts[i] : ""), -1);
      g_checksum_update (sum, (const guchar *) "\x1f", 1);
    }
  return g_strdup_printf ("row:%.32s", g_checksum_get_string (sum));
}

static void
note_kind (StImportRows *rows, const char *kind)
{
  if (!g_hash_table_contains (rows->kinds, kind))
    g_hash_table_add (rows->kinds, g_strdup (kind));
}

static StImportRowOutcome
convert_event (StImportRows *rows, char **fields, guint64 line,
               GString *copy, char **reason)
{
  const char *ref = cell (rows, fields, F_CUSTOMER);
  const char *kind, *amount_text, *key, *data;
  GString *at = rows->at_text, *amount = rows->value;
  g_autofree char *hashed = NULL;
  GError *error = NULL;

  g_string_truncate (at, 0);
  g_string_truncate (amount, 0);
  if (ref[0] == '\0')
    return ST_IMPORT_ROW_SKIPPED;
  if (!rows->raw_refs && st_import_ref_is_rounded (ref))
    return reject_rounded (reason, "customer", ref);
  ref = normalized_ref (rows, ref);
  if (!st_validate_ref (ref, &error))
    return reject_error (reason, "customer", error);
  kind = pick_kind (rows, fields);
  if (kind == NULL)
    return reject (reason, "kind: the kind is empty and no --kind is given");
  if (!st_import_valid_kind (kind))
    return reject (reason, "kind: '%s' is not an event kind; use lower-case "
                           "letters, digits, '_', '.' or '-', starting with "
                           "a letter", kind);
  if (convert_time (rows, fields, at, reason) != ST_IMPORT_ROW_STAGED)
    return ST_IMPORT_ROW_REJECTED;
  amount_text = cell (rows, fields, F_AMOUNT);
  if (rows->delimiter == ';' && rows->decimal == '.'
      && strchr (amount_text, ',') != NULL && strchr (amount_text, '.') == NULL)
    return reject (reason, "amount: is the comma of '%s' decimal or a "
                           "thousands separator? In a file separated by ';' "
                           "it is usually decimal: then give --decimal , "
                           "(else write the amount without thousands "
                           "separators)", amount_text);
  if (amount_text[0] != '\0'
      && !st_import_parse_amount (amount_text, rows->decimal, amount, &error))
    return reject_error (reason, "amount", error);
  if (g_str_equal (kind, "survey")
      && check_survey (rows, fields, reason) != ST_IMPORT_ROW_STAGED)
    return ST_IMPORT_ROW_REJECTED;
  data = extras_json (rows, fields, TRUE);
  key = cell (rows, fields, F_KEY);
  if (strlen (key) > MAX_KEY_LENGTH)
    return reject (reason, "key: an idempotency key has 1 to 200 characters");
  if (key[0] == '\0')
    key = hashed = row_key (ref, kind, at->str, amount->str, data);

  st_import_append_uint (copy, line);
  append_field (copy, ref);
  append_field (copy, kind);
  append_field (copy, at->str);
  append_field (copy, amount->str);
  append_field (copy, key);
  append_field (copy, data);
  g_string_append_c (copy, '\n');
  note_kind (rows, kind);
  return ST_IMPORT_ROW_STAGED;
}

/* Customers ----------------------------------------------------------------- */

static gboolean
validate_owner (const char *value, GError **error)
{
  if (g_utf8_strlen (value, -1) <= 100)
    return TRUE;
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
               "owner: must be a user name of at most 100 characters");
  return FALSE;
}

typedef gboolean (*Validator) (const char *value, GError **error);

/* The optional fields, checked as Create checks them (its messages name
 * the field). */
static StImportRowOutcome
check_fields (const char *const *values, char **reason)
{
  static const Validator validators[] = {
    [F_REF] = st_validate_ref,       [F_NAME] = st_validate_name,
    [F_EMAIL] = st_validate_email,   [F_PHONE] = st_validate_phone,
    [F_LOCALE] = st_validate_locale, [F_TZ] = st_validate_tz,
    [F_OWNER] = validate_owner,
  };
  GError *error = NULL;

  for (guint f = F_REF; f <= F_OWNER; f++)
    if (values[f][0] != '\0' && !validators[f] (values[f], &error))
      return reject_error (reason, NULL, error);
  return ST_IMPORT_ROW_STAGED;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Tags separated by commas, semicolons, bars or spaces, as a PostgreSQL
 * array literal, sorted and unique as Create stores them; tag characters
 * need no quoting there. */
static StImportRowOutcome
tags_literal (const char *text, GString *out, char **reason)
{
  g_auto (GStrv) tags = g_strsplit_set (text, ",;| ", -1);
  g_autoptr (GPtrArray) list = g_ptr_array_new ();
  GError *error = NULL;

  for (guint i = 0; tags[i] != NULL; i++)
    {
      if (tags[i][0] == '\0')
        continue;
      if (!st_validate_tag (tags[i], &error))
        return reject_error (reason, NULL, error);
      g_ptr_array_add (list, tags[i]);
    }
  g_ptr_array_sort (list, compare_strings);
  g_string_append_c (out, '{');
  for (guint i = 0; i < list->len; i++)
    if (i == 0 || strcmp (list->pdata[i], list->pdata[i - 1]) != 0)
      g_string_append_printf (out, "%s%s", out->len > 1 ? "," : "",
                              (const char *) list->pdata[i]);
  g_string_append_c (out, '}');
  return ST_IMPORT_ROW_STAGED;
}

/* One row per customer in a file: a second row for the same ref or e-mail
 * is refused, whichever chunk it falls in. */
static StImportRowOutcome
check_unique (StImportRows *rows, const char *ref, const char *email,
              guint64 line, char **reason)
{
  g_autofree char *lower = email[0] != '\0' ? g_utf8_strdown (email, -1)
                                            : NULL;
  gpointer first;

  if (ref[0] != '\0' && (first = g_hash_table_lookup (rows->refs, ref)))
    return reject (reason, "ref: '%s' is also on line %" G_GUINT64_FORMAT
                           "; give each customer one row", ref,
                   (guint64) GPOINTER_TO_SIZE (first));
  if (lower != NULL && (first = g_hash_table_lookup (rows->emails, lower)))
    return reject (reason, "email: '%s' is also on line %" G_GUINT64_FORMAT
                           "; give each customer one row", email,
                   (guint64) GPOINTER_TO_SIZE (first));
  if (ref[0] != '\0')
    g_hash_table_insert (rows->refs, g_strdup (ref),
                         GSIZE_TO_POINTER ((gsize) line));
  if (lower != NULL)
    g_hash_table_insert (rows->emails, g_steal_pointer (&lower),
                         GSIZE_TO_POINTER ((gsize) line));
  return ST_IMPORT_ROW_STAGED;
}

static StImportRowOutcome
convert_customer (StImportRows *rows, char **fields, guint64 line,
                  GString *copy, char **reason)
{
  const char *values[F_TAGS + 1];
  g_autoptr (GString) tags = g_string_new (NULL);

  for (guint f = F_REF; f <= F_TAGS; f++)
    values[f] = cell (rows, fields, (int) f);
  if (values[F_REF][0] != '\0' && !rows->raw_refs
      && st_import_ref_is_rounded (values[F_REF]))
    return reject_rounded (reason, "ref", values[F_REF]);
  if (values[F_REF][0] != '\0')
    values[F_REF] = normalized_ref (rows, values[F_REF]);
  if (values[F_REF][0] == '\0' && values[F_EMAIL][0] == '\0')
    return reject (reason, "ref: the row has neither a ref nor an e-mail; "
                           "give one, so that a re-import finds the "
                           "customer again");
  if (check_fields (values, reason) != ST_IMPORT_ROW_STAGED
      || (values[F_TAGS][0] != '\0'
          && tags_literal (values[F_TAGS], tags, reason)
                 != ST_IMPORT_ROW_STAGED)
      || check_unique (rows, values[F_REF], values[F_EMAIL], line, reason)
             != ST_IMPORT_ROW_STAGED)
    return ST_IMPORT_ROW_REJECTED;

  st_import_append_uint (copy, line);
  for (guint f = F_REF; f <= F_OWNER; f++)
    append_field (copy, values[f]);
  append_field (copy, tags->str);
  append_field (copy, extras_json (rows, fields, FALSE));
  g_string_append_c (copy, '\n');
  return ST_IMPORT_ROW_STAGED;
}

StImportRowOutcome
st_import_rows_convert (StImportRows *rows, char **fields, guint n,
                        guint64 line, GString *copy, char **reason)
{
  /* Even when the extra fields are empty: 'c7,purchase,12,50,' is a
   * decimal comma out of quotes that shifted the cells, not a trailing
   * delimiter. */
  if (n > rows->n_columns)
    return reject (reason, "the row has %u fields but the header has %u "
                           "(a delimiter inside a value that is not in "
                           "quotes?)", n, rows->n_columns);
  if (n < rows->n_columns)
    return reject (reason, "the row has %u field%s but the header has %u "
                           "(a line break inside a value that is not in "
                           "quotes, or a row cut short?)",
                   n, n == 1 ? "" : "s", rows->n_columns);
  return rows->kind == ST_IMPORT_EVENTS
             ? convert_event (rows, fields, line, copy, reason)
             : convert_customer (rows, fields, line, copy, reason);
}
