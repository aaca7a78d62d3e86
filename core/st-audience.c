/* The audience of a campaign: the script's `audience` table, checked key by
 * key and turned into conditions on the customers table, each a piece of
 * SQL whose values travel as parameters. docs/audience.md is the language;
 * data/sql/0003-audience.sql has the indexes the conditions lean on. */

#include "st-audience.h"

#include <math.h>
#include <string.h>

#include "st-error.h"
#include "st-json.h"
/* st_lua_parse_duration: audiences write durations as scripts' `delay`
 * does; only that parser is used, nothing of the Lua state. */
#include "st-lua-private.h"
#include "st-record.h"
#include "st-validate.h"

/* One condition. In @sql, "$?" stands for the next of @values, "$now" for
 * the reference time and "$keyset" for the page's cursor in a subquery;
 * st_audience_sql() numbers them. */
typedef struct {
  char *sql;
  GPtrArray *values; /* char* */
  char *summary;
} StCondition;

struct _StAudience {
  GPtrArray *conditions; /* StCondition*, in the order of the keys table */
  GPtrArray *stages;     /* char*: the stage names given */
  gboolean uses_now;
};

static void
condition_free (StCondition *condition)
{
  g_free (condition->sql);
  g_ptr_array_unref (condition->values);
  g_free (condition->summary);
  g_free (condition);
}

/* Adds a condition taking @sql, @summary and @values (char*). */
static void
add_condition_values (StAudience *audience, char *sql, char *summary,
                      GPtrArray *values)
{
  StCondition *condition = g_new0 (StCondition, 1);

  condition->sql = sql;
  condition->summary = summary;
  condition->values = g_ptr_array_ref (values);
  if (strstr (sql, "$now") != NULL)
    audience->uses_now = TRUE;
  g_ptr_array_add (audience->conditions, condition);
}

/* The same with the values as arguments, each taken, up to a NULL. */
static void
add_condition (StAudience *audience, char *sql, char *summary, ...)
{
  g_autoptr (GPtrArray) values = g_ptr_array_new_with_free_func (g_free);
  va_list ap;
  char *value;

  va_start (ap, summary);
  while ((value = va_arg (ap, char *)) != NULL)
    g_ptr_array_add (values, value);
  va_end (ap);
  add_condition_values (audience, sql, summary, values);
}

void
st_audience_free (StAudience *audience)
{
  if (audience == NULL)
    return;
  g_ptr_array_unref (audience->conditions);
  g_ptr_array_unref (audience->stages);
  g_free (audience);
}

/* Values --------------------------------------------------------------- */

static gboolean G_GNUC_PRINTF (3, 4)
fail (GError **error, const char *path, const char *format, ...)
{
  va_list ap;
  g_autofree char *message = NULL;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT, "%s: %s", path,
               message);
  return FALSE;
}

static gboolean
is_number (GVariant *value)
{
  return g_variant_is_of_type (value, G_VARIANT_TYPE_INT64)
         || g_variant_is_of_type (value, G_VARIANT_TYPE_INT32)
         || g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE);
}

/* An empty Lua table arrives as an empty a{sv}: an empty list too. */
static gboolean
is_empty_table (GVariant *value)
{
  return g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT)
         && g_variant_n_children (value) == 0;
}

static gboolean
is_list (GVariant *value)
{
  return g_variant_is_of_type (value, G_VARIANT_TYPE ("av"))
         || g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY)
         || is_empty_table (value);
}

/* What a value is, for messages: "text", "a number", "a table"… */
static const char *
type_name (GVariant *value)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return "text";
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    return "a boolean";
  if (is_number (value))
    return "a number";
  if (is_empty_table (value))
    return "an empty table";
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT))
    return "a table";
  if (is_list (value))
    return "a list";
  return "a value of another type";
}

/* Element @i of a list (av or as), unboxed. */
static GVariant *
list_item (GVariant *list, gsize i)
{
  g_autoptr (GVariant) child = g_variant_get_child_value (list, i);

  if (g_variant_is_of_type (child, G_VARIANT_TYPE_VARIANT))
    return g_variant_get_variant (child);
  return g_steal_pointer (&child);
}

/* Text or a list of texts, at least one, none empty: the texts, new. */
static GPtrArray *
read_texts (GVariant *value, const char *path, const char *noun,
            GError **error)
{
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    g_ptr_array_add (texts, g_variant_dup_string (value, NULL));
  else if (!is_list (value))
    {
      fail (error, path, "must be %s or a list of them, not %s", noun,
            type_name (value));
      return NULL;
    }
  else if (!is_empty_table (value))
    for (gsize i = 0; i < g_variant_n_children (value); i++)
      {
        g_autoptr (GVariant) item = list_item (value, i);

        if (!g_variant_is_of_type (item, G_VARIANT_TYPE_STRING))
          {
            fail (error, path, "item %" G_GSIZE_FORMAT " must be %s, not %s",
                  i + 1, noun, type_name (item));
            return NULL;
          }
        g_ptr_array_add (texts, g_variant_dup_string (item, NULL));
      }
  if (texts->len == 0)
    {
      fail (error, path, "the list is empty; give at least %s", noun);
      return NULL;
    }
  for (guint i = 0; i < texts->len; i++)
    if (((const char *) g_ptr_array_index (texts, i))[0] == '\0')
      {
        fail (error, path, "empty text is not %s", noun);
        return NULL;
      }
  return g_steal_pointer (&texts);
}

/* "a, b, c" (or "a or c"…, with @last between the last two). */
static char *
join_texts (GPtrArray *texts, const char *last)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < texts->len; i++)
    {
      if (i > 0)
        g_string_append (out, i + 1 == texts->len ? last : ", ");
      g_string_append (out, g_ptr_array_index (texts, i));
    }
  return g_string_free (out, FALSE);
}

/* A PostgreSQL array literal of @items ({"a","b"}), sent as a parameter:
 * every item is quoted, so no value can end it early. */
static char *
array_literal (GPtrArray *items)
{
  GString *out = g_string_new ("{");

  for (guint i = 0; i < items->len; i++)
    {
      g_string_append (out, i > 0 ? ",\"" : "\"");
      for (const char *p = g_ptr_array_index (items, i); *p != '\0'; p++)
        {
          if (*p == '"' || *p == '\\')
            g_string_append_c (out, '\\');
          g_string_append_c (out, *p);
        }
      g_string_append_c (out, '"');
    }
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

static gboolean
read_number (GVariant *value, const char *path, double *out, GError **error)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    *out = (double) g_variant_get_int64 (value);
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
    *out = g_variant_get_int32 (value);
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    *out = g_variant_get_double (value);
  else
    return fail (error, path, "must be a number, not %s", type_name (value));
  if (!isfinite (*out))
    return fail (error, path, "must be a finite number");
  return TRUE;
}

/* Whole numbers print as such, others as the shortest decimal that reads
 * back the same. */
static char *
number_text (double value)
{
  if (value == floor (value) && fabs (value) < 1e15)
    return g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) value);
  return st_json_format_double (value);
}

static gboolean
read_duration (GVariant *value, const char *path, gint64 *seconds,
               GError **error)
{
  const char *text;

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return fail (error, path, "must be a duration such as \"90d\", not %s",
                 type_name (value));
  text = g_variant_get_string (value, NULL);
  if (!st_lua_parse_duration (text, seconds))
    return fail (error, path, "'%s' is not a duration; write a whole number "
                 "and a unit: s, m, h, d or w, as in \"30m\", \"12h\", "
                 "\"90d\" or \"2w\"", text);
  if (*seconds == 0)
    return fail (error, path, "'%s' is no time at all; give a duration "
                 "longer than zero", text);
  return TRUE;
}

static char *
interval_param (gint64 seconds)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT " seconds", seconds);
}

/* "audience: unknown key 'x'; use a, b or c" when @dict has a key not in
 * @known. */
static gboolean
check_keys (GVariant *dict, const char *const *known, const char *path,
            GError **error)
{
  GVariantIter iter;
  const char *key;
  g_autoptr (GPtrArray) names = g_ptr_array_new ();

  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{&sv}", &key, NULL))
    if (!g_strv_contains (known, key))
      {
        g_autofree char *list = NULL;

        for (const char *const *k = known; *k != NULL; k++)
          g_ptr_array_add (names, (gpointer) *k);
        list = join_texts (names, " or ");
        return fail (error, path, "unknown key '%s'; use %s", key, list);
      }
  return TRUE;
}

/* Keys ----------------------------------------------------------------- */

typedef struct _Key Key;
typedef gboolean (*KeyParse) (StAudience *audience, const Key *key,
                              GVariant *value, const char *path,
                              GError **error);

struct _Key {
  const char *name;
  KeyParse parse;
  const char *column; /* the column, or the SQL of a tag condition */
  const char *noun;   /* lists: what one item is; ranges: the SQL type */
  const char *words;  /* what the summary says */
  double low, high;   /* ranges: the values that make sense */
};

static gboolean
parse_all (StAudience *audience, const Key *key, GVariant *value,
           const char *path, GError **error)
{
  (void) audience;
  (void) key;
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN)
      || !g_variant_get_boolean (value))
    return fail (error, path, "must be true, meaning every customer; to "
                 "narrow the audience leave it out and give filters");
  return TRUE;
}

static gboolean
check_text (const Key *key, const char *text, const char *path,
            GError **error)
{
  GError *local = NULL;

  if (g_str_equal (key->name, "stage") && !st_config_stage_name_valid (text))
    return fail (error, path, "'%s' is not a stage name (a lower-case letter "
                 "then lower-case letters, digits or '_')", text);
  if ((g_str_equal (key->name, "locale") && !st_validate_locale (text, &local))
      || (g_str_equal (key->name, "tz") && !st_validate_tz (text, &local)))
    {
      /* "locale: 'x' is not…" becomes "audience.locale: 'x' is not…". */
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT, "audience.%s",
                   local->message);
      g_error_free (local);
      return FALSE;
    }
  return TRUE;
}

/* stage, owner, locale, tz, risk_level: one value or any of a list. */
static gboolean
parse_text (StAudience *audience, const Key *key, GVariant *value,
            const char *path, GError **error)
{
  g_autoptr (GPtrArray) texts = read_texts (value, path, key->noun, error);
  g_autofree char *list = NULL;

  if (texts == NULL)
    return FALSE;
  for (guint i = 0; i < texts->len; i++)
    if (!check_text (key, g_ptr_array_index (texts, i), path, error))
      return FALSE;
  if (g_str_equal (key->name, "stage"))
    for (guint i = 0; i < texts->len; i++)
      g_ptr_array_add (audience->stages,
                       g_strdup (g_ptr_array_index (texts, i)));
  if (texts->len == 1)
    {
      add_condition (audience, g_strdup_printf ("%s = $?::text", key->column),
                     g_strdup_printf ("%s %s", key->name,
                                      (char *) texts->pdata[0]),
                     g_strdup (texts->pdata[0]), NULL);
      return TRUE;
    }
  list = join_texts (texts, ", ");
  add_condition (audience,
                 g_strdup_printf ("%s = ANY ($?::text[])", key->column),
                 g_strdup_printf ("%s in (%s)", key->name, list),
                 array_literal (texts), NULL);
  return TRUE;
}

/* tags, tags_any, not_tags: a set of tags, matched exactly. */
static gboolean
parse_tags (StAudience *audience, const Key *key, GVariant *value,
            const char *path, GError **error)
{
  g_autoptr (GPtrArray) tags = read_texts (value, path, key->noun, error);
  g_autofree char *list = NULL;

  if (tags == NULL)
    return FALSE;
  list = join_texts (tags, g_str_equal (key->name, "tags") ? " and " : " or ");
  add_condition (audience, g_strdup (key->column),
                 g_strdup_printf ("%s %s", key->words, list),
                 array_literal (tags), NULL);
  return TRUE;
}

static char *
scalar_text (GVariant *value)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return g_variant_dup_string (value, NULL);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    return g_strdup (g_variant_get_boolean (value) ? "true" : "false");
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    return st_json_format_double (g_variant_get_double (value));
  return g_variant_print (value, FALSE);
}

static gboolean
check_attr_value (GVariant *value, const char *path, GError **error)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
      || g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN)
      || g_variant_is_of_type (value, G_VARIANT_TYPE_INT64)
      || g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
    return TRUE;
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    {
      double number;
      return read_number (value, path, &number, error);
    }
  return fail (error, path, "must be text, a number, a boolean or a list of "
               "them, not %s", type_name (value));
}

/* {"key": value} as JSON text. */
static char *
attr_json (const char *name, GVariant *value)
{
  GVariantBuilder builder;
  g_autoptr (GVariant) object = NULL;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", name, value);
  object = g_variant_ref_sink (g_variant_builder_end (&builder));
  return st_record_to_json (object);
}

/* One attribute that may hold any of a list of values: containment of
 * any of the one-key objects, which the GIN index serves too. */
static gboolean
add_attr_choice (StAudience *audience, const char *name, GVariant *list,
                 const char *path, GError **error)
{
  gsize n = is_empty_table (list) ? 0 : g_variant_n_children (list);
  g_autoptr (GPtrArray) objects = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *choices = NULL;

  if (n == 0)
    return fail (error, path, "the list is empty; give at least one value");
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) item = list_item (list, i);

      if (!check_attr_value (item, path, error))
        return FALSE;
      g_ptr_array_add (objects, attr_json (name, item));
      g_ptr_array_add (texts, scalar_text (item));
    }
  choices = join_texts (texts, ", ");
  add_condition (audience, g_strdup ("c.attrs @> ANY ($?::jsonb[])"),
                 g_strdup_printf ("attrs.%s in (%s)", name, choices),
                 array_literal (objects), NULL);
  return TRUE;
}

/* attrs: equality on customers.attrs, as containment (attrs @> {...}). */
static gboolean
parse_attrs (StAudience *audience, const Key *key, GVariant *value,
             const char *path, GError **error)
{
  g_auto (GVariantBuilder) builder
      = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autoptr (GVariant) equal = NULL;
  g_autoptr (GString) summary = g_string_new (NULL);
  GVariantIter iter;
  const char *name;
  GVariant *item;

  (void) key;
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT)
      || g_variant_n_children (value) == 0)
    return fail (error, path, "must be a table of attributes and their "
                 "values, e.g. { plan = \"pro\" }, not %s", type_name (value));
  g_variant_iter_init (&iter, value);
  while (g_variant_iter_next (&iter, "{&sv}", &name, &item))
    {
      g_autoptr (GVariant) held = item;
      g_autofree char *item_path = g_strdup_printf ("%s.%s", path, name);
      g_autofree char *text = NULL;

      if (name[0] == '\0')
        return fail (error, path, "an attribute name is empty");
      if (is_list (held))
        {
          if (!add_attr_choice (audience, name, held, item_path, error))
            return FALSE;
          continue;
        }
      if (!check_attr_value (held, item_path, error))
        return FALSE;
      g_variant_builder_add (&builder, "{sv}", name, held);
      text = scalar_text (held);
      g_string_append_printf (summary, "%sattrs.%s = %s",
                              summary->len > 0 ? ", " : "", name, text);
    }
  equal = g_variant_ref_sink (g_variant_builder_end (&builder));
  if (g_variant_n_children (equal) > 0)
    add_condition (audience, g_strdup ("c.attrs @> $?::jsonb"),
                   g_strdup (summary->str), st_record_to_json (equal), NULL);
  return TRUE;
}

/* A time window on "how long ago": older_than (strictly before now − D)
 * and newer_than (at or after now − D), as written and in seconds. */
typedef struct {
  char *older_text; /* NULL: not given */
  char *newer_text;
  gint64 older;
  gint64 newer;
} Window;

static void
window_clear (Window *window)
{
  g_free (window->older_text);
  g_free (window->newer_text);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Window, window_clear)

static gboolean
read_window_end (GVariant *spec, const char *path, const char *name,
                 char **text, gint64 *seconds, GError **error)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (spec, name, NULL);
  g_autofree char *end_path = NULL;

  if (value == NULL)
    return TRUE;
  end_path = g_strdup_printf ("%s.%s", path, name);
  if (!read_duration (value, end_path, seconds, error))
    return FALSE;
  *text = g_variant_dup_string (value, NULL);
  return TRUE;
}

static gboolean
read_window (GVariant *spec, const char *path, Window *window,
             GError **error)
{
  if (!read_window_end (spec, path, "older_than", &window->older_text,
                        &window->older, error)
      || !read_window_end (spec, path, "newer_than", &window->newer_text,
                           &window->newer, error))
    return FALSE;
  if (window->older_text != NULL && window->newer_text != NULL
      && window->newer <= window->older)
    return fail (error, path, "newer_than %s is not longer than older_than "
                 "%s, so no time is both; for a window write the shorter "
                 "duration in older_than and the longer in newer_than",
                 window->newer_text, window->older_text);
  return TRUE;
}

/* A condition comparing @column with the window: @sql_format holds one %s
 * for the comparison; the values are @kind (unless NULL) then the
 * intervals. */
static void
add_window (StAudience *audience, const char *sql_format, const char *column,
            const char *kind, const Window *window, char *summary)
{
  g_autoptr (GPtrArray) values = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) where = g_string_new (NULL);

  if (kind != NULL)
    g_ptr_array_add (values, g_strdup (kind));
  if (window->older_text != NULL)
    {
      g_string_append_printf (where, "%s < $now::timestamptz - $?::interval",
                              column);
      g_ptr_array_add (values, interval_param (window->older));
    }
  if (window->newer_text != NULL)
    {
      g_string_append_printf (where, "%s%s >= $now::timestamptz - "
                              "$?::interval", where->len > 0 ? " AND " : "",
                              column);
      g_ptr_array_add (values, interval_param (window->newer));
    }
  add_condition_values (audience, g_strdup_printf (sql_format, where->str),
                        summary, values);
}

/* "@what over 90d ago", "@what within 30d", "@what 30d to 90d ago". */
static char *
window_summary (const char *what, const Window *window)
{
  if (window->older_text != NULL && window->newer_text != NULL)
    return g_strdup_printf ("%s %s to %s ago", what, window->older_text,
                            window->newer_text);
  if (window->older_text != NULL)
    return g_strdup_printf ("%s over %s ago", what, window->older_text);
  return g_strdup_printf ("%s within %s", what, window->newer_text);
}

/* stage_since, created: how long ago a time column of the customer is. */
static gboolean
parse_age (StAudience *audience, const Key *key, GVariant *value,
           const char *path, GError **error)
{
  static const char *const keys[] = { "older_than", "newer_than", NULL };
  g_auto (Window) window = { NULL, NULL, 0, 0 };

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT)
      || g_variant_n_children (value) == 0)
    return fail (error, path, "must be a table with older_than, newer_than "
                 "or both, e.g. { older_than = \"30d\" }, not %s",
                 type_name (value));
  if (!check_keys (value, keys, path, error)
      || !read_window (value, path, &window, error))
    return FALSE;
  add_window (audience, "%s", key->column, NULL, &window,
              window_summary (key->words, &window));
  return TRUE;
}

static gboolean
event_kind_valid (const char *kind)
{
  gsize len = strlen (kind);

  return len >= 1 && len <= 64 && g_ascii_islower (kind[0])
         && strspn (kind, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == len;
}

/* Whether the customer has a row for the kind, with more conditions on it
 * where the format has %s. */
#define KIND_ROW                                                            \
  "EXISTS (SELECT 1 FROM customer_event_kinds k WHERE k.customer_id = c.id" \
  "$keyset AND k.kind = $?::text"

static gboolean
read_flag (GVariant *spec, const char *name, const char *path,
           GVariant **flag, GError **error)
{
  *flag = g_variant_lookup_value (spec, name, NULL);
  if (*flag != NULL && !g_variant_is_of_type (*flag, G_VARIANT_TYPE_BOOLEAN))
    return fail (error, path, "%s must be true or false, not %s", name,
                 type_name (*flag));
  return TRUE;
}

/* One kind under events: when its last event was, or that there was
 * none. */
static gboolean
parse_event (StAudience *audience, const char *kind, GVariant *spec,
             const char *path, GError **error)
{
  static const char *const keys[] = { "older_than", "newer_than", "never",
                                      "or_never", NULL };
  g_autoptr (GVariant) never = NULL;
  g_autoptr (GVariant) or_never = NULL;
  g_autofree char *last = g_strconcat ("last ", kind, NULL);
  g_auto (Window) window = { NULL, NULL, 0, 0 };

  if (!event_kind_valid (kind))
    return fail (error, path, "'%s' is not an event kind; use lower-case "
                 "letters, digits, '_', '.' or '-' (e.g. purchase)", kind);
  if (!g_variant_is_of_type (spec, G_VARIANT_TYPE_VARDICT)
      || g_variant_n_children (spec) == 0)
    return fail (error, path, "must be a table with older_than, newer_than, "
                 "never or or_never, e.g. { older_than = \"90d\" }, not %s",
                 type_name (spec));
  if (!check_keys (spec, keys, path, error)
      || !read_flag (spec, "never", path, &never, error)
      || !read_flag (spec, "or_never", path, &or_never, error))
    return FALSE;
  if (never != NULL)
    {
      gboolean none = g_variant_get_boolean (never);

      if (g_variant_n_children (spec) > 1)
        return fail (error, path, "never stands alone; to also match "
                     "customers whose last %s is old, write older_than with "
                     "or_never = true", kind);
      add_condition (audience,
                     g_strdup (none ? "NOT " KIND_ROW ")" : KIND_ROW ")"),
                     g_strdup_printf ("%s %s", none ? "never had" : "has had",
                                      kind),
                     g_strdup (kind), NULL);
      return TRUE;
    }
  if (!read_window (spec, path, &window, error))
    return FALSE;
  if (window.older_text == NULL && window.newer_text == NULL)
    return fail (error, path, "or_never needs older_than, as in "
                 "{ older_than = \"90d\", or_never = true }");
  if (or_never == NULL || !g_variant_get_boolean (or_never))
    {
      add_window (audience, KIND_ROW " AND %s)", "k.last_at", kind, &window,
                  window_summary (last, &window));
      return TRUE;
    }
  if (window.older_text == NULL || window.newer_text != NULL)
    return fail (error, path, "or_never goes with older_than alone, as in "
                 "{ older_than = \"90d\", or_never = true }");
  /* None recent: an anti-join, which keeps those with none at all. */
  add_condition (audience,
                 g_strdup ("NOT " KIND_ROW " AND k.last_at >= "
                           "$now::timestamptz - $?::interval)"),
                 g_strdup_printf ("no %s for %s", kind, window.older_text),
                 g_strdup (kind), interval_param (window.older), NULL);
  return TRUE;
}

/* events: kind → when its last event was (customer_event_kinds). */
static gboolean
parse_events (StAudience *audience, const Key *key, GVariant *value,
              const char *path, GError **error)
{
  GVariantIter iter;
  const char *kind;
  GVariant *spec;

  (void) key;
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT)
      || g_variant_n_children (value) == 0)
    return fail (error, path, "must be a table of event kinds, e.g. "
                 "{ purchase = { older_than = \"90d\" } }, not %s",
                 type_name (value));
  g_variant_iter_init (&iter, value);
  while (g_variant_iter_next (&iter, "{&sv}", &kind, &spec))
    {
      g_autoptr (GVariant) held = spec;
      g_autofree char *kind_path = g_strdup_printf ("%s.%s", path, kind);

      if (!parse_event (audience, kind, held, kind_path, error))
        return FALSE;
    }
  return TRUE;
}

/* @name (min or max; NULL for a lone number) of a range: a number the
 * column can hold. */
static gboolean
read_bound (const Key *key, GVariant *value, const char *path,
            const char *name, double *out, GError **error)
{
  g_autofree char *bound_path = name != NULL
                                    ? g_strdup_printf ("%s.%s", path, name)
                                    : g_strdup (path);

  if (!read_number (value, bound_path, out, error))
    return FALSE;
  if (!g_str_equal (key->noun, "numeric") && *out != floor (*out))
    return fail (error, bound_path, "%.15g is not a whole number", *out);
  if (*out < key->low || *out > key->high)
    return fail (error, bound_path, "%.15g is out of range; %s goes from "
                 "%.15g to %.15g", *out, key->name, key->low, key->high);
  return TRUE;
}

/* The aggregates: inclusive min and max, or one number for equality. */
static gboolean
parse_range (StAudience *audience, const Key *key, GVariant *value,
             const char *path, GError **error)
{
  static const char *const keys[] = { "min", "max", NULL };
  g_autoptr (GVariant) min = NULL;
  g_autoptr (GVariant) max = NULL;
  double low = 0, high = 0;
  g_autofree char *low_text = NULL;
  g_autofree char *high_text = NULL;
  gboolean lone = is_number (value);

  if (lone)
    {
      min = g_variant_ref (value);
      max = g_variant_ref (value);
    }
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT))
    {
      if (!check_keys (value, keys, path, error))
        return FALSE;
      min = g_variant_lookup_value (value, "min", NULL);
      max = g_variant_lookup_value (value, "max", NULL);
      if (min == NULL && max == NULL)
        return fail (error, path, "give min, max or both, e.g. { min = 2 }");
    }
  else
    return fail (error, path, "must be a number or a table with min and/or "
                 "max, e.g. { min = 2 }, not %s", type_name (value));

  if ((min != NULL
       && !read_bound (key, min, path, lone ? NULL : "min", &low, error))
      || (max != NULL
          && !read_bound (key, max, path, lone ? NULL : "max", &high, error)))
    return FALSE;
  if (min != NULL && max != NULL && low > high)
    return fail (error, path, "min %.15g is greater than max %.15g, so nobody "
                 "would match", low, high);
  low_text = min != NULL ? number_text (low) : NULL;
  high_text = max != NULL ? number_text (high) : NULL;

  if (min != NULL && max != NULL && low == high)
    add_condition (audience,
                   g_strdup_printf ("%s = $?::%s", key->column, key->noun),
                   g_strdup_printf ("%s = %s", key->name, low_text),
                   g_strdup (low_text), NULL);
  else if (min != NULL && max != NULL)
    add_condition (audience,
                   g_strdup_printf ("%s BETWEEN $?::%s AND $?::%s",
                                    key->column, key->noun, key->noun),
                   g_strdup_printf ("%s %s to %s", key->name, low_text,
                                    high_text),
                   g_strdup (low_text), g_strdup (high_text), NULL);
  else
    add_condition (audience,
                   g_strdup_printf ("%s %s $?::%s", key->column,
                                    min != NULL ? ">=" : "<=", key->noun),
                   g_strdup_printf ("%s %s %s", key->name,
                                    min != NULL ? ">=" : "<=",
                                    min != NULL ? low_text : high_text),
                   g_strdup (min != NULL ? low_text : high_text), NULL);
  return TRUE;
}

#define HUGE_COUNT 1e15

/* In the order conditions are written and described. */
static const Key keys[] = {
  { "all", parse_all, NULL, NULL, NULL, 0, 0 },
  { "stage", parse_text, "c.stage", "a stage name", NULL, 0, 0 },
  { "owner", parse_text, "c.owner", "a user name", NULL, 0, 0 },
  { "tags", parse_tags, "c.tags @> $?::text[]", "a tag", "tagged", 0, 0 },
  { "tags_any", parse_tags, "c.tags && $?::text[]", "a tag", "tagged", 0, 0 },
  { "not_tags", parse_tags, "NOT (c.tags && $?::text[])", "a tag",
    "not tagged", 0, 0 },
  { "locale", parse_text, "c.locale", "a locale", NULL, 0, 0 },
  { "tz", parse_text, "c.tz", "a time zone", NULL, 0, 0 },
  { "risk_level", parse_text, "c.risk_level", "a risk level", NULL, 0, 0 },
  { "attrs", parse_attrs, NULL, NULL, NULL, 0, 0 },
  { "events", parse_events, NULL, NULL, NULL, 0, 0 },
  { "stage_since", parse_age, "c.stage_since", NULL, "stage entered",
    0, 0 },
  { "created", parse_age, "c.created_at", NULL, "created", 0, 0 },
  { "purchase_count", parse_range, "c.purchase_count", "bigint", NULL, 0,
    HUGE_COUNT },
  { "revenue", parse_range, "c.revenue", "numeric", NULL, -G_MAXDOUBLE,
    G_MAXDOUBLE },
  { "event_count", parse_range, "c.event_count", "bigint", NULL, 0,
    HUGE_COUNT },
  { "open_tickets", parse_range, "c.open_tickets", "integer", NULL, 0,
    G_MAXINT32 },
  { "last_nps", parse_range, "c.last_nps", "integer", NULL, 0, 10 },
  { "health_score", parse_range, "c.health_score", "integer", NULL, 0, 100 },
};

StAudience *
st_audience_new (GVariant *spec, GError **error)
{
  g_autoptr (StAudience) audience = g_new0 (StAudience, 1);
  const char *known[G_N_ELEMENTS (keys) + 1];

  g_return_val_if_fail (spec != NULL, NULL);
  audience->conditions
      = g_ptr_array_new_with_free_func ((GDestroyNotify) condition_free);
  audience->stages = g_ptr_array_new_with_free_func (g_free);
  if (!g_variant_is_of_type (spec, G_VARIANT_TYPE_VARDICT))
    {
      fail (error, "audience", "must be a table of named filters, e.g. "
            "{ stage = \"active\" }, not %s", type_name (spec));
      return NULL;
    }
  if (g_variant_n_children (spec) == 0)
    {
      fail (error, "audience", "no filter given; write all = true to mean "
            "every customer, or filters such as stage = \"active\"");
      return NULL;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    known[i] = keys[i].name;
  known[G_N_ELEMENTS (keys)] = NULL;
  if (!check_keys (spec, known, "audience", error))
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autoptr (GVariant) value = g_variant_lookup_value (spec, keys[i].name,
                                                           NULL);
      g_autofree char *path = NULL;

      if (value == NULL)
        continue;
      path = g_strconcat ("audience.", keys[i].name, NULL);
      if (i == 0 && g_variant_n_children (spec) > 1)
        {
          fail (error, path, "all = true means every customer and takes no "
                "other filter; leave it out to filter");
          return NULL;
        }
      if (!keys[i].parse (audience, &keys[i], value, path, error))
        return NULL;
    }
  return g_steal_pointer (&audience);
}

gboolean
st_audience_check_stages (const StAudience *audience, const StConfig *config,
                          GError **error)
{
  for (guint i = 0; i < audience->stages->len; i++)
    {
      const char *stage = g_ptr_array_index (audience->stages, i);
      g_autoptr (GPtrArray) names = NULL;
      g_autofree char *list = NULL;

      if (st_config_find_stage (config, stage) != NULL)
        continue;
      names = g_ptr_array_new ();
      for (guint j = 0; j < config->stages->len; j++)
        g_ptr_array_add (names,
                         ((StStage *) g_ptr_array_index (config->stages, j))
                             ->name);
      list = join_texts (names, ", ");
      return fail (error, "audience.stage", "'%s' is not a stage; the stages "
                   "are: %s", stage, list);
    }
  return TRUE;
}

/* SQL ------------------------------------------------------------------ */

/* "WHERE cond AND cond AND " with the parameters numbered from @first and
 * the reference time as $@now; the values go to @params. @keyset replaces
 * "$keyset" in subqueries on customer_event_kinds. */
static void
write_where (const StAudience *audience, GString *sql, guint now,
             guint first, const char *keyset, GPtrArray *params)
{
  guint next = first;

  g_string_append (sql, " WHERE ");
  /* Every parameter must appear in the text for PostgreSQL to know its
   * type: without a condition on time, the reference time is checked. */
  if (!audience->uses_now)
    g_string_append_printf (sql, "$%u::timestamptz IS NOT NULL AND ", now);
  for (guint i = 0; i < audience->conditions->len; i++)
    {
      const StCondition *condition = audience->conditions->pdata[i];
      guint used = 0;

      for (const char *p = condition->sql; *p != '\0'; p++)
        if (g_str_has_prefix (p, "$?"))
          {
            g_string_append_printf (sql, "$%u", next++);
            used++;
            p++;
          }
        else if (g_str_has_prefix (p, "$now"))
          {
            g_string_append_printf (sql, "$%u", now);
            p += strlen ("$now") - 1;
          }
        else if (g_str_has_prefix (p, "$keyset"))
          {
            g_string_append (sql, keyset);
            p += strlen ("$keyset") - 1;
          }
        else
          g_string_append_c (sql, *p);
      g_assert (used == condition->values->len);
      for (guint j = 0; j < condition->values->len; j++)
        g_ptr_array_add (params, g_strdup (condition->values->pdata[j]));
      g_string_append (sql, " AND ");
    }
}

char *
st_audience_sql (const StAudience *audience, GPtrArray *params)
{
  GString *sql = g_string_new ("SELECT c.id FROM customers c");

  /* The cursor again inside the subqueries on customer_event_kinds: the
   * planner does not carry c.id > $1 over to k.customer_id, and without it
   * a merge join would read every earlier row of the kind on each page. */
  write_where (audience, sql, 3, 4, " AND k.customer_id > $1", params);
  g_string_append (sql, "c.id > $1 ORDER BY c.id LIMIT $2");
  return g_string_free (sql, FALSE);
}

char *
st_audience_sql_among (const StAudience *audience, GPtrArray *params)
{
  GString *sql = g_string_new ("SELECT c.id FROM customers c");

  write_where (audience, sql, 3, 4, " AND k.customer_id > $1", params);
  g_string_append_printf (sql,
                          "c.id = ANY ($%u::bigint[]) AND c.id > $1"
                          " ORDER BY c.id LIMIT $2",
                          params->len + 1);
  return g_string_free (sql, FALSE);
}

char *
st_audience_count_sql (const StAudience *audience, GPtrArray *params)
{
  GString *sql = g_string_new ("SELECT count(*) FROM customers c");

  write_where (audience, sql, 1, 2, "", params);
  /* write_where ends with " AND ". */
  g_string_truncate (sql, sql->len - strlen (" AND "));
  return g_string_free (sql, FALSE);
}

static PGresult *
run_read (StStore *store, const char *sql, GPtrArray *params, GError **error)
{
  PGresult *res;

  if (!st_store_begin (store, error))
    return NULL;
  res = st_store_exec_sql (store, sql, (int) params->len,
                           (const char *const *) params->pdata, error);
  st_store_rollback (store);
  return res;
}

gboolean
st_audience_page (StStore *store, const StAudience *audience, GDateTime *now,
                  gint64 after_id, guint limit, GArray *ids_out,
                  GError **error)
{
  g_autoptr (GPtrArray) params = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *sql = NULL;
  g_autoptr (PGresult) res = NULL;

  g_return_val_if_fail (now != NULL && ids_out != NULL, FALSE);
  if (limit == 0)
    return fail (error, "limit", "must be at least 1");
  g_ptr_array_add (params, g_strdup_printf ("%" G_GINT64_FORMAT, after_id));
  g_ptr_array_add (params, g_strdup_printf ("%u", limit));
  g_ptr_array_add (params, g_date_time_format_iso8601 (now));
  sql = st_audience_sql (audience, params);
  res = run_read (store, sql, params, error);
  if (res == NULL)
    return FALSE;
  for (int row = 0; row < PQntuples (res); row++)
    {
      gint64 id = g_ascii_strtoll (PQgetvalue (res, row, 0), NULL, 10);
      g_array_append_val (ids_out, id);
    }
  return TRUE;
}

gint64
st_audience_count (StStore *store, const StAudience *audience, GDateTime *now,
                   GError **error)
{
  g_autoptr (GPtrArray) params = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *sql = NULL;
  g_autoptr (PGresult) res = NULL;

  g_return_val_if_fail (now != NULL, -1);
  g_ptr_array_add (params, g_date_time_format_iso8601 (now));
  sql = st_audience_count_sql (audience, params);
  res = run_read (store, sql, params, error);
  if (res == NULL)
    return -1;
  return g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10);
}

char *
st_audience_describe (const StAudience *audience)
{
  GString *out = g_string_new (NULL);

  if (audience->conditions->len == 0)
    g_string_append (out, "everyone");
  for (guint i = 0; i < audience->conditions->len; i++)
    {
      const StCondition *condition = audience->conditions->pdata[i];

      if (i > 0)
        g_string_append (out, "; ");
      g_string_append (out, condition->summary);
    }
  return g_string_free (out, FALSE);
}
