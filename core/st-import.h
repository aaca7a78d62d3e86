#pragma once

#include <glib.h>

#include "st-config.h"
#include "st-import-rows.h"
#include "st-store.h"

G_BEGIN_DECLS

/* Bulk import of customers or events from a CSV file (docs/import.md).
 * The file is read once, in blocks, from a file descriptor (the client
 * opened it, with its own permissions); its rows are checked and converted
 * here, then loaded in chunks: each chunk is one transaction (COPY into a
 * TEMP staging table, then set-based upserts, aggregates and care jobs),
 * committed before the next is read. Every row has a key (customers: ref
 * or e-mail; events: the key column or a hash of the row), so importing
 * the same file again changes nothing, and an import that stopped half-way
 * is finished by running it again. */

/* Called about every 100 ms while the file is read, and once at its end;
 * @bytes_total is 0 when the input's size is unknown (a pipe). */
typedef void (*StImportProgressFunc) (guint64 bytes_read, guint64 bytes_total,
                                      guint64 rows, gpointer user_data);

typedef struct {
  StImportKind kind;
  int fd;            /* read to its end; not closed */
  int rejects_fd;    /* a regular file open for writing, or -1 */
  GVariant *options; /* a{sv}: see st_import_rows_new() */
  const char *actor; /* recorded in the stage history of new customers */
  StImportProgressFunc progress;
  gpointer progress_data;
} StImportRequest;

/* Run the import with @store (its care triggers plan the jobs). The
 * summary (a{sv}): kind (s), rows, new, updated, duplicate, rejected,
 * skipped, customers_created, jobs, chunks, bytes (x), seconds,
 * rows_per_second (d), chunk (u), ignored_columns (as), rejects (a(xs):
 * the first 100 rows not imported, line and reason) and rejects_error (s,
 * when the rejects could not be written). Rejected and skipped rows are
 * written to @rejects_fd as CSV: line,reason. Fails with
 * ST_ERROR_INVALID_ARGUMENT before anything is written for bad options or
 * a header that does not fit them; a failure later leaves the chunks
 * already committed, and says so. */
GVariant *st_import_run (StStore *store, const StConfig *config,
                         const StImportRequest *request, GError **error);

G_END_DECLS
