#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Punycode (RFC 3492), the ASCII form of an internationalized domain name
 * label (IDN), without the "xn--" prefix that marks it in a host name. */

/* Appends the Punycode form of the @n_in code points of @in to @out.
 * Returns FALSE when the label overflows the 32-bit arithmetic of RFC 3492
 * (only absurdly long labels do); @out may then hold part of it. */
gboolean st_punycode_encode (const gunichar *in, gsize n_in, GString *out);

/* Decodes @len bytes of Punycode; the basic code points before the last
 * '-' are read case-insensitively, as host names are. Returns the code
 * points, or NULL when @in is malformed or decodes to a code point that is
 * not a Unicode scalar value. */
GArray *st_punycode_decode (const char *in, gsize len);

G_END_DECLS
