#include "st-cli-output.h"

#include <math.h>
#include <string.h>

#include "st-cli-input.h"

/* ---- widths and cells ---- */

gsize
st_cli_display_width (const char *text)
{
  const char *p = text;
  const char *end = text + strlen (text);
  gsize width = 0;

  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          width++;
          p++;
          continue;
        }
      if (!g_unichar_iszerowidth (c))
        width += g_unichar_iswide (c) ? 2 : 1;
      p = g_utf8_next_char (p);
    }
  return width;
}

/* One line of text that cannot break the layout: valid UTF-8, control
 * characters (C0, DEL, C1) turned into spaces. */
static char *
sanitize_line (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  GString *out = g_string_sized_new (strlen (valid));

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 0x20 || (c >= 0x7f && c < 0xa0))
        g_string_append_c (out, ' ');
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
  return g_string_free (out, FALSE);
}

static char *
sanitize_cell (const char *text)
{
  if (text == NULL || *text == '\0')
    return g_strdup ("-");
  return sanitize_line (text);
}

static void
append_padded (GString *out, const char *text, gsize width)
{
  gsize have = st_cli_display_width (text);

  g_string_append (out, text);
  for (; have < width; have++)
    g_string_append_c (out, ' ');
}

char *
st_cli_one_line (const char *text)
{
  GString *out = g_string_new (NULL);
  const char *p = text;

  while (g_ascii_isspace (*p))
    p++;
  while (*p != '\0')
    {
      if (*p == '\n' || *p == '\r')
        {
          while (out->len > 0 && g_ascii_isspace (out->str[out->len - 1]))
            g_string_truncate (out, out->len - 1);
          while (g_ascii_isspace (*p))
            p++;
          if (*p != '\0')
            g_string_append_c (out, ' ');
          continue;
        }
      g_string_append_c (out, *p++);
    }
  while (out->len > 0 && g_ascii_isspace (out->str[out->len - 1]))
    g_string_truncate (out, out->len - 1);
  return g_string_free (out, FALSE);
}

char *
st_cli_wrap (const char *text, gsize width, gsize column, gsize indent)
{
  g_autoptr (GPtrArray) words = g_ptr_array_new_with_free_func (g_free);
  GString *out = g_string_new (NULL);
  const char *start = text;
  gint depth = 0;

  /* words: runs separated by spaces outside brackets */
  for (const char *p = text;; p++)
    {
      if (*p == '[')
        depth++;
      else if (*p == ']' && depth > 0)
        depth--;
      if (*p == '\0' || (*p == ' ' && depth == 0))
        {
          if (p > start)
            g_ptr_array_add (words, g_strndup (start, p - start));
          if (*p == '\0')
            break;
          start = p + 1;
        }
    }

  for (guint i = 0; i < words->len; i++)
    {
      const char *word = g_ptr_array_index (words, i);
      gsize w = st_cli_display_width (word);

      if (i > 0 && column + 1 + w > width)
        {
          g_string_append_c (out, '\n');
          for (column = 0; column < indent; column++)
            g_string_append_c (out, ' ');
        }
      else if (i > 0)
        {
          g_string_append_c (out, ' ');
          column++;
        }
      g_string_append (out, word);
      column += w;
    }
  return g_string_free (out, FALSE);
}

/* ---- tables ---- */

struct _StCliTable
{
  guint n_columns;
  GPtrArray *rows; /* of GStrv, the headings first */
};

StCliTable *
st_cli_table_new (const char *const *headings)
{
  StCliTable *table;

  g_return_val_if_fail (headings != NULL && headings[0] != NULL, NULL);

  table = g_new0 (StCliTable, 1);
  table->n_columns = g_strv_length ((char **) headings);
  table->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  st_cli_table_add_row (table, headings);
  return table;
}

void
st_cli_table_free (StCliTable *table)
{
  if (table == NULL)
    return;
  g_ptr_array_unref (table->rows);
  g_free (table);
}

guint
st_cli_table_get_n_rows (StCliTable *table)
{
  return table->rows->len - 1;
}

void
st_cli_table_add_row (StCliTable *table, const char *const *cells)
{
  char **row = g_new0 (char *, table->n_columns + 1);

  for (guint i = 0; i < table->n_columns; i++)
    row[i] = sanitize_cell (cells[i]);
  g_ptr_array_add (table->rows, row);
}

char *
st_cli_table_render (StCliTable *table)
{
  g_autofree gsize *widths = g_new0 (gsize, table->n_columns);
  GString *out = g_string_new (NULL);

  for (guint r = 0; r < table->rows->len; r++)
    {
      char **row = g_ptr_array_index (table->rows, r);

      for (guint c = 0; c < table->n_columns; c++)
        widths[c] = MAX (widths[c], st_cli_display_width (row[c]));
    }

  for (guint r = 0; r < table->rows->len; r++)
    {
      char **row = g_ptr_array_index (table->rows, r);

      for (guint c = 0; c + 1 < table->n_columns; c++)
        {
          append_padded (out, row[c], widths[c]);
          g_string_append (out, "  ");
        }
      g_string_append (out, row[table->n_columns - 1]);
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

/* ---- key: value blocks ---- */

struct _StCliBlock
{
  GPtrArray *keys;
  GPtrArray *values;
};

StCliBlock *
st_cli_block_new (void)
{
  StCliBlock *block = g_new0 (StCliBlock, 1);

  block->keys = g_ptr_array_new_with_free_func (g_free);
  block->values = g_ptr_array_new_with_free_func (g_free);
  return block;
}

void
st_cli_block_free (StCliBlock *block)
{
  if (block == NULL)
    return;
  g_ptr_array_unref (block->keys);
  g_ptr_array_unref (block->values);
  g_free (block);
}

void
st_cli_block_take (StCliBlock *block, const char *key, char *value)
{
  if (value == NULL)
    return;
  g_ptr_array_add (block->keys, g_strdup_printf ("%s:", key));
  g_ptr_array_add (block->values, value);
}

void
st_cli_block_add (StCliBlock *block, const char *key, const char *value)
{
  st_cli_block_take (block, key, g_strdup (value));
}

char *
st_cli_block_render (StCliBlock *block)
{
  GString *out = g_string_new (NULL);
  gsize width = 0;

  for (guint i = 0; i < block->keys->len; i++)
    width = MAX (width, st_cli_display_width (g_ptr_array_index (block->keys, i)));
  width += 2;

  for (guint i = 0; i < block->keys->len; i++)
    {
      g_auto (GStrv) lines = g_strsplit (g_ptr_array_index (block->values, i), "\n", -1);
      guint n_lines = MAX (g_strv_length (lines), 1);

      for (guint l = 0; l < n_lines; l++)
        {
          g_autofree char *text = sanitize_line (lines[l] != NULL ? lines[l] : "");
          gsize start = out->len;

          append_padded (out, l == 0 ? g_ptr_array_index (block->keys, i) : "", width);
          g_string_append (out, text);
          while (out->len > start && out->str[out->len - 1] == ' ')
            g_string_truncate (out, out->len - 1);
          g_string_append_c (out, '\n');
        }
    }
  return g_string_free (out, FALSE);
}

/* ---- numbers ---- */

char *
st_cli_format_amount (double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_ascii_formatd (buf, sizeof buf, "%.2f", value);
  if (isfinite (value) && g_ascii_strtod (buf, NULL) == value)
    return g_strdup (buf);
  return st_json_format_double (value);
}

/* ---- text for people ---- */

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* A value inside k=v pairs: a list or an object as compact JSON, so that
 * its own commas and '=' are not read as more pairs. */
static char *
member_text (GVariant *member)
{
  g_autoptr (GVariant) value = g_variant_ref (member);

  while (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      GVariant *inner = g_variant_get_variant (value);

      g_variant_unref (value);
      value = inner;
    }
  if (g_variant_is_container (value))
    return st_json_variant_to_string (value, FALSE);
  return st_cli_variant_to_text (value);
}

static char *
dict_to_text (GVariant *value)
{
  g_autoptr (GPtrArray) pairs = g_ptr_array_new_with_free_func (g_free);
  GVariantIter iter;
  GVariant *entry;

  g_variant_iter_init (&iter, value);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr (GVariant) key = g_variant_get_child_value (entry, 0);
      g_autoptr (GVariant) member = g_variant_get_child_value (entry, 1);
      g_autofree char *k = st_cli_variant_to_text (key);
      g_autofree char *v = member_text (member);

      g_ptr_array_add (pairs, g_strdup_printf ("%s=%s", k, v));
      g_variant_unref (entry);
    }
  g_ptr_array_sort (pairs, compare_strings);
  g_ptr_array_add (pairs, NULL);
  return g_strjoinv (", ", (char **) pairs->pdata);
}

char *
st_cli_variant_to_text (GVariant *value)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      return g_strdup (g_variant_get_boolean (value) ? "true" : "false");
    case G_VARIANT_CLASS_BYTE:
    case G_VARIANT_CLASS_INT16:
    case G_VARIANT_CLASS_UINT16:
    case G_VARIANT_CLASS_INT32:
    case G_VARIANT_CLASS_UINT32:
    case G_VARIANT_CLASS_INT64:
    case G_VARIANT_CLASS_HANDLE:
      {
        g_autoptr (JsonNode) node = st_json_from_variant (value);

        return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
      }
    case G_VARIANT_CLASS_UINT64:
      return g_strdup_printf ("%" G_GUINT64_FORMAT, g_variant_get_uint64 (value));
    case G_VARIANT_CLASS_DOUBLE:
      return st_json_format_double (g_variant_get_double (value));
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      return g_strdup (g_variant_get_string (value, NULL));
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr (GVariant) inner = g_variant_get_variant (value);

        return st_cli_variant_to_text (inner);
      }
    case G_VARIANT_CLASS_ARRAY:
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
        {
          g_autofree const char **strv = g_variant_get_strv (value, NULL);

          return g_strjoinv (", ", (char **) strv);
        }
      if (g_variant_type_is_dict_entry (g_variant_type_element (g_variant_get_type (value))))
        return dict_to_text (value);
      return st_json_variant_to_string (value, FALSE);
    case G_VARIANT_CLASS_MAYBE:
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
    default:
      return g_variant_print (value, FALSE);
    }
}

/* ---- times ---- */

char *
st_cli_format_local (const char *iso, GTimeZone *local)
{
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr (GDateTime) time = st_cli_parse_time (iso, utc, NULL);
  g_autoptr (GDateTime) there = NULL;
  g_autofree char *rest = NULL;

  if (time == NULL)
    return g_strdup (iso);
  there = g_date_time_to_timezone (time, local);
  rest = g_date_time_format (there, "-%m-%d %H:%M:%S %Z");
  /* %Y would write the year 999 with three digits. */
  return g_strdup_printf ("%04d%s", g_date_time_get_year (there), rest);
}

char *
st_cli_format_age (GDateTime *then, GDateTime *now)
{
  GTimeSpan span = g_date_time_difference (now, then);
  gboolean future = span < 0;
  gint64 seconds = ABS (span) / G_TIME_SPAN_SECOND;
  gint64 n;
  const char *unit;

  if (seconds < 60)
    return g_strdup ("just now");
  if (seconds < 3600)
    n = seconds / 60, unit = "minute";
  else if (seconds < 86400)
    n = seconds / 3600, unit = "hour";
  else
    n = seconds / 86400, unit = "day";

  return g_strdup_printf ("%s%" G_GINT64_FORMAT " %s%s%s", future ? "in " : "", n, unit,
                          n == 1 ? "" : "s", future ? "" : " ago");
}

char *
st_cli_format_duration (gint64 seconds)
{
  if (seconds < 0)
    seconds = 0;
  if (seconds < 60)
    return g_strdup_printf ("%" G_GINT64_FORMAT "s", seconds);
  if (seconds < 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT "m %" G_GINT64_FORMAT "s", seconds / 60,
                            seconds % 60);
  if (seconds < 86400)
    return g_strdup_printf ("%" G_GINT64_FORMAT "h %" G_GINT64_FORMAT "m", seconds / 3600,
                            seconds % 3600 / 60);
  return g_strdup_printf ("%" G_GINT64_FORMAT "d %" G_GINT64_FORMAT "h", seconds / 86400,
                          seconds % 86400 / 3600);
}

char *
st_cli_format_delay (gint64 seconds)
{
  static const struct
  {
    gint64 size;
    char unit;
  } units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
  GString *out;

  if (seconds <= 0)
    return g_strdup ("0s");
  out = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    {
      gint64 n = seconds / units[i].size;

      seconds %= units[i].size;
      if (n == 0)
        continue;
      if (out->len > 0)
        g_string_append_c (out, ' ');
      g_string_append_printf (out, "%" G_GINT64_FORMAT "%c", n, units[i].unit);
    }
  return g_string_free (out, FALSE);
}

/* ---- shortening ---- */

char *
st_cli_truncate (const char *text, gsize width)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  GString *out;
  gsize used = 0;

  g_return_val_if_fail (width >= 4, NULL);
  if (st_cli_display_width (valid) <= width)
    return g_steal_pointer (&valid);

  out = g_string_new (NULL);
  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      gsize w = g_unichar_iszerowidth (c) ? 0 : g_unichar_iswide (c) ? 2 : 1;

      if (used + w > width - 3)
        break;
      g_string_append_len (out, p, g_utf8_next_char (p) - p);
      used += w;
    }
  while (out->len > 0 && out->str[out->len - 1] == ' ')
    g_string_truncate (out, out->len - 1);
  g_string_append (out, "...");
  return g_string_free (out, FALSE);
}

/* ---- health factors ---- */

typedef struct
{
  char *name;
  gboolean is_number;
  double number;
  char *text;
} Factor;

static void
factor_clear (gpointer data)
{
  Factor *f = data;

  g_free (f->name);
  g_free (f->text);
}

static gint
compare_factors (gconstpointer a, gconstpointer b)
{
  const Factor *x = a;
  const Factor *y = b;

  if (x->is_number != y->is_number)
    return x->is_number ? -1 : 1;
  if (x->is_number && x->number != y->number)
    return x->number > y->number ? -1 : 1;
  return strcmp (x->name, y->name);
}

/* A number of any D-Bus type, inside variants too. */
static gboolean
variant_number (GVariant *value, double *number)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_DOUBLE:
      *number = g_variant_get_double (value);
      return isfinite (*number);
    case G_VARIANT_CLASS_BYTE:
      *number = g_variant_get_byte (value);
      return TRUE;
    case G_VARIANT_CLASS_INT16:
      *number = g_variant_get_int16 (value);
      return TRUE;
    case G_VARIANT_CLASS_UINT16:
      *number = g_variant_get_uint16 (value);
      return TRUE;
    case G_VARIANT_CLASS_INT32:
      *number = g_variant_get_int32 (value);
      return TRUE;
    case G_VARIANT_CLASS_UINT32:
      *number = g_variant_get_uint32 (value);
      return TRUE;
    case G_VARIANT_CLASS_INT64:
      *number = (double) g_variant_get_int64 (value);
      return TRUE;
    case G_VARIANT_CLASS_UINT64:
      *number = (double) g_variant_get_uint64 (value);
      return TRUE;
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr (GVariant) inner = g_variant_get_variant (value);

        return variant_number (inner, number);
      }
    default:
      return FALSE;
    }
}

char *
st_cli_format_factors (GVariant *factors)
{
  g_autoptr (GArray) list = NULL;
  GString *out;
  GVariantIter iter;
  GVariant *entry;

  if (g_variant_is_of_type (factors, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr (GVariant) inner = g_variant_get_variant (factors);

      return st_cli_format_factors (inner);
    }
  if (!g_variant_is_of_type (factors, G_VARIANT_TYPE_ARRAY) ||
      !g_variant_type_is_dict_entry (g_variant_type_element (g_variant_get_type (factors))))
    return st_cli_variant_to_text (factors);

  list = g_array_new (FALSE, TRUE, sizeof (Factor));
  g_array_set_clear_func (list, factor_clear);

  g_variant_iter_init (&iter, factors);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr (GVariant) key = g_variant_get_child_value (entry, 0);
      g_autoptr (GVariant) member = g_variant_get_child_value (entry, 1);
      Factor f = { 0 };

      f.name = st_cli_variant_to_text (key);
      f.is_number = variant_number (member, &f.number);
      if (!f.is_number)
        f.text = st_cli_variant_to_text (member);
      g_array_append_val (list, f);
      g_variant_unref (entry);
    }
  g_array_sort (list, compare_factors);

  out = g_string_new (NULL);
  for (guint i = 0; i < list->len; i++)
    {
      const Factor *f = &g_array_index (list, Factor, i);

      if (i > 0)
        g_string_append (out, ", ");
      if (f->is_number)
        {
          char buf[G_ASCII_DTOSTR_BUF_SIZE];

          /* -0.04 would read "-0.0" */
          g_ascii_formatd (buf, sizeof buf, "%.1f", f->number);
          if (g_str_equal (buf, "-0.0"))
            strcpy (buf, "0.0");
          g_string_append_printf (out, "%s %s", f->name, buf);
        }
      else
        g_string_append_printf (out, "%s %s", f->name, f->text);
    }
  return g_string_free (out, FALSE);
}
