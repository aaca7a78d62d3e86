#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The rows of a bulk import: the options that say how to read a file
 * (column mapping, date format, decimal separator, kind rules), the header
 * that fixes which column holds which field, and the conversion of each
 * record into one line of COPY text for the staging table, or a reason to
 * reject it. Everything a row can be refused for without the database is
 * decided here, so a rejected row never reaches PostgreSQL. */

typedef enum {
  ST_IMPORT_CUSTOMERS,
  ST_IMPORT_EVENTS,
} StImportKind;

typedef enum {
  ST_IMPORT_ROW_STAGED,   /* a COPY line was appended */
  ST_IMPORT_ROW_REJECTED, /* *reason says why */
  ST_IMPORT_ROW_SKIPPED,  /* an event row without a customer */
} StImportRowOutcome;

typedef struct _StImportRows StImportRows;

/* @options (a{sv}): map (a{ss} column → field; "" ignores the column),
 * date_format (s), tz (s), decimal (s: "." or ","), delimiter (s, one
 * character; "\t" for tabs), encoding (s: an iconv name; default UTF-8), kind (s: events' kind when no column or rule
 * gives one), kind_if (a(sss): kind, column, pattern — the first rule whose
 * column equals the pattern, or starts with it when it ends in '*', gives
 * the kind), create_customers (b, events, default true), raw_refs (b: keep
 * refs such as 13085.0 as written), chunk (u: rows per transaction),
 * rejects (h: read by the D-Bus service). @now_usec: events after it (plus
 * a little clock skew) are refused. */
StImportRows *st_import_rows_new (StImportKind kind, GVariant *options,
                                  gint64 now_usec, GError **error);
void st_import_rows_free (StImportRows *rows);

char st_import_rows_delimiter (const StImportRows *rows);
/* The file's encoding as the options name it, NULL for UTF-8. */
const char *st_import_rows_encoding (const StImportRows *rows);
/* The delimiter named by the file's first line (Excel's "sep=;"); FALSE
 * when @delimiter is not one an import reads. */
gboolean st_import_rows_set_delimiter (StImportRows *rows, char delimiter);
guint st_import_rows_chunk (const StImportRows *rows);
gboolean st_import_rows_create_customers (const StImportRows *rows);

/* Read the header: which column holds which field. Fails when a --map
 * column is not in the header, a field is unknown or given twice, or a
 * required field (events: customer, and a kind; customers: ref or email)
 * has no column. */
gboolean st_import_rows_set_header (StImportRows *rows,
                                    const char *const *fields, guint n,
                                    GError **error);
/* Header columns that feed no field, in file order. */
GStrv st_import_rows_ignored_columns (const StImportRows *rows);

/* Convert one record (line @line; its fields are trimmed in place) and
 * append its COPY line to @copy; a record with another number of fields
 * than the header is rejected. */
StImportRowOutcome st_import_rows_convert (StImportRows *rows, char **fields,
                                           guint n, guint64 line,
                                           GString *copy, char **reason);

/* The event kinds staged so far (events), NULL-terminated, owned. */
GStrv st_import_rows_kinds (const StImportRows *rows);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StImportRows, st_import_rows_free)

G_END_DECLS
