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
 * template without a locale. */
gboolean st_template_render (const char *const *folders, const char *name,
                             const char *locale, GVariant *vars,
                             char **subject, char **body, char **used_locale,
                             GError **error);

/* Render @text (no subject handling) for error messages named @origin. */
char *st_template_expand (const char *text, GVariant *vars,
                          const char *origin, GError **error);

G_END_DECLS
