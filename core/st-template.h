#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Message templates: <folder>/templates/<name>.<locale>.txt in the script
 * folders. An optional first line "Subject: ..." gives the subject; the
 * rest (after one blank line, if any) is the body. {{customer.name}},
 * {{event.amount}}, {{data.code}} are replaced by values from @vars (an
 * a{sv} of a{sv}s); doubles print with two decimals. An unknown variable is
 * an error naming the template file and line, never a silent blank.
 * Locale fallback: "fr-CA" tries fr-CA, fr_CA, fr, then en, then the
 * template without a locale.
 *
 * @html (may be NULL: not wanted) gets the HTML rendering, from the file
 * beside the text one that was chosen — same folder, name and locale,
 * ".html" for ".txt" — with every inserted value HTML-escaped; NULL when
 * there is no such file. The subject is always the text file's. */
gboolean st_template_render (const char *const *folders, const char *name,
                             const char *locale, GVariant *vars,
                             char **subject, char **body, char **html,
                             char **used_locale, GError **error);

/* The template files read for st_template_render_cached(), by name and
 * locale: a campaign batch renders the same template for each of its
 * customers, and reads its files once. It does not see a file change
 * after the first read: keep one for a batch, not longer. */
typedef struct _StTemplateCache StTemplateCache;

StTemplateCache *st_template_cache_new (void);
void st_template_cache_free (StTemplateCache *cache);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StTemplateCache, st_template_cache_free)

/* Values a template reads from somewhere else than its vars: for
 * {{RECORD.FIELD...}} it is asked for (RECORD, FIELD) first, (RECORD,
 * NULL) for {{RECORD}}; it returns a new reference, or NULL to look in
 * the vars. A campaign target's customer is a row, and a template reads
 * two or three of its columns: building the whole record for it cost
 * more than the rest of the target. */
typedef GVariant *(*StTemplateLookup) (const char *record, const char *field,
                                       gpointer data);

/* As st_template_render(), with the files from @cache (NULL: none) once
 * read for @name and @locale (give the same @folders at every call with
 * one cache), and @lookup (may be NULL) before @vars. */
gboolean st_template_render_cached (StTemplateCache *cache,
                                    const char *const *folders,
                                    const char *name, const char *locale,
                                    GVariant *vars, StTemplateLookup lookup,
                                    gpointer lookup_data, char **subject,
                                    char **body, char **html,
                                    char **used_locale, GError **error);

/* Render @text (no subject handling) for error messages named @origin. */
char *st_template_expand (const char *text, GVariant *vars,
                          const char *origin, GError **error);

G_END_DECLS
