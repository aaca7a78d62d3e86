#include "st-template.h"

#include <string.h>

#include "st-error.h"

static gboolean
valid_name (const char *name)
{
  gsize len = name ? strlen (name) : 0;

  return len > 0 && len <= 64
         && strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

/* Where {{path}}s are looked up: @vars, after @lookup. */
typedef struct {
  GVariant *vars;
  StTemplateLookup lookup;
  gpointer data;
} Vars;

/* The value at a dotted path such as "customer.name", or NULL. */
static GVariant *
lookup_path (const Vars *vars, const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  g_autoptr (GVariant) current = NULL;
  guint i = 0;

  if (vars->lookup != NULL && parts[0] != NULL)
    current = vars->lookup (parts[0], parts[1], vars->data);
  if (current != NULL)
    i = parts[1] != NULL ? 2 : 1;
  else
    current = g_variant_ref (vars->vars);
  for (; parts[i] != NULL; i++)
    {
      GVariant *next;
      if (!g_variant_is_of_type (current, G_VARIANT_TYPE_VARDICT))
        return NULL;
      next = g_variant_lookup_value (current, parts[i], NULL);
      if (next == NULL)
        return NULL;
      g_variant_unref (current);
      current = next;
    }
  return g_steal_pointer (&current);
}

static char *
value_text (GVariant *value)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_STRING:
      return g_variant_dup_string (value, NULL);
    case G_VARIANT_CLASS_DOUBLE:
      {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        return g_strdup (g_ascii_formatd (buf, sizeof buf, "%.2f",
                                          g_variant_get_double (value)));
      }
    case G_VARIANT_CLASS_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, g_variant_get_int64 (value));
    case G_VARIANT_CLASS_INT32:
      return g_strdup_printf ("%d", g_variant_get_int32 (value));
    case G_VARIANT_CLASS_BOOLEAN:
      return g_strdup (g_variant_get_boolean (value) ? "yes" : "no");
    case G_VARIANT_CLASS_ARRAY:
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
        {
          g_autofree const char **items = g_variant_get_strv (value, NULL);
          return g_strjoinv (", ", (char **) items);
        }
      break;
    default:
      break;
    }
  return g_variant_print (value, FALSE);
}

/* With @escape, each value inserted is HTML-escaped (& < > " '), so a
 * customer's name cannot add markup to an HTML template. */
static char *
expand (const char *text, const Vars *vars, const char *origin,
        gboolean escape, GError **error)
{
  GString *out = g_string_new (NULL);
  const char *p = text;
  int line = 1;

  while (*p != '\0')
    {
      const char *open = strstr (p, "{{");
      const char *close;
      g_autofree char *path = NULL;
      g_autoptr (GVariant) value = NULL;

      if (open == NULL)
        {
          g_string_append (out, p);
          break;
        }
      for (const char *q = p; q < open; q++)
        line += *q == '\n';
      g_string_append_len (out, p, open - p);
      close = strstr (open + 2, "}}");
      if (close == NULL)
        {
          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "%s:%d: '{{' without its closing '}}'", origin, line);
          g_string_free (out, TRUE);
          return NULL;
        }
      path = g_strstrip (g_strndup (open + 2, close - open - 2));
      value = lookup_path (vars, path);
      if (value == NULL)
        {
          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "%s:%d: no value for {{%s}}; the template can use "
                       "customer.*, event.* and the data the script passes",
                       origin, line, path);
          g_string_free (out, TRUE);
          return NULL;
        }
      {
        g_autofree char *text_value = value_text (value);
        g_autofree char *escaped =
            escape ? g_markup_escape_text (text_value, -1) : NULL;
        g_string_append (out, escaped != NULL ? escaped : text_value);
      }
      p = close + 2;
    }
  return g_string_free (out, FALSE);
}

char *
st_template_expand (const char *text, GVariant *vars, const char *origin,
                    GError **error)
{
  Vars where = { vars, NULL, NULL };

  return expand (text, &where, origin, FALSE, error);
}

/* Locales to try, most specific first. */
static GPtrArray *
locale_candidates (const char *locale)
{
  GPtrArray *list = g_ptr_array_new_with_free_func (g_free);

  if (locale != NULL && locale[0] != '\0')
    {
      g_autofree char *dash = g_strdelimit (g_strdup (locale), "_", '-');
      g_autofree char *underscore = g_strdelimit (g_strdup (locale), "-", '_');
      g_autofree char *language = g_strndup (locale, strcspn (locale, "-_"));
      /* Tags are case-insensitive (FR is fr), template files lower case. */
      g_autofree char *lower = g_ascii_strdown (language, -1);

      g_ptr_array_add (list, g_strdup (locale));
      if (!g_str_equal (dash, locale))
        g_ptr_array_add (list, g_strdup (dash));
      if (!g_str_equal (underscore, locale))
        g_ptr_array_add (list, g_strdup (underscore));
      if (!g_str_equal (language, locale))
        g_ptr_array_add (list, g_strdup (language));
      if (!g_str_equal (lower, language))
        g_ptr_array_add (list, g_strdup (lower));
    }
  g_ptr_array_add (list, g_strdup ("en"));
  g_ptr_array_add (list, g_strdup (""));
  return list;
}

static char *
find_template (const char *const *folders, const char *name,
               const char *locale, char **used_locale)
{
  g_autoptr (GPtrArray) locales = locale_candidates (locale);

  for (guint i = 0; i < locales->len; i++)
    {
      const char *candidate = g_ptr_array_index (locales, i);
      g_autofree char *file = candidate[0]
                                  ? g_strdup_printf ("%s.%s.txt", name,
                                                     candidate)
                                  : g_strdup_printf ("%s.txt", name);
      for (guint f = 0; folders != NULL && folders[f] != NULL; f++)
        {
          char *path = g_build_filename (folders[f], "templates", file, NULL);
          if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
            {
              *used_locale = candidate[0] ? g_strdup (candidate) : NULL;
              return path;
            }
          g_free (path);
        }
    }
  return NULL;
}

static char *
read_utf8 (const char *path, GError **error)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, error))
    return NULL;
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s: not valid UTF-8", path);
      return NULL;
    }
  return g_steal_pointer (&text);
}

/* A template file as found for a name and locale: the text template, and
 * the HTML one beside it (same folder, name and locale, ".html" for
 * ".txt"), read or failed to read. */
typedef struct {
  char *path;
  char *locale;      /* the locale of the file chosen; NULL: none */
  char *text;
  char *html_path;
  char *html;        /* NULL when there is no such file */
  GError *html_error;
} StTemplateFile;

static void
template_file_free (StTemplateFile *file)
{
  g_free (file->path);
  g_free (file->locale);
  g_free (file->text);
  g_free (file->html_path);
  g_free (file->html);
  g_clear_error (&file->html_error);
  g_free (file);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StTemplateFile, template_file_free)

struct _StTemplateCache {
  GHashTable *files; /* "name\nlocale" → StTemplateFile */
};

StTemplateCache *
st_template_cache_new (void)
{
  StTemplateCache *cache = g_new0 (StTemplateCache, 1);

  cache->files = g_hash_table_new_full (
      g_str_hash, g_str_equal, g_free, (GDestroyNotify) template_file_free);
  return cache;
}

void
st_template_cache_free (StTemplateCache *cache)
{
  if (cache == NULL)
    return;
  g_hash_table_unref (cache->files);
  g_free (cache);
}

static StTemplateFile *
template_file_read (const char *const *folders, const char *name,
                    const char *locale, GError **error)
{
  g_autoptr (StTemplateFile) file = g_new0 (StTemplateFile, 1);
  g_autofree char *stem = NULL;

  if (!valid_name (name))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "template: '%s' is not a template name; use lower-case "
                   "letters, digits, '_' and '-'", name ? name : "");
      return NULL;
    }
  file->path = find_template (folders, name, locale, &file->locale);
  if (file->path == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_NOT_FOUND,
                   "template '%s' not found for locale '%s' (nor en): add "
                   "templates/%s.en.txt to a script folder", name,
                   locale ? locale : "", name);
      return NULL;
    }
  file->text = read_utf8 (file->path, error);
  if (file->text == NULL)
    return NULL;
  stem = g_strndup (file->path, strlen (file->path) - 4);
  file->html_path = g_strconcat (stem, ".html", NULL);
  if (g_file_test (file->html_path, G_FILE_TEST_IS_REGULAR))
    file->html = read_utf8 (file->html_path, &file->html_error);
  return g_steal_pointer (&file);
}

/* The HTML beside the text template, rendered with every value escaped;
 * *html stays NULL when there is no such file. */
static gboolean
render_html (const StTemplateFile *file, const Vars *vars, char **html,
             GError **error)
{
  *html = NULL;
  if (file->html_error != NULL)
    {
      g_propagate_error (error, g_error_copy (file->html_error));
      return FALSE;
    }
  if (file->html == NULL)
    return TRUE;
  *html = expand (file->html, vars, file->html_path, TRUE, error);
  return *html != NULL;
}

static gboolean
render_file (const StTemplateFile *file, const Vars *vars, char **subject,
             char **body, char **html, GError **error)
{
  g_autofree char *rendered = NULL;
  g_autofree char *markup = NULL;
  const char *rest;

  rendered = expand (file->text, vars, file->path, FALSE, error);
  if (rendered == NULL
      || (html != NULL && !render_html (file, vars, &markup, error)))
    return FALSE;

  rest = rendered;
  if (g_str_has_prefix (rendered, "Subject:"))
    {
      const char *eol = strchr (rendered, '\n');
      gsize len = eol ? (gsize) (eol - rendered) : strlen (rendered);
      *subject = g_strstrip (g_strndup (rendered + 8, len - 8));
      rest = eol ? eol + 1 : rendered + len;
      if (*rest == '\n')
        rest++;
      else if (rest[0] == '\r' && rest[1] == '\n')
        rest += 2;
    }
  *body = g_strdup (rest);
  if (html != NULL)
    *html = g_steal_pointer (&markup);
  return TRUE;
}

gboolean
st_template_render_cached (StTemplateCache *cache,
                           const char *const *folders, const char *name,
                           const char *locale, GVariant *vars,
                           StTemplateLookup lookup, gpointer lookup_data,
                           char **subject, char **body, char **html,
                           char **used_locale, GError **error)
{
  Vars where = { vars, lookup, lookup_data };
  g_autoptr (StTemplateFile) own = NULL;
  g_autofree char *key = NULL;
  const StTemplateFile *file = NULL;

  *subject = *body = *used_locale = NULL;
  if (html != NULL)
    *html = NULL;
  if (cache != NULL)
    {
      key = g_strconcat (name ? name : "", "\n", locale ? locale : "", NULL);
      file = g_hash_table_lookup (cache->files, key);
    }
  if (file == NULL)
    {
      own = template_file_read (folders, name, locale, error);
      if (own == NULL)
        return FALSE;
      file = own;
      if (cache != NULL)
        g_hash_table_insert (cache->files, g_steal_pointer (&key),
                             g_steal_pointer (&own));
    }
  if (!render_file (file, &where, subject, body, html, error))
    {
      g_clear_pointer (subject, g_free);
      return FALSE;
    }
  *used_locale = g_strdup (file->locale);
  return TRUE;
}

gboolean
st_template_render (const char *const *folders, const char *name,
                    const char *locale, GVariant *vars, char **subject,
                    char **body, char **html, char **used_locale,
                    GError **error)
{
  return st_template_render_cached (NULL, folders, name, locale, vars, NULL,
                                    NULL, subject, body, html, used_locale,
                                    error);
}
