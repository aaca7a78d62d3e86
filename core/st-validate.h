#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Checks on customer fields. Each returns TRUE when @value is acceptable,
 * otherwise FALSE with an ST_ERROR_INVALID_ARGUMENT error whose message names
 * the field and says what is wrong and what to do, e.g.
 * "email: 'a@b' has no dot in its domain; give an address like name@example.com". */

/* An address a CRM should accept without warnings: the `valid_strict`
 * column of shared/data/email_vectors.tsv (RFC 5321/5322 addr-spec with a
 * dot-atom local part — quoted local parts are refused — a DNS host name
 * with at least two labels, measured in its Punycode form, no IP literals,
 * lengths within 64/254). Departures from the vectors are listed in
 * tests/test-validate.c. */
gboolean st_validate_email (const char *value, GError **error);

/* A known IANA zone such as "Europe/Paris" or "UTC" (looked up in the
 * system's tz database; "local" and POSIX TZ strings are refused). */
gboolean st_validate_tz (const char *value, GError **error);

/* A BCP 47-like tag: language (2-3 letters) optionally followed by -/_
 * script or region subtags: "fr", "en-GB", "pt_BR", "zh-Hant-TW". */
gboolean st_validate_locale (const char *value, GError **error);

/* A name: not empty after trimming, at most 200 characters, valid UTF-8,
 * no control characters. */
gboolean st_validate_name (const char *value, GError **error);

/* An external reference: 1..100 printable characters, no spaces at the ends,
 * and not of the form "id:..." (reserved for addressing by id). */
gboolean st_validate_ref (const char *value, GError **error);

/* A customer's owner (an account manager's user name): 1 to 100
 * printable characters, no space at either end. */
gboolean st_validate_owner (const char *value, GError **error);

/* A phone number: digits with optional leading +, spaces, dots, dashes and
 * parentheses; 4..20 digits in all. */
gboolean st_validate_phone (const char *value, GError **error);

/* A tag: 1..64 characters of letters, digits, '-', '_', ':' or '.'. */
gboolean st_validate_tag (const char *value, GError **error);

G_END_DECLS
