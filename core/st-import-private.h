#pragma once

/* Private to the bulk import: st-import.c (reading the file, chunks,
 * rejects, the summary) and st-import-store.c (one chunk's transaction:
 * the staging table, COPY and the set-based statements). */

#include "st-import.h"
#include "st-import-rows.h"

G_BEGIN_DECLS

/* A row that was not imported, and why. */
typedef struct {
  guint64 line;
  char *reason;
} StImportReject;

void st_import_reject_clear (StImportReject *reject);

/* What a chunk needs besides its rows. */
typedef struct {
  StImportKind kind;
  const char *actor;
  const char *initial_stage;
  const char *stage_jobs;   /* st_triggers_plan() of "stage:<initial>", or NULL */
  const char *event_jobs;   /* {"kind": plan, …} of the kinds staged, or NULL */
  gboolean create_customers;
} StImportChunkPlan;

/* What one chunk did. */
typedef struct {
  guint64 staged;            /* rows COPY loaded */
  guint64 rejected;          /* rows the database refused (into rejects) */
  guint64 inserted;          /* new customers or events */
  guint64 updated;           /* customers changed */
  guint64 matched;           /* rows of customers that existed */
  guint64 customers_created; /* events: customers made for their refs */
  guint64 jobs;              /* care jobs queued */
} StImportChunkCounts;

/* Load @copy (@len bytes of COPY text lines) and apply it in one
 * transaction, committed on success; rows the database refuses go to
 * @rejects (StImportReject). On failure nothing of the chunk stays. */
gboolean st_import_store_chunk (StStore *store, const StImportChunkPlan *plan,
                                const char *copy, gsize len, GArray *rejects,
                                StImportChunkCounts *counts, GError **error);

G_END_DECLS
